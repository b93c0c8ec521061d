/*
 * campaign.h - the lifecycle of one A/B/n campaign: state, weights, seed
 * generation, holdout, winner and circuit breaker, versioned so that two
 * operators cannot silently overwrite each other, and its storage form.
 *
 * Lifecycle (every arrow is one function; nothing else changes state):
 *
 *	           camp_start            camp_pause
 *	  +-------+  ------>  +---------+  ------>  +--------+
 *	  | draft |           | running |           | paused |
 *	  +-------+           +---------+  <------  +--------+
 *	                           |     camp_resume    |
 *	                           | camp_stop(winner)  | camp_stop(winner)
 *	                           v                    v
 *	                      +-------------------------------+
 *	                      | stopped (winner gets 100%)    |
 *	                      +-------------------------------+
 *
 *	while running or paused, without a state change:
 *	  camp_set_weights  camp_set_holdout  camp_reshuffle
 *	  camp_trip (the breaker; not versioned)  camp_reset_breaker
 *
 * Invariants:
 * 1. version starts at 1 and grows by exactly one with every accepted
 *    operator change (everything above but camp_trip); stopped is final.
 * 2. An operator change carries the version it was made against
 *    (`expect`).  expect == version: applied.  expect == version - 1 and
 *    the very same change (operation and arguments) was the last one
 *    applied: an idempotent replay (a retry after a lost acknowledgement),
 *    returns 0 and changes nothing.  Any other older expect: NUDGE_ESTALE
 *    (somebody else changed it first; re-read and decide again).  A newer
 *    one: NUDGE_EINVAL.
 * 3. An illegal transition or argument is NUDGE_EINVAL with a message in
 *    the caller's diagnostic, and changes nothing.
 * 4. weights are percent, n_variants of them, each 0..100, summing to 100.
 * 5. The breaker is runtime state an agent sets by itself (camp_trip,
 *    within a second of the guardrail failing, with no operator and no
 *    version, so agents never disagree on versions because of it); only
 *    an operator clears it, with a versioned camp_reset_breaker.
 *
 * What a visitor sees, camp_effective_variant():
 *	draft                      nothing (CAMP_NONE)
 *	running                    their assigned variant
 *	running, breaker tripped   control (variant 0)
 *	paused                     control
 *	stopped                    the winner, for everyone
 *	held out (not stopped)     nothing (CAMP_NONE)
 * Assignment is assign.h's with salt = the campaign's name.
 *
 * Storage and wire form (camp_format / camp_parse): a short key=value
 * text, one line per key in exactly this order, '\n' after each line,
 * every value printable ASCII (no other escaping is needed or allowed):
 *
 *	nudge-campaign 1
 *	name=checkout_banner
 *	version=7
 *	state=running                 draft|running|paused|stopped
 *	generation=0
 *	holdout=500                   basis points
 *	variants=control:50,bold:50   name:weight, first = control
 *	winner=-1                     -1 unless stopped
 *	tripped=0                     0|1
 *	reason=                       why it tripped, empty if not
 *	last=weights 6 50,50          the replay record: op base args, or "-"
 *
 * Text rather than msgpack: the same bytes go into the SQLite row, the
 * audit log and (as one msgpack string) a control reply, readable
 * everywhere without a decoder.  camp_parse is strict: a wrong order, an
 * unknown or missing key, a bad number or a value out of range is
 * NUDGE_ESYNTAX with line and column; a different first line is
 * NUDGE_EVERSION; more than CAMP_TEXT_MAX bytes NUDGE_ETOOBIG.
 *
 * Threads: none of its own.  A struct camp belongs to whoever holds it;
 * the agent keeps the current one behind its own lock and publishes
 * copies.
 */
#ifndef NUDGE_CAMPAIGN_H
#define NUDGE_CAMPAIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assign.h"
#include "err.h"
#include "rules.h"

#define CAMP_VARIANTS_MAX ASSIGN_VARIANTS_MAX
#define CAMP_NAME_MAX RULE_NAME_MAX
#define CAMP_REASON_MAX 160
#define CAMP_TEXT_MAX 2048
#define CAMP_NONE (-1)		/* camp_effective_variant: sees nothing */

enum camp_state {
	CAMP_DRAFT = 0,
	CAMP_RUNNING,
	CAMP_PAUSED,
	CAMP_STOPPED,
	CAMP_STATE_COUNT
};

/* Operator changes, as recorded for replay detection. */
enum camp_op {
	CAMP_OP_NONE = 0,
	CAMP_OP_START,
	CAMP_OP_PAUSE,
	CAMP_OP_RESUME,
	CAMP_OP_STOP,		/* arg[0] = winner */
	CAMP_OP_WEIGHTS,	/* arg[0..n-1] = weights */
	CAMP_OP_HOLDOUT,	/* arg[0] = basis points */
	CAMP_OP_RESHUFFLE,
	CAMP_OP_RESET,		/* camp_reset_breaker */
	CAMP_OP_COUNT
};

