/*
 * wire.c - encoders and strict, bounded decoders of nudge's msgpack wire
 * format (see wire.h for the layout of every message).
 *
 * Owns no state: every function works on caller-owned buffers, packers and
 * structs, so any thread may call any function (one message per thread at
 * a time).  Decoding has two stages.  wire_precheck() walks the raw bytes
 * by hand, allocating nothing, and refuses any count or length that the
 * remaining bytes or the limits cannot hold; only then does msgpack-c's
 * msgpack_unpack_next() build objects, whose strings point into the input
 * buffer.  Then each decoder checks every position's type.  The control
 * path's requests and replies are in wire_ctl.c, the campaigns' codecs in
 * wire_camp.c; what they share of this file is in wire_int.h.
 *
 * Diagnostics: d->col is the 1-based byte offset of the offending byte
 * (offset + 1, so that 0 keeps meaning "not applicable"); d->line is 0.
 *
 * Short keys of a session map (all fields of struct session_summary):
 *   vid visitor, st started_ms, ls last_ms, pg pages, ev events, sp step,
 *   src source (name), dv device (name), cl closed, cc country,
 *   ci cart_items, cv cart_cents, pu purchases, rv revenue_cents,
 *   sc score, lp last_page, uc utm_campaign.
 * Snapshot body: boot, up, ver, ctl, fun, steps, dseq (delta_seq),
 *   rv (rules_version), rsv (shadow_version), rules (per-rule counters),
 *   serr (store_errors), pdrop (pub_dropped), lerr (last_error), agg.
 */
#include "wire.h"
#include "wire_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* msgpack-c cannot unpack deeper than its embedded stack. */
#define WALK_DEPTH_CAP 32
#define HLL_RANK_MAX (64 - HLL_P + 1)

const struct wire_limits wire_limits_default = {
	.max_bytes = 4u << 20,
	.max_depth = 8,
	.max_count = 65536,
	.max_str = 64u << 10,
};

const struct wire_limits wire_limits_reply = {
	.max_bytes = 4u << 20,
	.max_depth = 16,
	.max_count = 65536,
	.max_str = 64u << 10,
};

static const char *const kind_names[WIRE_KIND_MAX + 1] = {
	"unknown", "snapshot", "delta", "session", "event", "heat",
};

const char *
wire_kind_name(int kind)
{
	if (kind < 1 || kind > WIRE_KIND_MAX)
		return kind_names[0];
	return kind_names[kind];
}

void
wire_kind_prefix(int kind, unsigned char out[3])
{
	out[0] = 0x96;
	out[1] = WIRE_VERSION;
	out[2] = (unsigned char)kind;
}

/* ---- precheck: a hand walk over raw msgpack --------------------------- */

struct walk {
	const uint8_t *p;
	size_t len;
	size_t off;
	unsigned max_depth;
	const struct wire_limits *lim;
	struct nudge_diag *d;
};

/* What follows a type byte in 0xc0..0xdf. */
enum { T_BAD, T_SKIP, T_BYTES, T_EXT, T_ARRAY, T_MAP };
static const struct {
	uint8_t what;
	uint8_t n;	/* bytes to skip, or width of the length/count */
} walk_types[32] = {
	[0x00] = {T_SKIP, 0}, [0x01] = {T_BAD, 0},
	[0x02] = {T_SKIP, 0}, [0x03] = {T_SKIP, 0},
	[0x04] = {T_BYTES, 1}, [0x05] = {T_BYTES, 2}, [0x06] = {T_BYTES, 4},
	[0x07] = {T_EXT, 1}, [0x08] = {T_EXT, 2}, [0x09] = {T_EXT, 4},
	[0x0a] = {T_SKIP, 4}, [0x0b] = {T_SKIP, 8},
	[0x0c] = {T_SKIP, 1}, [0x0d] = {T_SKIP, 2}, [0x0e] = {T_SKIP, 4},
	[0x0f] = {T_SKIP, 8},
	[0x10] = {T_SKIP, 1}, [0x11] = {T_SKIP, 2}, [0x12] = {T_SKIP, 4},
	[0x13] = {T_SKIP, 8},
	[0x14] = {T_SKIP, 2}, [0x15] = {T_SKIP, 3}, [0x16] = {T_SKIP, 5},
	[0x17] = {T_SKIP, 9}, [0x18] = {T_SKIP, 17},
	[0x19] = {T_BYTES, 1}, [0x1a] = {T_BYTES, 2}, [0x1b] = {T_BYTES, 4},
	[0x1c] = {T_ARRAY, 2}, [0x1d] = {T_ARRAY, 4},
	[0x1e] = {T_MAP, 2}, [0x1f] = {T_MAP, 4},
};

static int
walk_fail(struct walk *w, int rc, size_t at, const char *what)
{
	nudge_diag_set(w->d, 0, (int)(at + 1), "msgpack: %s at byte %zu",
	    what, at);
	return rc;
}

/* Reads an n-byte big-endian number at the cursor, or fails. */
static int
walk_uint(struct walk *w, unsigned n, uint64_t *v, size_t at)
{
	uint64_t x = 0;

	if (w->len - w->off < n)
		return walk_fail(w, NUDGE_ETRUNC, at, "truncated header");
	for (unsigned i = 0; i < n; i++)
		x = x << 8 | w->p[w->off++];
	*v = x;
	return 0;
}

static int
walk_bytes(struct walk *w, uint64_t n, size_t at)
{
	if (n > w->lim->max_str)
		return walk_fail(w, NUDGE_ETOOBIG, at,
		    "string over the limit");
	if (n > w->len - w->off)
		return walk_fail(w, NUDGE_ETRUNC, at, "string past the end");
	w->off += (size_t)n;
	return 0;
}

static int walk_obj(struct walk *w, unsigned depth);

static int
walk_items(struct walk *w, uint64_t n, bool map, unsigned depth, size_t at)
{
	uint64_t objs = map ? 2 * n : n;
	int rc;

	if (depth + 1 > w->max_depth)
		return walk_fail(w, NUDGE_EDEPTH, at, "nesting too deep");
	if (n > w->lim->max_count)
		return walk_fail(w, NUDGE_ETOOBIG, at, "count over the limit");
	/* Every element takes at least one byte: a count is bounded by it. */
	if (objs > w->len - w->off)
		return walk_fail(w, NUDGE_ETRUNC, at, "count past the end");
	for (uint64_t i = 0; i < objs; i++)
		if ((rc = walk_obj(w, depth + 1)) != 0)
			return rc;
	return 0;
}

static int
walk_obj(struct walk *w, unsigned depth)
{
	size_t at = w->off;
	uint64_t n = 0;
	uint8_t b;
	int rc;

	if (w->off >= w->len)
		return walk_fail(w, NUDGE_ETRUNC, at, "missing object");
	b = w->p[w->off++];
	if (b <= 0x7f || b >= 0xe0)
		return 0;
	if (b <= 0x8f)
		return walk_items(w, b & 0x0f, true, depth, at);
	if (b <= 0x9f)
		return walk_items(w, b & 0x0f, false, depth, at);
	if (b <= 0xbf)
		return walk_bytes(w, b & 0x1f, at);
	switch (walk_types[b - 0xc0].what) {
	case T_BAD:
		return walk_fail(w, NUDGE_EINVAL, at, "reserved byte 0xc1");
	case T_SKIP:
		return walk_bytes(w, walk_types[b - 0xc0].n, at);
	default:
		break;
	}
	if ((rc = walk_uint(w, walk_types[b - 0xc0].n, &n, at)) != 0)
		return rc;
	switch (walk_types[b - 0xc0].what) {
	case T_BYTES:
		return walk_bytes(w, n, at);
	case T_EXT:
		if (n > w->lim->max_str)
			return walk_fail(w, NUDGE_ETOOBIG, at,
			    "extension over the limit");
		return walk_bytes(w, n + 1, at);	/* + the type byte */
	case T_ARRAY:
		return walk_items(w, n, false, depth, at);
	default:
		return walk_items(w, n, true, depth, at);
	}
}

