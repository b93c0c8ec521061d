/*
 * test_agg.c - unit tests of common/agg.c and common/hll.c: slot names,
 * add / diff / apply_delta arithmetic, HyperLogLog accuracy and merging.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agg.h"
#include "hll.h"

static void
test_counter_names(void **state)
{
	(void)state;
	for (int i = 0; i < AGG_COUNTERS; i++) {
		const char *n = agg_counter_name(i);

		assert_non_null(n);
		assert_int_equal(agg_counter_index(n, strlen(n)), i);
		for (int j = 0; j < i; j++)
			assert_string_not_equal(n, agg_counter_name(j));
	}
	assert_null(agg_counter_name(-1));
	assert_null(agg_counter_name(AGG_COUNTERS));
}

static void
test_counter_known_names(void **state)
{
	static const struct {
		const char *name;
		int slot;
	} cases[] = {
		{"events", AGG_EVENTS}, {"rejected", AGG_REJECTED},
		{"bots", AGG_BOTS}, {"sessions_started", AGG_SESSIONS_STARTED},
		{"sessions_closed", AGG_SESSIONS_CLOSED},
		{"purchases", AGG_PURCHASES},
		{"revenue_cents", AGG_REVENUE_CENTS}, {"refunds", AGG_REFUNDS},
		{"refunded_cents", AGG_REFUNDED_CENTS},
		{"type.pageview", AGG_TYPE(EVENT_PAGEVIEW)},
		{"type.purchase", AGG_TYPE(EVENT_PURCHASE)},
		{"type.custom", AGG_TYPE(EVENT_CUSTOM)},
		{"funnel.0", AGG_FUNNEL(0)}, {"funnel.2", AGG_FUNNEL(2)},
		{"funnel.15", AGG_FUNNEL(15)},
		{"funnel.2.source.coupon",
		    AGG_FUNNEL_SOURCE(2, SOURCE_COUPON)},
		{"funnel.15.source.referral",
		    AGG_FUNNEL_SOURCE(15, SOURCE_REFERRAL)},
		{"funnel.2.device.mobile",
		    AGG_FUNNEL_DEVICE(2, DEVICE_MOBILE)},
		{"funnel.15.device.bot", AGG_FUNNEL_DEVICE(15, DEVICE_BOT)},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(agg_counter_name(cases[i].slot),
		    cases[i].name);
		assert_int_equal(agg_counter_index(cases[i].name,
		    strlen(cases[i].name)), cases[i].slot);
	}
	/* Only len bytes count: a longer buffer is not read past len. */
	assert_int_equal(agg_counter_index("eventsXYZ", 6), AGG_EVENTS);
	assert_int_equal(agg_counter_index("events", 5), -1);
	assert_int_equal(agg_counter_index("funnel.16", 9), -1);
	assert_int_equal(agg_counter_index("type.wishlist", 13), -1);
	assert_int_equal(agg_counter_index("", 0), -1);
	assert_int_equal(agg_counter_index("zzz", 3), -1);
}

static void
test_gauge_names(void **state)
{
	static const char *const names[AGG_GAUGES] = {
		"sessions_live", "visitors_active", "carts_open",
	};

	(void)state;
	for (int i = 0; i < AGG_GAUGES; i++) {
		assert_string_equal(agg_gauge_name(i), names[i]);
		assert_int_equal(agg_gauge_index(names[i], strlen(names[i])),
		    i);
	}
	assert_null(agg_gauge_name(AGG_GAUGES));
	assert_null(agg_gauge_name(-1));
	assert_int_equal(agg_gauge_index("carts", 5), -1);
	assert_int_equal(agg_gauge_index("events", 6), -1);
}

static void
fill(struct agg *a, uint64_t base)
{
	agg_init(a);
	for (int i = 0; i < AGG_COUNTERS; i++)
		a->c[i] = base + (uint64_t)i;
	for (int i = 0; i < AGG_GAUGES; i++)
		a->g[i] = base * 10 + (uint64_t)i;
}

