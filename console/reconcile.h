/*
 * reconcile.h - automatic drift reconciliation in the interactive console
 * ([console] reconcile = auto, or --reconcile auto).
 *
 * The desired rule set is the highest active version in force over the
 * agents that are up.  An agent that stays behind it for RECONCILE_GRACE_MS
 * (so that a push still being acknowledged elsewhere is not raced) is
 * brought up to date: the text of that version is fetched with rules_get
 * from an agent that has it, then pushed with rules_put under the same
 * version.  Each agent is pushed a given version at most once, whatever
 * the answer (a refusal is shown, not retried); only a push that could
 * not be sent is tried again.  A read-only console never pushes: it only
 * shows the drift.
 *
 *	IDLE --an agent behind, text of desired unknown--> FETCH
 *	FETCH --reply (reconcile_on_text)--> IDLE (text kept)
 *	IDLE --an agent behind, text known (reconcile_push)--> IDLE
 *	      (rules_put sent; reconcile_on_ack records the answer)
 *
 * Main thread only: called from the TUI's tick; the replies arrive
 * through link_service()/link_tick() on the same thread.
 */
#ifndef NUDGE_RECONCILE_H
#define NUDGE_RECONCILE_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "conf.h"
#include "link.h"
#include "model.h"

#define RECONCILE_GRACE_MS 1000
#define RECONCILE_RETRY_MS 2000

struct reconcile {
	bool enabled;		/* auto, and allowed to push */
	bool fetching;		/* a rules_get is in flight */
	uint64_t retry_ms;	/* no fetch before this (mono) */
	char *text;		/* of text_version; NULL until fetched */
	size_t len;
	uint64_t text_version;
	/* per agent: the highest version sent; when first seen behind (0:
	 * not behind); the last answer ("" if none) and when (mono) */
	uint64_t pushed[CONF_AGENTS_MAX];
	uint64_t behind_ms[CONF_AGENTS_MAX];
	char ack[CONF_AGENTS_MAX][80];
	uint64_t ack_ms[CONF_AGENTS_MAX];
	char status[128];	/* news for the status line, "" if none */
	msgpack_sbuffer sb;
	const struct model *model;	/* borrowed, set by each tick */
};

/* Sets r up; enabled is false for manual mode and read-only consoles. */
void reconcile_init(struct reconcile *r, bool enabled);
void reconcile_fini(struct reconcile *r);

/*
 * Looks for agents behind and fetches or pushes as the diagram says.
 * Call once per refresh tick; does nothing when not enabled.
 */
void reconcile_tick(struct reconcile *r, struct model *m,
    struct link *links, unsigned n, uint64_t now_ms);

/*
 * The last automatic push's answer for agent idx ("" if none), borrowed;
 * *at_ms gets when it was written (mono clock, 0 if never).
 */
const char *reconcile_ack(const struct reconcile *r, unsigned idx,
    uint64_t *at_ms);

#endif
