/*
 * test_tail.c - what the log tailer makes of a line: page views, bots,
 * skipped requests (assets, methods, statuses, /nudge/), the visitor hash
 * (stable, salted, never the address), utm_* and referrer, and errors.
 * Following files through rotation and truncation is tested end to end by
 * tests/integration/tail.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "tail.h"

#define UA "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:120.0) Firefox/120.0"
#define BOT                                                                   \
	"Mozilla/5.0 (compatible; Googlebot/2.1; "                            \
	"+http://www.google.com/bot.html)"

struct fixture {
	struct logline_format fmt;
	struct tail_conv conv;
	struct nudge_event ev;
	char vis[TAIL_VISITOR_LEN + 1];
	char line[1024];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct nudge_diag d = {0};

	if (fx == NULL || logline_format_compile(&fx->fmt, "combined", &d))
		return -1;
	tail_conv_init(&fx->conv, &fx->fmt, "test-salt");
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	free(*state);
	return 0;
}

/* Converts a combined line built from its parts. */
static int
conv(struct fixture *fx, const char *ip, const char *method,
    const char *target, int status, const char *ref, const char *ua)
{
	struct nudge_diag d = {0};
	int n = snprintf(fx->line, sizeof(fx->line),
	    "%s - - [01/Dec/2026:21:30:00 +0100] \"%s %s HTTP/1.1\" %d 100 "
	    "\"%s\" \"%s\"",
	    ip, method, target, status, ref, ua);

	return tail_conv_line(
	    &fx->conv, fx->line, (size_t)n, &fx->ev, fx->vis, &d);
}

static void
test_pageview(void **state)
{
	struct fixture *fx = *state;
	char first[TAIL_VISITOR_LEN + 1];

	assert_int_equal(
	    conv(fx, "203.0.113.9", "GET",
	        "/product/SH-1?utm_source=newsletter&utm_medium=email&"
	        "utm_campaign=spring#x",
	        200, "https://mail.example/", UA),
	    TAIL_PAGEVIEW);
	assert_int_equal(fx->ev.type, EVENT_PAGEVIEW);
	assert_int_equal(fx->ev.device, DEVICE_DESKTOP);
	assert_int_equal(fx->ev.ts_ms, 1796157000ull * 1000);
	assert_int_equal(fx->ev.page.len, strlen("/product/SH-1"));
	assert_memory_equal(fx->ev.page.ptr, "/product/SH-1", 13);
	assert_int_equal(fx->ev.utm_source.len, 10);
	assert_memory_equal(fx->ev.utm_medium.ptr, "email", 5);
	assert_memory_equal(fx->ev.utm_campaign.ptr, "spring", 6);
	assert_int_equal(fx->ev.referrer.len, strlen("https://mail.example/"));
	assert_int_equal(event_classify_source(&fx->ev), SOURCE_EMAIL);
	assert_int_equal(event_validate(&fx->ev, NULL), 0);
	/* "h" + 16 hex digits, nothing of the address */
	assert_int_equal(fx->ev.visitor.len, TAIL_VISITOR_LEN);
	assert_int_equal(strlen(fx->vis), TAIL_VISITOR_LEN);
	assert_int_equal(fx->vis[0], 'h');
	assert_int_equal(strspn(fx->vis + 1, "0123456789abcdef"), 16);
	assert_null(strstr(fx->vis, "203"));
	memcpy(first, fx->vis, sizeof(first));
	/* same address and agent: same visitor; HEAD counts too */
	assert_int_equal(
	    conv(fx, "203.0.113.9", "HEAD", "/", 304, "-", UA), TAIL_PAGEVIEW);
	assert_string_equal(fx->vis, first);
	assert_int_equal(fx->ev.referrer.len, 0);
	/* another address, or another agent: another visitor */
	conv(fx, "203.0.113.10", "GET", "/", 200, "-", UA);
	assert_string_not_equal(fx->vis, first);
	conv(fx, "203.0.113.9", "GET", "/", 200, "-", UA " x");
	assert_string_not_equal(fx->vis, first);
}

static void
test_salt(void **state)
{
	struct fixture *fx = *state;
	char a[TAIL_VISITOR_LEN + 1];

	conv(fx, "198.51.100.1", "GET", "/", 200, "-", UA);
	memcpy(a, fx->vis, sizeof(a));
	tail_conv_init(&fx->conv, &fx->fmt, "another-salt");
	conv(fx, "198.51.100.1", "GET", "/", 200, "-", UA);
	assert_string_not_equal(fx->vis, a);
	/* the same salt again (a restart): the same visitor */
	tail_conv_init(&fx->conv, &fx->fmt, "test-salt");
	conv(fx, "198.51.100.1", "GET", "/", 200, "-", UA);
	assert_string_equal(fx->vis, a);
}

