/*
 * beacon.c - the tag's JSON batch -> struct nudge_event, strictly, in one
 * pass over the body with agent/jscan.h and no allocation.
 *
 * Owns nothing between calls: a decoded batch borrows its strings from the
 * body or from its own scratch buffer.  Pure; any thread (the HTTP
 * server's workers call it).  The body size is bounded before a byte is
 * read, events past the limit are only counted, every string is checked
 * against its EVENT_*_MAX before it is kept.
 *
 * The refusals are those of the jansson decoder this replaced (kept as
 * tests/beacon_ref.c): a problem of shape (unknown key, wrong type, bad
 * value) is recorded and the scan goes on, because a syntax error later in
 * the body must still win, as it did when the whole tree was parsed first.
 * The verdict is given once the body has been scanned (verdict()).
 */
#include "beacon.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "jscan.h"

#define BEACON_TS_SKEW_MS (10u * 60u * 1000u)

/* The decoding of one body. */
struct bdec {
	struct jscan js;
	struct beacon *b;
	unsigned keep;		/* events that fit: min(limit, ev[]) */
	unsigned count;		/* elements of "events" */
	unsigned env_seen;	/* envelope keys seen (bits of envkeys[]) */
	bool root_obj;
	bool events_ok;		/* "events" is an array */
	bool head_bad;		/* unknown envelope key, wrong type */
	size_t head_off;	/* where the envelope went wrong first */
	bool visitor_ok;	/* "visitor" is a string of 1..MAX bytes */
	bool consent, webdriver;
	struct nudge_strv visitor;
	int ev_bad;		/* first event refused while scanning, or -1 */
	size_t ev_off;
	char ev_msg[96];
	/* an event's own "visitor", checked once the batch's is known */
	bool claimed[BEACON_MAX_EVENTS];
	struct nudge_strv claim[BEACON_MAX_EVENTS];
	size_t ev_at[BEACON_MAX_EVENTS];	/* where each event starts */
};

struct bkey;
typedef int (*bkey_scalar_fn)(struct bdec *, unsigned,
    const struct bkey *, const struct jscan_val *);
typedef int (*bkey_object_fn)(struct bdec *, unsigned);

/* An event key: its handler for a scalar, or for an object value. */
struct bkey {
	const char *name;
	bkey_scalar_fn scalar;
	bkey_object_fn object;
	uint16_t max;	/* strings: longest accepted */
	size_t off;
};

/* Records the first refused event (lowest index: events come in order). */
static void
ev_refuse(struct bdec *d, unsigned i, size_t off, struct nudge_strv key,
    const char *why)
{
	if (d->ev_bad >= 0)
		return;
	d->ev_bad = (int)i;
	d->ev_off = off;
	if (key.ptr != NULL)
		snprintf(d->ev_msg, sizeof(d->ev_msg), "events[%u].%.*s: %s",
		    i, (int)(key.len > 32 ? 32 : key.len), key.ptr, why);
	else
		snprintf(d->ev_msg, sizeof(d->ev_msg), "events[%u]: %s", i,
		    why);
}

static int
set_str(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	if (v->kind != JK_STRING || v->s.len > k->max)
		return -1;
	*(struct nudge_strv *)((char *)&d->b->ev[i] + k->off) = v->s;
	return 0;
}

static int
set_type(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	struct nudge_event *ev = &d->b->ev[i];
	int t;

	(void)k;
	if (v->kind != JK_STRING || (t = event_type_from_name(v->s)) < 0)
		return -1;
	ev->type = (uint8_t)t;
	if (t == EVENT_CUSTOM)
		ev->name = v->s;
	return 0;
}

/* The batch's visitor may come after the events: compared in verdict(). */
static int
set_visitor(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	(void)k;
	if (v->kind != JK_STRING)
		return -1;
	d->claimed[i] = true;
	d->claim[i] = v->s;
	return 0;
}

