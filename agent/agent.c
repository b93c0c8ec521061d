/*
 * agent.c - assembling and disassembling the agent's shared state.
 * agent_init/agent_fini run on the main thread with no other thread alive;
 * agent_total and the health functions may be called from any thread.
 */
#include "agent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <xxhash.h>

#include "camprt.h"
#include "clock.h"
#include "forgot.h"
#include "heat.h"
#include "log.h"
#include "oneoff.h"
#include "replay.h"
#include "rules_rt.h"

static void
agent_restore_one(void *arg, const struct session_summary *s)
{
	struct agent *a = arg;

	if (sesstab_restore(a->sessions, s, clock_mono_ms()) != 0)
		log_warn("could not restore the session of %s", s->visitor);
}

static int
agent_open_store(struct agent *a, struct nudge_diag *d)
{
	int rv = store_open(&a->store, a->cfg->agent.db, d);

	if (rv != 0)
		return rv;
	if ((rv = store_load_counters(a->store, &a->base)) != 0) {
		nudge_diag_set(d, 0, 0, "%s: cannot load counters: %s",
		    a->cfg->agent.db, store_last_error(a->store));
		store_close(a->store);
		a->store = NULL;
	}
	return rv;
}

int
agent_init(struct agent *a, const struct nudge_config *cfg,
    struct nudge_diag *d)
{
	struct sesstab_config sc = {
		.shards = cfg->agent.shards,
		.timeout_ms = cfg->agent.session_timeout_ms,
		.funnel = &cfg->funnel,
	};
	int rv;

	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->started_mono = clock_mono_ms();
	pthread_mutex_init(&a->health_lock, NULL);
	if (getrandom(&a->boot_id, sizeof(a->boot_id), 0) !=
	    sizeof(a->boot_id))
		a->boot_id = clock_wall_ms() ^ ((uint64_t)getpid() << 32);
	if ((rv = agent_open_store(a, d)) != 0)
		return rv;
	if ((rv = sesstab_new(&a->sessions, &sc)) != 0 ||
	    (rv = replay_new(&a->replay)) != 0 ||
	    (rv = heat_new(&a->heat)) != 0 ||
	    (rv = forgot_new(&a->forgot)) != 0 ||
	    (rv = oneoff_new(&a->oneoff)) != 0) {
		nudge_diag_set(d, 0, 0, "out of memory");
		agent_fini(a);
		return rv;
	}
	if ((rv = rrt_new(&a->rules, a->store, RRT_VISITORS_DEFAULT, d)) != 0 ||
	    (rv = rrt_start(a->rules)) != 0) {
		agent_fini(a);
		return rv;
	}
	if (heat_load(a->heat, a->store) != 0)
		log_warn("could not load heatmaps: %s",
		    store_last_error(a->store));
	if (store_take_live(a->store, agent_restore_one, a) != 0)
		log_warn("could not restore live sessions: %s",
		    store_last_error(a->store));
	/* after the live sessions: they carry the campaigns' marks */
	if ((rv = crt_new(&a->camps, a->store, a->sessions, a->rules,
	    d)) != 0 || (rv = crt_start(a->camps)) != 0) {
		agent_fini(a);
		return rv;
	}
	/* a slow start after a kill -9: the operator sees where it went */
	log_info("state loaded in %llu ms",
	    (unsigned long long)(clock_mono_ms() - a->started_mono));
	return 0;
}

/* sesstab_sink collecting every live session at shutdown. */
struct live_dump {
	struct session_summary *v;
	size_t n, cap;
};

static void
agent_collect(void *arg, const struct session_summary *v, size_t n)
{
	struct live_dump *dump = arg;

	if (dump->n + n > dump->cap) {
		size_t cap = (dump->cap + n) * 2;
		void *grown = realloc(dump->v, cap * sizeof(*dump->v));
		if (grown == NULL)
			return;
		dump->v = grown;
		dump->cap = cap;
	}
	memcpy(dump->v + dump->n, v, n * sizeof(*v));
	dump->n += n;
}

