/*
 * evdec.c - decodes emit batches straight from the msgpack bytes (evdec.h).
 *
 * The bytes are prechecked by wire_precheck() before the cursor is made,
 * so every count and length is already bounded by the buffer and the
 * limits; the readers below still check every read against the end, so a
 * cursor can never leave its buffer.  Field semantics (key names, types,
 * ranges, duplicate keys, the error messages) follow wire.c's
 * event_fields table and wire_unpack_event() one for one: keep them in
 * step (tests/test_evdec.c compares the two on random and mutated input).
 * Pure; any thread.
 */
#include "evdec.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* msgpack value classes, as msgpack-c's object types see them. */
enum vkind {
	VK_NIL, VK_BOOL, VK_UINT, VK_NINT, VK_FLOAT, VK_STR, VK_BIN, VK_EXT,
	VK_ARRAY, VK_MAP
};

struct val {
	uint8_t kind;
	uint32_t len;		/* str/bin/ext bytes; array/map count */
	uint64_t u;		/* VK_UINT */
	int64_t i;		/* VK_NINT */
	const char *s;		/* str/bin bytes */
};

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t x = 0;

	for (unsigned k = 0; k < n; k++)
		x = x << 8 | p[k];
	return x;
}

/* Reads n bytes of payload; false past the end. */
static bool
take(struct evdec *c, uint64_t n, const uint8_t **at)
{
	if (n > (uint64_t)(c->end - c->p))
		return false;
	*at = c->p;
	c->p += n;
	return true;
}

static bool
rd_num(struct evdec *c, unsigned n, uint64_t *x)
{
	const uint8_t *at;

	if (!take(c, n, &at))
		return false;
	*x = be(at, n);
	return true;
}

/* Signed big-endian of n bytes, as msgpack-c types it (>= 0: positive). */
static bool
rd_int(struct evdec *c, unsigned n, struct val *v)
{
	uint64_t x;
	int64_t i;

	if (!rd_num(c, n, &x))
		return false;
	if (n < 8 && (x >> (8 * n - 1)) != 0)
		x |= ~0ULL << (8 * n);		/* sign-extend */
	i = (int64_t)x;
	if (i >= 0) {
		v->kind = VK_UINT;
		v->u = (uint64_t)i;
	} else {
		v->kind = VK_NINT;
		v->i = i;
	}
	return true;
}

static bool
rd_bytes(struct evdec *c, uint8_t kind, uint64_t n, struct val *v)
{
	const uint8_t *at;

	if (!take(c, n, &at))
		return false;
	v->kind = kind;
	v->len = (uint32_t)n;
	v->s = (const char *)at;
	return true;
}

/* Type bytes 0xc0..0xdf that carry a length or count of w bytes. */
static bool
rd_sized(struct evdec *c, uint8_t b, struct val *v)
{
	static const uint8_t width[32] = {
		[0x04] = 1, [0x05] = 2, [0x06] = 4,	/* bin */
		[0x07] = 1, [0x08] = 2, [0x09] = 4,	/* ext */
		[0x19] = 1, [0x1a] = 2, [0x1b] = 4,	/* str */
		[0x1c] = 2, [0x1d] = 4,			/* array */
		[0x1e] = 2, [0x1f] = 4,			/* map */
	};
	uint64_t n;
	const uint8_t *at;

	if (width[b - 0xc0] == 0 || !rd_num(c, width[b - 0xc0], &n))
		return false;
	if (b <= 0xc6)
		return rd_bytes(c, VK_BIN, n, v);
	if (b <= 0xc9) {
		if (!take(c, 1, &at))		/* the ext type byte */
			return false;
		return rd_bytes(c, VK_EXT, n, v);
	}
	if (b <= 0xdb)
		return rd_bytes(c, VK_STR, n, v);
	v->kind = b <= 0xdd ? VK_ARRAY : VK_MAP;
	v->len = (uint32_t)n;
	return true;
}

