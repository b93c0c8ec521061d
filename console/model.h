/*
 * model.h - what the console knows about its agents: plain data, no I/O,
 * no ncurses, so that it can be unit-tested by feeding it encoded messages.
 *
 * One struct model holds one struct model_agent per configured agent (by
 * index, the same index as the agent's link) and what is derived from all
 * of them: the merged aggregates, the event rate, a ring of recently
 * sampled events and a bounded, newest-first list of live session samples.
 *
 * Sequence tracking lives here rather than in link.c because it is pure
 * bookkeeping on decoded headers; the link owns sockets and timing and
 * calls model_feed() with every message it receives.
 *
 * Invariants:
 *  1. An agent's agg is valid only when have_snapshot; it is the last
 *     snapshot's aggregates with every in-sequence delta applied since.
 *  2. A delta is applied only when its seq is the previous delta's seq + 1
 *     and no resync is pending; otherwise it is dropped, the gap counted in
 *     lost and resync set.  The next snapshot replaces the agg and clears
 *     resync.
 *  3. A new boot id, or a seq going back for any kind, is a restart: the
 *     agent's aggregates and sequence state are reset and rebuilt from the
 *     next snapshot (which may be the very message that showed it).
 *  4. merged = sum of agg over agents that are up and have_snapshot; it is
 *     recomputed lazily (model_merged()).
 *  5. gen increases whenever anything visible changes, so a view redraws
 *     only when gen moved.
 *  6. A snapshot's "forgot" (visitors the agent erased, wire.h) removes
 *     those visitors' session samples and sampled events at once, from
 *     every agent's share of the model (PRIVACY.md).
 *
 * Single-threaded: the console's main thread owns the model.
 */
#ifndef NUDGE_MODEL_H
#define NUDGE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agg.h"
#include "session.h"
#include "wire.h"

#define MODEL_EVENTS_MAX 256    /* ring of sampled events */
#define MODEL_SESSIONS_MAX 2000 /* live session samples kept */
#define MODEL_RATE_SAMPLES 16   /* events/s window, one sample per tick */
#define MODEL_RATE_WINDOW_MS 5000

/* What model_feed() saw; a bit set. */
enum model_flags {
	MODEL_F_SNAPSHOT = 1 << 0, /* a snapshot was applied */
	MODEL_F_DELTA = 1 << 1,    /* a delta was applied */
	MODEL_F_DROPPED = 1 << 2,  /* a delta was dropped (gap or resync) */
	MODEL_F_GAP = 1 << 3,      /* a sequence gap was seen */
	MODEL_F_RESTART = 1 << 4,  /* the agent restarted */
	MODEL_F_SESSIONS = 1 << 5,
	MODEL_F_EVENTS = 1 << 6,
	MODEL_F_SKIPPED = 1 << 7, /* unknown kind or version, ignored */
	MODEL_F_BAD = 1 << 8,     /* undecodable, counted in bad */
	MODEL_F_HEAT = 1 << 9     /* heatmap increments arrived */
};

struct model_agent {
	char name[WIRE_AGENT_MAX + 1]; /* from the envelope, "" until then */
	bool up;                       /* set by the link (LIVE) */
	bool have_snapshot;
	bool resync; /* waiting for a snapshot */
	bool have_boot;
	uint64_t boot_id;
	bool have_seq[WIRE_KIND_MAX + 1];
	uint64_t seq[WIRE_KIND_MAX + 1];
	uint64_t lost; /* messages missed, from seq gaps */
	uint64_t bad;  /* messages that did not decode */
	uint64_t restarts;
	uint64_t snapshots;
	uint64_t last_msg_ms;      /* mono clock of the last message */
	uint64_t last_snapshot_ms; /* mono clock of the last snapshot */
	uint64_t ts_ms;            /* publisher's wall clock of the last one */
	struct wire_snapshot snap; /* last snapshot; snap.agg is invariant 1 */
};

