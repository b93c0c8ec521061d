/*
 * archive.c - the archiver's two threads (see archive.h).  The counters
 * thread alone owns the open minute (min_*) and saves the counters every
 * ARCHIVE_COUNTERS_MS; the archiver thread alone owns the backlog of
 * closed sessions and saves them, the retention purge and the heatmaps,
 * every second.  The store serializes their access.
 *
 * Why two threads: the promise (README, durability) is that a kill -9
 * loses at most about a second of counters.  With one thread, a slow
 * session batch, purge or heatmap save (hundreds of ms on a loaded
 * machine) pushed the next counters' flush past its second.  A second
 * SQLite connection for the counters would not help: WAL allows one
 * writer at a time, and a second connection waits for it by polling
 * (busy handler sleeps) instead of our mutex.  So the counters keep the
 * shared connection, and what waiting for it remains does not age them:
 * they are read once the store's lock is held (store_save_counters_fresh).
 * And they go every half second, not every second: a flush period equal
 * to the promise leaves nothing for a thread that wakes late, which on a
 * crowded machine (crash.sh at a load average of 40 and more) is
 * hundreds of ms.  A flush is a few hundred small rows and the 4 KB
 * sketch, so twice a second costs little.
 */
#include "archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "forgot.h"
#include "heat.h"
#include "log.h"
#include "rules_rt.h"

/*
 * Heatmap pages saved per flush at most, the rest staying dirty for the
 * next second, ARCHIVE_HEAT_CHUNK pages a transaction: a page is up to
 * ~1200 rows, and 200 of them in one transaction (a fresh agent's first
 * flushes) held the store's lock for a second, the counters' flush
 * waiting behind it; between chunks it gets in.
 */
#define ARCHIVE_HEAT_PAGES 200
#define ARCHIVE_HEAT_CHUNK 20

/* The counters' flush period (see above); the rest runs every second. */
#define ARCHIVE_COUNTERS_MS 500

struct archiver {
	struct agent *a;
	pthread_t thread;
	pthread_t counters_thread;
	bool counters_started;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct session_summary *backlog;
	size_t n, cap;
	uint64_t dropped;
	bool min_have;              /* the open minute is being measured */
	uint64_t min_ms;            /* its start, wall clock */
	uint64_t min_base[ARCHIVE_SERIES]; /* totals then */
	uint64_t purge_next;         /* mono ms of the next retention purge */
};

int
archive_series_slot(unsigned i)
{
	static const int first[4] = {AGG_EVENTS, AGG_SESSIONS_STARTED,
	    AGG_PURCHASES, AGG_REVENUE_CENTS};

	return i < 4 ? first[i] : AGG_FUNNEL((int)i - 4);
}

/* "minute v0 v1 ...": the open minute's start and the totals then. */
static void
archive_put_base(struct archiver *ar)
{
	char buf[ARCHIVE_SERIES * 21 + 32];
	int n = snprintf(buf, sizeof(buf), "%llu",
	    (unsigned long long)ar->min_ms);

	for (unsigned i = 0; i < ARCHIVE_SERIES && n > 0 &&
	                     (size_t)n < sizeof(buf);
	     i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, " %llu",
		    (unsigned long long)ar->min_base[i]);
	store_meta_put(ar->a->store, ARCHIVE_MINUTE_META, buf);
}

int
archive_minute_base(struct store *st, uint64_t *minute_ms,
    uint64_t v[ARCHIVE_SERIES])
{
	char buf[ARCHIVE_SERIES * 21 + 32], *p = buf, *end;
	uint64_t tmp[ARCHIVE_SERIES], m;
	int rv = store_meta_get(st, ARCHIVE_MINUTE_META, buf, sizeof(buf));

	if (rv != 0)
		return rv;
	m = strtoull(p, &end, 10);
	for (unsigned i = 0; i < ARCHIVE_SERIES; i++) {
		if (end == p)
			return NUDGE_ENOTFOUND;
		p = end;
		tmp[i] = strtoull(p, &end, 10);
	}
	if (end == p)
		return NUDGE_ENOTFOUND;
	*minute_ms = m;
	memcpy(v, tmp, sizeof(tmp));
	return 0;
}