static int
set_money(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	struct nudge_event *ev = &d->b->ev[i];
	char buf[32];

	(void)k;
	if (v->kind == JK_STRING) {
		if (v->s.len >= sizeof(buf))
			return -1;
		memcpy(buf, v->s.ptr, v->s.len);
		buf[v->s.len] = '\0';
		return event_parse_money(buf, &ev->value_cents) == 0 ? 0 : -1;
	}
	if (v->kind != JK_INT && v->kind != JK_REAL)
		return -1;
	if (!(v->d >= 0 && v->d * 100.0 <= (double)EVENT_VALUE_MAX_CENTS))
		return -1;
	ev->value_cents = (int64_t)llround(v->d * 100.0);
	return 0;
}

static int
set_frac(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	if ((v->kind != JK_INT && v->kind != JK_REAL) ||
	    !(v->d >= 0.0 && v->d <= 1.0))
		return -1;
	*(uint16_t *)((char *)&d->b->ev[i] + k->off) =
	    (uint16_t)lround(v->d * 1000.0);
	return 0;
}

static int
set_qty(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	(void)k;
	if (v->kind != JK_INT || v->i < 0 || v->i > 1000000)
		return -1;
	d->b->ev[i].quantity = (uint32_t)v->i;
	return 0;
}

static int
set_ts(struct bdec *d, unsigned i, const struct bkey *k,
    const struct jscan_val *v)
{
	(void)k;
	if (v->kind != JK_INT || v->i < 0)
		return -1;
	d->b->ev[i].ts_ms = (uint64_t)v->i;
	return 0;
}

static int decode_fields(struct bdec *d, unsigned i);

#define EV_OFF(f) offsetof(struct nudge_event, f)

static const struct bkey bkeys[] = {
	{"type", set_type, NULL, EVENT_NAME_MAX, 0},
	{"visitor", set_visitor, NULL, EVENT_VISITOR_MAX, 0},
	{"page", set_str, NULL, EVENT_PAGE_MAX, EV_OFF(page)},
	{"referrer", set_str, NULL, EVENT_TEXT_MAX, EV_OFF(referrer)},
	{"utm_source", set_str, NULL, EVENT_TEXT_MAX, EV_OFF(utm_source)},
	{"utm_medium", set_str, NULL, EVENT_TEXT_MAX, EV_OFF(utm_medium)},
	{"utm_campaign", set_str, NULL, EVENT_TEXT_MAX,
	    EV_OFF(utm_campaign)},
	{"target", set_str, NULL, EVENT_TEXT_MAX, EV_OFF(target)},
	{"sku", set_str, NULL, EVENT_TEXT_MAX, EV_OFF(sku)},
	{"value", set_money, NULL, 0, 0},
	{"quantity", set_qty, NULL, 0, 0},
	{"x", set_frac, NULL, 0, EV_OFF(x_permille)},
	{"y", set_frac, NULL, 0, EV_OFF(y_permille)},
	{"scroll", set_frac, NULL, 0, EV_OFF(scroll_permille)},
	{"ts", set_ts, NULL, 0, 0},
	{"fields", NULL, decode_fields, 0, 0},
};
#define BKEY_TYPE 0u	/* index of "type" in bkeys[] */

/*
 * A table index for a key, -1 if it is not one of the table's.  Both key
 * tables (bkeys[], envkeys[]) start each entry with its name: names points
 * at the first one and stride steps from entry to entry.
 */
static int
key_find(const char *const *names, size_t stride, size_t n,
    struct nudge_strv k)
{
	if (k.len == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const char *name = *(const char *const *)((const char *)names +
		    i * stride);
		/* the first byte settles most keys without a call */
		if (name[0] == k.ptr[0] && strncmp(name, k.ptr, k.len) == 0 &&
		    name[k.len] == '\0')
			return (int)i;
	}
	return -1;
}

/*
 * Reads "key": and finds it in the table (*idx, -1 if unknown).  The
 * key's scratch is given back: *k is valid only until the next string.
 */
static int
read_key(struct jscan *js, const void *table, size_t stride, size_t n,
    int *idx, struct nudge_strv *k)
{
	size_t m = jscan_mark(js);

	if (jscan_string(js, k) != 0 ||
	    jscan_expect(js, ':', "want ':' after a key") != 0)
		return -1;
	*idx = key_find(table, stride, n, *k);
	jscan_release(js, m);
	return 0;
}

/* Skips a value that is refused: only its syntax still matters. */
static int
refuse_value(struct bdec *d, unsigned i, size_t off, struct nudge_strv key,
    const char *why)
{
	ev_refuse(d, i, off, key, why);
	return jscan_skip(&d->js);
}

