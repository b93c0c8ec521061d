/*
 * beacon.c - the tag's JSON batch -> struct nudge_event, strictly.
 *
 * Owns nothing between calls: a decoded batch owns its jansson tree and
 * borrows its strings from it.  Pure apart from allocation; any thread (the
 * HTTP server's workers call it).  The body size is bounded by the caller
 * before jansson sees a byte, the event count before any event is looked
 * at, every string against its EVENT_*_MAX before it is kept.
 */
#include "beacon.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define BEACON_TS_SKEW_MS (10u * 60u * 1000u)

enum bkind {
	BK_STR,		/* borrowed view, bounded by max */
	BK_TYPE,	/* event type name */
	BK_MONEY,	/* currency units: number or "59.90" */
	BK_QTY,		/* non-negative integer */
	BK_FRAC,	/* fraction in [0, 1] -> permille */
	BK_TS,		/* ms since the epoch */
	BK_VISITOR,	/* must equal the batch's */
	BK_FIELDS	/* object of strings */
};

struct bkey {
	const char *name;
	uint8_t kind;
	uint16_t max;	/* strings: longest accepted */
	size_t off;
};

#define EV_OFF(f) offsetof(struct nudge_event, f)

static const struct bkey bkeys[] = {
	{"type", BK_TYPE, EVENT_NAME_MAX, 0},
	{"visitor", BK_VISITOR, EVENT_VISITOR_MAX, 0},
	{"page", BK_STR, EVENT_PAGE_MAX, EV_OFF(page)},
	{"referrer", BK_STR, EVENT_TEXT_MAX, EV_OFF(referrer)},
	{"utm_source", BK_STR, EVENT_TEXT_MAX, EV_OFF(utm_source)},
	{"utm_medium", BK_STR, EVENT_TEXT_MAX, EV_OFF(utm_medium)},
	{"utm_campaign", BK_STR, EVENT_TEXT_MAX, EV_OFF(utm_campaign)},
	{"target", BK_STR, EVENT_TEXT_MAX, EV_OFF(target)},
	{"sku", BK_STR, EVENT_TEXT_MAX, EV_OFF(sku)},
	{"value", BK_MONEY, 0, 0},
	{"quantity", BK_QTY, 0, 0},
	{"x", BK_FRAC, 0, EV_OFF(x_permille)},
	{"y", BK_FRAC, 0, EV_OFF(y_permille)},
	{"scroll", BK_FRAC, 0, EV_OFF(scroll_permille)},
	{"ts", BK_TS, 0, 0},
	{"fields", BK_FIELDS, 0, 0},
};

static const struct bkey *
bkey_find(const char *name)
{
	for (size_t i = 0; i < sizeof(bkeys) / sizeof(bkeys[0]); i++)
		if (strcmp(bkeys[i].name, name) == 0)
			return &bkeys[i];
	return NULL;
}

static struct nudge_strv
jstrv(const json_t *v)
{
	return (struct nudge_strv){json_string_value(v),
	    (uint32_t)json_string_length(v)};
}

static int
set_money(struct nudge_event *ev, const json_t *v)
{
	char buf[32];
	double x;

	if (json_is_string(v)) {
		if (json_string_length(v) >= sizeof(buf))
			return -1;
		snprintf(buf, sizeof(buf), "%s", json_string_value(v));
		return event_parse_money(buf, &ev->value_cents) == 0 ? 0 : -1;
	}
	if (!json_is_number(v))
		return -1;
	x = json_number_value(v);
	if (!(x >= 0 && x * 100.0 <= (double)EVENT_VALUE_MAX_CENTS))
		return -1;
	ev->value_cents = (int64_t)llround(x * 100.0);
	return 0;
}

static int
set_fields(struct nudge_event *ev, const json_t *o)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > EVENT_FIELDS_MAX)
		return -1;
	json_object_foreach((json_t *)o, k, v)
	{
		size_t kn = strlen(k);
		if (!json_is_string(v) || kn == 0 || kn > EVENT_NAME_MAX ||
		    json_string_length(v) > EVENT_TEXT_MAX)
			return -1;
		ev->fields[ev->n_fields].key = (struct nudge_strv){k,
		    (uint32_t)kn};
		ev->fields[ev->n_fields].val = jstrv(v);
		ev->n_fields++;
	}
	return 0;
}

/* Numbers: the fraction and integer kinds.  -1 when out of range. */
static int
set_number(struct nudge_event *ev, const struct bkey *k, const json_t *v)
{
	double x;
	json_int_t i;

	if (k->kind == BK_FRAC) {
		if (!json_is_number(v))
			return -1;
		x = json_number_value(v);
		if (!(x >= 0.0 && x <= 1.0))
			return -1;
		*(uint16_t *)((char *)ev + k->off) =
		    (uint16_t)lround(x * 1000.0);
		return 0;
	}
	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0)
		return -1;
	if (k->kind == BK_QTY) {
		if (i > 1000000)
			return -1;
		ev->quantity = (uint32_t)i;
	} else {
		ev->ts_ms = (uint64_t)i;
	}
	return 0;
}