/* Writes the closed minute: counters' growth added, the gauge replaced. */
static void
archive_minute_save(struct archiver *ar, const struct agg *total,
    const uint64_t now[ARCHIVE_SERIES], uint64_t next_minute)
{
	const char *names[ARCHIVE_SERIES], *gauge[1];
	uint64_t grew[ARCHIVE_SERIES], g[1];
	int rv;

	for (unsigned i = 0; i < ARCHIVE_SERIES; i++) {
		names[i] = agg_counter_name(archive_series_slot(i));
		grew[i] = now[i] >= ar->min_base[i] ? now[i] - ar->min_base[i]
		                                    : 0;
	}
	gauge[0] = agg_gauge_name(AGG_VISITORS_ACTIVE);
	g[0] = total->g[AGG_VISITORS_ACTIVE];
	rv = store_save_minute(ar->a->store, ar->min_ms, names, grew,
	    ARCHIVE_SERIES, true,
	    next_minute > ARCHIVE_MINUTES_KEEP_MS
	        ? next_minute - ARCHIVE_MINUTES_KEEP_MS
	        : 0);
	if (rv == 0)
		rv = store_save_minute(
		    ar->a->store, ar->min_ms, gauge, g, 1, false, 0);
	if (rv != 0) {
		atomic_fetch_add(&ar->a->store_errors, 1);
		agent_note_error(ar->a, "saving a minute: %s",
		    store_last_error(ar->a->store));
	}
}

static void
archive_row_seen(void *arg, uint64_t minute_ms, const char *name, uint64_t v)
{
	(void)minute_ms, (void)name, (void)v;
	*(bool *)arg = true;
}

/*
 * The run's first minute.  A stop closes no minute, so the previous run's
 * open one (its base still in the meta) has no row yet: it goes on when
 * this run starts within it, else its row is written with what it grew
 * until the stop (the counters this run began with).  A row already there
 * is one written just before a crash that left the base behind: kept.
 * The run then counts from agent.base, so nothing before the first flush
 * is lost.
 */
static void
archive_minute_first(struct archiver *ar, const struct agg *total,
    uint64_t minute)
{
	uint64_t start[ARCHIVE_SERIES], old_ms;
	bool stored = false;

	for (unsigned i = 0; i < ARCHIVE_SERIES; i++)
		start[i] = ar->a->base.c[archive_series_slot(i)];
	ar->min_have = true;
	if (archive_minute_base(ar->a->store, &old_ms, ar->min_base) == 0 &&
	    old_ms <= minute) {
		ar->min_ms = old_ms;
		if (old_ms == minute)
			return;
		if (store_load_minutes(ar->a->store, old_ms, old_ms + 1, 1,
		    archive_row_seen, &stored) == 0 && !stored)
			archive_minute_save(ar, total, start, minute);
	}
	memcpy(ar->min_base, start, sizeof(start));
	ar->min_ms = minute;
	archive_put_base(ar);
}

/* When the wall-clock minute has moved on, writes the closed minute and
 * starts the next one. */
static void
archive_minute(struct archiver *ar, const struct agg *total, uint64_t wall)
{
	uint64_t now[ARCHIVE_SERIES];
	uint64_t minute = wall - wall % ARCHIVE_MINUTE_MS;

	if (!ar->min_have) {
		archive_minute_first(ar, total, minute);
		return;
	}
	if (minute == ar->min_ms)
		return;
	for (unsigned i = 0; i < ARCHIVE_SERIES; i++)
		now[i] = total->c[archive_series_slot(i)];
	archive_minute_save(ar, total, now, minute);
	memcpy(ar->min_base, now, sizeof(now));
	ar->min_ms = minute;
	archive_put_base(ar);
}

