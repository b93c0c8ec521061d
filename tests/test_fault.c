/*
 * test_fault.c - fault injection (common/fault.h): the Nth allocation of
 * the rule compiler and the Nth SQLite write of the store fail, for every
 * N along the path; nothing crashes, nothing leaks (LeakSanitizer in the
 * sanitized tree, which is the one built with the hooks), and nothing is
 * half applied: what the store acknowledged is there, what it refused is
 * not.  In a tree built without NUDGE_FAULT_INJECTION the tests skip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agg.h"
#include "fault.h"
#include "rules.h"
#include "store.h"

static const char rules_text[] =
    "funnel shop: visit -> product: page ~ \"/product/\" -> cart: event == "
    "\"add_to_cart\" -> purchase: event == \"purchase\"\n"
    "rule abroad:\n"
    "  when country != \"FR\" and page ~ \"/product/*\"\n"
    "  show banner \"We deliver to {country}\"\n"
    "  at most 2 per 7 days\n"
    "rule coupon:\n"
    "  when source == \"coupon\" or utm.campaign in [\"a\", \"b\", \"c\"]\n"
    "  show coupon \"#coupon\"\n"
    "rule exit:\n"
    "  when event == \"exit\" and cart.items > 0 and not session.email\n"
    "  capture email \"Keep your cart of {cart.items} items?\"\n"
    "  holdout 10%\n"
    "rule loyal:\n"
    "  when event == \"add_to_cart\" and visitor.orders >= 2\n"
    "  show message \"{5 - visitor.orders} more orders and you win\"\n"
    "rule snow:\n"
    "  when context.weather[region] == \"snow\"\n"
    "  show banner \"Boots for the snow\"\n"
    "rule hover:\n"
    "  when event == \"hover\" and target == \"#price\"\n"
    "  shake \"#add-to-cart\"\n"
    "  score +5\n"
    "campaign test on funnel shop goal purchase:\n"
    "  split control 50, bold 50\n"
    "  bold: enable rule abroad\n"
    "  guardrail cart drop 10%\n";

static void
test_rule_compile_allocs(void **state)
{
	struct rule_errors errs;
	struct rule_set *ref, *set;
	unsigned long total;

	(void)state;
	if (!FAULT_INJECTION)
		skip();
	/* how many allocations a successful compile makes */
	fault_arm(FAULT_ALLOC, ~0ul, false);
	assert_int_equal(rule_compile(rules_text, sizeof(rules_text) - 1, &ref,
	    &errs), 0);
	total = fault_count(FAULT_ALLOC);
	assert_true(total > 10);
	for (unsigned long n = 1; n <= total; n++) {
		fault_arm(FAULT_ALLOC, n, false);
		set = NULL;
		int rv = rule_compile(rules_text, sizeof(rules_text) - 1, &set,
		    &errs);
		if (rv == 0) {
			/* a failure it could live with: the set is whole */
			assert_int_equal(rule_set_count(set),
			    rule_set_count(ref));
			rule_set_free(set);
		} else {
			assert_int_equal(rv, NUDGE_ENOMEM);
			assert_null(set);
		}
	}
	/* and every later allocation failing too */
	fault_arm(FAULT_ALLOC, total / 2, true);
	assert_int_equal(rule_compile(rules_text, sizeof(rules_text) - 1, &set,
	    &errs), NUDGE_ENOMEM);
	fault_arm(FAULT_ALLOC, 0, false);
	rule_set_free(ref);
}

/* Pushes three versions and counters; returns a bit per acknowledged put. */
static unsigned
store_work(struct store *st, uint64_t base)
{
	unsigned acked = 0;
	struct agg *a = calloc(1, sizeof(*a));

	for (unsigned i = 0; i < 3; i++) {
		struct store_rules r = {.kind = STORE_RULES_ACTIVE,
		    .version = base + i, .ts_ms = 1000 + i,
		    .text = (char *)rules_text, .len = sizeof(rules_text) - 1};
		snprintf(r.hash, sizeof(r.hash), "%016llx",
		    (unsigned long long)(base + i));
		snprintf(r.who, sizeof(r.who), "test");
		if (store_put_rules(st, &r) == 0)
			acked |= 1u << i;
	}
	a->c[AGG_EVENTS] = base;
	(void)store_save_counters(st, a);
	(void)store_audit(st, 1, "test", "work", "detail", 0);
	free(a);
	return acked;
}

static void
test_store_writes(void **state)
{
	char dir[] = "/tmp/nudge-fault.XXXXXX", path[64];
	struct nudge_diag d = {0};
	struct store *st;
	unsigned long total;

	(void)state;
	if (!FAULT_INJECTION)
		skip();
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f.db", dir);
	assert_int_equal(store_open(&st, path, &d), 0);
	fault_arm(FAULT_SQL, ~0ul, false);
	assert_int_equal(store_work(st, 1), 7u);
	total = fault_count(FAULT_SQL);
	assert_true(total >= 5);
	for (unsigned long n = 1; n <= total; n++) {
		uint64_t base = 10 * (n + 1);
		fault_arm(FAULT_SQL, n, false);
		unsigned acked = store_work(st, base);
		fault_arm(FAULT_SQL, 0, false);
		/* acknowledged versions are there, refused ones are not */
		for (unsigned i = 0; i < 3; i++) {
			struct store_rules got;
			int rv = store_get_rules(st, STORE_RULES_ACTIVE, base + i,
			    &got);
			if (acked & (1u << i)) {
				assert_int_equal(rv, 0);
				assert_int_equal(got.len, sizeof(rules_text) - 1);
				free(got.text);
			} else {
				assert_int_equal(rv, NUDGE_ENOTFOUND);
			}
		}
		/* and the store takes writes again */
		struct agg *a = calloc(1, sizeof(*a));
		a->c[AGG_EVENTS] = base;
		assert_int_equal(store_save_counters(st, a), 0);
		assert_int_equal(store_load_counters(st, a), 0);
		assert_int_equal(a->c[AGG_EVENTS], base);
		free(a);
	}
	store_close(st);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	assert_int_equal(system(path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_compile_allocs),
		cmocka_unit_test(test_store_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
