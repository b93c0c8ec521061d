/*
 * test_http.c - the pure parts of the beacon endpoint: batch decoding with
 * every kind of bad input, CIDR lists, X-Forwarded-For, the rate limiter,
 * the [http] configuration keys, and GeoIP on a database made by
 * tests/geoip/make_db.pl (skipped when the Perl writer is missing).
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

#include "beacon.h"
#include "conf.h"
#include "geoip.h"
#include "netaddr.h"
#include "ratelim.h"

#define NOW 1700000000000ull

static const struct beacon_limits lim = {BEACON_MAX_BODY, BEACON_MAX_EVENTS};

static int
decode(struct beacon *b, const char *json, struct nudge_diag *d)
{
	return beacon_decode(b, json, strlen(json), &lim, NOW, NULL, d);
}

static void
test_good_batch(void **state)
{
	static struct beacon b;
	struct nudge_diag d = {0};
	const char *j = "{\"visitor\":\"0123456789abcdef\",\"consent\":true,"
	    "\"events\":[{\"type\":\"pageview\",\"page\":\"/p?q=1\","
	    "\"referrer\":\"https://www.google.com/\",\"utm_source\":\"news\"},"
	    "{\"type\":\"click\",\"x\":0.25,\"y\":1,\"target\":\"#buy\"},"
	    "{\"type\":\"add_to_cart\",\"sku\":\"B-1\",\"value\":89.9,"
	    "\"quantity\":2},{\"type\":\"purchase\",\"value\":\"59.90\"},"
	    "{\"type\":\"scroll\",\"scroll\":0.625,\"ts\":1700000000123},"
	    "{\"type\":\"error\",\"fields\":{\"msg\":\"x\"}}]}";

	(void)state;
	assert_int_equal(decode(&b, j, &d), 0);
	assert_int_equal(b.n, 6);
	assert_true(b.consent);
	assert_false(b.webdriver);
	assert_true(strv_eq(b.ev[0].page, "/p?q=1"));
	assert_true(strv_eq(b.ev[0].visitor, "0123456789abcdef"));
	assert_true(strv_eq(b.ev[0].utm_source, "news"));
	assert_int_equal(b.ev[1].type, EVENT_CLICK);
	assert_int_equal(b.ev[1].x_permille, 250);
	assert_int_equal(b.ev[1].y_permille, 1000);
	assert_int_equal(b.ev[2].value_cents, 8990);
	assert_int_equal(b.ev[2].quantity, 2);
	assert_int_equal(b.ev[3].value_cents, 5990);
	assert_int_equal(b.ev[4].scroll_permille, 625);
	assert_int_equal(b.ev[4].ts_ms, 1700000000123ull);
	assert_int_equal(b.ev[5].type, EVENT_CUSTOM);
	assert_true(strv_eq(b.ev[5].name, "error"));
	assert_int_equal(b.ev[5].n_fields, 1);
	beacon_fini(&b);
}

static void
test_bad_batches(void **state)
{
	static struct beacon b;
	static const struct {
		const char *json;
		int rv;
	} bad[] = {
		{"", NUDGE_ESYNTAX},
		{"{", NUDGE_ESYNTAX},
		{"[1,2", NUDGE_ESYNTAX},
		{"{\"visitor\":\"v\",\"visitor\":\"w\",\"events\":[]}",
		    NUDGE_ESYNTAX},
		{"[]", NUDGE_EINVAL},
		{"{\"visitor\":\"v\"}", NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":{}}", NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[]}", NUDGE_EINVAL},
		{"{\"visitor\":1,\"events\":[{\"type\":\"click\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"\",\"events\":[{\"type\":\"click\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"has space\",\"events\":[{\"type\":\"click\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"x\":1,\"events\":[{\"type\":\"click\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"consent\":1,\"events\":[{\"type\":\"a\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[1]}", NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{}]}", NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"no spaces\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"evil\":1}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"x\":1.5}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"x\":-0.1}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"x\":\"1\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"value\":-1}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"value\":1e300}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"value\":\"1.234\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"quantity\":1.5}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"quantity\":-2}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"country\":\"FR\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"device\":\"bot\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"visitor\":\"w\"}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"page\":7}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"fields\":[]}]}",
		    NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"buy\",\"fields\":"
		    "{\"a\":1}}]}", NUDGE_EINVAL},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\"},"
		    "{\"type\":\"click\",\"x\":2}]}", NUDGE_EINVAL},
	};
	struct nudge_diag d;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		memset(&b, 0x5a, sizeof(b.root));
		int rv = decode(&b, bad[i].json, &d);
		if (rv != bad[i].rv)
			fail_msg("case %zu (%s): got %d", i, bad[i].json, rv);
		assert_true(d.msg[0] != '\0');
	}
}

/* A string of n copies of c, as a JSON string value. */
static char *
long_field_batch(const char *key, size_t n)
{
	char *j = malloc(n + 128);
	int k = snprintf(j, 128, "{\"visitor\":\"v\",\"events\":[{\"type\":"
	    "\"click\",\"%s\":\"", key);

	memset(j + k, 'a', n);
	strcpy(j + k + n, "\"}]}");
	return j;
}

