/*
 * relay.c - nudged --relay (relay.h): follows upstream agents with the
 * console's link and model, republishes the merged aggregates with its own
 * snapshot/delta chain, samples sessions and events, and forwards control
 * requests to every upstream unchanged.
 *
 * Main thread only: one poll() over every link's fds and the REP fd, and a
 * tick every RELAY_TICK_MS; no nng callback touches anything here.
 */
#include "relay.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>

#include "agg.h"
#include "auth.h"
#include "clock.h"
#include "lguard.h"
#include "link.h"
#include "log.h"
#include "model.h"
#include "reaper.h"
#include "tlsconf.h"
#include "wire.h"

#define RELAY_TICK_MS 20
#define RELAY_PING_MS 10000	/* keeps each REQ dialed while idle */
#define RELAY_SESSIONS_MAX 200	/* per SESSION message */
#define RELAY_EVENTS_MAX 256	/* per EVENT message (the model's ring) */
#define RELAY_HEAT_MS 1000	/* HEAT merged over this, as agents send it */
#define RELAY_HEAT_PAGES 64	/* pages held between two HEAT sends */

/* One page's heatmap increments heard since the last HEAT sent. */
struct relay_heat_page {
	char name[WIRE_HEAT_PAGE_MAX];
	uint32_t len;
	uint32_t cells[WIRE_HEAT_CELLS];
	uint32_t reach[WIRE_HEAT_BANDS];
};

/* What one upstream answered to the request being forwarded. */
struct relay_answer {
	bool done;
	bool sent;
	int status;
	char message[320];
	msgpack_sbuffer body;	/* the reply's body, re-packed */
};

struct relay {
	const struct nudge_config *cfg;
	unsigned n;
	struct link *links;
	struct model m;
	nng_socket pub, rep;
	bool pub_open, rep_open;
	int rep_fd;
	uint64_t boot_id, start_ms;
	uint64_t seq[WIRE_KIND_MAX + 1];
	bool have_seq[WIRE_KIND_MAX + 1];
	struct agg sent;	/* totals a console holds after our last delta */
	bool snap_now;		/* publish a snapshot at the next tick */
	uint64_t next_delta_ms, next_snap_ms;
	uint64_t pub_dropped;
	unsigned ev_head;	/* model ring position already republished */
	uint64_t sess_ms;	/* sessions seen after this are new */
	struct wire_snapshot *snap; /* scratch, ~100 KB */
	struct session_summary *sess; /* scratch, RELAY_SESSIONS_MAX */
	struct relay_heat_page *heat; /* RELAY_HEAT_PAGES, n_heat in use */
	unsigned n_heat;
	struct wire_heat *heat_msg; /* scratch, ~24 KB */
	uint64_t next_heat_ms;
	uint64_t heat_early;	/* sends before RELAY_HEAT_MS: pages full */
	uint64_t heat_clipped;	/* counts that would pass UINT32_MAX */
	msgpack_sbuffer sb;
	/* the request being forwarded (at most one) */
	bool fwd;
	uint64_t fwd_gen;
	uint64_t fwd_deadline;
	nng_msg *fwd_req;	/* its bytes, owned */
	uint8_t fwd_id[WIRE_ID_LEN];
	bool fwd_sessions;	/* merge the answers (relay_sessions_reply) */
	int fwd_sort;		/* its order and page size */
	uint64_t fwd_lim;
	unsigned fwd_left;
	struct relay_answer *ans; /* n */
	uint64_t *pinged_ms;	/* n */
	struct relay_call *calls; /* n */
	unsigned ping_n;	/* replies to our pings, ignored */
	/* [console] key: agents with credentials refuse (and audit) an
	 * unsigned keep-alive ping every RELAY_PING_MS otherwise */
	struct auth_key key;
	bool have_key;
};

/*
 * A forwarded call's context: one per link (a link has at most one call in
 * flight), so nothing is allocated per call and a late answer to an older
 * request is told apart by gen.
 */
struct relay_call {
	struct relay *r;
	uint64_t gen;
};

/* Commands sent on to every upstream as they came (relay.h). */
static const char *const relay_forward[] = {
    "rules_put", "rules_rollback", "context_set", "campaign_change",
    "message", "forget", "rules_get", "rules_list", "rules_stats",
    "campaign_list", "sessions", "visitor", "audit_tail", "context_get",
    "heat_pages", "heat", "history", NULL};

static bool
relay_forwards(const char *cmd)
{
	for (int i = 0; relay_forward[i] != NULL; i++)
		if (strcmp(relay_forward[i], cmd) == 0)
			return true;
	return false;
}

/* ---- publishing -------------------------------------------------------- */

/* r->sb as one nng message, or NULL: sized at once, so nothing can fail
 * half way and leave a message behind. */
