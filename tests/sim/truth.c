/*
 * truth.c - counting what nudge-sim sent, and writing it as JSON.
 *
 * The counters are plain integers updated on the sending thread; the
 * expensive parts (funnel evaluation, source classification) run once per
 * event and once per session.  JSON goes through jansson so keys and
 * numbers are always well-formed; the file is written once, at the end.
 */
#include "truth.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

void
truth_init(struct truth *t)
{
	memset(t, 0, sizeof(*t));
	funnel_default(&t->funnel);
}

/* event_classify_source(), memoised: a pure function of five strings. */
static int
classify(struct truth *t, const struct nudge_event *ev)
{
	const struct nudge_strv v[5] = {ev->page, ev->referrer, ev->utm_source,
	    ev->utm_medium, ev->utm_campaign};
	uint64_t h = 0;
	struct truth_memo *m;
	bool hit = true;

	for (int k = 0; k < 5; k++)
		h = (h ^ (uintptr_t)v[k].ptr ^ v[k].len) * 0x100000001b3ULL;
	m = &t->memo[(h ^ h >> 29) % TRUTH_CACHE];
	for (int k = 0; k < 5; k++)
		hit &= m->ptr[k] == v[k].ptr && m->len[k] == v[k].len;
	if (hit && m->ptr[0] != NULL)
		return m->source;
	for (int k = 0; k < 5; k++) {
		m->ptr[k] = v[k].ptr;
		m->len[k] = v[k].len;
	}
	m->source = event_classify_source(ev) % SOURCE_COUNT;
	return m->source;
}

void
truth_add(
    struct truth *t, struct truth_session *ts, const struct nudge_event *ev)
{
	uint8_t r;

	if (!ts->started) {
		ts->started = true;
		t->visitors++;
		t->by_source[classify(t, ev)]++;
		t->by_device[ev->device % DEVICE_COUNT]++;
	}
	t->events++;
	t->by_type[ev->type % EVENT_TYPE_COUNT]++;
	if (ev->type == EVENT_PURCHASE) {
		t->purchases++;
		t->revenue_cents += ev->value_cents;
	}
	r = funnel_advance(&t->funnel, ts->reached, ev);
	for (uint8_t k = ts->reached; k < r; k++)
		t->steps[k]++;
	ts->reached = r;
}

/* {name(k): v[k]} for every k, zeros included, so keys are stable. */
static json_t *
counts(const uint64_t *v, int n, const char *(*name)(int))
{
	json_t *o = json_object();

	for (int k = 0; k < n; k++)
		json_object_set_new(
		    o, name(k), json_integer((json_int_t)v[k]));
	return o;
}

static json_t *
truth_json(const struct truth *t)
{
	json_t *o = json_object();
	json_t *f = json_object();

	for (uint8_t k = 0; k < t->funnel.n; k++)
		json_object_set_new(f, t->funnel.step[k].label,
		    json_integer((json_int_t)t->steps[k]));
	json_object_set_new(
	    o, "visitors", json_integer((json_int_t)t->visitors));
	json_object_set_new(o, "events", json_integer((json_int_t)t->events));
	/* Custom events are never sent: every named type, nothing else. */
	json_object_set_new(
	    o, "by_type", counts(t->by_type, EVENT_CUSTOM, event_type_name));
	json_object_set_new(o, "funnel", f);
	json_object_set_new(
	    o, "purchases", json_integer((json_int_t)t->purchases));
	json_object_set_new(
	    o, "revenue_cents", json_integer((json_int_t)t->revenue_cents));
	json_object_set_new(o, "by_source",
	    counts(t->by_source, SOURCE_COUNT, event_source_name));
	json_object_set_new(o, "by_device",
	    counts(t->by_device, DEVICE_COUNT, event_device_name));
	return o;
}

int
truth_write(const struct truth *t, const char *path)
{
	json_t *o = truth_json(t);
	FILE *fp = fopen(path, "w");
	int rc = 0;

	if (fp == NULL) {
		json_decref(o);
		return NUDGE_EIO;
	}
	if (json_dumpf(o, fp, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
	    fputc('\n', fp) == EOF)
		rc = NUDGE_EIO;
	if (fclose(fp) != 0)
		rc = NUDGE_EIO;
	json_decref(o);
	if (rc != 0 && errno == 0)
		errno = EIO;
	return rc;
}
