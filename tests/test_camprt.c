/*
 * test_camprt.c - the agent's campaign runtime (agent/camprt.c) on a real
 * store (SQLite in a mkdtemp dir), a real session table and a real rules
 * runtime: assignment, the lifecycle through crt_change (stale and
 * replayed changes included), state kept across a restart and reset by a
 * changed declaration, counting (once per session, in the first variant,
 * nothing while paused, held-out visitors apart), the rules' holdout
 * trials, the circuit breaker (trips on a harmful variant with a clear
 * reason, not on equal rates), what happens past SESSION_XSLOTS
 * experiments, and the shop funnel's steps per variant (once per session
 * and step, not again after a restart).  cmocka 1.1 API.
 */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "camprt.h"
#include "funnel.h"

#define WALL0 1700000000000ull

static const char set_camp[] =
    "funnel shop: visit -> product: page ~ \"/product/\" -> cart: event =="
    " \"add_to_cart\"\n"
    "  -> checkout: page == \"/checkout\" -> purchase: event == "
    "\"purchase\"\n"
    "rule ship_abroad:\n"
    "  when page ~ \"/product/\"\n"
    "  show banner \"We deliver\"\n"
    "rule helper:\n"
    "  when page ~ \"/product/\"\n"
    "  show message \"Need help?\"\n"
    "  holdout 50%\n"
    "campaign banner_test on funnel shop goal purchase:\n"
    "  split control 50, bold 50\n"
    "  bold: enable rule ship_abroad\n"
    "  guardrail checkout drop 10%\n"
    "  guardrail revenue\n";

