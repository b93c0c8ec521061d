/*
 * model.c - the console's data model: per-agent snapshots kept current with
 * deltas, sequence and restart tracking, the merged view of the fleet, the
 * event rate and the samples of live sessions and events.
 *
 * Owns: the agents array and the sessions buffer (heap), everything else is
 * inline.  Plain data and pure functions of the messages fed in, so the
 * unit tests drive it with messages built by the wire_write_*() encoders.
 * Main thread only.
 */
#include "model.h"

#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* Sessions and events decoded from one message at most; the rest skipped. */
#define MODEL_BATCH_MAX 512

int
model_init(struct model *m, unsigned n_agents)
{
	if (n_agents == 0 || n_agents > CONF_AGENTS_MAX)
		return NUDGE_EINVAL;
	memset(m, 0, sizeof(*m));
	m->agents = calloc(n_agents, sizeof(*m->agents));
	m->session_buf =
	    calloc(2 * (size_t)MODEL_SESSIONS_MAX, sizeof(*m->session_buf));
	if (m->agents == NULL || m->session_buf == NULL) {
		free(m->agents);
		free(m->session_buf);
		return NUDGE_ENOMEM;
	}
	m->sessions = m->session_buf + MODEL_SESSIONS_MAX;
	m->n_agents = n_agents;
	agg_init(&m->merged);
	m->merged_valid = true;
	return 0;
}

void
model_fini(struct model *m)
{
	free(m->agents);
	free(m->session_buf);
	m->agents = NULL;
	m->session_buf = NULL;
	m->sessions = NULL;
	m->n_agents = 0;
}

void
model_reset_agent(struct model *m, unsigned idx)
{
	struct model_agent *a;

	if (idx >= m->n_agents)
		return;
	a = &m->agents[idx];
	a->have_snapshot = false;
	a->resync = false;
	a->have_boot = false;
	memset(a->have_seq, 0, sizeof(a->have_seq));
	memset(a->seq, 0, sizeof(a->seq));
	m->merged_valid = false;
	m->gen++;
}

void
model_set_up(struct model *m, unsigned idx, bool up)
{
	if (idx >= m->n_agents || m->agents[idx].up == up)
		return;
	m->agents[idx].up = up;
	m->merged_valid = false;
	m->rate_n = 0; /* the merged counters jump: not a rate */
	m->gen++;
}

/*
 * Sequence bookkeeping for one message of a known kind: a seq that does
 * not move forward is a restart (invariant 3); a jump is a gap.
 */
static unsigned
model_track_seq(struct model *m, unsigned idx, const struct wire_header *h)
{
	struct model_agent *a = &m->agents[idx];
	unsigned flags = 0;

	if (a->have_seq[h->kind] && h->seq <= a->seq[h->kind]) {
		model_reset_agent(m, idx);
		a->restarts++;
		flags |= MODEL_F_RESTART;
	}
	if (a->have_seq[h->kind] && h->seq > a->seq[h->kind] + 1) {
		a->lost += h->seq - a->seq[h->kind] - 1;
		flags |= MODEL_F_GAP;
	}
	a->have_seq[h->kind] = true;
	a->seq[h->kind] = h->seq;
	return flags;
}

/* A new boot id is a restart, whatever the sequence numbers say. */
static unsigned
model_track_boot(struct model *m, unsigned idx, uint64_t boot_id)
{
	struct model_agent *a = &m->agents[idx];
	unsigned flags = 0;

	if (a->have_boot && a->boot_id != boot_id) {
		model_reset_agent(m, idx);
		a->restarts++;
		flags |= MODEL_F_RESTART;
	}
	a->have_boot = true;
	a->boot_id = boot_id;
	return flags;
}

static bool
model_forgotten(const struct wire_snapshot *s, const char *vid)
{
	uint64_t h = wire_visitor_hash(strv_of(vid));

	for (unsigned i = 0; i < s->n_forgot; i++)
		if (s->forgot[i] == h)
			return true;
	return false;
}

