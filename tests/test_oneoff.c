/*
 * test_oneoff.c - unit tests of agent/oneoff.c: one pending message per
 * visitor, delivered once, replaced by a newer one, expired, bounded, each
 * under an id of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oneoff.h"

static struct nudge_strv
sv(const char *s)
{
	return (struct nudge_strv){s, strlen(s)};
}

static struct rrt_decision
banner(const char *text)
{
	struct rrt_decision d = {.kind = RULE_ACT_BANNER};

	snprintf(d.id, sizeof(d.id), "operator");
	snprintf(d.text, sizeof(d.text), "%s", text);
	return d;
}

static void
test_once(void **state)
{
	struct oneoff *q;
	struct rrt_decision d = banner("hello"), got;
	bool replaced = true;

	(void)state;
	assert_int_equal(oneoff_new(&q), 0);
	assert_false(oneoff_take(q, sv("v1"), 0, &got));
	assert_int_equal(oneoff_put(q, sv("v1"), &d, 1000, &replaced), 0);
	assert_false(replaced);
	assert_int_equal(oneoff_pending(q, 1000), 1);
	assert_false(oneoff_take(q, sv("v2"), 1000, &got));
	assert_false(oneoff_take(q, sv("v"), 1000, &got));
	assert_true(oneoff_take(q, sv("v1"), 1001, &got));
	assert_string_equal(got.text, "hello");
	assert_int_equal(got.kind, RULE_ACT_BANNER);
	assert_false(oneoff_take(q, sv("v1"), 1002, &got));
	assert_int_equal(oneoff_pending(q, 1002), 0);
	oneoff_free(q);
}

static void
test_replace_and_expire(void **state)
{
	struct oneoff *q;
	struct rrt_decision a = banner("first"), b = banner("second"), got;
	bool replaced;

	(void)state;
	assert_int_equal(oneoff_new(&q), 0);
	assert_int_equal(oneoff_put(q, sv("v1"), &a, 0, &replaced), 0);
	assert_int_equal(oneoff_put(q, sv("v1"), &b, 10, &replaced), 0);
	assert_true(replaced);
	assert_int_equal(oneoff_pending(q, 10), 1);
	assert_true(oneoff_take(q, sv("v1"), 20, &got));
	assert_string_equal(got.text, "second");
	assert_int_equal(oneoff_put(q, sv("v2"), &a, 0, &replaced), 0);
	assert_false(oneoff_take(q, sv("v2"), ONEOFF_TTL_MS, &got));
	assert_int_equal(oneoff_pending(q, ONEOFF_TTL_MS), 0);
	oneoff_free(q);
}

static void
test_bounds(void **state)
{
	struct oneoff *q;
	struct rrt_decision d = banner("x"), got;
	char id[32], long_id[EVENT_VISITOR_MAX + 2];
	bool replaced;

	(void)state;
	assert_int_equal(oneoff_new(&q), 0);
	assert_int_equal(oneoff_put(q, sv(""), &d, 0, &replaced),
	    NUDGE_EINVAL);
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(oneoff_put(q, sv(long_id), &d, 0, &replaced),
	    NUDGE_EINVAL);
	for (int i = 0; i < ONEOFF_MAX; i++) {
		snprintf(id, sizeof(id), "visitor%d", i);
		assert_int_equal(oneoff_put(q, sv(id), &d, 0, &replaced), 0);
	}
	assert_int_equal(oneoff_put(q, sv("one-more"), &d, 1, &replaced),
	    NUDGE_EFULL);
	/* a replacement still fits, and expired ones make room */
	assert_int_equal(oneoff_put(q, sv("visitor7"), &d, 1, &replaced), 0);
	assert_true(replaced);
	assert_int_equal(oneoff_put(q, sv("one-more"), &d, ONEOFF_TTL_MS,
	    &replaced), 0);
	assert_true(oneoff_take(q, sv("one-more"), ONEOFF_TTL_MS + 1, &got));
	assert_true(oneoff_take(q, sv("visitor7"), ONEOFF_TTL_MS, &got));
	assert_false(oneoff_take(q, sv("visitor8"), ONEOFF_TTL_MS, &got));
	oneoff_free(q);
}

/* Every message its own id, "op-" and a number, whatever d->id said. */
static void
test_unique_ids(void **state)
{
	struct oneoff *q;
	struct rrt_decision d = banner("one"), got;
	char first[sizeof(got.id)];
	unsigned long a, b;
	char *end;
	bool replaced;

	(void)state;
	assert_int_equal(oneoff_new(&q), 0);
	assert_int_equal(oneoff_put(q, sv("v1"), &d, 0, &replaced), 0);
	assert_true(oneoff_take(q, sv("v1"), 1, &got));
	assert_memory_equal(got.id, "op-", 3);
	snprintf(first, sizeof(first), "%s", got.id);
	/* the same visitor again, and a replaced one: each a new id */
	assert_int_equal(oneoff_put(q, sv("v1"), &d, 2, &replaced), 0);
	assert_int_equal(oneoff_put(q, sv("v1"), &d, 3, &replaced), 0);
	assert_true(replaced);
	assert_true(oneoff_take(q, sv("v1"), 4, &got));
	assert_string_not_equal(got.id, first);
	a = strtoul(first + 3, &end, 10);
	assert_int_equal(*end, '\0');
	b = strtoul(got.id + 3, &end, 10);
	assert_int_equal(*end, '\0');
	assert_int_equal((uint32_t)(b - a), 2);
	oneoff_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_replace_and_expire),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_unique_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