static void
agent_save_live(struct agent *a)
{
	struct live_dump dump = {0};

	sesstab_expire(a->sessions, UINT64_MAX, agent_collect, &dump);
	for (size_t i = 0; i < dump.n; i++)
		dump.v[i].closed = false;
	if (store_save_live(a->store, dump.v, dump.n) != 0)
		log_error("could not save %zu live sessions: %s", dump.n,
		    store_last_error(a->store));
	else
		log_info("saved %zu live sessions", dump.n);
	free(dump.v);
}

void
agent_save(struct agent *a)
{
	struct agg *total = malloc(sizeof(*total));

	if (a->sessions == NULL || a->store == NULL || total == NULL) {
		free(total);
		return;
	}
	/* totals first: closing the live sessions below counts them closed */
	agent_total(a, total);
	agent_save_live(a);
	if (store_save_counters(a->store, total) != 0)
		log_error("could not save counters: %s",
		    store_last_error(a->store));
	free(total);
	crt_stop(a->camps);
	if (a->camps != NULL && crt_flush(a->camps) != 0)
		log_error("could not save the campaigns' counters: %s",
		    store_last_error(a->store));
	rrt_stop(a->rules);
	if (a->rules != NULL && rrt_flush(a->rules) != 0)
		log_error("could not save the rules' visitor memory: %s",
		    store_last_error(a->store));
	if (a->heat != NULL && heat_save(a->heat, a->store, SIZE_MAX) != 0)
		log_error("could not save heatmaps: %s",
		    store_last_error(a->store));
}

void
agent_fini(struct agent *a)
{
	heat_free(a->heat);
	a->heat = NULL;
	forgot_free(a->forgot);
	a->forgot = NULL;
	oneoff_free(a->oneoff);
	a->oneoff = NULL;
	crt_free(a->camps);
	a->camps = NULL;
	rrt_free(a->rules);
	a->rules = NULL;
	replay_free(a->replay);
	sesstab_free(a->sessions);
	if (a->store != NULL)
		store_close(a->store);
	pthread_mutex_destroy(&a->health_lock);
	a->replay = NULL;
	a->sessions = NULL;
	a->store = NULL;
}

int
agent_accepting(struct agent *a)
{
	return atomic_load(&a->stopping) ? NUDGE_EBUSY : 0;
}

int
agent_apply(struct agent *a, const struct nudge_event *ev, uint64_t now_ms,
    uint64_t now_wall_ms)
{
	return agent_apply_ex(a, ev, now_ms, now_wall_ms, true, NULL);
}

int
agent_apply_ex(struct agent *a, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms, bool targetable,
    struct rrt_shown *shown)
{
	struct sesstab_view sv;
	int32_t score = 0;

	if (atomic_load(&a->stopping))
		return NUDGE_EBUSY;
	int rv = sesstab_apply_view(a->sessions, ev, now_ms, now_wall_ms, &sv);

	/* clicks and scrolls only; a session-table failure is not the map's */
	heat_apply(a->heat, ev);
	if (rv != 0 || !targetable || a->rules == NULL)
		return rv;
	/* the rules see the session as this event left it */
	rrt_eval(a->rules, ev, &sv, now_ms, now_wall_ms, shown, &score);
	if (a->camps != NULL && sv.live)
		crt_observe(a->camps, ev, &sv, shown);
	if (score != 0)
		sesstab_add_score(a->sessions, ev->visitor, score);
	return rv;
}

/*
 * Per visitor, the score its session has after the rules of the batch's
 * events so far (what the table held at that point when events were
 * applied one by one): open addressing over the batch's visitors.
 */
struct score_carry {
	struct nudge_strv *vid;
	int32_t *score;
	uint32_t mask;
	uint32_t used;		/* visitors carried: 0, nothing to look up */
};

