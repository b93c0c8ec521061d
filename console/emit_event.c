/*
 * emit_event.c - one table of the event keys `nudge emit` understands, and
 * the two ways to fill them: flags (text) and JSON lines.  Pure functions
 * over caller-owned events; any thread.
 */
#include "emit_event.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum emit_kind {
	EK_STR,      /* a borrowed string view */
	EK_TYPE,     /* event type name, custom names kept in ev->name */
	EK_COUNTRY,  /* two letters, copied */
	EK_DEVICE,   /* device class name */
	EK_MONEY,    /* "59.90" -> cents */
	EK_U32,      /* quantity */
	EK_PERMILLE, /* 0..1000 */
	EK_TS        /* ms since the epoch */
};

struct emit_key {
	const char *name;
	int kind;
	size_t off;
};

#define EV_OFF(f) offsetof(struct nudge_event, f)

static const struct emit_key emit_keys[] = {
    {"type", EK_TYPE, 0},
    {"visitor", EK_STR, EV_OFF(visitor)},
    {"page", EK_STR, EV_OFF(page)},
    {"referrer", EK_STR, EV_OFF(referrer)},
    {"utm_source", EK_STR, EV_OFF(utm_source)},
    {"utm_medium", EK_STR, EV_OFF(utm_medium)},
    {"utm_campaign", EK_STR, EV_OFF(utm_campaign)},
    {"target", EK_STR, EV_OFF(target)},
    {"sku", EK_STR, EV_OFF(sku)},
    {"country", EK_COUNTRY, 0},
    {"device", EK_DEVICE, 0},
    {"value", EK_MONEY, 0},
    {"quantity", EK_U32, 0},
    {"x", EK_PERMILLE, EV_OFF(x_permille)},
    {"y", EK_PERMILLE, EV_OFF(y_permille)},
    {"scroll", EK_PERMILLE, EV_OFF(scroll_permille)},
    {"ts", EK_TS, 0},
};

static const struct emit_key *
emit_key_find(const char *name)
{
	for (size_t i = 0; i < sizeof(emit_keys) / sizeof(emit_keys[0]); i++)
		if (strcmp(emit_keys[i].name, name) == 0)
			return &emit_keys[i];
	return NULL;
}

/* Numbers arrive as views; strtoull needs a terminated copy. */
static int
emit_parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	char buf[32], *end;
	unsigned long long v;

	if (len == 0 || len >= sizeof(buf) || s[0] == '-')
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
emit_set_number(struct nudge_event *ev, const struct emit_key *k,
    const char *s, size_t len)
{
	char buf[32];
	uint64_t v;

	switch (k->kind) {
	case EK_MONEY:
		if (len >= sizeof(buf))
			return -1;
		memcpy(buf, s, len);
		buf[len] = '\0';
		return event_parse_money(buf, &ev->value_cents) == 0 ? 0 : -1;
	case EK_U32:
		if (emit_parse_u64(s, len, UINT32_MAX, &v) != 0)
			return -1;
		ev->quantity = (uint32_t)v;
		return 0;
	case EK_PERMILLE:
		if (emit_parse_u64(s, len, 1000, &v) != 0)
			return -1;
		*(uint16_t *)((char *)ev + k->off) = (uint16_t)v;
		return 0;
	default: /* EK_TS */
		if (emit_parse_u64(s, len, UINT64_MAX, &v) != 0)
			return -1;
		ev->ts_ms = v;
		return 0;
	}
}

int
emit_event_set(struct nudge_event *ev, const char *key, const char *s,
    size_t len, char *err, size_t errcap)
{
	const struct emit_key *k = emit_key_find(key);
	struct nudge_strv v = {s, (uint32_t)len};

	if (k == NULL) {
		snprintf(err, errcap, "unknown key '%s'", key);
		return -1;
	}
	if (len > UINT32_MAX / 2) {
		snprintf(err, errcap, "%s: too long", key);
		return -1;
	}
	switch (k->kind) {
	case EK_STR:
		*(struct nudge_strv *)((char *)ev + k->off) = v;
		return 0;
	case EK_TYPE:
		ev->type = (uint8_t)event_type_from_name(v);
		ev->name =
		    ev->type == EVENT_CUSTOM ? v : (struct nudge_strv){"", 0};
		return 0;
	case EK_COUNTRY:
		if (len > 2) {
			snprintf(err, errcap, "country: want two letters");
			return -1;
		}
		memcpy(ev->country, s, len);
		ev->country[len] = '\0';
		return 0;
	case EK_DEVICE:
		ev->device = (uint8_t)event_device_from_name(v);
		return 0;
	default:
		if (emit_set_number(ev, k, s, len) != 0) {
			snprintf(err, errcap, "%s: bad number '%.*s'", key,
			    len > 40 ? 40 : (int)len, s);
			return -1;
		}
		return 0;
	}
}