/* sesstab_sink: queue closed sessions, dropping the oldest when full. */
static void
archive_queue(void *arg, const struct session_summary *v, size_t n)
{
	struct archiver *ar = arg;

	if (ar->n + n > ar->cap && ar->cap < ARCHIVE_BACKLOG_MAX) {
		size_t cap = ar->cap ? ar->cap * 2 : 1024;
		while (cap < ar->n + n)
			cap *= 2;
		if (cap > ARCHIVE_BACKLOG_MAX)
			cap = ARCHIVE_BACKLOG_MAX;
		void *grown = realloc(ar->backlog, cap * sizeof(*ar->backlog));
		if (grown != NULL) {
			ar->backlog = grown;
			ar->cap = cap;
		}
	}
	if (ar->n + n > ar->cap) {
		size_t drop = ar->n + n - ar->cap;
		if (drop > ar->n)
			drop = ar->n;
		memmove(ar->backlog, ar->backlog + drop,
		    (ar->n - drop) * sizeof(*ar->backlog));
		ar->n -= drop;
		ar->dropped += drop;
		if (n > ar->cap) {
			ar->dropped += n - ar->cap;
			v += n - ar->cap;
			n = ar->cap;
		}
	}
	memcpy(ar->backlog + ar->n, v, n * sizeof(*v));
	ar->n += n;
}

/*
 * Drops the queued sessions of visitors forgotten lately (forgot.h): run
 * under the forgot barrier, right before the batch is written.
 */
static void
archive_drop_forgotten(struct archiver *ar, uint64_t now)
{
	uint64_t any;
	size_t keep = 0;

	if (forgot_list(ar->a->forgot, now, &any, 1) == 0)
		return;
	for (size_t i = 0; i < ar->n; i++)
		if (!forgot_has(ar->a->forgot, strv_of(ar->backlog[i].visitor),
		    now))
			ar->backlog[keep++] = ar->backlog[i];
	ar->n = keep;
}

/*
 * Retention (PRIVACY.md), at start and then every hour: ids
 * older than retention_ids_days go, data older than retention_data_days
 * too (store_purge).
 */
static void
archive_purge(struct archiver *ar, uint64_t now)
{
	const struct conf_agent *c = &ar->a->cfg->agent;
	uint64_t wall = clock_wall_ms(), day = 86400000ull;
	uint64_t ids = (uint64_t)c->retention_ids_days * day;
	uint64_t data = (uint64_t)c->retention_data_days * day;
	struct store_purge r;

	if (ar->purge_next != 0 && now < ar->purge_next)
		return;
	ar->purge_next = now + ARCHIVE_PURGE_MS;
	if (ids == 0 || data == 0)	/* an unconfigured test agent */
		return;
	if (ar->a->rules != NULL)
		rrt_purge(ar->a->rules, wall > ids ? wall - ids : 0);
	if (store_purge(ar->a->store, wall > ids ? wall - ids : 0,
	    wall > data ? wall - data : 0, &r) != 0) {
		atomic_fetch_add(&ar->a->store_errors, 1);
		agent_note_error(ar->a, "retention purge: %s",
		    store_last_error(ar->a->store));
		return;
	}
	if (r.deleted || r.anonymized || r.visitors)
		log_info("retention: %llu sessions deleted, %llu made "
		    "anonymous, %llu visitor memories deleted",
		    (unsigned long long)r.deleted,
		    (unsigned long long)r.anonymized,
		    (unsigned long long)r.visitors);
}

static void
archive_fill_total(void *arg, struct agg *out)
{
	agent_total(arg, out);
}

/* The counters thread's tick: the counters, then the open minute. */
static void
archive_counters(struct archiver *ar, uint64_t now)
{
	struct agent *a = ar->a;
	struct agg *total = malloc(sizeof(*total));

	(void)now;
	if (total == NULL)
		return;
	if (store_save_counters_fresh(a->store, archive_fill_total, a,
	    total) != 0) {
		atomic_fetch_add(&a->store_errors, 1);
		agent_note_error(a, "saving counters: %s",
		    store_last_error(a->store));
	}
	archive_minute(ar, total, clock_wall_ms());
	free(total);
}