/*
 * The agent erased these visitors (`forget`, snapshot "forgot"): their
 * session samples and sampled events leave the model, whichever agent
 * sent them.  Returns whether anything went.
 */
static bool
model_drop_forgotten(struct model *m, const struct wire_snapshot *s)
{
	struct model_event *kept;
	size_t n = 0;
	unsigned e = 0;
	bool dropped = false;

	if (s->n_forgot == 0)
		return false;
	for (size_t i = 0; i < m->n_sessions; i++)
		if (!model_forgotten(s, m->sessions[i].s.visitor))
			m->sessions[n++] = m->sessions[i];
	dropped = n != m->n_sessions;
	m->n_sessions = n;
	if ((kept = malloc(sizeof(m->events))) == NULL)
		return dropped;
	for (unsigned i = m->ev_n; i-- > 0;) {	/* oldest first */
		const struct model_event *ev = model_event_at(m, i);
		if (!model_forgotten(s, ev->visitor))
			kept[e++] = *ev;
	}
	if (e != m->ev_n) {
		memcpy(m->events, kept, e * sizeof(*kept));
		m->ev_n = e;
		m->ev_head = e % MODEL_EVENTS_MAX;
		dropped = true;
	}
	free(kept);
	return dropped;
}

static unsigned
model_on_snapshot(
    struct model *m, unsigned idx, const struct wire_msg *msg, uint64_t now_ms)
{
	struct model_agent *a = &m->agents[idx];
	struct wire_snapshot *s;
	unsigned flags;

	s = malloc(sizeof(*s));
	if (s == NULL || wire_read_snapshot(msg, s) != 0) {
		free(s);
		a->bad++;
		return MODEL_F_BAD;
	}
	flags = model_track_boot(m, idx, s->boot_id);
	flags |= model_track_seq(m, idx, &msg->h);
	/* Aggregates appearing or replaced out of sequence are a step, not
	 * a rate: start the rate window again. */
	if (!a->have_snapshot || a->resync)
		m->rate_n = 0;
	/* track_seq may have reset on a seq going back: boot still holds. */
	a->have_boot = true;
	a->boot_id = s->boot_id;
	a->snap = *s;
	if (model_drop_forgotten(m, s))
		flags |= MODEL_F_SESSIONS | MODEL_F_EVENTS;
	/* the snapshot holds every delta up to dseq: the next one applies */
	a->seq[WIRE_DELTA] = s->delta_seq;
	a->have_seq[WIRE_DELTA] = true;
	free(s);
	a->have_snapshot = true;
	a->resync = false;
	a->snapshots++;
	a->last_snapshot_ms = now_ms;
	a->up = true;
	m->merged_valid = false;
	return flags | MODEL_F_SNAPSHOT;
}

static unsigned
model_on_delta(struct model *m, unsigned idx, const struct wire_msg *msg)
{
	struct model_agent *a = &m->agents[idx];
	struct agg *d;
	uint64_t boot;
	unsigned flags;

	d = malloc(sizeof(*d));
	if (d == NULL || wire_read_delta(msg, &boot, d) != 0) {
		free(d);
		a->bad++;
		return MODEL_F_BAD;
	}
	flags = model_track_boot(m, idx, boot);
	flags |= model_track_seq(m, idx, &msg->h);
	a->have_boot = true;
	a->boot_id = boot;
	if (flags & MODEL_F_GAP)
		a->resync = true;
	if (!a->have_snapshot || a->resync) {
		free(d);
		return flags | MODEL_F_DROPPED;
	}
	agg_apply_delta(&a->snap.agg, d);
	free(d);
	m->merged_valid = false;
	return flags | MODEL_F_DELTA;
}

/*
 * The visitors of one batch of session samples, by hash: an open-addressed
 * table twice the batch's size, so that checking each of the up to
 * MODEL_SESSIONS_MAX kept samples against the batch is one or two probes
 * of its stored hash rather than a string search.  Hash 0 marks a free slot.
 */
#define MODEL_VIDSET_SLOTS (2 * MODEL_BATCH_MAX)