/* One "fields" member; the first EVENT_FIELDS_MAX keys are kept. */
static int
decode_field(struct bdec *d, unsigned i)
{
	struct nudge_event *ev = &d->b->ev[i];
	struct nudge_strv k;
	struct jscan_val v;
	size_t at = jscan_peek(&d->js) < 0 ? d->js.len : d->js.pos;
	int c;

	if (jscan_string(&d->js, &k) != 0 ||
	    jscan_expect(&d->js, ':', "want ':' after a key") != 0)
		return -1;
	for (unsigned j = 0; j < ev->n_fields; j++)
		if (ev->fields[j].key.len == k.len &&
		    memcmp(ev->fields[j].key.ptr, k.ptr, k.len) == 0)
			return jscan_fail_at(&d->js, at, "duplicate key");
	c = jscan_peek(&d->js);
	at = d->js.pos;
	if (c == '{' || c == '[')
		return refuse_value(d, i, at, STRV_LIT("fields"),
		    "bad value");
	if (jscan_scalar(&d->js, &v) != 0)
		return -1;
	if (ev->n_fields == EVENT_FIELDS_MAX || v.kind != JK_STRING ||
	    k.len == 0 || k.len > EVENT_NAME_MAX || v.s.len > EVENT_TEXT_MAX) {
		ev_refuse(d, i, at, STRV_LIT("fields"), "bad value");
		return 0;
	}
	ev->fields[ev->n_fields].key = k;
	ev->fields[ev->n_fields].val = v.s;
	ev->n_fields++;
	return 0;
}

static int
decode_fields(struct bdec *d, unsigned i)
{
	int r;

	if (jscan_open(&d->js, '{') != 0)
		return -1;
	if (jscan_peek(&d->js) == '}')
		return jscan_more(&d->js, '}');
	do {
		if (decode_field(d, i) != 0)
			return -1;
	} while ((r = jscan_more(&d->js, '}')) == 1);
	return r;
}

/* One member of an event object: a key of bkeys[] and its value. */
static int
decode_member(struct bdec *d, unsigned i, uint32_t *seen)
{
	const struct bkey *k;
	struct nudge_strv name;
	struct jscan_val v;
	size_t at = jscan_peek(&d->js) < 0 ? d->js.len : d->js.pos;
	int idx, c;

	if (read_key(&d->js, &bkeys[0].name, sizeof(bkeys[0]),
	    sizeof(bkeys) / sizeof(bkeys[0]), &idx, &name) != 0)
		return -1;
	if (idx < 0)
		return refuse_value(d, i, at, name, "unknown key");
	if (*seen & 1u << idx)
		return jscan_fail_at(&d->js, at, "duplicate key");
	*seen |= 1u << idx;
	k = &bkeys[idx];
	c = jscan_peek(&d->js);
	at = d->js.pos;
	if (c == '{' && k->object != NULL)
		return k->object(d, i);
	/* the key's scratch is gone: a refusal names it from the table */
	if (c == '{' || c == '[' || k->scalar == NULL)
		return refuse_value(d, i, at, strv_of(k->name), "bad value");
	if (jscan_scalar(&d->js, &v) != 0)
		return -1;
	if (k->scalar(d, i, k, &v) != 0)
		ev_refuse(d, i, at, strv_of(k->name), "bad value");
	return 0;
}

static int
decode_event(struct bdec *d, unsigned i)
{
	uint32_t seen = 0;
	int r;

	event_init(&d->b->ev[i]);
	d->ev_at[i] = jscan_peek(&d->js) < 0 ? d->js.len : d->js.pos;
	if (jscan_open(&d->js, '{') != 0)
		return -1;
	if (jscan_peek(&d->js) == '}') {
		r = jscan_more(&d->js, '}');
	} else {
		do {
			if (decode_member(d, i, &seen) != 0)
				return -1;
		} while ((r = jscan_more(&d->js, '}')) == 1);
	}
	if (r == 0 && !(seen & 1u << BKEY_TYPE))
		ev_refuse(d, i, d->ev_at[i], (struct nudge_strv){NULL, 0},
		    "want an object with a type");
	return r;
}

