/*
 * history.c - the console's per-minute history (see history.h): a ring of
 * the last HIST_RING_MIN minutes in memory, mirrored to a small SQLite
 * file in WAL mode with bounded retention.
 *
 * Owns the database handle, the ring, the minute being counted and one
 * baseline per agent.  Main thread only.
 */
#include "history.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

struct hist_base {
	bool have;
	uint64_t boot_id;
	uint64_t v[HIST_SERIES];
};

struct hist {
	sqlite3 *db; /* NULL: memory only */
	sqlite3_stmt *put;
	unsigned n_agents;
	struct hist_base *base; /* n_agents */
	struct hist_row cur;    /* the minute being counted */
	struct hist_row *ring;  /* HIST_RING_MIN, by minute % HIST_RING_MIN */
	bool fill_dirty;
	char err[256];
};

static const char *const hist_names[HIST_FUNNEL0] = {
    [HIST_EVENTS] = "events",
    [HIST_SESSIONS] = "sessions_started",
    [HIST_PURCHASES] = "purchases",
    [HIST_REVENUE] = "revenue_cents",
    [HIST_VISITORS] = "visitors_active",
};

/* The agg slot behind each counter series (HIST_VISITORS is a gauge). */
static int
hist_slot(int s)
{
	switch (s) {
	case HIST_EVENTS:
		return AGG_EVENTS;
	case HIST_SESSIONS:
		return AGG_SESSIONS_STARTED;
	case HIST_PURCHASES:
		return AGG_PURCHASES;
	case HIST_REVENUE:
		return AGG_REVENUE_CENTS;
	case HIST_VISITORS:
		return -1;
	default:
		return AGG_FUNNEL(s - HIST_FUNNEL0);
	}
}

const char *
hist_series_name(int s)
{
	if (s < 0 || s >= HIST_SERIES)
		return NULL;
	if (s < HIST_FUNNEL0 && s != HIST_VISITORS)
		return agg_counter_name(hist_slot(s)) != NULL
		           ? agg_counter_name(hist_slot(s))
		           : hist_names[s];
	if (s == HIST_VISITORS)
		return agg_gauge_name(AGG_VISITORS_ACTIVE) != NULL
		           ? agg_gauge_name(AGG_VISITORS_ACTIVE)
		           : hist_names[s];
	return agg_counter_name(hist_slot(s));
}

int
hist_series_index(const char *name)
{
	for (int s = 0; s < HIST_SERIES; s++) {
		const char *n = hist_series_name(s);

		if (n != NULL && strcmp(n, name) == 0)
			return s;
	}
	return -1;
}

int
hist_default_path(char *buf, size_t cap)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, cap, "%s/nudge/console.db", xdg);
	else if (home != NULL && home[0] != '\0')
		n = snprintf(
		    buf, cap, "%s/.local/state/nudge/console.db", home);
	else
		return NUDGE_ENOTFOUND;
	return n < 0 || (size_t)n >= cap ? NUDGE_ETOOBIG : 0;
}

/* mkdir -p of path's directory (mode 0700: it says what a shop sells). */
static void
hist_mkdirs(const char *path)
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
		if (mkdir(dir, 0700) != 0 && errno != EEXIST)
			return;
		*p = '/';
	}
}

static int
hist_sql_fail(struct hist *h, const char *what)
{
	snprintf(h->err, sizeof(h->err), "%s: %s", what,
	    h->db != NULL ? sqlite3_errmsg(h->db) : "no database");
	return NUDGE_ESTORE;
}

static struct hist_row *
hist_slot_for(struct hist *h, uint64_t minute_ms)
{
	return &h->ring[(minute_ms / HIST_MINUTE_MS) % HIST_RING_MIN];
}

static int
hist_load(struct hist *h, uint64_t now_ms)
{
	uint64_t from = now_ms - (uint64_t)HIST_RING_MIN * HIST_MINUTE_MS;
	sqlite3_stmt *q;

	if (sqlite3_prepare_v2(h->db,
	        "SELECT minute, name, value FROM minutes WHERE minute >= ?",
	        -1, &q, NULL) != SQLITE_OK)
		return hist_sql_fail(h, "load");
	sqlite3_bind_int64(q, 1, (sqlite3_int64)from);
	while (sqlite3_step(q) == SQLITE_ROW) {
		uint64_t m = (uint64_t)sqlite3_column_int64(q, 0);
		const char *name = (const char *)sqlite3_column_text(q, 1);
		int s = name != NULL ? hist_series_index(name) : -1;
		struct hist_row *r = hist_slot_for(h, m);

		m -= m % HIST_MINUTE_MS;
		if (s < 0 || m >= now_ms - now_ms % HIST_MINUTE_MS)
			continue;
		if (r->minute_ms != m) {
			memset(r, 0, sizeof(*r));
			r->minute_ms = m;
		}
		r->own = true;
		r->prior = true;
		r->v[s] = (uint64_t)sqlite3_column_int64(q, 2);
	}
	sqlite3_finalize(q);
	return 0;
}

