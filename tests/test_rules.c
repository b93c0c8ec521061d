/*
 * test_rules.c - the rule language: every example compiles, every broken
 * input fails with exactly its expected messages, each example rule fires
 * on the events it is for and not on others, caps, holdout buckets, globs,
 * arithmetic in holes, campaigns, limits, 1,000 generated rules and two
 * threads evaluating one set.
 *
 * Run from the repository root (tests/run.sh does); NUDGE_SRCDIR overrides.
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

/* ---- helpers ---------------------------------------------------------- */

static const char *
srcdir(void)
{
	const char *d = getenv("NUDGE_SRCDIR");
	return d ? d : ".";
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static struct rule_set *
compile_str(const char *text)
{
	struct rule_errors errs;
	struct rule_set *set = NULL;
	int rc = rule_compile(text, strlen(text), &set, &errs);

	if (rc != 0)
		rule_errors_print(stderr, "<test>", &errs);
	assert_int_equal(rc, 0);
	return set;
}

static struct rule_set *
compile_file(const char *rel)
{
	char path[512];
	size_t len;
	char *text;
	struct rule_set *set;

	snprintf(path, sizeof(path), "%s/%s", srcdir(), rel);
	text = slurp(path, &len);
	assert_non_null(text);
	set = compile_str(text);
	free(text);
	return set;
}

/* A visitor and an event the tests adjust. */
struct world {
	struct nudge_event ev;
	struct rule_subject sj;
	struct rule_ctx ctx;
	const char *fact_key, *fact_index;
	struct rule_value fact;
	int variant[4];		/* per campaign; -1 none */
	unsigned fired[64];	/* history per rule id, for caps */
	struct rule_out out;
};

static bool
w_fact(void *arg, struct nudge_strv key, struct nudge_strv index,
    struct rule_value *out)
{
	struct world *w = arg;

	if (w->fact_key == NULL || !strv_eq(key, w->fact_key))
		return false;
	if (w->fact_index != NULL && !strv_eq(index, w->fact_index))
		return false;
	*out = w->fact;
	return true;
}

static int
w_variant(void *arg, unsigned camp)
{
	struct world *w = arg;

	return camp < 4 ? w->variant[camp] : -1;
}

static bool
w_cap(void *arg, unsigned rule, const struct rule_cap *cap)
{
	struct world *w = arg;

	return rule >= 64 || w->fired[rule] < cap->count;
}

static void
w_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	event_init(&w->ev);
	w->ev.type = EVENT_PAGEVIEW;
	w->ev.page = strv_of("/");
	w->ev.visitor = strv_of("visitor-1");
	w->sj.visitor = w->ev.visitor;
	memcpy(w->sj.country, "FR", 3);
	w->sj.device = DEVICE_DESKTOP;
	w->sj.days_since_last_visit = -1;
	w->sj.sessions = 1;
	for (int i = 0; i < 4; i++)
		w->variant[i] = -1;
	w->ctx = (struct rule_ctx){.ev = &w->ev, .subj = &w->sj, .hour = 12,
	    .weekday = 2, .arg = w, .fact = w_fact, .variant = w_variant,
	    .cap_ok = w_cap};
}

static void
w_event(struct world *w, int type, const char *name)
{
	w->ev.type = (uint8_t)type;
	w->ev.name = strv_of(name);
}

/* The action of rule name in the last evaluation, or NULL. */
static const struct rule_action *
fired(const struct rule_set *set, struct world *w, const char *name)
{
	int id = rule_set_find(set, name);

	assert_true(id >= 0);
	assert_int_equal(rule_eval(set, &w->ctx, &w->out), 0);
	for (unsigned i = 0; i < w->out.n; i++)
		if (w->out.act[i].rule == (uint32_t)id)
			return &w->out.act[i];
	return NULL;
}

/* Whether the score-only rule name fired in a new evaluation. */
static bool
scored(const struct rule_set *set, struct world *w, const char *name)
{
	int id = rule_set_find(set, name);

	assert_true(id >= 0);
	assert_int_equal(rule_eval(set, &w->ctx, &w->out), 0);
	for (unsigned i = 0; i < w->out.n_scored; i++)
		if (w->out.scored[i] == (uint32_t)id)
			return true;
	return false;
}

/* ---- corpora ---------------------------------------------------------- */

