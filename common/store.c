/*
 * store.c - the agent's SQLite database.
 *
 * Owns the connection, the schema migrations (an ordered table of SQL
 * steps; PRAGMA user_version is the number of steps applied), and the
 * prepared statements of the frequent calls (the counter flush runs once a
 * second and writes a few hundred rows: preparing each time would cost more
 * than the writes).  Every public function takes st->mu, so any agent
 * thread may call it; the connection itself is opened without SQLite's own
 * mutex because ours already serializes it.
 *
 * Durability: synchronous=NORMAL for the counter flush and the session
 * archive (a crash loses at most the last batch, never consistency);
 * changes acknowledged to a client run through store_acked(), which commits
 * with synchronous=FULL before the caller acknowledges.
 *
 * Errors: SQLITE_BUSY / SQLITE_LOCKED after the busy timeout become
 * NUDGE_EBUSY, everything else NUDGE_ESTORE; st->err keeps the message,
 * and every failure is counted for the snapshot (store_failures).  A disk
 * full (SQLITE_FULL) makes the next write truncate the WAL first
 * (store_reclaim), so that writes resume by themselves once space is
 * freed; the WAL is kept near 1 MiB (store_setup).
 */
#include "fault.h"
#include "store.h"
#include "store_int.h"

#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Another process's lock: the first write waits STORE_BUSY_MS, and while
 * the lock stays each later one waits only STORE_LOCKED_RETRY_MS.  Writes
 * come one after another (flushes, a rule push's audit row and then its
 * rules), so waiting in full each time would answer a change after the
 * console's 5 s request timeout, as "no reply" instead of "locked".
 */
#define STORE_BUSY_MS 2000
#define STORE_LOCKED_RETRY_MS 100
#define STORE_ERR_MAX 256
#define STORE_HLL_BLOB "visitors"

/* The columns of a session summary, in sessions and live_sessions. */
#define STORE_SESSION_COLS                                                    \
	"visitor, started_ms, last_ms, pages, events, step, source, device, " \
	"country, cart_items, cart_cents, purchases, revenue_cents, score, "  \
	"last_page, utm_campaign"

/* Statements prepared once at open; indexes into store_sql[]. */
enum store_stmt {
	SQ_BEGIN = 0,
	SQ_COMMIT,
	SQ_ROLLBACK,
	SQ_PUT_COUNTER,
	SQ_GET_COUNTERS,
	SQ_PUT_BLOB,
	SQ_GET_BLOB,
	SQ_PUT_SESSION,
	SQ_COUNT_SESSIONS,
	SQ_PUT_META,
	SQ_GET_META,
	SQ_PUT_AUDIT,
	SQ_PUT_LIVE,
	SQ_GET_LIVE,
	SQ_DEL_LIVE,
	SQ_PUT_HEAT,
	SQ_GET_HEAT,
	SQ_COUNT
};

static const char *const store_sql[SQ_COUNT] = {
    [SQ_BEGIN] = "BEGIN IMMEDIATE",
    [SQ_COMMIT] = "COMMIT",
    [SQ_ROLLBACK] = "ROLLBACK",
    [SQ_PUT_COUNTER] = "INSERT OR REPLACE INTO counters(name, value) "
                       "VALUES (?1, ?2)",
    [SQ_GET_COUNTERS] = "SELECT name, value FROM counters",
    [SQ_PUT_BLOB] = "INSERT OR REPLACE INTO blobs(name, value) "
                    "VALUES (?1, ?2)",
    [SQ_GET_BLOB] = "SELECT value FROM blobs WHERE name = ?1",
    [SQ_PUT_SESSION] = "INSERT INTO sessions(" STORE_SESSION_COLS ") "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                       "?11, ?12, ?13, ?14, ?15, ?16)",
    [SQ_PUT_LIVE] = "INSERT INTO live_sessions(" STORE_SESSION_COLS
                    ", xmarks) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                    "?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    [SQ_GET_LIVE] = "SELECT " STORE_SESSION_COLS ", xmarks "
                    "FROM live_sessions",
    [SQ_DEL_LIVE] = "DELETE FROM live_sessions",
    [SQ_PUT_HEAT] = "INSERT OR REPLACE INTO heat(page, kind, cell, count) "
                    "VALUES (?1, ?2, ?3, ?4)",
    [SQ_GET_HEAT] = "SELECT page, kind, cell, count FROM heat",
    [SQ_COUNT_SESSIONS] = "SELECT count(*) FROM sessions",
    [SQ_PUT_META] = "INSERT OR REPLACE INTO meta(key, value) "
                    "VALUES (?1, ?2)",
    [SQ_GET_META] = "SELECT value FROM meta WHERE key = ?1",
    [SQ_PUT_AUDIT] = "INSERT INTO audit(ts_ms, who, what, detail, status) "
                     "VALUES (?1, ?2, ?3, ?4, ?5)",
};

