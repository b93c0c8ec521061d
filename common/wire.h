/*
 * wire.h - the nudge wire protocol: one versioned msgpack envelope for
 * everything published, one request/reply shape for everything asked.
 *
 * Published messages (nng PUB -> SUB) are a fixed-position msgpack array
 *
 *	[v, kind, agent, seq, ts, body]
 *
 * v = WIRE_VERSION (positive fixint), kind = enum wire_kind (positive
 * fixint), agent = str (the agent's name), seq = uint (per agent and kind,
 * +1 per message, restarting at 0 with a new boot id), ts = uint (ms since
 * the epoch, publisher's wall clock), body = per kind (below).  The first
 * three bytes are therefore fixed per kind (0x96 v kind): a SUB prefix
 * selects kinds, see wire_kind_prefix().
 *
 * Bodies (maps keyed by short strings; decoders skip unknown keys, so
 * appending a key never breaks an older peer):
 *   SNAPSHOT  {boot, up, ver, ctl, fun, steps:[str], dseq, rv, rsv, serr,
 *             pdrop, lerr, agg, rules:[{n, m, s, c, sh, ho, x, sho, lift}],
 *             camps:[campaign...]}  rv / rsv: active / shadow rule set
 *             versions; rules: per-rule counters (struct wire_rule_stat);
 *             camps: the active set's campaigns (struct wire_campaign)
 *             forgot:[uint...] (absent when empty): visitors erased by
 *             `forget` in the last minute, as wire_visitor_hash() of their
 *             id (never the id); a console drops their sessions and events
 *             from what it holds and shows (PRIVACY.md)
 *   DELTA     {boot, agg}   agg holds counter increments since the previous
 *             delta, and current gauges.  Every snapshot is published right
 *             after a delta and carries that delta's seq (dseq) with the
 *             same totals, so a subscriber that takes a snapshot applies
 *             exactly the deltas numbered dseq+1, dseq+2, ...; a gap in
 *             delta seq means waiting for the next snapshot.
 *   SESSION   [session...]  a bounded sample of changed live sessions
 *   EVENT     [event...]    a bounded sample of accepted events
 *   HEAT      [{p: page str, c: [[cell uint, n uint]...],
 *             s: [[band uint, n uint]...]}...]  heatmap increments since the
 *             previous HEAT message, about once a second, only pages that
 *             changed: c adds n clicks to grid cell `cell` (row *
 *             WIRE_HEAT_COLS + col over a WIRE_HEAT_COLS x WIRE_HEAT_ROWS
 *             grid of the page), s adds n page views that reached scroll
 *             band `band` (at least 5 x band % of the page; every view
 *             reaches band 0).  At most WIRE_HEAT_PAGES_MAX pages and
 *             WIRE_HEAT_CELLS_MAX cells per message; zero counts are not
 *             sent.  Totals are asked for with the `heat` command.
 * agg = {"c": {name: uint}, "g": {name: uint}, "hll": bin(4096)?}
 *
 * Control requests (nng REQ -> REP), six positions:
 *
 *	[v, cmd, id, ts, args, auth]
 *
 * cmd = str, id = bin(16) random per logical request (replays of the same
 * id are answered from the agent's cache, never applied twice), ts = uint ms
 * (sender's wall clock; authenticated requests expire), args = map or nil,
 * auth = nil or [key_id str, mac bin(32)] where mac is HMAC-SHA256 over every
 * byte of the request before the auth element.  Replies:
 *
 *	[v, id, status, message, body]
 *
 * status = 0 or a negative enum nudge_err, message = str ("" on success),
 * body = any (nil when there is nothing to say).
 *
 * Decoding is strict and bounded: wire_precheck() walks the raw bytes first
 * (depth, every array/map count against the bytes remaining, every str/bin
 * length against the bytes remaining and the limits) so that msgpack-c never
 * allocates for a lie (msgpack-c #1013); then every position's type is
 * checked.  Encoders in this module are the only writers of the format.
 */
