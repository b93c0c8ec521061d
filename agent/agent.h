/*
 * agent.h - what every part of nudged shares: the configuration, the
 * session table, the store, the counters restored at start, and health.
 *
 * Created by main() before any thread starts and freed after they all
 * stopped; between those, cfg, store, sessions, base and boot_id are
 * read-only pointers/values and the rest is atomic or locked.
 */
#ifndef NUDGE_AGENT_H
#define NUDGE_AGENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "agg.h"
#include "conf.h"
#include "sesstab.h"
#include "store.h"

struct access;
struct crt;
struct forgot;
struct heat;
struct oneoff;
struct replay;
struct rrt;
struct rrt_shown;

struct agent {
	const struct nudge_config *cfg;
	struct sesstab *sessions;
	struct store *store;
	struct replay *replay;
	struct access *access;	/* credentials and audit (access.h); set by
				 * main before any socket starts */
	struct heat *heat;	/* click grids and scroll depth */
	struct rrt *rules;	/* live rule sets, facts, caps (rules_rt.h) */
	struct crt *camps;	/* campaigns, rule experiments (camprt.h) */
	struct oneoff *oneoff;	/* operator messages to one visitor */
	struct forgot *forgot;	/* visitors lately erased (forgot.h) */
	struct agg base;	/* counters as saved by the previous run */
	uint64_t boot_id;
	uint64_t started_mono;
	atomic_uint_fast64_t store_errors;
	atomic_uint_fast64_t pub_dropped;
	atomic_uint_fast64_t delta_seq; /* last DELTA seq published */
	atomic_bool stopping;	/* graceful stop begun: refuse new events */
	pthread_mutex_t health_lock;
	char last_error[128];
};

/*
 * Opens the store, restores counters, heatmaps and the sessions saved by a
 * graceful stop, builds the session table.  Returns 0 or an error with d->msg.
 */
int agent_init(struct agent *a, const struct nudge_config *cfg,
    struct nudge_diag *d);
/*
 * Graceful stop, step one: saves counters, heatmaps and live sessions.
 * Call with `stopping` set, so that no event is applied after the save.
 */
void agent_save(struct agent *a);
/* Frees everything; saves nothing (see agent_save). */
void agent_fini(struct agent *a);

/*
 * Applies one validated event from any ingest path (emit, push, beacon,
 * access log) at monotonic time now_ms: the session table, and everything
 * else that learns from events.  The one entry point, so that every path
 * feeds the same state.  Returns 0, NUDGE_ENOMEM, or NUDGE_EBUSY once a
 * graceful stop has begun (the caller says "retry").
 */
int agent_apply(struct agent *a, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms);
/*
 * agent_apply for a path that can deliver decisions (the beacon): the
 * visible actions of the rules that fire are appended to *shown (and only
 * those count as shown for caps); shown NULL is agent_apply.  With
 * targetable false (audience-only beacons: DNT, GPC, no consent) no rule
 * is evaluated at all.
 */
int agent_apply_ex(struct agent *a, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms, bool targetable,
    struct rrt_shown *shown);
/*
 * agent_apply for n validated events of one batch (emit, PUSH): the session
 * table first (sesstab_apply_batch: each shard locked once per batch, a
 * visitor's events in batch order), then for each event in batch order the
 * steps agent_apply_ex takes after the table (heat, rules, the campaign
 * runtime, the rules' score).  A score a rule gives for an earlier event
 * of a visitor is carried into the view of that visitor's later events, so
 * the rules see what they would see with the events applied one by one.
 * rv[i] is agent_apply's result for ev[i].  Falls back to agent_apply one
 * by one when it cannot allocate its scratch.
 */
void agent_apply_batch(struct agent *a, const struct nudge_event *const *ev,
    size_t n, uint64_t now_ms, uint64_t now_wall_ms, int *rv);
/* Returns NUDGE_EBUSY once a graceful stop has begun, else 0. */
int agent_accepting(struct agent *a);

/* out = counters saved by the previous run + everything counted since. */
void agent_total(struct agent *a, struct agg *out);

/* Records a failure for the snapshot's last_error and logs it. */
void agent_note_error(struct agent *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void agent_last_error(struct agent *a, char *buf, size_t cap);

#endif