/* The archiver thread's second: sessions, retention, heatmaps. */
static void
archive_flush(struct archiver *ar, uint64_t now)
{
	struct agent *a = ar->a;
	int rv;

	sesstab_expire(a->sessions, now, archive_queue, ar);
	forgot_barrier_lock(a->forgot);
	archive_drop_forgotten(ar, now);
	if (ar->n > 0) {
		rv = store_archive_sessions(a->store, ar->backlog, ar->n);
		if (rv == 0) {
			ar->n = 0;
		} else {
			atomic_fetch_add(&a->store_errors, 1);
			agent_note_error(a, "archiving %zu sessions: %s", ar->n,
			    store_last_error(a->store));
		}
	}
	forgot_barrier_unlock(a->forgot);
	archive_purge(ar, now);
	rv = 0;
	for (unsigned k = 0; k < ARCHIVE_HEAT_PAGES / ARCHIVE_HEAT_CHUNK &&
	     rv == 0; k++)
		rv = heat_save(a->heat, a->store, ARCHIVE_HEAT_CHUNK);
	if (rv != 0) {
		atomic_fetch_add(&a->store_errors, 1);
		agent_note_error(a, "saving heatmaps: %s",
		    store_last_error(a->store));
	}
}

/*
 * Runs tick every period_ms on monotonic deadlines, not period_ms after
 * the last one ended: a slow tick does not stretch the period, and one
 * longer than the period is followed at once.  A last tick once stopped.
 */
static void
archive_every(struct archiver *ar, uint64_t period_ms,
    void (*tick)(struct archiver *, uint64_t))
{
	uint64_t next = clock_mono_ms();

	pthread_mutex_lock(&ar->lock);
	while (!ar->stop) {
		uint64_t now = clock_mono_ms();
		next = next + period_ms > now ? next + period_ms : now;
		struct timespec ts = {.tv_sec = (time_t)(next / 1000),
		    .tv_nsec = (long)(next % 1000) * 1000000L};
		pthread_cond_timedwait(&ar->wake, &ar->lock, &ts);
		if (ar->stop)
			break;
		pthread_mutex_unlock(&ar->lock);
		tick(ar, clock_mono_ms());
		pthread_mutex_lock(&ar->lock);
	}
	pthread_mutex_unlock(&ar->lock);
	tick(ar, clock_mono_ms());
}

static void *
archive_thread(void *arg)
{
	archive_every(arg, 1000, archive_flush);
	return NULL;
}

static void *
counters_thread(void *arg)
{
	archive_every(arg, ARCHIVE_COUNTERS_MS, archive_counters);
	return NULL;
}

int
archive_start(struct archiver **out, struct agent *a, struct nudge_diag *d)
{
	struct archiver *ar = calloc(1, sizeof(*ar));
	pthread_condattr_t ca;

	if (ar == NULL)
		return NUDGE_ENOMEM;
	ar->a = a;
	pthread_mutex_init(&ar->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ar->wake, &ca);
	pthread_condattr_destroy(&ca);
	archive_purge(ar, clock_mono_ms());	/* before any event comes in */
	if (pthread_create(&ar->thread, NULL, archive_thread, ar) != 0) {
		nudge_diag_set(d, 0, 0, "cannot start the archiver thread");
		free(ar);
		return NUDGE_ENOMEM;
	}
	if (pthread_create(&ar->counters_thread, NULL, counters_thread,
	    ar) != 0) {
		nudge_diag_set(d, 0, 0, "cannot start the counters thread");
		archive_stop(ar);
		return NUDGE_ENOMEM;
	}
	ar->counters_started = true;
	*out = ar;
	return 0;
}

void
archive_stop(struct archiver *ar)
{
	if (ar == NULL)
		return;
	pthread_mutex_lock(&ar->lock);
	ar->stop = true;
	pthread_cond_broadcast(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
	pthread_join(ar->thread, NULL);
	if (ar->counters_started)
		pthread_join(ar->counters_thread, NULL);
	if (ar->dropped > 0)
		log_warn("%llu closed sessions could not be archived",
		    (unsigned long long)ar->dropped);
	if (ar->n > 0)
		log_warn("%zu closed sessions left unarchived at exit", ar->n);
	free(ar->backlog);
	pthread_cond_destroy(&ar->wake);
	pthread_mutex_destroy(&ar->lock);
	free(ar);
}
