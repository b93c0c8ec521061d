/*
 * store_ctl.c - the tables of the control path: rule set versions, the
 * rules' visitor memory (cap histories), context facts, a visitor's
 * erasure (`nudge forget`), the retention purge and the audit tail.
 *
 * These run at most a few times a second (a push, a context change, the
 * visitor flush, a purge a day), so their statements are prepared per
 * call.  Every public function takes the store's mutex (store_int.h), so
 * any agent thread may call it.
 */
#include "store.h"
#include "store_int.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
store_put_rules_tx(struct store *st, void *arg)
{
	const struct store_rules *r = arg;
	sqlite3_stmt *q;
	int rc;

	if ((rc = store_prep(st, "INSERT INTO rule_sets(kind, version, text,"
	    " hash, ts_ms, who) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &q,
	    "put rules")) != NUDGE_OK)
		return rc;
	sqlite3_bind_int(q, 1, r->kind);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)r->version);
	sqlite3_bind_text(q, 3, r->text, (int)r->len, SQLITE_STATIC);
	sqlite3_bind_text(q, 4, r->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)r->ts_ms);
	sqlite3_bind_text(q, 6, r->who, -1, SQLITE_STATIC);
	rc = sqlite3_step(q);
	sqlite3_finalize(q);
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return NUDGE_EEXIST;
	return rc == SQLITE_DONE ? NUDGE_OK : store_fail(st, rc, "put rules");
}

int
store_put_rules(struct store *st, const struct store_rules *r)
{
	int rc;

	if (r == NULL || r->text == NULL || r->version == 0 ||
	    r->version > INT64_MAX || r->len > INT32_MAX)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_acked(st, store_put_rules_tx, (void *)r);
	store_unlock(st);
	return rc;
}

/* Copies the meta columns (version, hash, ts, who) of row q into r. */
static void
store_rules_meta(sqlite3_stmt *q, struct store_rules *r, int kind)
{
	memset(r, 0, sizeof(*r));
	r->kind = (uint8_t)kind;
	r->version = (uint64_t)sqlite3_column_int64(q, 0);
	store_col_arr(q, 1, r->hash, sizeof(r->hash));
	r->ts_ms = (uint64_t)sqlite3_column_int64(q, 2);
	store_col_arr(q, 3, r->who, sizeof(r->who));
}

static int
store_rules_row(struct store *st, sqlite3_stmt *q, int kind,
    struct store_rules *out)
{
	struct store_rules r;
	const void *t;
	int rc = sqlite3_step(q);

	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? NUDGE_ENOTFOUND
		                         : store_fail(st, rc, "get rules");
	store_rules_meta(q, &r, kind);
	t = sqlite3_column_text(q, 4);
	r.len = (size_t)sqlite3_column_bytes(q, 4);
	if ((r.text = malloc(r.len + 1)) == NULL)
		return NUDGE_ENOMEM;
	memcpy(r.text, t ? t : "", r.len);
	r.text[r.len] = '\0';
	*out = r;
	return NUDGE_OK;
}

int
store_get_rules(struct store *st, int kind, uint64_t version,
    struct store_rules *out)
{
	sqlite3_stmt *q;
	int rc;

	if (out == NULL || version > INT64_MAX)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_prep(st, version == 0 ?
	    "SELECT version, hash, ts_ms, who, text FROM rule_sets WHERE "
	    "kind = ?1 ORDER BY version DESC LIMIT 1" :
	    "SELECT version, hash, ts_ms, who, text FROM rule_sets WHERE "
	    "kind = ?1 AND version = ?2", &q, "get rules");
	if (rc == NUDGE_OK) {
		sqlite3_bind_int(q, 1, kind);
		if (version != 0)
			sqlite3_bind_int64(q, 2, (sqlite3_int64)version);
		rc = store_rules_row(st, q, kind, out);
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}

int
store_list_rules(struct store *st, int kind, struct store_rules *out,
    size_t cap, size_t *n)
{
	sqlite3_stmt *q;
	size_t got = 0;
	int rc;

	if ((out == NULL && cap > 0) || n == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_prep(st, "SELECT version, hash, ts_ms, who FROM rule_sets "
	    "WHERE kind = ?1 ORDER BY version DESC LIMIT ?2", &q,
	    "list rules");
	if (rc == NUDGE_OK) {
		sqlite3_bind_int(q, 1, kind);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)cap);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW && got < cap)
			store_rules_meta(q, &out[got++], kind);
		rc = rc == SQLITE_DONE || rc == SQLITE_ROW
		         ? NUDGE_OK
		         : store_fail(st, rc, "list rules");
		sqlite3_finalize(q);
	}
	store_unlock(st);
	if (rc == NUDGE_OK)
		*n = got;
	return rc;
}

