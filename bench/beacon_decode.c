/*
 * beacon_decode.c - ns per beacon batch: the jansson decoder (the
 * reference, tests/beacon_ref.c) and the jscan one (agent/beacon.c) on the
 * same bytes, side by side with the ratio.
 *
 * Bodies: the wrk script's 5-event tag flush (bench/beacon.lua, ~450 B),
 * the same with escapes in every string (the slow path of the scanner),
 * and a 100-event batch.  Each decoder is timed alternately in rounds and
 * the best round is kept, because the machine is shared: compare the
 * ratio, not the absolute figures.  Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "beacon.h"

#include "../tests/beacon_ref.c"

#define NOW 1700000000000ull

static const struct beacon_limits lim = {BEACON_MAX_BODY, BEACON_MAX_EVENTS};

static const char flush[] =
    "{\"visitor\":\"00a1b2c3d4e5f607\",\"events\":["
    "{\"type\":\"pageview\",\"page\":\"/shop/product/boots.html\","
    "\"referrer\":\"https://www.google.com/\"},"
    "{\"type\":\"scroll\",\"page\":\"/shop/product/boots.html\","
    "\"scroll\":0.62},"
    "{\"type\":\"click\",\"page\":\"/shop/product/boots.html\",\"x\":0.412,"
    "\"y\":0.288,\"target\":\"#add-to-cart\"},"
    "{\"type\":\"click\",\"page\":\"/shop/product/boots.html\",\"x\":0.5,"
    "\"y\":0.1,\"target\":\"nav>a.home\"},"
    "{\"type\":\"hover\",\"page\":\"/shop/product/boots.html\","
    "\"target\":\".price\"}]}";

static const char escaped[] =
    "{\"visitor\":\"00a1b2c3d4e5f607\",\"events\":["
    "{\"type\":\"pageview\",\"page\":\"\\/shop\\/caf\\u00e9.html\","
    "\"referrer\":\"https:\\/\\/www.google.com\\/\"},"
    "{\"type\":\"scroll\",\"page\":\"\\/shop\\/caf\\u00e9.html\","
    "\"scroll\":0.62},"
    "{\"type\":\"click\",\"page\":\"\\/shop\\/caf\\u00e9.html\",\"x\":0.412,"
    "\"y\":0.288,\"target\":\"a[title=\\\"add\\\"]\"},"
    "{\"type\":\"click\",\"page\":\"\\/shop\\/caf\\u00e9.html\",\"x\":0.5,"
    "\"y\":0.1,\"target\":\"nav>a.home \\ud83d\\ude00\"},"
    "{\"type\":\"hover\",\"page\":\"\\/shop\\/caf\\u00e9.html\","
    "\"target\":\".price\"}]}";

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per decode over n decodes, one decoder. */
static double
run(int which, const char *body, size_t len, unsigned n)
{
	static struct bref r;
	static struct beacon b;
	double t0 = now_ns();

	for (unsigned i = 0; i < n; i++) {
		if (which == 0) {
			if (bref_decode(&r, body, len, &lim, NOW, NULL, NULL))
				abort();
			bref_fini(&r);
		} else {
			if (beacon_decode(&b, body, len, &lim, NOW, NULL,
			    NULL))
				abort();
			beacon_fini(&b);
		}
	}
	return (now_ns() - t0) / n;
}

static void
bench(const char *name, const char *body, size_t len)
{
	double best[2] = {1e18, 1e18};
	unsigned n = len > 4096 ? 500 : 5000;

	for (int round = 0; round < 15; round++)
		for (int w = 0; w < 2; w++) {
			double t = run(w, body, len, n);
			if (t < best[w])
				best[w] = t;
		}
	printf("%-28s %6zu B %10.0f %10.0f %7.1fx\n", name, len, best[0],
	    best[1], best[0] / best[1]);
}

int
main(void)
{
	static char big[BEACON_MAX_BODY];
	size_t off;

	off = (size_t)snprintf(big, sizeof(big), "{\"visitor\":\"v42\","
	    "\"events\":[");
	for (int i = 0; i < 100; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off,
		    "%s{\"type\":\"click\",\"page\":\"/shop/product/%d.html\","
		    "\"x\":0.%03d,\"y\":0.5,\"target\":\"#b%d\",\"ts\":%llu}",
		    i ? "," : "", i, i * 7 % 1000, i,
		    (unsigned long long)NOW + (unsigned)i);
	off += (size_t)snprintf(big + off, sizeof(big) - off, "]}");
	printf("%-28s %8s %10s %10s %8s\n", "body", "bytes", "jansson_ns",
	    "jscan_ns", "ratio");
	bench("tag flush, 5 events", flush, sizeof(flush) - 1);
	bench("same, escapes everywhere", escaped, sizeof(escaped) - 1);
	bench("100 events", big, off);
	return 0;
}
