/*
 * test_store.c - the SQLite store: schema creation and migration, refusal
 * of newer schemas and of non-database files, counter round trip, session
 * archive, metadata, audit, heatmap rows (and the v3 -> v4 migration that
 * adds them), and a lock held by another connection giving NUDGE_EBUSY in
 * bounded time.  Each test works in its own mkdtemp dir.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store.h"

struct fixture {
	char dir[64];
	char db[128];
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	snprintf(fx->dir, sizeof(fx->dir), "/tmp/nudge-store-XXXXXX");
	if (fx == NULL || mkdtemp(fx->dir) == NULL)
		return -1;
	/* a subdirectory that does not exist yet: store_open makes it */
	snprintf(fx->db, sizeof(fx->db), "%s/state/nudged.db", fx->dir);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs SQL on a second, raw connection; returns the first column. */
static long long
raw_query(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	long long v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		v = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static void
raw_exec(const char *path, const char *sql)
{
	sqlite3 *db;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

static void
test_fresh(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	assert_string_equal(store_last_error(st), "");
	store_close(st);
	assert_int_equal(
	    raw_query(fx->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	assert_int_equal(
	    raw_query(fx->db, "SELECT count(*) FROM sqlite_master "
	                      "WHERE name IN ('meta', 'counters', 'blobs', "
	                      "'sessions', 'audit',"
	                      " 'sessions_visitor', 'sessions_last_ms', "
	                      "'live_sessions', 'heat')"),
	    9);
	assert_int_equal(raw_query(fx->db,
	                     "SELECT count(*) FROM "
	                     "pragma_journal_mode WHERE journal_mode = 'wal'"),
	    1);
	/* opening again is a no-op */
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	store_close(st);
}

static void
test_migrate_v1(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct agg *a = malloc(sizeof(*a));
	uint64_t n = 0;
	char v[32];
	int events = agg_counter_index("events", 6);

	/* a database as version 1 of nudge left it */
	assert_int_equal(store_open(&st, fx->db, &d), 0); /* makes the dir */
	store_close(st);
	remove(fx->db);
	raw_exec(fx->db,
	    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
	    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER);"
	    "CREATE TABLE blobs(name TEXT PRIMARY KEY, value BLOB);"
	    "CREATE TABLE sessions(visitor TEXT NOT NULL, started_ms INTEGER,"
	    " last_ms INTEGER, pages INTEGER, events INTEGER, step INTEGER,"
	    " source INTEGER, device INTEGER, country TEXT, cart_items "
	    "INTEGER, cart_cents INTEGER, purchases INTEGER, revenue_cents "
	    "INTEGER, score INTEGER, last_page TEXT, utm_campaign TEXT);"
	    "INSERT INTO meta VALUES ('agent_id', 'web-1');"
	    "INSERT INTO counters VALUES ('events', 42);"
	    "INSERT INTO counters VALUES ('some.future.counter', 7);"
	    "INSERT INTO sessions(visitor, started_ms) VALUES ('v1', 1), "
	    "('v2', 2);"
	    "PRAGMA user_version = 1;");
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	assert_int_equal(store_count_sessions(st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(store_meta_get(st, "agent_id", v, sizeof(v)), 0);
	assert_string_equal(v, "web-1");
	assert_true(events >= 0);
	assert_int_equal(store_load_counters(st, a), 0);
	assert_int_equal(a->c[events], 42);
	assert_int_equal(store_audit(st, 1, "local", "migrate", "", 0), 0);
	store_close(st);
	assert_int_equal(
	    raw_query(fx->db,
	        "SELECT count(*) FROM sqlite_master "
	        "WHERE type = 'index' AND name LIKE 'sessions_%'"),
	    2);
	free(a);
}

/* A v3 database (the v1..v3 steps, no heat table) with data in it. */
static void
make_v3(const struct fixture *fx)
{
	struct store *st = NULL;
	struct nudge_diag d = {0};

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	store_close(st);
	raw_exec(fx->db,
	    "DROP TABLE heat;"
	    "DROP TABLE rule_sets; DROP TABLE visitors; DROP TABLE context;"
	    "DROP TABLE IF EXISTS minutes;"
	    "DROP TABLE campaigns; DROP TABLE campaign_history;"
	    "DROP TABLE campaign_counters; DROP TABLE rule_experiments;"
	    "ALTER TABLE live_sessions DROP COLUMN xmarks;"
	    "INSERT INTO counters VALUES ('events', 7);"
	    "INSERT INTO live_sessions(visitor, started_ms) VALUES ('v9', 9);"
	    "PRAGMA user_version = 3;");
	assert_int_equal(raw_query(fx->db, "SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'heat'"), 0);
}

static void
count_live(void *arg, const struct session_summary *s)
{
	(void)s;
	(*(int *)arg)++;
}

struct heat_sum {
	uint64_t clicks, scroll;
	int rows;
	char page[64];
};

static void
sum_heat(void *arg, const struct store_heat_row *r)
{
	struct heat_sum *h = arg;

	h->rows++;
	if (r->kind == STORE_HEAT_CLICK)
		h->clicks += r->count;
	else
		h->scroll += r->count;
	snprintf(h->page, sizeof(h->page), "%s", r->page);
}

static void
test_migrate_v3(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct agg *a = malloc(sizeof(*a));
	struct heat_sum h = {0};
	int live = 0, events = agg_counter_index("events", 6);
	const struct store_heat_row row = {"/p", STORE_HEAT_CLICK, 5, 3};

	make_v3(fx);
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_schema_version(st), STORE_SCHEMA_VERSION);
	/* what v3 held is still there */
	assert_int_equal(store_load_counters(st, a), 0);
	assert_int_equal(a->c[events], 7);
	assert_int_equal(store_take_live(st, count_live, &live), 0);
	assert_int_equal(live, 1);
	/* and the new table works */
	assert_int_equal(store_load_heat(st, sum_heat, &h), 0);
	assert_int_equal(h.rows, 0);
	assert_int_equal(store_save_heat(st, &row, 1), 0);
	assert_int_equal(store_load_heat(st, sum_heat, &h), 0);
	assert_int_equal(h.clicks, 3);
	store_close(st);
	free(a);
}

static void
test_heat_rows(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct heat_sum h = {0};
	const struct store_heat_row first[] = {
	    {"/a", STORE_HEAT_CLICK, 0, 2},
	    {"/a", STORE_HEAT_CLICK, 1151, 5},
	    {"/a", STORE_HEAT_SCROLL, 0, 4},
	    {"/a", STORE_HEAT_SCROLL, 19, 1},
	};
	/* totals replace: /a cell 0 goes from 2 to 9, the rest stay */
	const struct store_heat_row second[] = {
	    {"/a", STORE_HEAT_CLICK, 0, 9},
	};
	const struct store_heat_row bad[] = {
	    {"/b", STORE_HEAT_CLICK, 3, 1},
	    {NULL, STORE_HEAT_CLICK, 3, 1},
	};

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_save_heat(st, first, 4), 0);
	assert_int_equal(store_save_heat(st, second, 1), 0);
	assert_int_equal(store_save_heat(st, NULL, 0), 0);
	/* all or nothing: /b is not saved either */
	assert_int_equal(store_save_heat(st, bad, 2), NUDGE_EINVAL);
	store_close(st);
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_load_heat(st, sum_heat, &h), 0);
	assert_int_equal(h.rows, 4);
	assert_int_equal(h.clicks, 14);
	assert_int_equal(h.scroll, 5);
	assert_string_equal(h.page, "/a");
	assert_int_equal(store_load_heat(st, NULL, NULL), NUDGE_EINVAL);
	store_close(st);
	/* rows no build means anything by are skipped, not fatal */
	raw_exec(fx->db, "INSERT INTO heat VALUES ('/z', 7, 0, 1);"
	    "INSERT INTO heat VALUES ('/z', 0, -1, 1);"
	    "INSERT INTO heat VALUES ('/z', 0, 2, 0);");
	memset(&h, 0, sizeof(h));
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_load_heat(st, sum_heat, &h), 0);
	assert_int_equal(h.rows, 4);
	store_close(st);
}

static void
test_newer_refused(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	store_close(st);
	raw_exec(fx->db, "PRAGMA user_version = 99");
	st = NULL;
	assert_int_equal(store_open(&st, fx->db, &d), NUDGE_EVERSION);
	assert_null(st);
	print_message("%s\n", d.msg);
	assert_non_null(strstr(d.msg, "schema version 99 is newer"));
	assert_non_null(strstr(d.msg, fx->db));
}

static void
test_not_a_database(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/notes.txt", fx->dir);
	assert_non_null(f = fopen(path, "w"));
	for (int i = 0; i < 200; i++)
		fputs("this is not a database, just some text\n", f);
	fclose(f);
	assert_int_equal(store_open(&st, path, &d), NUDGE_ESTORE);
	assert_null(st);
	print_message("%s\n", d.msg);
	assert_non_null(strstr(d.msg, "not a SQLite database"));

	snprintf(path, sizeof(path), "%s", fx->dir); /* a directory */
	assert_int_equal(store_open(&st, path, &d), NUDGE_ESTORE);
	print_message("%s\n", d.msg);
}

static void
test_counters(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct agg *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	/* an empty store gives zeros */
	memset(b, 0xff, sizeof(*b));
	assert_int_equal(store_load_counters(st, b), 0);
	assert_memory_equal(b, a, sizeof(*a));

	for (int i = 0; i < AGG_COUNTERS; i++)
		a->c[i] = (uint64_t)i * 7 + 1;
	a->c[AGG_REVENUE_CENTS] = UINT64_MAX; /* beyond int64 */
	a->g[AGG_SESSIONS_LIVE] = 5;
	for (unsigned i = 0; i < HLL_REGISTERS; i++)
		a->visitors.reg[i] = (uint8_t)(i % 31);
	assert_int_equal(store_save_counters(st, a), 0);
	a->c[AGG_EVENTS] = 1000; /* a second flush replaces the first */
	assert_int_equal(store_save_counters(st, a), 0);
	store_close(st);

	raw_exec(fx->db, "INSERT INTO counters VALUES ('from.the.future', 9)");
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_load_counters(st, b), 0);
	a->g[AGG_SESSIONS_LIVE] = 0; /* gauges are not stored */
	assert_memory_equal(b->c, a->c, sizeof(a->c));
	assert_memory_equal(b->g, a->g, sizeof(a->g));
	assert_memory_equal(b->visitors.reg, a->visitors.reg, HLL_REGISTERS);
	store_close(st);
	assert_int_equal(raw_query(fx->db, "SELECT value FROM counters WHERE "
	                                   "name = 'events'"),
	    1000);
	free(a);
	free(b);
}