/* 0xc0..0xdf: nil, bools, numbers, and the sized types above. */
static bool
rd_typed(struct evdec *c, uint8_t b, struct val *v)
{
	const uint8_t *at;
	uint64_t x;

	switch (b) {
	case 0xc0: v->kind = VK_NIL; return true;
	case 0xc2: case 0xc3: v->kind = VK_BOOL; return true;
	case 0xca: v->kind = VK_FLOAT; return take(c, 4, &at);
	case 0xcb: v->kind = VK_FLOAT; return take(c, 8, &at);
	case 0xcc: case 0xcd: case 0xce: case 0xcf:
		if (!rd_num(c, 1u << (b - 0xcc), &x))
			return false;
		v->kind = VK_UINT;
		v->u = x;
		return true;
	case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return rd_int(c, 1u << (b - 0xd0), v);
	case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
		/* fixext 1..16: type byte and payload */
		if (!take(c, 1, &at))
			return false;
		return rd_bytes(c, VK_EXT, 1u << (b - 0xd4), v);
	case 0xc1:
		return false;
	default:
		return rd_sized(c, b, v);
	}
}

/*
 * Reads one value's header: scalars, str, bin and ext whole; arrays and
 * maps leave the cursor on their first element.  False on a malformed or
 * truncated value (not after a precheck).  Inlined: it runs for every key
 * and value (-15% per event in bench/evdec).
 */
static inline __attribute__((always_inline)) bool
rd_val(struct evdec *c, struct val *v)
{
	uint8_t b;

	if (c->p >= c->end)
		return false;
	b = *c->p++;
	if (b <= 0x7f) {
		v->kind = VK_UINT;
		v->u = b;
		return true;
	}
	if (b >= 0xe0) {
		v->kind = VK_NINT;
		v->i = (int8_t)b;
		return true;
	}
	if (b <= 0x9f) {
		v->kind = b <= 0x8f ? VK_MAP : VK_ARRAY;
		v->len = b & 0x0f;
		return true;
	}
	if (b <= 0xbf)
		return rd_bytes(c, VK_STR, b & 0x1f, v);
	return rd_typed(c, b, v);
}

/* Moves past one whole value, containers included (no recursion). */
static bool
skip_val(struct evdec *c)
{
	uint64_t pending = 1;
	struct val v;

	while (pending > 0) {
		if (!rd_val(c, &v))
			return false;
		pending--;
		if (v.kind == VK_ARRAY)
			pending += v.len;
		else if (v.kind == VK_MAP)
			pending += 2 * (uint64_t)v.len;
	}
	return true;
}

/* ---- the event map ----------------------------------------------------- */

/* The keys of wire.c's event_fields, "t" and "f". */
enum fid {
	F_NONE, F_N, F_VID, F_TS, F_P, F_R, F_US, F_UM, F_UC, F_TG, F_SKU,
	F_CC, F_DV, F_VAL, F_Q, F_X, F_Y, F_SD, F_T, F_F
};

static const char *const fkey[] = {
	[F_N] = "n", [F_VID] = "vid", [F_TS] = "ts", [F_P] = "p",
	[F_R] = "r", [F_US] = "us", [F_UM] = "um", [F_UC] = "uc",
	[F_TG] = "tg", [F_SKU] = "sku", [F_CC] = "cc", [F_DV] = "dv",
	[F_VAL] = "val", [F_Q] = "q", [F_X] = "x", [F_Y] = "y",
	[F_SD] = "sd",
};

static enum fid
key_id(const char *k, uint32_t n)
{
	if (n == 1) {
		switch (k[0]) {
		case 'n': return F_N;
		case 'p': return F_P;
		case 'r': return F_R;
		case 'q': return F_Q;
		case 'x': return F_X;
		case 'y': return F_Y;
		case 't': return F_T;
		case 'f': return F_F;
		default: return F_NONE;
		}
	}
	if (n == 2) {
		static const struct { char k[2]; uint8_t id; } two[] = {
			{"ts", F_TS}, {"us", F_US}, {"um", F_UM}, {"uc", F_UC},
			{"tg", F_TG}, {"cc", F_CC}, {"dv", F_DV}, {"sd", F_SD},
		};
		for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
			if (k[0] == two[i].k[0] && k[1] == two[i].k[1])
				return (enum fid)two[i].id;
		return F_NONE;
	}
	if (n == 3) {
		if (memcmp(k, "vid", 3) == 0)
			return F_VID;
		if (memcmp(k, "sku", 3) == 0)
			return F_SKU;
		if (memcmp(k, "val", 3) == 0)
			return F_VAL;
	}
	return F_NONE;
}

static struct nudge_strv
strv_at(const struct val *v)
{
	return (struct nudge_strv){v->len ? v->s : "", v->len};
}

