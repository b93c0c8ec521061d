/*
 * beacon.h - decoding the tag's batched beacon (POST /nudge/e) into events.
 *
 * Body (JSON, UTF-8, at most beacon_limits.max_body bytes, checked by the
 * caller before parsing):
 *
 *	{"visitor": "3f9a0c2d11b7e845",	required, the tag's first-party id
 *	 "consent": true,		optional: consent given on the page
 *	 "wd": true,			optional: navigator.webdriver was set
 *	 "events": [ EVENT, ... ]}	1..max_events objects
 *
 * EVENT keys are those of `nudge emit --stdin`: type (required: pageview,
 * click, scroll, hover, visible, exit_intent, add_to_cart, purchase, ...
 * or a custom name), page, referrer, utm_source, utm_medium, utm_campaign,
 * target, sku (strings), value (currency units: a number or "59.90"),
 * quantity (integer), x, y, scroll (FRACTIONS in [0, 1]: x and y of the
 * page's width and height, scroll of its height; unlike emit, integers are
 * not permilles), ts (ms since the epoch), fields (object of string
 * values, at most EVENT_FIELDS_MAX), and visitor (must equal the batch's).
 * country and device are the agent's to decide and refused from a client.
 * Unknown keys, wrong types and out-of-range values refuse the batch.
 *
 * A batch is all or nothing: one bad event refuses the whole batch with a
 * message naming it, so a bad request costs no session update.
 *
 * The decoder (agent/jscan.h underneath) makes one pass over the body and
 * allocates nothing.  It accepts exactly what jansson 2.14 with
 * JSON_REJECT_DUPLICATES accepts and then the checks below; the jansson
 * decoder it replaced is kept as the reference of the differential tests
 * (tests/beacon_ref.c, tests/test_beacon.c, tests/fuzz/fuzz_beacon.c).
 */
#ifndef NUDGE_BEACON_H
#define NUDGE_BEACON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Not used here any more: agent/http.c (its test decisions) still gets
 * jansson through this header.  Drop once http.c includes it itself.
 */
#include <jansson.h>

#include "err.h"
#include "event.h"

#define BEACON_MAX_BODY (64u * 1024u)
#define BEACON_MAX_EVENTS 100u

struct beacon_limits {
	size_t max_body;	/* bytes, <= BEACON_MAX_BODY */
	unsigned max_events;	/* <= BEACON_MAX_EVENTS */
};

/*
 * A decoded batch: n events in ev[].  A string without escapes is a view
 * into the body (root), one with escapes a view into scratch[], which the
 * batch owns (decoded text is never longer than its source, so the body
 * bound is the scratch bound).  The views are valid while the caller keeps
 * the body and the batch; nothing is heap-allocated, beacon_fini() only
 * forgets the body.  The struct is large (~110 KB): allocate it.
 */
struct beacon {
	const char *root;	/* the body the views borrow from, not owned */
	struct nudge_strv visitor;
	bool consent;
	bool webdriver;
	unsigned n;
	struct nudge_event ev[BEACON_MAX_EVENTS];
	char scratch[BEACON_MAX_BODY + 1];
};

/*
 * Parses len bytes (need not be NUL-terminated) into *b, validating every
 * event with event_validate().  Client timestamps further than 10 minutes
 * from now_wall_ms are replaced by 0 (now): browser clocks drift.  Returns
 * 0 (the views borrow from body and b: keep both, then beacon_fini), or
 * NUDGE_ETOOBIG (body or event count over the limits), NUDGE_ESYNTAX (not
 * JSON), NUDGE_EINVAL (wrong shape, key or value) with a short reason and
 * its byte offset in d (col = offset + 1, line 0); *b holds nothing to
 * free then and its contents are unspecified.  As with jansson, a syntax
 * error anywhere wins over a shape error, the event count over the
 * envelope's other checks, those over the events.  *n_seen (may be NULL)
 * is set to the number of events the batch claimed, for counting refused
 * ones (0 when it is not JSON).
 */
int beacon_decode(struct beacon *b, const char *body, size_t len,
    const struct beacon_limits *lim, uint64_t now_wall_ms, unsigned *n_seen,
    struct nudge_diag *d);

void beacon_fini(struct beacon *b);

#endif