static int
store_visitors_body(struct store *st, void *arg)
{
	const struct store_rows *r = arg;
	const struct store_visitor *v = r->v;
	size_t n = r->n;
	sqlite3_stmt *q;
	int rc;

	if ((rc = store_prep(st, "INSERT OR REPLACE INTO visitors(vhash, "
	    "orders, sessions, last_ms, prev_ms, caps) VALUES (?1, ?2, ?3, "
	    "?4, ?5, ?6)", &q, "save visitors")) != NUDGE_OK)
		return rc;
	for (size_t i = 0; i < n && rc == NUDGE_OK; i++) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)v[i].vhash);
		sqlite3_bind_int64(q, 2, v[i].orders);
		sqlite3_bind_int64(q, 3, v[i].sessions);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)v[i].last_ms);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)v[i].prev_ms);
		sqlite3_bind_blob(q, 6, v[i].caps, (int)v[i].caps_len,
		    SQLITE_STATIC);
		rc = store_run(st, q, "save visitors");
	}
	sqlite3_finalize(q);
	return rc;
}

int
store_save_visitors(struct store *st, const struct store_visitor *v,
    size_t n)
{
	struct store_rows r = {v, n};

	if (n == 0)
		return NUDGE_OK;
	if (v == NULL)
		return NUDGE_EINVAL;
	return store_locked_tx(st, store_visitors_body, &r);
}

int
store_load_visitors(struct store *st, size_t max,
    void (*fn)(void *arg, const struct store_visitor *v), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	/*
	 * Newest first walks the last_ms index and looks each row up by its
	 * vhash, in random order: with the default 2 MB page cache nearly
	 * every lookup was a pread (65,536 of them, most of a start's CPU).
	 * A cache as large as the table for the load reads each page once.
	 */
	sqlite3_exec(store_db(st), "PRAGMA cache_size = -65536", NULL, NULL, NULL);
	rc = store_prep(st, "SELECT vhash, orders, sessions, last_ms, prev_ms,"
	    " caps FROM visitors ORDER BY last_ms DESC LIMIT ?1", &q,
	    "load visitors");
	if (rc == NUDGE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)max);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_visitor v = {
			    (uint64_t)sqlite3_column_int64(q, 0),
			    (uint32_t)sqlite3_column_int64(q, 1),
			    (uint32_t)sqlite3_column_int64(q, 2),
			    (uint64_t)sqlite3_column_int64(q, 3),
			    (uint64_t)sqlite3_column_int64(q, 4),
			    sqlite3_column_blob(q, 5),
			    (size_t)sqlite3_column_bytes(q, 5)};
			fn(arg, &v);
		}
		rc = rc == SQLITE_DONE ? NUDGE_OK
		                       : store_fail(st, rc, "load visitors");
		sqlite3_finalize(q);
	}
	/* back to SQLite's default: the pages go, the memory with them */
	sqlite3_exec(store_db(st), "PRAGMA cache_size = -2000", NULL, NULL, NULL);
	store_unlock(st);
	return rc;
}

int
store_forget_visitor(struct store *st, uint64_t vhash)
{
	sqlite3_stmt *q;
	int rc;

	store_lock(st);
	if ((rc = store_prep(st, "DELETE FROM visitors WHERE vhash = ?1", &q,
	    "forget visitor")) == NUDGE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)vhash);
		rc = store_step_once(st, q, "forget visitor");
	}
	store_unlock(st);
	return rc;
}

/* ---- privacy: erasure and retention (no schema change) ----------------
 * Both run rarely (an operator's request, the hourly purge).  They turn
 * secure_delete on for their transaction so that deleted rows are
 * overwritten in the database file, and truncate the WAL afterwards so
 * that no old page image keeps them either.
 */

