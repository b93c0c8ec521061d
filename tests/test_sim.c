/*
 * test_sim.c - unit tests of nudge-sim's deterministic parts: the PRNG, the
 * session generator (same seed, same events; the shop's proportions over
 * 100k visitors), the truth counters against an independent reading of
 * the funnel, and the emit batches as the agent decodes them; the A/B
 * truth (variants identical to the agent's campaign code, true purchase
 * rates per variant within 4 standard errors, drops, appended purchases);
 * the HTTP client against a fake server in a thread (keep-alive, chunked,
 * closes, retries) and the beacon output's bodies through the agent's own
 * beacon decoder.
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "beacon.h"
#include "campaign.h"
#include "clock.h"
#include "emit_event.h"
#include "err.h"
#include "event.h"
#include "funnel.h"
#include "sim/ab.h"
#include "sim/fastpack.h"
#include "sim/gen.h"
#include "sim/hclient.h"
#include "sim/out.h"
#include "sim/truth.h"
#include "wire.h"

#define VISITORS 100000
#define START_MS 1764600000000ULL

static struct gen *
new_gen(uint64_t seed)
{
	struct gen *g = malloc(sizeof(*g));

	assert_non_null(g);
	gen_init(g, seed);
	return g;
}

static void
test_rng_streams(void **state)
{
	struct gen_rng a, b, c;

	(void)state;
	gen_rng_seed(&a, 42, 7);
	gen_rng_seed(&b, 42, 7);
	gen_rng_seed(&c, 42, 8);
	for (int k = 0; k < 1000; k++) {
		uint64_t x = gen_rng_next(&a);

		assert_int_equal(x, gen_rng_next(&b));
		assert_int_not_equal(x, gen_rng_next(&c));
	}
	for (int k = 0; k < 10000; k++)
		assert_true(gen_rng_below(&a, 7) < 7);
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, GEN_VISITOR_LEN);
}

static void
test_visitor_ids(void **state)
{
	struct gen *g = new_gen(1);
	char(*ids)[GEN_VISITOR_LEN + 1] = calloc(VISITORS, sizeof(*ids));

	(void)state;
	assert_non_null(ids);
	for (uint64_t i = 0; i < VISITORS; i++) {
		gen_visitor_id(g, i, ids[i]);
		assert_int_equal(strlen(ids[i]), GEN_VISITOR_LEN);
		assert_int_equal(ids[i][0], 'v');
		assert_int_equal(strspn(ids[i] + 1, "0123456789abcdef"), 16);
	}
	qsort(ids, VISITORS, sizeof(*ids), cmp_id);
	for (uint64_t i = 1; i < VISITORS; i++)
		assert_int_not_equal(cmp_id(ids[i - 1], ids[i]), 0);
	free(ids);
	free(g);
}

static bool
strv_same(struct nudge_strv a, struct nudge_strv b)
{
	return a.len == b.len &&
	       (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* Contents, not pointers: two gens own two copies of the catalog. */
static bool
same_events(const struct gen_session *a, const struct gen_session *b)
{
	if (a->n != b->n)
		return false;
	for (uint32_t k = 0; k < a->n; k++) {
		const struct gen_event *x = &a->ev[k], *y = &b->ev[k];

		if (x->ts_ms != y->ts_ms || x->type != y->type ||
		    x->value_cents != y->value_cents ||
		    x->quantity != y->quantity || x->x != y->x ||
		    x->y != y->y || x->scroll != y->scroll ||
		    !strv_same(x->page, y->page) ||
		    !strv_same(x->target, y->target) ||
		    !strv_same(x->sku, y->sku))
			return false;
	}
	return true;
}

/* Same (seed, index) gives the same session; another seed does not. */
static void
test_same_seed_same_session(void **state)
{
	struct gen *g1 = new_gen(99), *g2 = new_gen(99), *g3 = new_gen(100);
	struct gen_session *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	int differ = 0;

	(void)state;
	for (uint64_t i = 0; i < 2000; i++) {
		gen_session(g1, i, START_MS, a);
		gen_session(g2, i, START_MS, b);
		assert_string_equal(a->visitor, b->visitor);
		assert_true(strv_same(a->referrer, b->referrer));
		assert_true(same_events(a, b));
		gen_session(g3, i, START_MS, b);
		differ += !same_events(a, b);
	}
	assert_true(differ > 1900);
	free(a);
	free(b);
	free(g1);
	free(g2);
	free(g3);
}

/* Shape checks that every session must pass. */
static void
check_session(const struct gen_session *s)
{
	struct nudge_event ev;
	struct nudge_diag d;

	assert_true(s->n > 0 && s->n < GEN_EVENTS_MAX);
	assert_int_equal(s->ev[0].type, EVENT_PAGEVIEW);
	assert_int_equal(s->ev[0].ts_ms, s->start_ms);
	assert_true(s->ev[s->n - 1].ts_ms - s->start_ms < GEN_SESSION_MAX_MS);
	for (uint32_t k = 0; k < s->n; k++) {
		if (k > 0)
			assert_true(s->ev[k].ts_ms >= s->ev[k - 1].ts_ms);
		event_init(&ev);
		gen_event_fill(s, k, &ev);
		if (event_validate(&ev, &d) != 0)
			fail_msg("event %u of %s: %s", k, s->visitor, d.msg);
		if (ev.type == EVENT_PURCHASE)
			assert_in_range(ev.value_cents, 2000, 20000);
	}
}

/* Which steps a session really contains, read straight off its events. */
struct seen {
	bool product, cart, checkout, purchase;
};

static struct seen
seen_of(const struct gen_session *s)
{
	struct seen v = {0};

	for (uint32_t k = 0; k < s->n; k++) {
		const struct gen_event *e = &s->ev[k];
		bool pv = e->type == EVENT_PAGEVIEW;

		v.product |= pv && strncmp(e->page.ptr, "/product/", 9) == 0;
		v.cart |= e->type == EVENT_ADD_TO_CART;
		v.checkout |= pv && strcmp(e->page.ptr, "/checkout") == 0;
		v.purchase |= e->type == EVENT_PURCHASE;
	}
	return v;
}