static nng_msg *
relay_msg(const struct relay *r)
{
	nng_msg *msg;

	if (nng_msg_alloc(&msg, r->sb.size) != 0)
		return NULL;
	memcpy(nng_msg_body(msg), r->sb.data, r->sb.size);
	return msg;
}

static void
relay_send(struct relay *r)
{
	nng_msg *msg = relay_msg(r);

	if (msg == NULL) {
		r->pub_dropped++;
		return;
	}
	if (nng_sendmsg(r->pub, msg, NNG_FLAG_NONBLOCK) != 0) {
		nng_msg_free(msg);
		r->pub_dropped++;
	}
}

/* The header of the next message of kind; the seq is taken. */
static struct wire_header
relay_header(struct relay *r, int kind)
{
	struct wire_header h = {WIRE_VERSION, (uint8_t)kind, "", 0,
	    clock_wall_ms()};

	snprintf(h.agent, sizeof(h.agent), "%s", r->cfg->agent.name);
	h.seq = r->have_seq[kind] ? r->seq[kind] + 1 : 0;
	r->seq[kind] = h.seq;
	r->have_seq[kind] = true;
	return h;
}

static bool
relay_went_down(const struct agg *now, const struct agg *before)
{
	for (int i = 0; i < AGG_COUNTERS; i++)
		if (now->c[i] < before->c[i])
			return true;
	return false;
}

/*
 * One delta: merged - sent.  A counter that went down cannot be a delta:
 * publish a zero delta and ask for a snapshot now (it replaces the totals).
 */
static void
relay_delta(struct relay *r)
{
	const struct agg *merged = model_merged(&r->m);
	struct wire_header h = relay_header(r, WIRE_DELTA);
	struct agg d;

	if (relay_went_down(merged, &r->sent)) {
		agg_init(&d);
		memcpy(d.g, r->sent.g, sizeof(d.g));
		r->snap_now = true;
	} else {
		agg_diff(&d, merged, &r->sent);
		r->sent = *merged;
	}
	if (wire_write_delta(&r->sb, &h, r->boot_id, &d) == 0)
		relay_send(r);
}

static struct wire_rule_stat *
relay_rule(struct wire_snapshot *s, const char *name, bool shadow)
{
	for (unsigned i = 0; i < s->n_rules; i++)
		if (s->rules[i].shadow_set == shadow &&
		    strcmp(s->rules[i].name, name) == 0)
			return &s->rules[i];
	if (s->n_rules == WIRE_RULES_MAX)
		return NULL;
	memset(&s->rules[s->n_rules], 0, sizeof(s->rules[0]));
	snprintf(s->rules[s->n_rules].name, sizeof(s->rules[0].name), "%s",
	    name);
	s->rules[s->n_rules].shadow_set = shadow;
	return &s->rules[s->n_rules++];
}

static void
relay_add_rules(struct wire_snapshot *s, const struct wire_snapshot *a)
{
	for (unsigned i = 0; i < a->n_rules; i++) {
		const struct wire_rule_stat *x = &a->rules[i];
		struct wire_rule_stat *y =
		    relay_rule(s, x->name, x->shadow_set);
		if (y == NULL)
			continue;
		y->m += x->m, y->s += x->s, y->c += x->c, y->sh += x->sh;
		y->ho += x->ho, y->sho += x->sho, y->tn += x->tn;
		y->tx += x->tx, y->hn += x->hn, y->hx += x->hx;
	}
}

/* Campaigns by name: the first agent's definition, every agent's arms. */
static void
relay_add_camps(struct wire_snapshot *s, const struct wire_snapshot *a)
{
	for (unsigned i = 0; i < a->n_camps; i++) {
		const struct wire_campaign *x = &a->camps[i];
		struct wire_campaign *y = NULL;
		for (unsigned j = 0; j < s->n_camps && y == NULL; j++)
			if (strcmp(s->camps[j].c.name, x->c.name) == 0)
				y = &s->camps[j];
		if (y == NULL) {
			if (s->n_camps < WIRE_CAMPS_MAX)
				s->camps[s->n_camps++] = *x;
			continue;
		}
		for (unsigned v = 0; v < CAMP_VARIANTS_MAX; v++) {
			y->arm[v].n += x->arm[v].n;
			y->arm[v].x += x->arm[v].x;
			y->arm[v].rev_cents += x->arm[v].rev_cents;
			for (unsigned g = 0; g < RULE_GUARDRAILS_MAX; g++)
				y->arm[v].g[g] += x->arm[v].g[g];
			for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
				y->arm[v].steps[k] += x->arm[v].steps[k];
		}
	}
}

static void
relay_add_forgot(struct wire_snapshot *s, const struct wire_snapshot *a)
{
	for (unsigned i = 0; i < a->n_forgot && s->n_forgot < WIRE_FORGOT_MAX;
	    i++)
		s->forgot[s->n_forgot++] = a->forgot[i];
}