static unsigned
for_each(const char *dir, const char *suffix, void (*fn)(const char *path))
{
	char path[768], full[512];
	struct dirent *de;
	unsigned n = 0;
	DIR *d;

	snprintf(full, sizeof(full), "%s/%s", srcdir(), dir);
	assert_non_null(d = opendir(full));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), s = strlen(suffix);
		if (l <= s || strcmp(de->d_name + l - s, suffix) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", full, de->d_name);
		fn(path);
		n++;
	}
	closedir(d);
	return n;
}

static void
must_compile(const char *path)
{
	struct rule_errors errs;
	struct rule_set *set = NULL;
	size_t len;
	char *text = slurp(path, &len);
	int rc;

	assert_non_null(text);
	rc = rule_compile(text, len, &set, &errs);
	if (rc != 0)
		rule_errors_print(stderr, path, &errs);
	assert_int_equal(rc, 0);
	assert_non_null(set);
	rule_set_free(set);
	free(text);
}

static void
test_examples(void **state)
{
	(void)state;
	assert_true(for_each("examples", ".rules", must_compile) >= 5);
	assert_true(for_each("tests/rules/ok", ".rules", must_compile) >= 2);
}

/* X.rules fails with exactly the lines "line:col: message" of X.expected. */
static void
must_fail(const char *path)
{
	struct rule_errors errs;
	struct rule_set *set = (struct rule_set *)&errs; /* must stay */
	char exp_path[800], got[RULE_ERRORS_MAX * 300];
	size_t len, elen, at = 0;
	char *text = slurp(path, &len), *expected;

	snprintf(exp_path, sizeof(exp_path), "%.*s.expected",
	    (int)(strlen(path) - 6), path);
	expected = slurp(exp_path, &elen);
	assert_non_null(text);
	if (expected == NULL)
		fail_msg("missing %s", exp_path);
	assert_int_equal(rule_compile(text, len, &set, &errs), NUDGE_ESYNTAX);
	assert_ptr_equal(set, (struct rule_set *)&errs);
	got[0] = '\0';
	for (unsigned i = 0; i < errs.n; i++)
		at += (size_t)snprintf(got + at, sizeof(got) - at, "%d:%d: %s\n",
		    errs.e[i].line, errs.e[i].col, errs.e[i].msg);
	if (strcmp(got, expected) != 0)
		fail_msg("%s:\n--- expected\n%s--- got\n%s", path, expected,
		    got);
	free(text);
	free(expected);
}

static void
test_bad_corpus(void **state)
{
	(void)state;
	assert_true(for_each("tests/rules/bad", ".rules", must_fail) >= 25);
}

/* ---- example scenarios ------------------------------------------------ */

static void
test_shop_examples(void **state)
{
	struct rule_set *set = compile_file("examples/shop.rules");
	const struct rule_action *a;
	struct world w;

	(void)state;
	w_init(&w);
	w.ev.page = strv_of("/product/42?color=red");
	assert_null(fired(set, &w, "ship_abroad")); /* French visitor */
	memcpy(w.sj.country, "DE", 3);
	assert_non_null(a = fired(set, &w, "ship_abroad"));
	assert_int_equal(a->kind, RULE_ACT_BANNER);
	assert_string_equal(a->text, "We deliver to DE — free returns");
	w.sj.country[0] = '\0';
	assert_null(fired(set, &w, "ship_abroad")); /* unknown country */
	memcpy(w.sj.country, "DE", 3);
	w.ev.page = strv_of("/cart");
	assert_null(fired(set, &w, "ship_abroad"));

	assert_null(fired(set, &w, "coupon_field"));
	w.sj.source = SOURCE_COUPON;
	assert_non_null(a = fired(set, &w, "coupon_field"));
	assert_int_equal(a->kind, RULE_ACT_COUPON);
	assert_string_equal(a->arg, "#promo-code");
	w.sj.source = SOURCE_SEARCH;
	w.sj.source_campaign = strv_of("summer-coupons");
	assert_non_null(fired(set, &w, "coupon_field"));

	w_event(&w, EVENT_EXIT_INTENT, NULL);
	assert_null(fired(set, &w, "exit_email")); /* empty cart */
	w.sj.cart_items = 2;
	assert_non_null(a = fired(set, &w, "exit_email"));
	assert_int_equal(a->kind, RULE_ACT_EMAIL);
	assert_int_equal(rule_set_rule(set, a->rule)->caps[0].days, 7);
	w.sj.email_known = true;
	assert_null(fired(set, &w, "exit_email"));

	w_event(&w, EVENT_ADD_TO_CART, NULL);
	assert_null(fired(set, &w, "almost_there")); /* no orders yet */
	w.sj.orders = 1;
	assert_non_null(a = fired(set, &w, "almost_there"));
	assert_string_equal(a->text, "2 more orders and you win a gift");
	w.sj.orders = 2;
	assert_string_equal(fired(set, &w, "almost_there")->text,
	    "1 more orders and you win a gift");
	w.sj.orders = 3;
	assert_null(fired(set, &w, "almost_there"));

	w_event(&w, EVENT_HOVER, NULL);
	w.ev.target = strv_of("span.price.big");
	assert_non_null(a = fired(set, &w, "price_hover"));
	assert_int_equal(a->kind, RULE_ACT_SHAKE);
	assert_string_equal(a->arg, "#add-to-cart");
	w.ev.target = strv_of("#title");
	assert_null(fired(set, &w, "price_hover"));
	w_event(&w, EVENT_CLICK, NULL);
	w.ev.target = strv_of(".price");
	assert_null(fired(set, &w, "price_hover"));
	rule_set_free(set);
}