static off_t
wal_size(const struct fixture *fx)
{
	char path[160];
	struct stat sb;

	snprintf(path, sizeof(path), "%s-wal", fx->db);
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

/* An unchanged flush writes nothing; a counter or register that moved does. */
static void
test_counters_unchanged(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct agg *a = calloc(1, sizeof(*a));
	off_t w;

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	a->c[AGG_EVENTS] = 5;
	assert_int_equal(store_save_counters(st, a), 0);
	w = wal_size(fx);
	assert_true(w > 0);
	a->g[AGG_SESSIONS_LIVE] = 3; /* gauges are not stored */
	assert_int_equal(store_save_counters(st, a), 0);
	assert_int_equal(wal_size(fx), w);
	a->visitors.reg[7] = 2;
	assert_int_equal(store_save_counters(st, a), 0);
	assert_true(wal_size(fx) > w);
	w = wal_size(fx);
	a->c[AGG_EVENTS] = 6;
	assert_int_equal(store_save_counters(st, a), 0);
	assert_true(wal_size(fx) > w);
	store_close(st);
	assert_int_equal(raw_query(fx->db, "SELECT value FROM counters WHERE "
	                                   "name = 'events'"),
	    6);
	free(a);
}

static void
test_archive(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	size_t n = 10000;
	struct session_summary *v = calloc(n, sizeof(*v));
	uint64_t count = 0;
	double t0;

	for (size_t i = 0; i < n; i++) {
		snprintf(v[i].visitor, sizeof(v[i].visitor), "visitor-%zu", i);
		v[i].started_ms = 1000 * i;
		v[i].last_ms = 1000 * i + 500;
		v[i].pages = 3;
		v[i].step = (uint8_t)(i % 6);
		snprintf(v[i].country, sizeof(v[i].country), "FR");
		v[i].revenue_cents = (int64_t)i;
		snprintf(v[i].last_page, sizeof(v[i].last_page), "/p/%zu", i);
	}
	/* a visitor id filling its whole array is still bounded */
	memset(v[1].visitor, 'x', sizeof(v[1].visitor));
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_archive_sessions(st, v, 0), 0);
	t0 = now_ms();
	assert_int_equal(store_archive_sessions(st, v, n), 0);
	print_message("archived %zu sessions in %.1f ms\n", n, now_ms() - t0);
	assert_int_equal(store_count_sessions(st, &count), 0);
	assert_int_equal(count, n);
	store_close(st);
	assert_int_equal(raw_query(fx->db, "SELECT sum(revenue_cents) FROM "
	                                   "sessions"),
	    (long long)(n * (n - 1) / 2));
	assert_int_equal(
	    raw_query(fx->db, "SELECT length(visitor) FROM "
	                      "sessions WHERE visitor LIKE 'xxx%'"),
	    EVENT_VISITOR_MAX + 1);
	free(v);
}

