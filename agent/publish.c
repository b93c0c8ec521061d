/*
 * publish.c - the publisher thread: aggregates, sessions and events out on
 * nng PUB.
 *
 * Owns the PUB socket, the per-kind sequence numbers and the last totals
 * deltas are computed against; only the publisher thread touches them.
 * Heatmap increments (drained from the agent's heat table) go out once a
 * second, bounded per message; what does not fit waits for the next one.
 * What one delta period produces goes out as one nng message, its parts
 * back to back (wire_msg_next): a console of 64 agents was spending most of
 * its CPU in nng's threads waking for ~30 small messages per agent and
 * second.  PUB never blocks: a slow subscriber loses messages (nng drops
 * them), which it detects by sequence number and repairs from the next
 * snapshot.
 */
#include "publish.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

#include "camprt.h"
#include "clock.h"
#include "fault.h"
#include "forgot.h"
#include "heat.h"
#include "log.h"
#include "rep.h"
#include "rules_rt.h"

struct publisher {
	struct agent *a;
	nng_socket sock;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	bool joined;	/* a subscriber connected: snapshot now (lock) */
	uint64_t seq[WIRE_KIND_MAX + 1];
	struct agg last;	/* totals of the last delta */
	msgpack_sbuffer sb;	/* the part being written */
	msgpack_sbuffer batch;	/* the parts of this period, to send */
	unsigned batch_parts;
	struct session_summary *sessions;
	struct sesstab_event *recent;
	struct nudge_event *events;
	struct wire_heat *heat;	/* the HEAT body being built */
};

#define PUBLISH_HEAT_MS 1000
/* A batch is sent before it would pass this; a bigger part goes alone. */
#define PUBLISH_BATCH_BYTES (1u << 20)

/*
 * Store failures the agent's own notes missed (the rules' visitor memory,
 * campaign counters, control commands write too): they count in serr, and
 * give lerr when the agent has noted nothing itself.
 */
static void
publish_store_failures(struct agent *a, struct wire_snapshot *s)
{
	char msg[sizeof(s->last_error)];
	uint64_t n;

	if (a->store == NULL)
		return;
	n = store_failures(a->store, msg, sizeof(msg));
	if (n <= s->store_errors)
		return;
	s->store_errors = n;
	if (s->last_error[0] == '\0')
		snprintf(s->last_error, sizeof(s->last_error), "store: %.119s",
		    msg);
}

void
publish_fill_snapshot(struct agent *a, struct wire_snapshot *s)
{
	const struct funnel *f = &a->cfg->funnel;

	memset(s, 0, sizeof(*s));
	s->boot_id = a->boot_id;
	s->uptime_ms = clock_mono_ms() - a->started_mono;
	snprintf(s->version, sizeof(s->version), "%s", NUDGE_VERSION);
	snprintf(s->control, sizeof(s->control), "%s",
	    a->cfg->agent.advertise[0] ? a->cfg->agent.advertise :
	    a->cfg->agent.control);
	snprintf(s->funnel, sizeof(s->funnel), "%s", f->name);
	s->n_steps = f->n;
	for (uint8_t i = 0; i < f->n; i++)
		snprintf(s->steps[i], sizeof(s->steps[i]), "%s",
		    f->step[i].label);
	s->delta_seq = atomic_load(&a->delta_seq);
	s->store_errors = atomic_load(&a->store_errors);
	s->pub_dropped = atomic_load(&a->pub_dropped);
	agent_last_error(a, s->last_error, sizeof(s->last_error));
	publish_store_failures(a, s);
	agent_total(a, &s->agg);
	s->n_forgot = (uint8_t)forgot_list(a->forgot, clock_mono_ms(),
	    s->forgot, WIRE_FORGOT_MAX);
	if (a->rules != NULL)	/* versions and per-rule counters */
		rrt_fill_snapshot(a->rules, s);
	if (a->camps != NULL)	/* campaigns and the rules' lift counters */
		crt_fill_snapshot(a->camps, s);
}