/* The snapshot body the relay publishes and answers `state` with. */
static void
relay_build_snapshot(struct relay *r, struct wire_snapshot *s)
{
	const struct wire_snapshot *fs = model_funnel_source(&r->m);
	const struct conf_agent *c = &r->cfg->agent;
	unsigned up = 0;

	memset(s, 0, sizeof(*s));
	s->boot_id = r->boot_id;
	s->uptime_ms = clock_mono_ms() - r->start_ms;
	snprintf(s->version, sizeof(s->version), "%s", NUDGE_VERSION);
	snprintf(s->control, sizeof(s->control), "%s",
	    c->advertise[0] ? c->advertise : c->control);
	if (fs != NULL) {
		memcpy(s->funnel, fs->funnel, sizeof(s->funnel));
		s->n_steps = fs->n_steps;
		memcpy(s->steps, fs->steps, sizeof(s->steps));
	}
	s->delta_seq = r->seq[WIRE_DELTA];
	for (unsigned i = 0; i < r->n; i++) {
		const struct model_agent *a = &r->m.agents[i];
		if (!a->up || !a->have_snapshot)
			continue;
		if (up == 0 || a->snap.rules_version < s->rules_version)
			s->rules_version = a->snap.rules_version;
		if (up == 0 || a->snap.shadow_version < s->shadow_version)
			s->shadow_version = a->snap.shadow_version;
		up++;
		s->store_errors += a->snap.store_errors;
		s->pub_dropped += a->snap.pub_dropped;
		relay_add_rules(s, &a->snap);
		relay_add_camps(s, &a->snap);
		relay_add_forgot(s, &a->snap);
	}
	s->pub_dropped += r->pub_dropped;
	if (up < r->n)
		snprintf(s->last_error, sizeof(s->last_error),
		    "relay: %u of %u upstream agents down", r->n - up, r->n);
	s->agg = r->sent;
	s->agg.visitors = model_merged(&r->m)->visitors;
}

static void
relay_snapshot(struct relay *r)
{
	struct wire_header h;

	relay_delta(r);
	if (r->snap_now) {
		/* the counters went down: totals restart here */
		r->sent = *model_merged(&r->m);
		r->snap_now = false;
	}
	relay_build_snapshot(r, r->snap);
	h = relay_header(r, WIRE_SNAPSHOT);
	if (wire_write_snapshot(&r->sb, &h, r->snap) == 0)
		relay_send(r);
}

/* Sessions the model heard of since the last tick, newest first. */
static void
relay_sessions(struct relay *r)
{
	unsigned cap = r->cfg->agent.sample_sessions;
	uint64_t newest = r->sess_ms;
	size_t n = 0;

	if (cap > RELAY_SESSIONS_MAX)
		cap = RELAY_SESSIONS_MAX;
	for (size_t i = 0; i < r->m.n_sessions && n < cap; i++) {
		const struct model_session *s = &r->m.sessions[i];
		if (s->seen_ms <= r->sess_ms)
			continue;
		if (s->seen_ms > newest)
			newest = s->seen_ms;
		r->sess[n++] = s->s;
	}
	r->sess_ms = newest;
	if (n > 0) {
		struct wire_header h = relay_header(r, WIRE_SESSION);
		if (wire_write_sessions(&r->sb, &h, r->sess, n) == 0)
			relay_send(r);
	}
}

static struct nudge_strv
relay_strv(const char *s)
{
	return (struct nudge_strv){s, strlen(s)};
}

/* Events that entered the model's ring since the last tick. */
static void
relay_events(struct relay *r)
{
	static struct nudge_event ev[RELAY_EVENTS_MAX];
	unsigned fresh = (r->m.ev_head + MODEL_EVENTS_MAX - r->ev_head) %
	    MODEL_EVENTS_MAX;
	unsigned cap = r->cfg->agent.sample_events;
	size_t n = 0;

	r->ev_head = r->m.ev_head;
	if (cap > RELAY_EVENTS_MAX)
		cap = RELAY_EVENTS_MAX;
	if (fresh > cap)
		fresh = cap;
	for (unsigned i = fresh; i-- > 0;) {
		const struct model_event *e = model_event_at(&r->m, i);
		if (e == NULL)
			continue;
		event_init(&ev[n]);
		ev[n].type = e->type;
		ev[n].device = e->device;
		memcpy(ev[n].country, e->country, sizeof(ev[n].country));
		ev[n].name = relay_strv(e->name);
		ev[n].visitor = relay_strv(e->visitor);
		ev[n].page = relay_strv(e->page);
		ev[n].ts_ms = e->ts_ms;
		ev[n].value_cents = e->value_cents;
		n++;
	}
	if (n > 0) {
		struct wire_header h = relay_header(r, WIRE_EVENT);
		if (wire_write_events(&r->sb, &h, ev, n) == 0)
			relay_send(r);
	}
}