struct fixture {
	char dir[64];
	char db[128];
	struct funnel funnel;
	struct store *st;
	struct sesstab *t;
	struct rrt *r;
	struct crt *c;
	uint64_t mono;
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
fx_open(struct fixture *fx)
{
	struct nudge_diag d = {0};

	assert_int_equal(store_open(&fx->st, fx->db, &d), 0);
	assert_int_equal(rrt_new(&fx->r, fx->st, 4096, &d), 0);
	assert_int_equal(crt_new(&fx->c, fx->st, fx->t, fx->r, &d), 0);
}

static void
fx_close(struct fixture *fx)
{
	crt_free(fx->c);
	rrt_free(fx->r);
	store_close(fx->st);
	fx->c = NULL;
	fx->r = NULL;
	fx->st = NULL;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct sesstab_config sc = {.shards = 4, .timeout_ms = 1800000};

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/nudge-crt-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/nudged.db", fx->dir);
	funnel_default(&fx->funnel);
	sc.funnel = &fx->funnel;
	assert_int_equal(sesstab_new(&fx->t, &sc), 0);
	fx->mono = 1000;
	fx_open(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fx_close(fx);
	sesstab_free(fx->t);
	nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void
push(struct fixture *fx, const char *text)
{
	struct rrt_put p = {0, text, strlen(text), RRT_ACTIVE, "test"};
	struct rule_errors errs;
	struct nudge_diag d = {0};
	uint64_t got;

	assert_int_equal(rrt_put(fx->r, &p, &got, &errs, &d), 0);
}

/* What agent_apply_ex does with one event; sh NULL: not the beacon. */
static void
event(struct fixture *fx, const char *vid, int type, const char *page,
    int64_t cents, struct rrt_shown *sh)
{
	struct nudge_event ev;
	struct sesstab_view sv;
	int32_t score = 0;

	event_init(&ev);
	ev.type = (uint8_t)type;
	ev.visitor = strv_of(vid);
	ev.page = strv_of(page);
	ev.value_cents = cents;
	fx->mono++;
	assert_int_equal(sesstab_apply_view(fx->t, &ev, fx->mono,
	    WALL0 + fx->mono, &sv), 0);
	if (sh != NULL)
		sh->n = sh->n_trials = 0;
	rrt_eval(fx->r, &ev, &sv, fx->mono, WALL0 + fx->mono, sh, &score);
	if (sv.live)
		crt_observe(fx->c, &ev, &sv, sh);
}

static int
change(struct fixture *fx, const char *name, int op, uint64_t expect,
    struct wire_campaign *now)
{
	struct wire_camp_change ch = {.op = (uint8_t)op, .expect = expect,
	    .winner = -1};
	struct nudge_diag d = {0};

	snprintf(ch.name, sizeof(ch.name), "%s", name);
	return crt_change(fx->c, &ch, "tester", now, &d);
}

static int
change_w(struct fixture *fx, uint64_t expect, uint8_t w0, uint8_t w1)
{
	struct wire_camp_change ch = {.op = CAMP_OP_WEIGHTS,
	    .expect = expect, .n_weights = 2, .weights = {w0, w1}};
	struct wire_campaign now;
	struct nudge_diag d = {0};

	snprintf(ch.name, sizeof(ch.name), "banner_test");
	return crt_change(fx->c, &ch, "tester", &now, &d);
}

static void
listed(struct fixture *fx, struct wire_campaign *w)
{
	assert_int_equal(crt_list(fx->c, w, 1), 1);
	assert_string_equal(w->c.name, "banner_test");
}

static unsigned
arms_n(const struct wire_campaign *w)
{
	unsigned n = 0;

	for (unsigned v = 0; v < w->c.n_variants; v++)
		n += (unsigned)w->arm[v].n;
	return n;
}

/* ---- assignment and lifecycle ---------------------------------------- */

static void
test_assignment(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	struct rule_set *set;
	char vid[32];
	int n[2] = {0, 0};

	push(fx, set_camp);
	assert_int_equal(rule_compile(set_camp, strlen(set_camp), &set,
	    NULL), 0);
	listed(fx, &w);
	assert_int_equal(w.c.state, CAMP_DRAFT);
	assert_int_equal(w.c.version, 1);
	assert_string_equal(w.goal, "purchase");
	assert_int_equal(w.n_guard, 2);
	assert_string_equal(w.guard[0], "checkout");
	assert_int_equal(w.guard_drop_bp[0], 1000);
	/* a draft assigns nobody */
	assert_int_equal(crt_variant(fx->c, set, 0, strv_of("v1")), -1);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int i = 0; i < 2000; i++) {
		int want, got;
		snprintf(vid, sizeof(vid), "visitor-%d", i);
		assert_int_equal(camp_effective_variant(&w.c, strv_of(vid),
		    &want), 0);
		got = crt_variant(fx->c, set, 0, strv_of(vid));
		assert_int_equal(got, want < 0 ? -1 : want);
		if (got >= 0)
			n[got]++;
	}
	assert_true(n[0] > 850 && n[1] > 850);
	/* not ASCII: nobody */
	assert_int_equal(crt_variant(fx->c, set, 0, strv_of("v\xc3\xa9")),
	    -1);
	rule_set_free(set);
}

struct hist {
	unsigned n;
	char op[8][32];
	uint64_t version[8];
};

static void
hist_one(void *arg, const struct store_camp_hist *h)
{
	struct hist *hs = arg;

	if (hs->n < 8) {
		snprintf(hs->op[hs->n], sizeof(hs->op[0]), "%s", h->op);
		hs->version[hs->n++] = h->version;
	}
}

static void
test_lifecycle(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	struct rule_set *set;
	struct hist h = {0};

	push(fx, set_camp);
	assert_int_equal(change(fx, "nope", CAMP_OP_START, 1, &w),
	    NUDGE_ENOTFOUND);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_RESUME, 1, &w),
	    NUDGE_EINVAL);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	assert_int_equal(w.c.state, CAMP_RUNNING);
	assert_int_equal(w.c.version, 2);
	assert_true(w.since_ms > 0);
	/* the same start again (a retry): acknowledged, nothing new */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	assert_int_equal(w.c.version, 2);
	/* a pause decided on version 1: somebody changed it first */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_PAUSE, 1, &w),
	    NUDGE_ESTALE);
	assert_int_equal(w.c.version, 2);
	assert_int_equal(w.c.state, CAMP_RUNNING);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_PAUSE, 2, &w), 0);
	assert_int_equal(w.c.state, CAMP_PAUSED);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_RESUME, 3, &w), 0);
	assert_int_equal(w.c.state, CAMP_RUNNING);
	struct wire_camp_change ch = {.name = "banner_test",
	    .op = CAMP_OP_STOP, .expect = 4, .winner = 1};
	struct nudge_diag d = {0};
	assert_int_equal(crt_change(fx->c, &ch, "tester", &w, &d), 0);
	assert_int_equal(w.c.state, CAMP_STOPPED);
	assert_int_equal(w.c.winner, 1);
	assert_int_equal(w.c.version, 5);
	/* the winner for everyone */
	assert_int_equal(rule_compile(set_camp, strlen(set_camp), &set,
	    NULL), 0);
	assert_int_equal(crt_variant(fx->c, set, 0, strv_of("anyone")), 1);
	assert_int_equal(crt_variant(fx->c, set, 0, strv_of("else")), 1);
	rule_set_free(set);
	/* every accepted change is in the history, newest first */
	assert_int_equal(store_camp_history(fx->st, "banner_test", 10,
	    hist_one, &h), 0);
	assert_int_equal(h.n, 5);
	assert_string_equal(h.op[0], "stop 1");
	assert_int_equal(h.version[0], 5);
	assert_string_equal(h.op[3], "start");
	assert_string_equal(h.op[4], "declare");
	assert_int_equal(h.version[4], 1);
}