struct model_vidset {
	uint64_t hash[MODEL_VIDSET_SLOTS];
	const char *vid[MODEL_VIDSET_SLOTS];
};

static uint64_t
model_vid_hash(const char *vid)
{
	uint64_t h = wire_visitor_hash(strv_of(vid));

	return h != 0 ? h : 1;
}

static void
model_vidset_add(struct model_vidset *set, uint64_t h, const char *vid)
{
	size_t i = h % MODEL_VIDSET_SLOTS;

	while (set->hash[i] != 0) {
		if (set->hash[i] == h && strcmp(set->vid[i], vid) == 0)
			return;
		i = (i + 1) % MODEL_VIDSET_SLOTS;
	}
	set->hash[i] = h;
	set->vid[i] = vid;
}

static bool
model_vidset_has(const struct model_vidset *set, uint64_t h, const char *vid)
{
	for (size_t i = h % MODEL_VIDSET_SLOTS; set->hash[i] != 0;
	     i = (i + 1) % MODEL_VIDSET_SLOTS)
		if (set->hash[i] == h && strcmp(set->vid[i], vid) == 0)
			return true;
	return false;
}

static int
model_cmp_recent(const void *pa, const void *pb)
{
	return session_compare(pa, pb, SESSION_SORT_RECENT);
}

/*
 * Drops the listed samples of the batch's visitors (set) by moving the
 * samples in front of the last one dropped down over the holes: what
 * comes back is mostly recent, so this touches the front of the list, not
 * all of it.  The list then starts that many entries further.
 */
static void
model_drop_batch_visitors(struct model *m, const struct model_vidset *set)
{
	struct model_session *l = m->sessions;
	size_t last = 0, w;
	bool any = false;

	for (size_t i = 0; i < m->n_sessions; i++)
		if (model_vidset_has(set, l[i].vhash, l[i].s.visitor)) {
			last = i;
			any = true;
		}
	if (!any)
		return;
	w = last + 1;
	for (size_t i = last + 1; i-- > 0;)
		if (!model_vidset_has(set, l[i].vhash, l[i].s.visitor))
			l[--w] = l[i];
	m->sessions += w;
	m->n_sessions -= w;
}

/*
 * Puts a batch of session samples in front of the list, newest first, and
 * drops older entries of the same visitors; closed sessions only remove.
 * Every agent sends a batch per delta period, so this runs often: the
 * batch is written into the room in front of the list (session_buf), and
 * the list is moved back up only when that room is used up; the kept
 * samples are found by their stored hash (n <= MODEL_BATCH_MAX).
 */
static void
model_merge_sessions(struct model *m, unsigned idx, struct session_summary *v,
    size_t n, uint64_t now_ms)
{
	struct model_vidset vids, *set = &vids;
	uint64_t hv[MODEL_BATCH_MAX];
	size_t k = 0;

	qsort(v, n, sizeof(*v), model_cmp_recent);
	memset(set->hash, 0, sizeof(set->hash));
	for (size_t i = 0; i < n; i++) {
		hv[i] = model_vid_hash(v[i].visitor);
		model_vidset_add(set, hv[i], v[i].visitor);
		k += !v[i].closed;
	}
	model_drop_batch_visitors(m, set);
	if ((size_t)(m->sessions - m->session_buf) < k) {
		memmove(m->session_buf + MODEL_SESSIONS_MAX, m->sessions,
		    m->n_sessions * sizeof(*m->sessions));
		m->sessions = m->session_buf + MODEL_SESSIONS_MAX;
	}
	m->sessions -= k;
	m->n_sessions += k;
	for (size_t i = 0, j = 0; i < n; i++) {
		if (v[i].closed)
			continue;
		m->sessions[j].s = v[i];
		m->sessions[j].agent = (uint16_t)idx;
		m->sessions[j].seen_ms = now_ms;
		m->sessions[j++].vhash = hv[i];
	}
	if (m->n_sessions > MODEL_SESSIONS_MAX)
		m->n_sessions = MODEL_SESSIONS_MAX;
}

