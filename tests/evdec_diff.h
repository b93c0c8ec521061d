/*
 * evdec_diff.h - the differential check shared by tests/test_evdec.c and
 * tests/fuzz/fuzz_evdec.c: common/evdec.c against the msgpack-c path
 * (wire_precheck + msgpack_unpack_next + wire_unpack_event, and
 * wire_request_parse for whole emit requests).  Header-only, static.
 *
 * evdiff_array(buf, len) and evdiff_emit(buf, len) return NULL when both
 * decoders agree, else a static description of the first difference.
 */
#ifndef NUDGE_EVDEC_DIFF_H
#define NUDGE_EVDEC_DIFF_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <msgpack.h>

#include "evdec.h"
#include "wire.h"

static char evdiff_why[1024];

static bool
evdiff_strv(struct nudge_strv a, struct nudge_strv b, const void *buf,
    size_t len)
{
	const char *lo = buf, *hi = lo + len;

	if (a.len != b.len || (a.len != 0 && memcmp(a.ptr, b.ptr, a.len) != 0))
		return false;
	/* views borrow the buffer (or are empty) */
	return a.len == 0 || (a.ptr >= lo && a.ptr + a.len <= hi);
}

static bool
evdiff_event(const struct nudge_event *a, const struct nudge_event *b,
    const void *buf, size_t len)
{
	const struct nudge_strv *sa[] = {&a->name, &a->visitor, &a->page,
	    &a->referrer, &a->utm_source, &a->utm_medium, &a->utm_campaign,
	    &a->target, &a->sku};
	const struct nudge_strv *sb[] = {&b->name, &b->visitor, &b->page,
	    &b->referrer, &b->utm_source, &b->utm_medium, &b->utm_campaign,
	    &b->target, &b->sku};

	for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
		if (!evdiff_strv(*sa[i], *sb[i], buf, len))
			return false;
	if (a->n_fields != b->n_fields)
		return false;
	for (int i = 0; i < a->n_fields; i++)
		if (!evdiff_strv(a->fields[i].key, b->fields[i].key, buf,
		    len) ||
		    !evdiff_strv(a->fields[i].val, b->fields[i].val, buf, len))
			return false;
	return a->type == b->type && a->device == b->device &&
	    memcmp(a->country, b->country, sizeof(a->country)) == 0 &&
	    a->ts_ms == b->ts_ms && a->value_cents == b->value_cents &&
	    a->quantity == b->quantity && a->x_permille == b->x_permille &&
	    a->y_permille == b->y_permille &&
	    a->scroll_permille == b->scroll_permille;
}

/* Element by element: the cursor at c against the objects of arr. */
static const char *
evdiff_elems(struct evdec *c, const msgpack_object *arr, const void *buf,
    size_t len)
{
	for (uint32_t i = 0; i < arr->via.array.size; i++) {
		struct nudge_event e1, e2;
		struct nudge_diag d1 = {0}, d2 = {0};
		int r1, r2;

		memset(&e1, 0xa5, sizeof(e1));
		memset(&e2, 0x5a, sizeof(e2));
		r1 = evdec_next(c, &e1, &d1);
		r2 = wire_unpack_event(&arr->via.array.ptr[i], &e2, &d2);
		if (r1 != r2 || strcmp(d1.msg, d2.msg) != 0) {
			snprintf(evdiff_why, sizeof(evdiff_why),
			    "element %u: evdec %d '%s', wire %d '%s'", i, r1,
			    d1.msg, r2, d2.msg);
			return evdiff_why;
		}
		if (r1 == 0 && !evdiff_event(&e1, &e2, buf, len)) {
			snprintf(evdiff_why, sizeof(evdiff_why),
			    "element %u: events differ", i);
			return evdiff_why;
		}
	}
	if (evdec_next(c, &(struct nudge_event){0}, NULL) != NUDGE_ENOTFOUND)
		return "evdec has more elements";
	return NULL;
}