static void
test_weather_examples(void **state)
{
	struct rule_set *set = compile_file("examples/weather.rules");
	const struct rule_action *a;
	struct world w;

	(void)state;
	w_init(&w);
	w.ev.page = strv_of("/product/boots-1");
	w.sj.region = strv_of("alps");
	assert_null(fired(set, &w, "snow_boots")); /* no forecast: missing */
	w.fact_key = "weather";
	w.fact_index = "alps";
	w.fact = (struct rule_value){.type = RULE_V_STR, .s = strv_of("snow")};
	assert_non_null(a = fired(set, &w, "snow_boots"));
	assert_string_equal(a->text, "Snow is coming to alps: boots -20%");
	w.sj.region = strv_of("coast"); /* snow elsewhere */
	assert_null(fired(set, &w, "snow_boots"));
	w.sj.region = strv_of("alps");
	w.fact.s = strv_of("sun");
	assert_null(fired(set, &w, "snow_boots"));
	w.fact = (struct rule_value){.type = RULE_V_NUM, .num = 3};
	assert_null(fired(set, &w, "snow_boots")); /* wrong type: missing */

	w.fact_key = "stock_boots";
	w.fact_index = NULL;
	assert_non_null(a = fired(set, &w, "last_boots"));
	assert_string_equal(a->text, "Only 3 pairs left");
	w.fact.num = 12;
	assert_null(fired(set, &w, "last_boots"));
	rule_set_free(set);
}

static void
test_engagement_examples(void **state)
{
	struct rule_set *set = compile_file("examples/engagement.rules");
	const struct rule_action *a;
	struct world w;

	(void)state;
	w_init(&w);
	w_event(&w, EVENT_VISIBLE, NULL);
	w.ev.target = strv_of("#reviews");
	assert_non_null(a = fired(set, &w, "reviews_visible"));
	assert_int_equal(a->kind, RULE_ACT_POPUP);
	assert_string_equal(a->arg, "ask_question");
	assert_string_equal(a->text, "Questions about this product? Ask us");
	w.ev.target = strv_of("#footer");
	assert_null(fired(set, &w, "reviews_visible"));

	w_event(&w, EVENT_CUSTOM, "low_satisfaction");
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.n, 2);
	/* priority 200 first: the goodwill coupon, then hiding sharing */
	assert_int_equal(w.out.act[0].rule, rule_set_find(set, "goodwill"));
	assert_int_equal(w.out.act[0].kind, RULE_ACT_COUPON);
	assert_int_equal(w.out.act[1].kind, RULE_ACT_HIDE);
	assert_string_equal(w.out.act[1].arg, ".share-buttons");
	w_event(&w, EVENT_CUSTOM, "high_satisfaction");
	assert_null(fired(set, &w, "goodwill"));

	w_event(&w, EVENT_PAGEVIEW, NULL);
	w.sj.device = DEVICE_MOBILE;
	w.ctx.weekday = 5;
	w.ctx.hour = 19;
	assert_non_null(a = fired(set, &w, "weekend_mobile"));
	assert_true(a->shadow);
	w.ctx.hour = 17;
	assert_null(fired(set, &w, "weekend_mobile"));
	w.ctx.hour = 19;
	w.ctx.weekday = 4; /* friday */
	assert_null(fired(set, &w, "weekend_mobile"));
	rule_set_free(set);
}