#ifndef NUDGE_WIRE_H
#define NUDGE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>
#include <xxhash.h>

#include "agg.h"
#include "campaign.h"
#include "err.h"
#include "event.h"
#include "session.h"

#define WIRE_VERSION 1
#define WIRE_AGENT_MAX 63	/* agent names: [A-Za-z0-9._-], 1..63 */
#define WIRE_ID_LEN 16
#define WIRE_MAC_LEN 32
#define WIRE_CMD_MAX 32

enum wire_kind {
	WIRE_SNAPSHOT = 1,
	WIRE_DELTA = 2,
	WIRE_SESSION = 3,
	WIRE_EVENT = 4,
	WIRE_HEAT = 5,
	WIRE_KIND_MAX = 5
};

const char *wire_kind_name(int kind);

/*
 * Writes the 3-byte SUB prefix that selects one kind into out[3]: the kind
 * of a message's first part (wire_msg_next).  Subscribing to "" receives
 * every kind.
 */
void wire_kind_prefix(int kind, unsigned char out[3]);

struct wire_limits {
	size_t max_bytes;	/* whole message */
	unsigned max_depth;	/* nesting of arrays/maps */
	uint32_t max_count;	/* elements of one array or map */
	uint32_t max_str;	/* bytes of one str or bin */
};

/* 4 MiB, depth 8, 65536 elements, 64 KiB strings: for PUB/SUB and REP. */
extern const struct wire_limits wire_limits_default;
/*
 * The same with depth 16: for control replies, which may hold a relay's
 * envelope (agent/relay.h: 3 more levels per relay on the way).
 */
extern const struct wire_limits wire_limits_reply;

/*
 * Checks that buf holds exactly one well-formed msgpack object within the
 * limits, without allocating.  Returns 0, or NUDGE_ETRUNC / NUDGE_ETOOBIG /
 * NUDGE_EDEPTH / NUDGE_EINVAL (trailing bytes, reserved type byte 0xc1)
 * with the byte offset in d->col.
 */
int wire_precheck(const void *buf, size_t len, const struct wire_limits *lim,
    struct nudge_diag *d);

/* ---- published messages ---------------------------------------------- */

struct wire_header {
	uint8_t v;
	uint8_t kind;
	char agent[WIRE_AGENT_MAX + 1];
	uint64_t seq;
	uint64_t ts_ms;
};

/*
 * One rule's counters in a snapshot ("rules": [{n, m, s, c, sh, ho, x,
 * sho, lift}]; sho and lift below, lift sent only when non-zero):
 * n name, m matched, s shown, c capped, sh shadow matches, ho held out,
 * x true for a rule of the shadow set.  At most WIRE_RULES_MAX rules (the
 * active set's first, in file order); the rules_stats command has them all.
 */
#define WIRE_RULES_MAX 64
#define WIRE_RULE_NAME_MAX 63

struct wire_rule_stat {
	char name[WIRE_RULE_NAME_MAX + 1];
	uint64_t m, s, c, sh, ho;
	bool shadow_set;
	uint64_t sho;		/* "sho": shadow matches whose visitor already
				 * saw an offer in the session */
	/*
	 * "lift": [tn, tx, hn, hx], only for a rule with a holdout: sessions
	 * shown the action (treated) and how many of them purchased after it,
	 * sessions held out and how many of them purchased after the match.
	 * Counted once per session, on the beacon path only (the only one that
	 * shows anything); additive across agents.  A decoder refuses tx > tn
	 * or hx > hn.
	 */
	uint64_t tn, tx, hn, hx;
};