static int
set_key(struct nudge_event *ev, const struct bkey *k, const json_t *v,
    struct nudge_strv visitor)
{
	switch (k->kind) {
	case BK_STR:
		if (!json_is_string(v) || json_string_length(v) > k->max)
			return -1;
		*(struct nudge_strv *)((char *)ev + k->off) = jstrv(v);
		return 0;
	case BK_TYPE: {
		int t;
		if (!json_is_string(v) ||
		    (t = event_type_from_name(jstrv(v))) < 0)
			return -1;
		ev->type = (uint8_t)t;
		if (t == EVENT_CUSTOM)
			ev->name = jstrv(v);
		return 0;
	}
	case BK_VISITOR:
		return json_is_string(v) &&
		    json_string_length(v) == visitor.len &&
		    memcmp(json_string_value(v), visitor.ptr, visitor.len) == 0
		    ? 0 : -1;
	case BK_MONEY:
		return set_money(ev, v);
	case BK_FIELDS:
		return set_fields(ev, v);
	default:
		return set_number(ev, k, v);
	}
}

static int
decode_event(struct nudge_event *ev, const json_t *o, unsigned idx,
    struct nudge_strv visitor, uint64_t now, struct nudge_diag *d)
{
	const char *key;
	json_t *v;
	struct nudge_diag vd = {0};

	event_init(ev);
	ev->visitor = visitor;
	if (!json_is_object(o) || !json_is_string(json_object_get(o, "type"))) {
		nudge_diag_set(d, 0, (int)idx, "events[%u]: want an object "
		    "with a type", idx);
		return NUDGE_EINVAL;
	}
	json_object_foreach((json_t *)o, key, v)
	{
		const struct bkey *k = bkey_find(key);
		if (k == NULL || set_key(ev, k, v, visitor) != 0) {
			nudge_diag_set(d, 0, (int)idx, "events[%u].%.32s: %s",
			    idx, key, k == NULL ? "unknown key" : "bad value");
			return NUDGE_EINVAL;
		}
	}
	if (ev->ts_ms != 0 && (ev->ts_ms + BEACON_TS_SKEW_MS < now ||
	    ev->ts_ms > now + BEACON_TS_SKEW_MS))
		ev->ts_ms = 0;
	if (event_validate(ev, &vd) != 0) {
		nudge_diag_set(d, 0, (int)idx, "events[%u]: %s", idx, vd.msg);
		return NUDGE_EINVAL;
	}
	return 0;
}

/* The envelope: visitor, flags, and the events array (bounded). */
static int
decode_head(struct beacon *b, const json_t *root, const json_t **events,
    const struct beacon_limits *lim, unsigned *n_seen, struct nudge_diag *d)
{
	const json_t *vis = json_object_get(root, "visitor");
	const json_t *evs = json_object_get(root, "events");
	const json_t *c = json_object_get(root, "consent");
	const json_t *wd = json_object_get(root, "wd");

	if (!json_is_object(root) || !json_is_array(evs)) {
		nudge_diag_set(d, 0, 0, "want {\"visitor\": ..., \"events\": "
		    "[...]}");
		return NUDGE_EINVAL;
	}
	if (n_seen != NULL)
		*n_seen = (unsigned)(json_array_size(evs) > 100000 ? 100000 :
		    json_array_size(evs));
	if (json_array_size(evs) > lim->max_events) {
		nudge_diag_set(d, 0, 0, "%zu events, at most %u per batch",
		    json_array_size(evs), lim->max_events);
		return NUDGE_ETOOBIG;
	}
	if (json_array_size(evs) == 0 || !json_is_string(vis) ||
	    json_string_length(vis) == 0 ||
	    json_string_length(vis) > EVENT_VISITOR_MAX ||
	    (c != NULL && !json_is_boolean(c)) ||
	    (wd != NULL && !json_is_boolean(wd)) ||
	    json_object_size(root) != 2u + (c != NULL) + (wd != NULL)) {
		nudge_diag_set(d, 0, 0, "bad batch: visitor (1..%d chars), "
		    "events (1..%u), consent, wd only", EVENT_VISITOR_MAX,
		    lim->max_events);
		return NUDGE_EINVAL;
	}
	b->visitor = jstrv(vis);
	b->consent = json_is_true(c);
	b->webdriver = json_is_true(wd);
	*events = evs;
	return 0;
}

int
beacon_decode(struct beacon *b, const char *body, size_t len,
    const struct beacon_limits *lim, uint64_t now_wall_ms, unsigned *n_seen,
    struct nudge_diag *d)
{
	json_error_t jerr;
	const json_t *evs = NULL;
	json_t *root;
	int rv;

	if (n_seen != NULL)
		*n_seen = 0;
	if (len > lim->max_body || len > BEACON_MAX_BODY) {
		nudge_diag_set(d, 0, 0, "body over %zu bytes", lim->max_body);
		return NUDGE_ETOOBIG;
	}
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		nudge_diag_set(d, jerr.line, jerr.column, "bad JSON at %d:%d: "
		    "%.80s", jerr.line, jerr.column, jerr.text);
		return NUDGE_ESYNTAX;
	}
	rv = decode_head(b, root, &evs, lim, n_seen, d);
	for (size_t i = 0; rv == 0 && i < json_array_size(evs); i++)
		rv = decode_event(&b->ev[i], json_array_get(evs, i),
		    (unsigned)i, b->visitor, now_wall_ms, d);
	if (rv != 0) {
		json_decref(root);
		return rv;
	}
	b->n = (unsigned)json_array_size(evs);
	b->root = root;
	return 0;
}

void
beacon_fini(struct beacon *b)
{
	if (b != NULL && b->root != NULL) {
		json_decref(b->root);
		b->root = NULL;
	}
}