/*
 * The migrations: store_migrations[i] takes a database from user_version i
 * to i + 1.  Append only; never edit a step that has shipped.
 */
static const char *const store_migrations[STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: counters, sketch, sessions, metadata */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER);"
    "CREATE TABLE blobs(name TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE sessions(visitor TEXT NOT NULL, started_ms INTEGER,"
    " last_ms INTEGER, pages INTEGER, events INTEGER, step INTEGER,"
    " source INTEGER, device INTEGER, country TEXT, cart_items INTEGER,"
    " cart_cents INTEGER, purchases INTEGER, revenue_cents INTEGER,"
    " score INTEGER, last_page TEXT, utm_campaign TEXT);",
    /* 1 -> 2: audit trail; sessions looked up by visitor and age */
    "CREATE TABLE audit(id INTEGER PRIMARY KEY, ts_ms INTEGER, who TEXT,"
    " what TEXT, detail TEXT, status INTEGER);"
    "CREATE INDEX sessions_visitor ON sessions(visitor);"
    "CREATE INDEX sessions_last_ms ON sessions(last_ms);",
    /* 2 -> 3: live sessions kept across a graceful restart */
    "CREATE TABLE live_sessions(visitor TEXT NOT NULL, started_ms INTEGER,"
    " last_ms INTEGER, pages INTEGER, events INTEGER, step INTEGER,"
    " source INTEGER, device INTEGER, country TEXT, cart_items INTEGER,"
    " cart_cents INTEGER, purchases INTEGER, revenue_cents INTEGER,"
    " score INTEGER, last_page TEXT, utm_campaign TEXT);",
    /* 3 -> 4: heatmap totals per page, kind (0 click, 1 scroll), cell */
    "CREATE TABLE heat(page TEXT NOT NULL, kind INTEGER NOT NULL,"
    " cell INTEGER NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY(page, kind, cell)) WITHOUT ROWID;",
    /* 4 -> 5: rule sets by kind and version, visitor memory (orders,
     * sessions, cap history), context facts */
    "CREATE TABLE rule_sets(kind INTEGER NOT NULL, version INTEGER NOT NULL,"
    " text TEXT NOT NULL, hash TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    " who TEXT NOT NULL, PRIMARY KEY(kind, version)) WITHOUT ROWID;"
    "CREATE TABLE visitors(vhash INTEGER PRIMARY KEY, orders INTEGER,"
    " sessions INTEGER, last_ms INTEGER, prev_ms INTEGER, caps BLOB);"
    "CREATE INDEX visitors_last_ms ON visitors(last_ms);"
    "CREATE TABLE context(key TEXT NOT NULL, idx TEXT NOT NULL,"
    " type INTEGER NOT NULL, num REAL, str TEXT,"
    " PRIMARY KEY(key, idx)) WITHOUT ROWID;",
    /* 5 -> 6: per-minute counters for the console's history */
    "CREATE TABLE minutes(minute INTEGER NOT NULL, name TEXT NOT NULL,"
    " value INTEGER NOT NULL, PRIMARY KEY(minute, name)) WITHOUT ROWID;",
    /* 6 -> 7: campaigns (state, history, per-variant counters), the
     * rules' holdout experiments, experiment marks of live sessions
     * (common/store_camp.c) */
    "CREATE TABLE campaigns(name TEXT PRIMARY KEY, text TEXT NOT NULL,"
    " since_ms INTEGER NOT NULL, slot INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE campaign_history(id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL, version INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
    " who TEXT NOT NULL, op TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE INDEX campaign_history_name ON campaign_history(name, id);"
    "CREATE TABLE campaign_counters(name TEXT NOT NULL,"
    " variant INTEGER NOT NULL, n INTEGER NOT NULL, x INTEGER NOT NULL,"
    " rev_cents INTEGER NOT NULL, g0 INTEGER NOT NULL, g1 INTEGER NOT NULL,"
    " g2 INTEGER NOT NULL, g3 INTEGER NOT NULL,"
    " PRIMARY KEY(name, variant)) WITHOUT ROWID;"
    "CREATE TABLE rule_experiments(rule TEXT PRIMARY KEY,"
    " tn INTEGER NOT NULL, tx INTEGER NOT NULL, hn INTEGER NOT NULL,"
    " hx INTEGER NOT NULL, slot INTEGER NOT NULL) WITHOUT ROWID;"
    "ALTER TABLE live_sessions ADD COLUMN xmarks BLOB;",
    /* 7 -> 8: per variant, the sessions that reached each step of the
     * shop funnel (little-endian u64 per step; NULL: none yet) */
    "ALTER TABLE campaign_counters ADD COLUMN steps BLOB;",
};