/*
 * One campaign of the active rule set, as published in the snapshot
 * ("camps": [{t, since, goal, gr, arms, steps}]) and listed by
 * campaign_list:
 *   t      its state in campaign.h's text form (camp_format / camp_parse)
 *   since  wall ms it was first started (0: never)
 *   goal   the goal's name (a step label, an event name or "revenue")
 *   gr     [[name, max_drop_bp]...] guardrails in declaration order
 *   arms   [[n, x, rev, [g...]]...] one per variant, control first:
 *          n sessions counted in the variant, x of them that met the goal,
 *          rev revenue cents of their purchases, g[i] of them that met
 *          guardrail i.  A session counts at most once in n, x and each
 *          g[i], in the variant it was first counted in, and only while
 *          the campaign runs with its breaker untripped.  Additive across
 *          agents (a session lives in one agent) and kept across restarts.
 *   steps  [[s0, s1, ...]...] one per arm, control first: s[k] sessions
 *          of the arm's n that reached step k + 1 of the shop funnel (the
 *          one the snapshot's "steps" name), counted once per session and
 *          step under the same rules as n; trailing zeros left out.  A
 *          separate key so that older decoders, which want arms of four,
 *          skip it; absent (older agents): zeros.  A decoder refuses more
 *          lists than arms, more than AGG_STEPS_MAX counts, a count over
 *          its arm's n or over the count of the step before it.
 */
#define WIRE_CAMPS_MAX 16

struct wire_camp_arm {
	uint64_t n, x;
	int64_t rev_cents;
	uint64_t g[RULE_GUARDRAILS_MAX];
	uint64_t steps[AGG_STEPS_MAX];
};

struct wire_campaign {
	struct camp c;
	uint64_t since_ms;
	char goal[WIRE_RULE_NAME_MAX + 1];
	uint8_t n_guard;
	char guard[RULE_GUARDRAILS_MAX][WIRE_RULE_NAME_MAX + 1];
	uint16_t guard_drop_bp[RULE_GUARDRAILS_MAX];
	struct wire_camp_arm arm[CAMP_VARIANTS_MAX]; /* c.n_variants used */
};

void wire_pack_campaign(msgpack_packer *pk, const struct wire_campaign *c);
/*
 * Strict: a bad text (camp_parse's error), more arms than variants, x or
 * a g[i] or a step count over its arm's n, step counts that grow from one
 * step to the next, more step lists than arms, more g[] than guardrails,
 * a drop over 10000 bp,
 * a wrong type (NUDGE_ETYPE) or a count over its bound (NUDGE_ETOOBIG).
 * Only t is required; absent keys leave zeros (fewer arms than variants:
 * the rest are zero).  *c is written only on success.
 */
int wire_unpack_campaign(const msgpack_object *o, struct wire_campaign *c);

/*
 * A campaign change (campaign_change args): {name, op, expect, winner,
 * weights, holdout}.  op is one of camp_op_name()'s words (campaign.h); expect the
 * campaign's version the change was decided on; winner (stop) a variant
 * index; weights (weights) one percent per variant; holdout (holdout)
 * basis points.  Keys not used by op are not packed.
 */
struct wire_camp_change {
	char name[CAMP_NAME_MAX + 1];
	uint8_t op;			/* enum camp_op */
	uint64_t expect;
	int winner;			/* CAMP_OP_STOP */
	uint8_t n_weights;		/* CAMP_OP_WEIGHTS */
	uint8_t weights[CAMP_VARIANTS_MAX];
	uint16_t holdout_bp;		/* CAMP_OP_HOLDOUT */
};

void wire_pack_camp_change(msgpack_packer *pk,
    const struct wire_camp_change *c);
/* NUDGE_EINVAL (unknown op, missing key for op) with d->msg. */
int wire_unpack_camp_change(const msgpack_object *o,
    struct wire_camp_change *c, struct nudge_diag *d);

#define WIRE_FORGOT_MAX 64	/* "forgot" entries in a snapshot */

