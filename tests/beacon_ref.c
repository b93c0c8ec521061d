/*
 * beacon_ref.c - the jansson beacon decoder, kept as the reference.
 *
 * This is agent/beacon.c as it was before the jscan decoder replaced it
 * (json_loadb with JSON_REJECT_DUPLICATES, then a walk of the tree), with
 * its names prefixed.  The differential test, the fuzz target and the
 * decode micro-benchmark #include it next to the new decoder and compare
 * the two on the same bytes.  Everything is static; any thread.  The
 * includer includes beacon.h first (its directory differs per includer).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

/* struct beacon with the jansson tree as the owner of the strings. */
struct bref {
	json_t *root;
	struct nudge_strv visitor;
	bool consent;
	bool webdriver;
	unsigned n;
	struct nudge_event ev[BEACON_MAX_EVENTS];
};

#define ref_BEACON_TS_SKEW_MS (10u * 60u * 1000u)

enum ref_bkind {
	REF_BK_STR,		/* borrowed view, bounded by max */
	REF_BK_TYPE,	/* event type name */
	REF_BK_MONEY,	/* currency units: number or "59.90" */
	REF_BK_QTY,		/* non-negative integer */
	REF_BK_FRAC,	/* fraction in [0, 1] -> permille */
	REF_BK_TS,		/* ms since the epoch */
	REF_BK_VISITOR,	/* must equal the batch's */
	REF_BK_FIELDS	/* object of strings */
};

struct ref_bkey {
	const char *name;
	uint8_t kind;
	uint16_t max;	/* strings: longest accepted */
	size_t off;
};

#define ref_EV_OFF(f) offsetof(struct nudge_event, f)

static const struct ref_bkey ref_bkeys[] = {
	{"type", REF_BK_TYPE, EVENT_NAME_MAX, 0},
	{"visitor", REF_BK_VISITOR, EVENT_VISITOR_MAX, 0},
	{"page", REF_BK_STR, EVENT_PAGE_MAX, ref_EV_OFF(page)},
	{"referrer", REF_BK_STR, EVENT_TEXT_MAX, ref_EV_OFF(referrer)},
	{"utm_source", REF_BK_STR, EVENT_TEXT_MAX, ref_EV_OFF(utm_source)},
	{"utm_medium", REF_BK_STR, EVENT_TEXT_MAX, ref_EV_OFF(utm_medium)},
	{"utm_campaign", REF_BK_STR, EVENT_TEXT_MAX, ref_EV_OFF(utm_campaign)},
	{"target", REF_BK_STR, EVENT_TEXT_MAX, ref_EV_OFF(target)},
	{"sku", REF_BK_STR, EVENT_TEXT_MAX, ref_EV_OFF(sku)},
	{"value", REF_BK_MONEY, 0, 0},
	{"quantity", REF_BK_QTY, 0, 0},
	{"x", REF_BK_FRAC, 0, ref_EV_OFF(x_permille)},
	{"y", REF_BK_FRAC, 0, ref_EV_OFF(y_permille)},
	{"scroll", REF_BK_FRAC, 0, ref_EV_OFF(scroll_permille)},
	{"ts", REF_BK_TS, 0, 0},
	{"fields", REF_BK_FIELDS, 0, 0},
};

static const struct ref_bkey *
ref_bkey_find(const char *name)
{
	for (size_t i = 0; i < sizeof(ref_bkeys) / sizeof(ref_bkeys[0]); i++)
		if (strcmp(ref_bkeys[i].name, name) == 0)
			return &ref_bkeys[i];
	return NULL;
}

static struct nudge_strv
ref_jstrv(const json_t *v)
{
	return (struct nudge_strv){json_string_value(v),
	    (uint32_t)json_string_length(v)};
}

static int
ref_set_money(struct nudge_event *ev, const json_t *v)
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
ref_set_fields(struct nudge_event *ev, const json_t *o)
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
		ev->fields[ev->n_fields].val = ref_jstrv(v);
		ev->n_fields++;
	}
	return 0;
}