static void
walk_start(struct walk *w, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d)
{
	w->p = buf;
	w->len = len;
	w->off = 0;
	w->lim = lim;
	w->max_depth = lim->max_depth < WALK_DEPTH_CAP ? lim->max_depth :
	    WALK_DEPTH_CAP;
	w->d = d;
}

/* The size bound of a whole buffer (*lim NULL: the defaults). */
static int
precheck_size(size_t len, const struct wire_limits **lim,
    struct nudge_diag *d)
{
	if (*lim == NULL)
		*lim = &wire_limits_default;
	if (len > (*lim)->max_bytes) {
		nudge_diag_set(d, 0, 0, "msgpack: %zu bytes, at most %zu", len,
		    (*lim)->max_bytes);
		return NUDGE_ETOOBIG;
	}
	return 0;
}

int
wire_precheck(const void *buf, size_t len, const struct wire_limits *lim,
    struct nudge_diag *d)
{
	struct walk w;
	int rc;

	if ((rc = precheck_size(len, &lim, d)) != 0)
		return rc;
	walk_start(&w, buf, len, lim, d);
	if ((rc = walk_obj(&w, 0)) != 0)
		return rc;
	if (w.off != len)
		return walk_fail(&w, NUDGE_EINVAL, w.off, "trailing bytes");
	return 0;
}

/*
 * Offset at which element i of the top-level array of a prechecked buffer
 * starts (the end of the buffer if it has fewer elements).
 */
size_t
wire_elem_offset(const void *buf, size_t len, size_t i)
{
	/* Already prechecked under the caller's limits: only bytes bound. */
	static const struct wire_limits lim = {
		.max_bytes = SIZE_MAX, .max_depth = WALK_DEPTH_CAP,
		.max_count = UINT32_MAX, .max_str = UINT32_MAX,
	};
	struct walk w;
	uint64_t n = 0;
	uint8_t b;

	walk_start(&w, buf, len, &lim, NULL);
	if (len == 0)
		return 0;
	b = w.p[w.off++];
	if (b >= 0x90 && b <= 0x9f)
		n = b & 0x0f;
	else if ((b != 0xdc && b != 0xdd) ||
	    walk_uint(&w, b == 0xdc ? 2 : 4, &n, 0) != 0)
		return len;
	for (uint64_t k = 0; k < n && k < i; k++)
		if (walk_obj(&w, 1) != 0)
			return len;
	return w.off;
}

/* ---- unpacking --------------------------------------------------------- */

/* Unpacks the one object of a prechecked buf into up (init'ed here). */
static int
unpack_checked(msgpack_unpacked *up, const void *buf, size_t len,
    struct nudge_diag *d)
{
	size_t off = 0;
	msgpack_unpack_return ur;

	msgpack_unpacked_init(up);
	ur = msgpack_unpack_next(up, buf, len, &off);
	if (ur == MSGPACK_UNPACK_SUCCESS && off == len)
		return 0;
	msgpack_unpacked_destroy(up);
	if (ur == MSGPACK_UNPACK_NOMEM_ERROR) {
		nudge_diag_set(d, 0, 0, "msgpack: out of memory");
		return NUDGE_ENOMEM;
	}
	nudge_diag_set(d, 0, (int)off + 1, "msgpack: does not unpack");
	return NUDGE_EINVAL;
}

/* Prechecks buf and unpacks its one object into up (init'ed here). */
int
wire_unpack_top(msgpack_unpacked *up, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d)
{
	int rc = wire_precheck(buf, len, lim, d);

	return rc != 0 ? rc : unpack_checked(up, buf, len, d);
}

int
wire_envelope_fail(struct nudge_diag *d, const void *buf, size_t len, size_t pos,
    int rc, const char *what)
{
	nudge_diag_set(d, 0, (int)wire_elem_offset(buf, len, pos) + 1,
	    "envelope element %zu: %s", pos, what);
	return rc;
}

/* Checks position 0 (the version) and the element count of an envelope. */
int
wire_check_version(const msgpack_object *root, uint32_t size, const void *buf,
    size_t len, struct nudge_diag *d)
{
	const msgpack_object *v;

	if (root->type != MSGPACK_OBJECT_ARRAY || root->via.array.size == 0) {
		nudge_diag_set(d, 0, 1, "envelope: not an array");
		return NUDGE_ETYPE;
	}
	v = &root->via.array.ptr[0];
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wire_envelope_fail(d, buf, len, 0, NUDGE_ETYPE,
		    "version is not an unsigned integer");
	if (v->via.u64 != WIRE_VERSION)
		return wire_envelope_fail(d, buf, len, 0, NUDGE_EVERSION,
		    "unknown version");
	if (root->via.array.size != size) {
		nudge_diag_set(d, 0, 1, "envelope: %u elements, expected %u",
		    (unsigned)root->via.array.size, (unsigned)size);
		return NUDGE_EINVAL;
	}
	return 0;
}

static bool
agent_name_ok(const msgpack_object *o)
{
	if (o->via.str.size == 0 || o->via.str.size > WIRE_AGENT_MAX)
		return false;
	for (uint32_t i = 0; i < o->via.str.size; i++) {
		unsigned char c = (unsigned char)o->via.str.ptr[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		    c == '-'))
			return false;
	}
	return true;
}

static int
msg_header(const msgpack_object *root, const void *buf, size_t len,
    struct wire_header *h, struct nudge_diag *d)
{
	const msgpack_object *e;
	int rc;