static unsigned
model_on_sessions(
    struct model *m, unsigned idx, const struct wire_msg *msg, uint64_t now_ms)
{
	struct session_summary *v;
	size_t n = 0;
	unsigned flags;

	v = malloc(MODEL_BATCH_MAX * sizeof(*v));
	if (v == NULL ||
	    wire_read_sessions(msg, v, MODEL_BATCH_MAX, &n) != 0) {
		free(v);
		m->agents[idx].bad++;
		return MODEL_F_BAD;
	}
	flags = model_track_seq(m, idx, &msg->h);
	model_merge_sessions(m, idx, v, n, now_ms);
	free(v);
	return flags | MODEL_F_SESSIONS;
}

static void
model_push_event(struct model *m, unsigned idx, const struct nudge_event *ev)
{
	struct model_event *e = &m->events[m->ev_head];

	memset(e, 0, sizeof(*e));
	e->ts_ms = ev->ts_ms;
	e->type = ev->type;
	e->device = ev->device;
	e->agent = (uint16_t)idx;
	memcpy(e->country, ev->country, sizeof(e->country));
	e->country[sizeof(e->country) - 1] = '\0';
	strv_copy(e->name, sizeof(e->name), ev->name);
	strv_copy(e->visitor, sizeof(e->visitor), ev->visitor);
	strv_copy(e->page, sizeof(e->page), ev->page);
	e->value_cents = ev->value_cents;
	m->ev_head = (m->ev_head + 1) % MODEL_EVENTS_MAX;
	if (m->ev_n < MODEL_EVENTS_MAX)
		m->ev_n++;
}

static unsigned
model_on_events(struct model *m, unsigned idx, const struct wire_msg *msg)
{
	struct nudge_event *v;
	size_t n = 0;
	unsigned flags;

	v = malloc(MODEL_BATCH_MAX * sizeof(*v));
	if (v == NULL || wire_read_events(msg, v, MODEL_BATCH_MAX, &n) != 0) {
		free(v);
		m->agents[idx].bad++;
		return MODEL_F_BAD;
	}
	flags = model_track_seq(m, idx, &msg->h);
	for (size_t i = 0; i < n; i++)
		model_push_event(m, idx, &v[i]);
	free(v);
	return flags | MODEL_F_EVENTS;
}

static unsigned
model_on_heat(struct model *m, unsigned idx, const struct wire_msg *msg)
{
	struct wire_heat *v = malloc(sizeof(*v));
	unsigned flags;

	if (v == NULL || wire_read_heat(msg, v) != 0) {
		free(v);
		m->agents[idx].bad++;
		return MODEL_F_BAD;
	}
	flags = model_track_seq(m, idx, &msg->h);
	for (uint32_t i = 0; i < v->n_cells; i++)
		m->heat_clicks += v->cells[i].n;
	m->heat_gen++;
	if (m->on_heat != NULL)
		m->on_heat(m->on_heat_arg, idx, v);
	free(v);
	return flags | MODEL_F_HEAT;
}

struct model_feeding {
	struct model *m;
	unsigned idx;
	uint64_t now_ms;
	unsigned flags;
};

static void
model_feed_part(void *arg, const struct wire_msg *msg)
{
	struct model_feeding *f = arg;
	struct model *m = f->m;
	struct model_agent *a = &m->agents[f->idx];

	a->last_msg_ms = f->now_ms;
	a->ts_ms = msg->h.ts_ms;
	memcpy(a->name, msg->h.agent, sizeof(a->name));
	switch (msg->h.kind) {
	case WIRE_SNAPSHOT:
		f->flags |= model_on_snapshot(m, f->idx, msg, f->now_ms);
		break;
	case WIRE_DELTA:
		f->flags |= model_on_delta(m, f->idx, msg);
		break;
	case WIRE_SESSION:
		f->flags |= model_on_sessions(m, f->idx, msg, f->now_ms);
		break;
	case WIRE_EVENT:
		f->flags |= model_on_events(m, f->idx, msg);
		break;
	case WIRE_HEAT:
		f->flags |= model_on_heat(m, f->idx, msg);
		break;
	default:
		f->flags |= MODEL_F_SKIPPED;
		break;
	}
	m->gen++;
}

