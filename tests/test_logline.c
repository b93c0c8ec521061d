/*
 * test_logline.c - access-log line parsing: combined, common and custom
 * formats, timestamps with offsets against known epochs, and every class
 * of malformed line with its error code and column.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "logline.h"

#define UA_FF "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko Firefox/120.0"
#define L_OK                                                                  \
	"203.0.113.7 - alice [01/Dec/2026:21:30:00 +0100] "                   \
	"\"GET /product/SH-1003?utm_source=news&x=1#top HTTP/1.1\" 200 5120 " \
	"\"https://www.google.com/\" \"" UA_FF "\""

static void
assert_sv(struct nudge_strv v, const char *want)
{
	char got[512];

	strv_copy(got, sizeof(got), v);
	assert_string_equal(got, want);
	assert_int_equal(v.len, strlen(want));
}

static struct logline_format
compile(const char *spec)
{
	struct logline_format f;
	struct nudge_diag d = {0};

	if (logline_format_compile(&f, spec, &d) != 0)
		fail_msg("compile '%s': col %d: %s", spec, d.col, d.msg);
	return f;
}

/* Parses s (NUL-terminated) expecting rc; returns the column. */
static int
parse_rc(
    const struct logline_format *f, const char *s, int rc, struct logline *l)
{
	struct nudge_diag d = {0};
	int got = logline_parse(f, s, strlen(s), l, &d);

	if (got != rc)
		fail_msg("'%.80s': got %d (%s: col %d), want %d", s, got,
		    d.msg, d.col, rc);
	if (rc != 0) {
		assert_true(d.col > 0);
		assert_true(d.msg[0] != '\0');
	}
	return d.col;
}

static void
test_combined(void **state)
{
	static const char line[] = L_OK;
	struct logline_format f = compile("combined");
	struct logline l;

	(void)state;
	parse_rc(&f, line, 0, &l);
	assert_sv(l.addr, "203.0.113.7");
	assert_sv(l.user, "alice");
	assert_sv(l.time, "01/Dec/2026:21:30:00 +0100");
	assert_sv(l.method, "GET");
	assert_sv(l.path, "/product/SH-1003");
	assert_sv(l.query, "utm_source=news&x=1");
	assert_sv(l.protocol, "HTTP/1.1");
	assert_int_equal(l.status, 200);
	assert_sv(l.bytes, "5120");
	assert_sv(l.referrer, "https://www.google.com/");
	assert_sv(l.ua, UA_FF);
	assert_int_equal(l.ts_ms, 1796157000ull * 1000);
	/* views point into the line: nothing copied */
	assert_ptr_equal(l.addr.ptr, line);
	assert_ptr_equal(l.ua.ptr, line + strlen(line) - strlen(UA_FF) - 1);
}

static void
test_combined_variants(void **state)
{
	struct logline_format f = compile(NULL);
	struct logline l;

	(void)state;
	/* dashes are empty, \" inside a quoted value, a CR, extra fields */
	parse_rc(&f,
	    "::1 - - [10/Oct/2000:13:55:36 -0700] \"HEAD / "
	    "HTTP/1.0\" 304 - \"-\" \"say \\\"hi\\\" bot\" \"1.2.3.4\"\r",
	    0, &l);
	assert_sv(l.addr, "::1");
	assert_int_equal(l.user.len, 0);
	assert_int_equal(l.bytes.len, 0);
	assert_int_equal(l.referrer.len, 0);
	assert_sv(l.ua, "say \\\"hi\\\" bot");
	assert_sv(l.path, "/");
	assert_int_equal(l.query.len, 0);
	assert_int_equal(l.status, 304);
	assert_int_equal(l.ts_ms, 971211336ull * 1000);
	/* HTTP/0.9: no protocol */
	parse_rc(&f,
	    "1.2.3.4 - - [10/Oct/2000:13:55:36 -0700] \"GET /a?\" "
	    "200 1 \"-\" \"-\"",
	    0, &l);
	assert_sv(l.path, "/a");
	assert_int_equal(l.query.len, 0);
	assert_int_equal(l.protocol.len, 0);
	assert_int_equal(l.ua.len, 0);
}

static void
test_common(void **state)
{
	struct logline_format f = compile("common");
	struct logline l;

	(void)state;
	parse_rc(&f,
	    "10.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "
	    "\"GET /apache_pb.gif HTTP/1.0\" 200 2326",
	    0, &l);
	assert_sv(l.user, "frank");
	assert_sv(l.path, "/apache_pb.gif");
	assert_sv(l.bytes, "2326");
	assert_int_equal(l.ua.len, 0);
	assert_int_equal(l.referrer.len, 0);
	/* a combined line read as common: the rest is ignored */
	parse_rc(&f, L_OK, 0, &l);
	assert_sv(l.bytes, "5120");
	assert_int_equal(l.ua.len, 0);
}