static void
test_restart_and_redeclare(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	char vid[32];

	push(fx, set_camp);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(vid, sizeof(vid), "r%d", i);
		event(fx, vid, EVENT_PAGEVIEW, "/", 0, NULL);
	}
	listed(fx, &w);
	unsigned counted = arms_n(&w);
	assert_true(counted > 30);
	/* a restart: state and counters come back from the store */
	fx_close(fx);
	fx_open(fx);
	listed(fx, &w);
	assert_int_equal(w.c.state, CAMP_RUNNING);
	assert_int_equal(w.c.version, 2);
	assert_int_equal(arms_n(&w), counted);
	/* the sessions are still live and were counted: not again */
	for (int i = 0; i < 50; i++) {
		snprintf(vid, sizeof(vid), "r%d", i);
		event(fx, vid, EVENT_PAGEVIEW, "/x", 0, NULL);
	}
	listed(fx, &w);
	assert_int_equal(arms_n(&w), counted);
	/* the same declaration pushed again keeps everything */
	char *again = malloc(sizeof(set_camp) + 16);
	snprintf(again, sizeof(set_camp) + 16, "%s# again\n", set_camp);
	push(fx, again);
	free(again);
	listed(fx, &w);
	assert_int_equal(w.c.state, CAMP_RUNNING);
	assert_int_equal(arms_n(&w), counted);
	/* other variants: a new draft after the stored version, at zero */
	char *other = strdup(set_camp);
	char *at = strstr(other, "control 50, bold 50");
	memcpy(at, "control 50, bald 50", 19);
	at = strstr(other, "bold: enable");
	memcpy(at, "bald", 4);
	push(fx, other);
	free(other);
	listed(fx, &w);
	assert_int_equal(w.c.state, CAMP_DRAFT);
	assert_int_equal(w.c.version, 3);
	assert_string_equal(w.c.variant[1], "bald");
	assert_int_equal(arms_n(&w), 0);
	fx_close(fx);
	fx_open(fx);
	listed(fx, &w);
	assert_int_equal(w.c.state, CAMP_DRAFT);
	assert_int_equal(w.c.version, 3);
	assert_int_equal(arms_n(&w), 0);
}

struct dump {
	size_t n;
	struct session_summary v[64];
};

static void
dump_one(void *arg, const struct session_summary *v, size_t n)
{
	struct dump *dp = arg;

	for (size_t i = 0; i < n && dp->n < 64; i++) {
		dp->v[dp->n] = v[i];
		dp->v[dp->n++].closed = false;
	}
}

static void
restore_one(void *arg, const struct session_summary *s)
{
	struct fixture *fx = arg;

	assert_int_equal(sesstab_restore(fx->t, s, fx->mono), 0);
}

/* A graceful restart as agent.c does it: the marks go with the sessions. */
static void
test_restart_live_marks(void **state)
{
	struct fixture *fx = *state;
	struct sesstab_config sc = {.shards = 4, .timeout_ms = 1800000,
	    .funnel = &fx->funnel};
	struct nudge_diag d = {0};
	struct wire_campaign w;
	struct dump *dp = calloc(1, sizeof(*dp));
	char vid[32];

	push(fx, set_camp);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(vid, sizeof(vid), "g%d", i);
		event(fx, vid, EVENT_PAGEVIEW, "/", 0, NULL);
	}
	listed(fx, &w);
	unsigned counted = arms_n(&w);
	assert_int_equal(sesstab_expire(fx->t, UINT64_MAX, dump_one, dp), 40);
	assert_int_equal(store_save_live(fx->st, dp->v, dp->n), 0);
	fx_close(fx);
	sesstab_free(fx->t);
	assert_int_equal(sesstab_new(&fx->t, &sc), 0);
	assert_int_equal(store_open(&fx->st, fx->db, &d), 0);
	assert_int_equal(rrt_new(&fx->r, fx->st, 4096, &d), 0);
	assert_int_equal(store_take_live(fx->st, restore_one, fx), 0);
	assert_int_equal(crt_new(&fx->c, fx->st, fx->t, fx->r, &d), 0);
	for (int i = 0; i < 40; i++) {
		snprintf(vid, sizeof(vid), "g%d", i);
		event(fx, vid, EVENT_PAGEVIEW, "/again", 0, NULL);
	}
	listed(fx, &w);
	assert_int_equal(arms_n(&w), counted);
	event(fx, "g-new", EVENT_PAGEVIEW, "/", 0, NULL);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), counted + 1);
	free(dp);
}