	if ((rc = wire_check_version(root, 6, buf, len, d)) != 0)
		return rc;
	e = root->via.array.ptr;
	if (e[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return wire_envelope_fail(d, buf, len, 1, NUDGE_ETYPE,
		    "kind is not an unsigned integer");
	if (e[1].via.u64 < 1 || e[1].via.u64 > WIRE_KIND_MAX)
		return wire_envelope_fail(d, buf, len, 1, NUDGE_EKIND,
		    "unknown kind");
	if (e[2].type != MSGPACK_OBJECT_STR)
		return wire_envelope_fail(d, buf, len, 2, NUDGE_ETYPE,
		    "agent is not a string");
	if (!agent_name_ok(&e[2]))
		return wire_envelope_fail(d, buf, len, 2, NUDGE_EINVAL,
		    "agent name is not 1..63 of [A-Za-z0-9._-]");
	for (size_t i = 3; i <= 4; i++)
		if (e[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return wire_envelope_fail(d, buf, len, i, NUDGE_ETYPE,
			    i == 3 ? "seq is not an unsigned integer" :
			    "ts is not an unsigned integer");
	h->v = WIRE_VERSION;
	h->kind = (uint8_t)e[1].via.u64;
	memcpy(h->agent, e[2].via.str.ptr, e[2].via.str.size);
	h->agent[e[2].via.str.size] = '\0';
	h->seq = e[3].via.u64;
	h->ts_ms = e[4].via.u64;
	return 0;
}

/* Unpacks a prechecked part and checks its envelope (wire_msg_open). */
static int
msg_open_checked(struct wire_msg *msg, const void *buf, size_t len,
    struct nudge_diag *d)
{
	struct wire_msg m;
	int rc;

	memset(&m, 0, sizeof(m));
	if ((rc = unpack_checked(&m.up, buf, len, d)) != 0)
		return rc;
	if ((rc = msg_header(&m.up.data, buf, len, &m.h, d)) != 0) {
		msgpack_unpacked_destroy(&m.up);
		return rc;
	}
	m.body = &m.up.data.via.array.ptr[5];
	*msg = m;
	return 0;
}

int
wire_msg_open(struct wire_msg *msg, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d)
{
	int rc = wire_precheck(buf, len, lim, d);

	return rc != 0 ? rc : msg_open_checked(msg, buf, len, d);
}

int
wire_msg_next(struct wire_msg *msg, const void *buf, size_t len,
    size_t *off, const struct wire_limits *lim, struct nudge_diag *d)
{
	const uint8_t *part = (const uint8_t *)buf + *off;
	struct walk w;
	int rc;

	if (*off > len)
		return NUDGE_EINVAL;
	if ((rc = precheck_size(len, &lim, d)) != 0)
		return rc;
	walk_start(&w, part, len - *off, lim, d);
	if ((rc = walk_obj(&w, 0)) != 0)
		return rc;
	*off += w.off;
	return msg_open_checked(msg, part, w.off, d);
}

int
wire_msg_each(const void *buf, size_t len, const struct wire_limits *lim,
    struct nudge_diag *d, wire_part_fn fn, void *arg, unsigned *skipped)
{
	size_t off = 0;

	do {
		struct wire_msg m;
		int rc = wire_msg_next(&m, buf, len, &off, lim, d);

		if (rc == NUDGE_EKIND || rc == NUDGE_EVERSION) {
			if (skipped != NULL)
				(*skipped)++;
			continue;
		}
		if (rc != 0)
			return rc;
		fn(arg, &m);
		wire_msg_fini(&m);
	} while (off < len);
	return 0;
}

void
wire_msg_fini(struct wire_msg *msg)
{
	msgpack_unpacked_destroy(&msg->up);
	msg->body = NULL;
}

/* ---- typed access ------------------------------------------------------ */

bool
wire_key_is(const msgpack_object *k, const char *key, size_t kl)
{
	return k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
	    memcmp(k->via.str.ptr, key, kl) == 0;
}

const msgpack_object *
wire_map_get(const msgpack_object *o, const char *key)
{
	size_t kl = strlen(key);

	if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < o->via.map.size; i++)
		if (wire_key_is(&o->via.map.ptr[i].key, key, kl))
			return &o->via.map.ptr[i].val;
	return NULL;
}

int
wire_obj_u64(const msgpack_object *o, uint64_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return NUDGE_ETYPE;
	*out = o->via.u64;
	return 0;
}

/* Signed integers: either msgpack sign; unsigned values over INT64_MAX
 * are out of range rather than of another type. */
int
wire_obj_i64(const msgpack_object *o, int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return 0;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return NUDGE_ETYPE;
	if (o->via.u64 > INT64_MAX)
		return NUDGE_ERANGE;
	*out = (int64_t)o->via.u64;
	return 0;
}

int
wire_obj_strv(const msgpack_object *o, struct nudge_strv *out)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_STR)
		return NUDGE_ETYPE;
	out->ptr = o->via.str.size ? o->via.str.ptr : "";
	out->len = o->via.str.size;
	return 0;
}

/* Copies a str object into dst (cap includes the NUL). */
int
wire_obj_cstr(const msgpack_object *o, char *dst, size_t cap)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return NUDGE_ETYPE;
	if (o->via.str.size >= cap)
		return NUDGE_ETOOBIG;
	if (o->via.str.size > 0)
		memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return 0;
}

int
wire_get_u64(const msgpack_object *map, const char *key, uint64_t *out)
{
	const msgpack_object *v = wire_map_get(map, key);

	return v ? wire_obj_u64(v, out) : NUDGE_ENOTFOUND;
}

int
wire_get_i64(const msgpack_object *map, const char *key, int64_t *out)
{
	const msgpack_object *v = wire_map_get(map, key);

	return v ? wire_obj_i64(v, out) : NUDGE_ENOTFOUND;
}

int
wire_get_bool(const msgpack_object *map, const char *key, bool *out)
{
	const msgpack_object *v = wire_map_get(map, key);

	if (v == NULL)
		return NUDGE_ENOTFOUND;
	if (v->type != MSGPACK_OBJECT_BOOLEAN)
		return NUDGE_ETYPE;
	*out = v->via.boolean;
	return 0;
}

int
wire_get_str(const msgpack_object *map, const char *key, char *dst,
    size_t cap)
{
	const msgpack_object *v = wire_map_get(map, key);

	return v ? wire_obj_cstr(v, dst, cap) : NUDGE_ENOTFOUND;
}

int
wire_get_strv(const msgpack_object *map, const char *key,
    struct nudge_strv *out)
{
	const msgpack_object *v = wire_map_get(map, key);

	return v ? wire_obj_strv(v, out) : NUDGE_ENOTFOUND;
}

void
wire_pack_cstr(msgpack_packer *pk, const char *s)
{
	if (s == NULL) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_str_with_body(pk, s, strlen(s));
}

void
wire_pack_strv(msgpack_packer *pk, struct nudge_strv v)
{
	msgpack_pack_str_with_body(pk, v.len ? v.ptr : "", v.len);
}

static void
pack_key(msgpack_packer *pk, const char *key)
{
	msgpack_pack_str_with_body(pk, key, strlen(key));
}

/* ---- field tables: one description drives packing and unpacking ------- */

enum fkind {
	FK_U64, FK_U32, FK_U16, FK_U8, FK_I64, FK_I32, FK_BOOL,
	FK_CSTR,	/* char[max], max includes the NUL */
	FK_STRV,	/* struct nudge_strv, at most max bytes */
	FK_TYPE,	/* uint8_t event type, as its name */
	FK_DEVICE,	/* uint8_t device, as its name */
	FK_SOURCE,	/* uint8_t source, as its name */
};

struct wfield {
	const char *key;
	uint8_t klen;	/* strlen(key), so that lookups skip strlen */
	uint8_t kind;
	uint32_t off;
	uint64_t max;	/* bytes for strings; largest value for FK_U8 */
};

#define FLD(k, kind, type, m, max) \
	{k, sizeof(k) - 1, kind, offsetof(type, m), max}

static int
source_from_name(struct nudge_strv name)
{
	for (int i = 0; i < SOURCE_COUNT; i++)
		if (strv_eq(name, event_source_name(i)))
			return i;
	return SOURCE_DIRECT;	/* a newer peer's class: not an error */
}

