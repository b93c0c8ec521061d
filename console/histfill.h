/*
 * histfill.h - back-filling the console's history from the agents: once
 * per agent and console start, the `history` control request for the
 * minutes the console did not record; the answer's rows go to hist_fill()
 * and its totals become the agent's baseline (hist_set_base), so that the
 * console counts exactly what came after.  A relay's answer (an envelope
 * of every agent behind it, relayenv.h) fills every agent's rows and sets
 * the relay's one baseline to the sum of their totals, under the relay's
 * boot id: the relay is one agent to the history, as to the model.
 *
 * Per agent: WAIT --request sent--> SENT --answer--> DONE; SENT --no
 * answer--> WAIT again, up to HISTFILL_TRIES; and WAIT --HISTFILL_GIVEUP_MS
 * without a control URL--> DONE.  The TUI calls
 * hist_observe() for an agent only once it is DONE (histfill_ready()).
 *
 * Main thread only; answers arrive through link_service().
 */
#ifndef NUDGE_HISTFILL_H
#define NUDGE_HISTFILL_H

#include <stdbool.h>

#include "view.h"

/*
 * Generous: an agent given up on counts only from its next values, so its
 * day so far is missing until the console restarts; on a loaded host the
 * first snapshot or an answer can take tens of seconds.
 */
#define HISTFILL_GIVEUP_MS 30000
#define HISTFILL_TRIES 6

struct histfill;

/* NULL on ENOMEM. */
struct histfill *histfill_new(struct ui *ui);
void histfill_free(struct histfill *hf);

/* Sends the requests that can go now; call once per tick. */
void histfill_tick(struct histfill *hf, struct ui *ui);

/* Whether agent idx's history is settled (its increments may count). */
bool histfill_ready(const struct histfill *hf, unsigned idx);

/* Minutes filled so far, for the footer. */
unsigned histfill_minutes(const struct histfill *hf);

#endif