/* ---- counting -------------------------------------------------------- */

static void
test_counting(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	char vid[32];
	int var[200];
	uint64_t n[2] = {0}, x[2] = {0}, g0[2] = {0};
	int64_t rev[2] = {0};

	push(fx, set_camp);
	/* a draft counts nothing */
	event(fx, "early", EVENT_PURCHASE, "/done", 100, NULL);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(vid, sizeof(vid), "c%d", i);
		assert_int_equal(camp_assigned(&w.c, strv_of(vid), &var[i]),
		    0);
		event(fx, vid, EVENT_PAGEVIEW, "/", 0, NULL);
		event(fx, vid, EVENT_PAGEVIEW, "/product/1", 0, NULL);
		n[var[i]]++;
		if (i % 4 == 0) {	/* checkout twice: once */
			event(fx, vid, EVENT_PAGEVIEW, "/checkout", 0, NULL);
			event(fx, vid, EVENT_PAGEVIEW, "/checkout", 0, NULL);
			g0[var[i]]++;
		}
	}
	listed(fx, &w);
	assert_int_equal(w.arm[0].n, n[0]);
	assert_int_equal(w.arm[1].n, n[1]);
	assert_int_equal(w.arm[0].g[0], g0[0]);
	assert_int_equal(w.arm[1].g[0], g0[1]);
	assert_int_equal(w.arm[0].x + w.arm[1].x, 0);
	/* everyone to control: the counted stay in their first variant */
	assert_int_equal(change_w(fx, 2, 100, 0), 0);
	for (int i = 0; i < 200; i += 2) {
		snprintf(vid, sizeof(vid), "c%d", i);
		event(fx, vid, EVENT_PURCHASE, "/done", 1000, NULL);
		event(fx, vid, EVENT_PURCHASE, "/done", 500, NULL);
		x[var[i]]++;
		rev[var[i]] += 1500;
	}
	listed(fx, &w);
	for (int v = 0; v < 2; v++) {
		assert_int_equal(w.arm[v].n, n[v]);
		assert_int_equal(w.arm[v].x, x[v]);
		assert_int_equal(w.arm[v].rev_cents, rev[v]);
		/* guardrail revenue: sessions with a purchase */
		assert_int_equal(w.arm[v].g[1], x[v]);
	}
	/* paused: nothing new, neither sessions nor conversions */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_PAUSE, 3, &w), 0);
	event(fx, "paused-1", EVENT_PAGEVIEW, "/", 0, NULL);
	event(fx, "c1", EVENT_PURCHASE, "/done", 700, NULL);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), 200);
	assert_int_equal(w.arm[0].x + w.arm[1].x, x[0] + x[1]);
	assert_int_equal(w.arm[0].rev_cents + w.arm[1].rev_cents,
	    rev[0] + rev[1]);
	/* resumed: a session first seen while paused counts now */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_RESUME, 4, &w), 0);
	event(fx, "paused-1", EVENT_PAGEVIEW, "/2", 0, NULL);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), 201);
	assert_int_equal(w.arm[0].n, n[0] + 1);	/* weights 100/0 */
	/* bots and ids assign refuses count nothing */
	struct nudge_event ev;
	struct sesstab_view sv = {.live = true};
	event_init(&ev);
	ev.type = EVENT_PAGEVIEW;
	ev.visitor = strv_of("v\xc3\xa9");
	crt_observe(fx->c, &ev, &sv, NULL);
	ev.visitor = strv_of("bot-1");
	ev.device = DEVICE_BOT;
	crt_observe(fx->c, &ev, &sv, NULL);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), 201);
}

static void
test_holdout_visitors(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	struct wire_camp_change ch = {.name = "banner_test",
	    .op = CAMP_OP_HOLDOUT, .expect = 1, .holdout_bp = 3000};
	struct nudge_diag d = {0};
	char vid[32];
	unsigned want = 0, held = 0;

	push(fx, set_camp);
	assert_int_equal(crt_change(fx->c, &ch, "tester", &w, &d), 0);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 2, &w), 0);
	for (int i = 0; i < 1000; i++) {
		int v;
		snprintf(vid, sizeof(vid), "h%d", i);
		assert_int_equal(camp_assigned(&w.c, strv_of(vid), &v), 0);
		if (v == ASSIGN_HOLDOUT)
			held++;
		else
			want++;
		event(fx, vid, EVENT_PAGEVIEW, "/", 0, NULL);
	}
	assert_true(held > 200 && held < 400);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), want);
}

/* ---- rule experiments ------------------------------------------------ */