/* Every part of the message, in order (wire_msg_each). */
unsigned
model_feed(struct model *m, unsigned idx, const void *buf, size_t len,
    uint64_t now_ms)
{
	struct model_feeding f = {m, idx, now_ms, 0};
	unsigned skipped = 0;

	if (idx >= m->n_agents)
		return MODEL_F_SKIPPED;
	if (wire_msg_each(buf, len, &wire_limits_default, NULL,
	    model_feed_part, &f, &skipped) != 0) {
		m->agents[idx].bad++;
		f.flags |= MODEL_F_BAD;
	}
	return f.flags | (skipped ? MODEL_F_SKIPPED : 0);
}

const struct agg *
model_merged(struct model *m)
{
	if (!m->merged_valid) {
		agg_init(&m->merged);
		for (unsigned i = 0; i < m->n_agents; i++)
			if (m->agents[i].up && m->agents[i].have_snapshot)
				agg_add(&m->merged, &m->agents[i].snap.agg);
		m->merged_valid = true;
	}
	return &m->merged;
}

unsigned
model_agents_up(const struct model *m)
{
	unsigned n = 0;

	for (unsigned i = 0; i < m->n_agents; i++)
		if (m->agents[i].up && m->agents[i].have_snapshot)
			n++;
	return n;
}

const struct wire_snapshot *
model_funnel_source(const struct model *m)
{
	const struct wire_snapshot *any = NULL;

	for (unsigned i = 0; i < m->n_agents; i++) {
		const struct model_agent *a = &m->agents[i];

		if (!a->have_snapshot)
			continue;
		if (a->up)
			return &a->snap;
		if (any == NULL)
			any = &a->snap;
	}
	return any;
}

void
model_tick(struct model *m, uint64_t now_ms)
{
	struct model_rate_sample *s = &m->rate[m->rate_head];

	s->mono_ms = now_ms;
	s->events = model_merged(m)->c[AGG_EVENTS];
	m->rate_head = (m->rate_head + 1) % MODEL_RATE_SAMPLES;
	if (m->rate_n < MODEL_RATE_SAMPLES)
		m->rate_n++;
}

double
model_events_rate(const struct model *m)
{
	const struct model_rate_sample *newest, *oldest = NULL;
	unsigned i;

	if (m->rate_n < 2)
		return 0;
	newest = &m->rate[(m->rate_head + MODEL_RATE_SAMPLES - 1) %
	                  MODEL_RATE_SAMPLES];
	/* The oldest sample still inside the window. */
	for (i = m->rate_n; i > 1; i--) {
		const struct model_rate_sample *s =
		    &m->rate[(m->rate_head + MODEL_RATE_SAMPLES - i) %
		             MODEL_RATE_SAMPLES];

		if (newest->mono_ms - s->mono_ms <= MODEL_RATE_WINDOW_MS) {
			oldest = s;
			break;
		}
	}
	if (oldest == NULL || newest->mono_ms <= oldest->mono_ms ||
	    newest->events < oldest->events)
		return 0; /* a restart made counters go back: say nothing */
	return (double)(newest->events - oldest->events) * 1000.0 /
	       (double)(newest->mono_ms - oldest->mono_ms);
}

const struct model_event *
model_event_at(const struct model *m, unsigned i)
{
	if (i >= m->ev_n)
		return NULL;
	return &m->events[(m->ev_head + MODEL_EVENTS_MAX - 1 - i) %
	                  MODEL_EVENTS_MAX];
}

double
model_conversion(struct model *m)
{
	const struct wire_snapshot *f = model_funnel_source(m);
	const struct agg *a = model_merged(m);
	unsigned n = f != NULL && f->n_steps > 0 ? f->n_steps : 0;

	if (n == 0 || a->c[AGG_FUNNEL(0)] == 0)
		return 0;
	return (double)a->c[AGG_FUNNEL(n - 1)] / (double)a->c[AGG_FUNNEL(0)];
}
