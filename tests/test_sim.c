/*
 * test_sim.c - unit tests of nudge-sim's deterministic parts: the PRNG, the
 * session generator (same seed, same events; the shop's proportions over
 * 100k visitors), the truth counters against an independent reading of
 * the funnel, and the emit batches as the agent decodes them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emit_event.h"
#include "err.h"
#include "event.h"
#include "funnel.h"
#include "sim/fastpack.h"
#include "sim/gen.h"
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
	truth_init(t);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