static const struct wire_rule_stat *
rule_stat(const struct wire_snapshot *s, const char *name)
{
	for (unsigned i = 0; i < s->n_rules; i++)
		if (strcmp(s->rules[i].name, name) == 0 &&
		    !s->rules[i].shadow_set)
			return &s->rules[i];
	return NULL;
}

static void
test_rule_trials(void **state)
{
	struct fixture *fx = *state;
	struct wire_snapshot *s = calloc(1, sizeof(*s));
	struct rrt_shown sh;
	char vid[32];
	uint64_t tn = 0, tx = 0, hn = 0, hx = 0;

	push(fx, set_camp);
	/* a purchase before the match converts nothing */
	event(fx, "early", EVENT_PURCHASE, "/done", 100, NULL);
	event(fx, "early", EVENT_PAGEVIEW, "/product/1", 0, &sh);
	bool early_held = rule_bucket(strv_of("holdout:helper"),
	    strv_of("early")) < 5000;
	if (early_held)
		hn++;
	else
		tn++;
	for (int i = 0; i < 400; i++) {
		snprintf(vid, sizeof(vid), "t%d", i);
		bool hold = rule_bucket(strv_of("holdout:helper"),
		    strv_of(vid)) < 5000;
		event(fx, vid, EVENT_PAGEVIEW, "/", 0, &sh);
		assert_int_equal(sh.n_trials, 0);
		event(fx, vid, EVENT_PAGEVIEW, "/product/1", 0, &sh);
		assert_int_equal(sh.n_trials, 1);
		assert_string_equal(sh.trial[0].rule, "helper");
		assert_int_equal(sh.trial[0].held, hold);
		/* matched again: counted once */
		event(fx, vid, EVENT_PAGEVIEW, "/product/2", 0, &sh);
		if (hold)
			hn++;
		else
			tn++;
		if (i % 3 == 0) {	/* a purchase from the backend */
			event(fx, vid, EVENT_PURCHASE, "/done", 990, NULL);
			event(fx, vid, EVENT_PURCHASE, "/done", 990, NULL);
			if (hold)
				hx++;
			else
				tx++;
		}
	}
	rrt_fill_snapshot(fx->r, s);
	crt_fill_snapshot(fx->c, s);
	const struct wire_rule_stat *r = rule_stat(s, "helper");
	assert_non_null(r);
	assert_int_equal(r->tn, tn);
	assert_int_equal(r->tx, tx);
	assert_int_equal(r->hn, hn);
	assert_int_equal(r->hx, hx);
	assert_true(hn > 150 && tn > 150);
	/* a rule without a holdout has no lift */
	r = rule_stat(s, "ship_abroad");
	assert_non_null(r);
	assert_int_equal(r->tn + r->hn, 0);
	/* the experiment survives a restart */
	fx_close(fx);
	fx_open(fx);
	memset(s, 0, sizeof(*s));
	rrt_fill_snapshot(fx->r, s);
	crt_fill_snapshot(fx->c, s);
	r = rule_stat(s, "helper");
	assert_non_null(r);
	assert_int_equal(r->tn, tn);
	assert_int_equal(r->hx, hx);
	free(s);
}

/* ---- the breaker ----------------------------------------------------- */

/* n sessions: checkout with probability rate[variant seen]. */
static void
traffic(struct fixture *fx, const char *prefix, int from, int n,
    const double rate[2], unsigned *seed)
{
	struct rule_set *set;
	char vid[32];

	assert_int_equal(rule_compile(set_camp, strlen(set_camp), &set,
	    NULL), 0);
	for (int i = from; i < from + n; i++) {
		snprintf(vid, sizeof(vid), "%s%d", prefix, i);
		int v = crt_variant(fx->c, set, 0, strv_of(vid));
		event(fx, vid, EVENT_PAGEVIEW, "/", 0, NULL);
		if (v >= 0 && (double)rand_r(seed) / RAND_MAX < rate[v])
			event(fx, vid, EVENT_PAGEVIEW, "/checkout", 0, NULL);
	}
	rule_set_free(set);
}