struct store_forget_arg {
	const char *vid;
	size_t len;
	uint64_t archived, live;
};

/* Runs sql (binding ?1 to the id or to the cut-off) and counts changes. */
static int
store_change(struct store *st, const char *sql, const char *text, size_t len,
    uint64_t ms, uint64_t *changed, const char *what)
{
	sqlite3_stmt *q;
	int rc;

	if ((rc = store_prep(st, sql, &q, what)) != NUDGE_OK)
		return rc;
	if (text != NULL)
		sqlite3_bind_text(q, 1, text, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_int64(q, 1, (sqlite3_int64)ms);
	if ((rc = store_step_once(st, q, what)) == NUDGE_OK && changed)
		*changed += (uint64_t)sqlite3_changes(store_db(st));
	return rc;
}

static int
store_forget_tx(struct store *st, void *arg)
{
	struct store_forget_arg *f = arg;
	int rc;

	rc = store_change(st, "DELETE FROM sessions WHERE visitor = ?1",
	    f->vid, f->len, 0, &f->archived, "forget sessions");
	if (rc == NUDGE_OK)
		rc = store_change(st, "DELETE FROM live_sessions WHERE "
		    "visitor = ?1", f->vid, f->len, 0, &f->live,
		    "forget live sessions");
	return rc;
}

/*
 * secure_delete on around body, then the WAL truncated (best effort):
 * always for an erasure (the visitor's id may sit in an old page image of
 * a row deleted otherwise, e.g. a live session taken back at start), and
 * for the retention purge only when it changed a row.  A purge that
 * changed nothing leaves no image behind (an expired row still in a table
 * would have been deleted now; one gone before went with its own
 * truncation), and its truncating checkpoint (fsyncs of the database and
 * the WAL) is what made a start after a kill -9 wait seconds on a busy
 * disk, as the purge runs before the sockets listen.
 */
static int
store_scrub(struct store *st, int (*body)(struct store *, void *), void *arg,
    bool always)
{
	int rc, before = sqlite3_total_changes(store_db(st));

	sqlite3_exec(store_db(st), "PRAGMA secure_delete=ON", NULL, NULL, NULL);
	rc = store_acked(st, body, arg);
	sqlite3_exec(store_db(st), "PRAGMA secure_delete=OFF", NULL, NULL, NULL);
	if (rc == NUDGE_OK && (always ||
	    sqlite3_total_changes(store_db(st)) != before))
		sqlite3_exec(store_db(st), "PRAGMA wal_checkpoint(TRUNCATE)", NULL,
		    NULL, NULL);
	return rc;
}

int
store_forget_sessions(struct store *st, const char *vid, size_t len,
    uint64_t *archived, uint64_t *live)
{
	struct store_forget_arg f = {vid, len, 0, 0};
	int rc;

	if (vid == NULL || len == 0 || len > INT32_MAX)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_scrub(st, store_forget_tx, &f, true);
	store_unlock(st);
	if (rc == NUDGE_OK) {
		if (archived != NULL)
			*archived = f.archived;
		if (live != NULL)
			*live = f.live;
	}
	return rc;
}

struct store_purge_arg {
	uint64_t ids_before_ms, data_before_ms;
	struct store_purge res;
};

static int
store_purge_tx(struct store *st, void *arg)
{
	struct store_purge_arg *p = arg;
	int rc;

	rc = store_change(st, "DELETE FROM sessions WHERE last_ms < ?1", NULL,
	    0, p->data_before_ms, &p->res.deleted, "purge sessions");
	if (rc == NUDGE_OK)
		rc = store_change(st, "DELETE FROM live_sessions WHERE "
		    "last_ms < ?1", NULL, 0, p->data_before_ms,
		    &p->res.deleted, "purge live sessions");
	if (rc == NUDGE_OK)
		rc = store_change(st, "UPDATE sessions SET visitor = '' WHERE "
		    "last_ms < ?1 AND visitor <> ''", NULL, 0,
		    p->ids_before_ms, &p->res.anonymized,
		    "anonymize sessions");
	if (rc == NUDGE_OK)
		rc = store_change(st, "DELETE FROM visitors WHERE "
		    "last_ms < ?1", NULL, 0, p->ids_before_ms,
		    &p->res.visitors, "purge visitors");
	return rc;
}

int
store_purge(struct store *st, uint64_t ids_before_ms,
    uint64_t data_before_ms, struct store_purge *out)
{
	struct store_purge_arg p = {ids_before_ms, data_before_ms, {0, 0, 0}};
	int rc;

	if (ids_before_ms > INT64_MAX || data_before_ms > INT64_MAX)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_scrub(st, store_purge_tx, &p, false);
	store_unlock(st);
	if (rc == NUDGE_OK && out != NULL)
		*out = p.res;
	return rc;
}

struct store_facts_arg {
	const struct store_fact *v;
	size_t n;
};

static int
store_put_facts_tx(struct store *st, void *arg)
{
	const struct store_facts_arg *fa = arg;
	int rc = NUDGE_OK;

	for (size_t i = 0; i < fa->n && rc == NUDGE_OK; i++) {
		const struct store_fact *f = &fa->v[i];
		sqlite3_stmt *q;

		rc = store_prep(st, f->type == STORE_FACT_DEL ?
		    "DELETE FROM context WHERE key = ?1 AND idx = ?2" :
		    "INSERT OR REPLACE INTO context(key, idx, type, num, str) "
		    "VALUES (?1, ?2, ?3, ?4, ?5)", &q, "put facts");
		if (rc != NUDGE_OK)
			break;
		sqlite3_bind_text(q, 1, f->key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, f->idx ? f->idx : "", -1,
		    SQLITE_STATIC);
		if (f->type != STORE_FACT_DEL) {
			sqlite3_bind_int(q, 3, f->type);
			sqlite3_bind_double(q, 4, f->num);
			sqlite3_bind_text(q, 5, f->str ? f->str : "", -1,
			    SQLITE_STATIC);
		}
		rc = store_step_once(st, q, "put facts");
	}
	return rc;
}

int
store_put_facts(struct store *st, const struct store_fact *v, size_t n)
{
	struct store_facts_arg fa = {v, n};
	int rc;

	if (v == NULL && n > 0)
		return NUDGE_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (v[i].key == NULL)
			return NUDGE_EINVAL;
	store_lock(st);
	rc = store_acked(st, store_put_facts_tx, &fa);
	store_unlock(st);
	return rc;
}

int
store_load_facts(struct store *st,
    void (*fn)(void *arg, const struct store_fact *f), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_prep(st, "SELECT key, idx, type, num, str FROM context "
	    "ORDER BY key, idx", &q, "load facts");
	if (rc == NUDGE_OK) {
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			int type = sqlite3_column_int(q, 2);
			struct store_fact f = {
			    (const char *)sqlite3_column_text(q, 0),
			    (const char *)sqlite3_column_text(q, 1),
			    (uint8_t)type, sqlite3_column_double(q, 3),
			    (const char *)sqlite3_column_text(q, 4)};
			if (f.key == NULL || (type != STORE_FACT_NUM &&
			    type != STORE_FACT_STR))
				continue;
			fn(arg, &f);
		}
		rc = rc == SQLITE_DONE ? NUDGE_OK
		                       : store_fail(st, rc, "load facts");
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}

int
store_audit_tail(struct store *st, size_t lim,
    void (*fn)(void *arg, const struct store_audit_entry *e), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_prep(st, "SELECT id, ts_ms, who, what, detail, status FROM "
	    "audit ORDER BY id DESC LIMIT ?1", &q, "audit tail");
	if (rc == NUDGE_OK) {
		sqlite3_bind_int64(q, 1, (sqlite3_int64)lim);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_audit_entry e = {
			    (uint64_t)sqlite3_column_int64(q, 0),
			    (uint64_t)sqlite3_column_int64(q, 1),
			    (const char *)sqlite3_column_text(q, 2),
			    (const char *)sqlite3_column_text(q, 3),
			    (const char *)sqlite3_column_text(q, 4),
			    sqlite3_column_int(q, 5)};
			fn(arg, &e);
		}
		rc = rc == SQLITE_DONE ? NUDGE_OK
		                       : store_fail(st, rc, "audit tail");
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}
