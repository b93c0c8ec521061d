/*
 * test_funnel.c - funnel parsing (positions of every mistake), step
 * matching, in-order advance, and the glob's linear behaviour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "funnel.h"

static struct nudge_event
pageview(const char *page)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = EVENT_PAGEVIEW;
	ev.page = strv_of(page);
	return ev;
}

static struct nudge_event
typed(int type, const char *name)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = (uint8_t)type;
	if (name != NULL)
		ev.name = strv_of(name);
	return ev;
}

static void
test_default(void **state)
{
	struct funnel f;
	static const char *const labels[] = {
	    "visit", "product", "cart", "checkout", "purchase"};

	(void)state;
	funnel_default(&f);
	assert_string_equal(f.name, "shop");
	assert_int_equal(f.n, 5);
	for (int i = 0; i < 5; i++)
		assert_string_equal(f.step[i].label, labels[i]);
	assert_int_equal(f.step[0].op, FUNNEL_VISIT);
	assert_int_equal(f.step[1].op, FUNNEL_PAGE_MATCH);
	assert_string_equal(f.step[1].arg, "/product/");
	assert_false(f.step[1].glob);
	assert_int_equal(f.step[2].op, FUNNEL_EVENT_EQ);
	assert_int_equal(f.step[2].event_type, EVENT_ADD_TO_CART);
	assert_int_equal(f.step[3].op, FUNNEL_PAGE_EQ);
	assert_string_equal(f.step[3].arg, "/checkout");
	assert_int_equal(f.step[4].event_type, EVENT_PURCHASE);
}

static void
test_custom_and_labels(void **state)
{
	struct funnel f;
	struct nudge_diag d = {0};
	const char *text = "# a comment line\n"
	                   "visit -> event == \"add_to_cart\"\n"
	                   "  -> page ~ \"/product/\"   # trailing comment\n"
	                   "  -> page == \"/checkout\" -> page ~ \"/p/*/x?\"\n"
	                   "  -> signup: event == \"newsletter_signup\""
	                   "->page==\"/\"";

	(void)state;
	assert_int_equal(funnel_parse(&f, "custom", text, &d), NUDGE_OK);
	assert_string_equal(f.name, "custom");
	assert_int_equal(f.n, 7);
	assert_string_equal(f.step[0].label, "visit");
	assert_string_equal(f.step[1].label, "add_to_cart");
	assert_string_equal(f.step[2].label, "product");
	assert_string_equal(f.step[3].label, "checkout");
	assert_string_equal(f.step[4].label, "px");
	assert_true(f.step[4].glob);
	assert_string_equal(f.step[5].label, "signup");
	assert_int_equal(f.step[5].event_type, EVENT_CUSTOM);
	assert_string_equal(f.step[5].arg, "newsletter_signup");
	assert_string_equal(f.step[6].label, "page");
	/* escapes */
	assert_int_equal(
	    funnel_parse(&f, NULL, "page ~ \"a\\\"b\\\\\"", &d), NUDGE_OK);
	assert_string_equal(f.step[0].arg, "a\"b\\");
	assert_string_equal(f.name, "funnel");
}

struct bad_case {
	const char *text;
	int err;
	int line;
	int col;
	const char *msg;
};

static const struct bad_case bad_cases[] = {
    {"", NUDGE_ESYNTAX, 1, 1, "empty funnel: expected a step"},
    {"  \n  ", NUDGE_ESYNTAX, 2, 3, "empty funnel: expected a step"},
    {"visit ->", NUDGE_ESYNTAX, 1, 9, "empty step"},
    {"visit -> -> visit", NUDGE_ESYNTAX, 1, 10, "empty step"},
    {"-> visit", NUDGE_ESYNTAX, 1, 1, "empty step"},
    {"visti", NUDGE_ESYNTAX, 1, 1,
        "unknown predicate 'visti' (expected visit, page or event)"},
    {"visit -> page == /x", NUDGE_ESYNTAX, 1, 18,
        "expected a quoted string, found '/'"},
    {"visit -> page ~", NUDGE_ESYNTAX, 1, 16,
        "expected a quoted string, found end of funnel"},
    {"page ~ \"/prod", NUDGE_ESYNTAX, 1, 8, "unterminated string"},
    {"page ~ \"/prod\n\" -> visit", NUDGE_ESYNTAX, 1, 8,
        "unterminated string"},
    {"event == \"Add To Cart\"", NUDGE_ESYNTAX, 1, 10,
        "unknown event name \"Add To Cart\" (custom names are 1 to 32 of "
        "a-z, 0-9, _)"},
    {"event == \"\"", NUDGE_ESYNTAX, 1, 10,
        "unknown event name \"\" (custom names are 1 to 32 of a-z, 0-9, "
        "_)"},
    {"visit page", NUDGE_ESYNTAX, 1, 7,
        "expected '->' or end of funnel, found 'p'"},
    {"visit\n  -> page = \"/x\"", NUDGE_ESYNTAX, 2, 11,
        "expected '==' or '~' after 'page', found '='"},
    {"event ~ \"x\"", NUDGE_ESYNTAX, 1, 7,
        "expected '==' after 'event', found '~'"},
    {"x: ", NUDGE_ESYNTAX, 1, 4,
        "expected a predicate after label 'x', found end of funnel"},
    {"visit -> : visit", NUDGE_ESYNTAX, 1, 10,
        "expected a step (visit, page or event), found ':'"},
    {"page == \"\"", NUDGE_ESYNTAX, 1, 9, "empty page pattern"},
    {"page == \"a\\nb\"", NUDGE_ESYNTAX, 1, 11,
        "unknown escape in string (only \\\" and \\\\)"},
    {"page == \"a\tb\"", NUDGE_ESYNTAX, 1, 11, "control character in string"},
    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: visit", NUDGE_ETOOBIG,
        1, 1, "label longer than 47 characters"},
    {"visit -> visit -> visit -> visit -> visit -> visit -> visit -> "
     "visit -> visit -> visit -> visit -> visit -> visit -> visit -> "
     "visit -> visit -> visit",
        NUDGE_ETOOBIG, 1, 145, "more than 16 steps"},
    {"visit\n\n  -> page ~ \"/x\" \x01", NUDGE_ESYNTAX, 3, 18,
        "expected '->' or end of funnel, found byte 0x01"},
};