static void
test_breaker_trips(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	struct rule_set *set;
	const double rate[2] = {0.30, 0.12};
	unsigned seed = 7;

	push(fx, set_camp);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	/* too few sessions: no verdict yet */
	traffic(fx, "a", 0, 200, rate, &seed);
	crt_tick(fx->c, WALL0);
	listed(fx, &w);
	assert_false(w.c.tripped);
	traffic(fx, "a", 200, 1800, rate, &seed);
	crt_tick(fx->c, WALL0 + 1000);
	listed(fx, &w);
	assert_true(w.c.tripped);
	assert_int_equal(w.c.state, CAMP_RUNNING);
	printf("# camprt: breaker reason: %s\n", w.c.reason);
	assert_non_null(strstr(w.c.reason, "variant bold: checkout "));
	assert_non_null(strstr(w.c.reason, "vs control "));
	assert_non_null(strstr(w.c.reason, "(drop > 10% with 99% "
	    "confidence)"));
	/* everyone sees control now, and nothing more is counted */
	unsigned before = arms_n(&w);
	assert_int_equal(rule_compile(set_camp, strlen(set_camp), &set,
	    NULL), 0);
	char vid[32];
	for (int i = 0; i < 200; i++) {
		snprintf(vid, sizeof(vid), "a%d", i);
		assert_int_equal(crt_variant(fx->c, set, 0, strv_of(vid)), 0);
	}
	rule_set_free(set);
	traffic(fx, "late", 0, 100, rate, &seed);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), before);
	/* the trip is on disk */
	fx_close(fx);
	fx_open(fx);
	listed(fx, &w);
	assert_true(w.c.tripped);
	assert_non_null(strstr(w.c.reason, "variant bold"));
	/* an operator clears it */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_RESET, w.c.version,
	    &w), 0);
	assert_false(w.c.tripped);
}

static void
test_breaker_equal_rates(void **state)
{
	struct fixture *fx = *state;
	struct wire_campaign w;
	const double rate[2] = {0.2, 0.2};
	unsigned seed = 12345;

	push(fx, set_camp);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int b = 0; b < 40; b++) {
		traffic(fx, "e", b * 100, 100, rate, &seed);
		crt_tick(fx->c, WALL0 + (uint64_t)b * 1000);
		listed(fx, &w);
		assert_false(w.c.tripped);
	}
	assert_true(w.arm[0].n > 1500 && w.arm[1].n > 1500);
}

/* ---- threads --------------------------------------------------------- */

struct feeder {
	struct fixture *fx;
	int id;
};

static void *
feed(void *arg)
{
	struct feeder *f = arg;
	struct rrt_shown sh;
	char vid[32];

	for (int i = 0; i < 1500; i++) {
		struct nudge_event ev;
		struct sesstab_view sv;
		int32_t score;
		snprintf(vid, sizeof(vid), "w%d-%d", f->id, i);
		event_init(&ev);
		ev.visitor = strv_of(vid);
		for (int k = 0; k < 3; k++) {
			ev.type = k == 2 ? EVENT_PURCHASE : EVENT_PAGEVIEW;
			ev.page = strv_of(k == 1 ? "/product/1" : "/");
			ev.value_cents = k == 2 ? 100 : 0;
			sh.n = sh.n_trials = 0;
			if (sesstab_apply_view(f->fx->t, &ev, 5, WALL0,
			    &sv) != 0)
				continue;
			rrt_eval(f->fx->r, &ev, &sv, 5, WALL0, &sh, &score);
			crt_observe(f->fx->c, &ev, &sv, &sh);
		}
	}
	return NULL;
}

/* Ingest threads against changes, ticks, flushes and a push. */
static void
test_concurrent(void **state)
{
	struct fixture *fx = *state;
	struct feeder f[4];
	pthread_t th[4];
	struct wire_campaign w;
	struct wire_snapshot *s = calloc(1, sizeof(*s));

	push(fx, set_camp);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int i = 0; i < 4; i++) {
		f[i] = (struct feeder){fx, i};
		assert_int_equal(pthread_create(&th[i], NULL, feed, &f[i]), 0);
	}
	uint64_t v = 2;
	for (int k = 0; k < 20; k++) {
		int op = k % 2 == 0 ? CAMP_OP_PAUSE : CAMP_OP_RESUME;
		assert_int_equal(change(fx, "banner_test", op, v, &w), 0);
		v++;
		crt_tick(fx->c, WALL0);
		assert_int_equal(crt_flush(fx->c), 0);
		rrt_fill_snapshot(fx->r, s);
		crt_fill_snapshot(fx->c, s);
		if (k == 10) {
			char *again = malloc(sizeof(set_camp) + 8);
			snprintf(again, sizeof(set_camp) + 8, "%s#\n",
			    set_camp);
			push(fx, again);
			free(again);
		}
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	listed(fx, &w);
	assert_true(arms_n(&w) <= 6000);
	for (unsigned a = 0; a < w.c.n_variants; a++)
		assert_true(w.arm[a].x <= w.arm[a].n);
	free(s);
}

/* ---- slots ----------------------------------------------------------- */