/* What an agent says about itself once a second, besides its aggregates. */
struct wire_snapshot {
	uint64_t boot_id;	/* random per agent process start */
	uint64_t uptime_ms;
	char version[24];	/* nudged version */
	char control[256];	/* the agent's advertised control URL, may be "" */
	char funnel[32];	/* funnel name */
	uint8_t n_steps;
	char steps[AGG_STEPS_MAX][48]; /* step labels */
	uint64_t delta_seq;	/* seq of the DELTA published at the same
				 * instant: deltas after it apply on top */
	uint64_t rules_version;	/* 0 until rules exist */
	uint64_t shadow_version; /* shadow rule set in force, 0 if none */
	uint16_t n_rules;	/* entries of rules[] */
	struct wire_rule_stat rules[WIRE_RULES_MAX];
	uint8_t n_camps;	/* entries of camps[], declaration order */
	struct wire_campaign camps[WIRE_CAMPS_MAX];
	uint64_t store_errors;	/* failed store writes since boot */
	uint64_t pub_dropped;	/* messages the publisher could not send */
	char last_error[128];	/* "" if none */
	uint8_t n_forgot;	/* entries of forgot[] */
	uint64_t forgot[WIRE_FORGOT_MAX]; /* visitors lately erased */
	struct agg agg;
};

/*
 * The visitor hash the snapshot's "forgot" carries and the audit shows:
 * XXH3-64 of the id's bytes (the key of the agent's visitor memory, too).
 */
static inline uint64_t
wire_visitor_hash(struct nudge_strv visitor)
{
	uint64_t h = XXH3_64bits(visitor.ptr, visitor.len);

	return h ? h : 1;
}

/*
 * Decoded view of one published message.  body points into up's zone;
 * everything is released by wire_msg_fini().  String views produced by the
 * wire_read_*() functions below point into the original buffer, which the
 * caller keeps alive meanwhile.
 */
struct wire_msg {
	struct wire_header h;
	msgpack_unpacked up;
	const msgpack_object *body;
};

/*
 * Prechecks, unpacks and checks the envelope of a published message.
 * Returns 0 (msg must then be released with wire_msg_fini), NUDGE_EVERSION
 * for another v, NUDGE_EKIND for an unknown kind (callers skip those
 * silently), or a decoding error.  On error nothing needs releasing.
 */
int wire_msg_open(struct wire_msg *msg, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d);
void wire_msg_fini(struct wire_msg *msg);

/*
 * One nng message on PUB may carry several published messages back to
 * back (an agent sends what one delta period produced -- delta, snapshot,
 * sessions, events, heat -- as one, so a subscriber of many agents wakes
 * once per agent and period, not five times).  wire_msg_next() opens the
 * part that starts at *off like wire_msg_open(), the whole buffer bounded
 * by lim->max_bytes; a part of another version or kind is skipped with
 * NUDGE_EVERSION / NUDGE_EKIND and *off still moves past it.  On a
 * precheck error *off is left alone: where the next part would start is
 * unknown, and the rest of the buffer is lost (the parts before it were
 * whole and stay accepted).  Loop while *off < len.
 */
int wire_msg_next(struct wire_msg *msg, const void *buf, size_t len,
    size_t *off, const struct wire_limits *lim, struct nudge_diag *d);

/*
 * Calls fn for every part of buf in order, through wire_msg_next(); a
 * part of another version or kind is skipped and counted in *skipped
 * (when not NULL).  Returns 0, or the error that ended the walk, after fn
 * has seen every whole part before it.
 */
typedef void (*wire_part_fn)(void *arg, const struct wire_msg *msg);
int wire_msg_each(const void *buf, size_t len, const struct wire_limits *lim,
    struct nudge_diag *d, wire_part_fn fn, void *arg, unsigned *skipped);

int wire_read_snapshot(const struct wire_msg *msg, struct wire_snapshot *out);
/* Fills *boot_id and *delta (increments since the previous delta). */
int wire_read_delta(const struct wire_msg *msg, uint64_t *boot_id,
    struct agg *delta);
/* Reads at most cap sessions; *n is how many were read. */
int wire_read_sessions(const struct wire_msg *msg,
    struct session_summary *out, size_t cap, size_t *n);
int wire_read_events(const struct wire_msg *msg, struct nudge_event *out,
    size_t cap, size_t *n);