struct store {
	pthread_mutex_t mu;
	sqlite3 *db;
	int busy_ms;
	bool full;		/* a write failed with SQLITE_FULL: reclaim */
	bool locked;		/* the last write found another's lock */
	sqlite3_stmt *q[SQ_COUNT];
	char err[STORE_ERR_MAX];
	atomic_uint_fast64_t failures;	/* store_fail calls, any thread */
	pthread_mutex_t fail_mu;	/* fail_msg only, never held long */
	char fail_msg[STORE_ERR_MAX];	/* err of the latest failure */
	bool saved_valid;		/* saved is what the disk holds */
	struct agg saved;		/* counters as last committed */
};

/* Records why rc happened while doing what; returns the nudge code. */
int
store_fail(struct store *st, int rc, const char *what)
{
	int prim = rc & 0xff;
	const char *why = st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);

	int code = NUDGE_ESTORE;

	if (prim == SQLITE_FULL)
		st->full = true;
	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) {
		int waited = st->locked ? STORE_LOCKED_RETRY_MS : st->busy_ms;

		if (!st->locked && st->db != NULL)
			sqlite3_busy_timeout(st->db, STORE_LOCKED_RETRY_MS);
		st->locked = true;
		snprintf(st->err, sizeof(st->err),
		    "%s: database is locked by another connection "
		    "(gave up after %d ms)",
		    what, waited);
		code = NUDGE_EBUSY;
	} else if (prim == SQLITE_NOTADB) {
		snprintf(st->err, sizeof(st->err),
		    "%s: the file is not a SQLite database", what);
	} else {
		snprintf(st->err, sizeof(st->err), "%s: %s", what, why);
	}
	atomic_fetch_add(&st->failures, 1);
	pthread_mutex_lock(&st->fail_mu);
	memcpy(st->fail_msg, st->err, sizeof(st->fail_msg));
	pthread_mutex_unlock(&st->fail_mu);
	return code;
}

uint64_t
store_failures(struct store *st, char *msg, size_t cap)
{
	uint64_t n = atomic_load(&st->failures);

	if (cap > 0) {
		pthread_mutex_lock(&st->fail_mu);
		snprintf(msg, cap, "%s", st->fail_msg);
		pthread_mutex_unlock(&st->fail_mu);
	}
	return n;
}

int
store_exec(struct store *st, const char *sql, const char *what)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? NUDGE_OK : store_fail(st, rc, what);
}

int
store_run(struct store *st, sqlite3_stmt *q, const char *what)
{
	/* fault.h: the Nth write fails as a full disk would */
	int rc = fault_hit(FAULT_SQL) ? SQLITE_IOERR : sqlite3_step(q);

	if (rc != SQLITE_DONE) {
		int err = store_fail(st, rc, what);
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return err;
	}
	sqlite3_reset(q);
	/* bindings point at the caller's strings: drop them now */
	sqlite3_clear_bindings(q);
	return NUDGE_OK;
}

/*
 * After a write failed because the disk was full, the WAL may hold the
 * rest of the disk (it only shrinks at a checkpoint, and a checkpoint
 * only comes after commits that can no longer happen).  So before the
 * next write, checkpoint it into the database and truncate it to zero
 * bytes: once the database file can take the pages (space was freed),
 * the WAL's space comes back and writes resume by themselves.  Until then
 * the flag stays and every write tries again.  A short busy timeout: a
 * reader in another process only delays the reclaim to the next write.
 */