/* Sends the batch, one nng message; its parts count as dropped if not. */
static void
publish_flush(struct publisher *p)
{
	nng_msg *msg;

	if (p->batch_parts == 0)
		return;
	if (nng_msg_alloc(&msg, p->batch.size) != 0) {
		msg = NULL;
	} else {
		memcpy(nng_msg_body(msg), p->batch.data, p->batch.size);
		if (fault_hit(FAULT_SEND) || nng_sendmsg(p->sock, msg, 0) != 0) {
			nng_msg_free(msg);
			msg = NULL;
		}
	}
	if (msg == NULL)
		atomic_fetch_add(&p->a->pub_dropped, p->batch_parts);
	msgpack_sbuffer_clear(&p->batch);
	p->batch_parts = 0;
}

/* Adds the part just written (p->sb) to the batch. */
static void
publish_send(struct publisher *p)
{
	if (p->batch.size + p->sb.size > PUBLISH_BATCH_BYTES)
		publish_flush(p);
	if (msgpack_sbuffer_write(&p->batch, p->sb.data, p->sb.size) != 0) {
		atomic_fetch_add(&p->a->pub_dropped, 1);
		return;
	}
	p->batch_parts++;
}

static void
publish_header(struct publisher *p, int kind, struct wire_header *h)
{
	memset(h, 0, sizeof(*h));
	h->v = WIRE_VERSION;
	h->kind = (uint8_t)kind;
	snprintf(h->agent, sizeof(h->agent), "%s", p->a->cfg->agent.name);
	h->seq = p->seq[kind]++;
	h->ts_ms = clock_wall_ms();
}

/* A delta, and when due a snapshot of the very same totals. */
static void
publish_aggregates(struct publisher *p, bool with_snapshot)
{
	struct wire_snapshot *s = malloc(sizeof(*s));
	struct agg *delta = malloc(sizeof(*delta));
	struct wire_header h;

	if (s == NULL || delta == NULL) {
		free(s);
		free(delta);
		atomic_fetch_add(&p->a->pub_dropped, 1);
		return;
	}
	publish_header(p, WIRE_DELTA, &h);
	atomic_store(&p->a->delta_seq, h.seq);
	publish_fill_snapshot(p->a, s);
	agg_diff(delta, &s->agg, &p->last);
	p->last = s->agg;
	if (wire_write_delta(&p->sb, &h, p->a->boot_id, delta) == 0)
		publish_send(p);
	if (with_snapshot) {
		publish_header(p, WIRE_SNAPSHOT, &h);
		if (wire_write_snapshot(&p->sb, &h, s) == 0)
			publish_send(p);
	}
	free(delta);
	free(s);
}

static void
publish_sessions(struct publisher *p)
{
	unsigned cap = p->a->cfg->agent.sample_sessions;
	struct wire_header h;
	size_t n;

	if (cap == 0 || (n = sesstab_changed(p->a->sessions, p->sessions,
	    cap)) == 0)
		return;
	publish_header(p, WIRE_SESSION, &h);
	if (wire_write_sessions(&p->sb, &h, p->sessions, n) == 0)
		publish_send(p);
}

static size_t
events_budget(const struct conf_agent *c)
{
	size_t per_tick = (size_t)c->sample_events * c->delta_ms / 1000;
	return per_tick > 0 ? per_tick : (c->sample_events > 0);
}

static void
publish_events(struct publisher *p)
{
	size_t cap = events_budget(&p->a->cfg->agent), n;
	struct wire_header h;

	if (cap == 0)
		return;
	if (cap > 1000)
		cap = 1000;
	n = sesstab_recent_events(p->a->sessions, p->recent, cap);
	if (n == 0)
		return;
	for (size_t i = 0; i < n; i++) {
		struct nudge_event *ev = &p->events[i];
		const struct sesstab_event *r = &p->recent[i];
		event_init(ev);
		ev->type = r->type;
		ev->device = r->device;
		memcpy(ev->country, r->country, sizeof(ev->country));
		ev->ts_ms = r->ts_ms;
		ev->visitor = strv_of(r->visitor);
		ev->page = strv_of(r->page);
		ev->name = strv_of(r->name);
		ev->value_cents = r->value_cents;
	}
	publish_header(p, WIRE_EVENT, &h);
	if (wire_write_events(&p->sb, &h, p->events, n) == 0)
		publish_send(p);
}