static void
test_custom(void **state)
{
	struct logline_format f = compile(
	    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
	    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" "
	    "rt=$request_time host=${host} up=$upstream_addr");
	struct logline l;

	(void)state;
	parse_rc(&f,
	    "1.2.3.4 - - [29/Feb/2024:00:00:00 -0800] \"GET /c "
	    "HTTP/2.0\" 201 9 \"-\" \"UA x\" rt=0.125 host=shop.example "
	    "up=10.0.0.2:80",
	    0, &l);
	assert_sv(l.request_time, "0.125");
	assert_sv(l.ua, "UA x");
	assert_int_equal(l.status, 201);
	assert_int_equal(l.ts_ms, 1709193600ull * 1000);
	/* a different order, tabs as separators */
	f = compile("[$time_local]\t$remote_addr\t\"$request\"\t$status\t"
	            "\"$http_user_agent\"");
	parse_rc(&f,
	    "[01/Dec/2026:21:30:00 +0100]\t9.9.9.9\t\"GET /t "
	    "HTTP/1.1\"\t200\t\"curl/8\"",
	    0, &l);
	assert_sv(l.addr, "9.9.9.9");
	assert_sv(l.ua, "curl/8");
	assert_sv(l.path, "/t");
}

static void
test_format_errors(void **state)
{
	static const struct {
		const char *spec;
		int rc;
		int col;
	} cases[] = {
	    {"$remote_addr [$time_local] \"$request\" $", NUDGE_ESYNTAX, 39},
	    {"$status$body_bytes_sent [$time_local] \"$request\"",
	        NUDGE_ESYNTAX, 8},
	    {"${host [$time_local] \"$request\"", NUDGE_ESYNTAX, 1},
	    {"$remote_addr \"$request\"", NUDGE_ESYNTAX, 1},
	    {"[$time_local] $status", NUDGE_ESYNTAX, 1},
	    {"[$time_local] \"$request\" ...............................long",
	        NUDGE_ETOOBIG, 55},
	};
	struct logline_format f;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct nudge_diag d = {0};
		int rc = logline_format_compile(&f, cases[i].spec, &d);
		if (rc != cases[i].rc || d.col != cases[i].col)
			fail_msg("'%s': rc %d col %d (%s), want %d col %d",
			    cases[i].spec, rc, d.col, d.msg, cases[i].rc,
			    cases[i].col);
	}
}

static void
test_format_too_many(void **state)
{
	char spec[LOGLINE_FORMAT_MAX + 2];
	struct logline_format f;
	struct nudge_diag d = {0};
	size_t n = 0;

	(void)state;
	n +=
	    (size_t)snprintf(spec, sizeof(spec), "[$time_local] \"$request\"");
	while (n + 4 < 400)
		n += (size_t)snprintf(spec + n, sizeof(spec) - n, " $a");
	assert_int_equal(logline_format_compile(&f, spec, &d), NUDGE_ETOOBIG);
	memset(spec, 'x', sizeof(spec) - 1);
	spec[sizeof(spec) - 1] = '\0';
	assert_int_equal(logline_format_compile(&f, spec, &d), NUDGE_ETOOBIG);
}