static void
store_reclaim(struct store *st)
{
	int rc;

	sqlite3_busy_timeout(st->db, 100);
	rc = sqlite3_wal_checkpoint_v2(
	    st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
	sqlite3_busy_timeout(
	    st->db, st->locked ? STORE_LOCKED_RETRY_MS : st->busy_ms);
	if (rc == SQLITE_OK)
		st->full = false;
}

static int
store_begin(struct store *st)
{
	int rc;

	if (st->full)
		store_reclaim(st);
	rc = store_run(st, st->q[SQ_BEGIN], "begin");
	if (rc == NUDGE_OK && st->locked) {
		st->locked = false; /* the lock is gone: wait in full again */
		sqlite3_busy_timeout(st->db, st->busy_ms);
	}
	return rc;
}

static int
store_commit(struct store *st)
{
	int rc = store_run(st, st->q[SQ_COMMIT], "commit");

	if (rc != NUDGE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void
store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		store_run(st, st->q[SQ_ROLLBACK], "rollback");
}

/*
 * Runs body in one transaction committed with synchronous=FULL, for
 * changes acknowledged to a client: when this returns 0 the change is on
 * disk.  The default NORMAL is restored whatever happens.
 */
int
store_acked(struct store *st, int (*body)(struct store *, void *), void *arg)
{
	int rc;

	if ((rc = store_exec(st, "PRAGMA synchronous=FULL", "synchronous")))
		return rc;
	rc = store_tx(st, body, arg);
	sqlite3_exec(st->db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	return rc;
}

int
store_tx(struct store *st, int (*body)(struct store *, void *), void *arg)
{
	int rc;

	if ((rc = store_begin(st)) == NUDGE_OK) {
		if ((rc = body(st, arg)) == NUDGE_OK)
			rc = store_commit(st);
		else
			store_rollback(st);
	}
	return rc;
}

int
store_locked_tx(struct store *st, int (*body)(struct store *, void *),
    void *arg)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = store_tx(st, body, arg);
	pthread_mutex_unlock(&st->mu);
	return rc;
}


void
store_lock(struct store *st)
{
	pthread_mutex_lock(&st->mu);
}

void
store_unlock(struct store *st)
{
	pthread_mutex_unlock(&st->mu);
}

sqlite3 *
store_db(struct store *st)
{
	return st->db;
}

/* Reads PRAGMA user_version into *v. */
static int
store_user_version(struct store *st, int *v)
{
	sqlite3_stmt *q;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "read schema version");
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_ROW ? NUDGE_OK
	                        : store_fail(st, rc, "read schema version");
}

/* Applies migration step v (v -> v + 1) unless another process did. */
static int
store_migrate_step(struct store *st, int v)
{
	char sql[64];
	int now = 0, rc;

	if ((rc = store_exec(st, "BEGIN IMMEDIATE", "migrate")))
		return rc;
	if ((rc = store_user_version(st, &now)) == NUDGE_OK && now == v) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if ((rc = store_exec(st, store_migrations[v], "migrate")) ==
		    NUDGE_OK)
			rc = store_exec(st, sql, "migrate");
	}
	if (rc == NUDGE_OK)
		rc = store_exec(st, "COMMIT", "migrate");
	if (rc != NUDGE_OK)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static int
store_migrate(struct store *st)
{
	int v = 0, rc;

	for (;;) {
		if ((rc = store_user_version(st, &v)) != NUDGE_OK)
			return rc;
		if (v > STORE_SCHEMA_VERSION || v < 0) {
			snprintf(st->err, sizeof(st->err),
			    "schema version %d is newer than this build "
			    "knows (%d): upgrade nudge",
			    v, STORE_SCHEMA_VERSION);
			return NUDGE_EVERSION;
		}
		if (v == STORE_SCHEMA_VERSION)
			return NUDGE_OK;
		if ((rc = store_migrate_step(st, v)) != NUDGE_OK)
			return rc;
	}
}

/* Creates the directories above path (mode 0750), as mkdir -p would. */
static void
store_mkdirs(const char *path)
{
	char dir[1024];
	size_t n = strlen(path);

	if (n >= sizeof(dir))
		return;
	memcpy(dir, path, n + 1);
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) != 0 && errno != EEXIST)
			return; /* SQLite's open will say why */
		*p = '/';
	}
}

static int
store_setup(struct store *st, const char *path)
{
	int rc, v = 0;

	rc = sqlite3_open_v2(path, &st->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
	    NULL);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "open");
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, st->busy_ms);
	/* the first read is what tells a database from any other file */
	if ((rc = store_user_version(st, &v)) != NUDGE_OK)
		return rc;
	if ((rc = store_exec(st, "PRAGMA journal_mode=WAL", "set WAL")))
		return rc;
	if ((rc = store_exec(st, "PRAGMA synchronous=NORMAL", "synchronous")))
		return rc;
	/*
	 * A small WAL: checkpoint every 256 pages (1 MiB, not SQLite's 4) and
	 * cut the file back to 1 MiB after a big transaction, so that the WAL
	 * neither fills a small disk by itself nor keeps what a full disk
	 * needs (tests/integration/diskfull.sh: 2 MiB).
	 */
	if ((rc = store_exec(st, "PRAGMA wal_autocheckpoint=256;"
	                         "PRAGMA journal_size_limit=1048576",
	         "WAL size")))
		return rc;
	if ((rc = store_migrate(st)) != NUDGE_OK)
		return rc;
	for (int i = 0; i < SQ_COUNT; i++) {
		rc = sqlite3_prepare_v3(st->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &st->q[i], NULL);
		if (rc != SQLITE_OK)
			return store_fail(st, rc, "prepare");
	}
	return NUDGE_OK;
}