static void
test_scoring_examples(void **state)
{
	struct rule_set *set = compile_file("examples/scoring.rules");
	const struct rule_action *a;
	struct world w;

	(void)state;
	w_init(&w);
	w.ev.page = strv_of("/product/1");
	assert_true(scored(set, &w, "viewed_product"));
	assert_int_equal(w.out.n, 0);
	assert_int_equal(w.out.score, 2);
	assert_false(scored(set, &w, "loyal"));
	w.sj.orders = 3;
	assert_true(scored(set, &w, "loyal"));
	assert_int_equal(w.out.score, 22);
	w_event(&w, EVENT_EXIT_INTENT, NULL);
	w.sj.seconds = 5;
	assert_true(scored(set, &w, "bounced_fast"));
	assert_int_equal(w.out.score, -5);
	w.sj.seconds = 10;
	assert_false(scored(set, &w, "bounced_fast"));

	w.sj.score = 30;
	w.sj.cart_cents = 12050;
	assert_non_null(a = fired(set, &w, "hot_lead"));
	assert_string_equal(a->text, "Your cart of 120.5 EUR is saved for 7 days");
	assert_int_equal(rule_set_rule(set, a->rule)->holdout_bp, 1000);
	w.sj.score = 29;
	assert_null(fired(set, &w, "hot_lead"));
	rule_set_free(set);
}

static void
test_campaign_example(void **state)
{
	struct rule_set *set = compile_file("examples/campaign.rules");
	const struct rule_campaign *c;
	const struct rule_action *a;
	struct world w;

	(void)state;
	assert_int_equal(rule_set_campaigns(set), 1);
	c = rule_set_campaign(set, 0);
	assert_string_equal(c->name, "banner_test");
	assert_int_equal(c->funnel, 0);
	assert_int_equal(c->goal.kind, RULE_GOAL_STEP);
	assert_int_equal(c->goal.step, 4);
	assert_int_equal(c->n_variants, 3);
	assert_string_equal(c->variant[2].name, "variant_c");
	assert_int_equal(c->variant[0].weight, 34);
	assert_int_equal(c->n_guardrails, 2);
	assert_int_equal(c->guardrail[0].kind, RULE_GOAL_STEP);
	assert_int_equal(c->guardrail[0].max_drop_bp, 500);
	assert_int_equal(c->guardrail[1].kind, RULE_GOAL_REVENUE);

	w_init(&w);
	memcpy(w.sj.country, "IT", 3);
	w.ev.page = strv_of("/product/9");
	assert_null(fired(set, &w, "ship_abroad")); /* not in the campaign */
	w.variant[0] = 0;
	assert_null(fired(set, &w, "ship_abroad")); /* control */
	w.variant[0] = 1;
	assert_non_null(a = fired(set, &w, "ship_abroad"));
	assert_string_equal(a->text, "We deliver to IT");
	w.variant[0] = 2;
	assert_non_null(a = fired(set, &w, "ship_abroad"));
	assert_string_equal(a->text, "Free delivery to IT, free returns");
	w_event(&w, EVENT_ADD_TO_CART, NULL);
	assert_non_null(fired(set, &w, "free_returns"));
	w.variant[0] = 1;
	assert_null(fired(set, &w, "free_returns"));
	rule_set_free(set);
}

/* ---- semantics -------------------------------------------------------- */