/*
 * HEAT is additive (increments per cell and band), so the agents' messages
 * are merged per page and sent as one stream every RELAY_HEAT_MS: a
 * console adds the relay's increments exactly as it would the agents'.
 */
static void
relay_heat_pack(struct relay_heat_page *p, struct wire_heat *v)
{
	struct wire_heat_page *wp = &v->pages[v->n_pages++];

	wp->page = (struct nudge_strv){p->name, p->len};
	wp->first = v->n_cells;
	wp->n_cells = 0;
	for (unsigned c = 0; c < WIRE_HEAT_CELLS; c++)
		if (p->cells[c] != 0) {
			v->cells[v->n_cells++] =
			    (struct wire_heat_cell){(uint16_t)c, p->cells[c]};
			wp->n_cells++;
		}
	memcpy(wp->reach, p->reach, sizeof(wp->reach));
}

/* Sends every page held, in as many HEAT messages as the bounds need. */
static void
relay_heat_flush(struct relay *r)
{
	struct wire_heat *v = r->heat_msg;
	struct wire_header h;

	for (unsigned i = 0; i < r->n_heat;) {
		v->n_pages = v->n_cells = 0;
		/* a page holds at most WIRE_HEAT_CELLS < WIRE_HEAT_CELLS_MAX */
		while (i < r->n_heat && v->n_pages < WIRE_HEAT_PAGES_MAX &&
		    v->n_cells + WIRE_HEAT_CELLS <= WIRE_HEAT_CELLS_MAX)
			relay_heat_pack(&r->heat[i++], v);
		if (v->n_pages == 0)
			relay_heat_pack(&r->heat[i++], v);
		h = relay_header(r, WIRE_HEAT);
		if (wire_write_heat(&r->sb, &h, v) == 0)
			relay_send(r);
		else
			r->pub_dropped++;
	}
	r->n_heat = 0;
}

static struct relay_heat_page *
relay_heat_page(struct relay *r, struct nudge_strv name)
{
	struct relay_heat_page *p;

	for (unsigned i = 0; i < r->n_heat; i++)
		if (r->heat[i].len == name.len &&
		    memcmp(r->heat[i].name, name.ptr, name.len) == 0)
			return &r->heat[i];
	if (r->n_heat == RELAY_HEAT_PAGES) {
		relay_heat_flush(r); /* bounded: send what is held now */
		r->heat_early++;
	}
	p = &r->heat[r->n_heat++];
	memset(p, 0, sizeof(*p));
	p->len = name.len < sizeof(p->name) ? (uint32_t)name.len :
	    (uint32_t)sizeof(p->name);
	memcpy(p->name, name.ptr, p->len);
	return p;
}

static void
relay_heat_add(uint32_t *to, uint32_t n, uint64_t *clipped)
{
	if (*to > UINT32_MAX - n) {
		*clipped += 1;
		*to = UINT32_MAX;
	} else {
		*to += n;
	}
}

/* model.h's on_heat: one upstream HEAT body, merged into what is held. */
static void
relay_on_heat(void *arg, unsigned idx, const struct wire_heat *v)
{
	struct relay *r = arg;

	(void)idx;
	for (uint32_t i = 0; i < v->n_pages; i++) {
		const struct wire_heat_page *wp = &v->pages[i];
		struct relay_heat_page *p = relay_heat_page(r, wp->page);
		for (uint32_t k = 0; k < wp->n_cells; k++) {
			const struct wire_heat_cell *c = &v->cells[wp->first + k];
			relay_heat_add(&p->cells[c->cell], c->n,
			    &r->heat_clipped);
		}
		for (unsigned b = 0; b < WIRE_HEAT_BANDS; b++)
			relay_heat_add(&p->reach[b], wp->reach[b],
			    &r->heat_clipped);
	}
}

/* ---- control ----------------------------------------------------------- */

static void
relay_reply_send(struct relay *r)
{
	nng_msg *msg = relay_msg(r);

	if (msg != NULL && nng_sendmsg(r->rep, msg, 0) != 0)
		nng_msg_free(msg);
}

static void
relay_reply_simple(struct relay *r, const uint8_t id[WIRE_ID_LEN],
    int status, const char *message)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(&r->sb);
	msgpack_packer_init(&pk, &r->sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, status, message);
	msgpack_pack_nil(&pk);
	relay_reply_send(r);
}

