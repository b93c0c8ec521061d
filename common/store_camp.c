/*
 * store_camp.c - the campaign tables of the agent's database (schema v8):
 * the state of every campaign, the history of every accepted change, the
 * per-variant counters and the rules' holdout experiment counters.
 *
 * Owns nothing but its SQL: the connection, the lock and the transaction
 * helpers are store.c's (store_int.h).  Every public function takes the
 * store's mutex, so any thread may call it.  Statements are prepared per
 * call: state changes are rare and the counter flush runs once a second
 * with a few dozen rows.
 */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- state and history ------------------------------------------------ */

struct camp_put {
	const char *name, *text;
	size_t len;
	uint64_t since_ms;
	int slot;
	bool reset;
	const struct store_camp_hist *h;
};

static int
camp_put_hist(struct store *st, const struct camp_put *p)
{
	const struct store_camp_hist *h = p->h;
	sqlite3_stmt *q;
	int rc;

	if ((rc = store_prep(st, "INSERT INTO campaign_history(name, version,"
	    " ts_ms, who, op, text) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &q,
	    "campaign history")) != NUDGE_OK)
		return rc;
	sqlite3_bind_text(q, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)h->version);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)h->ts_ms);
	sqlite3_bind_text(q, 4, h->who ? h->who : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 5, h->op ? h->op : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 6, h->text ? h->text : "", -1, SQLITE_STATIC);
	return store_step_once(st, q, "campaign history");
}

static int
camp_put_tx(struct store *st, void *arg)
{
	const struct camp_put *p = arg;
	sqlite3_stmt *q;
	int rc;

	if ((rc = store_prep(st, "INSERT OR REPLACE INTO campaigns(name, text,"
	    " since_ms, slot) VALUES (?1, ?2, ?3, ?4)", &q, "put campaign")))
		return rc;
	sqlite3_bind_text(q, 1, p->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, p->text, (int)p->len, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)p->since_ms);
	sqlite3_bind_int(q, 4, p->slot);
	if ((rc = store_step_once(st, q, "put campaign")) != NUDGE_OK)
		return rc;
	if (p->reset) {
		if ((rc = store_prep(st, "DELETE FROM campaign_counters WHERE"
		    " name = ?1", &q, "reset campaign counters")))
			return rc;
		sqlite3_bind_text(q, 1, p->name, -1, SQLITE_STATIC);
		if ((rc = store_step_once(st, q, "reset campaign counters")))
			return rc;
	}
	return p->h != NULL ? camp_put_hist(st, p) : NUDGE_OK;
}

int
store_put_camp(struct store *st, const char *name, const char *text,
    size_t len, uint64_t since_ms, int slot, bool reset_counters,
    const struct store_camp_hist *h)
{
	struct camp_put p = {name, text, len, since_ms, slot, reset_counters,
	    h};
	int rc;

	if (name == NULL || text == NULL || len > INT32_MAX ||
	    since_ms > INT64_MAX || (h != NULL && (h->version > INT64_MAX ||
	    h->ts_ms > INT64_MAX)))
		return NUDGE_EINVAL;
	store_lock(st);
	rc = store_acked(st, camp_put_tx, &p);
	store_unlock(st);
	return rc;
}

static int
camp_get_row(struct store *st, sqlite3_stmt *q, const char *name,
    struct store_camp *out)
{
	struct store_camp c;
	const void *t;
	int rc = sqlite3_step(q);

	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? NUDGE_ENOTFOUND :
		    store_fail(st, rc, "get campaign");
	memset(&c, 0, sizeof(c));
	snprintf(c.name, sizeof(c.name), "%s", name);
	t = sqlite3_column_text(q, 0);
	c.len = (size_t)sqlite3_column_bytes(q, 0);
	if ((c.text = malloc(c.len + 1)) == NULL)
		return NUDGE_ENOMEM;
	memcpy(c.text, t ? t : "", c.len);
	c.text[c.len] = '\0';
	c.since_ms = (uint64_t)sqlite3_column_int64(q, 1);
	c.slot = sqlite3_column_int(q, 2);
	*out = c;
	return NUDGE_OK;
}

