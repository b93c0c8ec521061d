/*
 * store.h - the agent's SQLite database: one file, WAL mode, versioned
 * schema with migrations.
 *
 * What lives here: cumulative counters and the distinct-visitor sketch
 * (flushed about once a second, synchronous=NORMAL: a crash loses at most
 * the last flush), closed session summaries (appended in batches), key/value
 * metadata, the audit trail, and heatmap totals (flushed with the
 * counters).  Changes that are acknowledged to a client (rules, campaigns,
 * credentials: later schema versions) commit with synchronous=FULL before
 * the acknowledgement.
 *
 * Thread-safety: a struct store is shared by the agent's threads; every
 * function takes the store's mutex, so calls are serialized.  The beacon
 * and ingest paths never call the store: they hand closed sessions to the
 * archiver thread.
 *
 * Errors: NUDGE_ESTORE with the SQLite message kept for store_last_error();
 * NUDGE_EBUSY when the database stays locked past the busy timeout (5 s).
 */
#ifndef NUDGE_STORE_H
#define NUDGE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "err.h"
#include "session.h"

#define STORE_SCHEMA_VERSION 4

struct store;

/*
 * Opens (creating if needed) the database at path, sets WAL and the busy
 * timeout, and migrates the schema to STORE_SCHEMA_VERSION in one
 * transaction per step.  A file with a newer schema than this build knows is
 * refused (NUDGE_EVERSION); a file that is not a database, NUDGE_ESTORE.
 * d->msg says what happened.  *out is written only on success.
 */
int store_open(struct store **out, const char *path, struct nudge_diag *d);
void store_close(struct store *st);

/*
 * Changes how long a call waits for another connection's lock before it
 * gives up with NUDGE_EBUSY (default 5000 ms; tests lower it).
 */
int store_set_busy_timeout(struct store *st, int ms);

/* The schema version of the open database (PRAGMA user_version). */
int store_schema_version(struct store *st);

/* The last SQLite error message, "" if none.  Borrowed until the next call. */
const char *store_last_error(struct store *st);

/* Replaces the stored counters, gauges excluded, and the sketch. */
int store_save_counters(struct store *st, const struct agg *a);
/* Fills a (zeroed first) with what was saved; an empty store gives zeros. */
int store_load_counters(struct store *st, struct agg *a);

/* Appends closed sessions, all in one transaction (all or nothing). */
int store_archive_sessions(struct store *st, const struct session_summary *v,
    size_t n);
int store_count_sessions(struct store *st, uint64_t *n);

/*
 * Live sessions saved by a graceful stop so that the next start continues
 * them (table live_sessions, schema v3).  store_save_live replaces what was
 * saved, in one transaction.  store_take_live calls fn for every saved
 * session, then deletes them all (a session is restored at most once);
 * fn runs with the store's mutex held and must not call the store.
 */
int store_save_live(struct store *st, const struct session_summary *v,
    size_t n);
int store_take_live(struct store *st,
    void (*fn)(void *arg, const struct session_summary *s), void *arg);

/*
 * Heatmaps (table heat, schema v4): one row per (page, kind, cell) holding
 * that cell's total count.  kind STORE_HEAT_CLICK: cell is a click grid
 * cell (row * cols + col); kind STORE_HEAT_SCROLL: cell is a scroll band
 * and count the page views that reached it.  store_save_heat replaces the
 * totals of the rows given (rows not given keep theirs), in one
 * transaction, all or nothing; page strings are borrowed for the call.
 * store_load_heat calls fn for every row; fn runs with the store's mutex
 * held and must not call the store; r->page is valid during the call only.
 */
enum store_heat_kind { STORE_HEAT_CLICK = 0, STORE_HEAT_SCROLL = 1 };

struct store_heat_row {
	const char *page;
	uint8_t kind;		/* enum store_heat_kind */
	uint32_t cell;
	uint64_t count;
};

int store_save_heat(struct store *st, const struct store_heat_row *v,
    size_t n);
int store_load_heat(struct store *st,
    void (*fn)(void *arg, const struct store_heat_row *r), void *arg);

/* Metadata: small text values by key. */
int store_meta_put(struct store *st, const char *key, const char *value);
/* NUDGE_ENOTFOUND if absent; NUDGE_ETOOBIG if it does not fit cap. */
int store_meta_get(struct store *st, const char *key, char *value, size_t cap);

/*
 * Appends an audit row (committed with synchronous=FULL before returning):
 * who (key id or "local"), what (command), detail (free text), status.
 */
int store_audit(struct store *st, uint64_t ts_ms, const char *who,
    const char *what, const char *detail, int status);

#endif