static void
store_free(struct store *st)
{
	for (int i = 0; i < SQ_COUNT; i++)
		sqlite3_finalize(st->q[i]);
	sqlite3_close(st->db);
	pthread_mutex_destroy(&st->fail_mu);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int
store_open(struct store **out, const char *path, struct nudge_diag *d)
{
	struct store *st;
	int rc;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		free(st);
		nudge_diag_set(d, 0, 0, "cannot create a mutex");
		return NUDGE_ENOMEM;
	}
	pthread_mutex_init(&st->fail_mu, NULL);
	st->busy_ms = STORE_BUSY_MS;
	store_mkdirs(path);
	if ((rc = store_setup(st, path)) != NUDGE_OK) {
		nudge_diag_set(d, 0, 0, "%s: %s", path, st->err);
		store_free(st);
		return rc;
	}
	*out = st;
	return NUDGE_OK;
}

void
store_close(struct store *st)
{
	if (st != NULL)
		store_free(st);
}

int
store_set_busy_timeout(struct store *st, int ms)
{
	int rc;

	if (ms < 0)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	st->busy_ms = ms;
	rc = sqlite3_busy_timeout(st->db, ms);
	pthread_mutex_unlock(&st->mu);
	return rc == SQLITE_OK ? NUDGE_OK : NUDGE_ESTORE;
}

int
store_schema_version(struct store *st)
{
	int v = 0, rc;

	pthread_mutex_lock(&st->mu);
	rc = store_user_version(st, &v);
	pthread_mutex_unlock(&st->mu);
	return rc == NUDGE_OK ? v : rc;
}

const char *
store_last_error(struct store *st)
{
	return st->err;
}

/* ---- counters -------------------------------------------------------- */

static int
store_put_counters(struct store *st, const struct agg *a)
{
	sqlite3_stmt *q = st->q[SQ_PUT_COUNTER];
	int rc;

	for (int i = 0; i < AGG_COUNTERS; i++) {
		const char *name = agg_counter_name(i);
		if (name == NULL)
			continue;
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		/* two's complement keeps values >= 2^63 exact both ways */
		sqlite3_bind_int64(q, 2, (sqlite3_int64)a->c[i]);
		if ((rc = store_run(st, q, "save counters")) != NUDGE_OK)
			return rc;
	}
	q = st->q[SQ_PUT_BLOB];
	sqlite3_bind_text(q, 1, STORE_HLL_BLOB, -1, SQLITE_STATIC);
	sqlite3_bind_blob(q, 2, a->visitors.reg, HLL_REGISTERS, SQLITE_STATIC);
	return store_run(st, q, "save visitors sketch");
}

static int
store_counters_body(struct store *st, void *arg)
{
	const struct store_rows *r = arg;

	return store_put_counters(st, r->v);
}

/*
 * Commits the counters unless they are what the disk already holds: an
 * idle agent flushing twice a second writes nothing.  Mutex held.
 */
static int
store_counters_tx(struct store *st, const struct agg *a)
{
	struct store_rows r = {a, 1};
	int rc;

	if (st->saved_valid &&
	    memcmp(st->saved.c, a->c, sizeof(a->c)) == 0 &&
	    memcmp(st->saved.visitors.reg, a->visitors.reg,
	        sizeof(a->visitors.reg)) == 0)
		return NUDGE_OK;
	rc = store_tx(st, store_counters_body, &r);
	st->saved_valid = rc == NUDGE_OK;
	if (rc == NUDGE_OK)
		st->saved = *a;
	return rc;
}

int
store_save_counters_fresh(struct store *st,
    void (*fill)(void *arg, struct agg *out), void *arg, struct agg *out)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	fill(arg, out);
	rc = store_counters_tx(st, out);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_save_counters(struct store *st, const struct agg *a)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = store_counters_tx(st, a);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