static void
test_limits(void **state)
{
	static struct beacon b;
	struct beacon_limits small = {64, 2};
	struct nudge_diag d = {0};
	char *j, big[16384];
	unsigned seen = 0;
	size_t off;

	(void)state;
	j = long_field_batch("page", EVENT_PAGE_MAX + 1);
	assert_int_equal(decode(&b, j, &d), NUDGE_EINVAL);
	free(j);
	j = long_field_batch("page", EVENT_PAGE_MAX);
	assert_int_equal(decode(&b, j, &d), 0);
	beacon_fini(&b);
	free(j);
	j = long_field_batch("target", EVENT_TEXT_MAX + 1);
	assert_int_equal(decode(&b, j, &d), NUDGE_EINVAL);
	free(j);
	/* 101 events: refused before any is decoded; the count is reported */
	off = (size_t)snprintf(big, sizeof(big), "{\"visitor\":\"v\",\"events\":[");
	for (int i = 0; i < 101; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
		    "%s{\"type\":\"click\"}", i ? "," : "");
	snprintf(big + off, sizeof(big) - off, "]}");
	assert_int_equal(beacon_decode(&b, big, strlen(big), &lim, NOW, &seen,
	    &d), NUDGE_ETOOBIG);
	assert_int_equal(seen, 101);
	/* configured limits: body and events */
	assert_int_equal(beacon_decode(&b, big, 65, &small, NOW, NULL, &d),
	    NUDGE_ETOOBIG);
	j = "{\"visitor\":\"v\",\"events\":[{\"type\":\"a\"},{\"type\":\"b\"},"
	    "{\"type\":\"c\"}]}";
	small.max_body = 4096;
	assert_int_equal(beacon_decode(&b, j, strlen(j), &small, NOW, NULL,
	    &d), NUDGE_ETOOBIG);
}

static void
test_clock_skew(void **state)
{
	static struct beacon b;
	struct nudge_diag d = {0};

	(void)state;
	assert_int_equal(decode(&b, "{\"visitor\":\"v\",\"wd\":true,\"events\":"
	    "[{\"type\":\"click\",\"ts\":1},{\"type\":\"click\",\"ts\":"
	    "1700000001000}]}", &d), 0);
	assert_true(b.webdriver);
	assert_int_equal(b.ev[0].ts_ms, 0);
	assert_int_equal(b.ev[1].ts_ms, 1700000001000ull);
	beacon_fini(&b);
}

static struct net_addr
addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse(&a, s, strlen(s)), 0);
	return a;
}

