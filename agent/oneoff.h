/*
 * oneoff.h - what an operator sends to one visitor by hand (the console's
 * session detail, `nudge message`): a banner, message, popup or coupon
 * field queued under the visitor's id and delivered once, with that
 * visitor's next beacon answer, then forgotten.
 *
 * Only a beacon that may carry decisions takes it (agent/http.c asks only
 * for visitors who consented, without DNT or GPC, and are not bots), so a
 * message obeys the same restraint as a rule's.  Bounded: one pending
 * message per visitor (a newer one replaces it: the operator changed their
 * mind), at most ONEOFF_MAX pending in all, each dropped after
 * ONEOFF_TTL_MS unseen.  Pending messages live in memory only: an operator
 * message is a gesture for a visitor on the site now, not a promise.
 *
 * Threads: every function on any thread.  oneoff_take costs one atomic
 * load while nothing is pending (every beacon calls it).
 */
#ifndef NUDGE_ONEOFF_H
#define NUDGE_ONEOFF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "rules_rt.h"

#define ONEOFF_MAX 1024
#define ONEOFF_TTL_MS (30u * 60u * 1000u)

struct oneoff;

int oneoff_new(struct oneoff **out);
void oneoff_free(struct oneoff *q);

/*
 * Queues d for visitor at monotonic time now_ms, under a decision id of its
 * own, "op-N" (d->id is not used): the tag shows one decision per id and
 * kind per page view, so two messages under one id would show only the
 * first.  N counts the messages queued, from a random start (a restarted
 * agent, or another agent, does not hand a page view an id it has seen);
 * rule names cannot hold a '-', so no rule's decision takes it either.
 * Returns 0 (*replaced: whether a message was pending for them),
 * NUDGE_EINVAL (empty or too long visitor id), NUDGE_EFULL (ONEOFF_MAX
 * pending and none expired).
 */
int oneoff_put(struct oneoff *q, struct nudge_strv visitor,
    const struct rrt_decision *d, uint64_t now_ms, bool *replaced);

/* Moves the visitor's pending message into *d; false if none (or expired). */
bool oneoff_take(struct oneoff *q, struct nudge_strv visitor, uint64_t now_ms,
    struct rrt_decision *d);

/* Messages pending and not expired at now_ms. */
size_t oneoff_pending(struct oneoff *q, uint64_t now_ms);

#endif