struct taken {
	size_t n;
	struct session_summary v[4];
};

static void
take_one(void *arg, const struct session_summary *s)
{
	struct taken *t = arg;

	if (t->n < 4)
		t->v[t->n] = *s;
	t->n++;
}

static void
test_live(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct session_summary v[3];
	struct taken t = {0};

	memset(v, 0, sizeof(v));
	for (int i = 0; i < 3; i++) {
		snprintf(v[i].visitor, sizeof(v[i].visitor), "live-%d", i);
		v[i].started_ms = 100 + (uint64_t)i;
		v[i].last_ms = UINT64_MAX / 2;
		v[i].pages = 7;
		v[i].events = 9;
		v[i].step = 3;
		v[i].source = SOURCE_COUPON;
		v[i].device = DEVICE_MOBILE;
		snprintf(v[i].country, sizeof(v[i].country), "DE");
		v[i].cart_items = 2;
		v[i].cart_cents = 5990;
		v[i].purchases = 1;
		v[i].revenue_cents = -3; /* signed survives */
		v[i].score = -40;
		snprintf(v[i].last_page, sizeof(v[i].last_page), "/cart");
		snprintf(
		    v[i].utm_campaign, sizeof(v[i].utm_campaign), "spring");
	}
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_save_live(st, v, 1), 0);
	assert_int_equal(store_save_live(st, v, 3), 0); /* replaces */
	store_close(st);
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_take_live(st, take_one, &t), 0);
	assert_int_equal(t.n, 3);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(&t.v[i], &v[i], sizeof(v[i]));
	t.n = 0;
	assert_int_equal(store_take_live(st, take_one, &t), 0);
	assert_int_equal(t.n, 0); /* restored at most once */
	assert_int_equal(store_save_live(st, NULL, 0), 0);
	store_close(st);
}