static int
store_uint(const struct wfield *f, const msgpack_object *v, char *p)
{
	static const uint64_t lim[] = {
		[FK_U64] = UINT64_MAX, [FK_U32] = UINT32_MAX,
		[FK_U16] = UINT16_MAX,
	};
	uint64_t u;
	int rc;

	if ((rc = wire_obj_u64(v, &u)) != 0)
		return rc;
	if (u > (f->kind == FK_U8 ? f->max : lim[f->kind]))
		return NUDGE_ERANGE;
	if (f->kind == FK_U64)
		*(uint64_t *)p = u;
	else if (f->kind == FK_U32)
		*(uint32_t *)p = (uint32_t)u;
	else if (f->kind == FK_U16)
		*(uint16_t *)p = (uint16_t)u;
	else
		*(uint8_t *)p = (uint8_t)u;
	return 0;
}

static int
store_int(const struct wfield *f, const msgpack_object *v, char *p)
{
	int64_t i;
	int rc;

	if ((rc = wire_obj_i64(v, &i)) != 0)
		return rc;
	if (f->kind == FK_I64) {
		*(int64_t *)p = i;
		return 0;
	}
	if (i < INT32_MIN || i > INT32_MAX)
		return NUDGE_ERANGE;
	*(int32_t *)p = (int32_t)i;
	return 0;
}

static int
store_named(const struct wfield *f, const msgpack_object *v, char *p)
{
	struct nudge_strv s;
	int rc, x;

	if ((rc = wire_obj_strv(v, &s)) != 0)
		return rc;
	if (f->kind == FK_TYPE) {
		if ((x = event_type_from_name(s)) < 0)
			return NUDGE_EINVAL;
	} else if (f->kind == FK_DEVICE)
		x = event_device_from_name(s);
	else
		x = source_from_name(s);
	*(uint8_t *)p = (uint8_t)x;
	return 0;
}

static int
field_store(const struct wfield *f, const msgpack_object *v, void *base)
{
	char *p = (char *)base + f->off;
	struct nudge_strv s;
	int rc;

	switch (f->kind) {
	case FK_U64: case FK_U32: case FK_U16: case FK_U8:
		return store_uint(f, v, p);
	case FK_I64: case FK_I32:
		return store_int(f, v, p);
	case FK_BOOL:
		if (v->type != MSGPACK_OBJECT_BOOLEAN)
			return NUDGE_ETYPE;
		*(bool *)p = v->via.boolean;
		return 0;
	case FK_CSTR:
		return wire_obj_cstr(v, p, (size_t)f->max);
	case FK_STRV:
		if ((rc = wire_obj_strv(v, &s)) != 0)
			return rc;
		if (s.len > f->max)
			return NUDGE_ETOOBIG;
		*(struct nudge_strv *)p = s;
		return 0;
	default:
		return store_named(f, v, p);
	}
}

/*
 * Decodes the pairs of map o whose keys are in tab into base; other keys
 * are skipped.  Errors name the key in d->msg.
 */
static int
fields_unpack(const msgpack_object *o, const struct wfield *tab, size_t n,
    void *base, struct nudge_diag *d)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_MAP) {
		nudge_diag_set(d, 0, 0, "expected a map");
		return NUDGE_ETYPE;
	}
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		size_t j;
		int rc;

		if (kv->key.type != MSGPACK_OBJECT_STR) {
			nudge_diag_set(d, 0, 0, "map key %u is not a string",
			    (unsigned)i);
			return NUDGE_ETYPE;
		}
		for (j = 0; j < n; j++)
			if (wire_key_is(&kv->key, tab[j].key, tab[j].klen))
				break;
		if (j == n)
			continue;
		if ((rc = field_store(&tab[j], &kv->val, base)) != 0) {
			nudge_diag_set(d, 0, 0, "%s: %s", tab[j].key,
			    nudge_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static bool
field_empty(const struct wfield *f, const void *base)
{
	const char *p = (const char *)base + f->off;

	switch (f->kind) {
	case FK_U64: return *(const uint64_t *)p == 0;
	case FK_U32: return *(const uint32_t *)p == 0;
	case FK_U16: return *(const uint16_t *)p == 0;
	case FK_U8: case FK_DEVICE: case FK_SOURCE:
		return *(const uint8_t *)p == 0;
	case FK_I64: return *(const int64_t *)p == 0;
	case FK_I32: return *(const int32_t *)p == 0;
	case FK_BOOL: return !*(const bool *)p;
	case FK_CSTR: return p[0] == '\0';
	case FK_STRV: return ((const struct nudge_strv *)p)->len == 0;
	default: return false;
	}
}

static void
field_pack(msgpack_packer *pk, const struct wfield *f, const void *base)
{
	const char *p = (const char *)base + f->off;

	pack_key(pk, f->key);
	switch (f->kind) {
	case FK_U64: msgpack_pack_uint64(pk, *(const uint64_t *)p); break;
	case FK_U32: msgpack_pack_uint32(pk, *(const uint32_t *)p); break;
	case FK_U16: msgpack_pack_uint16(pk, *(const uint16_t *)p); break;
	case FK_U8: msgpack_pack_uint8(pk, *(const uint8_t *)p); break;
	case FK_I64: msgpack_pack_int64(pk, *(const int64_t *)p); break;
	case FK_I32: msgpack_pack_int32(pk, *(const int32_t *)p); break;
	case FK_BOOL:
		if (*(const bool *)p)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
		break;
	case FK_CSTR:
		msgpack_pack_str_with_body(pk, p, strnlen(p, f->max - 1));
		break;
	case FK_STRV: wire_pack_strv(pk, *(const struct nudge_strv *)p); break;
	case FK_TYPE:
		pack_key(pk, event_type_name(*(const uint8_t *)p));
		break;
	case FK_DEVICE:
		pack_key(pk, event_device_name(*(const uint8_t *)p));
		break;
	default: pack_key(pk, event_source_name(*(const uint8_t *)p)); break;
	}
}

/* Packs the fields of tab as `extra` more pairs than the map header says. */
static void
fields_pack(msgpack_packer *pk, const struct wfield *tab, size_t n,
    const void *base, bool skip_empty, uint32_t extra)
{
	uint32_t count = extra;

	for (size_t i = 0; i < n; i++)
		count += !(skip_empty && field_empty(&tab[i], base));
	msgpack_pack_map(pk, count);
	for (size_t i = 0; i < n; i++)
		if (!(skip_empty && field_empty(&tab[i], base)))
			field_pack(pk, &tab[i], base);
}

#define NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* ---- aggregates -------------------------------------------------------- */

static void
pack_slots(msgpack_packer *pk, const uint64_t *v, int n, bool sparse,
    const char *(*name)(int))
{
	uint32_t count = 0;

	for (int i = 0; i < n; i++)
		count += !sparse || v[i] != 0;
	msgpack_pack_map(pk, count);
	for (int i = 0; i < n; i++)
		if (!sparse || v[i] != 0) {
			pack_key(pk, name(i));
			msgpack_pack_uint64(pk, v[i]);
		}
}

void
wire_pack_agg(msgpack_packer *pk, const struct agg *a, bool sparse,
    bool with_hll)
{
	msgpack_pack_map(pk, with_hll ? 3 : 2);
	pack_key(pk, "c");
	pack_slots(pk, a->c, AGG_COUNTERS, sparse, agg_counter_name);
	pack_key(pk, "g");
	pack_slots(pk, a->g, AGG_GAUGES, sparse, agg_gauge_name);
	if (with_hll) {
		pack_key(pk, "hll");
		msgpack_pack_bin_with_body(pk, a->visitors.reg, HLL_REGISTERS);
	}
}

static int
unpack_slots(const msgpack_object *o, uint64_t *v,
    int (*index)(const char *, size_t))
{
	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_MAP)
		return NUDGE_ETYPE;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];
		int slot;

		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    kv->val.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return NUDGE_ETYPE;
		slot = index(kv->key.via.str.ptr, kv->key.via.str.size);
		if (slot >= 0)
			v[slot] = kv->val.via.u64;
	}
	return 0;
}

