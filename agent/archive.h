/*
 * archive.h - the archiver thread: once a second it closes idle sessions
 * and writes them to SQLite in one batch, and flushes the counters and
 * the heatmap pages that changed.
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

struct archiver;

int archive_start(struct archiver **out, struct agent *a,
    struct nudge_diag *d);
/* Stops the thread after a last flush of counters and closed sessions. */
void archive_stop(struct archiver *ar);

#endif