/* set_camp plus n more holdout rules r0..r(n-1), ri on page /p/i. */
static char *
many_rules(int n)
{
	size_t cap = sizeof(set_camp) + (size_t)n * 128;
	char *s = malloc(cap);
	size_t len = (size_t)snprintf(s, cap, "%s", set_camp);

	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len,
		    "rule r%d:\n  when page == \"/p/%d\"\n"
		    "  show element \"#r%d\"\n  holdout 50%%\n", i, i, i);
	return s;
}

/* One session seeing every rule of many_rules(SESSION_XSLOTS). */
static void
visit_all(struct fixture *fx, const char *vid, struct rrt_shown *sh)
{
	char page[16];

	event(fx, vid, EVENT_PAGEVIEW, "/product/1", 0, sh);
	for (int k = 0; k < SESSION_XSLOTS; k++) {
		snprintf(page, sizeof(page), "/p/%d", k);
		event(fx, vid, EVENT_PAGEVIEW, page, 0, sh);
	}
}

static void
test_slots(void **state)
{
	struct fixture *fx = *state;
	struct wire_snapshot *s = calloc(1, sizeof(*s));
	struct wire_campaign w;
	struct rrt_shown sh;
	char vid[32];
	char *text = many_rules(SESSION_XSLOTS);	/* helper + 16 more */

	push(fx, text);
	free(text);
	for (int i = 0; i < 50; i++) {
		snprintf(vid, sizeof(vid), "s%d", i);
		visit_all(fx, vid, &sh);
	}
	rrt_fill_snapshot(fx->r, s);
	crt_fill_snapshot(fx->c, s);
	/* 17 holdout rules: the first 16 in file order are counted */
	assert_int_equal(rule_stat(s, "helper")->tn + rule_stat(s,
	    "helper")->hn, 50);
	assert_int_equal(rule_stat(s, "r14")->tn + rule_stat(s, "r14")->hn,
	    50);
	assert_int_equal(rule_stat(s, "r15")->tn + rule_stat(s, "r15")->hn,
	    0);
	assert_true(rule_stat(s, "r15")->m >= 50);	/* it did fire */
	/* a campaign that starts goes first: r14 loses its slot */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 1, &w), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(vid, sizeof(vid), "u%d", i);
		visit_all(fx, vid, &sh);
	}
	listed(fx, &w);
	assert_int_equal(arms_n(&w), 50);
	memset(s, 0, sizeof(*s));
	rrt_fill_snapshot(fx->r, s);
	crt_fill_snapshot(fx->c, s);
	assert_int_equal(rule_stat(s, "r13")->tn + rule_stat(s, "r13")->hn,
	    100);
	assert_int_equal(rule_stat(s, "r14")->tn + rule_stat(s, "r14")->hn,
	    0);
	assert_int_equal(rule_stat(s, "r15")->tn + rule_stat(s, "r15")->hn,
	    0);
	assert_int_equal(s->n_camps, 1);
	assert_int_equal(arms_n(&s->camps[0]), 50);
	free(s);
}

/* ---- funnel steps per variant ---------------------------------------- */

/*
 * A shop funnel where one page passes two steps at once (cart, checkout:
 * both match /checkout), so a session goes from step 2 straight to 4.
 */
static const char steps_funnel[] =
    "visit -> product: page ~ \"/product/\" -> cart: page ~ \"/checkout\""
    " -> checkout: page == \"/checkout\" -> purchase: event == "
    "\"purchase\"";

/* A session table on steps_funnel, and the runtime over it. */
static void
steps_reopen(struct fixture *fx)
{
	struct sesstab_config sc = {.shards = 4, .timeout_ms = 1800000,
	    .funnel = &fx->funnel};
	struct nudge_diag d = {0};

	fx_close(fx);
	sesstab_free(fx->t);
	assert_int_equal(funnel_parse(&fx->funnel, "shop", steps_funnel, &d),
	    0);
	assert_int_equal(sesstab_new(&fx->t, &sc), 0);
	fx_open(fx);
}

/* The first visitor "<prefix>N" that camp_assigned puts in variant want. */
static void
visitor_in(const struct camp *c, const char *prefix, int want, char *vid,
    size_t cap)
{
	for (int i = 0; i < 10000; i++) {
		int v;
		snprintf(vid, cap, "%s%d", prefix, i);
		assert_int_equal(camp_assigned(c, strv_of(vid), &v), 0);
		if (v == want)
			return;
	}
	fail_msg("no visitor in variant %d", want);
}

static void
assert_steps(const struct wire_camp_arm *a, const uint64_t *want)
{
	for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
		if (a->steps[k] != want[k])
			fail_msg("step %u: %llu, want %llu", k,
			    (unsigned long long)a->steps[k],
			    (unsigned long long)want[k]);
}