static void
test_errors(void **state)
{
	struct funnel f, before;
	struct nudge_diag d;

	(void)state;
	funnel_default(&f);
	before = f;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		memset(&d, 0, sizeof(d));
		int rc = funnel_parse(&f, "x", c->text, &d);
		print_message("case %zu: %d:%d %s\n", i, d.line, d.col, d.msg);
		assert_int_equal(rc, c->err);
		assert_int_equal(d.line, c->line);
		assert_int_equal(d.col, c->col);
		assert_string_equal(d.msg, c->msg);
		/* out is written only on success */
		assert_memory_equal(&f, &before, sizeof(f));
	}
}

static void
test_too_long(void **state)
{
	char text[300], big[200];
	struct funnel f;
	struct nudge_diag d = {0};

	(void)state;
	memset(big, 'a', 128);
	big[128] = '\0';
	snprintf(text, sizeof(text), "visit -> page ~ \"%s\"", big);
	assert_int_equal(funnel_parse(&f, "x", text, &d), NUDGE_ETOOBIG);
	assert_int_equal(d.col, 17);
	assert_string_equal(d.msg, "string longer than 127 bytes");
	big[127] = '\0';
	snprintf(text, sizeof(text), "visit -> page ~ \"%s\"", big);
	assert_int_equal(funnel_parse(&f, "x", text, &d), NUDGE_OK);
	assert_int_equal(strlen(f.step[1].arg), 127);
	assert_int_equal(strlen(f.step[1].label), FUNNEL_LABEL_MAX);
	/* 16 steps is fine */
	assert_int_equal(
	    funnel_parse(&f, "x",
	        "visit->visit->visit->visit->visit->visit->visit->visit->"
	        "visit->visit->visit->visit->visit->visit->visit->visit",
	        &d),
	    NUDGE_OK);
	assert_int_equal(f.n, 16);
	assert_int_equal(funnel_parse(&f,
	                     "0123456789012345678901234567890"
	                     "12",
	                     "visit", &d),
	    NUDGE_ETOOBIG);
}

static void
test_matches(void **state)
{
	struct funnel f;
	struct nudge_diag d;
	struct nudge_event ev;
	/* a page view that is not NUL-terminated where its length ends */
	static const char raw[] = "/checkoutXYZ";

	(void)state;
	funnel_default(&f);
	ev = typed(EVENT_CLICK, NULL);
	assert_true(funnel_step_matches(&f.step[0], &ev));
	assert_false(funnel_step_matches(&f.step[1], &ev));
	ev = pageview("/product/42");
	assert_true(funnel_step_matches(&f.step[1], &ev));
	ev = pageview("/products");
	assert_false(funnel_step_matches(&f.step[1], &ev));
	ev = pageview("");
	ev.page = (struct nudge_strv){raw, 9};
	assert_true(funnel_step_matches(&f.step[3], &ev));
	ev.page = (struct nudge_strv){raw, 10};
	assert_false(funnel_step_matches(&f.step[3], &ev));
	ev = pageview("/checkout?step=2");
	assert_true(funnel_step_matches(&f.step[3], &ev));
	/* a click on /checkout is not a page view */
	ev = typed(EVENT_CLICK, NULL);
	ev.page = strv_of("/checkout");
	assert_false(funnel_step_matches(&f.step[3], &ev));
	ev = typed(EVENT_ADD_TO_CART, NULL);
	assert_true(funnel_step_matches(&f.step[2], &ev));
	assert_false(funnel_step_matches(&f.step[4], &ev));

	assert_int_equal(
	    funnel_parse(&f, "n",
	        "event == \"newsletter_signup\" -> page ~ \"/p/*.html\"", &d),
	    0);
	ev = typed(EVENT_CUSTOM, "newsletter_signup");
	assert_true(funnel_step_matches(&f.step[0], &ev));
	ev = typed(EVENT_CUSTOM, "newsletter");
	assert_false(funnel_step_matches(&f.step[0], &ev));
	ev = typed(EVENT_CLICK, NULL);
	assert_false(funnel_step_matches(&f.step[0], &ev));
	ev = pageview("/p/shoes/boot.html");
	assert_true(funnel_step_matches(&f.step[1], &ev));
	ev = pageview("/p/shoes/boot.htm");
	assert_false(funnel_step_matches(&f.step[1], &ev));
}