/* Heatmaps: the grid every agent and console shares, and the bounds. */
#define WIRE_HEAT_COLS 24
#define WIRE_HEAT_ROWS 48
#define WIRE_HEAT_CELLS (WIRE_HEAT_COLS * WIRE_HEAT_ROWS)
#define WIRE_HEAT_BANDS 20	/* scroll bands of 5% */
#define WIRE_HEAT_PAGES_MAX 50	/* pages in one HEAT message */
#define WIRE_HEAT_CELLS_MAX 2000 /* cells in one HEAT message */
#define WIRE_HEAT_PAGE_MAX 512	/* bytes of a page name */
#define WIRE_HEAT_LIST_MAX 2048	/* rows of a heat_pages reply */

struct wire_heat_cell {
	uint16_t cell;
	uint32_t n;
};

struct wire_heat_page {
	struct nudge_strv page;	/* borrowed: the buffer, or the caller's */
	uint32_t first;		/* its cells: cells[first, first+n_cells) */
	uint32_t n_cells;
	uint32_t reach[WIRE_HEAT_BANDS]; /* dense: page views per band */
};

/* A decoded (or to be encoded) HEAT body: about 24 KB, heap it. */
struct wire_heat {
	uint32_t n_pages;
	uint32_t n_cells;
	struct wire_heat_page pages[WIRE_HEAT_PAGES_MAX];
	struct wire_heat_cell cells[WIRE_HEAT_CELLS_MAX];
};

/*
 * Reads a HEAT body into *out (written only on success).  Strict: counts
 * over the bounds are NUDGE_ETOOBIG, a cell or band outside the grid or a
 * count over UINT32_MAX NUDGE_ERANGE, a wrong type NUDGE_ETYPE; a page's
 * duplicate cells and bands are kept as sent (cells) or added (bands).
 */
int wire_read_heat(const struct wire_msg *msg, struct wire_heat *out);

/*
 * Encoders: each clears sb, then writes one whole message into it.
 * Return 0 or NUDGE_ENOMEM.
 */
int wire_write_snapshot(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct wire_snapshot *s);
/* The snapshot body alone (also the body of the `state` reply). */
void wire_pack_snapshot(msgpack_packer *pk, const struct wire_snapshot *s);
/* 0, a decoding error, or NUDGE_ENOMEM (its scratch copy is on the heap). */
int wire_unpack_snapshot(const msgpack_object *o, struct wire_snapshot *s);
int wire_write_delta(msgpack_sbuffer *sb, const struct wire_header *h,
    uint64_t boot_id, const struct agg *delta);
int wire_write_sessions(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct session_summary *v, size_t n);
int wire_write_events(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct nudge_event *v, size_t n);
/*
 * Writes a HEAT message; NUDGE_ETOOBIG / NUDGE_ERANGE / NUDGE_EINVAL when v
 * breaks a bound the decoder enforces (nothing is written then).
 */
int wire_write_heat(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct wire_heat *v);

/* ---- building blocks shared by bodies and control commands ------------ */

/*
 * agg as {"c": {...}, "g": {...}, "hll": bin}.  sparse omits zero counters
 * and gauges; with_hll adds the registers.
 */
void wire_pack_agg(msgpack_packer *pk, const struct agg *a, bool sparse,
    bool with_hll);
/* Fills a (zeroed first); unknown names skipped, wrong types rejected. */
int wire_unpack_agg(const msgpack_object *o, struct agg *a);

/*
 * An event as a map with short keys: t (type name str), n (custom name),
 * vid, ts, p (page), r (referrer), us/um/uc (utm source/medium/campaign),
 * tg (target), sku, cc (country), dv (device name), val (cents, int),
 * q (quantity), x, y, sd (permilles), f (map str->str, <= EVENT_FIELDS_MAX).
 * Only non-empty fields are written.
 */
