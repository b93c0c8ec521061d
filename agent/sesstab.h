/*
 * sesstab.h - the live session table: visitor id -> live session, sharded.
 *
 * Beacons need their answer in the same round trip, so sessions cannot sit
 * behind a queue to one thread.  The table is split into shards by the
 * visitor id's hash; each shard has its own lock, hash table, session
 * storage, page-name interning and counters, so every ingest thread updates
 * sessions directly and threads contend only when they touch the same shard.
 * Readers (publisher, archiver, control queries) lock one shard at a time.
 *
 * Session lifecycle: see common/session.h.  sesstab_apply() creates and
 * updates (LIVE), sesstab_expire() closes idle sessions (CLOSED) and hands
 * them to the caller for archiving; sesstab_forget() closes one at once.
 *
 * Counters: each shard counts into its own struct agg; sesstab_sum() adds
 * the shards up.  Gauges are recomputed by sesstab_expire() each sweep.
 */
#ifndef NUDGE_SESSTAB_H
#define NUDGE_SESSTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "err.h"
#include "event.h"
#include "funnel.h"
#include "session.h"

struct sesstab;

struct sesstab_config {
	unsigned shards;		/* 1..256 */
	uint32_t timeout_ms;		/* inactivity closing a session */
	const struct funnel *funnel;	/* borrowed; must outlive the table */
};

/* Returns 0 and *out, or NUDGE_EINVAL / NUDGE_ENOMEM. */
int sesstab_new(struct sesstab **out, const struct sesstab_config *cfg);
/* Frees everything, live sessions included (archive them first). */
void sesstab_free(struct sesstab *t);

/*
 * Applies one validated event at monotonic time now_ms (wall-clock time is
 * taken from ev->ts_ms, or now_wall_ms when that is 0).  Bot events are
 * counted but create no session.  Returns 0 or NUDGE_ENOMEM (the event is
 * then counted as rejected).
 */
int sesstab_apply(struct sesstab *t, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms);

/*
 * What the rule engine needs of a live session right after an event
 * (sesstab_apply_view): a copy, taken under the shard's lock.
 */
struct sesstab_view {
	bool live;		/* false: a bot's event, no session */
	bool created;		/* this event started the session */
	bool email;		/* an email event was seen */
	uint8_t step, source, device;
	char country[3];
	uint64_t started_ms, last_ms;	/* wall clock */
	uint32_t pages, events;
	uint32_t cart_items;
	int64_t cart_cents;
	int32_t score;		/* before any rule of this event */
	uint16_t path_seq;	/* path entries written so far (wrapping):
				 * for sesstab_add_score_at */
	char utm_campaign[SESSION_CAMPAIGN_MAX];
	char utm_source[SESSION_CAMPAIGN_MAX];
	char utm_medium[SESSION_CAMPAIGN_MAX];
};

/* sesstab_apply, and a copy of the session afterwards in *view (may be NULL). */
int sesstab_apply_view(struct sesstab *t, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms, struct sesstab_view *view);

/*
 * sesstab_apply_view for n events at once: rv[i] and views[i] (views may
 * be NULL) are what sesstab_apply_view would give for ev[i].  The events
 * are grouped by shard and each shard's lock is taken once per batch; a
 * visitor's events are applied in batch order (events of different shards
 * may interleave otherwise, as with concurrent callers).  Returns 0, or
 * NUDGE_ENOMEM with nothing applied.
 */
int sesstab_apply_batch(struct sesstab *t, const struct nudge_event *const *ev,
    size_t n, uint64_t now_ms, uint64_t now_wall_ms,
    struct sesstab_view *views, int *rv);

/*
 * Adds delta to the live session's score (saturating), so rules' `score`
 * clauses show in the console, and to the score of its newest path step
 * (each step keeps the score its visitor had once that event and its
 * rules were done: the score history).  Call it right after the event's
 * sesstab_apply_view.  Returns 0 or NUDGE_ENOTFOUND.
 */
int sesstab_add_score(struct sesstab *t, struct nudge_strv visitor,
    int32_t delta);
/*
 * The same for an event whose view (path_seq) was taken before later
 * events of the visitor were applied (sesstab_apply_batch): the delta goes
 * to the step that was newest in the view and to every step since, whose
 * scores were copied from the session before the delta came.
 */
int sesstab_add_score_at(struct sesstab *t, struct nudge_strv visitor,
    int32_t delta, uint16_t path_seq);