static void
test_caps(void **state)
{
	struct rule_set *set = compile_str(
	    "rule a:\n  when page == \"/\"\n  show banner \"x\"\n"
	    "rule b:\n  when page == \"/\"\n  show banner \"y\"\n"
	    "  at most 3 per session\n  at most 1 per 7 days\n");
	const struct rule_info *ri;
	struct world w;

	(void)state;
	w_init(&w);
	ri = rule_set_rule(set, 0);
	assert_int_equal(ri->n_caps, 1); /* the default: once per session */
	assert_int_equal(ri->caps[0].count, 1);
	assert_int_equal(ri->caps[0].window, RULE_PER_SESSION);
	ri = rule_set_rule(set, 1);
	assert_int_equal(ri->n_caps, 2);
	assert_int_equal(ri->caps[1].window, RULE_PER_DAYS);
	assert_int_equal(ri->caps[1].days, 7);

	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.n, 2);
	w.fired[0] = 1; /* the caller recorded a showing of rule a */
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.n, 1);
	assert_int_equal(w.out.act[0].rule, 1);
	assert_int_equal(w.out.n_capped, 1);
	assert_int_equal(w.out.capped[0], 0);
	w.fired[1] = 1; /* 1 < 3 per session, but 1 per 7 days is used */
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.n, 0);
	assert_int_equal(w.out.n_capped, 2);
	w.ctx.cap_ok = NULL;
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.n, 2);
	rule_set_free(set);
}

static void
test_holdout(void **state)
{
	struct rule_set *set = compile_str(
	    "rule hot_lead:\n  when page == \"/\"\n  show banner \"x\"\n"
	    "  holdout 10%\n");
	struct world w;
	char id[32];
	unsigned held = 0;

	(void)state;
	/* reference values from an independent Python implementation */
	assert_int_equal(rule_bucket(strv_of("holdout:hot_lead"),
	                     strv_of("v1")), 8462);
	assert_int_equal(rule_bucket(strv_of("holdout:hot_lead"),
	                     strv_of("visitor-42")), 7641);
	assert_int_equal(rule_bucket(strv_of("exp1"), strv_of("abc")), 5522);
	w_init(&w);
	w.ctx.cap_ok = NULL;
	for (int i = 0; i < 100000; i++) {
		snprintf(id, sizeof(id), "v%d", i);
		w.sj.visitor = strv_of(id);
		assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
		assert_int_equal(w.out.n, 1);
		held += w.out.act[0].holdout;
	}
	assert_int_equal(held, 9941); /* the same Python count */
	assert_in_range(held, 9700, 10300);
	rule_set_free(set);
}

static void
test_match(void **state)
{
	struct rule_set *set = compile_str(
	    "rule sub: when page ~ \"prod\" score +1\n"
	    "rule glob: when page ~ \"/p*/*-?\" score +2\n"
	    "rule anch: when page ~ \"*.html\" score +4\n");
	struct world w;
	static const struct {
		const char *page;
		int score;
	} cases[] = {
		{"/product/x", 1}, {"/p/shoe-1", 2}, {"/prod/a-b", 3},
		{"/p/shoe-12", 0}, {"/index.html", 4}, {"/index.htm", 0},
		{"/products/a.html?x=1", 5}, {"", 0},
	};

	(void)state;
	w_init(&w);
	w.ctx.cap_ok = NULL;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		w.ev.page = strv_of(cases[i].page);
		assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
		if (w.out.score != cases[i].score)
			fail_msg("page %s: score %d, want %d", cases[i].page,
			    w.out.score, cases[i].score);
	}
	rule_set_free(set);
}

static void
test_holes(void **state)
{
	struct rule_set *set = compile_str(
	    "rule a:\n  when event == \"click\"\n"
	    "  show message \"{3 - visitor.orders} left, {cart.value * 2} "
	    "{10 / 4} {-cart.items} {{x}} {utm.source}{country}\"\n"
	    "rule b:\n  when event == \"click\"\n"
	    "  show banner \"{100 / cart.items}\"\n"
	    "rule c:\n  when event == \"click\"\n"
	    "  show banner \"{context.name}!\"\n");
	const struct rule_action *a;
	struct world w;

	(void)state;
	w_init(&w);
	w_event(&w, EVENT_CLICK, NULL);
	w.sj.orders = 1;
	w.sj.cart_cents = 1999;
	w.sj.utm_source = strv_of("news\nletter");
	assert_non_null(a = fired(set, &w, "a"));
	assert_string_equal(a->text, "2 left, 39.98 2.5 0 {x} news?letterFR");
	assert_int_equal(a->text_len, strlen(a->text));
	/* division by zero and unknown facts are missing: no action */
	assert_null(fired(set, &w, "b"));
	assert_null(fired(set, &w, "c"));
	w.sj.cart_items = 3;
	assert_string_equal(fired(set, &w, "b")->text, "33.33");
	w.fact_key = "name";
	w.fact = (struct rule_value){.type = RULE_V_STR, .s = strv_of("Ann")};
	assert_string_equal(fired(set, &w, "c")->text, "Ann!");
	rule_set_free(set);
}