void wire_pack_event(msgpack_packer *pk, const struct nudge_event *ev);
/*
 * Reads one event map into ev (event_init first).  Views point into the
 * buffer the object was unpacked from.  Returns 0 or NUDGE_ETYPE /
 * NUDGE_EINVAL / NUDGE_ETOOBIG with the offending key in d->msg.  Does not
 * call event_validate(): the ingest path does, to count bad rows apart.
 */
int wire_unpack_event(const msgpack_object *o, struct nudge_event *ev,
    struct nudge_diag *d);

void wire_pack_session(msgpack_packer *pk, const struct session_summary *s);
int wire_unpack_session(const msgpack_object *o, struct session_summary *s);

/*
 * A path step as {ts, t (type name), p (page), sc (int: the session's score
 * after the step; left out when has_score is false, and read back so)}.
 */
void wire_pack_step(msgpack_packer *pk, const struct session_step *st);
int wire_unpack_step(const msgpack_object *o, struct session_step *st);

/* Packs a NUL-terminated string (NULL packs nil). */
void wire_pack_cstr(msgpack_packer *pk, const char *s);
void wire_pack_strv(msgpack_packer *pk, struct nudge_strv v);

/*
 * Typed access to maps keyed by strings.  wire_map_get returns the value of
 * key in map o, or NULL when o is not a map or has no such key.  The
 * wire_get_* helpers return 0 and write *out, NUDGE_ENOTFOUND (key absent,
 * *out untouched), or NUDGE_ETYPE (present with another type).  Strings are
 * copied into (dst, cap) and rejected with NUDGE_ETOOBIG when they do not
 * fit (cap includes the NUL).
 */
const msgpack_object *wire_map_get(const msgpack_object *o, const char *key);
int wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out);
int wire_get_i64(const msgpack_object *map, const char *key, int64_t *out);
int wire_get_bool(const msgpack_object *map, const char *key, bool *out);
int wire_get_str(const msgpack_object *map, const char *key, char *dst,
    size_t cap);
int wire_get_strv(const msgpack_object *map, const char *key,
    struct nudge_strv *out);
int wire_obj_strv(const msgpack_object *o, struct nudge_strv *out);
/* One object, typed as the wire_get_* functions type a map's value;
 * wire_key_is: whether k is the string key (of length kl). */
int wire_obj_u64(const msgpack_object *o, uint64_t *out);
int wire_obj_i64(const msgpack_object *o, int64_t *out);
int wire_obj_cstr(const msgpack_object *o, char *dst, size_t cap);
bool wire_key_is(const msgpack_object *k, const char *key, size_t kl);

/* ---- control requests and replies ------------------------------------- */