static void
test_steps(void **state)
{
	struct fixture *fx = *state;
	struct wire_camp_change ch = {.name = "banner_test",
	    .op = CAMP_OP_HOLDOUT, .expect = 1, .holdout_bp = 3000};
	struct nudge_diag d = {0};
	struct wire_campaign w;
	char b[32], held[32], late[32];
	const uint64_t none[AGG_STEPS_MAX] = {0};
	const uint64_t b4[AGG_STEPS_MAX] = {1, 1, 1, 1};
	const uint64_t b5[AGG_STEPS_MAX] = {1, 1, 1, 1, 1};

	steps_reopen(fx);
	push(fx, set_camp);
	assert_int_equal(crt_change(fx->c, &ch, "tester", &w, &d), 0);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_START, 2, &w), 0);
	visitor_in(&w.c, "sb", 1, b, sizeof(b));
	visitor_in(&w.c, "sh", ASSIGN_HOLDOUT, held, sizeof(held));
	/* steps 1, 2, then 4 at once: once each of 1..4, in bold */
	event(fx, b, EVENT_PAGEVIEW, "/", 0, NULL);
	listed(fx, &w);
	assert_int_equal(w.arm[1].steps[0], 1);
	event(fx, b, EVENT_PAGEVIEW, "/product/1", 0, NULL);
	event(fx, b, EVENT_PAGEVIEW, "/checkout", 0, NULL);
	event(fx, b, EVENT_PAGEVIEW, "/checkout", 0, NULL);
	event(fx, b, EVENT_PAGEVIEW, "/product/2", 0, NULL);
	listed(fx, &w);
	assert_int_equal(w.arm[1].n, 1);
	assert_steps(&w.arm[1], b4);
	assert_steps(&w.arm[0], none);
	/* held out: not counted, so no steps either */
	event(fx, held, EVENT_PAGEVIEW, "/product/1", 0, NULL);
	event(fx, held, EVENT_PAGEVIEW, "/checkout", 0, NULL);
	/* paused: a new session counts nothing */
	assert_int_equal(change(fx, "banner_test", CAMP_OP_PAUSE, 3, &w), 0);
	visitor_in(&w.c, "sp", 0, late, sizeof(late));
	event(fx, late, EVENT_PAGEVIEW, "/product/1", 0, NULL);
	listed(fx, &w);
	assert_int_equal(arms_n(&w), 1);
	assert_steps(&w.arm[1], b4);
	assert_steps(&w.arm[0], none);
	assert_int_equal(change(fx, "banner_test", CAMP_OP_RESUME, 4, &w), 0);

	/* a graceful restart: flush, the live sessions with their marks */
	struct sesstab_config sc = {.shards = 4, .timeout_ms = 1800000,
	    .funnel = &fx->funnel};
	struct dump *dp = calloc(1, sizeof(*dp));
	assert_int_equal(crt_flush(fx->c), 0);
	assert_int_equal(sesstab_expire(fx->t, UINT64_MAX, dump_one, dp), 3);
	assert_int_equal(store_save_live(fx->st, dp->v, dp->n), 0);
	fx_close(fx);
	sesstab_free(fx->t);
	assert_int_equal(sesstab_new(&fx->t, &sc), 0);
	assert_int_equal(store_open(&fx->st, fx->db, &d), 0);
	assert_int_equal(rrt_new(&fx->r, fx->st, 4096, &d), 0);
	assert_int_equal(store_take_live(fx->st, restore_one, fx), 0);
	assert_int_equal(crt_new(&fx->c, fx->st, fx->t, fx->r, &d), 0);
	listed(fx, &w);
	assert_steps(&w.arm[1], b4);	/* the counts came back */
	/* steps already counted are not counted again; a new one is */
	event(fx, b, EVENT_PAGEVIEW, "/checkout", 0, NULL);
	listed(fx, &w);
	assert_steps(&w.arm[1], b4);
	event(fx, b, EVENT_PURCHASE, "/done", 100, NULL);
	listed(fx, &w);
	assert_int_equal(w.arm[1].n, 1);
	assert_steps(&w.arm[1], b5);
	/* the session first seen while paused: every step it reached */
	event(fx, late, EVENT_PAGEVIEW, "/product/3", 0, NULL);
	listed(fx, &w);
	assert_int_equal(w.arm[0].n, 1);
	assert_int_equal(w.arm[0].steps[0], 1);
	assert_int_equal(w.arm[0].steps[1], 1);
	assert_int_equal(w.arm[0].steps[2], 0);
	free(dp);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_assignment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_lifecycle, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_and_redeclare, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_restart_live_marks, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_counting, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_holdout_visitors, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_rule_trials, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_breaker_trips, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_breaker_equal_rates, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_slots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_steps, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