static int
store_get_counters(struct store *st, struct agg *a)
{
	sqlite3_stmt *q = st->q[SQ_GET_COUNTERS];
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(q, 0);
		int i = name ? agg_counter_index(
		                   name, (size_t)sqlite3_column_bytes(q, 0))
		             : -1;
		if (i >= 0 && i < AGG_COUNTERS) /* unknown names: skipped */
			a->c[i] = (uint64_t)sqlite3_column_int64(q, 1);
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return store_fail(st, rc, "load counters");
	q = st->q[SQ_GET_BLOB];
	sqlite3_bind_text(q, 1, STORE_HLL_BLOB, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	/* a sketch of another size is from another precision: start over */
	if (rc == SQLITE_ROW && sqlite3_column_bytes(q, 0) == HLL_REGISTERS)
		memcpy(
		    a->visitors.reg, sqlite3_column_blob(q, 0), HLL_REGISTERS);
	sqlite3_reset(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return store_fail(st, rc, "load visitors sketch");
	return NUDGE_OK;
}

int
store_load_counters(struct store *st, struct agg *a)
{
	struct agg *tmp;
	int rc;

	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return NUDGE_ENOMEM;
	agg_init(tmp);
	pthread_mutex_lock(&st->mu);
	rc = store_get_counters(st, tmp);
	pthread_mutex_unlock(&st->mu);
	if (rc == NUDGE_OK)
		memcpy(a, tmp, sizeof(*a));
	free(tmp);
	return rc;
}

/* ---- sessions -------------------------------------------------------- */

/* Binds a fixed array that should hold a C string, bounded anyway. */
static void
store_bind_arr(sqlite3_stmt *q, int col, const char *s, size_t cap)
{
	sqlite3_bind_text(q, col, s, (int)strnlen(s, cap), SQLITE_STATIC);
}

static int
store_put_session(
    struct store *st, sqlite3_stmt *q, const struct session_summary *s)
{
	store_bind_arr(q, 1, s->visitor, sizeof(s->visitor));
	sqlite3_bind_int64(q, 2, (sqlite3_int64)s->started_ms);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)s->last_ms);
	sqlite3_bind_int64(q, 4, s->pages);
	sqlite3_bind_int64(q, 5, s->events);
	sqlite3_bind_int(q, 6, s->step);
	sqlite3_bind_int(q, 7, s->source);
	sqlite3_bind_int(q, 8, s->device);
	store_bind_arr(q, 9, s->country, sizeof(s->country));
	sqlite3_bind_int64(q, 10, s->cart_items);
	sqlite3_bind_int64(q, 11, s->cart_cents);
	sqlite3_bind_int64(q, 12, s->purchases);
	sqlite3_bind_int64(q, 13, s->revenue_cents);
	sqlite3_bind_int(q, 14, s->score);
	store_bind_arr(q, 15, s->last_page, sizeof(s->last_page));
	store_bind_arr(q, 16, s->utm_campaign, sizeof(s->utm_campaign));
	if (q == st->q[SQ_PUT_LIVE])
		sqlite3_bind_blob(q, 17, s->xmarks, sizeof(s->xmarks),
		    SQLITE_STATIC);
	return store_run(st, q, "archive sessions");
}

static int
store_sessions_body(struct store *st, void *arg)
{
	const struct store_rows *r = arg;
	const struct session_summary *v = r->v;
	int rc = NUDGE_OK;

	for (size_t i = 0; i < r->n && rc == NUDGE_OK; i++)
		rc = store_put_session(st, st->q[SQ_PUT_SESSION], &v[i]);
	return rc;
}

int
store_archive_sessions(
    struct store *st, const struct session_summary *v, size_t n)
{
	struct store_rows r = {v, n};

	if (n == 0)
		return NUDGE_OK;
	if (v == NULL)
		return NUDGE_EINVAL;
	return store_locked_tx(st, store_sessions_body, &r);
}

int
store_count_sessions(struct store *st, uint64_t *n)
{
	sqlite3_stmt *q;
	int rc;

	pthread_mutex_lock(&st->mu);
	q = st->q[SQ_COUNT_SESSIONS];
	if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(q, 0);
		rc = NUDGE_OK;
	} else {
		rc = store_fail(st, rc, "count sessions");
	}
	sqlite3_reset(q);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Copies column col into a fixed array, truncated and terminated. */
void
store_col_arr(sqlite3_stmt *q, int col, char *dst, size_t cap)
{
	const unsigned char *t = sqlite3_column_text(q, col);

	snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

/* The inverse of store_put_session, for a row of SQ_GET_LIVE. */
static void
store_get_session(sqlite3_stmt *q, struct session_summary *s)
{
	memset(s, 0, sizeof(*s));
	store_col_arr(q, 0, s->visitor, sizeof(s->visitor));
	s->started_ms = (uint64_t)sqlite3_column_int64(q, 1);
	s->last_ms = (uint64_t)sqlite3_column_int64(q, 2);
	s->pages = (uint32_t)sqlite3_column_int64(q, 3);
	s->events = (uint32_t)sqlite3_column_int64(q, 4);
	s->step = (uint8_t)sqlite3_column_int(q, 5);
	s->source = (uint8_t)sqlite3_column_int(q, 6);
	s->device = (uint8_t)sqlite3_column_int(q, 7);
	store_col_arr(q, 8, s->country, sizeof(s->country));
	s->cart_items = (uint32_t)sqlite3_column_int64(q, 9);
	s->cart_cents = sqlite3_column_int64(q, 10);
	s->purchases = (uint32_t)sqlite3_column_int64(q, 11);
	s->revenue_cents = sqlite3_column_int64(q, 12);
	s->score = sqlite3_column_int(q, 13);
	store_col_arr(q, 14, s->last_page, sizeof(s->last_page));
	store_col_arr(q, 15, s->utm_campaign, sizeof(s->utm_campaign));
	if (sqlite3_column_bytes(q, 16) == (int)sizeof(s->xmarks))
		memcpy(s->xmarks, sqlite3_column_blob(q, 16),
		    sizeof(s->xmarks));
}

static int
store_live_body(struct store *st, void *arg)
{
	const struct store_rows *r = arg;
	const struct session_summary *v = r->v;
	int rc = store_run(st, st->q[SQ_DEL_LIVE], "save live sessions");

	for (size_t i = 0; i < r->n && rc == NUDGE_OK; i++)
		rc = store_put_session(st, st->q[SQ_PUT_LIVE], &v[i]);
	return rc;
}

int
store_save_live(struct store *st, const struct session_summary *v, size_t n)
{
	struct store_rows r = {v, n};

	if (v == NULL && n > 0)
		return NUDGE_EINVAL;
	return store_locked_tx(st, store_live_body, &r);
}

/* Reads, hands out and deletes the saved live sessions (in a transaction). */
static int
store_take_rows(struct store *st,
    void (*fn)(void *arg, const struct session_summary *s), void *arg)
{
	sqlite3_stmt *q = st->q[SQ_GET_LIVE];
	struct session_summary s;
	size_t n = 0;
	int rc;

	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		store_get_session(q, &s);
		fn(arg, &s);
		n++;
	}
	sqlite3_reset(q);
	if (rc != SQLITE_DONE)
		return store_fail(st, rc, "take live sessions");
	/*
	 * None after a kill -9: then no write at all, since even a DELETE of
	 * nothing writes pages, and a commit over a WAL past its checkpoint
	 * size checkpoints (fsyncs) before the sockets listen.
	 */
	return n == 0 ? NUDGE_OK :
	    store_run(st, st->q[SQ_DEL_LIVE], "take live sessions");
}