static int32_t *
carry_slot(struct score_carry *c, struct nudge_strv v, bool add)
{
	uint32_t i = (uint32_t)XXH3_64bits(v.ptr, v.len) & c->mask;

	for (; c->vid[i].ptr != NULL; i = (i + 1) & c->mask)
		if (c->vid[i].len == v.len &&
		    memcmp(c->vid[i].ptr, v.ptr, v.len) == 0)
			return &c->score[i];
	if (!add)
		return NULL;
	c->vid[i] = v;
	c->used++;
	return &c->score[i];
}

static int
carry_init(struct score_carry *c, size_t n)
{
	uint32_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	c->mask = cap - 1;
	c->vid = calloc(cap, sizeof(*c->vid) + sizeof(*c->score));
	c->score = (int32_t *)(c->vid + cap);
	return c->vid != NULL ? 0 : NUDGE_ENOMEM;
}

/* The steps of agent_apply_ex after the session table, for one event. */
static void
agent_apply_rest(struct agent *a, const struct nudge_event *ev,
    struct sesstab_view *sv, int rv, uint64_t now_ms, uint64_t now_wall_ms,
    struct score_carry *carry)
{
	int32_t score = 0, *carried;

	heat_apply(a->heat, ev);
	if (rv != 0 || a->rules == NULL)
		return;
	if (sv->live && carry->used > 0 &&
	    (carried = carry_slot(carry, ev->visitor, false)) != NULL)
		sv->score = *carried;
	rrt_eval(a->rules, ev, sv, now_ms, now_wall_ms, NULL, &score);
	if (a->camps != NULL && sv->live)
		crt_observe(a->camps, ev, sv, NULL);
	if (score == 0 ||
	    sesstab_add_score_at(a->sessions, ev->visitor, score,
	    sv->path_seq) != 0)
		return;
	if (carry->vid == NULL)
		return;
	int64_t v = (int64_t)sv->score + score;
	*carry_slot(carry, ev->visitor, true) = v > INT32_MAX ? INT32_MAX :
	    v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

void
agent_apply_batch(struct agent *a, const struct nudge_event *const *ev,
    size_t n, uint64_t now_ms, uint64_t now_wall_ms, int *rv)
{
	struct sesstab_view *sv = malloc(n * sizeof(*sv));
	struct score_carry carry = {0};

	if (atomic_load(&a->stopping) || sv == NULL ||
	    sesstab_apply_batch(a->sessions, ev, n, now_ms, now_wall_ms, sv,
	    rv) != 0) {
		bool stop = atomic_load(&a->stopping);
		free(sv);
		for (size_t i = 0; i < n; i++)	/* one by one, then */
			rv[i] = stop ? NUDGE_EBUSY :
			    agent_apply(a, ev[i], now_ms, now_wall_ms);
		return;
	}
	/* without room to carry scores, as agent_apply_ex would do them */
	if (n > 1 && a->rules != NULL && carry_init(&carry, n) != 0)
		carry.vid = NULL;
	for (size_t i = 0; i < n; i++)
		agent_apply_rest(a, ev[i], &sv[i], rv[i], now_ms, now_wall_ms,
		    &carry);
	free(carry.vid);
	free(sv);
}

void
agent_total(struct agent *a, struct agg *out)
{
	sesstab_sum(a->sessions, out);
	for (int i = 0; i < AGG_COUNTERS; i++)
		out->c[i] += a->base.c[i];
	hll_merge(&out->visitors, &a->base.visitors);
}

void
agent_note_error(struct agent *a, const char *fmt, ...)
{
	char buf[sizeof(a->last_error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&a->health_lock);
	memcpy(a->last_error, buf, sizeof(buf));
	pthread_mutex_unlock(&a->health_lock);
	log_error("%s", buf);
}

void
agent_last_error(struct agent *a, char *buf, size_t cap)
{
	pthread_mutex_lock(&a->health_lock);
	snprintf(buf, cap, "%s", a->last_error);
	pthread_mutex_unlock(&a->health_lock);
}