/* Numbers: the fraction and integer kinds.  -1 when out of range. */
static int
ref_set_number(struct nudge_event *ev, const struct ref_bkey *k,
    const json_t *v)
{
	double x;
	json_int_t i;

	if (k->kind == REF_BK_FRAC) {
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
	if (k->kind == REF_BK_QTY) {
		if (i > 1000000)
			return -1;
		ev->quantity = (uint32_t)i;
	} else {
		ev->ts_ms = (uint64_t)i;
	}
	return 0;
}

static int
ref_set_key(struct nudge_event *ev, const struct ref_bkey *k, const json_t *v,
    struct nudge_strv visitor)
{
	switch (k->kind) {
	case REF_BK_STR:
		if (!json_is_string(v) || json_string_length(v) > k->max)
			return -1;
		*(struct nudge_strv *)((char *)ev + k->off) = ref_jstrv(v);
		return 0;
	case REF_BK_TYPE: {
		int t;
		if (!json_is_string(v) ||
		    (t = event_type_from_name(ref_jstrv(v))) < 0)
			return -1;
		ev->type = (uint8_t)t;
		if (t == EVENT_CUSTOM)
			ev->name = ref_jstrv(v);
		return 0;
	}
	case REF_BK_VISITOR:
		return json_is_string(v) &&
		    json_string_length(v) == visitor.len &&
		    memcmp(json_string_value(v), visitor.ptr, visitor.len) == 0
		    ? 0 : -1;
	case REF_BK_MONEY:
		return ref_set_money(ev, v);
	case REF_BK_FIELDS:
		return ref_set_fields(ev, v);
	default:
		return ref_set_number(ev, k, v);
	}
}

static int
ref_decode_event(struct nudge_event *ev, const json_t *o, unsigned idx,
    struct nudge_strv visitor, uint64_t now, struct nudge_diag *d)
{
	const char *key;
	json_t *v;
	struct nudge_diag vd = {0};

	event_init(ev);
	ev->visitor = visitor;
	if (!json_is_object(o) ||
	    !json_is_string(json_object_get(o, "type"))) {
		nudge_diag_set(d, 0, (int)idx, "events[%u]: want an object "
		    "with a type", idx);
		return NUDGE_EINVAL;
	}
	json_object_foreach((json_t *)o, key, v)
	{
		const struct ref_bkey *k = ref_bkey_find(key);
		if (k == NULL || ref_set_key(ev, k, v, visitor) != 0) {
			nudge_diag_set(d, 0, (int)idx, "events[%u].%.32s: %s",
			    idx, key, k == NULL ? "unknown key" : "bad value");
			return NUDGE_EINVAL;
		}
	}
	if (ev->ts_ms != 0 && (ev->ts_ms + ref_BEACON_TS_SKEW_MS < now ||
	    ev->ts_ms > now + ref_BEACON_TS_SKEW_MS))
		ev->ts_ms = 0;
	if (event_validate(ev, &vd) != 0) {
		nudge_diag_set(d, 0, (int)idx, "events[%u]: %s", idx, vd.msg);
		return NUDGE_EINVAL;
	}
	return 0;
}

/* The envelope: visitor, flags, and the events array (bounded). */
static int
ref_decode_head(struct bref *b, const json_t *root, const json_t **events,
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
	b->visitor = ref_jstrv(vis);
	b->consent = json_is_true(c);
	b->webdriver = json_is_true(wd);
	*events = evs;
	return 0;
}

static int
bref_decode(struct bref *b, const char *body, size_t len,
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
	rv = ref_decode_head(b, root, &evs, lim, n_seen, d);
	for (size_t i = 0; rv == 0 && i < json_array_size(evs); i++)
		rv = ref_decode_event(&b->ev[i], json_array_get(evs, i),
		    (unsigned)i, b->visitor, now_wall_ms, d);
	if (rv != 0) {
		json_decref(root);
		return rv;
	}
	b->n = (unsigned)json_array_size(evs);
	b->root = root;
	return 0;
}

static void
bref_fini(struct bref *b)
{
	if (b != NULL && b->root != NULL) {
		json_decref(b->root);
		b->root = NULL;
	}
}

/* ---- comparing the reference with agent/beacon.c ------------------------ */

static bool
ref_same_strv(struct nudge_strv a, struct nudge_strv b)
{
	return a.len == b.len &&
	    (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The name of the first field that differs, NULL if none. */
static const char *
ref_event_diff(const struct nudge_event *a, const struct nudge_event *b)
{
	const struct {
		const char *name;
		size_t off;
	} sv[] = {
		{"name", offsetof(struct nudge_event, name)},
		{"visitor", offsetof(struct nudge_event, visitor)},
		{"page", offsetof(struct nudge_event, page)},
		{"referrer", offsetof(struct nudge_event, referrer)},
		{"utm_source", offsetof(struct nudge_event, utm_source)},
		{"utm_medium", offsetof(struct nudge_event, utm_medium)},
		{"utm_campaign", offsetof(struct nudge_event, utm_campaign)},
		{"target", offsetof(struct nudge_event, target)},
		{"sku", offsetof(struct nudge_event, sku)},
	};

	for (size_t i = 0; i < sizeof(sv) / sizeof(sv[0]); i++)
		if (!ref_same_strv(*(const struct nudge_strv *)
		    ((const char *)a + sv[i].off), *(const struct nudge_strv *)
		    ((const char *)b + sv[i].off)))
			return sv[i].name;
	if (a->type != b->type || a->device != b->device ||
	    memcmp(a->country, b->country, sizeof(a->country)) != 0)
		return "type/device/country";
	if (a->ts_ms != b->ts_ms || a->value_cents != b->value_cents ||
	    a->quantity != b->quantity)
		return "ts/value/quantity";
	if (a->x_permille != b->x_permille || a->y_permille != b->y_permille ||
	    a->scroll_permille != b->scroll_permille)
		return "x/y/scroll";
	if (a->n_fields != b->n_fields)
		return "n_fields";
	for (unsigned i = 0; i < a->n_fields; i++)
		if (!ref_same_strv(a->fields[i].key, b->fields[i].key) ||
		    !ref_same_strv(a->fields[i].val, b->fields[i].val))
			return "fields";
	return NULL;
}

enum ref_verdict {
	REF_SAME = 0,	/* same code, same events, same n_seen */
	REF_CLASS,	/* both refuse, the codes differ in the known way */
	REF_LAX,	/* jansson skips a NUL byte the scanner refuses */
	REF_DIFFER	/* a real difference: see why */
};

static enum ref_verdict ref_compare(const char *buf, size_t len,
    const struct beacon_limits *lim, uint64_t now, int *rv_ref, int *rv_new,
    char *why, size_t whyn);

/*
 * jansson 2.14 drops a NUL byte read just after a number or a literal (it
 * "ungets" it into its stream buffer, where NUL marks the end), so it
 * accepts "[1\0]" or "false\0}"; RFC 8259 does not, nor does the
 * scanner.  Without those bytes the two must agree exactly.
 */
static bool
ref_nul_quirk(const char *buf, size_t len, const struct beacon_limits *lim,
    uint64_t now, int want)
{
	static char copy[BEACON_MAX_BODY];
	size_t n = 0;
	int rr, rn;
	char why[600];

	if (memchr(buf, '\0', len) == NULL)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char p = i ? (unsigned char)buf[i - 1] : ' ';
		if (buf[i] == '\0' && ((p >= '0' && p <= '9') ||
		    (p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z')))
			continue;
		copy[n++] = buf[i];
	}
	return n < len && ref_compare(copy, n, lim, now, &rr, &rn, why,
	    sizeof(why)) == REF_SAME && rr == want;
}

/*
 * Decodes buf with both decoders and compares everything.  The one known
 * difference (REF_CLASS): a duplicate key inside a value that is refused
 * anyway (an unknown key's, a 9th field's) is ESYNTAX for jansson, which
 * builds every object, and EINVAL/ETOOBIG for the scanner, which does not
 * keep keys it has no use for.
 */
static enum ref_verdict
ref_compare(const char *buf, size_t len, const struct beacon_limits *lim,
    uint64_t now, int *rv_ref, int *rv_new, char *why, size_t whyn)
{
	static struct bref r;
	static struct beacon b;
	struct nudge_diag dr = {0}, dn = {0};
	unsigned sr = 7, sn = 9;
	const char *f = NULL;

	*rv_ref = bref_decode(&r, buf, len, lim, now, &sr, &dr);
	*rv_new = beacon_decode(&b, buf, len, lim, now, &sn, &dn);
	snprintf(why, whyn, "ref %d (%s) new %d (%s)", *rv_ref, dr.msg,
	    *rv_new, dn.msg);
	if (*rv_new == NUDGE_ESYNTAX && *rv_ref != NUDGE_ESYNTAX) {
		/* the tree is freed first: the quirk check decodes again */
		if (*rv_ref == 0)
			bref_fini(&r);
		return ref_nul_quirk(buf, len, lim, now, *rv_ref) ? REF_LAX :
		    REF_DIFFER;
	}
	if ((*rv_ref == 0) != (*rv_new == 0)) {
		if (*rv_ref == 0)
			bref_fini(&r);
		return REF_DIFFER;
	}
	if (*rv_ref != 0 && *rv_new != 0 && (dr.msg[0] == '\0' ||
	    dn.msg[0] == '\0'))
		return REF_DIFFER;
	if (*rv_ref != *rv_new)
		return *rv_ref == NUDGE_ESYNTAX &&
		    strstr(dr.msg, "duplicate object key") != NULL ?
		    REF_CLASS : REF_DIFFER;
	if (sr != sn) {
		snprintf(why, whyn, "n_seen ref %u new %u", sr, sn);
		return REF_DIFFER;
	}
	if (*rv_ref != 0)
		return REF_SAME;
	if (r.n != b.n || r.consent != b.consent ||
	    r.webdriver != b.webdriver || !ref_same_strv(r.visitor, b.visitor))
		f = "batch header";
	for (unsigned i = 0; f == NULL && i < r.n; i++)
		if ((f = ref_event_diff(&r.ev[i], &b.ev[i])) != NULL)
			snprintf(why, whyn, "events[%u].%s differs", i, f);
	if (f != NULL && strstr(why, "differs") == NULL)
		snprintf(why, whyn, "%s differs", f);
	bref_fini(&r);
	beacon_fini(&b);
	return f != NULL ? REF_DIFFER : REF_SAME;
}