static void
test_meta_audit(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	char v[8] = "keep";

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(
	    store_meta_get(st, "k", v, sizeof(v)), NUDGE_ENOTFOUND);
	assert_int_equal(store_meta_put(st, "k", "one"), 0);
	assert_int_equal(store_meta_put(st, "k", "two"), 0);
	assert_int_equal(store_meta_get(st, "k", v, sizeof(v)), 0);
	assert_string_equal(v, "two");
	assert_int_equal(store_meta_put(st, "long", "12345678"), 0);
	assert_int_equal(
	    store_meta_get(st, "long", v, sizeof(v)), NUDGE_ETOOBIG);
	assert_string_equal(v, "two"); /* untouched on error */
	assert_int_equal(store_meta_put(st, "empty", ""), 0);
	assert_int_equal(store_meta_get(st, "empty", v, sizeof(v)), 0);
	assert_string_equal(v, "");

	assert_int_equal(
	    store_audit(st, 1234, "key-7", "rules.put", "version 3", 0), 0);
	assert_int_equal(store_audit(st, 1235, "local", "forget", "visitor v1",
	                     NUDGE_ENOTFOUND),
	    0);
	store_close(st);
	assert_int_equal(raw_query(fx->db, "SELECT count(*) FROM audit"), 2);
	assert_int_equal(raw_query(fx->db, "SELECT status FROM audit WHERE "
	                                   "what = 'forget'"),
	    NUDGE_ENOTFOUND);
	assert_int_equal(
	    raw_query(fx->db, "SELECT ts_ms FROM audit WHERE "
	                      "who = 'key-7' AND detail = 'version 3'"),
	    1234);
}

