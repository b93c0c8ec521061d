/*
 * campview.h - what the console knows about the fleet's campaigns, and the
 * pure logic of changing them: no I/O, no ncurses, so it is unit-tested
 * (tests/test_campview.c) by filling a struct model's snapshots.
 *
 * The book (struct campview) keeps one entry per campaign name heard from
 * any agent, in the order first heard (the first agent's declaration
 * order), across refreshes: each entry's struct campstat carries the
 * always-valid test's state from one look to the next, so it must live as
 * long as the console does (campstat.h).  An entry no agent reports any
 * more is dropped.  Per entry and agent: whether the agent reports the
 * campaign, at which version and in which state.  The fleet's view of a
 * campaign is the highest version reported (ties: the first agent's), as
 * campstat merges it; agents at another version or state are drift.
 *
 * A change (struct campview_req: pause, weights, ...) becomes a plan: one
 * wire_camp_change per agent that reports the campaign in a state the
 * change applies to, each with expect = that agent's own reported
 * version, so an agent that moved on meanwhile answers NUDGE_ESTALE
 * instead of being overwritten (campaign.h invariant 2).
 *
 * Single-threaded: the console's main thread owns the book.
 */
#ifndef NUDGE_CAMPVIEW_H
#define NUDGE_CAMPVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "campaign.h"
#include "campstat.h"
#include "conf.h"
#include "model.h"
#include "stats.h"
#include "wire.h"

#define CAMPVIEW_MAX (2 * WIRE_CAMPS_MAX) /* campaigns kept by name */

/* What one agent says about one campaign. */
struct campview_agent {
	bool reports;     /* up, with a snapshot that declares it */
	uint64_t version; /* when reports */
	uint8_t state;    /* enum camp_state, when reports */
	bool tripped;
};

struct campview_camp {
	char name[CAMP_NAME_MAX + 1];
	uint64_t version;   /* the highest reported */
	uint8_t state;      /* at that version (first agent's) */
	unsigned n_report;  /* agents reporting it */
	unsigned n_agree;   /* of those, at version and state */
	struct campstat cs; /* merged results; kept across updates */
	struct campview_agent agent[CONF_AGENTS_MAX];
};

struct campview {
	unsigned n_agents;
	unsigned n; /* entries of camp[] in use */
	struct stats_policy pol;
	struct campview_camp camp[CAMPVIEW_MAX];
};

/*
 * A book for n_agents (1..CONF_AGENTS_MAX) agents, judged under pol
 * (copied; NULL: campstat_policy_default).  NULL on a bad count or
 * without memory.  campview_free(NULL) does nothing.
 */
struct campview *campview_new(
    unsigned n_agents, const struct stats_policy *pol);
void campview_free(struct campview *cv);

/*
 * Recomputes the book from the snapshots of the agents that are up (the
 * others count as not reporting) at wall time wall_ms: new names are
 * added (while there is room), names nobody reports are dropped, every
 * entry's merge and statistics recomputed (campstat_update).
 */
void campview_update(
    struct campview *cv, const struct model *m, uint64_t wall_ms);

/* The entry of that name, or NULL.  Borrowed until the next update. */
const struct campview_camp *campview_find(
    const struct campview *cv, const char *name);

/* Every one of the n_agents agents reports the campaign, all agreeing. */
bool campview_settled(const struct campview_camp *c, unsigned n_agents);

/*
 * How far the agents agree, into buf (cap bytes, NUL-terminated; cut to
 * fit): "3/3 agents" when all agree, else "2/3 at v4" followed by each
 * other agent, "c at v3 running", "c down", "c: not declared".  Agents are
 * named by the model (m), "#N" until their name is known.
 */
void campview_drift(const struct campview_camp *c, const struct model *m,
    char *buf, size_t cap);

/* An operator's change of one campaign, before it is planned. */
struct campview_req {
	uint8_t op;        /* enum camp_op */
	int winner;        /* CAMP_OP_STOP: variant index, 0 = control */
	uint8_t n_weights; /* CAMP_OP_WEIGHTS */
	uint8_t weights[CAMP_VARIANTS_MAX];
	uint16_t holdout_bp; /* CAMP_OP_HOLDOUT */
};

/*
 * Whether op applies to a campaign in state: start from draft; pause from
 * running; resume from paused; stop, weights, holdout, reshuffle and reset
 * from running or paused.
 */
bool campview_op_applies(int op, int state);

/*
 * The plan of rq on c over n_agents agents: for each agent i that reports
 * c in a state rq->op applies to, send[i] = true and out[i] = the change
 * with expect = agent i's version; send[i] = false for the others.
 * Returns how many agents will be sent a change (0: nothing to do).
 */
unsigned campview_plan(const struct campview_camp *c, unsigned n_agents,
    const struct campview_req *rq, struct wire_camp_change *out, bool *send);

/*
 * The confirmation question of a plan, into buf: "pause checkout_banner v4
 * on a, b, c? y/n"; for stop "stop checkout_banner v4, roll variant_b out
 * to everyone, on a, b? y/n"; weights "set weights 50,50 of ...", holdout
 * "set holdout 5% of ...".  An agent at another version than c's is
 * named with its own ("c (v3)").
 */
void campview_confirm(const struct campview_camp *c, const struct model *m,
    const struct campview_req *rq, const bool *send, char *buf, size_t cap);

/*
 * One agent's acknowledgement, into buf: err != 0 (no reply): "no answer"
 * (NUDGE_ETIMEOUT) or "no answer: no control link"; status 0: "ok:
 * paused v5" (from now, the campaign as the agent answered it; NULL:
 * "ok"); NUDGE_ESTALE: "stale: <message>"; any other status "refused:
 * <message>".
 */
void campview_ack(int err, int status, const char *message,
    const struct wire_campaign *now, char *buf, size_t cap);

/*
 * Parses "50,50" (spaces allowed, one integer percent per variant, n of
 * them, summing to 100) into w.  Returns 0, or NUDGE_EINVAL with the
 * reason in why (cap bytes); w written only on success.
 */
int campview_parse_weights(
    const char *text, unsigned n, uint8_t *w, char *why, size_t cap);

/*
 * Parses a holdout percentage ("5", "2.5", "0", an optional '%'; 0 to
 * 99.99, at most two decimals) into basis points.  Returns 0 or
 * NUDGE_EINVAL with the reason in why; *bp written only on success.
 */
int campview_parse_holdout(
    const char *text, uint16_t *bp, char *why, size_t cap);

#endif