static void
assert_pct(const char *what, uint64_t n, double want, double tol)
{
	double pct = 100.0 * (double)n / VISITORS;

	if (pct < want - tol || pct > want + tol)
		fail_msg(
		    "%s: %.2f%%, want %.2f +- %.2f", what, pct, want, tol);
}

static void
test_proportions(void **state)
{
	struct gen *g = new_gen(2026);
	struct gen_session *s = malloc(sizeof(*s));
	uint64_t prod = 0, cart = 0, chk = 0, buy = 0, src[SOURCE_COUNT] = {0};
	uint64_t dev[DEVICE_COUNT] = {0}, fr = 0, de = 0, exits = 0;

	(void)state;
	for (uint64_t i = 0; i < VISITORS; i++) {
		struct seen v;

		gen_session(g, i, START_MS, s);
		check_session(s);
		v = seen_of(s);
		prod += v.product;
		cart += v.cart;
		chk += v.checkout;
		buy += v.purchase;
		src[s->source]++;
		dev[s->device]++;
		fr += strcmp(s->country, "FR") == 0;
		de += strcmp(s->country, "DE") == 0;
		exits += s->ev[s->n - 1].type == EVENT_EXIT_INTENT;
	}
	assert_pct("product", prod, 45, 3);
	assert_pct("add_to_cart", cart, 10, 1.5);
	assert_pct("checkout", chk, 5, 1);
	assert_pct("purchase", buy, 2.5, 0.5);
	assert_pct("search", src[SOURCE_SEARCH], 35, 1.5);
	assert_pct("direct", src[SOURCE_DIRECT], 25, 1.5);
	assert_pct("social", src[SOURCE_SOCIAL], 15, 1);
	assert_pct("coupon", src[SOURCE_COUPON], 8, 1);
	assert_pct("email", src[SOURCE_EMAIL], 7, 1);
	assert_pct("paid", src[SOURCE_PAID], 10, 1);
	assert_pct("desktop", dev[DEVICE_DESKTOP], 55, 1.5);
	assert_pct("mobile", dev[DEVICE_MOBILE], 38, 1.5);
	assert_pct("tablet", dev[DEVICE_TABLET], 7, 1);
	assert_pct("FR", fr, 40, 1.5);
	assert_pct("DE", de, 15, 1);
	assert_pct("exit_intent", exits, 6, 4);
	free(s);
	free(g);
}

/*
 * The truth's funnel must equal an independent reading of the default
 * funnel's rule (each step only after the previous one, in order).
 */
static uint8_t
expected_reach(const struct gen_session *s)
{
	uint8_t r = 1;

	for (uint32_t k = 0; k < s->n && r < 5; k++) {
		const struct gen_event *e = &s->ev[k];
		bool pv = e->type == EVENT_PAGEVIEW;

		if (r == 1 && pv && strstr(e->page.ptr, "/product/") != NULL)
			r = 2;
		else if (r == 2 && e->type == EVENT_ADD_TO_CART)
			r = 3;
		else if (r == 3 && pv && strcmp(e->page.ptr, "/checkout") == 0)
			r = 4;
		else if (r == 4 && e->type == EVENT_PURCHASE)
			r = 5;
	}
	return r;
}