static void
test_skipped(void **state)
{
	static const char *const assets[] = {"/static/app.css",
	    "/static/app.js?v=3", "/img/p/SH-1.JPG", "/favicon.ico",
	    "/f/x.woff2", "/robots.txt", "/sitemap.xml", "/a.map",
	    "/v/clip.mp4", "/api/cart.json", "/nudge/nudge.js", "/nudge/e",
	    "/i.webp", "/i.avif", "/i.svg", "/i.gif", "/i.png", "/i.jpeg",
	    "/f.ttf", "/f.woff"};
	struct fixture *fx = *state;

	for (size_t i = 0; i < sizeof(assets) / sizeof(assets[0]); i++)
		if (conv(fx, "1.2.3.4", "GET", assets[i], 200, "-", UA) !=
		    TAIL_SKIP)
			fail_msg("%s not skipped", assets[i]);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "POST", "/cart", 200, "-", UA), TAIL_SKIP);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "/x", 404, "-", UA), TAIL_SKIP);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "/x", 500, "-", UA), TAIL_SKIP);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "/x", 199, "-", UA), TAIL_SKIP);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "http://evil/", 200, "-", UA),
	    TAIL_SKIP);
	/* pages that only look like assets are pages */
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "/product/v1.2-shoe", 200, "-", UA),
	    TAIL_PAGEVIEW);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "/css/", 301, "-", UA), TAIL_PAGEVIEW);
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", "/nudge", 200, "-", UA), TAIL_PAGEVIEW);
	assert_true(tail_is_asset(strv_of("/a/b.CSS")));
	assert_false(tail_is_asset(strv_of("/a.b/c")));
	assert_false(tail_is_asset(strv_of("/x.")));
	assert_false(tail_is_asset(strv_of("")));
}

static void
test_bots(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(
	    conv(fx, "66.249.66.1", "GET", "/product/SH-1", 200, "-", BOT),
	    TAIL_BOT);
	assert_int_equal(fx->ev.device, DEVICE_BOT);
	/* the cached answer is the same */
	assert_int_equal(
	    conv(fx, "66.249.66.2", "GET", "/", 200, "-", BOT), TAIL_BOT);
	assert_int_equal(
	    conv(fx, "9.9.9.9", "GET", "/", 200, "-", "curl/7.88.1"),
	    TAIL_BOT);
	/* a bot's asset is just an asset */
	assert_int_equal(
	    conv(fx, "66.249.66.1", "GET", "/robots.txt", 200, "-", BOT),
	    TAIL_SKIP);
}

static void
test_errors(void **state)
{
	struct fixture *fx = *state;
	struct nudge_diag d = {0};
	char path[EVENT_PAGE_MAX + 2];

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(
	    conv(fx, "1.2.3.4", "GET", path, 200, "-", UA), NUDGE_ETOOBIG);
	assert_int_equal(
	    tail_conv_line(&fx->conv, "junk", 4, &fx->ev, fx->vis, &d),
	    NUDGE_ESYNTAX);
	assert_int_equal(d.col, 5);
}

static void
test_conf_keys(void **state)
{
	static struct nudge_config c;
	struct nudge_diag d = {0};
	char name[32];

	(void)state;
	conf_defaults(&c);
	assert_string_equal(c.agent.log_format, "combined");
	assert_int_equal(c.agent.n_tails, 0);
	assert_int_equal(c.agent.tail_from_start, 0);
	for (int i = 0; i < CONF_TAILS_MAX; i++) {
		snprintf(name, sizeof(name), "/var/log/%d.log", i);
		assert_int_equal(conf_set(&c, "agent", "tail", name, &d), 0);
	}
	assert_int_equal(
	    conf_set(&c, "agent", "tail", "/x", &d), NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "more than 16"));
	assert_int_equal(conf_set(&c, "agent", "tail", "", &d), 0);
	assert_int_equal(c.agent.n_tails, 0);
	assert_int_equal(conf_set(&c, "agent", "log_format", "common", &d), 0);
	assert_int_equal(conf_set(&c, "agent", "log_format",
	                     "[$time_local] \"$request\" $status$x", &d),
	    NUDGE_ECONFIG);
	assert_non_null(strstr(d.msg, "log_format: column 33"));
	assert_string_equal(c.agent.log_format, "common");
	assert_int_equal(
	    conf_set(&c, "agent", "log_salt", "a b", &d), NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "agent", "log_salt", "s3cr3t", &d), 0);
	assert_int_equal(
	    conf_set(&c, "agent", "tail_from_start", "yes", &d), 0);
	assert_int_equal(c.agent.tail_from_start, 1);
	assert_int_equal(conf_set(&c, "agent", "tail_from_start", "maybe", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(c.agent.tail_from_start, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_pageview, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_salt, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_skipped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bots, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
	    cmocka_unit_test(test_conf_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
