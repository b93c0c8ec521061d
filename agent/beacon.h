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
 */
#ifndef NUDGE_BEACON_H
#define NUDGE_BEACON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
 * A decoded batch.  Every string view in ev[] borrows from root, which the
 * batch owns: beacon_fini() releases it.  n events in ev[].
 */
struct beacon {
	json_t *root;
	struct nudge_strv visitor;
	bool consent;
	bool webdriver;
	unsigned n;
	struct nudge_event ev[BEACON_MAX_EVENTS];
};

/*
 * Parses len bytes (need not be NUL-terminated) into *b, validating every
 * event with event_validate().  Client timestamps further than 10 minutes
 * from now_wall_ms are replaced by 0 (now): browser clocks drift.  Returns
 * 0 (b owns its JSON, call beacon_fini), or NUDGE_ETOOBIG (body or event
 * count over the limits), NUDGE_ESYNTAX (not JSON), NUDGE_EINVAL (wrong
 * shape, key or value) with a short reason in d->msg; *b holds nothing to
 * free then.  *n_seen (may be NULL) is set to the number of events the
 * batch claimed, for counting refused ones.
 */
int beacon_decode(struct beacon *b, const char *body, size_t len,
    const struct beacon_limits *lim, uint64_t now_wall_ms, unsigned *n_seen,
    struct nudge_diag *d);

void beacon_fini(struct beacon *b);

#endif
