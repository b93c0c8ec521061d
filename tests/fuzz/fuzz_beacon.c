/*
 * fuzz_beacon.c - libFuzzer harness: the beacon decoder against jansson.
 *
 * The first byte picks the limits (the defaults, or a 3-event / 4 KB
 * batch); the rest is the body, copied into a buffer of exactly its size
 * so that any read past it is caught.  The body is decoded by agent/beacon.c
 * (on agent/jscan.c) and by the jansson decoder it replaced
 * (tests/beacon_ref.c): any difference in acceptance, code or decoded
 * events aborts, but for the one documented difference (a duplicate key
 * inside an already refused value).  Every view of an accepted batch must
 * lie in the body or in the batch's scratch.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../agent/beacon.h"
#include "../../agent/jscan.c"
#include "../../agent/beacon.c"
#include "../beacon_ref.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1700000000000ull

static void
check_view(struct nudge_strv v, const char *body, size_t len,
    const struct beacon *b)
{
	if (v.len == 0)
		return;
	if ((v.ptr >= body && v.ptr + v.len <= body + len) ||
	    (v.ptr >= b->scratch && v.ptr + v.len <= b->scratch +
	    sizeof(b->scratch)))
		return;
	abort();
}

static void
check_views(const struct beacon *b, const char *body, size_t len)
{
	for (unsigned i = 0; i < b->n; i++) {
		const struct nudge_event *e = &b->ev[i];
		const struct nudge_strv v[] = {e->name, e->visitor, e->page,
		    e->referrer, e->utm_source, e->utm_medium,
		    e->utm_campaign, e->target, e->sku};
		for (size_t k = 0; k < sizeof(v) / sizeof(v[0]); k++)
			check_view(v[k], body, len, b);
		for (unsigned k = 0; k < e->n_fields; k++) {
			check_view(e->fields[k].key, body, len, b);
			check_view(e->fields[k].val, body, len, b);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct beacon_limits full = {BEACON_MAX_BODY,
	    BEACON_MAX_EVENTS}, small = {4096, 3};
	static struct beacon b;
	const struct beacon_limits *lim;
	char why[600], *body;
	int rr, rn;

	if (size == 0)
		return 0;
	lim = data[0] & 1 ? &small : &full;
	body = malloc(size - 1 ? size - 1 : 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 1, size - 1);
	if (ref_compare(body, size - 1, lim, NOW, &rr, &rn, why,
	    sizeof(why)) == REF_DIFFER) {
		fprintf(stderr, "decoders differ: %s\n", why);
		abort();
	}
	if (beacon_decode(&b, body, size - 1, lim, NOW, NULL, NULL) == 0) {
		check_views(&b, body, size - 1);
		beacon_fini(&b);
	}
	free(body);
	return 0;
}