static void
test_add(void **state)
{
	static struct agg a, b;

	(void)state;
	fill(&a, 100);
	fill(&b, 1000);
	hll_add(&a.visitors, "alice", 5);
	hll_add(&b.visitors, "bob", 3);
	agg_add(&a, &b);
	for (int i = 0; i < AGG_COUNTERS; i++)
		assert_int_equal(a.c[i], 1100 + 2 * (uint64_t)i);
	for (int i = 0; i < AGG_GAUGES; i++)
		assert_int_equal(a.g[i], 11000 + 2 * (uint64_t)i);
	assert_int_equal(hll_count(&a.visitors), 2);
}

static void
test_diff_apply(void **state)
{
	static struct agg before, now, d, replay;

	(void)state;
	fill(&before, 100);
	fill(&now, 150);
	now.c[AGG_BOTS] = 3;		/* went backwards: saturates */
	now.g[AGG_CARTS_OPEN] = 0;	/* gauges can drop */
	hll_add(&now.visitors, "x", 1);
	agg_diff(&d, &now, &before);
	for (int i = 0; i < AGG_COUNTERS; i++)
		assert_int_equal(d.c[i], i == AGG_BOTS ? 0 : 50);
	for (int i = 0; i < AGG_GAUGES; i++)
		assert_int_equal(d.g[i], now.g[i]);
	assert_int_equal(hll_count(&d.visitors), 0);

	replay = before;
	agg_apply_delta(&replay, &d);
	for (int i = 0; i < AGG_COUNTERS; i++)
		assert_int_equal(replay.c[i], i == AGG_BOTS ?
		    before.c[i] : now.c[i]);
	for (int i = 0; i < AGG_GAUGES; i++)
		assert_int_equal(replay.g[i], now.g[i]);

	/* out may alias now. */
	agg_diff(&now, &now, &before);
	assert_memory_equal(now.c, d.c, sizeof(d.c));
}

static void
add_keys(struct hll *h, uint64_t from, uint64_t to)
{
	char key[32];

	for (uint64_t i = from; i < to; i++) {
		int n = snprintf(key, sizeof(key), "visitor-%llu",
		    (unsigned long long)i);
		hll_add(h, key, (size_t)n);
	}
}

static void
assert_near(uint64_t got, uint64_t want, double tol)
{
	double err = ((double)got - (double)want) / (double)want;

	if (err > tol || err < -tol)
		fail_msg("estimate %llu for %llu: error %.2f%%",
		    (unsigned long long)got, (unsigned long long)want,
		    err * 100);
}

static void
test_hll_small(void **state)
{
	static struct hll h;

	(void)state;
	hll_init(&h);
	assert_int_equal(hll_count(&h), 0);
	add_keys(&h, 0, 100);
	add_keys(&h, 0, 100);	/* duplicates do not count */
	assert_near(hll_count(&h), 100, 0.02);
}

static void
test_hll_10k(void **state)
{
	static struct hll h;

	(void)state;
	hll_init(&h);
	add_keys(&h, 0, 10000);
	assert_near(hll_count(&h), 10000, 0.05);
}

static void
test_hll_1m(void **state)
{
	static struct hll h;

	(void)state;
	hll_init(&h);
	add_keys(&h, 0, 1000000);
	assert_near(hll_count(&h), 1000000, 0.05);
}

static void
test_hll_merge(void **state)
{
	static struct hll a, b, both, again;

	(void)state;
	hll_init(&a);
	hll_init(&b);
	hll_init(&both);
	add_keys(&a, 0, 60000);
	add_keys(&b, 40000, 100000);	/* overlaps a by 20000 */
	add_keys(&both, 0, 100000);
	hll_merge(&a, &b);
	assert_near(hll_count(&a), 100000, 0.05);
	/* Merging by maximum gives exactly the sketch of the union. */
	assert_memory_equal(a.reg, both.reg, HLL_REGISTERS);
	again = a;
	hll_merge(&again, &b);
	assert_memory_equal(again.reg, a.reg, HLL_REGISTERS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_names),
		cmocka_unit_test(test_counter_known_names),
		cmocka_unit_test(test_gauge_names),
		cmocka_unit_test(test_add),
		cmocka_unit_test(test_diff_apply),
		cmocka_unit_test(test_hll_small),
		cmocka_unit_test(test_hll_10k),
		cmocka_unit_test(test_hll_1m),
		cmocka_unit_test(test_hll_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