/* Decodes into a, which the caller has zeroed. */
static int
agg_decode(const msgpack_object *o, struct agg *a)
{
	const msgpack_object *h;
	int rc;

	if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
		return NUDGE_ETYPE;
	if ((rc = unpack_slots(wire_map_get(o, "c"), a->c,
	    agg_counter_index)) != 0 ||
	    (rc = unpack_slots(wire_map_get(o, "g"), a->g,
	    agg_gauge_index)) != 0)
		return rc;
	h = wire_map_get(o, "hll");
	if (h == NULL || h->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (h->type != MSGPACK_OBJECT_BIN)
		return NUDGE_ETYPE;
	if (h->via.bin.size != HLL_REGISTERS)
		return NUDGE_EINVAL;
	for (uint32_t i = 0; i < HLL_REGISTERS; i++)
		if ((uint8_t)h->via.bin.ptr[i] > HLL_RANK_MAX)
			return NUDGE_EINVAL;
	memcpy(a->visitors.reg, h->via.bin.ptr, HLL_REGISTERS);
	return 0;
}

int
wire_unpack_agg(const msgpack_object *o, struct agg *a)
{
	struct agg tmp;
	int rc;

	agg_init(&tmp);
	if ((rc = agg_decode(o, &tmp)) != 0)
		return rc;
	*a = tmp;
	return 0;
}

/* ---- snapshot and delta ------------------------------------------------ */

#define SNAP(k, kind, m, max) FLD(k, kind, struct wire_snapshot, m, max)
#define SNAPSZ(m) sizeof(((struct wire_snapshot *)0)->m)
static const struct wfield snap_fields[] = {
	SNAP("boot", FK_U64, boot_id, 0),
	SNAP("up", FK_U64, uptime_ms, 0),
	SNAP("ver", FK_CSTR, version, SNAPSZ(version)),
	SNAP("ctl", FK_CSTR, control, SNAPSZ(control)),
	SNAP("fun", FK_CSTR, funnel, SNAPSZ(funnel)),
	SNAP("dseq", FK_U64, delta_seq, 0),
	SNAP("rv", FK_U64, rules_version, 0),
	SNAP("rsv", FK_U64, shadow_version, 0),
	SNAP("serr", FK_U64, store_errors, 0),
	SNAP("pdrop", FK_U64, pub_dropped, 0),
	SNAP("lerr", FK_CSTR, last_error, SNAPSZ(last_error)),
};
#undef SNAPSZ
#undef SNAP

#define RST(k, kind, m, max) FLD(k, kind, struct wire_rule_stat, m, max)
static const struct wfield rule_stat_fields[] = {
	RST("n", FK_CSTR, name, WIRE_RULE_NAME_MAX + 1),
	RST("m", FK_U64, m, 0),
	RST("s", FK_U64, s, 0),
	RST("c", FK_U64, c, 0),
	RST("sh", FK_U64, sh, 0),
	RST("ho", FK_U64, ho, 0),
	RST("x", FK_BOOL, shadow_set, 0),
	RST("sho", FK_U64, sho, 0),
};
#undef RST

static bool
rule_has_lift(const struct wire_rule_stat *r)
{
	return (r->tn | r->tx | r->hn | r->hx) != 0;
}

static void
pack_rule_stats(msgpack_packer *pk, const struct wire_snapshot *s)
{
	unsigned n = s->n_rules < WIRE_RULES_MAX ? s->n_rules : WIRE_RULES_MAX;

	pack_key(pk, "rules");
	msgpack_pack_array(pk, n);
	for (unsigned i = 0; i < n; i++) {
		const struct wire_rule_stat *r = &s->rules[i];
		bool lift = rule_has_lift(r);

		fields_pack(pk, rule_stat_fields, NFIELDS(rule_stat_fields),
		    r, true, lift);
		if (lift) {
			pack_key(pk, "lift");
			msgpack_pack_array(pk, 4);
			msgpack_pack_uint64(pk, r->tn);
			msgpack_pack_uint64(pk, r->tx);
			msgpack_pack_uint64(pk, r->hn);
			msgpack_pack_uint64(pk, r->hx);
		}
	}
}

/* "lift": [tn, tx, hn, hx]; absent: zeros. */
static int
unpack_lift(const msgpack_object *o, struct wire_rule_stat *r)
{
	uint64_t v[4];

	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (o->via.array.size != 4)
		return NUDGE_EINVAL;
	for (int i = 0; i < 4; i++)
		if (wire_obj_u64(&o->via.array.ptr[i], &v[i]) != 0)
			return NUDGE_ETYPE;
	if (v[1] > v[0] || v[3] > v[2])
		return NUDGE_EINVAL;
	r->tn = v[0];
	r->tx = v[1];
	r->hn = v[2];
	r->hx = v[3];
	return 0;
}

static int
unpack_rule_stats(const msgpack_object *o, struct wire_snapshot *s)
{
	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (o->via.array.size > WIRE_RULES_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *r = &o->via.array.ptr[i];
		int rc = fields_unpack(r, rule_stat_fields,
		    NFIELDS(rule_stat_fields), &s->rules[i], NULL);
		if (rc != 0 || (rc = unpack_lift(wire_map_get(r, "lift"),
		    &s->rules[i])) != 0)
			return rc;
	}
	s->n_rules = (uint16_t)o->via.array.size;
	return 0;
}

/* ---- visitors lately forgotten (snapshot "forgot") --------------------- */

static void
pack_forgot(msgpack_packer *pk, const struct wire_snapshot *s)
{
	unsigned n = s->n_forgot < WIRE_FORGOT_MAX ? s->n_forgot :
	    WIRE_FORGOT_MAX;

	if (n == 0)
		return;
	pack_key(pk, "forgot");
	msgpack_pack_array(pk, n);
	for (unsigned i = 0; i < n; i++)
		msgpack_pack_uint64(pk, s->forgot[i]);
}

static int
unpack_forgot(const msgpack_object *o, struct wire_snapshot *s)
{
	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (o->via.array.size > WIRE_FORGOT_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return NUDGE_ETYPE;
		s->forgot[i] = o->via.array.ptr[i].via.u64;
	}
	s->n_forgot = (uint8_t)o->via.array.size;
	return 0;
}

void
wire_pack_snapshot(msgpack_packer *pk, const struct wire_snapshot *s)
{
	unsigned n = s->n_steps < AGG_STEPS_MAX ? s->n_steps : AGG_STEPS_MAX;

	unsigned nc = s->n_camps < WIRE_CAMPS_MAX ? s->n_camps :
	    WIRE_CAMPS_MAX;

	fields_pack(pk, snap_fields, NFIELDS(snap_fields), s, false,
	    (nc > 0 ? 4 : 3) + (s->n_forgot > 0));
	pack_key(pk, "steps");
	msgpack_pack_array(pk, n);
	for (unsigned i = 0; i < n; i++)
		msgpack_pack_str_with_body(pk, s->steps[i],
		    strnlen(s->steps[i], sizeof(s->steps[i]) - 1));
	/* Sparse costs nothing: a decoder reads missing slots as zero. */
	pack_key(pk, "agg");
	wire_pack_agg(pk, &s->agg, true, true);
	pack_rule_stats(pk, s);
	if (nc > 0) {
		pack_key(pk, "camps");
		msgpack_pack_array(pk, nc);
		for (unsigned i = 0; i < nc; i++)
			wire_pack_campaign(pk, &s->camps[i]);
	}
	pack_forgot(pk, s);
}

static int
unpack_camps(const msgpack_object *o, struct wire_snapshot *s)
{
	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (o->via.array.size > WIRE_CAMPS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		int rc = wire_unpack_campaign(&o->via.array.ptr[i],
		    &s->camps[i]);
		if (rc != 0)
			return rc;
	}
	s->n_camps = (uint8_t)o->via.array.size;
	return 0;
}

static int
unpack_steps(const msgpack_object *o, struct wire_snapshot *s)
{
	if (o == NULL)
		return 0;
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (o->via.array.size > AGG_STEPS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		int rc = wire_obj_cstr(&o->via.array.ptr[i], s->steps[i],
		    sizeof(s->steps[i]));
		if (rc != 0)
			return rc;
	}
	s->n_steps = (uint8_t)o->via.array.size;
	return 0;
}

static int
snapshot_decode(const msgpack_object *o, struct wire_snapshot *tmp)
{
	int rc;

	if ((rc = fields_unpack(o, snap_fields, NFIELDS(snap_fields), tmp,
	    NULL)) != 0 ||
	    (rc = unpack_steps(wire_map_get(o, "steps"), tmp)) != 0 ||
	    (rc = unpack_rule_stats(wire_map_get(o, "rules"), tmp)) != 0 ||
	    (rc = unpack_camps(wire_map_get(o, "camps"), tmp)) != 0 ||
	    (rc = unpack_forgot(wire_map_get(o, "forgot"), tmp)) != 0)
		return rc;
	if (wire_map_get(o, "boot") == NULL || wire_map_get(o, "agg") == NULL)
		return NUDGE_EINVAL;
	return agg_decode(wire_map_get(o, "agg"), &tmp->agg);
}

/* The scratch copy is ~47 KiB: on the heap, not on a thread's stack. */
int
wire_unpack_snapshot(const msgpack_object *o, struct wire_snapshot *s)
{
	struct wire_snapshot *tmp = calloc(1, sizeof(*tmp));
	int rc;

	if (tmp == NULL)
		return NUDGE_ENOMEM;
	if ((rc = snapshot_decode(o, tmp)) == 0)
		*s = *tmp;
	free(tmp);
	return rc;
}

int
wire_read_snapshot(const struct wire_msg *msg, struct wire_snapshot *out)
{
	if (msg->h.kind != WIRE_SNAPSHOT)
		return NUDGE_EKIND;
	return wire_unpack_snapshot(msg->body, out);
}

int
wire_read_delta(const struct wire_msg *msg, uint64_t *boot_id,
    struct agg *delta)
{
	struct agg tmp;
	uint64_t boot;
	int rc;

	if (msg->h.kind != WIRE_DELTA)
		return NUDGE_EKIND;
	if (msg->body->type != MSGPACK_OBJECT_MAP)
		return NUDGE_ETYPE;
	if ((rc = wire_get_u64(msg->body, "boot", &boot)) != 0)
		return rc == NUDGE_ENOTFOUND ? NUDGE_EINVAL : rc;
	agg_init(&tmp);
	if (wire_map_get(msg->body, "agg") == NULL)
		return NUDGE_EINVAL;
	if ((rc = agg_decode(wire_map_get(msg->body, "agg"), &tmp)) != 0)
		return rc;
	*boot_id = boot;
	*delta = tmp;
	return 0;
}

/* ---- sessions, steps and events ---------------------------------------- */

#define SS(k, kind, m, max) FLD(k, kind, struct session_summary, m, max)
#define SSZ(m) sizeof(((struct session_summary *)0)->m)
static const struct wfield session_fields[] = {
	SS("vid", FK_CSTR, visitor, SSZ(visitor)),
	SS("st", FK_U64, started_ms, 0),
	SS("ls", FK_U64, last_ms, 0),
	SS("pg", FK_U32, pages, 0),
	SS("ev", FK_U32, events, 0),
	SS("sp", FK_U8, step, AGG_STEPS_MAX),
	SS("src", FK_SOURCE, source, 0),
	SS("dv", FK_DEVICE, device, 0),
	SS("cl", FK_BOOL, closed, 0),
	SS("cc", FK_CSTR, country, SSZ(country)),
	SS("ci", FK_U32, cart_items, 0),
	SS("cv", FK_I64, cart_cents, 0),
	SS("pu", FK_U32, purchases, 0),
	SS("rv", FK_I64, revenue_cents, 0),
	SS("sc", FK_I32, score, 0),
	SS("lp", FK_CSTR, last_page, SSZ(last_page)),
	SS("uc", FK_CSTR, utm_campaign, SSZ(utm_campaign)),
};
#undef SS
#undef SSZ

void
wire_pack_session(msgpack_packer *pk, const struct session_summary *s)
{
	fields_pack(pk, session_fields, NFIELDS(session_fields), s, false, 0);
}

int
wire_unpack_session(const msgpack_object *o, struct session_summary *s)
{
	struct session_summary tmp;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	if ((rc = fields_unpack(o, session_fields, NFIELDS(session_fields),
	    &tmp, NULL)) != 0)
		return rc;
	if (tmp.visitor[0] == '\0')
		return NUDGE_EINVAL;
	*s = tmp;
	return 0;
}

/*
 * "sc", the score after the step, comes last and is optional: agents
 * before it sent none, and "no score" must not read as a score of 0.
 */
static const struct wfield step_fields[] = {
	FLD("ts", FK_U64, struct session_step, ts_ms, 0),
	FLD("t", FK_TYPE, struct session_step, type, 0),
	FLD("p", FK_CSTR, struct session_step, page, SESSION_PAGE_MAX),
	FLD("sc", FK_I32, struct session_step, score, 0),
};

void
wire_pack_step(msgpack_packer *pk, const struct session_step *st)
{
	fields_pack(pk, step_fields, NFIELDS(step_fields) - !st->has_score, st,
	    false, 0);
}

int
wire_unpack_step(const msgpack_object *o, struct session_step *st)
{
	struct session_step tmp;
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	if ((rc = fields_unpack(o, step_fields, NFIELDS(step_fields), &tmp,
	    NULL)) != 0)
		return rc;
	tmp.has_score = wire_map_get(o, "sc") != NULL;
	*st = tmp;
	return 0;
}

/* "t" and "f" are handled apart: a custom name, and a nested map. */
#define EV(k, kind, m, max) FLD(k, kind, struct nudge_event, m, max)
static const struct wfield event_fields[] = {
	EV("n", FK_STRV, name, EVENT_NAME_MAX),
	EV("vid", FK_STRV, visitor, EVENT_VISITOR_MAX),
	EV("ts", FK_U64, ts_ms, 0),
	EV("p", FK_STRV, page, EVENT_PAGE_MAX),
	EV("r", FK_STRV, referrer, EVENT_TEXT_MAX),
	EV("us", FK_STRV, utm_source, EVENT_TEXT_MAX),
	EV("um", FK_STRV, utm_medium, EVENT_TEXT_MAX),
	EV("uc", FK_STRV, utm_campaign, EVENT_TEXT_MAX),
	EV("tg", FK_STRV, target, EVENT_TEXT_MAX),
	EV("sku", FK_STRV, sku, EVENT_TEXT_MAX),
	EV("cc", FK_CSTR, country, 3),
	EV("dv", FK_DEVICE, device, 0),
	EV("val", FK_I64, value_cents, 0),
	EV("q", FK_U32, quantity, 0),
	EV("x", FK_U16, x_permille, 0),
	EV("y", FK_U16, y_permille, 0),
	EV("sd", FK_U16, scroll_permille, 0),
};
static const struct wfield event_type_field =
	EV("t", FK_TYPE, type, 0);
#undef EV

void
wire_pack_event(msgpack_packer *pk, const struct nudge_event *ev)
{
	unsigned nf = ev->n_fields < EVENT_FIELDS_MAX ? ev->n_fields :
	    EVENT_FIELDS_MAX;

	fields_pack(pk, event_fields, NFIELDS(event_fields), ev, true,
	    1 + (nf > 0));
	field_pack(pk, &event_type_field, ev);
	if (nf == 0)
		return;
	pack_key(pk, "f");
	msgpack_pack_map(pk, nf);
	for (unsigned i = 0; i < nf; i++) {
		wire_pack_strv(pk, ev->fields[i].key);
		wire_pack_strv(pk, ev->fields[i].val);
	}
}

static int
unpack_event_fields(const msgpack_object *f, struct nudge_event *ev,
    struct nudge_diag *d)
{
	if (f == NULL || f->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (f->type != MSGPACK_OBJECT_MAP) {
		nudge_diag_set(d, 0, 0, "f: not a map");
		return NUDGE_ETYPE;
	}
	if (f->via.map.size > EVENT_FIELDS_MAX) {
		nudge_diag_set(d, 0, 0, "f: %u pairs, at most %d",
		    (unsigned)f->via.map.size, EVENT_FIELDS_MAX);
		return NUDGE_ETOOBIG;
	}
	for (uint32_t i = 0; i < f->via.map.size; i++) {
		struct event_field *ef = &ev->fields[i];

		if (wire_obj_strv(&f->via.map.ptr[i].key, &ef->key) != 0 ||
		    wire_obj_strv(&f->via.map.ptr[i].val, &ef->val) != 0) {
			nudge_diag_set(d, 0, 0, "f: keys and values are str");
			return NUDGE_ETYPE;
		}
		if (ef->key.len > EVENT_TEXT_MAX ||
		    ef->val.len > EVENT_TEXT_MAX) {
			nudge_diag_set(d, 0, 0, "f: %u-byte field, at most %d",
			    (unsigned)(ef->key.len > ef->val.len ?
			    ef->key.len : ef->val.len), EVENT_TEXT_MAX);
			return NUDGE_ETOOBIG;
		}
	}
	ev->n_fields = (uint8_t)f->via.map.size;
	return 0;
}

int
wire_unpack_event(const msgpack_object *o, struct nudge_event *ev,
    struct nudge_diag *d)
{
	const msgpack_object *t = wire_map_get(o, "t");
	struct nudge_event tmp;
	int rc;

	event_init(&tmp);
	if ((rc = fields_unpack(o, event_fields, NFIELDS(event_fields), &tmp,
	    d)) != 0)
		return rc;
	if (t == NULL) {
		nudge_diag_set(d, 0, 0, "t: missing");
		return NUDGE_EINVAL;
	}
	if ((rc = field_store(&event_type_field, t, &tmp)) != 0) {
		nudge_diag_set(d, 0, 0, "t: %s", nudge_strerror(rc));
		return rc;
	}
	/* {t: "wishlist"} is short for {t: "custom", n: "wishlist"}. */
	if (tmp.type == EVENT_CUSTOM && tmp.name.len == 0 &&
	    !strv_eq((struct nudge_strv){t->via.str.ptr, t->via.str.size},
	    "custom"))
		wire_obj_strv(t, &tmp.name);
	if ((rc = unpack_event_fields(wire_map_get(o, "f"), &tmp, d)) != 0)
		return rc;
	*ev = tmp;
	return 0;
}

int
wire_read_sessions(const struct wire_msg *msg, struct session_summary *out,
    size_t cap, size_t *n)
{
	const msgpack_object *b = msg->body;
	size_t k;

	if (msg->h.kind != WIRE_SESSION)
		return NUDGE_EKIND;
	if (b->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	k = b->via.array.size < cap ? b->via.array.size : cap;
	for (size_t i = 0; i < k; i++) {
		int rc = wire_unpack_session(&b->via.array.ptr[i], &out[i]);
		if (rc != 0)
			return rc;
	}
	*n = k;
	return 0;
}

int
wire_read_events(const struct wire_msg *msg, struct nudge_event *out,
    size_t cap, size_t *n)
{
	const msgpack_object *b = msg->body;
	size_t k;

	if (msg->h.kind != WIRE_EVENT)
		return NUDGE_EKIND;
	if (b->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	k = b->via.array.size < cap ? b->via.array.size : cap;
	for (size_t i = 0; i < k; i++) {
		int rc = wire_unpack_event(&b->via.array.ptr[i], &out[i],
		    NULL);
		if (rc != 0)
			return rc;
	}
	*n = k;
	return 0;
}

/* ---- heatmaps --------------------------------------------------------- */

/* One [index, n] pair: index < bound, n within uint32. */
static int
heat_pair(const msgpack_object *o, uint32_t bound, uint32_t *idx,
    uint32_t *n)
{
	const msgpack_object *e;

	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2)
		return NUDGE_ETYPE;
	e = o->via.array.ptr;
	if (e[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    e[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return NUDGE_ETYPE;
	if (e[0].via.u64 >= bound || e[1].via.u64 > UINT32_MAX)
		return NUDGE_ERANGE;
	*idx = (uint32_t)e[0].via.u64;
	*n = (uint32_t)e[1].via.u64;
	return 0;
}

static int
heat_read_cells(const msgpack_object *c, struct wire_heat *w,
    struct wire_heat_page *p)
{
	uint32_t idx, n;
	int rc;

	if (c->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (c->via.array.size > WIRE_HEAT_CELLS_MAX - w->n_cells)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < c->via.array.size; i++) {
		rc = heat_pair(&c->via.array.ptr[i], WIRE_HEAT_CELLS, &idx,
		    &n);
		if (rc != 0)
			return rc;
		w->cells[w->n_cells++] = (struct wire_heat_cell){
		    (uint16_t)idx, n};
		p->n_cells++;
	}
	return 0;
}

static int
heat_read_bands(const msgpack_object *s, struct wire_heat_page *p)
{
	uint32_t b, n;
	int rc;

	if (s->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (s->via.array.size > WIRE_HEAT_BANDS)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < s->via.array.size; i++) {
		if ((rc = heat_pair(&s->via.array.ptr[i], WIRE_HEAT_BANDS, &b,
		    &n)) != 0)
			return rc;
		if (n > UINT32_MAX - p->reach[b])
			return NUDGE_ERANGE;
		p->reach[b] += n;
	}
	return 0;
}

static int
heat_read_page(const msgpack_object *o, struct wire_heat *w)
{
	struct wire_heat_page *p = &w->pages[w->n_pages];
	const msgpack_object *c = wire_map_get(o, "c");
	const msgpack_object *sv = wire_map_get(o, "s");
	int rc;

	if (o->type != MSGPACK_OBJECT_MAP)
		return NUDGE_ETYPE;
	memset(p, 0, sizeof(*p));
	if ((rc = wire_obj_strv(wire_map_get(o, "p"), &p->page)) != 0)
		return rc;
	if (p->page.len == 0)
		return NUDGE_EINVAL;
	if (p->page.len > WIRE_HEAT_PAGE_MAX)
		return NUDGE_ETOOBIG;
	p->first = w->n_cells;
	if (c != NULL && (rc = heat_read_cells(c, w, p)) != 0)
		return rc;
	if (sv != NULL && (rc = heat_read_bands(sv, p)) != 0)
		return rc;
	w->n_pages++;
	return 0;
}

int
wire_read_heat(const struct wire_msg *msg, struct wire_heat *out)
{
	const msgpack_object *b = msg->body;
	struct wire_heat *tmp;
	int rc = 0;

	if (msg->h.kind != WIRE_HEAT)
		return NUDGE_EKIND;
	if (b->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (b->via.array.size > WIRE_HEAT_PAGES_MAX)
		return NUDGE_ETOOBIG;
	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return NUDGE_ENOMEM;
	tmp->n_pages = tmp->n_cells = 0;
	for (uint32_t i = 0; i < b->via.array.size && rc == 0; i++)
		rc = heat_read_page(&b->via.array.ptr[i], tmp);
	if (rc == 0)
		memcpy(out, tmp, sizeof(*out));
	free(tmp);
	return rc;
}

/* What wire_read_heat() would refuse, checked before anything is written. */
static int
heat_check(const struct wire_heat *v)
{
	if (v->n_pages > WIRE_HEAT_PAGES_MAX ||
	    v->n_cells > WIRE_HEAT_CELLS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < v->n_pages; i++) {
		const struct wire_heat_page *p = &v->pages[i];
		if (p->page.len == 0 || p->page.ptr == NULL)
			return NUDGE_EINVAL;
		if (p->page.len > WIRE_HEAT_PAGE_MAX)
			return NUDGE_ETOOBIG;
		if (p->first > v->n_cells ||
		    p->n_cells > v->n_cells - p->first)
			return NUDGE_EINVAL;
		for (uint32_t k = 0; k < p->n_cells; k++)
			if (v->cells[p->first + k].cell >= WIRE_HEAT_CELLS)
				return NUDGE_ERANGE;
	}
	return 0;
}

static void
heat_pack_page(msgpack_packer *pk, const struct wire_heat *v,
    const struct wire_heat_page *p)
{
	const struct wire_heat_cell *c = &v->cells[p->first];
	uint32_t nc = 0, nb = 0;

	for (uint32_t k = 0; k < p->n_cells; k++)
		nc += c[k].n != 0;
	for (unsigned b = 0; b < WIRE_HEAT_BANDS; b++)
		nb += p->reach[b] != 0;
	msgpack_pack_map(pk, 3);
	pack_key(pk, "p");
	wire_pack_strv(pk, p->page);
	pack_key(pk, "c");
	msgpack_pack_array(pk, nc);
	for (uint32_t k = 0; k < p->n_cells; k++) {
		if (c[k].n == 0)
			continue;
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint16(pk, c[k].cell);
		msgpack_pack_uint32(pk, c[k].n);
	}
	pack_key(pk, "s");
	msgpack_pack_array(pk, nb);
	for (unsigned b = 0; b < WIRE_HEAT_BANDS; b++) {
		if (p->reach[b] == 0)
			continue;
		msgpack_pack_array(pk, 2);
		msgpack_pack_uint8(pk, (uint8_t)b);
		msgpack_pack_uint32(pk, p->reach[b]);
	}
}

/* ---- writing whole messages -------------------------------------------- */

/* An sbuffer writer that remembers a failed write (the packers don't). */
struct sb_writer {
	msgpack_sbuffer *sb;
	bool failed;
};

static int
sb_write(void *data, const char *buf, size_t len)
{
	struct sb_writer *w = data;

	if (w->failed || msgpack_sbuffer_write(w->sb, buf, len) != 0) {
		w->failed = true;
		return -1;
	}
	return 0;
}

static void
writer_begin(struct sb_writer *w, msgpack_packer *pk, msgpack_sbuffer *sb,
    const struct wire_header *h, int kind)
{
	msgpack_sbuffer_clear(sb);
	w->sb = sb;
	w->failed = false;
	msgpack_packer_init(pk, w, sb_write);
	msgpack_pack_array(pk, 6);
	msgpack_pack_uint8(pk, WIRE_VERSION);
	msgpack_pack_uint8(pk, (uint8_t)kind);
	msgpack_pack_str_with_body(pk, h->agent,
	    strnlen(h->agent, WIRE_AGENT_MAX));
	msgpack_pack_uint64(pk, h->seq);
	msgpack_pack_uint64(pk, h->ts_ms);
}

static int
writer_end(struct sb_writer *w)
{
	return w->failed ? NUDGE_ENOMEM : 0;
}

int
wire_write_snapshot(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct wire_snapshot *s)
{
	struct sb_writer w;
	msgpack_packer pk;

	writer_begin(&w, &pk, sb, h, WIRE_SNAPSHOT);
	wire_pack_snapshot(&pk, s);
	return writer_end(&w);
}

int
wire_write_delta(msgpack_sbuffer *sb, const struct wire_header *h,
    uint64_t boot_id, const struct agg *delta)
{
	struct sb_writer w;
	msgpack_packer pk;

	writer_begin(&w, &pk, sb, h, WIRE_DELTA);
	msgpack_pack_map(&pk, 2);
	pack_key(&pk, "boot");
	msgpack_pack_uint64(&pk, boot_id);
	pack_key(&pk, "agg");
	wire_pack_agg(&pk, delta, true, false);
	return writer_end(&w);
}

int
wire_write_sessions(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct session_summary *v, size_t n)
{
	struct sb_writer w;
	msgpack_packer pk;

	writer_begin(&w, &pk, sb, h, WIRE_SESSION);
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		wire_pack_session(&pk, &v[i]);
	return writer_end(&w);
}

int
wire_write_events(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct nudge_event *v, size_t n)
{
	struct sb_writer w;
	msgpack_packer pk;

	writer_begin(&w, &pk, sb, h, WIRE_EVENT);
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		wire_pack_event(&pk, &v[i]);
	return writer_end(&w);
}

int
wire_write_heat(msgpack_sbuffer *sb, const struct wire_header *h,
    const struct wire_heat *v)
{
	struct sb_writer w;
	msgpack_packer pk;
	int rc;

	if ((rc = heat_check(v)) != 0)
		return rc;
	writer_begin(&w, &pk, sb, h, WIRE_HEAT);
	msgpack_pack_array(&pk, v->n_pages);
	for (uint32_t i = 0; i < v->n_pages; i++)
		heat_pack_page(&pk, v, &v->pages[i]);
	return writer_end(&w);
}