/* A str field of at most max bytes (wire.c FK_STRV). */
static int
put_strv(const struct val *v, struct nudge_strv *dst, uint32_t max)
{
	if (v->kind != VK_STR)
		return NUDGE_ETYPE;
	if (v->len > max)
		return NUDGE_ETOOBIG;
	*dst = strv_at(v);
	return 0;
}

/* An unsigned field up to lim (FK_U64 / FK_U32 / FK_U16). */
static int
put_uint(const struct val *v, uint64_t lim, uint64_t *out)
{
	if (v->kind != VK_UINT)
		return NUDGE_ETYPE;
	if (v->u > lim)
		return NUDGE_ERANGE;
	*out = v->u;
	return 0;
}

static int
put_scalar(enum fid f, const struct val *v, struct nudge_event *e)
{
	uint64_t u = 0;
	int rc;

	switch (f) {
	case F_TS:
		if ((rc = put_uint(v, UINT64_MAX, &u)) == 0)
			e->ts_ms = u;
		return rc;
	case F_Q:
		if ((rc = put_uint(v, UINT32_MAX, &u)) == 0)
			e->quantity = (uint32_t)u;
		return rc;
	case F_X: case F_Y: case F_SD:
		if ((rc = put_uint(v, UINT16_MAX, &u)) != 0)
			return rc;
		*(f == F_X ? &e->x_permille : f == F_Y ? &e->y_permille :
		    &e->scroll_permille) = (uint16_t)u;
		return 0;
	case F_VAL:
		if (v->kind == VK_NINT) {
			e->value_cents = v->i;
			return 0;
		}
		if (v->kind != VK_UINT)
			return NUDGE_ETYPE;
		if (v->u > INT64_MAX)
			return NUDGE_ERANGE;
		e->value_cents = (int64_t)v->u;
		return 0;
	case F_CC:
		if (v->kind != VK_STR)
			return NUDGE_ETYPE;
		if (v->len >= sizeof(e->country))
			return NUDGE_ETOOBIG;
		memcpy(e->country, v->s, v->len);
		e->country[v->len] = '\0';
		return 0;
	default:		/* F_DV */
		if (v->kind != VK_STR)
			return NUDGE_ETYPE;
		e->device = (uint8_t)event_device_from_name(strv_at(v));
		return 0;
	}
}

static int
put_field(enum fid f, const struct val *v, struct nudge_event *e)
{
	switch (f) {
	case F_N: return put_strv(v, &e->name, EVENT_NAME_MAX);
	case F_VID: return put_strv(v, &e->visitor, EVENT_VISITOR_MAX);
	case F_P: return put_strv(v, &e->page, EVENT_PAGE_MAX);
	case F_R: return put_strv(v, &e->referrer, EVENT_TEXT_MAX);
	case F_US: return put_strv(v, &e->utm_source, EVENT_TEXT_MAX);
	case F_UM: return put_strv(v, &e->utm_medium, EVENT_TEXT_MAX);
	case F_UC: return put_strv(v, &e->utm_campaign, EVENT_TEXT_MAX);
	case F_TG: return put_strv(v, &e->target, EVENT_TEXT_MAX);
	case F_SKU: return put_strv(v, &e->sku, EVENT_TEXT_MAX);
	default: return put_scalar(f, v, e);
	}
}

/* The type from "t" (wire.c's event_type_field and the custom rule). */
static int
put_type(struct evdec *c, struct nudge_event *e, struct nudge_diag *d)
{
	struct val v;
	int x;

	if (!rd_val(c, &v))
		return NUDGE_ETRUNC;
	if (v.kind != VK_STR) {
		nudge_diag_set(d, 0, 0, "t: %s", nudge_strerror(NUDGE_ETYPE));
		return NUDGE_ETYPE;
	}
	if ((x = event_type_from_name(strv_at(&v))) < 0) {
		nudge_diag_set(d, 0, 0, "t: %s", nudge_strerror(NUDGE_EINVAL));
		return NUDGE_EINVAL;
	}
	e->type = (uint8_t)x;
	/* {t: "wishlist"} is short for {t: "custom", n: "wishlist"}. */
	if (x == EVENT_CUSTOM && e->name.len == 0 &&
	    !strv_eq((struct nudge_strv){v.s, v.len}, "custom"))
		e->name = strv_at(&v);
	return 0;
}

