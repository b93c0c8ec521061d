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
truth_init(struct truth *t, const struct ab *ab)
{
	memset(t, 0, sizeof(*t));
	funnel_default(&t->funnel);
	t->ab = ab;
}

/* The arm of campaign k the visitor is in. */
static struct truth_arm *
arm_of(struct truth *t, const struct ab_visitor *abv, unsigned k)
{
	int v = abv->variant[k];

	return v >= 0 ? &t->camp[k].arm[v] : &t->camp[k].holdout;
}

void
truth_dropped(struct truth *t, const struct ab_visitor *abv)
{
	for (unsigned k = 0; t->ab != NULL && k < t->ab->n_camp; k++)
		arm_of(t, abv, k)->dropped++;
}

void
truth_decision(
    struct truth *t, const char *id, size_t len, bool first, uint64_t now_ms)
{
	struct truth_decision *d = NULL;

	for (unsigned k = 0; k < t->n_decisions && d == NULL; k++)
		if (strlen(t->decision[k].id) == len &&
		    memcmp(t->decision[k].id, id, len) == 0)
			d = &t->decision[k];
	if (d == NULL) {
		if (t->n_decisions == TRUTH_DECISIONS_MAX ||
		    len > AB_NAME_MAX) {
			t->decisions_full = true;
			return;
		}
		d = &t->decision[t->n_decisions++];
		memcpy(d->id, id, len);
		d->id[len] = '\0';
		d->first_ms = now_ms;
	}
	d->answers++;
	d->visitors += first;
	d->last_ms = now_ms;
}

void
truth_lift_visit(
    struct truth *t, unsigned k, bool shown, const struct truth_session *ts)
{
	struct truth_arm *a =
	    shown ? &t->lift[k].shown : &t->lift[k].not_shown;

	a->visitors++;
	a->purchases += ts->bought;
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
		for (unsigned k = 0; ts->abv != NULL && k < t->ab->n_camp; k++)
			arm_of(t, ts->abv, k)->visitors++;
	}
	t->events++;
	t->by_type[ev->type % EVENT_TYPE_COUNT]++;
	if (ev->type == EVENT_PURCHASE) {
		t->purchases++;
		t->revenue_cents += ev->value_cents;
		/* A session buys once; a second purchase is not a visitor. */
		for (unsigned k = 0;
		     ts->abv != NULL && !ts->bought && k < t->ab->n_camp; k++)
			arm_of(t, ts->abv, k)->purchases++;
		ts->bought = true;
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
arm_json(const struct truth_arm *a, bool dropped)
{
	json_t *o = json_object();

	json_object_set_new(
	    o, "visitors", json_integer((json_int_t)a->visitors));
	json_object_set_new(
	    o, "purchases", json_integer((json_int_t)a->purchases));
	if (dropped)
		json_object_set_new(
		    o, "dropped", json_integer((json_int_t)a->dropped));
	return o;
}

/* {"NAME": {"variants": [ARM, ...], "holdout": ARM}, ...} */
static json_t *
campaigns_json(const struct truth *t)
{
	json_t *o = json_object();

	for (unsigned k = 0; k < t->ab->n_camp; k++) {
		json_t *c = json_object(), *v = json_array();

		for (unsigned i = 0; i < t->ab->camp[k].n; i++)
			json_array_append_new(
			    v, arm_json(&t->camp[k].arm[i], true));
		json_object_set_new(c, "variants", v);
		json_object_set_new(
		    c, "holdout", arm_json(&t->camp[k].holdout, true));
		json_object_set_new(o, t->ab->camp[k].name, c);
	}
	return o;
}

static json_t *
lifts_json(const struct truth *t)
{
	json_t *o = json_object();

	for (unsigned k = 0; k < t->ab->n_lift; k++) {
		json_t *l = json_object();

		json_object_set_new(
		    l, "shown", arm_json(&t->lift[k].shown, false));
		json_object_set_new(
		    l, "not_shown", arm_json(&t->lift[k].not_shown, false));
		json_object_set_new(o, t->ab->lift[k].rule, l);
	}
	return o;
}

static json_t *
beacon_json(const struct truth *t)
{
	json_t *o = json_object(), *d = json_object();

	json_object_set_new(o, "posts", json_integer((json_int_t)t->beacons));
	json_object_set_new(
	    o, "retries", json_integer((json_int_t)t->retries));
	for (unsigned k = 0; k < t->n_decisions; k++) {
		const struct truth_decision *x = &t->decision[k];
		json_t *e = json_object();

		json_object_set_new(
		    e, "answers", json_integer((json_int_t)x->answers));
		json_object_set_new(
		    e, "visitors", json_integer((json_int_t)x->visitors));
		json_object_set_new(
		    e, "first_ms", json_integer((json_int_t)x->first_ms));
		json_object_set_new(
		    e, "last_ms", json_integer((json_int_t)x->last_ms));
		json_object_set_new(d, x->id, e);
	}
	json_object_set_new(o, "decisions", d);
	json_object_set_new(
	    o, "decisions_truncated", json_boolean(t->decisions_full));
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
	if (t->ab != NULL && t->ab->n_camp > 0)
		json_object_set_new(o, "campaigns", campaigns_json(t));
	if (t->ab != NULL && t->ab->n_lift > 0)
		json_object_set_new(o, "rule_lift", lifts_json(t));
	if (t->beacon)
		json_object_set_new(o, "beacon", beacon_json(t));
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