/* An owned copy of a sampled event (wire events borrow their buffer). */
struct model_event {
	uint64_t ts_ms;
	uint8_t type;
	uint8_t device;
	uint16_t agent;
	char country[3];
	char name[EVENT_NAME_MAX + 1];
	char visitor[EVENT_VISITOR_MAX + 1];
	char page[SESSION_PAGE_MAX];
	int64_t value_cents;
};

struct model_session {
	struct session_summary s;
	uint16_t agent;
	uint64_t seen_ms; /* mono clock when last heard of */
	uint64_t vhash;   /* wire_visitor_hash(s.visitor), never 0 */
};

struct model_rate_sample {
	uint64_t mono_ms;
	uint64_t events;
};

struct model {
	unsigned n_agents;
	struct model_agent *agents; /* owned, n_agents */
	uint64_t gen;
	bool merged_valid;
	struct agg merged;
	/* events/s */
	struct model_rate_sample rate[MODEL_RATE_SAMPLES];
	unsigned rate_n, rate_head;
	/* ring of sampled events, newest at (ev_head - 1) */
	struct model_event events[MODEL_EVENTS_MAX];
	unsigned ev_head, ev_n;
	/* live sessions, newest first: sessions[0 .. n_sessions) */
	struct model_session *sessions; /* borrowed, points into session_buf */
	size_t n_sessions;
	/*
	 * Owned, 2 * MODEL_SESSIONS_MAX entries, with the list in its upper
	 * part: a batch goes in front by moving sessions down (model.c
	 * model_merge_sessions), and the list moves back up only once the room
	 * in front is used up, rather than being copied for every batch.
	 */
	struct model_session *session_buf;
	/*
	 * Heatmaps are asked for on demand (view_heat); HEAT messages only
	 * say that some page changed: heat_gen moves, the view asks again.
	 */
	uint64_t heat_gen;
	uint64_t heat_clicks; /* clicks in the increments heard so far */
	/* NULL, or each HEAT body as decoded (the relay merges and resends) */
	void (*on_heat)(void *arg, unsigned idx, const struct wire_heat *v);
	void *on_heat_arg;
};

/* Allocates the model for n agents (1..CONF_AGENTS_MAX): 0 or ENOMEM. */
int model_init(struct model *m, unsigned n_agents);
void model_fini(struct model *m);

/*
 * Decodes one published message from agent idx and applies it (see the
 * invariants).  now_ms is the mono clock.  Returns enum model_flags bits;
 * never fails: bad input is counted, not fatal.
 */
unsigned model_feed(struct model *m, unsigned idx, const void *buf, size_t len,
    uint64_t now_ms);

/* The link says whether the agent counts as up (LIVE). */
void model_set_up(struct model *m, unsigned idx, bool up);

/*
 * Forgets an agent's aggregates and sequence state (used on restart);
 * counters of lost and bad messages are kept.
 */
void model_reset_agent(struct model *m, unsigned idx);

/* Merged aggregates of the agents that are up (invariant 4); borrowed. */
const struct agg *model_merged(struct model *m);

/* Agents up with a snapshot. */
unsigned model_agents_up(const struct model *m);

/*
 * The snapshot that names the funnel: the first up agent's, else any
 * agent's with a snapshot, else NULL.  Borrowed.
 */
const struct wire_snapshot *model_funnel_source(const struct model *m);

/* Records a sample of merged events for the rate; call once per tick. */
void model_tick(struct model *m, uint64_t now_ms);

/* Events per second over the last MODEL_RATE_WINDOW_MS; 0 until known. */
double model_events_rate(const struct model *m);

/* The i-th most recent sampled event (0 = newest), or NULL. */
const struct model_event *model_event_at(const struct model *m, unsigned i);

/* funnel last step / first step in [0, 1], 0 when nothing started. */
double model_conversion(struct model *m);

#endif