/* buf as an ev array alone, under the default limits. */
static const char *
evdiff_array(const void *buf, size_t len)
{
	struct nudge_diag d1 = {0}, d2 = {0};
	struct evdec c;
	msgpack_unpacked up;
	const char *why = NULL;
	size_t off = 0;
	int r1 = evdec_array_open(&c, buf, len, &wire_limits_default, &d1);
	int r2 = wire_precheck(buf, len, &wire_limits_default, &d2);

	if (r2 != 0) {
		if (r1 != r2 || strcmp(d1.msg, d2.msg) != 0)
			return "precheck results differ";
		return NULL;
	}
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, buf, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS) {
		msgpack_unpacked_destroy(&up);
		return "msgpack-c fails after the precheck";
	}
	if (up.data.type != MSGPACK_OBJECT_ARRAY)
		why = r1 == NUDGE_ETYPE ? NULL : "not an array, evdec opened";
	else if (r1 != 0)
		why = "an array, evdec refused it";
	else if (c.n != up.data.via.array.size)
		why = "element counts differ";
	else
		why = evdiff_elems(&c, &up.data, buf, len);
	msgpack_unpacked_destroy(&up);
	return why;
}

/* Whether the request's cmd element is the 4-byte str "emit" exactly. */
static bool
evdiff_cmd_is_emit(const uint8_t *p, size_t len)
{
	size_t o = 0;

	if (len < 1)
		return false;
	o = p[0] == 0xdc ? 3 : p[0] == 0xdd ? 5 : 1;	/* array header */
	if (o < len && p[o] <= 0x7f)			/* version */
		o += 1;
	else if (o < len && p[o] >= 0xcc && p[o] <= 0xcf)
		o += 1 + (1u << (p[o] - 0xcc));
	else if (o < len && p[o] >= 0xd0 && p[o] <= 0xd3)
		o += 1 + (1u << (p[o] - 0xd0));
	else
		return false;
	return o + 5 <= len && memcmp(p + o, "\xa4" "emit", 5) == 0;
}

/*
 * A whole request: evdec_emit_open, every evdec_next, evdec_emit_close may
 * all say yes only where the msgpack-c path has an emit with an ev array
 * it would read, and must say yes to all of those but a cmd with a NUL in
 * it (strcmp's "emit").
 */
static const char *
evdiff_emit(const void *buf, size_t len)
{
	struct wire_request rq;
	struct nudge_diag d = {0};
	struct nudge_event e;
	struct evdec c;
	const msgpack_object *ev = NULL;
	const char *why = NULL;
	int r1 = evdec_emit_open(&c, buf, len, &wire_limits_default);
	bool slow_ok = false, parsed;

	parsed = wire_request_parse(&rq, buf, len, &wire_limits_default,
	    &d) == 0;
	if (parsed && strcmp(rq.cmd, "emit") == 0 && rq.args != NULL &&
	    (ev = wire_map_get(rq.args, "ev")) != NULL &&
	    ev->type == MSGPACK_OBJECT_ARRAY &&
	    ev->via.array.size <= WIRE_EMIT_MAX)
		slow_ok = true;
	if (r1 == 0 && c.n > 0 && evdec_emit_close(&c) != NUDGE_EINVAL)
		why = "evdec closed before the last event";
	else if (r1 == 0 && slow_ok && c.n != ev->via.array.size)
		why = "emit element counts differ";
	else if (r1 == 0 && slow_ok)
		why = evdiff_elems(&c, ev, buf, len);
	else if (r1 == 0)
		while (evdec_next(&c, &e, NULL) != NUDGE_ENOTFOUND)
			;
	if (why == NULL && r1 == 0)
		r1 = evdec_emit_close(&c);
	if (why == NULL && r1 == 0 && !slow_ok)
		why = "evdec read what ingest would refuse";
	else if (why == NULL && r1 != 0 && slow_ok &&
	    evdiff_cmd_is_emit(buf, len))
		why = "evdec refused an emit ingest reads";
	if (parsed)
		wire_request_fini(&rq);
	return why;
}

#endif