/* Privacy: one visitor's sessions erased; retention by age (PRIVACY.md). */
static void
test_forget_and_purge(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct session_summary v[4];
	struct store_visitor vis[2] = {{.vhash = 11, .last_ms = 100},
	    {.vhash = 12, .last_ms = 4000}};
	struct store_purge r = {0};
	uint64_t archived = 99, live = 99;

	memset(v, 0, sizeof(v));
	for (int i = 0; i < 4; i++) {
		snprintf(v[i].visitor, sizeof(v[i].visitor), "%s",
		    i < 2 ? "gone-1" : "stay-2");
		v[i].last_ms = 1000 * (uint64_t)(i + 1); /* 1000 .. 4000 */
	}
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_archive_sessions(st, v, 4), 0);
	assert_int_equal(store_save_live(st, v, 1), 0);
	assert_int_equal(store_save_visitors(st, vis, 2), 0);
	assert_int_equal(store_forget_sessions(st, "gone-1", 6, &archived,
	    &live), 0);
	assert_int_equal(archived, 2);
	assert_int_equal(live, 1);
	assert_int_equal(store_forget_sessions(st, "", 0, NULL, NULL),
	    NUDGE_EINVAL);
	/* nothing held: 0 rows, still a success */
	assert_int_equal(store_forget_sessions(st, "gone-1", 6, &archived,
	    NULL), 0);
	assert_int_equal(archived, 0);
	/* data before 3000: none; ids before 4001 removed, memory too */
	assert_int_equal(store_purge(st, 4001, 3000, &r), 0);
	assert_int_equal(r.deleted, 0);	/* gone-1's were forgotten */
	assert_int_equal(r.anonymized, 2);
	assert_int_equal(r.visitors, 2);
	assert_int_equal(store_purge(st, 4001, 4001, &r), 0);
	assert_int_equal(r.deleted, 2);
	assert_int_equal(r.anonymized, 0);
	store_close(st);
	assert_int_equal(raw_query(fx->db, "SELECT count(*) FROM sessions"), 0);
	assert_int_equal(raw_query(fx->db, "SELECT count(*) FROM visitors"), 0);
	assert_int_equal(raw_query(fx->db, "SELECT count(*) FROM "
	                                   "live_sessions"), 0);
}

