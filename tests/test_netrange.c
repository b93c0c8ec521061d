/*
 * test_netrange.c - agent/netrange.c: IPv4 and IPv6 ranges and their
 * edges (first, last, one outside either side), bare addresses, comments
 * and blank lines, overlapping and adjacent ranges merged, the whole
 * address space, bad lines refused with their line number, the bounds on
 * line length, a missing file, and the replaceable reference.
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

#include "netrange.h"

static struct netrange *
parse_ok(const char *text)
{
	struct netrange *t = NULL;
	struct nudge_diag d = {0};

	assert_int_equal(netrange_parse(&t, text, strlen(text), "t", &d), 0);
	assert_non_null(t);
	return t;
}

static bool
has(const struct netrange *t, const char *addr)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(&a, addr, strlen(addr)), 0);
	return netrange_has(t, &a);
}

static void
test_v4_edges(void **state)
{
	(void)state;
	struct netrange *t = parse_ok("10.0.0.0/8\n192.0.2.0/24\n");

	assert_true(has(t, "10.0.0.0"));
	assert_true(has(t, "10.255.255.255"));
	assert_false(has(t, "9.255.255.255"));
	assert_false(has(t, "11.0.0.0"));
	assert_true(has(t, "192.0.2.0"));
	assert_true(has(t, "192.0.2.255"));
	assert_false(has(t, "192.0.1.255"));
	assert_false(has(t, "192.0.3.0"));
	/* the same address as a dual-stack socket reports it */
	assert_true(has(t, "::ffff:192.0.2.7"));
	assert_false(has(t, "0.0.0.0"));
	assert_false(has(t, "255.255.255.255"));
	assert_int_equal(netrange_count(t), 2);
	netrange_free(t);
}

static void
test_v6_edges(void **state)
{
	(void)state;
	struct netrange *t = parse_ok("2001:db8::/32\n2600:1f00::/24\n");

	assert_true(has(t, "2001:db8::"));
	assert_true(has(t, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(has(t, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(has(t, "2001:db9::"));
	assert_true(has(t, "2600:1fff::1"));
	assert_false(has(t, "2600:2000::"));
	/* an IPv4 range never matches an IPv6 address, nor the reverse */
	assert_false(has(t, "32.1.13.184"));
	netrange_free(t);
}

static void
test_comments_bare_and_merge(void **state)
{
	(void)state;
	struct netrange *t = parse_ok(
	    "# a comment line\n"
	    "\n"
	    "   \t\n"
	    "198.51.100.7   # one host, then a comment\n"
	    "203.0.113.0/25\r\n"
	    "203.0.113.128/25\n"	/* adjacent: merged */
	    "10.1.0.0/16\n10.0.0.0/8\n"	/* contained: merged */
	    "  2001:db8::1  \n"
	    "[2001:db8::2]");	/* last line without a newline */

	assert_true(has(t, "198.51.100.7"));
	assert_false(has(t, "198.51.100.6"));
	assert_false(has(t, "198.51.100.8"));
	assert_true(has(t, "203.0.113.0"));
	assert_true(has(t, "203.0.113.200"));
	assert_true(has(t, "10.1.2.3"));
	assert_true(has(t, "2001:db8::1"));
	assert_true(has(t, "2001:db8::2"));
	assert_false(has(t, "2001:db8::3"));
	/* 198.51.100.7, 203.0.113.0/24, 10/8, 2001:db8::1-2 */
	assert_int_equal(netrange_count(t), 4);
	netrange_free(t);
}

static void
test_everything_and_nothing(void **state)
{
	(void)state;
	struct netrange *t = parse_ok("::/0\n");

	assert_true(has(t, "::"));
	assert_true(has(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(has(t, "127.0.0.1"));
	netrange_free(t);
	t = parse_ok("# nothing\n");
	assert_int_equal(netrange_count(t), 0);
	assert_false(has(t, "127.0.0.1"));
	netrange_free(t);
	assert_false(has(NULL, "127.0.0.1"));
}

static void
expect_bad(const char *text, int rv, int line)
{
	struct netrange *t = (struct netrange *)&t;	/* must stay untouched */
	struct nudge_diag d = {0};
	char want[32];

	assert_int_equal(netrange_parse(&t, text, strlen(text), "f.txt", &d),
	    rv);
	assert_ptr_equal(t, (struct netrange *)&t);
	assert_int_equal(d.line, line);
	snprintf(want, sizeof(want), "f.txt:%d: ", line);
	assert_memory_equal(d.msg, want, strlen(want));
}

static void
test_bad_lines(void **state)
{
	(void)state;
	char long_line[NETRANGE_LINE_MAX + 8];

	expect_bad("10.0.0.0/8\nnot-an-address\n", NUDGE_ESYNTAX, 2);
	expect_bad("10.0.0.0/33\n", NUDGE_ESYNTAX, 1);
	expect_bad("# ok\n\n2001:db8::/129\n", NUDGE_ESYNTAX, 3);
	expect_bad("10.0.0.0/8 10.1.0.0/16\n", NUDGE_ESYNTAX, 1);
	expect_bad("10.0.0.0/\n", NUDGE_ESYNTAX, 1);
	expect_bad("256.0.0.0/8\n", NUDGE_ESYNTAX, 1);
	memset(long_line, ' ', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	expect_bad(long_line, NUDGE_ETOOBIG, 1);
}

static void
test_load_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_netrange.XXXXXX";
	int fd = mkstemp(path);
	struct netrange *t = NULL;
	struct nudge_diag d = {0};
	static const char text[] = "127.0.0.0/8\n::1\n";

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, sizeof(text) - 1),
	    (ssize_t)(sizeof(text) - 1));
	close(fd);
	assert_int_equal(netrange_load(&t, path, &d), 0);
	assert_true(has(t, "127.0.0.1"));
	assert_true(has(t, "::1"));
	assert_false(has(t, "128.0.0.1"));
	netrange_free(t);
	unlink(path);
	t = NULL;
	assert_int_equal(netrange_load(&t, path, &d), NUDGE_EIO);
	assert_null(t);
	assert_non_null(strstr(d.msg, path));
}

static void
test_ref_swap(void **state)
{
	(void)state;
	struct netrange_ref r;
	struct net_addr a;

	assert_int_equal(net_addr_parse(&a, "192.0.2.1", 9), 0);
	netrange_ref_init(&r);
	assert_false(netrange_ref_has(&r, &a));
	netrange_ref_swap(&r, parse_ok("192.0.2.0/24\n"));
	assert_true(netrange_ref_has(&r, &a));
	assert_int_equal(netrange_ref_count(&r), 1);
	netrange_ref_swap(&r, parse_ok("198.51.100.0/24\n"));
	assert_false(netrange_ref_has(&r, &a));
	netrange_ref_swap(&r, NULL);
	assert_int_equal(netrange_ref_count(&r), 0);
	netrange_ref_fini(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_edges),
		cmocka_unit_test(test_v6_edges),
		cmocka_unit_test(test_comments_bare_and_merge),
		cmocka_unit_test(test_everything_and_nothing),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_ref_swap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
