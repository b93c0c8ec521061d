/*
 * archive.h - the archiver: once a second one thread closes idle sessions
 * and writes them to SQLite in one batch with the heatmap pages that
 * changed, and another flushes the counters every half second (on their
 * own, so that a slow batch never delays them: a kill -9 loses at most
 * about a second, even when the thread wakes late).
 *
 * Nothing on an ingest path waits for it.  When a write fails (disk full,
 * database locked) the closed sessions stay queued in memory (bounded:
 * ARCHIVE_BACKLOG_MAX, the oldest are dropped and counted beyond that),
 * the failure is counted and shown in the snapshot, and the next tick
 * retries, so writes resume by themselves when the disk has room again.
 */
#ifndef NUDGE_ARCHIVE_H
#define NUDGE_ARCHIVE_H

#include "agent.h"

#define ARCHIVE_BACKLOG_MAX 200000

/*
 * Retention: the archiver also runs store_purge() with the [agent]
 * retention_ids_days / retention_data_days limits when it starts (before
 * any socket listens) and every ARCHIVE_PURGE_MS after (PRIVACY.md), and
 * drops the rules' visitor memory that old (rrt_purge).  It drops from a
 * batch the sessions of visitors forgotten meanwhile (agent/forgot.h).
 */
#define ARCHIVE_PURGE_MS (3600u * 1000u)

struct archiver;

/*
 * Per-minute counters (store_save_minute), written when a wall-clock
 * minute closes and kept ARCHIVE_MINUTES_KEEP_MS: the growth of the
 * counters below during the minute, and the visitors_active gauge at its
 * end.  Distinct visitors are not kept per minute (a sketch is 4 KB):
 * sessions_started is the visitors proxy.  The totals at the start of the
 * open minute are kept in the store's meta under ARCHIVE_MINUTE_META, so
 * that `history` can answer for the open minute too (before the first
 * tick of a new database: the current minute from agent.base).  A stop
 * closes no minute; the next run's first tick continues it, or writes its
 * row when the minute has passed.
 */
#define ARCHIVE_MINUTE_MS 60000u
#define ARCHIVE_MINUTES_KEEP_MS (8ull * 24 * 3600 * 1000)
#define ARCHIVE_SERIES (4 + AGG_STEPS_MAX)
#define ARCHIVE_MINUTE_META "minutes.base"

/* The agg counter slot of series i (0..ARCHIVE_SERIES-1). */
int archive_series_slot(unsigned i);

/*
 * Reads the open minute's start and the totals then (see above).  Returns
 * 0, NUDGE_ENOTFOUND before the first flush, or a store error.
 */
int archive_minute_base(struct store *st, uint64_t *minute_ms,
    uint64_t v[ARCHIVE_SERIES]);

int archive_start(struct archiver **out, struct agent *a,
    struct nudge_diag *d);
/* Stops the thread after a last flush of counters and closed sessions. */
void archive_stop(struct archiver *ar);

#endif
