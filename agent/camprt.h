/*
 * camprt.h - the agent's campaign runtime: the campaigns the active rule
 * set declares, run with common/campaign.h's state machine; the variant
 * every visitor gets (for the rule engine and the console); the
 * per-variant counters; the rules' holdout experiments; and the circuit
 * breaker.
 *
 * State.  One struct camp per campaign name, kept in the store (schema v8,
 * synchronous=FULL) together with every version it went through.  A change
 * (crt_change) is applied to a copy, persisted, then swapped in under the
 * runtime's lock before crt_change returns: an acknowledged change survives
 * a crash, and the next event is assigned under it.  When the active rule
 * set changes (rules_rt's swap hook) each campaign it declares keeps its
 * stored state if the stored variant names are the declared ones, in the
 * same order; otherwise (a new name, or its variants changed) it starts
 * over as a draft whose version follows the stored one, counters at zero
 * (its replay record says "reset" on the stored version: campaign.h wants
 * one for every version but 1).
 * Campaigns no longer declared stay in the store, not run, not listed.
 *
 * Counting (crt_observe, once per event after the rules): the unit is the
 * session, which lives in one agent, so counters add up across agents.
 * While a campaign runs with its breaker untripped, a live session is
 * counted (n) in its assigned variant at its first event; held-out
 * visitors are not counted.  It is counted once more (x) at the first
 * event meeting the goal, and once per guardrail (g[i]) likewise, in the
 * variant it was first counted in even if weights change meanwhile.  A goal
 * or guardrail is met by an event that matches that step of the campaign's
 * funnel (funnel_step_matches, order not required), by an event of that
 * type or custom name, or, for "revenue", by a purchase; revenue adds up
 * the value of every purchase of a counted session.  Steps: a counted
 * session is counted once at each step of the shop funnel (the agent's
 * own, sesstab_view.step; the one the funnel view draws) it reaches, in
 * the same variant; at its first counted event every step it already
 * reached, and a step reached while the campaign did not count (paused)
 * at its next counted event.  Paused, stopped, tripped and draft
 * campaigns count nothing new.
 *
 * Rule experiments: a rule of the active set with a holdout is counted the
 * same way from the beacon path (the only one that shows anything): a
 * session is counted treated (shown) or held out at the rule's first match
 * in it, and converted at its first purchase after that.
 *
 * Session marks: which campaign or rule a session was counted in, and what
 * it met, live in the session table (sesstab_mark) in one of
 * SESSION_XSLOTS slots.  Slots go to running and paused campaigns first,
 * then to holdout rules in file order; what gets no slot is not counted
 * (crt_fill_snapshot says so with zero arms and a log line, never silently
 * wrong figures).  A slot given to something else is cleared in every live
 * session before it is used.
 *
 * Breaker: once a second (crt_start's thread; also crt_tick for tests) for
 * each running campaign, each variant and each guardrail, the breaker trips
 * (camp_trip, reason naming the variant, guardrail, rates) when the
 * always-valid confidence sequence of (variant rate - control rate) lies
 * wholly below -max_drop x control rate, with at least CRT_BREAKER_MIN_N
 * sessions in both arms.  From the next event everybody sees control.
 * The breaker is each agent's own decision on its own counters.
 *
 * Counters are saved about once a second and at crt_flush; a change of
 * state (the breaker's trips and slot changes included) is saved at once.
 * The marks live in the session table and go to the store with the live
 * sessions at a graceful stop (session_summary.xmarks), so a restart does
 * not count a live session again: create the runtime after the live
 * sessions are restored (the slots stored are then trusted as they are).
 *
 * Threads: crt_variant and crt_observe on any thread at once (a mutex held
 * for a few hundred nanoseconds); crt_change, crt_list and the snapshot
 * from command and publisher threads; crt_new/crt_free with no other
 * thread using it.
 */
#ifndef NUDGE_CAMPRT_H
#define NUDGE_CAMPRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "campaign.h"
#include "err.h"
#include "event.h"
#include "rules_rt.h"
#include "sesstab.h"
#include "store.h"
#include "wire.h"

#define CRT_BREAKER_MIN_N 200	/* sessions per arm before a trip */
#define CRT_BREAKER_ALPHA 0.01	/* confidence sequence level */

struct crt;

/*
 * Creates the runtime on the store and session table (both borrowed, must
 * outlive it), loads the stored campaigns, and hooks into rr: registers
 * itself as rr's variant function and swap hook, so it sees the active set
 * in force now and every later one.  Returns 0 and *out, or NUDGE_ENOMEM /
 * a store error with d->msg.
 */
int crt_new(struct crt **out, struct store *st, struct sesstab *t,
    struct rrt *rr, struct nudge_diag *d);
/* Unhooks from rr (rrt_set_variant_fn/swap_fn NULL), saves, frees. */
void crt_free(struct crt *c);

/* Starts / stops the once-a-second thread (breaker, counters to disk). */
int crt_start(struct crt *c);
void crt_stop(struct crt *c);
/* Evaluates the breakers now (now_wall_ms for the reason's timestamp). */
void crt_tick(struct crt *c, uint64_t now_wall_ms);
/* Saves counters and marks now. */
int crt_flush(struct crt *c);

/*
 * rrt_variant_fn: what visitor sees of campaign `campaign` of set (index
 * in rule_set_campaign), camp_effective_variant's answer, -1 for none.
 * Found by the campaign's name, so a set being replaced is still answered.
 */
int crt_variant(void *arg, const struct rule_set *set, unsigned campaign,
    struct nudge_strv visitor);

/*
 * Counts one event of the session sv (after sesstab_apply_view and
 * rrt_eval; shown is the beacon path's rrt_shown or NULL).  Bots and events
 * without a live session count nothing.
 */
void crt_observe(struct crt *c, const struct nudge_event *ev,
    const struct sesstab_view *sv, const struct rrt_shown *shown);

/*
 * Applies an operator's change to the campaign ch->name (see wire.h
 * campaign_change for the statuses); who and the texts before and after go
 * to the store's campaign history.  *now gets the campaign as it is after
 * the call (also on NUDGE_ESTALE, so the caller can say what changed).
 */
int crt_change(struct crt *c, const struct wire_camp_change *ch,
    const char *who, struct wire_campaign *now, struct nudge_diag *d);

/* Copies up to cap campaigns of the active set, declaration order. */
size_t crt_list(struct crt *c, struct wire_campaign *out, size_t cap);

/*
 * Fills s->camps (at most WIRE_CAMPS_MAX) and the lift counters of the
 * rules already in s->rules (matched by name; call after
 * rrt_fill_snapshot).
 */
void crt_fill_snapshot(struct crt *c, struct wire_snapshot *s);

#endif