static void
test_missing_and_logic(void **state)
{
	struct rule_set *set = compile_str(
	    "rule a: when not (context.x == 1) score +1\n"
	    "rule b: when context.x != 1 score +2\n"
	    "rule c: when visitor.days_since_last_visit < 5 or "
	    "visitor.days_since_last_visit >= 5 score +4\n"
	    "rule d: when variant(t) == \"a\" score +8\n"
	    "rule e: when step == \"cart\" and session.step == 2 score +16\n"
	    "funnel f: visit -> cart: event == \"add_to_cart\"\n"
	    "campaign t on funnel f goal cart:\n  split a 50, b 50\n");
	struct world w;

	(void)state;
	w_init(&w);
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.score, 1); /* missing: comparisons false */
	w.sj.days_since_last_visit = 9;
	w.variant[0] = 0;
	w.sj.step = strv_of("cart");
	w.sj.steps = 2;
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	assert_int_equal(w.out.score, 1 + 4 + 8 + 16);
	rule_set_free(set);
}

static void
test_limits(void **state)
{
	struct rule_errors errs;
	struct rule_set *set = NULL;
	char *big;
	size_t at = 0, cap = 64u << 20;

	(void)state;
	big = malloc(cap);
	assert_non_null(big);
	memset(big, ' ', RULE_SOURCE_MAX + 1);
	assert_int_equal(rule_compile(big, RULE_SOURCE_MAX + 1, &set, &errs),
	    NUDGE_ESYNTAX);
	assert_null(set);
	assert_string_equal(errs.e[0].msg, "rule text larger than 1048576 bytes");

	/* 60 broken rules: 50 errors kept, truncated said */
	for (int i = 0; i < 60; i++)
		at += (size_t)sprintf(big + at, "rule r%d:\n  when x\n", i);
	assert_int_equal(rule_compile(big, at, &set, &errs), NUDGE_ESYNTAX);
	assert_int_equal(errs.n, RULE_ERRORS_MAX);
	assert_true(errs.truncated);
	assert_int_equal(errs.e[49].line, 100);

	/* one rule more than the limit */
	at = 0;
	for (int i = 0; i <= RULE_RULES_MAX; i++)
		at += (size_t)sprintf(big + at, "rule r%d: when page == \"/\" "
		                               "score +1\n", i);
	assert_true(at <= RULE_SOURCE_MAX);
	assert_int_equal(rule_compile(big, at, &set, &errs), NUDGE_ESYNTAX);
	assert_int_equal(errs.n, 1);
	assert_string_equal(errs.e[0].msg, "more than 10000 rules");

	/* a long chain: the tree height limit, not the stack, stops it */
	at = (size_t)sprintf(big, "rule a: when page == \"/\"");
	for (int i = 0; i < 100; i++)
		at += (size_t)sprintf(big + at, " and page == \"/\"");
	at += (size_t)sprintf(big + at, " score +1\n");
	assert_int_equal(rule_compile(big, at, &set, &errs), NUDGE_ESYNTAX);
	assert_string_equal(errs.e[0].msg, "expression nested deeper than 64");
	free(big);
	assert_int_equal(rule_compile(NULL, 0, &set, NULL), 0);
	assert_int_equal(rule_set_count(set), 0);
	rule_set_free(set);
}

/* ---- scale and threads ------------------------------------------------ */

static const char *const gen_events[] = {
	"pageview", "click", "hover", "add_to_cart", "exit_intent",
	"visible", "scroll", "purchase",
};

/* 1,000 rules: rule i tests event i % 8 and a page, scores +1. */
static struct rule_set *
gen_set(unsigned n)
{
	size_t cap = (size_t)n * 200 + 1, at = 0;
	char *text = malloc(cap);
	struct rule_set *set;

	assert_non_null(text);
	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, cap - at,
		    "rule r%u:\n  when event == \"%s\" and page ~ \"/p%u/\" "
		    "and cart.items >= %u\n  score +1\n  at most 1000 per "
		    "session\n",
		    i, gen_events[i % 8], i % 10, i % 3);
	set = compile_str(text);
	free(text);
	return set;
}