static void
relay_answer_own(struct relay *r, const struct wire_request *rq)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(&r->sb);
	msgpack_packer_init(&pk, &r->sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, rq->id, 0, "");
	if (strcmp(rq->cmd, "state") == 0) {
		relay_build_snapshot(r, r->snap);
		wire_pack_snapshot(&pk, r->snap);
	} else {
		msgpack_pack_map(&pk, 5);
		wire_pack_cstr(&pk, "agent");
		wire_pack_cstr(&pk, r->cfg->agent.name);
		wire_pack_cstr(&pk, "ver");
		wire_pack_cstr(&pk, NUDGE_VERSION);
		wire_pack_cstr(&pk, "boot");
		msgpack_pack_uint64(&pk, r->boot_id);
		wire_pack_cstr(&pk, "up");
		msgpack_pack_uint64(&pk, clock_mono_ms() - r->start_ms);
		wire_pack_cstr(&pk, "relay");
		msgpack_pack_uint32(&pk, r->n);
	}
	relay_reply_send(r);
}

static void
relay_got(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct relay_call *c = arg;
	struct relay *r = c->r;
	struct relay_answer *a;
	msgpack_packer pk;

	if (c->gen != r->fwd_gen || !r->fwd || idx >= r->n)
		return;
	a = &r->ans[idx];
	if (a->done)
		return;
	a->done = true;
	r->fwd_left--;
	msgpack_sbuffer_clear(&a->body);
	msgpack_packer_init(&pk, &a->body, msgpack_sbuffer_write);
	if (err != 0 || rp == NULL) {
		a->status = err != 0 ? err : NUDGE_ECONN;
		snprintf(a->message, sizeof(a->message), "%s",
		    r->links[idx].last_error[0] ? r->links[idx].last_error :
		    nudge_strerror(a->status));
		msgpack_pack_nil(&pk);
		return;
	}
	a->status = rp->status;
	snprintf(a->message, sizeof(a->message), "%s", rp->message);
	msgpack_pack_object(&pk, *rp->body);
}

static void
relay_ping_got(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct relay *r = arg;

	(void)idx, (void)err, (void)rp;
	r->ping_n++;
}

/* Sends the forwarded request to every upstream not yet sent to. */
static void
relay_fwd_send(struct relay *r, uint64_t now)
{
	msgpack_sbuffer req = {nng_msg_len(r->fwd_req),
	    (char *)nng_msg_body(r->fwd_req), 0};

	for (unsigned i = 0; i < r->n; i++) {
		struct relay_answer *a = &r->ans[i];
		struct relay_call *c;
		int rv;
		if (a->sent || a->done || r->links[i].pending)
			continue; /* busy (a ping): retried next tick */
		if (r->links[i].ctl_url[0] == '\0') {
			/* never heard of: no control URL to wait for */
			a->done = true;
			a->status = NUDGE_ECONN;
			snprintf(a->message, sizeof(a->message), "relay: no "
			    "snapshot from this agent yet, so no control URL");
			msgpack_sbuffer_clear(&a->body);
			msgpack_sbuffer_write(&a->body, "\xc0", 1); /* nil */
			r->fwd_left--;
			continue;
		}
		c = &r->calls[i];
		*c = (struct relay_call){r, r->fwd_gen};
		rv = link_call(&r->links[i], &req, r->fwd_id, relay_got, c,
		    now);
		if (rv == 0)
			a->sent = true; /* else not connected: next tick */
	}
}

static void
relay_fwd_start(struct relay *r, nng_msg *msg, const struct wire_request *rq,
    uint64_t now)
{
	r->fwd = true;
	r->fwd_gen++;
	r->fwd_req = msg;
	memcpy(r->fwd_id, rq->id, WIRE_ID_LEN);
	r->fwd_deadline = now + RELAY_CALL_MS;
	r->fwd_sessions = strcmp(rq->cmd, "sessions") == 0;
	r->fwd_sort = SESSION_SORT_RECENT;
	r->fwd_lim = 50;
	if (r->fwd_sessions && rq->args != NULL) {
		char sort[16];
		if (wire_get_str(rq->args, "sort", sort, sizeof(sort)) == 0 &&
		    session_sort_from_name(sort) >= 0)
			r->fwd_sort = session_sort_from_name(sort);
		wire_get_u64(rq->args, "lim", &r->fwd_lim);
		if (r->fwd_lim > WIRE_PAGE_MAX)
			r->fwd_lim = WIRE_PAGE_MAX;
	}
	r->fwd_left = r->n;
	for (unsigned i = 0; i < r->n; i++) {
		r->ans[i].done = r->ans[i].sent = false;
		r->ans[i].status = 0;
		r->ans[i].message[0] = '\0';
	}
	relay_fwd_send(r, now);
}

static int relay_sort;	/* qsort has no context argument */

static int
relay_sess_cmp(const void *a, const void *b)
{
	return session_compare(a, b, relay_sort);
}

