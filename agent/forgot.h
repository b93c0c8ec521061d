/*
 * forgot.h - the visitors forgotten lately (`forget`, agent/cmd_privacy.c),
 * for the two parts of the agent that must hear of it after the fact:
 *
 *  - the publisher announces them in every snapshot for FORGOT_KEEP_MS
 *    ("forgot": [hash...], common/wire.h), so that connected consoles drop
 *    them from what they show;
 *  - the archiver drops a closed session of a forgotten visitor from the
 *    batch it is about to write.  A session may be closed (taken out of the
 *    session table) just before the forget and written just after it; the
 *    barrier closes that window: the archiver holds it from checking its
 *    batch to committing it, and `forget` records the visitor, then passes
 *    the barrier, then deletes from the store.  So a batch either saw the
 *    visitor (and dropped them) or was on disk before the delete.
 *
 * Visitors are kept as wire_visitor_hash() of their id, never the id.
 * Bounded: FORGOT_MAX entries, the oldest replaced first.
 *
 * Threads: any; one mutex for the list, another for the barrier.  Every
 * function accepts f NULL (an agent built without it, in tests): nothing
 * recorded, nothing found.
 */
#ifndef NUDGE_FORGOT_H
#define NUDGE_FORGOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

#define FORGOT_MAX 64
#define FORGOT_KEEP_MS 60000u

struct forgot;

int forgot_new(struct forgot **out);
void forgot_free(struct forgot *f);

/* Records visitor as forgotten at monotonic now_ms. */
void forgot_add(struct forgot *f, struct nudge_strv visitor, uint64_t now_ms);

/* Whether visitor was forgotten within FORGOT_KEEP_MS before now_ms. */
bool forgot_has(struct forgot *f, struct nudge_strv visitor, uint64_t now_ms);

/*
 * Writes the hashes of the visitors forgotten within FORGOT_KEEP_MS before
 * now_ms, newest first, at most cap; returns how many.
 */
size_t forgot_list(struct forgot *f, uint64_t now_ms, uint64_t *out,
    size_t cap);

/* The archiver's barrier (see above).  f may be NULL: no-ops. */
void forgot_barrier_lock(struct forgot *f);
void forgot_barrier_unlock(struct forgot *f);

#endif