static void
test_truth_funnel(void **state)
{
	struct gen *g = new_gen(5);
	struct gen_session *s = malloc(sizeof(*s));
	struct truth *t = malloc(sizeof(*t));
	struct nudge_event ev;
	uint64_t want[5] = {0}, events = 0, quick = 0;
	int64_t revenue = 0;

	(void)state;
	truth_init(t, NULL);
	assert_int_equal(t->funnel.n, 5);
	assert_string_equal(t->funnel.step[1].label, "product");
	for (uint64_t i = 0; i < VISITORS; i++) {
		struct truth_session ts = {0};
		uint8_t r;

		gen_session(g, i, START_MS, s);
		for (uint32_t k = 0; k < s->n; k++) {
			event_init(&ev);
			gen_event_fill(s, k, &ev);
			truth_add(t, &ts, &ev);
			if (ev.type == EVENT_PURCHASE)
				revenue += ev.value_cents;
		}
		r = expected_reach(s);
		assert_int_equal(ts.reached, r);
		for (uint8_t k = 0; k < r; k++)
			want[k]++;
		events += s->n;
		quick += s->quick_add;
		/* The agent must read the source the generator meant. */
		event_init(&ev);
		gen_event_fill(s, 0, &ev);
		if (event_classify_source(&ev) != s->source)
			fail_msg("%s: referrer %.*s utm %.*s: source %s, "
			         "classified %s",
			    s->visitor, (int)ev.referrer.len, ev.referrer.ptr,
			    (int)ev.utm_source.len, ev.utm_source.ptr,
			    event_source_name(s->source),
			    event_source_name(event_classify_source(&ev)));
	}
	assert_int_equal(t->visitors, VISITORS);
	assert_int_equal(t->events, events);
	assert_int_equal(t->revenue_cents, revenue);
	for (int k = 0; k < 5; k++)
		assert_int_equal(t->steps[k], want[k]);
	assert_pct("funnel purchase", t->steps[4], 2.5, 0.5);
	assert_true(quick > 0); /* some add_to_cart never reach "cart" */
	assert_true(t->steps[2] < t->by_type[EVENT_ADD_TO_CART]);
	free(t);
	free(s);
	free(g);
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void
test_ua_and_ip(void **state)
{
	struct gen *g = new_gen(11);
	struct gen_session *s = malloc(sizeof(*s));
	uint32_t *ips = malloc(VISITORS * sizeof(*ips));
	char ip[GEN_IP_MAX];

	(void)state;
	for (uint64_t i = 0; i < VISITORS; i++) {
		unsigned a, b, c, d;

		if (i < 5000) {
			gen_session(g, i, START_MS, s);
			assert_int_equal(
			    event_device_from_ua(strv_of(gen_user_agent(s))),
			    s->device);
		}
		gen_ip(g, i, ip);
		assert_int_equal(sscanf(ip, "%u.%u.%u.%u", &a, &b, &c, &d), 4);
		assert_true(a > 10 && a < 224 && a != 127 && a != 192 &&
		            a != 172 && a != 100);
		assert_true(b < 256 && c < 256 && d < 256);
		ips[i] = a << 24 | b << 16 | c << 8 | d;
	}
	/* Log visitors are told apart by IP + UA: no two may share an IP. */
	qsort(ips, VISITORS, sizeof(*ips), cmp_u32);
	for (uint64_t i = 1; i < VISITORS; i++)
		assert_int_not_equal(ips[i - 1], ips[i]);
	free(ips);
	free(s);
	free(g);
}

/* An emit batch decodes, as the agent would, into the events generated. */
static void
test_emit_batch(void **state)
{
	struct gen *g = new_gen(3);
	struct gen_session *s = malloc(sizeof(*s));
	struct out_config cfg = {.batch = WIRE_EMIT_MAX, .gen = g};
	struct out o;
	struct nudge_event want[64], got;
	struct wire_request rq;
	struct nudge_diag d;
	const msgpack_object *arr;
	uint32_t n = 0;

	(void)state;
	out_init(&o, &out_null, &cfg);
	assert_int_equal(o.ops->open(&o), 0);
	gen_session(g, 17, START_MS, s);
	for (uint64_t i = 18; s->n < 4; i++)
		gen_session(g, i, START_MS, s);
	for (uint32_t k = 0; k < s->n && n < 64; k++, n++) {
		event_init(&want[n]);
		gen_event_fill(s, k, &want[n]);
		assert_int_equal(o.ops->event(&o, s, k, &want[n]), 0);
	}
	assert_int_equal(o.ops->flush(&o), 0);
	assert_int_equal(wire_request_parse(&rq, o.msg.data, o.msg.size,
	                     &wire_limits_default, &d),
	    0);
	assert_string_equal(rq.cmd, "emit");
	arr = wire_map_get(rq.args, "ev");
	assert_non_null(arr);
	assert_int_equal(arr->via.array.size, n);
	for (uint32_t k = 0; k < n; k++) {
		const struct nudge_event *w = &want[k];

		assert_int_equal(
		    wire_unpack_event(&arr->via.array.ptr[k], &got, &d), 0);
		assert_int_equal(got.type, w->type);
		assert_int_equal(got.ts_ms, w->ts_ms);
		assert_int_equal(got.device, w->device);
		assert_string_equal(got.country, w->country);
		assert_true(got.visitor.len == w->visitor.len &&
		            memcmp(got.visitor.ptr, w->visitor.ptr,
		                w->visitor.len) == 0);
		assert_true(
		    got.page.len == w->page.len &&
		    memcmp(got.page.ptr, w->page.ptr, w->page.len) == 0);
		assert_int_equal(got.value_cents, w->value_cents);
		assert_int_equal(got.x_permille, w->x_permille);
		assert_int_equal(got.scroll_permille, w->scroll_permille);
	}
	wire_request_fini(&rq);
	o.ops->close(&o);
	free(s);
	free(g);
}

/* fastpack writes wire_pack_event's bytes, or declines. */
static void
assert_same_pack(const struct nudge_event *ev)
{
	msgpack_sbuffer a, b;
	msgpack_packer pk;

	msgpack_sbuffer_init(&a);
	msgpack_sbuffer_init(&b);
	msgpack_packer_init(&pk, &a, msgpack_sbuffer_write);
	wire_pack_event(&pk, ev);
	assert_true(fastpack_event(&b, ev));
	assert_int_equal(a.size, b.size);
	assert_memory_equal(a.data, b.data, a.size);
	msgpack_sbuffer_destroy(&a);
	msgpack_sbuffer_destroy(&b);
}

static void
test_fastpack_identical(void **state)
{
	static char big[300];
	struct gen *g = new_gen(77);
	struct gen_session *s = malloc(sizeof(*s));
	struct nudge_event ev;
	msgpack_sbuffer sb;

	(void)state;
	for (uint64_t i = 0; i < 20000; i++) {
		gen_session(g, i, START_MS, s);
		for (uint32_t k = 0; k < s->n; k++) {
			event_init(&ev);
			gen_event_fill(s, k, &ev);
			assert_same_pack(&ev);
		}
	}
	/* Every key at once (a map16), long strings, every int width. */
	memset(big, 'a', sizeof(big));
	event_init(&ev);
	ev.type = EVENT_REFUND;
	ev.device = DEVICE_BOT;
	memcpy(ev.country, "D", 2);
	ev.visitor = STRV_LIT("v0");
	ev.page = (struct nudge_strv){big, 40};
	ev.referrer = (struct nudge_strv){big, 255};
	ev.utm_source = (struct nudge_strv){big, 256};
	ev.utm_medium = (struct nudge_strv){big, 31};
	ev.utm_campaign = (struct nudge_strv){big, 32};
	ev.target = (struct nudge_strv){big, 1};
	ev.sku = (struct nudge_strv){big, 300};
	ev.value_cents = EVENT_VALUE_MAX_CENTS;
	ev.quantity = 70000;
	ev.x_permille = 127;
	ev.y_permille = 128;
	ev.scroll_permille = 1000;
	for (uint64_t ts = 1; ts != 0 && ts < UINT64_MAX / 3; ts *= 3) {
		ev.ts_ms = ts;
		ev.quantity = (uint32_t)ts;
		assert_same_pack(&ev);
	}
	ev.ts_ms = 0;
	assert_same_pack(&ev);
	/* What it does not handle, it leaves to wire_pack_event. */
	msgpack_sbuffer_init(&sb);
	ev.type = EVENT_CUSTOM;
	ev.name = STRV_LIT("login_ok");
	assert_false(fastpack_event(&sb, &ev));
	assert_int_equal(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
	free(s);
	free(g);
}

/* --jsonl lines read back by `nudge emit --stdin`'s parser. */
static void
test_jsonl_roundtrip(void **state)
{
	struct gen *g = new_gen(8);
	struct gen_session *s = malloc(sizeof(*s));
	struct out_config cfg = {.gen = g, .fp = tmpfile()};
	struct nudge_event want, got;
	struct out o;
	char line[4096], err[256];
	uint32_t lines = 0;

	(void)state;
	assert_non_null(cfg.fp);
	out_init(&o, &out_jsonl, &cfg);
	gen_session(g, 4, START_MS, s);
	for (uint64_t i = 5; s->tier < GEN_TIER_PURCHASE; i++)
		gen_session(g, i, START_MS, s); /* one with every type */
	for (uint32_t k = 0; k < s->n; k++) {
		event_init(&want);
		gen_event_fill(s, k, &want);
		assert_int_equal(o.ops->event(&o, s, k, &want), 0);
	}
	assert_int_equal(o.ops->flush(&o), 0);
	rewind(cfg.fp);
	while (fgets(line, sizeof(line), cfg.fp) != NULL) {
		json_t *j = json_loads(line, 0, NULL);

		assert_non_null(j);
		event_init(&want);
		gen_event_fill(s, lines++, &want);
		if (emit_event_from_json(j, &got, err, sizeof(err)) != 0)
			fail_msg("line %u: %s: %s", lines, err, line);
		assert_int_equal(got.type, want.type);
		assert_int_equal(got.ts_ms, want.ts_ms);
		assert_int_equal(got.device, want.device);
		assert_string_equal(got.country, want.country);
		assert_true(strv_same(got.page, want.page));
		assert_true(strv_same(got.referrer, want.referrer));
		assert_true(strv_same(got.utm_campaign, want.utm_campaign));
		assert_true(strv_same(got.sku, want.sku));
		assert_int_equal(got.value_cents, want.value_cents);
		assert_int_equal(got.quantity, want.quantity);
		assert_int_equal(got.x_permille, want.x_permille);
		assert_int_equal(got.scroll_permille, want.scroll_permille);
		json_decref(j);
	}
	assert_int_equal(lines, s->n);
	o.ops->close(&o);
	fclose(cfg.fp);
	free(s);
	free(g);
}

/* ---- A/B truth (ab.c) ----------------------------------------------------
 */

static struct ab *
new_ab(void)
{
	struct ab *a = malloc(sizeof(*a));

	assert_non_null(a);
	ab_init(a);
	return a;
}

static void
test_ab_specs(void **state)
{
	static const char *const bad_camp[] = {"", "x", "x:", "x:50,50",
	    "x:50,50:", "x:50,40:0.1,0.1", "x:100:0.1", "x:50,50:0.1",
	    "x:50,50:0.1,0.1,0.1", "x:50,50:0.1,1.5", "x:50,50:0.1,-1",
	    "x:50,50:0.1,0.2:100%", "x:50,50:0.1,0.2:10",
	    "x:50,50:0.1,0.2:1.234%", "x y:50,50:0.1,0.1",
	    "x:50,50:0.1,0.1:10%:9",
	    "x:10,10,10,10,10,10,10,10,20:0,0,0,0,0,0,0,0,0"};
	struct ab *a = new_ab();
	char err[200];

	(void)state;
	for (size_t k = 0; k < sizeof(bad_camp) / sizeof(*bad_camp); k++)
		if (ab_add_campaign(a, bad_camp[k], err, sizeof(err)) == 0)
			fail_msg("accepted --campaign '%s'", bad_camp[k]);
	assert_int_equal(a->n_camp, 0);
	assert_int_equal(
	    ab_add_campaign(a, "t:50,50:0.03,4.5%", err, sizeof(err)), 0);
	assert_int_equal(a->camp[0].n, 2);
	assert_true(
	    a->camp[0].rate[1] > 0.0449 && a->camp[0].rate[1] < 0.0451);
	assert_int_equal(
	    ab_add_campaign(a, "u:30,30,40:0,0.5,1:12.5%", err, sizeof(err)),
	    0);
	assert_int_equal(a->camp[1].holdout_bp, 1250);
	assert_int_not_equal(
	    ab_add_campaign(a, "t:50,50:0.1,0.1", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "twice"));
	/* Drops and generations resolve at the end, in any order. */
	assert_int_equal(ab_add_drop(a, "u:2:0.25", err, sizeof(err)), 0);
	assert_int_equal(ab_add_generation(a, "u:3", err, sizeof(err)), 0);
	assert_int_equal(ab_finish(a, 1, err, sizeof(err)), 0);
	assert_true(a->camp[1].drop[2] == 0.25);
	assert_int_equal(a->camp[1].generation, 3);
	assert_int_equal(ab_add_drop(a, "u:3:0.25", err, sizeof(err)), 0);
	assert_int_not_equal(ab_finish(a, 1, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "0..2"));
	ab_init(a);
	assert_int_equal(ab_add_drop(a, "nope:0:0.1", err, sizeof(err)), 0);
	assert_int_not_equal(ab_finish(a, 1, err, sizeof(err)), 0);
	ab_init(a);
	assert_int_equal(
	    ab_add_campaign(a, "t:50,50:0.1,0.1", err, sizeof(err)), 0);
	assert_int_equal(ab_add_drop(a, "t:1:1.5", err, sizeof(err)), 0);
	assert_int_not_equal(ab_finish(a, 1, err, sizeof(err)), 0);
	ab_init(a);
	assert_int_equal(
	    ab_add_lift(a, "ship_abroad:0.08", err, sizeof(err)), 0);
	assert_int_not_equal(
	    ab_add_lift(a, "ship_abroad:0.1", err, sizeof(err)), 0);
	assert_int_not_equal(ab_add_lift(a, "r:2", err, sizeof(err)), 0);
	assert_int_not_equal(ab_add_lift(a, "r", err, sizeof(err)), 0);
	assert_int_equal(ab_lift_find(a, "ship_abroad", 11), 0);
	assert_int_equal(ab_lift_find(a, "ship", 4), -1);
	assert_true(ab_active(a));
	free(a);
}

/*
 * The simulator's variant of every visitor is the agent's: camp_assigned()
 * on a campaign built the agent's way (camp_init from a declaration, then
 * an operator's holdout and reshuffle).
 */
static void
test_ab_matches_campaign(void **state)
{
	struct rule_campaign rc = {.name = "checkout_banner",
	    .n_variants = 3,
	    .variant = {{"control", 30}, {"bold", 30}, {"soft", 40}}};
	struct camp c;
	struct gen *g = new_gen(77);
	struct ab *a = new_ab();
	struct ab_visitor v;
	char err[200], id[GEN_VISITOR_LEN + 1];
	unsigned n[4] = {0};

	(void)state;
	assert_int_equal(camp_init(&c, &rc, NULL), 0);
	assert_int_equal(camp_set_holdout(&c, c.version, 1000, NULL), 0);
	assert_int_equal(camp_start(&c, c.version, NULL), 0);
	assert_int_equal(camp_reshuffle(&c, c.version, NULL), 0);
	assert_int_equal(c.generation, 1);
	assert_int_equal(
	    ab_add_campaign(a, "checkout_banner:30,30,40:0.1,0.1,0.1:10%", err,
	        sizeof(err)),
	    0);
	assert_int_equal(
	    ab_add_generation(a, "checkout_banner:1", err, sizeof(err)), 0);
	assert_int_equal(ab_finish(a, 77, err, sizeof(err)), 0);
	for (uint64_t i = 0; i < 20000; i++) {
		struct nudge_strv vid = {id, GEN_VISITOR_LEN};
		int want;

		gen_visitor_id(g, i, id);
		ab_visitor(a, i, vid, &v);
		assert_int_equal(camp_assigned(&c, vid, &want), 0);
		assert_int_equal(v.variant[0], want);
		n[want < 0 ? 3 : want]++;
		assert_int_equal(v.decider, want < 0 ? -1 : 0);
		assert_int_equal(v.buy, want < 0    ? GEN_BUY_DEFAULT
		                        : v.u < 0.1 ? GEN_BUY_YES
		                                    : GEN_BUY_NO);
		assert_false(v.dropped);
	}
	/* 4 sigma of a binomial share: the split is the declared one. */
	assert_in_range(n[3], 2000 - 170, 2000 + 170);
	assert_in_range(n[0], 5400 - 260, 5400 + 260);
	assert_in_range(n[2], 7200 - 280, 7200 + 280);
	free(a);
	free(g);
}

/* |x/n - p| within 4 standard errors. */
static void
assert_rate(const char *what, uint64_t x, uint64_t n, double p)
{
	double r = n > 0 ? (double)x / (double)n : 0;
	double se = sqrt(p * (1 - p) / (double)(n > 0 ? n : 1));

	if (n == 0 || fabs(r - p) > 4 * se + 1e-12)
		fail_msg("%s: %llu/%llu = %.4f, want %.4f +- %.4f", what,
		    (unsigned long long)x, (unsigned long long)n, r, p,
		    4 * se);
}

/* Sends visitors 0..n-1 of g through the truth as main.c's loop does. */
static void
run_truth(struct gen *g, const struct ab *a, struct truth *t, uint64_t n)
{
	struct gen_session *s = malloc(sizeof(*s));
	struct ab_visitor av;
	struct nudge_event ev;

	assert_non_null(s);
	for (uint64_t i = 0; i < n; i++) {
		struct truth_session ts = {.abv = &av};
		char id[GEN_VISITOR_LEN + 1];

		gen_visitor_id(g, i, id);
		ab_visitor(
		    a, i, (struct nudge_strv){id, GEN_VISITOR_LEN}, &av);
		if (av.dropped) {
			truth_dropped(t, &av);
			continue;
		}
		gen_session_as(g, i, START_MS, av.buy, s);
		if (av.buy != GEN_BUY_DEFAULT)
			assert_int_equal(s->tier == GEN_TIER_PURCHASE,
			    av.buy == GEN_BUY_YES);
		for (uint32_t k = 0; k < s->n; k++) {
			event_init(&ev);
			gen_event_fill(s, k, &ev);
			truth_add(t, &ts, &ev);
		}
	}
	free(s);
}

/* Variants truly convert at their rates; holdouts at the shop's. */
static void
test_ab_rates(void **state)
{
	struct gen *g = new_gen(4242);
	struct ab *a = new_ab();
	struct truth *t = malloc(sizeof(*t));
	const struct truth_camp *c;
	char err[200];
	uint64_t sum = 0, drop = 0;

	(void)state;
	assert_int_equal(ab_add_campaign(a, "ab_test:50,50:0.03,0.06:20%", err,
	                     sizeof(err)),
	    0);
	assert_int_equal(
	    ab_add_campaign(a, "other:90,10:0.5,0.5", err, sizeof(err)), 0);
	assert_int_equal(ab_add_drop(a, "other:1:0.3", err, sizeof(err)), 0);
	assert_int_equal(ab_finish(a, 4242, err, sizeof(err)), 0);
	truth_init(t, a);
	run_truth(g, a, t, VISITORS);
	c = &t->camp[0];
	assert_rate(
	    "variant A", c->arm[0].purchases, c->arm[0].visitors, 0.03);
	assert_rate(
	    "variant B", c->arm[1].purchases, c->arm[1].visitors, 0.06);
	/* ab_test's holdout falls to "other": 0.5 for those in its variants.
	 */
	assert_rate("holdout share", c->holdout.visitors + c->holdout.dropped,
	    VISITORS, 0.2);
	c = &t->camp[1];
	for (int k = 0; k < 2; k++) {
		sum += c->arm[k].visitors;
		drop += c->arm[k].dropped;
	}
	assert_int_equal(sum, t->visitors);
	assert_int_equal(c->arm[0].dropped, 0);
	assert_rate("dropped share of variant 1", c->arm[1].dropped,
	    c->arm[1].dropped + c->arm[1].visitors, 0.3);
	assert_rate(
	    "split of other", c->arm[1].visitors + drop, VISITORS, 0.1);
	assert_int_equal(t->camp[0].arm[0].visitors +
	                     t->camp[0].arm[1].visitors +
	                     t->camp[0].holdout.visitors,
	    t->visitors);
	assert_int_equal(t->camp[0].arm[0].purchases +
	                     t->camp[0].arm[1].purchases +
	                     t->camp[0].holdout.purchases,
	    t->purchases);
	free(t);
	free(a);
	free(g);
}

/* A/A: the same rate in both arms; no campaign: the shop's 2.5%. */
static void
test_ab_equal_and_default(void **state)
{
	struct gen *g = new_gen(9);
	struct ab *a = new_ab();
	struct truth *t = malloc(sizeof(*t));
	struct gen_session *s = malloc(sizeof(*s)), *d = malloc(sizeof(*d));
	char err[200];
	uint64_t checkout = 0, cart = 0, none = 0;

	(void)state;
	assert_int_equal(
	    ab_add_campaign(a, "aa:50,50:0.04,0.04", err, sizeof(err)), 0);
	assert_int_equal(ab_finish(a, 9, err, sizeof(err)), 0);
	truth_init(t, a);
	run_truth(g, a, t, VISITORS);
	assert_rate("A", t->camp[0].arm[0].purchases,
	    t->camp[0].arm[0].visitors, 0.04);
	assert_rate("B", t->camp[0].arm[1].purchases,
	    t->camp[0].arm[1].visitors, 0.04);
	/* Default: gen_session exactly; NO keeps the funnel's shape above. */
	for (uint64_t i = 0; i < 20000; i++) {
		gen_session(g, i, START_MS, s);
		gen_session_as(g, i, START_MS, GEN_BUY_DEFAULT, d);
		assert_true(same_events(s, d));
		gen_session_as(g, i, START_MS, GEN_BUY_NO, d);
		check_session(d);
		assert_int_not_equal(d->tier, GEN_TIER_PURCHASE);
		checkout += d->tier == GEN_TIER_CHECKOUT;
		cart += d->tier == GEN_TIER_CART;
		none++;
		gen_session_as(g, i, START_MS, GEN_BUY_YES, d);
		check_session(d);
		assert_int_equal(d->tier, GEN_TIER_PURCHASE);
		assert_true(gen_purchase_index(d) < d->n);
	}
	assert_rate("checkout among non-buyers", checkout, none, 2.5 / 97.5);
	assert_rate("cart among non-buyers", cart, none, 5.0 / 97.5);
	free(s);
	free(d);
	free(t);
	free(a);
	free(g);
}

/* A purchase appended to a visit that had none. */
static void
test_gen_add_purchase(void **state)
{
	struct gen *g = new_gen(12);
	struct gen_session *s = malloc(sizeof(*s));
	unsigned added = 0;

	(void)state;
	for (uint64_t i = 0; i < 3000; i++) {
		int64_t cart = 0;
		uint32_t n, p;

		gen_session_as(g, i, START_MS, GEN_BUY_NO, s);
		for (uint32_t k = 0; k < s->n; k++)
			if (s->ev[k].type == EVENT_ADD_TO_CART)
				cart += s->ev[k].value_cents;
		n = s->n;
		assert_int_equal(gen_purchase_index(s), n);
		assert_true(gen_add_purchase(g, s));
		added++;
		check_session(s);
		p = gen_purchase_index(s);
		assert_true(p > 0 && p < s->n);
		assert_true(
		    strv_same(gen_prev_page(s, p), strv_of("/checkout")));
		assert_int_equal(s->ev[s->n - 1].type, EVENT_PAGEVIEW);
		assert_true(strv_same(
		    s->ev[s->n - 1].page, strv_of("/checkout/confirmation")));
		if (cart > 0)
			assert_int_equal(s->ev[p].value_cents, cart);
		assert_int_equal(s->tier, GEN_TIER_PURCHASE);
		/* One purchase per visit: a second is refused. */
		n = s->n;
		assert_false(gen_add_purchase(g, s));
		assert_int_equal(s->n, n);
	}
	assert_int_equal(added, 3000);
	free(s);
	free(g);
}

/* ---- a fake HTTP server for the client and the beacon output --------------
 */

#define FAKE_BUF (1u << 17)

struct fake {
	int lfd, port;
	pthread_t th;
	atomic_int stop;
	/* behaviour */
	bool chunked;         /* answers chunked */
	unsigned close_every; /* "Connection: close" every k answers */
	unsigned drop_every;  /* silently close after every k answers */
	unsigned fail429;     /* the first k requests get 429 */
	const char *answer;   /* body of 200 answers */
	bool decode;          /* decode bodies as the agent's beacon */
	/* what it saw (read after fake_stop) */
	unsigned requests, connections, events, bad, not_pageview_first;
	unsigned purchases, consent_missing;
	char last_ua[256];
	char last_body[FAKE_BUF];
	struct beacon *b;
};

static bool
write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		s += k;
		n -= (size_t)k;
	}
	return true;
}