static void
test_purge_keeps_figures(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct session_summary s;
	struct store_purge r = {0};

	memset(&s, 0, sizeof(s));
	snprintf(s.visitor, sizeof(s.visitor), "old-visitor");
	s.last_ms = 2000;
	s.revenue_cents = 4200;
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_archive_sessions(st, &s, 1), 0);
	assert_int_equal(store_purge(st, 2001, 1000, &r), 0);
	assert_int_equal(r.anonymized, 1);
	assert_int_equal(store_purge(st, 2001, 1000, &r), 0);
	assert_int_equal(r.anonymized, 0);	/* once is enough */
	store_close(st);
	assert_int_equal(raw_query(fx->db, "SELECT revenue_cents FROM sessions "
	                                   "WHERE visitor = ''"), 4200);
	assert_int_equal(raw_query(fx->db, "SELECT count(*) FROM sessions "
	                                   "WHERE visitor = 'old-visitor'"), 0);
}

static void
test_locked(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct agg *a = calloc(1, sizeof(*a));
	sqlite3 *other;
	double t0, waited;
	char msg[256] = "x";

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(sqlite3_open(fx->db, &other), SQLITE_OK);
	assert_int_equal(
	    sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	assert_int_equal(store_set_busy_timeout(st, 300), 0);
	assert_int_equal(store_failures(st, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");

	t0 = now_ms();
	assert_int_equal(store_meta_put(st, "k", "v"), NUDGE_EBUSY);
	waited = now_ms() - t0;
	print_message(
	    "busy after %.0f ms: %s\n", waited, store_last_error(st));
	assert_true(waited >= 250 && waited < 6000);
	assert_non_null(strstr(store_last_error(st), "locked"));
	t0 = now_ms();
	assert_int_equal(store_save_counters(st, a), NUDGE_EBUSY);
	assert_int_equal(store_audit(st, 1, "local", "x", "", 0), NUDGE_EBUSY);
	assert_true(now_ms() - t0 < 6000);
	/* reads still work under WAL */
	assert_int_equal(store_load_counters(st, a), 0);
	/* every failure is counted, whoever made the call (issue 7) */
	assert_int_equal(store_failures(st, msg, sizeof(msg)), 3);
	assert_non_null(strstr(msg, "locked"));

	assert_int_equal(
	    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(store_meta_put(st, "k", "v"), 0);
	assert_int_equal(store_save_counters(st, a), 0);
	assert_int_equal(store_failures(st, NULL, 0), 3);
	sqlite3_close(other);
	store_close(st);
	free(a);
}

struct camp_rows {
	unsigned n;
	uint64_t sum_n, tn;
	uint64_t steps[AGG_STEPS_MAX];	/* summed over the rows */
	char op[32];
};

static void
camp_ctr_row(void *arg, const struct store_camp_ctr *c)
{
	struct camp_rows *r = arg;

	r->n++;
	r->sum_n += c->n;
	for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
		r->steps[k] += c->steps[k];
}

static void
camp_hist_row(void *arg, const struct store_camp_hist *h)
{
	struct camp_rows *r = arg;

	if (r->n++ == 0)
		snprintf(r->op, sizeof(r->op), "%s", h->op);
}

static void
camp_exp_row(void *arg, const struct store_rule_exp *e)
{
	struct camp_rows *r = arg;

	r->n++;
	r->tn += e->tn;
}

/* Campaign tables (schema v7, v8): state, history, counters, experiments. */
static void
test_campaign_tables(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct store_camp c;
	struct store_camp_hist h = {2, 1234, "ops", "start", "text v2"};
	struct store_camp_ctr ctr[2] = {
	    {"ab", 0, 10, 2, 500, {1, 0, 0, 0}, {10, 6, 3}},
	    {"ab", 1, 12, 3, 700, {2, 0, 0, 0}, {12, 9, 4}}};
	struct store_rule_exp exp = {"helper", 5, 1, 4, 0, 3};
	struct camp_rows r = {0};

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_get_camp(st, "ab", &c), NUDGE_ENOTFOUND);
	assert_int_equal(store_put_camp(st, "ab", "text v2", 7, 99, 4, false,
	    &h), 0);
	assert_int_equal(store_save_camp_counters(st, ctr, 2, &exp, 1), 0);
	store_close(st);
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_get_camp(st, "ab", &c), 0);
	assert_string_equal(c.text, "text v2");
	assert_int_equal(c.len, 7);
	assert_int_equal(c.since_ms, 99);
	assert_int_equal(c.slot, 4);
	free(c.text);
	assert_int_equal(store_load_camp_counters(st, "ab", camp_ctr_row, &r),
	    0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.sum_n, 22);
	/* the step counts (v8) come back as saved */
	assert_int_equal(r.steps[0], 22);
	assert_int_equal(r.steps[1], 15);
	assert_int_equal(r.steps[2], 7);
	assert_int_equal(r.steps[3], 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_load_rule_exps(st, camp_exp_row, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.tn, 5);
	/* a start over: the counters go in the same transaction */
	h = (struct store_camp_hist){3, 1300, "rules", "declare", "text v3"};
	assert_int_equal(store_put_camp(st, "ab", "text v3", 7, 0, -1, true,
	    &h), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_load_camp_counters(st, "ab", camp_ctr_row, &r),
	    0);
	assert_int_equal(r.n, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_camp_history(st, "ab", 10, camp_hist_row, &r),
	    0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.op, "declare");	/* newest first */
	/* a state write without history (a slot change) */
	assert_int_equal(store_put_camp(st, "ab", "text v3", 7, 0, 2, false,
	    NULL), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_camp_history(st, "ab", 10, camp_hist_row, &r),
	    0);
	assert_int_equal(r.n, 2);
	assert_int_equal(store_put_camp(st, NULL, "x", 1, 0, 0, false, NULL),
	    NUDGE_EINVAL);
	store_close(st);
}

/*
 * v7 -> v8: a v7 database's campaign counters load with zero steps, and
 * steps saved afterwards load back.
 */
static void
test_migrate_v7(void **state)
{
	struct fixture *fx = *state;
	struct store *st = NULL;
	struct nudge_diag d = {0};
	struct camp_rows r = {0};
	struct store_camp_ctr ctr = {"ab", 1, 12, 3, 700, {0}, {12, 8, 8, 2}};

	assert_int_equal(store_open(&st, fx->db, &d), 0);
	store_close(st);
	raw_exec(fx->db,
	    "ALTER TABLE campaign_counters DROP COLUMN steps;"
	    "INSERT INTO campaign_counters VALUES ('ab', 0, 9, 1, 0, 0, 0, 0,"
	    " 0);"
	    "PRAGMA user_version = 7;");
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	assert_int_equal(store_schema_version(st), 8);
	assert_int_equal(store_load_camp_counters(st, "ab", camp_ctr_row, &r),
	    0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.sum_n, 9);
	assert_int_equal(r.steps[0], 0);
	assert_int_equal(store_save_camp_counters(st, &ctr, 1, NULL, 0), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_load_camp_counters(st, "ab", camp_ctr_row, &r),
	    0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.steps[0], 12);
	assert_int_equal(r.steps[2], 8);
	assert_int_equal(r.steps[3], 2);
	assert_int_equal(r.steps[4], 0);
	store_close(st);
	/* a blob of no whole number of counts reads as none, not as noise */
	raw_exec(fx->db, "UPDATE campaign_counters SET steps = x'0102'");
	assert_int_equal(store_open(&st, fx->db, &d), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(store_load_camp_counters(st, "ab", camp_ctr_row, &r),
	    0);
	assert_int_equal(r.steps[0], 0);
	store_close(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_fresh, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v1, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v3, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_migrate_v7, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_heat_rows, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_newer_refused, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_not_a_database, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counters, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_counters_unchanged, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_archive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_live, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_meta_audit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forget_and_purge, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_purge_keeps_figures, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_campaign_tables, setup,
	        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