static void
test_times(void **state)
{
	static const struct {
		const char *t;
		uint64_t epoch;
	} ok[] = {
	    {"01/Dec/2026:21:30:00 +0100", 1796157000},
	    {"29/Feb/2024:00:00:00 -0800", 1709193600},
	    {"10/Oct/2000:13:55:36 -0700", 971211336},
	    {"31/Dec/2099:23:59:00 +1400", 4102394340},
	    {"31/Dec/2026:23:59:59 -0030", 1798763399},
	    {"01/Jan/1970:00:00:00 +0000", 0},
	};
	static const struct {
		const char *t;
		int col;
	} bad[] = {
	    {"29/Feb/2023:00:00:00 +0000", 1},
	    {"32/Jan/2026:00:00:00 +0000", 1},
	    {"00/Jan/2026:00:00:00 +0000", 1},
	    {"01/Foo/2026:00:00:00 +0000", 4},
	    {"01/Dec/1969:00:00:00 +0000", 8},
	    {"01/Dec/2026:24:00:00 +0000", 13},
	    {"01/Dec/2026:23:60:00 +0000", 16},
	    {"01/Dec/2026:23:00:61 +0000", 19},
	    {"01/Dec/2026:23:00:00 +2400", 22},
	    {"01/Dec/2026:23:00:00 +0060", 22},
	    {"01/Dec/2026:23:00:00 0100 ", 22},
	    {"01/Dec/2026:23:00:00", 1},
	    {"01/Jan/1970:00:00:00 +0100", 8},
	    {"1/Dec/2026:21:30:00 +0100 ", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t ms = 1;
		struct nudge_diag d = {0};
		if (logline_parse_time(strv_of(ok[i].t), &ms, &d) != 0)
			fail_msg("%s: %s", ok[i].t, d.msg);
		assert_int_equal(ms, ok[i].epoch * 1000);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ms = 7;
		struct nudge_diag d = {0};
		int rc = logline_parse_time(strv_of(bad[i].t), &ms, &d);
		if (rc != NUDGE_ERANGE || d.col != bad[i].col)
			fail_msg("%s: rc %d col %d, want col %d", bad[i].t, rc,
			    d.col, bad[i].col);
		assert_int_equal(ms, 7); /* untouched on error */
	}
	assert_int_equal(logline_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(logline_days_from_civil(2000, 3, 1), 11017);
	assert_int_equal(logline_days_from_civil(1969, 12, 31), -1);
}

static void
test_malformed(void **state)
{
	static const struct {
		const char *line;
		int rc;
		int col;
	} cases[] = {
	    /* missing opening quote of the request */
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] GET / HTTP/1.1\" 200 1 "
	     "\"-\" \"-\"",
	        NUDGE_ESYNTAX, 42},
	    /* missing closing quote at the end */
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] \"GET / HTTP/1.1\" 200 "
	     "1 \"-\" \"Mozilla",
	        NUDGE_ESYNTAX, 69},
	    /* bad date */
	    {"1.2.3.4 - - [01/Dek/2026:21:30:00 +0100] \"GET / HTTP/1.1\" 200 "
	     "1 \"-\" \"-\"",
	        NUDGE_ERANGE, 17},
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00] \"GET / HTTP/1.1\" 200 1 "
	     "\"-\" \"-\"",
	        NUDGE_ERANGE, 14},
	    /* no bracket: the literal " [" is missing */
	    {"1.2.3.4 - - 01/Dec/2026:21:30:00 +0100 \"GET / HTTP/1.1\" 200 "
	     "1 \"-\" \"-\"",
	        NUDGE_ESYNTAX, 13},
	    /* bad status, bad request */
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] \"GET / HTTP/1.1\" 2x0 "
	     "1 \"-\" \"-\"",
	        NUDGE_ESYNTAX, 59},
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] \"-\" 400 0 \"-\" "
	     "\"-\"",
	        NUDGE_ESYNTAX, 43},
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] \"get / HTTP/1.1\" 200 "
	     "1 \"-\" \"-\"",
	        NUDGE_ESYNTAX, 43},
	    {"1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] \"GET  HTTP/1.1\" 200 "
	     "1 \"-\" \"-\"",
	        NUDGE_ESYNTAX, 47},
	    /* binary junk, an empty line, a truncated one */
	    {"1.2.3.4 - - [01/Dec\x01/2026", NUDGE_EINVAL, 20},
	    {"\x7f\x45LF\x02\x01\x01", NUDGE_EINVAL, 1},
	    {"", NUDGE_ESYNTAX, 1},
	    {"1.2.3.4", NUDGE_ESYNTAX, 8},
	    {"1.2.3.4 - - [01/Dec/2026:21:30", NUDGE_ESYNTAX, 31},
	};
	struct logline_format f = compile("combined");
	struct logline l;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int col = parse_rc(&f, cases[i].line, cases[i].rc, &l);
		if (col != cases[i].col)
			fail_msg("case %zu '%.60s': col %d, want %d", i,
			    cases[i].line, col, cases[i].col);
	}
}

static void
test_huge_and_nul(void **state)
{
	struct logline_format f = compile("combined");
	size_t n = LOGLINE_MAX + 100;
	char *big = malloc(n);
	struct logline l;
	struct nudge_diag d = {0};
	const char nul[] =
	    "1.2.3.4 - - [01/Dec/2026:21:30:00 +0100] \"GET /\0x "
	    "HTTP/1.1\" 200 1 \"-\" \"-\"";

	(void)state;
	assert_non_null(big);
	memset(big, 'a', n);
	memcpy(big, L_OK, strlen(L_OK));
	assert_int_equal(logline_parse(&f, big, n, &l, &d), NUDGE_ETOOBIG);
	assert_int_equal(d.col, LOGLINE_MAX + 1);
	/* exactly the limit is accepted: the tail is ignored text */
	assert_int_equal(logline_parse(&f, big, LOGLINE_MAX, &l, &d), 0);
	free(big);
	assert_int_equal(
	    logline_parse(&f, nul, sizeof(nul) - 1, &l, &d), NUDGE_EINVAL);
	assert_int_equal(d.col, 48);
}

static void
test_query_param(void **state)
{
	struct nudge_strv q =
	    strv_of("a=1&utm_source=news&utm_medium=&"
	            "xutm_campaign=no&utm_campaign=spring%20sale");

	(void)state;
	assert_sv(logline_query_param(q, "utm_source"), "news");
	assert_sv(logline_query_param(q, "utm_medium"), "");
	assert_sv(logline_query_param(q, "utm_campaign"), "spring%20sale");
	assert_sv(logline_query_param(q, "b"), "");
	assert_sv(logline_query_param(strv_of(""), "a"), "");
	assert_sv(logline_query_param(strv_of("a"), "a"), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_combined),
	    cmocka_unit_test(test_combined_variants),
	    cmocka_unit_test(test_common),
	    cmocka_unit_test(test_custom),
	    cmocka_unit_test(test_format_errors),
	    cmocka_unit_test(test_format_too_many),
	    cmocka_unit_test(test_times),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_huge_and_nul),
	    cmocka_unit_test(test_query_param),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