static void
fake_inspect(struct fake *f, const char *body, size_t len, const char *head)
{
	struct nudge_diag d;
	const struct beacon_limits lim = {BEACON_MAX_BODY, BEACON_MAX_EVENTS};
	const char *ua = strstr(head, "User-Agent: ");

	if (ua != NULL)
		sscanf(ua + 12, "%255[^\r]", f->last_ua);
	snprintf(f->last_body, sizeof(f->last_body), "%.*s", (int)len, body);
	if (!f->decode)
		return;
	if (beacon_decode(f->b, body, len, &lim, clock_wall_ms(), NULL, &d) !=
	    0) {
		f->bad++;
		fprintf(stderr, "fake: refused: %s: %.200s\n", d.msg, body);
		return;
	}
	f->events += f->b->n;
	f->consent_missing += !f->b->consent;
	f->not_pageview_first += f->b->ev[0].type != EVENT_PAGEVIEW;
	for (unsigned k = 0; k < f->b->n; k++)
		f->purchases += f->b->ev[k].type == EVENT_PURCHASE;
	beacon_fini(f->b);
}

/* Answers one request of buf (head + body); false to close. */
static bool
fake_answer(struct fake *f, int fd, unsigned served)
{
	char head[512];
	const char *a = f->answer;
	size_t alen = strlen(a);
	bool close_it = f->close_every && served % f->close_every == 0;
	int status = served <= f->fail429 ? 429 : 200;

	if (status == 429) {
		a = "{\"error\":\"slow down\"}";
		alen = strlen(a);
	}
	if (f->chunked && status == 200) {
		size_t half = alen / 2;
		char c1[32], c2[32];

		snprintf(head, sizeof(head),
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n%s\r\n",
		    close_it ? "Connection: close\r\n" : "");
		snprintf(c1, sizeof(c1), "%zx\r\n", half);
		snprintf(c2, sizeof(c2), "\r\n%zx\r\n", alen - half);
		return write_all(fd, head, strlen(head)) &&
		       write_all(fd, c1, strlen(c1)) &&
		       write_all(fd, a, half) &&
		       write_all(fd, c2, strlen(c2)) &&
		       write_all(fd, a + half, alen - half) &&
		       write_all(fd, "\r\n0\r\n\r\n", 7) && !close_it;
	}
	snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n%s\r\n",
	    status, status == 200 ? "OK" : "Too Many Requests", alen,
	    close_it ? "Connection: close\r\n" : "");
	return write_all(fd, head, strlen(head)) && write_all(fd, a, alen) &&
	       !close_it;
}