int
emit_event_field(
    struct nudge_event *ev, const char *kv, char *err, size_t errcap)
{
	const char *eq = strchr(kv, '=');

	if (eq == NULL || eq == kv) {
		snprintf(err, errcap, "field: want k=v, not '%s'", kv);
		return -1;
	}
	if (ev->n_fields >= EVENT_FIELDS_MAX) {
		snprintf(err, errcap, "at most %d fields", EVENT_FIELDS_MAX);
		return -1;
	}
	ev->fields[ev->n_fields].key =
	    (struct nudge_strv){kv, (uint32_t)(eq - kv)};
	ev->fields[ev->n_fields].val = strv_of(eq + 1);
	ev->n_fields++;
	return 0;
}

static int
emit_json_fields(
    const json_t *o, struct nudge_event *ev, char *err, size_t errcap)
{
	const char *k;
	const json_t *v;

	if (!json_is_object(o)) {
		snprintf(err, errcap, "fields: want an object");
		return -1;
	}
	json_object_foreach((json_t *)o, k, v)
	{
		if (!json_is_string(v)) {
			snprintf(err, errcap, "fields.%s: want a string", k);
			return -1;
		}
		if (ev->n_fields >= EVENT_FIELDS_MAX) {
			snprintf(err, errcap, "at most %d fields",
			    EVENT_FIELDS_MAX);
			return -1;
		}
		ev->fields[ev->n_fields].key = strv_of(k);
		ev->fields[ev->n_fields].val = (struct nudge_strv){
		    json_string_value(v), (uint32_t)json_string_length(v)};
		ev->n_fields++;
	}
	return 0;
}

/*
 * Numbers become text for the one setter; a fraction in [0, 1] given for
 * a permille key is read as a share (0.25 -> 250).
 */
static int
emit_json_value(struct nudge_event *ev, const char *key, const json_t *v,
    char *err, size_t errcap)
{
	const struct emit_key *k = emit_key_find(key);
	char buf[32];
	int n;

	if (json_is_string(v))
		return emit_event_set(ev, key, json_string_value(v),
		    json_string_length(v), err, errcap);
	if (k != NULL && k->kind >= EK_MONEY && json_is_integer(v)) {
		n = snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return emit_event_set(ev, key, buf, (size_t)n, err, errcap);
	}
	if (k != NULL && json_is_real(v) &&
	    (k->kind == EK_MONEY || k->kind == EK_PERMILLE)) {
		double d = json_real_value(v);

		if (k->kind == EK_PERMILLE && d >= 0 && d <= 1)
			d = round(d * 1000);
		n = snprintf(buf, sizeof(buf),
		    k->kind == EK_MONEY ? "%.2f" : "%.0f", d);
		if (n < 0 || (size_t)n >= sizeof(buf)) {
			snprintf(err, errcap, "%s: out of range", key);
			return -1;
		}
		return emit_event_set(ev, key, buf, (size_t)n, err, errcap);
	}
	snprintf(err, errcap,
	    k == NULL ? "unknown key '%s'" : "%s: wrong type", key);
	return -1;
}

int
emit_event_from_json(
    const json_t *o, struct nudge_event *ev, char *err, size_t errcap)
{
	const char *key;
	const json_t *v;

	event_init(ev);
	if (!json_is_object(o)) {
		snprintf(err, errcap, "want a JSON object");
		return -1;
	}
	if (!json_is_string(json_object_get(o, "type")) ||
	    !json_is_string(json_object_get(o, "visitor"))) {
		snprintf(err, errcap, "type and visitor are required strings");
		return -1;
	}
	json_object_foreach((json_t *)o, key, v)
	{
		int rv = strcmp(key, "fields") == 0
		             ? emit_json_fields(v, ev, err, errcap)
		             : emit_json_value(ev, key, v, err, errcap);

		if (rv != 0)
			return -1;
	}
	return 0;
}