/*
 * Experiment marks (agent/camprt.h): SESSION_XSLOTS 16-bit words per live
 * session, zero when the session starts.  For each m[i]: if the slot's
 * word is 0 it becomes m[i].init; then m[i].set is ORed in, except in the
 * bits of m[i].high (one run of contiguous bits holding a number), which
 * become the larger of the word's number and set's there (a maximum kept
 * without a read and a write racing); m[i].had gets the word before,
 * m[i].now after.  All under one lock of the session's shard.  Returns 0
 * or NUDGE_ENOTFOUND (no live session: nothing written).
 */
struct sesstab_mark {
	uint8_t slot;		/* < SESSION_XSLOTS */
	uint16_t init, set;
	uint16_t had, now;	/* out */
	uint16_t high;		/* 0: plain OR */
};
int sesstab_mark(struct sesstab *t, struct nudge_strv visitor,
    struct sesstab_mark *m, size_t n);
/* Zeroes one slot in every live session (a slot changing owner). */
void sesstab_clear_slot(struct sesstab *t, unsigned slot);

/* Counts n refused events (bad rows) in the table's counters. */
void sesstab_count_rejected(struct sesstab *t, uint64_t n);

/* out = sum of every shard's counters and sketch, plus current gauges. */
void sesstab_sum(struct sesstab *t, struct agg *out);

/*
 * Closes sessions idle for the timeout at monotonic time now_ms (all live
 * sessions when now_ms is UINT64_MAX), refreshes the gauges, and calls
 * sink(arg, summaries, n) with batches of closed sessions.  The sink gets
 * copies and is called with no shard lock held, so it may block on disk.
 * Returns the number closed.
 */
typedef void (*sesstab_sink)(void *arg, const struct session_summary *v,
    size_t n);
size_t sesstab_expire(struct sesstab *t, uint64_t now_ms, sesstab_sink sink,
    void *arg);

/*
 * Restores a session saved at shutdown (live, not closed), as if its events
 * had been applied: counters are not touched (they were saved too).
 * Returns 0, NUDGE_EEXIST if the visitor is already live, NUDGE_ENOMEM.
 */
int sesstab_restore(struct sesstab *t, const struct session_summary *s,
    uint64_t now_ms);

/*
 * Copies up to cap sessions changed since the last call into out (each
 * changed session is reported once per change burst).  Returns how many.
 */
size_t sesstab_changed(struct sesstab *t, struct session_summary *out,
    size_t cap);

/*
 * Copies up to cap of the most recent accepted events into out, as owned
 * samples, oldest first; each is handed out once.  Returns how many.
 */
struct sesstab_event {
	uint64_t ts_ms;
	uint8_t type;
	uint8_t device;
	char country[3];
	char visitor[EVENT_VISITOR_MAX + 1];
	char page[SESSION_PAGE_MAX];
	char name[EVENT_NAME_MAX + 1];
	int64_t value_cents;
};
size_t sesstab_recent_events(struct sesstab *t, struct sesstab_event *out,
    size_t cap);

/*
 * The `sessions` query: live sessions matching the filter q (qfilter.h:
 * free text is a substring of the visitor, country, last page, campaign,
 * source or device name; country:, source:, device:, page:, score>N and
 * score<N words narrow it; NULL or "" for all; a bad filter is
 * NUDGE_EINVAL), in sort order,
 * skipping off, at most lim into out.  *total is the number matching.
 * Cost: one pass over the table with a bounded top-(off+lim) selection.
 */
int sesstab_query(struct sesstab *t, int sort, const char *q, size_t off,
    size_t lim, struct session_summary *out, size_t *n, size_t *total);

/*
 * One visitor's live session and path (oldest first, at most cap steps).
 * Returns 0 or NUDGE_ENOTFOUND.
 */
int sesstab_visitor(struct sesstab *t, struct nudge_strv visitor,
    struct session_summary *s, struct session_step *path, size_t cap,
    size_t *n);

/* Removes a visitor's live session without archiving it (privacy). */
int sesstab_forget(struct sesstab *t, struct nudge_strv visitor);

/* Live sessions and bytes the table holds (for bytes-per-session figures). */
void sesstab_memory(struct sesstab *t, size_t *sessions, size_t *bytes);
/* sizeof the per-session struct: the reference for the figures above. */
size_t sesstab_struct_size(void);

#endif