int
store_take_live(struct store *st,
    void (*fn)(void *arg, const struct session_summary *s), void *arg)
{
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	if ((rc = store_begin(st)) == NUDGE_OK) {
		if ((rc = store_take_rows(st, fn, arg)) == NUDGE_OK)
			rc = store_commit(st);
		else
			store_rollback(st);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- heatmaps -------------------------------------------------------- */

static int
store_heat_body(struct store *st, void *arg)
{
	const struct store_rows *r = arg;
	const struct store_heat_row *v = r->v;
	sqlite3_stmt *q = st->q[SQ_PUT_HEAT];
	int rc = NUDGE_OK;

	for (size_t i = 0; i < r->n && rc == NUDGE_OK; i++) {
		if (v[i].page == NULL)
			return NUDGE_EINVAL;
		sqlite3_bind_text(q, 1, v[i].page, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, v[i].kind);
		sqlite3_bind_int64(q, 3, v[i].cell);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)v[i].count);
		rc = store_run(st, q, "save heat");
	}
	return rc;
}

int
store_save_heat(struct store *st, const struct store_heat_row *v, size_t n)
{
	struct store_rows r = {v, n};

	if (n == 0)
		return NUDGE_OK;
	if (v == NULL)
		return NUDGE_EINVAL;
	return store_locked_tx(st, store_heat_body, &r);
}

int
store_load_heat(struct store *st,
    void (*fn)(void *arg, const struct store_heat_row *r), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	q = st->q[SQ_GET_HEAT];
	while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
		const unsigned char *page = sqlite3_column_text(q, 0);
		sqlite3_int64 kind = sqlite3_column_int64(q, 1);
		sqlite3_int64 cell = sqlite3_column_int64(q, 2);
		sqlite3_int64 count = sqlite3_column_int64(q, 3);
		/* rows this build cannot mean anything by are skipped */
		if (page == NULL || kind < 0 || kind > STORE_HEAT_SCROLL ||
		    cell < 0 || cell > UINT32_MAX || count <= 0)
			continue;
		struct store_heat_row r = {(const char *)page,
		    (uint8_t)kind, (uint32_t)cell, (uint64_t)count};
		fn(arg, &r);
	}
	sqlite3_reset(q);
	rc = rc == SQLITE_DONE ? NUDGE_OK : store_fail(st, rc, "load heat");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- per-minute counters ---------------------------------------------- */

static int
store_put_minute(struct store *st, uint64_t minute_ms,
    const char *const *names, const uint64_t *v, size_t n, bool add,
    uint64_t keep_from_ms)
{
	sqlite3_stmt *q = NULL;
	int rc = sqlite3_prepare_v2(st->db,
	    add ? "INSERT INTO minutes(minute, name, value) VALUES(?1, ?2, ?3)"
	          " ON CONFLICT(minute, name) DO UPDATE SET"
	          " value = value + excluded.value"
	        : "INSERT OR REPLACE INTO minutes(minute, name, value)"
	          " VALUES(?1, ?2, ?3)",
	    -1, &q, NULL);

	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, (sqlite3_int64)minute_ms);
		sqlite3_bind_text(q, 2, names[i], -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)v[i]);
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
	}
	sqlite3_finalize(q);
	if (rc != SQLITE_OK)
		return store_fail(st, rc, "save minute");
	if (keep_from_ms == 0)
		return NUDGE_OK;
	rc = sqlite3_prepare_v2(
	    st->db, "DELETE FROM minutes WHERE minute < ?1", -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)keep_from_ms);
		rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_finalize(q);
	}
	return rc == SQLITE_OK ? NUDGE_OK : store_fail(st, rc, "expire minutes");
}