/*
 * Commands an agent answers (args and bodies are maps; keys below):
 *
 *   ping      args nil -> {agent, ver, boot, up}
 *   state     args nil -> snapshot body (wire_pack_snapshot)
 *   emit      {ev: [event...]} (<= WIRE_EMIT_MAX) ->
 *             {acc: uint, rej: uint, errs: [[index uint, message str]...]}
 *             (errs holds at most 16 entries).  Status 0 when the batch
 *             was looked at, even if some events were rejected; a replay of
 *             the same request id is answered from cache, not applied again.
 *   sessions  {sort: "recent"|"score"|"value"|"pages", off: uint, lim: uint
 *             (<= WIRE_PAGE_MAX), q: str (a filter, common/qfilter.h: free
 *             text is a substring of visitor, country, last page, campaign,
 *             source or device name; words country:CC, source:NAME,
 *             device:NAME, page:SUBSTR, score>N, score<N (and >=, <=)
 *             narrow it; a q with no such word is free text as a whole, as
 *             before; "" for all; a bad word is NUDGE_EINVAL)} ->
 *             {total: uint (matching), items: [session...]}
 *   visitor   {vid: str} -> {session: session, path: [step...]} or
 *             status NUDGE_ENOTFOUND
 *   heat_pages {lim: uint (<= WIRE_HEAT_LIST_MAX, default 50)} ->
 *             [[page str, clicks uint, views uint]...], most clicks first;
 *             views = page views with a scroll depth measured
 *   heat      {page: str} -> {page: str, cols: uint, rows: uint,
 *             clicks: [uint x cols*rows] (row-major totals),
 *             scroll: [uint x WIRE_HEAT_BANDS] (page views that reached
 *             each band; [0] = views measured)} or status NUDGE_ENOTFOUND.
 *             Pages are named without query or fragment; "(other)" holds
 *             what came after the agent's page table was full.
 *   history   {from_ms: uint, to_ms: uint (default: the last 24 h; at most
 *             8 days)} -> {step: 60000, boot: uint, names: [str...],
 *             rows: [[minute_ms, v...]...] (one value per name, oldest
 *             first; the open minute last, so far), now: [v...] (the
 *             totals when answered)}.  Names are agg slot names: counters
 *             (events, sessions_started, purchases, revenue_cents,
 *             funnel.N) hold their growth during the minute, the gauge
 *             visitors_active its value at the minute's end.  Unknown
 *             names are skipped by readers, so series may be added.
 *
 * Live rules (agent/cmd_rules.c; changes need the operator role, are
 * audited, and a resent request id is answered from the replay cache):
 *   rules_get {version: uint (0/absent: in force), shadow: bool} ->
 *             {version, hash: str (16 hex, XXH3-64 of text), ts: uint ms,
 *             who: str, text: str, current: uint} or NUDGE_ENOTFOUND
 *   rules_put {version: uint (absent: current + 1), text: str (the whole
 *             set, <= 1 MiB), shadow: bool} -> {version, hash, shadow};
 *             NUDGE_ESTALE when version <= the one in force (an identical
 *             re-push of the version in force is acknowledged);
 *             NUDGE_ESYNTAX with body {errors: [[line, col, message]...],
 *             truncated: bool} -- nothing changed then.  Applied only once
 *             persisted with synchronous=FULL.
 *   rules_list {shadow: bool} -> {current: uint, versions: [[version,
 *             hash, ts, who]...]} newest first, at most 100
 *   rules_rollback {version} -> {version (the new one), hash, shadow}:
 *             the text of version re-applied as a new version
 *   rules_stats nil -> {active: {version, rules: [stat...]}, shadow: {...}}
 *             stat = {name, m, s, c, sh, ho, sho, nd, m_min, sh_min,
 *             sho_min, shadow}: matched, shown, capped, shadow matches,
 *             held out, shadow matches whose visitor already saw an offer
 *             this session, fired where nothing can be delivered (emit,
 *             log); *_min over the last 60 s
 *   context_set {facts: {"key" | "key[index]": str | number | nil}} (<= 64;
 *             nil removes) -> {set: uint}
 *   context_get nil -> {facts: {"key[index]": str | number}}
 *   audit_tail {lim: uint (<= 1000, default 20)} -> [[id, ts, who, what,
 *             detail, status]...] newest first
 *
 * Campaigns (agent/cmd_campaign.c; changes need the operator role, are
 * audited with the campaign's text before and after, replayable):
 *   campaign_list nil -> [campaign...] (struct wire_campaign) every
 *             campaign the active rule set declares, declaration order
 *   campaign_change {wire_camp_change} -> campaign (as it is now).
 *             NUDGE_ENOTFOUND: the active set declares no such campaign;
 *             NUDGE_ESTALE: expect is older than the version (somebody
 *             changed it first; message names the current version and
 *             state); NUDGE_EINVAL: an illegal transition or argument.  An
 *             idempotent replay (campaign.h invariant 2) answers 0.
 *             Persisted with synchronous=FULL before the answer; the next
 *             event is assigned under the new state.
 *
 * Privacy (agent/cmd_privacy.c; operator role, replayable):
 *   forget    {vid: str} -> {live: bool, archived: uint, facts: uint}: the
 *             visitor's live session and sampled events (live: one was
 *             open), archived and saved-live sessions (archived: how many
 *             rows, store_forget_sessions), rule memory and any pending
 *             operator message (facts: how many of those two) are deleted,
 *             and the snapshot's "forgot" announces the visitor's hash to
 *             consoles for a minute.  Answered 0 even when nothing was
 *             held.  Audited as "visitor #HASH" (16 hex digits of
 *             wire_visitor_hash), never the id itself.
 *
 * The ingest socket answers ping and emit only; the control socket answers
 * all.
 *
 * Relays (nudged --relay, agent/relay.h) answer ping (its body adds
 * relay: uint, the number of upstreams) and state (their merged snapshot)
 * themselves.  rules_put, rules_rollback, context_set, campaign_change,
 * message, forget, rules_get, rules_list, rules_stats, campaign_list,
 * sessions, visitor, audit_tail, context_get, heat_pages, heat and history
 * go to every upstream agent as the same request bytes (the operator's
 * signature verifies at each agent, which enforce roles and replay
 * protection); the relay's reply is then the relay's envelope:
 *   status 0, body {agents: [[name str, status int, message str,
 *             body]...]}  one entry per upstream in configuration order,
 *             each that agent's own reply; an upstream that did not answer
 *             is NUDGE_ETIMEOUT or NUDGE_ECONN with body nil; an upstream
 *             that is itself a relay has its envelope as its body.
 *   sessions is the exception: the agents' {total, items} are merged
 *             (total summed, items in the asked order, cut to lim; exact
 *             for off 0) into one answer of that shape, with agents:
 *             [[name, status, message, nil]...] added.
 * Other commands (emit: an event belongs to one agent) are NUDGE_EINVAL.
 * An envelope is 3 levels deeper than the reply it holds: clients parse
 * replies with wire_limits_reply.
 */
