/*
 * history.h - the console's own per-minute history of the merged
 * aggregates, so that sparklines, "today" and "same hour yesterday"
 * survive a console restart.
 *
 * A minute's row holds, per series, how much the fleet's counters grew
 * during that minute (events, sessions started, purchases, revenue, each
 * funnel step) and the active-visitor gauge at the minute's end.  Growth
 * is measured per agent (hist_observe: the increment since the same
 * agent's previous observation, only while its boot id holds), so an agent
 * joining, leaving or restarting never shows as a spike.  Series are named
 * by their agg slot names ("events", "purchases", "funnel.2", gauge
 * "visitors_active"), the names the agents' own `history` command uses.
 *
 * Distinct visitors are not kept per minute (a HyperLogLog per minute is
 * 4 KB): sessions started is the visitors proxy in sparklines.
 *
 * Storage: SQLite (WAL), table minutes(minute, name, value), minute = ms
 * since the epoch at the start of the minute; rows older than
 * HIST_KEEP_MS are deleted as minutes close.  The last HIST_RING_MIN
 * minutes are also kept in memory; the views read only memory.
 *
 * Back-fill: every agent is asked once per console start, and its
 * answer's minutes are added (hist_fill) to every minute an earlier run of
 * the console did not record: minutes it was not running, and the minutes
 * this run has recorded so far, which hold none of that agent's growth
 * (an agent is observed only after its answer).  So the sum is the
 * fleet's whichever order the answers come in and whatever minute
 * boundary falls between them; hist_fill_commit() writes them.
 *
 * Main thread only (the console is single-threaded).
 */
#ifndef NUDGE_HISTORY_H
#define NUDGE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "err.h"

#define HIST_MINUTE_MS 60000u
#define HIST_RING_MIN (26 * 60)                /* minutes kept in memory */
#define HIST_KEEP_MS (8ull * 24 * 3600 * 1000) /* kept on disk */

enum hist_series {
	HIST_EVENTS = 0,
	HIST_SESSIONS, /* sessions started: also the visitors proxy */
	HIST_PURCHASES,
	HIST_REVENUE,  /* cents */
	HIST_VISITORS, /* gauge: active visitors at the minute's end */
	HIST_FUNNEL0,  /* + step: sessions that reached the step */
	HIST_SERIES = HIST_FUNNEL0 + AGG_STEPS_MAX
};

struct hist_row {
	uint64_t minute_ms; /* 0: empty slot */
	bool own;    /* recorded by the console (this run or an earlier one) */
	bool prior;  /* recorded by an earlier run: never back-filled */
	bool filled; /* holds back-filled values */
	uint64_t v[HIST_SERIES];
};

struct hist;

/*
 * Opens the history at path (created with its directory if needed), or a
 * memory-only one when path is NULL; n_agents bounds hist_observe's idx.
 * Loads the last HIST_RING_MIN minutes.  Returns 0 (*out written),
 * NUDGE_ENOMEM, or NUDGE_ESTORE with d->msg (the caller may then retry
 * with NULL and say that history is off).
 */
int hist_open(struct hist **out, const char *path, unsigned n_agents,
    uint64_t now_ms, struct nudge_diag *d);
void hist_close(struct hist *h);

/*
 * The default file: $XDG_STATE_HOME/nudge/console.db, else
 * $HOME/.local/state/nudge/console.db.  Returns 0 or NUDGE_ENOTFOUND
 * (neither variable set) / NUDGE_ETOOBIG.
 */
int hist_default_path(char *buf, size_t cap);

/* The series' stable name, NULL outside the range; and back (-1). */
const char *hist_series_name(int s);
int hist_series_index(const char *name);

/*
 * Agent idx's aggregates now (boot_id identifies its process): adds the
 * counters' growth since its previous observation to the current minute.
 * A counter below its baseline (a history answer ahead of the model, a
 * relay's total dipping while an agent is away) counts nothing until it
 * passes the baseline again.
 */
void hist_observe(
    struct hist *h, unsigned idx, uint64_t boot_id, const struct agg *a);

/* Forgets agent idx's baseline (it went down: its next values rebase). */
void hist_forget(struct hist *h, unsigned idx);

/*
 * The wall clock moved to now_ms with visitors active: when a minute has
 * closed, stores it (memory and disk) and starts the next.  Returns true
 * when a minute closed.
 */
bool hist_advance(struct hist *h, uint64_t now_ms, uint64_t visitors);

/* The row of the minute holding t_ms (the current one included), or NULL. */
const struct hist_row *hist_row_at(const struct hist *h, uint64_t t_ms);

/* Sum of series s over the minutes starting in [from_ms, to_ms). */
uint64_t hist_sum(
    const struct hist *h, int s, uint64_t from_ms, uint64_t to_ms);

/*
 * Fills vals[0..n) with series s of the n minutes ending with the current
 * one (oldest first); missing minutes read 0.
 */
void hist_series(
    const struct hist *h, int s, uint64_t now_ms, uint64_t *vals, size_t n);

/* Whether the minute holding t_ms was seen (own or filled). */
bool hist_known(const struct hist *h, uint64_t t_ms);

/*
 * Back-fill: adds value v of series name to minute minute_ms when no
 * earlier run of the console recorded that minute and it is within the
 * ring.  A minute up to one ahead of the console's current one (the
 * agent's clock turned first) counts in the current minute.  Unknown
 * names are skipped.  Returns true when something was added.
 */
bool hist_fill(
    struct hist *h, uint64_t minute_ms, const char *name, uint64_t v);
/*
 * Sets agent idx's baseline of series name to v (its total when it
 * answered `history`), so that hist_observe() counts only what came after
 * the answer.  The current minute may be filled too: the caller observes
 * an agent only after its answer (or after giving up on one).
 */
void hist_set_base(struct hist *h, unsigned idx, uint64_t boot_id,
    const char *name, uint64_t v);

/* Writes the back-filled minutes to disk.  0 or NUDGE_ESTORE. */
int hist_fill_commit(struct hist *h);

/* The last SQLite error, "" if none; borrowed. */
const char *hist_last_error(const struct hist *h);

#endif