static void
test_advance_in_order(void **state)
{
	struct funnel f;
	struct nudge_event ev;
	uint8_t r = 0;

	(void)state;
	funnel_default(&f);
	ev = pageview("/");
	assert_int_equal(r = funnel_advance(&f, r, &ev), 1);
	/* cart before product: out of order, no advance */
	ev = typed(EVENT_ADD_TO_CART, NULL);
	assert_int_equal(r = funnel_advance(&f, r, &ev), 1);
	ev = typed(EVENT_PURCHASE, NULL);
	assert_int_equal(r = funnel_advance(&f, r, &ev), 1);
	ev = pageview("/product/7");
	assert_int_equal(r = funnel_advance(&f, r, &ev), 2);
	ev = pageview("/checkout");
	assert_int_equal(r = funnel_advance(&f, r, &ev), 2);
	ev = typed(EVENT_ADD_TO_CART, NULL);
	assert_int_equal(r = funnel_advance(&f, r, &ev), 3);
	ev = pageview("/checkout");
	assert_int_equal(r = funnel_advance(&f, r, &ev), 4);
	ev = typed(EVENT_PURCHASE, NULL);
	assert_int_equal(r = funnel_advance(&f, r, &ev), 5);
	assert_int_equal(r = funnel_advance(&f, r, &ev), 5);

	/* one event passes consecutive steps */
	ev = pageview("/product/7");
	assert_int_equal(funnel_advance(&f, 0, &ev), 2);
}

struct glob_case {
	const char *pat;
	const char *s;
	bool want;
};

static const struct glob_case glob_cases[] = {
    {"", "", true},
    {"", "a", false},
    {"*", "", true},
    {"**", "abc", true},
    {"?", "", false},
    {"a?c", "abc", true},
    {"a?c", "ac", false},
    {"/product/*", "/product/42", true},
    {"/product/*", "/product/", true},
    {"/product/*", "/products", false},
    {"*.html", "/x/y.html", true},
    {"*.html", "/x/y.html?q", false},
    {"a*b*c", "aXbYc", true},
    {"a*b*c", "aXbY", false},
    {"*a*b", "xaxbxab", true},
    {"a*", "b", false},
    {"*x*", "abc", false},
    {"/p/*/r?v*", "/p/1/rev/x", true},
};

static void
test_glob(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(glob_cases) / sizeof(glob_cases[0]);
	     i++) {
		const struct glob_case *c = &glob_cases[i];
		print_message("glob %s %s\n", c->pat, c->s);
		assert_int_equal(
		    funnel_glob(c->pat, c->s, strlen(c->s)), c->want);
	}
	/* the subject is counted, not NUL-terminated */
	assert_true(funnel_glob("abc", "abcXYZ", 3));
	assert_true(funnel_glob("abc*", "abcXYZ", 3));
	assert_false(funnel_glob("abc?", "abcXYZ", 3));
}

static void
test_glob_pathological(void **state)
{
	static char s[5000], big[200000];
	char pat[256];
	struct timespec t0, t1;
	double ms;

	(void)state;
	memset(s, 'a', sizeof(s));
	memset(big, 'a', sizeof(big));
	for (int i = 0; i < 100; i++)
		memcpy(pat + 2 * i, "a*", 2);
	memcpy(pat + 200, "b", 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(funnel_glob("a*a*a*a*a*b", s, sizeof(s)));
	assert_true(funnel_glob("a*a*a*a*a*", s, sizeof(s)));
	assert_false(funnel_glob(pat, big, sizeof(big)));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	print_message("pathological globs: %.2f ms\n", ms);
	assert_true(ms < 500.0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default),
	    cmocka_unit_test(test_custom_and_labels),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_too_long),
	    cmocka_unit_test(test_matches),
	    cmocka_unit_test(test_advance_in_order),
	    cmocka_unit_test(test_glob),
	    cmocka_unit_test(test_glob_pathological),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