/* Serves one connection until it closes. */
static void
fake_conn(struct fake *f, int fd, char *buf)
{
	size_t len = 0;

	for (;;) {
		char *end = NULL, *cl;
		size_t need;
		ssize_t k;

		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "Content-Length: ");
			need = (size_t)(end + 4 - buf) +
			       (cl != NULL ? strtoul(cl + 16, NULL, 10) : 0);
			if (len >= need) {
				*end = '\0';
				/* A 429 is not applied by the agent either. */
				if (++f->requests > f->fail429)
					fake_inspect(f, end + 4,
					    need - (size_t)(end + 4 - buf),
					    buf);
				if (!fake_answer(f, fd, f->requests))
					return;
				if (f->drop_every &&
				    f->requests % f->drop_every == 0)
					return;
				memmove(buf, buf + need, len - need);
				len -= need;
				continue;
			}
		}
		if (len >= FAKE_BUF - 1)
			return;
		k = recv(fd, buf + len, FAKE_BUF - 1 - len, 0);
		if (k <= 0)
			return;
		len += (size_t)k;
	}
}

static void *
fake_main(void *arg)
{
	struct fake *f = arg;
	char *buf = malloc(FAKE_BUF);
	int one = 1;

	while (!atomic_load(&f->stop)) {
		struct pollfd p = {f->lfd, POLLIN, 0};
		int fd;

		if (poll(&p, 1, 20) <= 0)
			continue;
		if ((fd = accept(f->lfd, NULL, NULL)) < 0)
			continue;
		/* Answers go out in pieces: no Nagle wait between them. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		f->connections++;
		fake_conn(f, fd, buf);
		close(fd);
	}
	free(buf);
	return NULL;
}

static struct fake *
fake_start(const char *answer, bool decode)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	assert_non_null(f);
	f->answer = answer;
	f->decode = decode;
	f->b = malloc(sizeof(*f->b));
	assert_non_null(f->b);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&sa, &sl), 0);
	f->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
	return f;
}

/* Stops the server; its counters are stable afterwards. */
static void
fake_stop(struct fake *f)
{
	atomic_store(&f->stop, 1);
	pthread_join(f->th, NULL);
	close(f->lfd);
}

static void
fake_free(struct fake *f)
{
	free(f->b);
	free(f);
}

static void
fake_url(const struct fake *f, char *url, size_t cap)
{
	snprintf(url, cap, "http://127.0.0.1:%d/nudge/e", f->port);
}

static void
test_hclient_urls(void **state)
{
	static const char *const bad[] = {"https://x/", "x:80/", "http://",
	    "http:///e", "http://h:/e", "http://h:8x/e", "http://[::1/e",
	    "http://h:1234567/e"};
	struct hc h;

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(*bad); k++) {
		if (hc_init(&h, bad[k], 1000) == 0)
			fail_msg("accepted '%s'", bad[k]);
		hc_fini(&h);
	}
	assert_int_equal(hc_init(&h, "http://[::1]:7480/nudge/e", 1000), 0);
	assert_string_equal(h.name, "::1");
	assert_string_equal(h.host, "[::1]:7480");
	assert_string_equal(h.port, "7480");
	assert_string_equal(h.path, "/nudge/e");
	hc_fini(&h);
	assert_int_equal(hc_init(&h, "http://shop.example", 1000), 0);
	assert_string_equal(h.port, "80");
	assert_string_equal(h.path, "/");
	hc_fini(&h);
}

/* Keep-alive, chunked answers, Connection: close and idle closes. */
static void
test_hclient_keepalive(void **state)
{
	static const char answer[] = "{\"d\":[{\"id\":\"r1\"}],\"w\":[]}";
	struct {
		bool chunked;
		unsigned close_every, drop_every, connections;
	} mode[] = {
	    {false, 0, 0, 1},
	    {true, 0, 0, 1},
	    {false, 2, 0, 3},
	    {true, 0, 2, 3},
	    {false, 0, 1, 5},
	};
	char url[64];

	(void)state;
	for (size_t m = 0; m < sizeof(mode) / sizeof(*mode); m++) {
		struct fake *f = fake_start(answer, false);
		struct hc h;

		f->chunked = mode[m].chunked;
		f->close_every = mode[m].close_every;
		f->drop_every = mode[m].drop_every;
		fake_url(f, url, sizeof(url));
		assert_int_equal(hc_init(&h, url, 2000), 0);
		for (int k = 0; k < 5; k++) {
			char body[32];

			snprintf(body, sizeof(body), "{\"n\":%d}", k);
			if (hc_post(&h, "text/plain", "User-Agent: t\r\n",
			        body, strlen(body)) != 0)
				fail_msg("mode %zu post %d: %s", m, k, h.err);
			assert_int_equal(h.status, 200);
			assert_int_equal(h.body_len, strlen(answer));
			assert_string_equal(h.body, answer);
		}
		hc_fini(&h);
		fake_stop(f);
		assert_int_equal(f->requests, 5);
		assert_string_equal(f->last_body, "{\"n\":4}");
		assert_string_equal(f->last_ua, "t");
		if (f->connections != mode[m].connections)
			fail_msg("mode %zu: %u connections, want %u", m,
			    f->connections, mode[m].connections);
		fake_free(f);
	}
}

/* The beacon output, through a 429, decoded by the agent's own decoder. */
static void
test_beacon_output(void **state)
{
	static const char answer[] = "{\"d\":[{\"id\":\"lifted\",\"kind\":"
	                             "\"banner\",\"text\":\"hi\"},{\"id\":"
	                             "\"other\",\"kind\":\"shake\"}]}";
	const double rates[] = {1.0, 0.0};
	char url[64], err[200];

	(void)state;
	for (int r = 0; r < 2; r++) {
		struct fake *f = fake_start(answer, true);
		struct gen *g = new_gen(31);
		struct ab *a = new_ab();
		struct truth *t = malloc(sizeof(*t));
		struct gen_session *s = malloc(sizeof(*s));
		struct out_config cfg = {
		    .timeout_ms = 5000, .gen = g, .ab = a};
		struct out o;
		struct nudge_event ev;
		char spec[64];

		snprintf(spec, sizeof(spec), "lifted:%g", rates[r]);
		assert_int_equal(ab_add_lift(a, spec, err, sizeof(err)), 0);
		assert_int_equal(ab_finish(a, 31, err, sizeof(err)), 0);
		f->fail429 = r == 0 ? 1 : 0;
		fake_url(f, url, sizeof(url));
		cfg.url = url;
		truth_init(t, a);
		t->beacon = true;
		out_init(&o, &out_beacon, &cfg);
		assert_int_equal(o.ops->open(&o), 0);
		for (uint64_t i = 0; i < 300; i++) {
			struct ab_visitor av;
			struct truth_session ts = {.abv = &av};
			struct out_visit v = {s, &av, t, &ts, &ev};

			event_init(&ev);
			ab_visitor(a, i, strv_of("x"), &av);
			gen_session_as(g, i, START_MS, av.buy, s);
			if (o.ops->visit(&o, &v) != 0)
				fail_msg("visit %llu: %s",
				    (unsigned long long)i, o.err);
		}
		assert_int_equal(o.ops->close(&o), 0);
		fake_stop(f);
		assert_int_equal(f->bad, 0);
		assert_int_equal(f->consent_missing, 0);
		assert_int_equal(f->events, t->events);
		assert_int_equal(f->purchases, t->purchases);
		assert_int_equal(f->requests, t->beacons + t->retries);
		assert_int_equal(t->retries, r == 0 ? 1 : 0);
		assert_int_equal(f->connections, 1);
		/* The answer always lifts: everyone buys, or nobody. */
		assert_int_equal(t->lift[0].shown.visitors, 300);
		assert_int_equal(t->lift[0].shown.purchases, r == 0 ? 300 : 0);
		assert_int_equal(t->purchases, r == 0 ? 300 : 0);
		assert_int_equal(t->n_decisions, 2);
		assert_string_equal(t->decision[0].id, "lifted");
		assert_int_equal(t->decision[0].answers, t->beacons);
		assert_int_equal(t->decision[1].visitors, 300);
		assert_true(t->decision[0].first_ms <= t->decision[0].last_ms);
		/* Pages go one per request, the purchase after the answer. */
		assert_true(t->beacons > 600);
		assert_true(f->not_pageview_first <= (r == 0 ? 300u : 0u));
		assert_non_null(strstr(f->last_ua, "Mozilla/5.0"));
		free(s);
		free(t);
		free(a);
		free(g);
		fake_free(f);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rng_streams),
	    cmocka_unit_test(test_visitor_ids),
	    cmocka_unit_test(test_same_seed_same_session),
	    cmocka_unit_test(test_proportions),
	    cmocka_unit_test(test_truth_funnel),
	    cmocka_unit_test(test_ua_and_ip),
	    cmocka_unit_test(test_emit_batch),
	    cmocka_unit_test(test_fastpack_identical),
	    cmocka_unit_test(test_jsonl_roundtrip),
	    cmocka_unit_test(test_ab_specs),
	    cmocka_unit_test(test_ab_matches_campaign),
	    cmocka_unit_test(test_ab_rates),
	    cmocka_unit_test(test_ab_equal_and_default),
	    cmocka_unit_test(test_gen_add_purchase),
	    cmocka_unit_test(test_hclient_urls),
	    cmocka_unit_test(test_hclient_keepalive),
	    cmocka_unit_test(test_beacon_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