/* Adds the items of one agent's `sessions` answer; its total to *total. */
static void
relay_sessions_take(const struct relay_answer *a,
    struct session_summary *out, size_t cap, size_t *n, uint64_t *total)
{
	msgpack_unpacked up;
	const msgpack_object *items;
	uint64_t t = 0;

	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, a->body.data, a->body.size, NULL) ==
	    MSGPACK_UNPACK_SUCCESS) {
		wire_get_u64(&up.data, "total", &t);
		*total += t;
		items = wire_map_get(&up.data, "items");
		for (uint32_t i = 0; items != NULL &&
		    items->type == MSGPACK_OBJECT_ARRAY &&
		    i < items->via.array.size && *n < cap; i++)
			if (wire_unpack_session(&items->via.array.ptr[i],
			    &out[*n]) == 0)
				(*n)++;
	}
	msgpack_unpacked_destroy(&up);
}

/*
 * `sessions` through a relay: one answer as an agent gives it, {total,
 * items}, the agents' items merged in the asked order and cut to lim
 * (exact for the first page; a later page is each agent's page at that
 * offset, merged), plus agents: [[name, status, message, nil]...].
 */
static void
relay_sessions_reply(struct relay *r, msgpack_packer *pk)
{
	size_t cap = (size_t)r->n * (r->fwd_lim ? r->fwd_lim : 1), n = 0;
	struct session_summary *v = calloc(cap, sizeof(*v));
	uint64_t total = 0;

	for (unsigned i = 0; v != NULL && i < r->n; i++)
		if (r->ans[i].done && r->ans[i].status == 0)
			relay_sessions_take(&r->ans[i], v, cap, &n, &total);
	relay_sort = r->fwd_sort;
	if (n > 1)
		qsort(v, n, sizeof(*v), relay_sess_cmp);
	if (n > r->fwd_lim)
		n = r->fwd_lim;
	msgpack_pack_map(pk, 3);
	wire_pack_cstr(pk, "total");
	msgpack_pack_uint64(pk, total);
	wire_pack_cstr(pk, "items");
	msgpack_pack_array(pk, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		wire_pack_session(pk, &v[i]);
	wire_pack_cstr(pk, "agents");
	msgpack_pack_array(pk, r->n);
	for (unsigned i = 0; i < r->n; i++) {
		const struct relay_answer *a = &r->ans[i];
		msgpack_pack_array(pk, 4);
		wire_pack_cstr(pk, r->m.agents[i].name[0] ?
		    r->m.agents[i].name : r->links[i].pub_url);
		msgpack_pack_int(pk, a->done ? a->status : NUDGE_ETIMEOUT);
		wire_pack_cstr(pk, a->done ? a->message : "no answer");
		msgpack_pack_nil(pk);
	}
	free(v);
}

/* Everyone answered or the time is up: the envelope (relay.h). */
static void
relay_fwd_finish(struct relay *r)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(&r->sb);
	msgpack_packer_init(&pk, &r->sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, r->fwd_id, 0, "");
	if (r->fwd_sessions) {
		relay_sessions_reply(r, &pk);
		goto send;
	}
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, r->n);
	for (unsigned i = 0; i < r->n; i++) {
		struct relay_answer *a = &r->ans[i];
		const struct model_agent *ma = &r->m.agents[i];
		msgpack_pack_array(&pk, 4);
		wire_pack_cstr(&pk,
		    ma->name[0] ? ma->name : r->links[i].pub_url);
		if (!a->done) {
			log_warn("relay: %s not %s (link %s, %s%s)",
			    r->links[i].pub_url, a->sent ? "answering" :
			    "reached", link_state_name(r->links[i].state),
			    r->links[i].ctl_url[0] ? r->links[i].ctl_url :
			    "no control URL", r->links[i].pending ?
			    ", busy" : "");
			msgpack_pack_int(&pk, a->sent ? NUDGE_ETIMEOUT :
			    NUDGE_ECONN);
			wire_pack_cstr(&pk, a->sent ? "no answer through the relay" :
			    "relay: agent not reachable");
			msgpack_pack_nil(&pk);
			continue;
		}
		msgpack_pack_int(&pk, a->status);
		wire_pack_cstr(&pk, a->message);
		msgpack_sbuffer_write(&r->sb, a->body.data, a->body.size);
	}
send:
	relay_reply_send(r);
	nng_msg_free(r->fwd_req);
	r->fwd_req = NULL;
	r->fwd = false;
	r->fwd_gen++; /* late answers are ignored */
}