static void
test_cidr(void **state)
{
	struct net_cidrs l;
	struct nudge_diag d = {0};
	struct net_addr a;
	char buf[64];

	(void)state;
	assert_int_equal(net_cidrs_parse(&l, "10.0.0.0/8, 192.168.1.7 "
	    "2001:db8::/32,::1", &d), 0);
	assert_int_equal(l.n, 4);
	assert_true(net_cidrs_match(&l, &(struct net_addr){0}) == false);
	a = addr("10.255.0.1");
	assert_true(net_cidrs_match(&l, &a));
	a = addr("11.0.0.1");
	assert_false(net_cidrs_match(&l, &a));
	a = addr("192.168.1.7");
	assert_true(net_cidrs_match(&l, &a));
	a = addr("192.168.1.8");
	assert_false(net_cidrs_match(&l, &a));
	a = addr("[2001:db8:ffff::1]");
	assert_true(net_cidrs_match(&l, &a));
	a = addr("2001:db9::1");
	assert_false(net_cidrs_match(&l, &a));
	a = addr("::ffff:10.1.2.3");	/* a dual-stack socket's IPv4 */
	assert_true(net_cidrs_match(&l, &a));
	net_addr_format(&a, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.2.3");
	assert_int_equal(net_cidrs_parse(&l, "", &d), 0);
	assert_int_equal(l.n, 0);
	assert_int_equal(net_cidrs_parse(&l, "10.0.0.0/33", &d), NUDGE_EINVAL);
	assert_int_equal(net_cidrs_parse(&l, "::/129", &d), NUDGE_EINVAL);
	assert_int_equal(net_cidrs_parse(&l, "10.0.0/8", &d), NUDGE_EINVAL);
	assert_int_equal(net_cidrs_parse(&l, "10.0.0.0/", &d), NUDGE_EINVAL);
	assert_int_equal(net_cidrs_parse(&l, "example.com", &d), NUDGE_EINVAL);
	assert_int_equal(net_cidrs_parse(&l, "0.0.0.0/0", &d), 0);
	a = addr("203.0.113.1");
	assert_true(net_cidrs_match(&l, &a));
}

static void
test_xff(void **state)
{
	struct net_cidrs tr;
	struct nudge_diag d = {0};
	struct net_addr proxy = addr("10.0.0.2"), other = addr("198.51.100.1");
	struct net_addr out, want;

	(void)state;
	assert_int_equal(net_cidrs_parse(&tr, "10.0.0.0/8", &d), 0);
	/* untrusted peer: the header is ignored */
	assert_false(net_client_addr(&other, "203.0.113.5", &tr, &out));
	assert_memory_equal(out.b, other.b, 16);
	/* trusted peer: the rightmost untrusted entry */
	assert_true(net_client_addr(&proxy, "203.0.113.5", &tr, &out));
	want = addr("203.0.113.5");
	assert_memory_equal(out.b, want.b, 16);
	assert_true(net_client_addr(&proxy, "1.2.3.4, 203.0.113.5 , 10.9.9.9",
	    &tr, &out));
	assert_memory_equal(out.b, want.b, 16); /* a spoofed 1.2.3.4 loses */
	/* garbage stops the walk at the last good address */
	assert_true(net_client_addr(&proxy, "junk, 10.1.1.1", &tr, &out));
	want = addr("10.1.1.1");
	assert_memory_equal(out.b, want.b, 16);
	assert_false(net_client_addr(&proxy, "junk", &tr, &out));
	assert_memory_equal(out.b, proxy.b, 16);
	assert_false(net_client_addr(&proxy, "", &tr, &out));
	assert_false(net_client_addr(&proxy, NULL, &tr, &out));
	assert_true(net_client_addr(&proxy, "2001:db8::1", &tr, &out));
	want = addr("2001:db8::1");
	assert_memory_equal(out.b, want.b, 16);
}

static void
test_ratelim(void **state)
{
	struct ratelim *r;
	int ok = 0;

	(void)state;
	assert_int_equal(ratelim_new(&r, 1024, 20, 40), 0);
	for (int i = 0; i < 100; i++)
		ok += ratelim_take(r, 42, 1000);
	assert_int_equal(ok, 40);		/* the burst */
	assert_true(ratelim_take(r, 43, 1000));	/* another key is fine */
	assert_false(ratelim_take(r, 42, 1049));	/* 0.98 token back */
	assert_true(ratelim_take(r, 42, 1050));	/* 1 token after 50 ms */
	assert_false(ratelim_take(r, 42, 1050));
	ok = 0;
	for (int i = 0; i < 100; i++)
		ok += ratelim_take(r, 42, 100000);	/* refilled to burst only */
	assert_int_equal(ok, 40);
	/* a flood of fresh keys evicts but never grows or refuses them */
	for (uint64_t k = 1000; k < 200000; k++)
		assert_true(ratelim_take(r, k * 0x9e3779b97f4a7c15ull, 200000));
	assert_true(ratelim_evictions(r) > 0);
	ratelim_free(r);
	assert_int_equal(ratelim_new(&r, 16, 0, 1), 0);	/* rate 0: off */
	for (int i = 0; i < 1000; i++)
		assert_true(ratelim_take(r, 7, 0));
	ratelim_free(r);
	assert_int_equal(ratelim_new(&r, 16, 1, 0), NUDGE_EINVAL);
}

/* Page views faster than the rate, sustained: marked, and it sticks. */
static void
test_ratelim_mark(void **state)
{
	struct ratelim *r;

	(void)state;
	assert_int_equal(ratelim_new(&r, 1024, 4, 12), 0);
	/* 12 page views at once (the burst) are fine, the 13th is not */
	assert_false(ratelim_mark(r, 9, 1000, 12, 600000));
	assert_true(ratelim_mark(r, 9, 1000, 1, 600000));
	/* marked for the hold even with no page view, or a slow one */
	assert_true(ratelim_mark(r, 9, 5000, 0, 600000));
	assert_true(ratelim_mark(r, 9, 500000, 1, 600000));
	assert_false(ratelim_mark(r, 9, 601001, 1, 600000));
	/* a human's pace never gets marked */
	for (uint64_t t = 0; t < 60000; t += 500)
		assert_false(ratelim_mark(r, 10, t, 1, 600000));
	ratelim_free(r);
	assert_int_equal(ratelim_new(&r, 16, 0, 1), 0);	/* rate 0: off */
	assert_false(ratelim_mark(r, 7, 0, 1000, 1000));
	ratelim_free(r);
}

static void
test_conf_http(void **state)
{
	static struct nudge_config c;
	struct nudge_diag d = {0};

	(void)state;
	conf_defaults(&c);
	assert_string_equal(c.http.listen, "127.0.0.1:7480");
	assert_int_equal(c.http.rate_per_visitor, 20);
	assert_int_equal(c.http.rate_burst, 40);
	assert_int_equal(c.http.tarpit_ms, 1000);
	assert_int_equal(c.http.tarpit_after, 100);
	assert_int_equal(c.http.bot_pageviews_per_s, 4);
	assert_int_equal(c.http.max_body, 65536);
	assert_int_equal(c.http.max_events, 100);
	assert_int_equal(conf_load_string(&c, "t", "[http]\nlisten = [::1]:80\n"
	    "origins = https://a.example, http://b.example:8080\n"
	    "trusted_proxies = 10.0.0.0/8 ::1\nconsent_required = yes\n"
	    "country_header = X-Country-Code\n", &d), 0);
	assert_true(c.http.consent_required);
	assert_int_equal(conf_set(&c, "http", "listen", "", &d), 0);
	assert_int_equal(conf_set(&c, "http", "origins", "*", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "origins", "https://*.a.example",
	    &d), NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "origins", "a.example", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "origins", "https://a/b", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "trusted_proxies", "10.0.0.0/99",
	    &d), NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "listen", "7480", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "listen", "h:99999", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "max_events", "101", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "max_body", "65537", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "country_header", "X Y", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "tarpit_ms", "2s", &d), 0);
	assert_int_equal(c.http.tarpit_ms, 2000);
	assert_int_equal(conf_set(&c, "http", "tarpit_ms", "0", &d), 0);
	assert_int_equal(c.http.tarpit_ms, 0);
	assert_int_equal(conf_set(&c, "http", "tarpit_ms", "2m", &d),
	    NUDGE_ECONFIG);
	assert_int_equal(conf_set(&c, "http", "tarpit_after", "0", &d),
	    NUDGE_ECONFIG);
}