static int
hist_open_db(struct hist *h, const char *path, uint64_t now_ms)
{
	static const char schema[] =
	    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
	    "CREATE TABLE IF NOT EXISTS minutes(minute INTEGER NOT NULL,"
	    " name TEXT NOT NULL, value INTEGER NOT NULL,"
	    " PRIMARY KEY(minute, name)) WITHOUT ROWID;";

	hist_mkdirs(path);
	if (sqlite3_open_v2(path, &h->db,
	        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	            SQLITE_OPEN_NOMUTEX,
	        NULL) != SQLITE_OK)
		return hist_sql_fail(h, path);
	sqlite3_busy_timeout(h->db, 1000);
	if (sqlite3_exec(h->db, schema, NULL, NULL, NULL) != SQLITE_OK)
		return hist_sql_fail(h, path);
	if (sqlite3_prepare_v2(h->db,
	        "INSERT INTO minutes(minute, name, value) VALUES(?, ?, ?)"
	        " ON CONFLICT(minute, name) DO UPDATE SET value = "
	        "excluded.value",
	        -1, &h->put, NULL) != SQLITE_OK)
		return hist_sql_fail(h, path);
	return hist_load(h, now_ms);
}

int
hist_open(struct hist **out, const char *path, unsigned n_agents,
    uint64_t now_ms, struct nudge_diag *d)
{
	struct hist *h = calloc(1, sizeof(*h));
	int rv;

	if (h == NULL ||
	    (h->ring = calloc(HIST_RING_MIN, sizeof(*h->ring))) == NULL ||
	    (h->base = calloc(n_agents ? n_agents : 1, sizeof(*h->base))) ==
	        NULL) {
		if (h != NULL)
			free(h->ring);
		free(h);
		return NUDGE_ENOMEM;
	}
	h->n_agents = n_agents;
	h->cur.minute_ms = now_ms - now_ms % HIST_MINUTE_MS;
	h->cur.own = true;
	if (path != NULL && (rv = hist_open_db(h, path, now_ms)) != 0) {
		nudge_diag_set(d, 0, 0, "history: %s", h->err);
		hist_close(h);
		return rv;
	}
	*out = h;
	return 0;
}

void
hist_close(struct hist *h)
{
	if (h == NULL)
		return;
	sqlite3_finalize(h->put);
	sqlite3_close(h->db);
	free(h->base);
	free(h->ring);
	free(h);
}

void
hist_observe(
    struct hist *h, unsigned idx, uint64_t boot_id, const struct agg *a)
{
	struct hist_base *b;

	if (idx >= h->n_agents)
		return;
	b = &h->base[idx];
	for (int s = 0; s < HIST_SERIES; s++) {
		int slot = hist_slot(s);
		uint64_t now = slot >= 0 ? a->c[slot] : 0;

		if (slot < 0)
			continue;
		if (!b->have || b->boot_id != boot_id || b->v[s] == UINT64_MAX)
			b->v[s] = now; /* a new baseline: nothing to count */
		else if (now > b->v[s]) {
			h->cur.v[s] += now - b->v[s];
			b->v[s] = now;
		}
		/*
		 * Behind the baseline: a history answer ahead of the model's
		 * last delta, or a relay whose total dipped while one of its
		 * agents was away.  Counting from the lower value would count
		 * the same events twice; wait until the baseline is passed.
		 */
	}
	b->have = true;
	b->boot_id = boot_id;
}

void
hist_forget(struct hist *h, unsigned idx)
{
	if (idx < h->n_agents)
		h->base[idx].have = false;
}

/* Upserts one row's series (inside the caller's transaction). */
static int
hist_put_row(struct hist *h, const struct hist_row *r)
{
	for (int s = 0; s < HIST_SERIES; s++) {
		if (r->v[s] == 0 && s >= HIST_FUNNEL0)
			continue; /* steps the funnel does not have */
		sqlite3_reset(h->put);
		sqlite3_bind_int64(h->put, 1, (sqlite3_int64)r->minute_ms);
		sqlite3_bind_text(
		    h->put, 2, hist_series_name(s), -1, SQLITE_STATIC);
		sqlite3_bind_int64(h->put, 3, (sqlite3_int64)r->v[s]);
		if (sqlite3_step(h->put) != SQLITE_DONE)
			return hist_sql_fail(h, "write");
	}
	return 0;
}

