/*
 * test_event.c - unit tests of common/event.c: string views, names, User-
 * Agent and source classification, validation and money parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "event.h"

static void
test_strv(void **state)
{
	char buf[4];
	struct nudge_strv v = strv_of("hello");

	(void)state;
	assert_int_equal(v.len, 5);
	assert_true(strv_eq(v, "hello"));
	assert_false(strv_eq(v, "hell"));
	assert_false(strv_eq(v, "hellO"));
	assert_int_equal(strv_of(NULL).len, 0);
	assert_true(strv_eq(strv_of(NULL), ""));
	assert_true(strv_eq(STRV_LIT("ab"), "ab"));
	strv_copy(buf, sizeof(buf), v);
	assert_string_equal(buf, "hel");
	strv_copy(buf, sizeof(buf), STRV_LIT("x"));
	assert_string_equal(buf, "x");
	strv_copy(buf, sizeof(buf), strv_of(NULL));
	assert_string_equal(buf, "");
}

static void
test_type_names(void **state)
{
	static const char *const names[EVENT_TYPE_COUNT] = {
		"pageview", "click", "scroll", "hover", "visible",
		"exit_intent", "add_to_cart", "remove_from_cart", "checkout",
		"purchase", "refund", "login", "email", "custom",
	};

	(void)state;
	for (int i = 0; i < EVENT_TYPE_COUNT; i++) {
		assert_string_equal(event_type_name(i), names[i]);
		assert_int_equal(event_type_from_name(strv_of(names[i])), i);
	}
	assert_int_equal(event_type_from_name(STRV_LIT("wishlist")),
	    EVENT_CUSTOM);
	assert_int_equal(event_type_from_name(STRV_LIT("")), -1);
	assert_int_equal(event_type_from_name(STRV_LIT("a b")), -1);
	assert_int_equal(event_type_from_name(
	    STRV_LIT("a23456789012345678901234567890123")), -1);
	assert_int_equal(event_type_from_name(
	    STRV_LIT("a2345678901234567890123456789012")), EVENT_CUSTOM);
}

static void
test_device_source_names(void **state)
{
	static const char *const dev[] = {"unknown", "desktop", "mobile",
	    "tablet", "bot"};
	static const char *const src[] = {"direct", "search", "social",
	    "coupon", "email", "paid", "referral"};

	(void)state;
	for (int i = 0; i < DEVICE_COUNT; i++) {
		assert_string_equal(event_device_name(i), dev[i]);
		assert_int_equal(event_device_from_name(strv_of(dev[i])), i);
	}
	assert_int_equal(event_device_from_name(STRV_LIT("fridge")),
	    DEVICE_UNKNOWN);
	for (int i = 0; i < SOURCE_COUNT; i++)
		assert_string_equal(event_source_name(i), src[i]);
}

static void
test_device_from_ua(void **state)
{
	static const struct {
		const char *ua;
		int dev;
	} cases[] = {
		{"Mozilla/5.0 (compatible; Googlebot/2.1; "
		    "+http://www.google.com/bot.html)", DEVICE_BOT},
		{"Mozilla/5.0 (compatible; bingbot/2.0)", DEVICE_BOT},
		{"curl/7.88.1", DEVICE_BOT},
		{"CURL/8.0", DEVICE_BOT},
		{"Wget/1.21.3", DEVICE_BOT},
		{"python-requests/2.31.0", DEVICE_BOT},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
		    "(KHTML, like Gecko) HeadlessChrome/119.0 Safari/537.36",
		    DEVICE_BOT},
		{"Mozilla/5.0 (compatible; AhrefsBot/7.0)", DEVICE_BOT},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
		    "AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 "
		    "Safari/604.1", DEVICE_MOBILE},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36"
		    " Chrome/120.0 Mobile Safari/537.36", DEVICE_MOBILE},
		{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36"
		    " Chrome/120.0 Safari/537.36", DEVICE_TABLET},
		{"Mozilla/5.0 (iPad; CPU OS 16_0 like Mac OS X) Mobile/15E148",
		    DEVICE_TABLET},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0 "
		    "Safari/537.36", DEVICE_DESKTOP},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1",
		    DEVICE_DESKTOP},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0",
		    DEVICE_DESKTOP},
		{"", DEVICE_UNKNOWN},
		{"foo", DEVICE_UNKNOWN},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = event_device_from_ua(strv_of(cases[i].ua));
		if (got != cases[i].dev)
			fail_msg("ua %zu \"%s\": got %d, want %d", i,
			    cases[i].ua, got, cases[i].dev);
	}
}

struct src_case {
	const char *ref, *us, *um, *uc, *page;
	int want;
};

static void
test_classify_source(void **state)
{
	static const struct src_case cases[] = {
		{NULL, NULL, NULL, NULL, NULL, SOURCE_DIRECT},
		{NULL, "google", "cpc", NULL, NULL, SOURCE_PAID},
		{NULL, "facebook", "paid_social", NULL, NULL, SOURCE_PAID},
		{NULL, NULL, NULL, NULL, "/p?gclid=abc", SOURCE_PAID},
		{NULL, "newsletter", NULL, NULL, NULL, SOURCE_EMAIL},
		{NULL, "brevo", "Email", NULL, NULL, SOURCE_EMAIL},
		{"https://mail.google.com/mail/u/0/", NULL, NULL, NULL, NULL,
		    SOURCE_EMAIL},
		{NULL, "partner", "affiliate", "summer-COUPON", NULL,
		    SOURCE_COUPON},
		{"https://www.retailmenot.com/view/shop", NULL, NULL, NULL,
		    NULL, SOURCE_COUPON},
		{"https://best-deals.example/", NULL, NULL, NULL, NULL,
		    SOURCE_COUPON},
		{"https://www.google.co.uk/", NULL, NULL, NULL, NULL,
		    SOURCE_SEARCH},
		{"https://duckduckgo.com/?q=boots", NULL, NULL, NULL, NULL,
		    SOURCE_SEARCH},
		{"https://m.facebook.com/", NULL, NULL, NULL, NULL,
		    SOURCE_SOCIAL},
		{"https://t.co/xyz", NULL, NULL, NULL, NULL, SOURCE_SOCIAL},
		{NULL, "mastodon", "social", NULL, NULL, SOURCE_SOCIAL},
		{"https://notgoogle.com/", NULL, NULL, NULL, NULL,
		    SOURCE_REFERRAL},
		{"https://blog.example.org/post", NULL, NULL, NULL, NULL,
		    SOURCE_REFERRAL},
		{NULL, "partner", NULL, NULL, NULL, SOURCE_REFERRAL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nudge_event ev;
		int got;

		event_init(&ev);
		ev.referrer = strv_of(cases[i].ref);
		ev.utm_source = strv_of(cases[i].us);
		ev.utm_medium = strv_of(cases[i].um);
		ev.utm_campaign = strv_of(cases[i].uc);
		ev.page = strv_of(cases[i].page);
		got = event_classify_source(&ev);
		if (got != cases[i].want)
			fail_msg("case %zu: got %s, want %s", i,
			    event_source_name(got),
			    event_source_name(cases[i].want));
	}
}

static void
good_event(struct nudge_event *ev)
{
	event_init(ev);
	ev->type = EVENT_PURCHASE;
	ev->device = DEVICE_MOBILE;
	memcpy(ev->country, "FR", 3);
	ev->visitor = STRV_LIT("v-123");
	ev->page = STRV_LIT("/checkout/done");
	ev->value_cents = 5990;
	ev->x_permille = 1000;
	ev->n_fields = 1;
	ev->fields[0].key = STRV_LIT("k");
	ev->fields[0].val = STRV_LIT("v");
}

static void
expect_invalid(const struct nudge_event *ev, int rc, int col)
{
	struct nudge_diag d;

	memset(&d, 0, sizeof(d));
	assert_int_equal(event_validate(ev, &d), rc);
	assert_int_equal(d.col, col);
	assert_true(d.msg[0] != '\0');
}

static void
test_validate(void **state)
{
	static char big[EVENT_PAGE_MAX + 2];
	struct nudge_event ev;
	struct nudge_diag d;

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	good_event(&ev);
	memset(&d, 0, sizeof(d));
	assert_int_equal(event_validate(&ev, &d), 0);
	assert_int_equal(d.col, 0);

	good_event(&ev);
	ev.visitor = STRV_LIT("");
	expect_invalid(&ev, NUDGE_EINVAL, 5);
	ev.visitor = STRV_LIT("has space");
	expect_invalid(&ev, NUDGE_EINVAL, 5);
	ev.visitor = (struct nudge_strv){big, EVENT_VISITOR_MAX + 1};
	expect_invalid(&ev, NUDGE_ETOOBIG, 5);
	ev.visitor = (struct nudge_strv){big, EVENT_VISITOR_MAX};
	assert_int_equal(event_validate(&ev, NULL), 0);

	good_event(&ev);
	ev.page = (struct nudge_strv){big, EVENT_PAGE_MAX + 1};
	expect_invalid(&ev, NUDGE_ETOOBIG, 6);
	ev.page = (struct nudge_strv){big, EVENT_PAGE_MAX};
	assert_int_equal(event_validate(&ev, NULL), 0);
	ev.sku = (struct nudge_strv){big, EVENT_TEXT_MAX + 1};
	expect_invalid(&ev, NUDGE_ETOOBIG, 12);

	good_event(&ev);
	memcpy(ev.country, "fr", 3);
	expect_invalid(&ev, NUDGE_EINVAL, 3);
	memcpy(ev.country, "FRA", 3);
	expect_invalid(&ev, NUDGE_EINVAL, 3);
	ev.country[0] = '\0';
	assert_int_equal(event_validate(&ev, NULL), 0);
}

static void
test_validate_numbers(void **state)
{
	static char big[EVENT_TEXT_MAX + 2];
	struct nudge_event ev;

	(void)state;
	memset(big, 'b', sizeof(big) - 1);
	good_event(&ev);
	ev.value_cents = -1;
	expect_invalid(&ev, NUDGE_EINVAL, 13);
	ev.value_cents = EVENT_VALUE_MAX_CENTS + 1;
	expect_invalid(&ev, NUDGE_EINVAL, 13);
	ev.value_cents = EVENT_VALUE_MAX_CENTS;
	assert_int_equal(event_validate(&ev, NULL), 0);
	ev.scroll_permille = 1001;
	expect_invalid(&ev, NUDGE_EINVAL, 16);

	good_event(&ev);
	ev.type = EVENT_CUSTOM;
	expect_invalid(&ev, NUDGE_EINVAL, 4);
	ev.name = STRV_LIT("wishlist");
	assert_int_equal(event_validate(&ev, NULL), 0);
	ev.type = EVENT_TYPE_COUNT;
	expect_invalid(&ev, NUDGE_EINVAL, 1);
	ev.type = EVENT_CLICK;
	ev.device = DEVICE_COUNT;
	expect_invalid(&ev, NUDGE_EINVAL, 2);

	good_event(&ev);
	ev.n_fields = EVENT_FIELDS_MAX + 1;
	expect_invalid(&ev, NUDGE_ETOOBIG, 17);
	ev.n_fields = 1;
	ev.fields[0].val = (struct nudge_strv){big, EVENT_TEXT_MAX + 1};
	expect_invalid(&ev, NUDGE_ETOOBIG, 17);
}

static void
test_parse_money(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t cents;
	} cases[] = {
		{"59.90", 0, 5990}, {"12", 0, 1200}, {"0.5", 0, 50},
		{"0", 0, 0}, {"0.05", 0, 5}, {"1000000000", 0,
		EVENT_VALUE_MAX_CENTS}, {"1000000000.01", NUDGE_ERANGE, 0},
		{"99999999999999999999", NUDGE_ERANGE, 0},
		{"", NUDGE_EINVAL, 0}, {"1.234", NUDGE_EINVAL, 0},
		{"-5", NUDGE_EINVAL, 0}, {"+5", NUDGE_EINVAL, 0},
		{"5.", NUDGE_EINVAL, 0}, {".5", NUDGE_EINVAL, 0},
		{"5 ", NUDGE_EINVAL, 0}, {"1,5", NUDGE_EINVAL, 0},
		{"abc", NUDGE_EINVAL, 0}, {"1e3", NUDGE_EINVAL, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t c = -42;
		int rc = event_parse_money(cases[i].s, &c);

		if (rc != cases[i].rc)
			fail_msg("\"%s\": rc %d, want %d", cases[i].s, rc,
			    cases[i].rc);
		assert_int_equal(c, rc == 0 ? cases[i].cents : -42);
	}
	assert_int_equal(event_parse_money(NULL, NULL), NUDGE_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strv),
		cmocka_unit_test(test_type_names),
		cmocka_unit_test(test_device_source_names),
		cmocka_unit_test(test_device_from_ua),
		cmocka_unit_test(test_classify_source),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_validate_numbers),
		cmocka_unit_test(test_parse_money),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