static void
test_geoip(void **state)
{
	char path[] = "/tmp/nudge-geoip-XXXXXX", cmd[256];
	struct geoip *g;
	struct nudge_diag d = {0};
	struct net_addr a;
	char cc[3] = "";
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "perl tests/geoip/make_db.pl %s "
	    "2>/dev/null", path);
	if (system(cmd) != 0) {
		unlink(path);
		skip(); /* libmaxmind-db-writer-perl missing */
	}
	assert_int_equal(geoip_open(&g, path, &d), 0);
	a = addr("198.51.100.7");
	assert_true(geoip_country(g, &a, cc));
	assert_string_equal(cc, "FR");
	a = addr("203.0.113.250");
	assert_true(geoip_country(g, &a, cc));
	assert_string_equal(cc, "DE");
	a = addr("2001:db8::42");
	assert_true(geoip_country(g, &a, cc));
	assert_string_equal(cc, "JP");
	a = addr("192.0.2.1");
	strcpy(cc, "--");
	assert_false(geoip_country(g, &a, cc));
	assert_string_equal(cc, "--");	/* untouched on a miss */
	geoip_close(g);
	unlink(path);
	assert_int_equal(geoip_open(&g, "/nonexistent.mmdb", &d), NUDGE_EIO);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_batch),
		cmocka_unit_test(test_bad_batches),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_clock_skew),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_xff),
		cmocka_unit_test(test_ratelim),
		cmocka_unit_test(test_ratelim_mark),
		cmocka_unit_test(test_conf_http),
		cmocka_unit_test(test_geoip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
