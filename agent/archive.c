/*
 * archive.c - the archiver thread (see archive.h).  It alone owns the
 * backlog of closed sessions; the store serializes its own access.
 */
#include "archive.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "heat.h"
#include "log.h"

/*
 * Heatmap pages saved per flush at most: bounds one transaction (a page is
 * up to ~1200 rows); the rest stay dirty for the next second.
 */
#define ARCHIVE_HEAT_PAGES 200

struct archiver {
	struct agent *a;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	struct session_summary *backlog;
	size_t n, cap;
	uint64_t dropped;
};

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

static void
archive_flush(struct archiver *ar, uint64_t now)
{
	struct agent *a = ar->a;
	struct agg *total = malloc(sizeof(*total));
	int rv;

	sesstab_expire(a->sessions, now, archive_queue, ar);
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
	if ((rv = heat_save(a->heat, a->store, ARCHIVE_HEAT_PAGES)) != 0) {
		atomic_fetch_add(&a->store_errors, 1);
		agent_note_error(a, "saving heatmaps: %s",
		    store_last_error(a->store));
	}
	if (total == NULL)
		return;
	agent_total(a, total);
	if ((rv = store_save_counters(a->store, total)) != 0) {
		atomic_fetch_add(&a->store_errors, 1);
		agent_note_error(a, "saving counters: %s",
		    store_last_error(a->store));
	}
	free(total);
}

static void *
archive_thread(void *arg)
{
	struct archiver *ar = arg;

	pthread_mutex_lock(&ar->lock);
	while (!ar->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&ar->wake, &ar->lock, &ts);
		if (ar->stop)
			break;
		pthread_mutex_unlock(&ar->lock);
		archive_flush(ar, clock_mono_ms());
		pthread_mutex_lock(&ar->lock);
	}
	pthread_mutex_unlock(&ar->lock);
	archive_flush(ar, clock_mono_ms());
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
	if (pthread_create(&ar->thread, NULL, archive_thread, ar) != 0) {
		nudge_diag_set(d, 0, 0, "cannot start the archiver thread");
		free(ar);
		return NUDGE_ENOMEM;
	}
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
	pthread_cond_signal(&ar->wake);
	pthread_mutex_unlock(&ar->lock);
	pthread_join(ar->thread, NULL);
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