/* "events": decoded up to the limit, counted (and only checked) after. */
static int
env_events(struct bdec *d)
{
	int r;

	if (jscan_peek(&d->js) != '[')
		return jscan_skip(&d->js);
	d->events_ok = true;
	if (jscan_open(&d->js, '[') != 0)
		return -1;
	if (jscan_peek(&d->js) == ']')
		return jscan_more(&d->js, ']');
	do {
		unsigned i = d->count++;
		if (i < d->keep && jscan_peek(&d->js) == '{')
			r = decode_event(d, i);
		else if (i < d->keep)
			r = refuse_value(d, i, d->js.pos,
			    (struct nudge_strv){NULL, 0},
			    "want an object with a type");
		else
			r = jscan_skip(&d->js);
		if (r != 0)
			return -1;
	} while ((r = jscan_more(&d->js, ']')) == 1);
	return r;
}

static void
head_refuse(struct bdec *d)
{
	if (!d->head_bad)
		d->head_off = d->js.pos;
	d->head_bad = true;
}

/* A scalar envelope value; *v is read, a container is skipped (bad). */
static int
env_scalar(struct bdec *d, struct jscan_val *v, bool *ok)
{
	int c = jscan_peek(&d->js);

	*ok = c != '{' && c != '[';
	if (!*ok) {
		head_refuse(d);
		return jscan_skip(&d->js);
	}
	return jscan_scalar(&d->js, v);
}

static int
env_visitor(struct bdec *d)
{
	struct jscan_val v;
	bool ok;

	if (env_scalar(d, &v, &ok) != 0)
		return -1;
	if (ok && v.kind == JK_STRING && v.s.len > 0 &&
	    v.s.len <= EVENT_VISITOR_MAX) {
		d->visitor = v.s;
		d->visitor_ok = true;
	} else {
		head_refuse(d);
	}
	return 0;
}

static int
env_flag(struct bdec *d, bool *flag)
{
	struct jscan_val v;
	bool ok;

	if (env_scalar(d, &v, &ok) != 0)
		return -1;
	if (ok && (v.kind == JK_TRUE || v.kind == JK_FALSE))
		*flag = v.kind == JK_TRUE;
	else
		head_refuse(d);
	return 0;
}

static int
env_consent(struct bdec *d)
{
	return env_flag(d, &d->consent);
}

static int
env_wd(struct bdec *d)
{
	return env_flag(d, &d->webdriver);
}

struct envkey {
	const char *name;
	int (*fn)(struct bdec *);
};

static const struct envkey envkeys[] = {
	{"visitor", env_visitor},
	{"events", env_events},
	{"consent", env_consent},
	{"wd", env_wd},
};

static int
decode_envelope(struct bdec *d)
{
	struct nudge_strv name;
	int idx, r;

	if (jscan_open(&d->js, '{') != 0)
		return -1;
	if (jscan_peek(&d->js) == '}')
		return jscan_more(&d->js, '}');
	do {
		size_t at = jscan_peek(&d->js) < 0 ? d->js.len : d->js.pos;
		if (read_key(&d->js, &envkeys[0].name, sizeof(envkeys[0]),
		    sizeof(envkeys) / sizeof(envkeys[0]), &idx, &name) != 0)
			return -1;
		if (idx >= 0 && (d->env_seen & 1u << idx))
			return jscan_fail_at(&d->js, at, "duplicate key");
		if (idx >= 0) {
			d->env_seen |= 1u << idx;
			r = envkeys[idx].fn(d);
		} else {
			head_refuse(d);
			r = jscan_skip(&d->js);
		}
		if (r != 0)
			return -1;
	} while ((r = jscan_more(&d->js, '}')) == 1);
	return r;
}