static void
publish_heat(struct publisher *p)
{
	struct wire_header h;

	heat_drain(p->a->heat, p->heat);
	if (p->heat->n_pages == 0)
		return;
	publish_header(p, WIRE_HEAT, &h);
	if (wire_write_heat(&p->sb, &h, p->heat) == 0)
		publish_send(p);
}

/*
 * A new subscriber gets a snapshot at once rather than at the next
 * snapshot_ms: a console that dials a (re)starting agent would otherwise
 * miss the first snapshot, sent before it connected, and wait a period.
 * Runs on an nng thread: only sets the flag and wakes the publisher.
 */
static void
publish_joined(nng_pipe pipe, nng_pipe_ev ev, void *arg)
{
	struct publisher *p = arg;

	(void)pipe;
	(void)ev;
	pthread_mutex_lock(&p->lock);
	p->joined = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
}

static void *
publish_thread(void *arg)
{
	struct publisher *p = arg;
	const struct conf_agent *c = &p->a->cfg->agent;
	uint64_t next_snapshot = clock_mono_ms();
	uint64_t next_heat = next_snapshot + PUBLISH_HEAT_MS;

	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		bool joined = p->joined;
		p->joined = false;
		pthread_mutex_unlock(&p->lock);
		uint64_t now = clock_mono_ms();
		bool snap = now >= next_snapshot || joined;
		if (snap)
			next_snapshot = now + c->snapshot_ms;
		publish_aggregates(p, snap);
		publish_sessions(p);
		publish_events(p);
		if (now >= next_heat) {
			next_heat = now + PUBLISH_HEAT_MS;
			publish_heat(p);
		}
		publish_flush(p);
		pthread_mutex_lock(&p->lock);
		struct timespec ts;
		clock_mono_deadline(&ts, c->delta_ms);
		if (!p->stop && !p->joined)
			pthread_cond_timedwait(&p->wake, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	publish_aggregates(p, true);
	publish_flush(p);
	return NULL;
}

static void
publish_free(struct publisher *p)
{
	msgpack_sbuffer_destroy(&p->sb);
	msgpack_sbuffer_destroy(&p->batch);
	free(p->sessions);
	free(p->recent);
	free(p->events);
	free(p->heat);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static int
publish_open(struct publisher *p, const char *url, struct nudge_diag *d)
{
	int rv = nng_pub0_open(&p->sock);

	if (rv != 0) {
		nudge_diag_set(d, 0, 0, "pub socket: %s", nng_strerror(rv));
		return NUDGE_ECONN;
	}
	/* deep per-subscriber queues: PUB drops for slow readers otherwise */
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, 1024);
	nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ, 1024);
	nng_pipe_notify(p->sock, NNG_PIPE_EV_ADD_POST, publish_joined, p);
	if ((rv = rep_listen(p->sock, url, d)) != 0) {
		nng_close(p->sock);
		return rv;
	}
	return 0;
}

int
publish_start(struct publisher **out, struct agent *a, struct nudge_diag *d)
{
	struct publisher *p = calloc(1, sizeof(*p));
	unsigned ns = a->cfg->agent.sample_sessions;
	int rv;

	if (p == NULL)
		return NUDGE_ENOMEM;
	p->a = a;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	msgpack_sbuffer_init(&p->sb);
	msgpack_sbuffer_init(&p->batch);
	p->sessions = calloc(ns ? ns : 1, sizeof(*p->sessions));
	p->recent = calloc(1000, sizeof(*p->recent));
	p->events = calloc(1000, sizeof(*p->events));
	p->heat = malloc(sizeof(*p->heat));
	if (p->sessions == NULL || p->recent == NULL || p->events == NULL ||
	    p->heat == NULL) {
		publish_free(p);
		return NUDGE_ENOMEM;
	}
	agent_total(a, &p->last);
	if ((rv = publish_open(p, a->cfg->agent.pub, d)) != 0) {
		publish_free(p);
		return rv;
	}
	if (pthread_create(&p->thread, NULL, publish_thread, p) != 0) {
		nng_close(p->sock);
		publish_free(p);
		nudge_diag_set(d, 0, 0, "cannot start the publisher thread");
		return NUDGE_ENOMEM;
	}
	*out = p;
	return 0;
}

void
publish_stop(struct publisher *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	nng_close(p->sock);
	publish_free(p);
}