struct camp_change {
	uint8_t op;		/* enum camp_op */
	uint64_t base;		/* the version it was applied to */
	uint8_t n_args;
	uint16_t arg[CAMP_VARIANTS_MAX];
};

/* One campaign.  A plain value: copy it freely; no pointers inside. */
struct camp {
	char name[CAMP_NAME_MAX + 1];		/* also the assignment salt */
	uint64_t version;
	uint8_t state;				/* enum camp_state */
	uint32_t generation;			/* bumped by camp_reshuffle */
	uint16_t holdout_bp;			/* 0..9999 */
	uint8_t n_variants;			/* 2..CAMP_VARIANTS_MAX */
	char variant[CAMP_VARIANTS_MAX][CAMP_NAME_MAX + 1];
	uint8_t weight[CAMP_VARIANTS_MAX];	/* percent, sum 100 */
	int8_t winner;				/* stopped: 0..n-1, else -1 */
	bool tripped;
	char reason[CAMP_REASON_MAX + 1];
	struct camp_change last;		/* op NONE: nothing yet */
	struct assign_plan plan;		/* derived from the above */
};

/* "draft", "running", ...; "unknown" for anything else. */
const char *camp_state_name(int state);

/*
 * "start", "pause", "resume", "stop", "weights", "holdout", "reshuffle",
 * "reset"; NULL for CAMP_OP_NONE or anything else.  camp_op_from_name is
 * the inverse: CAMP_OP_NONE for an unknown name.
 */
const char *camp_op_name(int op);
int camp_op_from_name(const char *name);

/*
 * A draft campaign from its declaration in a rule file (names and weights
 * copied): version 1, generation 0, no holdout.  Returns 0, or
 * NUDGE_EINVAL (names, counts or weights invalid; d says which) with *c
 * untouched.
 */
int camp_init(struct camp *c, const struct rule_campaign *rc,
    struct nudge_diag *d);

/*
 * The transitions of the diagram and the other operator changes.  Each
 * returns 0 (applied, version + 1, or an idempotent replay), NUDGE_ESTALE
 * or NUDGE_EINVAL with a message in d (may be NULL); see invariants 2, 3.
 * camp_stop rolls winner (0..n-1; 0 = keep control) out to everyone.
 * camp_set_weights takes n_variants weights.  camp_reshuffle bumps the
 * seed generation: everyone is assigned afresh.
 */
int camp_start(struct camp *c, uint64_t expect, struct nudge_diag *d);
int camp_pause(struct camp *c, uint64_t expect, struct nudge_diag *d);
int camp_resume(struct camp *c, uint64_t expect, struct nudge_diag *d);
int camp_stop(struct camp *c, uint64_t expect, int winner,
    struct nudge_diag *d);
int camp_set_weights(struct camp *c, uint64_t expect, const uint8_t *w,
    unsigned n, struct nudge_diag *d);
int camp_set_holdout(struct camp *c, uint64_t expect, unsigned holdout_bp,
    struct nudge_diag *d);
int camp_reshuffle(struct camp *c, uint64_t expect, struct nudge_diag *d);
int camp_reset_breaker(struct camp *c, uint64_t expect,
    struct nudge_diag *d);

/*
 * Trips the breaker (running or paused only, else NUDGE_EINVAL): everyone
 * sees control from now on.  reason is copied, cut to CAMP_REASON_MAX and
 * anything not printable ASCII replaced by '?', so tripping never fails
 * for a bad reason.  Tripping a tripped campaign keeps the first reason.
 * Not versioned (invariant 5).
 */
int camp_trip(struct camp *c, const char *reason);

/*
 * The visitor's variant under the current weights and generation,
 * whatever the state (for counting): 0..n-1 or ASSIGN_HOLDOUT.  Returns 0
 * or NUDGE_EINVAL for an invalid visitor id; *variant written on success.
 */
int camp_assigned(const struct camp *c, struct nudge_strv visitor,
    int *variant);

/*
 * What the visitor sees (table above): 0..n-1 or CAMP_NONE.  Returns 0 or
 * NUDGE_EINVAL for an invalid visitor id; *variant written on success.
 */
int camp_effective_variant(const struct camp *c, struct nudge_strv visitor,
    int *variant);

/*
 * Writes the text form into buf (cap bytes, NUL-terminated) and its
 * length (without the NUL) into *len.  Returns 0 or NUDGE_ETOOBIG.
 */
int camp_format(const struct camp *c, char *buf, size_t cap, size_t *len);

/*
 * Parses len bytes of text form into *out (written only on success).
 * Returns 0, NUDGE_ETOOBIG, NUDGE_EVERSION or NUDGE_ESYNTAX / NUDGE_EINVAL
 * (d: line and column, message).
 */
int camp_parse(const char *text, size_t len, struct camp *out,
    struct nudge_diag *d);

#endif
