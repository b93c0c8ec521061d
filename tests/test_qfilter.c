/*
 * test_qfilter.c - the session filter language: structured words, free
 * text kept as before, bad words reported with their offset, matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "qfilter.h"

static struct session_summary
summary(const char *vid, const char *cc, int src, int dev, int32_t score,
    const char *page)
{
	struct session_summary s;

	memset(&s, 0, sizeof(s));
	snprintf(s.visitor, sizeof(s.visitor), "%s", vid);
	snprintf(s.country, sizeof(s.country), "%s", cc);
	snprintf(s.last_page, sizeof(s.last_page), "%s", page);
	snprintf(s.utm_campaign, sizeof(s.utm_campaign), "%s", "spring");
	s.source = (uint8_t)src;
	s.device = (uint8_t)dev;
	s.score = score;
	return s;
}

static void
test_empty(void **state)
{
	struct qfilter f;
	struct nudge_diag d = {0};
	struct session_summary s =
	    summary("v1", "FR", SOURCE_EMAIL, DEVICE_MOBILE, 3, "/");

	(void)state;
	assert_int_equal(qfilter_parse(&f, "", &d), 0);
	assert_true(qfilter_is_empty(&f));
	assert_true(qfilter_match_summary(&f, &s));
	assert_int_equal(qfilter_parse(&f, NULL, &d), 0);
	assert_true(qfilter_is_empty(&f));
}

static void
test_structured(void **state)
{
	struct qfilter f;
	struct nudge_diag d = {0};

	(void)state;
	assert_int_equal(qfilter_parse(&f,
	                     "country:fr  source:email dev:mobile "
	                     "page:/product score>10 score<=50 shoes",
	                     &d),
	    0);
	assert_string_equal(f.country, "FR");
	assert_int_equal(f.source, SOURCE_EMAIL);
	assert_int_equal(f.device, DEVICE_MOBILE);
	assert_string_equal(f.page, "/product");
	assert_true(f.has_min);
	assert_int_equal(f.score_min, 11);
	assert_true(f.has_max);
	assert_int_equal(f.score_max, 50);
	assert_string_equal(f.text, "shoes");
	assert_int_equal(qfilter_parse(&f, "score>=5 score<0", &d), 0);
	assert_int_equal(f.score_min, 5);
	assert_int_equal(f.score_max, -1);
	assert_int_equal(qfilter_parse(&f, "cc:DE src:search", &d), 0);
	assert_string_equal(f.country, "DE");
	assert_int_equal(f.source, SOURCE_SEARCH);
}

static void
test_free_text_as_before(void **state)
{
	struct qfilter f;
	struct nudge_diag d = {0};
	struct session_summary s =
	    summary("v1", "FR", SOURCE_EMAIL, DEVICE_MOBILE, 3, "/a b/c");

	(void)state;
	/* no structured word: the whole q, blanks included */
	assert_int_equal(qfilter_parse(&f, "a b", &d), 0);
	assert_string_equal(f.text, "a b");
	assert_true(qfilter_match_summary(&f, &s));
	/* a word with a colon that is not a key stays text */
	assert_int_equal(qfilter_parse(&f, "http://x", &d), 0);
	assert_string_equal(f.text, "http://x");
	assert_int_equal(qfilter_parse(&f, "email", &d), 0);
	assert_true(qfilter_match_summary(&f, &s)); /* the source name */
	assert_int_equal(qfilter_parse(&f, "spring", &d), 0);
	assert_true(qfilter_match_summary(&f, &s)); /* the campaign */
	assert_int_equal(qfilter_parse(&f, "nothing", &d), 0);
	assert_false(qfilter_match_summary(&f, &s));
}

static void
test_bad_words(void **state)
{
	struct qfilter f;
	struct nudge_diag d = {0};
	char long_q[300];

	(void)state;
	f.source = 42; /* untouched on error */
	assert_int_equal(qfilter_parse(&f, "ok score>abc", &d), NUDGE_EINVAL);
	assert_int_equal(d.col, 3);
	assert_non_null(strstr(d.msg, "score>abc"));
	assert_int_equal(f.source, 42);
	assert_int_equal(
	    qfilter_parse(&f, "source:carrier-pigeon", &d), NUDGE_EINVAL);
	assert_int_equal(qfilter_parse(&f, "country:FRA", &d), NUDGE_EINVAL);
	assert_int_equal(qfilter_parse(&f, "country:1x", &d), NUDGE_EINVAL);
	assert_int_equal(qfilter_parse(&f, "page:", &d), NUDGE_EINVAL);
	assert_int_equal(
	    qfilter_parse(&f, "score>2147483647", &d), NUDGE_EINVAL);
	assert_int_equal(
	    qfilter_parse(&f, "score<99999999999", &d), NUDGE_EINVAL);
	memset(long_q, 'x', sizeof(long_q) - 1);
	long_q[sizeof(long_q) - 1] = '\0';
	assert_int_equal(qfilter_parse(&f, long_q, &d), NUDGE_ETOOBIG);
}

static void
test_match(void **state)
{
	struct qfilter f;
	struct nudge_diag d = {0};
	struct session_summary a =
	    summary("v1", "FR", SOURCE_EMAIL, DEVICE_MOBILE, 30, "/product/7");
	struct session_summary b =
	    summary("v2", "DE", SOURCE_SEARCH, DEVICE_DESKTOP, 5, "/cart");

	(void)state;
	assert_int_equal(qfilter_parse(&f, "country:FR", &d), 0);
	assert_true(qfilter_match_summary(&f, &a));
	assert_false(qfilter_match_summary(&f, &b));
	assert_int_equal(qfilter_parse(&f, "score>10", &d), 0);
	assert_true(qfilter_match_summary(&f, &a));
	assert_false(qfilter_match_summary(&f, &b));
	assert_int_equal(qfilter_parse(&f, "score<10 page:/ca", &d), 0);
	assert_false(qfilter_match_summary(&f, &a));
	assert_true(qfilter_match_summary(&f, &b));
	assert_int_equal(qfilter_parse(&f, "device:desktop v2", &d), 0);
	assert_true(qfilter_match_summary(&f, &b));
	assert_int_equal(qfilter_parse(&f, "device:desktop v1", &d), 0);
	assert_false(qfilter_match_summary(&f, &b));
	assert_int_equal(qfilter_parse(&f, "source:email score>=30", &d), 0);
	assert_true(qfilter_match_summary(&f, &a));
	assert_int_equal(qfilter_parse(&f, "source:email score>30", &d), 0);
	assert_false(qfilter_match_summary(&f, &a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_structured),
	    cmocka_unit_test(test_free_text_as_before),
	    cmocka_unit_test(test_bad_words),
	    cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
