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
 * NUDGE_EBUSY when the database stays locked past the busy timeout (2 s;
 * 0.1 s per write while the previous write found the database locked).
 */
#ifndef NUDGE_STORE_H
#define NUDGE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "err.h"
#include "session.h"

#define STORE_SCHEMA_VERSION 8

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
 * gives up with NUDGE_EBUSY (default 2000 ms; tests lower it).
 */
int store_set_busy_timeout(struct store *st, int ms);

/* The schema version of the open database (PRAGMA user_version). */
int store_schema_version(struct store *st);

/* The last SQLite error message, "" if none.  Borrowed until the next call. */
const char *store_last_error(struct store *st);

/*
 * How many calls failed since the store was opened, from any thread (the
 * archiver, the rules' and campaigns' flushers, control commands), and
 * into msg (cap bytes) the message of the latest.  Takes neither the
 * store's mutex nor waits behind a busy call: the publisher calls it for
 * every snapshot, so that any failing writer reaches the consoles.
 */
uint64_t store_failures(struct store *st, char *msg, size_t cap);

/* Replaces the stored counters, gauges excluded, and the sketch. */
int store_save_counters(struct store *st, const struct agg *a);

/*
 * The same with the values read when they are written: fill(arg, out)
 * runs once the store's lock is held, right before the rows are written,
 * so that waiting for the lock (behind a visitor-memory batch, an
 * acknowledged write's fsync or a checkpoint) does not age what is saved:
 * a kill -9 loses only what came in after fill.  out is caller-owned
 * scratch and holds the values saved afterwards, also on failure.  fill
 * must not call the store and may take only locks that are never held
 * while the store's is awaited (the session table's shard locks).
 */
int store_save_counters_fresh(struct store *st,
    void (*fill)(void *arg, struct agg *out), void *arg, struct agg *out);
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

/*
 * Rule sets (table rule_sets, schema v5): every version ever applied, by
 * kind (STORE_RULES_ACTIVE, or STORE_RULES_SHADOW for a set evaluated
 * beside the active one), with its whole text, a hash of the text
 * (16 hex digits of XXH3-64), when and by whom.  store_put_rules commits
 * with synchronous=FULL: when it returns 0 the version is on disk; a
 * version that exists for the kind is NUDGE_EEXIST.  store_get_rules
 * fills *out for version (0: the highest) and gives it a malloc'ed,
 * NUL-terminated text the caller frees (out->text); NUDGE_ENOTFOUND when
 * there is none.  store_list_rules writes up to cap entries, newest first,
 * without text (text NULL).
 */
enum store_rules_kind { STORE_RULES_ACTIVE = 0, STORE_RULES_SHADOW = 1 };

struct store_rules {
	uint8_t kind;		/* enum store_rules_kind */
	uint64_t version;
	char hash[17];
	uint64_t ts_ms;
	char who[64];
	char *text;		/* see above for who owns it */
	size_t len;
};

int store_put_rules(struct store *st, const struct store_rules *r);
int store_get_rules(struct store *st, int kind, uint64_t version,
    struct store_rules *out);
int store_list_rules(struct store *st, int kind, struct store_rules *out,
    size_t cap, size_t *n);

/*
 * Visitor memory (table visitors, schema v5): what rules know about a
 * visitor across sessions, keyed by a 64-bit hash of the visitor id (never
 * the id itself): orders, sessions, the last event's and the previous
 * session's wall clock, and an opaque cap history blob (its format belongs
 * to agent/rules_rt.c).  store_save_visitors upserts n rows in one
 * transaction (synchronous=NORMAL: it is a cache of what the agent holds in
 * memory, flushed each second); store_load_visitors calls fn for the `max`
 * most recently seen visitors, newest first (fn runs with the store's mutex
 * held, blob valid during the call only).  store_forget_visitor deletes one.
 */
struct store_visitor {
	uint64_t vhash;
	uint32_t orders, sessions;
	uint64_t last_ms, prev_ms;
	const void *caps;
	size_t caps_len;
};

int store_save_visitors(struct store *st, const struct store_visitor *v,
    size_t n);
int store_load_visitors(struct store *st, size_t max,
    void (*fn)(void *arg, const struct store_visitor *v), void *arg);
int store_forget_visitor(struct store *st, uint64_t vhash);

/*
 * Privacy (PRIVACY.md).  Both commit with synchronous=FULL under
 * PRAGMA secure_delete (deleted rows are overwritten in the file, not just
 * unlinked), then truncate the WAL (PRAGMA wal_checkpoint(TRUNCATE), best
 * effort: a reader holding an old snapshot delays it to the next call).
 *
 * store_forget_sessions deletes every archived session (table sessions)
 * and saved live session (live_sessions) of visitor vid (len bytes, the id
 * as the tag sent it) and writes the numbers deleted to *archived / *live
 * (either may be NULL), only on success.  The visitor memory row is
 * store_forget_visitor's (agent/rules_rt.c owns its key).
 *
 * store_purge enforces retention: sessions whose last event is older than
 * data_before_ms (ms since the epoch) are deleted; those older than
 * ids_before_ms keep their figures but lose the visitor id (the column is
 * set to '', so they can no longer be linked to anyone); visitor memory
 * rows last seen before ids_before_ms are deleted.  Audit rows are kept
 * (they never hold a visitor id in clear).  *out (may be NULL) gets the
 * counts.
 */
struct store_purge {
	uint64_t deleted;	/* sessions (archived or saved live) deleted */
	uint64_t anonymized;	/* archived sessions that lost their id */
	uint64_t visitors;	/* visitor memory rows deleted */
};