/* "f": nil, or a map of at most EVENT_FIELDS_MAX str -> str pairs. */
static int
put_extra(struct evdec *c, struct nudge_event *e, struct nudge_diag *d)
{
	struct val m, k, v;

	if (!rd_val(c, &m))
		return NUDGE_ETRUNC;
	if (m.kind == VK_NIL)
		return 0;
	if (m.kind != VK_MAP) {
		nudge_diag_set(d, 0, 0, "f: not a map");
		return NUDGE_ETYPE;
	}
	if (m.len > EVENT_FIELDS_MAX) {
		nudge_diag_set(d, 0, 0, "f: %u pairs, at most %d",
		    (unsigned)m.len, EVENT_FIELDS_MAX);
		return NUDGE_ETOOBIG;
	}
	for (uint32_t i = 0; i < m.len; i++) {
		if (!rd_val(c, &k))
			return NUDGE_ETRUNC;
		if (k.kind != VK_STR || !rd_val(c, &v) || v.kind != VK_STR) {
			nudge_diag_set(d, 0, 0, "f: keys and values are str");
			return NUDGE_ETYPE;
		}
		if (k.len > EVENT_TEXT_MAX || v.len > EVENT_TEXT_MAX) {
			nudge_diag_set(d, 0, 0, "f: %u-byte field, at most %d",
			    (unsigned)(k.len > v.len ? k.len : v.len),
			    EVENT_TEXT_MAX);
			return NUDGE_ETOOBIG;
		}
		e->fields[i].key = strv_at(&k);
		e->fields[i].val = strv_at(&v);
	}
	e->n_fields = (uint8_t)m.len;
	return 0;
}

/*
 * The map's pairs in order (wire.c fields_unpack): known keys stored,
 * others skipped; the first "t" and "f" remembered for afterwards.
 */
static int
ev_pairs(struct evdec *c, uint32_t n, struct nudge_event *e,
    const uint8_t **t_at, const uint8_t **f_at, struct nudge_diag *d)
{
	struct val k, v;
	enum fid f;
	int rc;

	for (uint32_t i = 0; i < n; i++) {
		if (!rd_val(c, &k))
			return NUDGE_ETRUNC;
		if (k.kind != VK_STR) {
			nudge_diag_set(d, 0, 0, "map key %u is not a string",
			    (unsigned)i);
			return NUDGE_ETYPE;
		}
		f = key_id(k.s, k.len);
		if (f == F_T && *t_at == NULL)
			*t_at = c->p;
		else if (f == F_F && *f_at == NULL)
			*f_at = c->p;
		if (f == F_NONE || f == F_T || f == F_F) {
			if (!skip_val(c))
				return NUDGE_ETRUNC;
			continue;
		}
		if (!rd_val(c, &v))
			return NUDGE_ETRUNC;
		if ((rc = put_field(f, &v, e)) != 0) {
			nudge_diag_set(d, 0, 0, "%s: %s", fkey[f],
			    nudge_strerror(rc));
			return rc;
		}
	}
	return 0;
}

static int
ev_decode(struct evdec *c, struct nudge_event *out, struct nudge_diag *d)
{
	const uint8_t *t_at = NULL, *f_at = NULL, *after;
	struct nudge_event tmp;
	struct val m;
	int rc;

	if (!rd_val(c, &m))
		return NUDGE_ETRUNC;
	if (m.kind != VK_MAP) {
		nudge_diag_set(d, 0, 0, "expected a map");
		return NUDGE_ETYPE;
	}
	memset(&tmp, 0, offsetof(struct nudge_event, fields));
	if ((rc = ev_pairs(c, m.len, &tmp, &t_at, &f_at, d)) != 0)
		return rc;
	after = c->p;
	if (t_at == NULL) {
		nudge_diag_set(d, 0, 0, "t: missing");
		return NUDGE_EINVAL;
	}
	c->p = t_at;
	if ((rc = put_type(c, &tmp, d)) != 0)
		return rc;
	if (f_at != NULL) {
		c->p = f_at;
		if ((rc = put_extra(c, &tmp, d)) != 0)
			return rc;
	}
	c->p = after;
	/* fields past n_fields are never read: copy the used part only */
	memcpy(out, &tmp, offsetof(struct nudge_event, fields) +
	    tmp.n_fields * sizeof(tmp.fields[0]));
	return 0;
}