static void
test_thousand_rules(void **state)
{
	struct rule_set *set = gen_set(1000);
	struct world w;

	(void)state;
	w_init(&w);
	w.ctx.cap_ok = NULL;
	assert_int_equal(rule_set_count(set), 1000);
	w_event(&w, EVENT_CLICK, NULL);
	w.ev.page = strv_of("/p1/x");
	w.sj.cart_items = 1;
	/* i % 8 == 1, i % 10 == 1, i % 3 <= 1: i = 1 (mod 40), 25 rules,
	 * of which i % 3 == 2 drop out */
	assert_int_equal(rule_eval(set, &w.ctx, &w.out), 0);
	{
		int want = 0;
		for (int i = 1; i < 1000; i += 40)
			want += i % 3 <= 1;
		assert_int_equal(w.out.score, want);
	}
	assert_int_equal(rule_set_rule(set, 1)->event_mask,
	    1u << EVENT_CLICK);
	rule_set_free(set);
}

struct thread_job {
	const struct rule_set *set;
	int type;
	int32_t score;
	int errors;
};

static void *
thread_run(void *arg)
{
	struct thread_job *j = arg;
	struct world *w = malloc(sizeof(*w));

	w_init(w);
	w->ctx.cap_ok = NULL;
	w->ev.type = (uint8_t)j->type;
	w->ev.page = strv_of("/p1/x");
	w->sj.cart_items = 2;
	for (int i = 0; i < 20000; i++) {
		if (rule_eval(j->set, &w->ctx, &w->out) != 0 ||
		    (i > 0 && w->out.score != j->score))
			j->errors++;
		j->score = w->out.score;
	}
	free(w);
	return NULL;
}

static void
test_threads(void **state)
{
	struct rule_set *set = gen_set(1000);
	struct thread_job jobs[2] = {{set, EVENT_CLICK, 0, 0},
	    {set, EVENT_PAGEVIEW, 0, 0}};
	pthread_t th[2];

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_run,
		                     &jobs[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(jobs[0].errors, 0);
	assert_int_equal(jobs[1].errors, 0);
	assert_int_equal(jobs[0].score, 25); /* i = 1 (mod 40) */
	assert_int_equal(jobs[1].score, 0);  /* pageview: i % 10 == 0 */
	rule_set_free(set);
}

/* The watch list: target tests of hover/visible rules, once each. */
static void
test_watch(void **state)
{
	char w[RULE_WATCH_MAX][RULE_WATCH_SEL_MAX + 1];
	struct rule_set *set;
	unsigned n;

	(void)state;
	set = compile_str(
	    "rule a:\n  when event == \"hover\" and "
	    "target ~ \".promo-badge\"\n"
	    "  show banner \"x\"\n"
	    "rule b:\n  when (event == \"visible\" or event == \"hover\")"
	    " and (\"#hero\" == target or target ~ \".promo-badge\")\n"
	    "  score +1\n"
	    "rule c:\n  when target ~ \".everywhere\"\n  score +1\n"
	    "rule d:\n  when event == \"click\" and target ~ \".clicked\"\n"
	    "  score +1\n"
	    "rule e:\n  when event == \"hover\" and (target ~ \"a*b\" or "
	    "target ~ \"x\\\"y\" or page ~ \".notme\")\n  score +1\n");
	n = rule_set_watch(set, w, RULE_WATCH_MAX);
	assert_int_equal(n, 2);
	assert_string_equal(w[0], ".promo-badge");
	assert_string_equal(w[1], "#hero");
	assert_int_equal(rule_set_watch(set, w, 1), 1);
	assert_int_equal(rule_set_watch(NULL, w, RULE_WATCH_MAX), 0);
	rule_set_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_examples),
		cmocka_unit_test(test_bad_corpus),
		cmocka_unit_test(test_shop_examples),
		cmocka_unit_test(test_weather_examples),
		cmocka_unit_test(test_engagement_examples),
		cmocka_unit_test(test_scoring_examples),
		cmocka_unit_test(test_campaign_example),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_holdout),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_holes),
		cmocka_unit_test(test_missing_and_logic),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_thousand_rules),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