int
store_save_minute(struct store *st, uint64_t minute_ms,
    const char *const *names, const uint64_t *v, size_t n, bool add,
    uint64_t keep_from_ms)
{
	int rc;

	if (n > 0 && (names == NULL || v == NULL))
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	if ((rc = store_begin(st)) == NUDGE_OK) {
		rc = store_put_minute(
		    st, minute_ms, names, v, n, add, keep_from_ms);
		if (rc == NUDGE_OK)
			rc = store_commit(st);
		else
			store_rollback(st);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_load_minutes(struct store *st, uint64_t from_ms, uint64_t to_ms,
    size_t max,
    void (*fn)(void *arg, uint64_t minute_ms, const char *name, uint64_t v),
    void *arg)
{
	sqlite3_stmt *q = NULL;
	size_t n = 0;
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	rc = sqlite3_prepare_v2(st->db,
	    "SELECT minute, name, value FROM minutes WHERE minute >= ?1"
	    " AND minute < ?2 ORDER BY minute",
	    -1, &q, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)from_ms);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)to_ms);
		while (n < max && (rc = sqlite3_step(q)) == SQLITE_ROW) {
			const unsigned char *name = sqlite3_column_text(q, 1);
			sqlite3_int64 m = sqlite3_column_int64(q, 0);
			sqlite3_int64 v = sqlite3_column_int64(q, 2);

			if (name == NULL || m < 0 || v < 0)
				continue;
			fn(arg, (uint64_t)m, (const char *)name, (uint64_t)v);
			n++;
		}
		if (rc == SQLITE_ROW)
			rc = SQLITE_DONE;
	}
	sqlite3_finalize(q);
	rc = rc == SQLITE_DONE ? NUDGE_OK : store_fail(st, rc, "load minutes");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- metadata and audit ---------------------------------------------- */

int
store_meta_put(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *q;
	int rc;

	if (key == NULL || value == NULL)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	q = st->q[SQ_PUT_META];
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	rc = store_run(st, q, "put meta");
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int
store_meta_get(struct store *st, const char *key, char *value, size_t cap)
{
	sqlite3_stmt *q;
	int rc;

	if (key == NULL || value == NULL)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&st->mu);
	q = st->q[SQ_GET_META];
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(q, 0);
		size_t n = (size_t)sqlite3_column_bytes(q, 0);
		if (n + 1 > cap) {
			rc = NUDGE_ETOOBIG;
		} else {
			memcpy(value, t ? (const char *)t : "", n);
			value[n] = '\0';
			rc = NUDGE_OK;
		}
	} else {
		rc = rc == SQLITE_DONE ? NUDGE_ENOTFOUND
		                       : store_fail(st, rc, "get meta");
	}
	sqlite3_reset(q);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

struct store_audit_row {
	uint64_t ts_ms;
	const char *who, *what, *detail;
	int status;
};

static int
store_put_audit(struct store *st, void *arg)
{
	const struct store_audit_row *r = arg;
	sqlite3_stmt *q = st->q[SQ_PUT_AUDIT];

	sqlite3_bind_int64(q, 1, (sqlite3_int64)r->ts_ms);
	sqlite3_bind_text(q, 2, r->who ? r->who : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, r->what ? r->what : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, r->detail ? r->detail : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 5, r->status);
	return store_run(st, q, "audit");
}

int
store_audit(struct store *st, uint64_t ts_ms, const char *who,
    const char *what, const char *detail, int status)
{
	struct store_audit_row r = {ts_ms, who, what, detail, status};
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = store_acked(st, store_put_audit, &r);
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- statements prepared per call (common/store_ctl.c, store_camp.c):
 * calls that run at most a few times a second (a push, a context change,
 * the visitor flush) rather than statements kept in store_sql[].
 */

int
store_prep(struct store *st, const char *sql, sqlite3_stmt **q,
    const char *what)
{
	int rc = sqlite3_prepare_v2(st->db, sql, -1, q, NULL);

	return rc == SQLITE_OK ? NUDGE_OK : store_fail(st, rc, what);
}

/* Steps a prepared-per-call statement that returns no row, finalizes it. */
int
store_step_once(struct store *st, sqlite3_stmt *q, const char *what)
{
	int rc = sqlite3_step(q);

	rc = rc == SQLITE_DONE ? NUDGE_OK : store_fail(st, rc, what);
	sqlite3_finalize(q);
	return rc;
}
