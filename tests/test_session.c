/*
 * test_session.c - unit tests of common/session.c: sort names and the
 * comparison that orders a `sessions` listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "session.h"

static void
test_sort_names(void **state)
{
	static const char *const names[] = {"recent", "score", "value",
	    "pages"};

	(void)state;
	for (int i = 0; i < SESSION_SORT_COUNT; i++) {
		assert_string_equal(session_sort_name(i), names[i]);
		assert_int_equal(session_sort_from_name(names[i]), i);
	}
	assert_null(session_sort_name(SESSION_SORT_COUNT));
	assert_int_equal(session_sort_from_name("Recent"), -1);
	assert_int_equal(session_sort_from_name(""), -1);
	assert_int_equal(session_sort_from_name(NULL), -1);
}

static void
mk(struct session_summary *s, const char *vid, uint64_t last, int32_t score,
    int64_t cart, int64_t rev, uint32_t pages)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->visitor, sizeof(s->visitor), "%s", vid);
	s->last_ms = last;
	s->score = score;
	s->cart_cents = cart;
	s->revenue_cents = rev;
	s->pages = pages;
}

static int sort_key;

static int
qcmp(const void *a, const void *b)
{
	return session_compare(a, b, sort_key);
}

static void
test_orders(void **state)
{
	static const char *const want[SESSION_SORT_COUNT] = {
		"cbad", "dabc", "bdac", "adbc",
	};
	struct session_summary v[4];
	char got[5];

	(void)state;
	for (sort_key = 0; sort_key < SESSION_SORT_COUNT; sort_key++) {
		mk(&v[0], "a", 200, 5, 0, 1000, 9);
		mk(&v[1], "b", 300, -3, 5000, 0, 1);
		mk(&v[2], "c", 900, -3, 0, 0, 1);
		mk(&v[3], "d", 100, 50, 900, 900, 4);
		qsort(v, 4, sizeof(v[0]), qcmp);
		for (int i = 0; i < 4; i++)
			got[i] = v[i].visitor[0];
		got[4] = '\0';
		assert_string_equal(got, want[sort_key]);
	}
}

static void
test_ties_and_extremes(void **state)
{
	struct session_summary a, b;

	(void)state;
	mk(&a, "alice", 5, 1, 0, 0, 1);
	mk(&b, "bob", 5, 1, 0, 0, 1);
	for (int s = 0; s < SESSION_SORT_COUNT; s++) {
		assert_true(session_compare(&a, &b, s) < 0);
		assert_true(session_compare(&b, &a, s) > 0);
		assert_int_equal(session_compare(&a, &a, s), 0);
	}
	/* Values that would overflow a plain sum still order sanely. */
	mk(&a, "a", 0, 0, INT64_MAX, INT64_MAX, 0);
	mk(&b, "b", 0, 0, INT64_MIN, INT64_MIN, 0);
	assert_true(session_compare(&a, &b, SESSION_SORT_VALUE) < 0);
	assert_true(session_compare(&b, &a, SESSION_SORT_VALUE) > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sort_names),
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_ties_and_extremes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
