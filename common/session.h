/*
 * session.h - what a session looks like outside the agent's session table.
 *
 * A session_summary is the self-contained, owned copy of one visitor's live
 * or closed session: it is what the agent publishes (WIRE_SESSION), answers
 * to the `sessions` control command, and writes to SQLite when a session
 * closes.  A session_step is one entry of a visitor's path.  Both own their
 * strings (fixed arrays), so they can be queued and copied freely.
 *
 * Session lifecycle (the agent's session table makes the transitions):
 *
 *	(none) --first event--> LIVE --event--> LIVE
 *	                          |
 *	              inactivity timeout or forget
 *	                          v
 *	                       CLOSED --archived--> SQLite
 */
#ifndef NUDGE_SESSION_H
#define NUDGE_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "event.h"

#define SESSION_PAGE_MAX 128	/* pages are stored truncated to this */
#define SESSION_CAMPAIGN_MAX 64
#define SESSION_PATH_MAX 32	/* path entries kept per live session */
#define SESSION_XSLOTS 16	/* experiment marks per session (camprt.h) */

struct session_summary {
	char visitor[EVENT_VISITOR_MAX + 1];
	uint64_t started_ms;	/* wall clock of the first event */
	uint64_t last_ms;	/* wall clock of the latest event */
	uint32_t pages;		/* page views */
	uint32_t events;	/* all events */
	uint8_t step;		/* funnel steps reached, 0..funnel length */
	uint8_t source;		/* enum event_source */
	uint8_t device;		/* enum event_device */
	bool closed;
	char country[3];
	uint32_t cart_items;
	int64_t cart_cents;
	uint32_t purchases;
	int64_t revenue_cents;
	int32_t score;		/* behavioural score */
	char last_page[SESSION_PAGE_MAX];
	char utm_campaign[SESSION_CAMPAIGN_MAX];
	/* experiment marks (agent/camprt.h), kept across a graceful
	 * restart with the live session; not archived, not on the wire */
	uint16_t xmarks[SESSION_XSLOTS];
};

/*
 * One step of a visitor's path: what happened, when, and the session's
 * score once that event and its rules were done (later rules of events
 * that are not path steps, clicks say, count towards the step before).
 */
struct session_step {
	uint64_t ts_ms;
	uint8_t type;		/* enum event_type */
	char page[SESSION_PAGE_MAX];
	bool has_score;		/* false: an agent that did not report it */
	int32_t score;
};

/* Orders for the `sessions` query. */
enum session_sort {
	SESSION_SORT_RECENT = 0, /* last_ms, newest first */
	SESSION_SORT_SCORE,	 /* score, highest first */
	SESSION_SORT_VALUE,	 /* cart + revenue, highest first */
	SESSION_SORT_PAGES,	 /* page views, most first */
	SESSION_SORT_COUNT
};

const char *session_sort_name(int sort);
int session_sort_from_name(const char *name); /* -1 if unknown */

/*
 * Returns <0, 0, >0 as a sorts before, ties, or after b in the given order;
 * ties are broken by visitor id so that pages of a listing are stable.
 */
int session_compare(const struct session_summary *a,
    const struct session_summary *b, int sort);

#endif