#define WIRE_EMIT_MAX 10000
#define WIRE_PAGE_MAX 500
#define WIRE_ERRS_MAX 16

/* Fills id with random bytes (getrandom). */
void wire_new_id(uint8_t id[WIRE_ID_LEN]);

/*
 * Starts a request: packs the 6-array header and v, cmd, id, ts.  The
 * caller then packs exactly one args object (map or nil) and finishes with
 * wire_request_end().  With key != NULL the request is signed:
 * HMAC-SHA256(key, sb bytes so far) under key_id.
 */
void wire_request_begin(msgpack_packer *pk, const char *cmd,
    const uint8_t id[WIRE_ID_LEN], uint64_t ts_ms);
int wire_request_end(msgpack_packer *pk, msgpack_sbuffer *sb,
    const char *key_id, const uint8_t *key, size_t key_len);

struct wire_request {
	char cmd[WIRE_CMD_MAX + 1];
	uint8_t id[WIRE_ID_LEN];
	uint64_t ts_ms;
	const msgpack_object *args;	/* map, or NULL for nil */
	bool signed_;			/* auth present */
	char key_id[64];
	uint8_t mac[WIRE_MAC_LEN];
	size_t signed_len;	/* bytes of the buffer the mac covers */
	msgpack_unpacked up;
};

/*
 * Prechecks and parses a request.  Returns 0 (release with
 * wire_request_fini) or an error with d filled; on error nothing needs
 * releasing.
 */
int wire_request_parse(struct wire_request *rq, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d);
void wire_request_fini(struct wire_request *rq);

/*
 * Checks rq's mac against key in constant time: 0 or NUDGE_EAUTH.
 */
int wire_request_verify(const struct wire_request *rq, const void *buf,
    const uint8_t *key, size_t key_len);

/* Starts a reply; the caller then packs exactly one body object. */
void wire_reply_begin(msgpack_packer *pk, const uint8_t id[WIRE_ID_LEN],
    int status, const char *message);

struct wire_reply {
	uint8_t id[WIRE_ID_LEN];
	int status;
	char message[256];
	const msgpack_object *body;	/* never NULL; may be nil */
	msgpack_unpacked up;
};

int wire_reply_parse(struct wire_reply *rp, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d);
void wire_reply_fini(struct wire_reply *rp);

#endif
