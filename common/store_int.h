/*
 * store_int.h - what the store's own files share (store.c owns the
 * connection, the lock, the migrations and the data path's tables;
 * store_camp.c the campaign tables; store_ctl.c the control path's).  Not
 * for use outside common/store*.c.
 *
 * Every helper here expects the store's mutex held (store_lock), except
 * store_lock/store_unlock and store_locked_tx, which takes it.
 */
#ifndef NUDGE_STORE_INT_H
#define NUDGE_STORE_INT_H

#include <sqlite3.h>

#include "store.h"

/* n rows of some kind, for a transaction's body. */
struct store_rows {
	const void *v;
	size_t n;
};

void store_lock(struct store *st);
void store_unlock(struct store *st);
sqlite3 *store_db(struct store *st);

/* Records why SQLite code rc happened while doing what; the nudge code. */
int store_fail(struct store *st, int rc, const char *what);
/* sqlite3_exec of sql, errors through store_fail. */
int store_exec(struct store *st, const char *sql, const char *what);
/* Prepares sql into *q (the caller finalizes it). */
int store_prep(struct store *st, const char *sql, sqlite3_stmt **q,
    const char *what);
/* Steps a kept statement that returns no row, then resets it for reuse. */
int store_run(struct store *st, sqlite3_stmt *q, const char *what);
/* Steps a statement that returns no row, then finalizes it. */
int store_step_once(struct store *st, sqlite3_stmt *q, const char *what);
/* Copies text column col into dst (cap bytes), cut and terminated. */
void store_col_arr(sqlite3_stmt *q, int col, char *dst, size_t cap);
/*
 * Runs body in one transaction; store_acked commits it with
 * synchronous=FULL (on disk when it returns 0), store_tx with the
 * default NORMAL.  A failing body rolls everything back.
 */
int store_acked(struct store *st, int (*body)(struct store *, void *),
    void *arg);
int store_tx(struct store *st, int (*body)(struct store *, void *),
    void *arg);
/* store_tx under the store's mutex, for writers that hold nothing else. */
int store_locked_tx(struct store *st, int (*body)(struct store *, void *),
    void *arg);

#endif