/* One request from the REP socket. */
static void
relay_request(struct relay *r, nng_msg *msg, uint64_t now)
{
	struct wire_request rq;
	struct nudge_diag d = {0};
	static const uint8_t zero[WIRE_ID_LEN];

	if (wire_request_parse(&rq, nng_msg_body(msg), nng_msg_len(msg),
	    &wire_limits_default, &d) != 0) {
		relay_reply_simple(r, zero, NUDGE_EINVAL, d.msg);
		nng_msg_free(msg);
		return;
	}
	if (strcmp(rq.cmd, "ping") == 0 || strcmp(rq.cmd, "state") == 0) {
		relay_answer_own(r, &rq);
		nng_msg_free(msg);
	} else if (relay_forwards(rq.cmd)) {
		relay_fwd_start(r, msg, &rq, now);
	} else {
		relay_reply_simple(r, rq.id, NUDGE_EINVAL,
		    "not relayed: ask the agent that owns it");
		nng_msg_free(msg);
	}
	wire_request_fini(&rq);
}

/* ---- setup and loop ------------------------------------------------------ */

static int
relay_listen(struct relay *r, struct nudge_diag *d)
{
	const struct conf_agent *c = &r->cfg->agent;
	int rv;

	if ((rv = nng_pub0_open(&r->pub)) != 0)
		goto fail;
	r->pub_open = true;
	nng_socket_set_int(r->pub, NNG_OPT_SENDBUF, 1024);
	nng_socket_set_size(r->pub, NNG_OPT_RECVMAXSZ, 1024);
	if ((rv = lguard_listen(r->pub, c->pub)) != 0)
		goto fail;
	if ((rv = nng_rep0_open(&r->rep)) != 0)
		goto fail;
	r->rep_open = true;
	nng_socket_set_size(r->rep, NNG_OPT_RECVMAXSZ,
	    wire_limits_default.max_bytes);
	if ((rv = lguard_listen(r->rep, c->control)) != 0 ||
	    (rv = nng_socket_get_int(r->rep, NNG_OPT_RECVFD, &r->rep_fd)) != 0)
		goto fail;
	return 0;
fail:
	nudge_diag_set(d, 0, 0, "relay: cannot listen on %s / %s: %s",
	    c->pub, c->control, nng_strerror(rv));
	return NUDGE_ECONN;
}

static int
relay_init(struct relay *r, const struct nudge_config *cfg,
    struct nudge_diag *d)
{
	uint64_t now = clock_mono_ms();
	uint8_t id[WIRE_ID_LEN];

	memset(r, 0, sizeof(*r));
	r->cfg = cfg;
	r->n = cfg->relay.n_upstreams;
	if (r->n == 0) {
		nudge_diag_set(d, 0, 0,
		    "relay: no upstream ([relay] upstream or --upstream)");
		return NUDGE_ECONFIG;
	}
	/* upstream, the relay is a console: [console] tls_ca, cert, key */
	if (tlsconf_client(cfg->console.tls_ca, cfg->console.tls_cert,
	    cfg->console.tls_key, d) != 0)
		return NUDGE_ECONFIG;
	if (cfg->console.key[0] != '\0') {
		if (auth_client_load(&r->key, cfg->console.key, d) != 0)
			return NUDGE_ECONFIG;
		r->have_key = true;
	}
	r->links = calloc(r->n, sizeof(*r->links));
	r->ans = calloc(r->n, sizeof(*r->ans));
	r->pinged_ms = calloc(r->n, sizeof(*r->pinged_ms));
	r->calls = calloc(r->n, sizeof(*r->calls));
	r->snap = calloc(1, sizeof(*r->snap));
	r->sess = calloc(RELAY_SESSIONS_MAX, sizeof(*r->sess));
	r->heat = calloc(RELAY_HEAT_PAGES, sizeof(*r->heat));
	r->heat_msg = calloc(1, sizeof(*r->heat_msg));
	if (r->links == NULL || r->ans == NULL || r->pinged_ms == NULL ||
	    r->calls == NULL ||
	    r->snap == NULL || r->sess == NULL || r->heat == NULL ||
	    r->heat_msg == NULL || model_init(&r->m, r->n) != 0)
		return NUDGE_ENOMEM;
	r->m.on_heat = relay_on_heat;
	r->m.on_heat_arg = r;
	msgpack_sbuffer_init(&r->sb);
	for (unsigned i = 0; i < r->n; i++) {
		msgpack_sbuffer_init(&r->ans[i].body);
		if (link_open(&r->links[i], i, cfg->relay.upstreams[i], now,
		    d) != 0)
			return NUDGE_ECONFIG;
	}
	wire_new_id(id);
	memcpy(&r->boot_id, id, sizeof(r->boot_id));
	r->start_ms = now;
	agg_init(&r->sent);
	return relay_listen(r, d);
}