static int
hist_expire(struct hist *h, uint64_t now_minute)
{
	char sql[96];

	if (now_minute <= HIST_KEEP_MS)
		return 0;
	snprintf(sql, sizeof(sql), "DELETE FROM minutes WHERE minute < %llu",
	    (unsigned long long)(now_minute - HIST_KEEP_MS));
	return sqlite3_exec(h->db, sql, NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : hist_sql_fail(h, "expire");
}

/*
 * Writes rows (the closed minute, or every back-filled one when r is NULL)
 * in one transaction; with a closed minute, expires the rows older than
 * HIST_KEEP_MS before now_minute.
 */
static int
hist_write(struct hist *h, const struct hist_row *r, uint64_t now_minute)
{
	int rv = 0;

	if (h->db == NULL)
		return 0;
	if (sqlite3_exec(h->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return hist_sql_fail(h, "begin");
	if (r != NULL) {
		rv = hist_put_row(h, r);
		if (rv == 0)
			rv = hist_expire(h, now_minute);
	}
	for (unsigned i = 0; r == NULL && i < HIST_RING_MIN && rv == 0; i++)
		if (h->ring[i].filled && !h->ring[i].prior)
			rv = hist_put_row(h, &h->ring[i]);
	if (rv != 0) {
		sqlite3_exec(h->db, "ROLLBACK", NULL, NULL, NULL);
		return rv;
	}
	return sqlite3_exec(h->db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : hist_sql_fail(h, "commit");
}

bool
hist_advance(struct hist *h, uint64_t now_ms, uint64_t visitors)
{
	uint64_t minute = now_ms - now_ms % HIST_MINUTE_MS;

	h->cur.v[HIST_VISITORS] = visitors;
	if (minute <= h->cur.minute_ms)
		return false;
	*hist_slot_for(h, h->cur.minute_ms) = h->cur;
	hist_write(h, &h->cur, minute);
	memset(&h->cur, 0, sizeof(h->cur));
	h->cur.minute_ms = minute;
	h->cur.own = true;
	h->cur.v[HIST_VISITORS] = visitors;
	return true;
}

const struct hist_row *
hist_row_at(const struct hist *h, uint64_t t_ms)
{
	uint64_t minute = t_ms - t_ms % HIST_MINUTE_MS;
	const struct hist_row *r;

	if (minute == h->cur.minute_ms)
		return &h->cur;
	r = &h->ring[(minute / HIST_MINUTE_MS) % HIST_RING_MIN];
	return r->minute_ms == minute ? r : NULL;
}

bool
hist_known(const struct hist *h, uint64_t t_ms)
{
	const struct hist_row *r = hist_row_at(h, t_ms);

	return r != NULL && (r->own || r->filled);
}

uint64_t
hist_sum(const struct hist *h, int s, uint64_t from_ms, uint64_t to_ms)
{
	uint64_t sum = 0;

	if (s < 0 || s >= HIST_SERIES)
		return 0;
	from_ms -= from_ms % HIST_MINUTE_MS;
	for (uint64_t t = from_ms; t < to_ms; t += HIST_MINUTE_MS) {
		const struct hist_row *r = hist_row_at(h, t);

		if (r != NULL)
			sum += r->v[s];
	}
	return sum;
}

void
hist_series(
    const struct hist *h, int s, uint64_t now_ms, uint64_t *vals, size_t n)
{
	uint64_t minute = now_ms - now_ms % HIST_MINUTE_MS;

	for (size_t i = 0; i < n; i++) {
		uint64_t back = (uint64_t)(n - 1 - i) * HIST_MINUTE_MS;
		const struct hist_row *r =
		    back <= minute ? hist_row_at(h, minute - back) : NULL;

		vals[i] = r != NULL && s >= 0 && s < HIST_SERIES ? r->v[s] : 0;
	}
}

bool
hist_fill(struct hist *h, uint64_t minute_ms, const char *name, uint64_t v)
{
	int s = hist_series_index(name);
	struct hist_row *r;

	minute_ms -= minute_ms % HIST_MINUTE_MS;
	if (minute_ms == h->cur.minute_ms + HIST_MINUTE_MS)
		minute_ms = h->cur.minute_ms;
	if (s >= 0 && minute_ms == h->cur.minute_ms) {
		h->cur.v[s] += v; /* the agent's part of this minute so far */
		return true;
	}
	if (s < 0 || minute_ms > h->cur.minute_ms ||
	    h->cur.minute_ms - minute_ms >
	        (uint64_t)(HIST_RING_MIN - 1) * HIST_MINUTE_MS)
		return false;
	r = hist_slot_for(h, minute_ms);
	if (r->minute_ms != minute_ms) {
		memset(r, 0, sizeof(*r));
		r->minute_ms = minute_ms;
	}
	if (r->prior)
		return false;
	r->filled = true;
	r->v[s] += v;
	h->fill_dirty = true;
	return true;
}

void
hist_set_base(struct hist *h, unsigned idx, uint64_t boot_id, const char *name,
    uint64_t v)
{
	int s = hist_series_index(name);
	struct hist_base *b;

	if (idx >= h->n_agents || s < 0 || hist_slot(s) < 0)
		return;
	b = &h->base[idx];
	if (!b->have || b->boot_id != boot_id)
		for (int k = 0; k < HIST_SERIES; k++)
			b->v[k] =
			    UINT64_MAX; /* unnamed: rebase, count nothing */
	b->have = true;
	b->boot_id = boot_id;
	b->v[s] = v;
}

int
hist_fill_commit(struct hist *h)
{
	if (!h->fill_dirty)
		return 0;
	h->fill_dirty = false;
	return hist_write(h, NULL, 0);
}

const char *
hist_last_error(const struct hist *h)
{
	return h->err;
}