/* An event once the batch's visitor is known: visitor, clock, checks. */
static int
finish_event(struct bdec *d, unsigned i, uint64_t now, struct nudge_diag *g)
{
	struct nudge_event *ev = &d->b->ev[i];
	struct nudge_diag vd = {0};

	if (d->claimed[i] && (d->claim[i].len != d->visitor.len ||
	    memcmp(d->claim[i].ptr, d->visitor.ptr, d->visitor.len) != 0)) {
		nudge_diag_set(g, 0, (int)d->ev_at[i] + 1,
		    "events[%u].visitor: bad value (byte %zu)", i,
		    d->ev_at[i]);
		return NUDGE_EINVAL;
	}
	ev->visitor = d->visitor;
	if (ev->ts_ms != 0 && (ev->ts_ms + BEACON_TS_SKEW_MS < now ||
	    ev->ts_ms > now + BEACON_TS_SKEW_MS))
		ev->ts_ms = 0;
	if (event_validate(ev, &vd) != 0) {
		nudge_diag_set(g, 0, (int)d->ev_at[i] + 1, "events[%u]: %s "
		    "(byte %zu)", i, vd.msg, d->ev_at[i]);
		return NUDGE_EINVAL;
	}
	return 0;
}

/* The reference's order: shape, count, envelope, then event by event. */
static int
verdict(struct bdec *d, const struct beacon_limits *lim, uint64_t now,
    unsigned *n_seen, struct nudge_diag *g)
{
	int rv;

	if (!d->root_obj || !d->events_ok) {
		nudge_diag_set(g, 0, 1, "want {\"visitor\": ..., \"events\": "
		    "[...]}");
		return NUDGE_EINVAL;
	}
	if (n_seen != NULL)
		*n_seen = d->count > 100000 ? 100000 : d->count;
	if (d->count > lim->max_events || d->count > d->keep) {
		nudge_diag_set(g, 0, 1, "%u events, at most %u per batch",
		    d->count, lim->max_events);
		return NUDGE_ETOOBIG;
	}
	if (d->count == 0 || d->head_bad || !d->visitor_ok) {
		nudge_diag_set(g, 0, (int)d->head_off + 1,
		    "bad batch: visitor (1..%d chars), events (1..%u), "
		    "consent, wd only (byte %zu)", EVENT_VISITOR_MAX,
		    lim->max_events, d->head_off);
		return NUDGE_EINVAL;
	}
	for (unsigned i = 0; i < d->count; i++) {
		if ((int)i == d->ev_bad) {
			nudge_diag_set(g, 0, (int)d->ev_off + 1,
			    "%s (byte %zu)", d->ev_msg, d->ev_off);
			return NUDGE_EINVAL;
		}
		if ((rv = finish_event(d, i, now, g)) != 0)
			return rv;
	}
	return 0;
}

int
beacon_decode(struct beacon *b, const char *body, size_t len,
    const struct beacon_limits *lim, uint64_t now_wall_ms, unsigned *n_seen,
    struct nudge_diag *d)
{
	struct bdec x;
	int rv;

	if (n_seen != NULL)
		*n_seen = 0;
	if (len > lim->max_body || len > BEACON_MAX_BODY) {
		nudge_diag_set(d, 0, 0, "body over %zu bytes", lim->max_body);
		return NUDGE_ETOOBIG;
	}
	memset(&x, 0, offsetof(struct bdec, claim));
	x.b = b;
	x.ev_bad = -1;
	x.keep = lim->max_events < BEACON_MAX_EVENTS ? lim->max_events :
	    BEACON_MAX_EVENTS;
	jscan_init(&x.js, body, len, b->scratch, sizeof(b->scratch));
	/* a bare scalar is not a JSON text for jansson without DECODE_ANY */
	x.root_obj = jscan_peek(&x.js) == '{';
	if ((x.root_obj ? decode_envelope(&x) : jscan_peek(&x.js) == '[' ?
	    jscan_skip(&x.js) : jscan_fail(&x.js, "want an object")) != 0 ||
	    jscan_end(&x.js) != 0) {
		nudge_diag_set(d, 0, (int)x.js.err_off + 1, "bad JSON at byte "
		    "%zu: %s", x.js.err_off, x.js.why);
		return NUDGE_ESYNTAX;
	}
	if ((rv = verdict(&x, lim, now_wall_ms, n_seen, d)) != 0)
		return rv;
	b->root = body;
	b->visitor = x.visitor;
	b->consent = x.consent;
	b->webdriver = x.webdriver;
	b->n = x.count;
	return 0;
}

void
beacon_fini(struct beacon *b)
{
	if (b != NULL)
		b->root = NULL;
}