static void
relay_fini(struct relay *r)
{
	auth_key_wipe(&r->key);
	lguard_stop();
	/* never on this thread: nng 1.5.2 can hang in a close (reaper.h) */
	if (r->rep_open)
		reaper_close(r->rep);
	if (r->pub_open)
		reaper_close(r->pub);
	for (unsigned i = 0; r->links != NULL && i < r->n; i++)
		link_close(&r->links[i]);
	for (unsigned i = 0; r->ans != NULL && i < r->n; i++)
		msgpack_sbuffer_destroy(&r->ans[i].body);
	if (r->fwd_req != NULL)
		nng_msg_free(r->fwd_req);
	if (r->m.agents != NULL)
		model_fini(&r->m);
	msgpack_sbuffer_destroy(&r->sb);
	free(r->links);
	free(r->ans);
	free(r->pinged_ms);
	free(r->calls);
	free(r->snap);
	free(r->sess);
	free(r->heat);
	free(r->heat_msg);
}

/* An idle ping on each live link keeps its REQ socket dialed. */
static void
relay_keepalive(struct relay *r, uint64_t now)
{
	for (unsigned i = 0; i < r->n && !r->fwd; i++) {
		struct link *l = &r->links[i];
		uint8_t id[WIRE_ID_LEN];
		msgpack_packer pk;
		if (l->state != LINK_LIVE || l->pending ||
		    (r->pinged_ms[i] != 0 && now - r->pinged_ms[i] <
		    RELAY_PING_MS && l->req_open))
			continue;
		msgpack_sbuffer_clear(&r->sb);
		msgpack_packer_init(&pk, &r->sb, msgpack_sbuffer_write);
		wire_new_id(id);
		wire_request_begin(&pk, "ping", id, clock_wall_ms());
		msgpack_pack_nil(&pk);
		if (wire_request_end(&pk, &r->sb, r->have_key ? r->key.id : NULL,
		        r->have_key ? r->key.secret : NULL,
		        r->have_key ? r->key.secret_len : 0) != 0)
			continue;
		/* still dialling: tried again next tick, not in RELAY_PING_MS */
		if (link_call(l, &r->sb, id, relay_ping_got, r, now) == 0)
			r->pinged_ms[i] = now;
	}
}

static void
relay_tick(struct relay *r, uint64_t now)
{
	const struct conf_agent *c = &r->cfg->agent;

	for (unsigned i = 0; i < r->n; i++)
		link_tick(&r->links[i], &r->m, now);
	if (r->fwd) {
		relay_fwd_send(r, now);
		if (r->fwd_left == 0 || now >= r->fwd_deadline)
			relay_fwd_finish(r);
	}
	relay_keepalive(r, now);
	if (now >= r->next_heat_ms) {
		relay_heat_flush(r);
		r->next_heat_ms = now + RELAY_HEAT_MS;
	}
	if (now >= r->next_snap_ms) {
		relay_snapshot(r);
		r->next_snap_ms = now + c->snapshot_ms;
		r->next_delta_ms = now + c->delta_ms;
		model_tick(&r->m, now);
	} else if (now >= r->next_delta_ms) {
		relay_delta(r);
		if (r->snap_now) {
			relay_snapshot(r);
			r->next_snap_ms = now + c->snapshot_ms;
		}
		r->next_delta_ms = now + c->delta_ms;
	} else {
		return;
	}
	relay_sessions(r);
	relay_events(r);
}

static void
relay_poll(struct relay *r, uint64_t now)
{
	struct pollfd fds[2 * CONF_AGENTS_MAX + 1];
	int nfd = 0;

	for (unsigned i = 0; i < r->n; i++)
		nfd += link_pollfds(&r->links[i], &fds[nfd]);
	if (!r->fwd) {
		fds[nfd] = (struct pollfd){r->rep_fd, POLLIN, 0};
		nfd++;
	}
	poll(fds, (nfds_t)nfd, RELAY_TICK_MS);
	now = clock_mono_ms();
	for (unsigned i = 0; i < r->n; i++)
		link_service(&r->links[i], &r->m, now);
	if (r->fwd && r->fwd_left == 0)
		relay_fwd_finish(r);
	if (!r->fwd) {
		nng_msg *msg;
		if (nng_recvmsg(r->rep, &msg, NNG_FLAG_NONBLOCK) == 0)
			relay_request(r, msg, now);
	}
}

int
relay_run(const struct nudge_config *cfg, volatile sig_atomic_t *stop,
    struct nudge_diag *d)
{
	static struct relay r;
	int rv;

	if ((rv = relay_init(&r, cfg, d)) != 0) {
		relay_fini(&r);
		return rv;
	}
	log_info("relay ready: %s, %u upstream, pub %s, control %s",
	    cfg->agent.name, r.n, cfg->agent.pub, cfg->agent.control);
	while (!*stop) {
		relay_poll(&r, clock_mono_ms());
		relay_tick(&r, clock_mono_ms());
	}
	relay_snapshot(&r);
	relay_heat_flush(&r);
	log_info("relay stopped (heat: %llu early sends, %llu counts "
	    "clipped)", (unsigned long long)r.heat_early,
	    (unsigned long long)r.heat_clipped);
	relay_fini(&r);
	return 0;
}