int
store_get_camp(struct store *st, const char *name, struct store_camp *out)
{
	sqlite3_stmt *q;
	int rc;

	if (name == NULL || out == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	if ((rc = store_prep(st, "SELECT text, since_ms, slot FROM campaigns"
	    " WHERE name = ?1", &q, "get campaign")) == NUDGE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		rc = camp_get_row(st, q, name, out);
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}

int
store_camp_history(struct store *st, const char *name, size_t lim,
    void (*fn)(void *arg, const struct store_camp_hist *h), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (name == NULL || fn == NULL || lim > INT32_MAX)
		return NUDGE_EINVAL;
	store_lock(st);
	if ((rc = store_prep(st, "SELECT version, ts_ms, who, op, text FROM"
	    " campaign_history WHERE name = ?1 ORDER BY id DESC LIMIT ?2", &q,
	    "campaign history")) == NUDGE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)lim);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_camp_hist h = {
				(uint64_t)sqlite3_column_int64(q, 0),
				(uint64_t)sqlite3_column_int64(q, 1),
				(const char *)sqlite3_column_text(q, 2),
				(const char *)sqlite3_column_text(q, 3),
				(const char *)sqlite3_column_text(q, 4),
			};
			fn(arg, &h);
		}
		rc = rc == SQLITE_DONE ? NUDGE_OK :
		    store_fail(st, rc, "campaign history");
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}

/* ---- counters --------------------------------------------------------- */

#define STEPS_BLOB_MAX (AGG_STEPS_MAX * 8)

/* steps[] as little-endian u64s, trailing zeros left out; the length. */
static size_t
steps_to_blob(const uint64_t *steps, unsigned char *b)
{
	size_t n = AGG_STEPS_MAX;

	while (n > 0 && steps[n - 1] == 0)
		n--;
	for (size_t k = 0; k < n; k++)
		for (int i = 0; i < 8; i++)
			b[8 * k + (size_t)i] = (unsigned char)(steps[k] >>
			    (8 * i));
	return 8 * n;
}

/* A blob of another length than whole u64s, or too long, reads as none. */
static void
steps_from_blob(const unsigned char *b, size_t len, uint64_t *steps)
{
	memset(steps, 0, AGG_STEPS_MAX * sizeof(*steps));
	if (b == NULL || len % 8 != 0 || len > STEPS_BLOB_MAX)
		return;
	for (size_t k = 0; k < len / 8; k++)
		for (int i = 0; i < 8; i++)
			steps[k] |= (uint64_t)b[8 * k + (size_t)i] << (8 * i);
}

struct camp_ctrs {
	const struct store_camp_ctr *c;
	size_t nc;
	const struct store_rule_exp *r;
	size_t nr;
};

static int
camp_ctr_rows(struct store *st, const struct camp_ctrs *a)
{
	sqlite3_stmt *q;
	int rc;

	if (a->nc == 0)
		return NUDGE_OK;
	if ((rc = store_prep(st, "INSERT OR REPLACE INTO campaign_counters("
	    "name, variant, n, x, rev_cents, g0, g1, g2, g3, steps) VALUES"
	    " (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", &q,
	    "save campaign counters")))
		return rc;
	for (size_t i = 0; i < a->nc && rc == NUDGE_OK; i++) {
		const struct store_camp_ctr *c = &a->c[i];
		unsigned char blob[STEPS_BLOB_MAX];
		size_t len = steps_to_blob(c->steps, blob);
		if (len > 0)
			sqlite3_bind_blob(q, 10, blob, (int)len,
			    SQLITE_TRANSIENT);
		else
			sqlite3_bind_null(q, 10);
		sqlite3_bind_text(q, 1, c->name, -1, SQLITE_STATIC);
		sqlite3_bind_int(q, 2, c->variant);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)c->n);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)c->x);
		sqlite3_bind_int64(q, 5, c->rev_cents);
		for (int g = 0; g < 4; g++)
			sqlite3_bind_int64(q, 6 + g, (sqlite3_int64)c->g[g]);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? NUDGE_OK :
		    store_fail(st, rc, "save campaign counters");
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc;
}