int
evdec_next(struct evdec *c, struct nudge_event *ev, struct nudge_diag *d)
{
	const uint8_t *start = c->p;
	int rc;

	if (c->left == 0)
		return NUDGE_ENOTFOUND;
	c->left--;
	if ((rc = ev_decode(c, ev, d)) == 0)
		return 0;
	if (rc == NUDGE_ETRUNC)
		nudge_diag_set(d, 0, 0, "msgpack: truncated event");
	c->p = start;
	if (!skip_val(c)) {		/* not after a precheck: stop there */
		c->p = c->end;
		c->left = 0;
	}
	return rc;
}

/* ---- opening ----------------------------------------------------------- */

static bool
is_str(const struct val *v, const char *s, uint32_t n)
{
	return v->kind == VK_STR && v->len == n && memcmp(v->s, s, n) == 0;
}

/*
 * args: a map whose first "ev" key holds a small enough array.  Leaves c
 * on the first event, with the pairs after ev counted in ev->tail.
 */
static bool
open_args(struct evdec *c, struct evdec *ev)
{
	struct val m, k, v;
	const uint8_t *key;

	if (!rd_val(c, &m) || m.kind != VK_MAP)
		return false;
	for (uint32_t i = 0; i < m.len; i++) {
		key = c->p;
		if (!rd_val(c, &k))
			return false;
		if (!is_str(&k, "ev", 2)) {
			c->p = key;		/* any key, containers too */
			if (!skip_val(c) || !skip_val(c))
				return false;
			continue;
		}
		if (!rd_val(c, &v) || v.kind != VK_ARRAY ||
		    v.len > WIRE_EMIT_MAX)
			return false;
		ev->p = c->p;
		ev->n = ev->left = v.len;
		ev->tail = m.len - i - 1;
		return true;
	}
	return false;
}

/* auth: nil or [key_id str 1..63, mac bin 32] (wire.c request_auth). */
static bool
open_auth(struct evdec *c)
{
	struct val a, k, m;

	if (!rd_val(c, &a))
		return false;
	if (a.kind == VK_NIL)
		return true;
	return a.kind == VK_ARRAY && a.len == 2 && rd_val(c, &k) &&
	    k.kind == VK_STR && k.len >= 1 && k.len <= 63 && rd_val(c, &m) &&
	    m.kind == VK_BIN && m.len == WIRE_MAC_LEN;
}

int
evdec_emit_open(struct evdec *out, const void *buf, size_t len,
    const struct wire_limits *lim)
{
	struct evdec c = {buf, (const uint8_t *)buf + len, 0, 0, 0, false};
	struct evdec ev = {0};
	struct val v;

	if (wire_precheck(buf, len, lim, NULL) != 0)
		return NUDGE_EINVAL;
	if (!rd_val(&c, &v) || v.kind != VK_ARRAY || v.len != 6 ||
	    !rd_val(&c, &v) || v.kind != VK_UINT || v.u != WIRE_VERSION ||
	    !rd_val(&c, &v) || !is_str(&v, "emit", 4) ||
	    !rd_val(&c, &v) || v.kind != VK_BIN || v.len != WIRE_ID_LEN ||
	    !rd_val(&c, &v) || v.kind != VK_UINT || !open_args(&c, &ev))
		return NUDGE_EINVAL;
	ev.end = c.end;
	ev.emit = true;
	*out = ev;
	return 0;
}

int
evdec_emit_close(struct evdec *c)
{
	if (!c->emit || c->left != 0)
		return NUDGE_EINVAL;
	/* the pairs of args after ev, then auth, then nothing */
	for (uint32_t i = 0; i < c->tail; i++)
		if (!skip_val(c) || !skip_val(c))
			return NUDGE_EINVAL;
	if (!open_auth(c) || c->p != c->end)
		return NUDGE_EINVAL;
	c->emit = false;
	return 0;
}

int
evdec_array_open(struct evdec *out, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d)
{
	struct evdec c = {buf, (const uint8_t *)buf + len, 0, 0, 0, false};
	struct val v;
	int rc;

	if ((rc = wire_precheck(buf, len, lim, d)) != 0)
		return rc;
	if (!rd_val(&c, &v) || v.kind != VK_ARRAY) {
		nudge_diag_set(d, 0, 1, "expected an array");
		return NUDGE_ETYPE;
	}
	c.n = c.left = v.len;
	*out = c;
	return 0;
}