int store_forget_sessions(struct store *st, const char *vid, size_t len,
    uint64_t *archived, uint64_t *live);
int store_purge(struct store *st, uint64_t ids_before_ms,
    uint64_t data_before_ms, struct store_purge *out);

/*
 * Context facts (table context, schema v5): key, index ("" for a plain
 * context.KEY) and a value: STORE_FACT_NUM num, STORE_FACT_STR str.
 * store_put_facts writes n facts in one transaction committed with
 * synchronous=FULL; a fact of type STORE_FACT_DEL is deleted.
 * store_load_facts calls fn for each (strings valid during the call).
 */
enum store_fact_type { STORE_FACT_DEL = 0, STORE_FACT_NUM = 1,
	STORE_FACT_STR = 2 };

struct store_fact {
	const char *key, *idx;
	uint8_t type;		/* enum store_fact_type */
	double num;
	const char *str;
};

int store_put_facts(struct store *st, const struct store_fact *v, size_t n);
int store_load_facts(struct store *st,
    void (*fn)(void *arg, const struct store_fact *f), void *arg);

/*
 * The newest lim audit rows, newest first: fn gets each (strings valid
 * during the call; fn runs with the store's mutex held).
 */
struct store_audit_entry {
	uint64_t id, ts_ms;
	const char *who, *what, *detail;
	int status;
};

int store_audit_tail(struct store *st, size_t lim,
    void (*fn)(void *arg, const struct store_audit_entry *e), void *arg);

/*
 * Per-minute counters (table minutes, schema v6): one row per (minute,
 * name) holding how much the named agg slot grew during the minute that
 * starts at minute_ms (ms since the epoch), or a gauge's value at its end.
 * store_save_minute writes one minute's n series (names borrowed) in one
 * transaction, adding to what the rows hold when add (counters: a minute
 * split by a restart adds up) else replacing (gauges), and deletes the
 * rows older than keep_from_ms (0 keeps all).
 * store_load_minutes calls fn for every row with from_ms <= minute <
 * to_ms, oldest first, at most max rows; fn runs with the store's mutex
 * held and must not call the store; name is valid during the call only.
 */
int store_save_minute(struct store *st, uint64_t minute_ms,
    const char *const *names, const uint64_t *v, size_t n, bool add,
    uint64_t keep_from_ms);
int store_load_minutes(struct store *st, uint64_t from_ms, uint64_t to_ms,
    size_t max,
    void (*fn)(void *arg, uint64_t minute_ms, const char *name, uint64_t v),
    void *arg);

/*
 * Campaigns (common/store_camp.c; tables campaigns, campaign_history,
 * campaign_counters, rule_experiments, schema v7; v8 adds the per-step
 * counts to campaign_counters).
 *
 * State: one row per campaign name holding its text form (campaign.h's
 * camp_format), the wall ms it was first started (0: never) and the
 * session mark slot it holds (-1: none).  store_put_camp writes the row
 * and, when h is not NULL, appends a history row, in one transaction
 * committed with synchronous=FULL: when it returns 0 the change is on
 * disk.  With reset_counters the campaign's counters are deleted in the
 * same transaction (a campaign that starts over).  store_get_camp fills
 * *out (text malloc'ed, NUL-terminated, the caller frees out->text) or
 * NUDGE_ENOTFOUND.  store_camp_history calls fn for the newest lim history
 * rows of name, newest first (strings valid during the call; fn runs with
 * the store's mutex held and must not call the store).
 *
 * Counters: per (campaign, variant) and per holdout rule, absolute values
 * upserted by store_save_camp_counters in one ordinary transaction
 * (synchronous=NORMAL: a crash loses at most the last second).  The load
 * functions call fn per row under the same rules as above.
 */
struct store_camp {
	char name[64];
	char *text;		/* see above for who owns it */
	size_t len;
	uint64_t since_ms;
	int slot;		/* -1: none */
};

struct store_camp_hist {
	uint64_t version, ts_ms;
	const char *who;	/* "rules" for a change of the declaration */
	const char *op;		/* "start", "weights 50,50", "declare", ... */
	const char *text;	/* the text form after the change */
};

struct store_camp_ctr {
	const char *name;
	uint8_t variant;
	uint64_t n, x;
	int64_t rev_cents;
	uint64_t g[4];		/* = RULE_GUARDRAILS_MAX */
	uint64_t steps[AGG_STEPS_MAX];	/* shop funnel; rows before v8: 0 */
};

struct store_rule_exp {
	const char *rule;
	uint64_t tn, tx, hn, hx;
	int slot;		/* -1: none */
};

int store_put_camp(struct store *st, const char *name, const char *text,
    size_t len, uint64_t since_ms, int slot, bool reset_counters,
    const struct store_camp_hist *h);
int store_get_camp(struct store *st, const char *name,
    struct store_camp *out);
int store_camp_history(struct store *st, const char *name, size_t lim,
    void (*fn)(void *arg, const struct store_camp_hist *h), void *arg);
int store_save_camp_counters(struct store *st,
    const struct store_camp_ctr *c, size_t nc,
    const struct store_rule_exp *r, size_t nr);
int store_load_camp_counters(struct store *st, const char *name,
    void (*fn)(void *arg, const struct store_camp_ctr *c), void *arg);
int store_load_rule_exps(struct store *st,
    void (*fn)(void *arg, const struct store_rule_exp *r), void *arg);

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