static int
camp_exp_rows(struct store *st, const struct camp_ctrs *a)
{
	sqlite3_stmt *q;
	int rc;

	if (a->nr == 0)
		return NUDGE_OK;
	if ((rc = store_prep(st, "INSERT OR REPLACE INTO rule_experiments("
	    "rule, tn, tx, hn, hx, slot) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &q,
	    "save rule experiments")))
		return rc;
	for (size_t i = 0; i < a->nr && rc == NUDGE_OK; i++) {
		const struct store_rule_exp *r = &a->r[i];
		sqlite3_bind_text(q, 1, r->rule, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q, 2, (sqlite3_int64)r->tn);
		sqlite3_bind_int64(q, 3, (sqlite3_int64)r->tx);
		sqlite3_bind_int64(q, 4, (sqlite3_int64)r->hn);
		sqlite3_bind_int64(q, 5, (sqlite3_int64)r->hx);
		sqlite3_bind_int(q, 6, r->slot);
		rc = sqlite3_step(q);
		rc = rc == SQLITE_DONE ? NUDGE_OK :
		    store_fail(st, rc, "save rule experiments");
		sqlite3_reset(q);
	}
	sqlite3_finalize(q);
	return rc;
}

static int
camp_ctrs_tx(struct store *st, void *arg)
{
	int rc = camp_ctr_rows(st, arg);

	return rc == NUDGE_OK ? camp_exp_rows(st, arg) : rc;
}

int
store_save_camp_counters(struct store *st, const struct store_camp_ctr *c,
    size_t nc, const struct store_rule_exp *r, size_t nr)
{
	struct camp_ctrs a = {c, nc, r, nr};
	int rc;

	if ((c == NULL && nc > 0) || (r == NULL && nr > 0))
		return NUDGE_EINVAL;
	if (nc == 0 && nr == 0)
		return NUDGE_OK;
	store_lock(st);
	rc = store_tx(st, camp_ctrs_tx, &a);
	store_unlock(st);
	return rc;
}

int
store_load_camp_counters(struct store *st, const char *name,
    void (*fn)(void *arg, const struct store_camp_ctr *c), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (name == NULL || fn == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	if ((rc = store_prep(st, "SELECT variant, n, x, rev_cents, g0, g1, g2,"
	    " g3, steps FROM campaign_counters WHERE name = ?1 ORDER BY"
	    " variant", &q,
	    "load campaign counters")) == NUDGE_OK) {
		sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			struct store_camp_ctr c = {
				.name = name,
				.variant = (uint8_t)sqlite3_column_int(q, 0),
				.n = (uint64_t)sqlite3_column_int64(q, 1),
				.x = (uint64_t)sqlite3_column_int64(q, 2),
				.rev_cents = sqlite3_column_int64(q, 3),
			};
			for (int g = 0; g < 4; g++)
				c.g[g] = (uint64_t)sqlite3_column_int64(q,
				    4 + g);
			steps_from_blob(sqlite3_column_blob(q, 8),
			    (size_t)sqlite3_column_bytes(q, 8), c.steps);
			fn(arg, &c);
		}
		rc = rc == SQLITE_DONE ? NUDGE_OK :
		    store_fail(st, rc, "load campaign counters");
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}

int
store_load_rule_exps(struct store *st,
    void (*fn)(void *arg, const struct store_rule_exp *r), void *arg)
{
	sqlite3_stmt *q;
	int rc;

	if (fn == NULL)
		return NUDGE_EINVAL;
	store_lock(st);
	if ((rc = store_prep(st, "SELECT rule, tn, tx, hn, hx, slot FROM"
	    " rule_experiments ORDER BY rule", &q, "load rule experiments")) ==
	    NUDGE_OK) {
		while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
			const unsigned char *name = sqlite3_column_text(q, 0);
			struct store_rule_exp r = {
				name ? (const char *)name : "",
				(uint64_t)sqlite3_column_int64(q, 1),
				(uint64_t)sqlite3_column_int64(q, 2),
				(uint64_t)sqlite3_column_int64(q, 3),
				(uint64_t)sqlite3_column_int64(q, 4),
				sqlite3_column_int(q, 5),
			};
			fn(arg, &r);
		}
		rc = rc == SQLITE_DONE ? NUDGE_OK :
		    store_fail(st, rc, "load rule experiments");
		sqlite3_finalize(q);
	}
	store_unlock(st);
	return rc;
}
