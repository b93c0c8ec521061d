/*
 * cmd_history.c - the `history` control command (viewer role): the
 * agent's per-minute counters (archive.h) between from_ms and to_ms, so
 * that a console that was not running fills its own history.  Reads the
 * store (which locks itself) and the live totals; changes nothing.  Runs
 * on an nng worker thread like every command.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "archive.h"
#include "clock.h"
#include "command.h"

#define HIST_NAMES (ARCHIVE_SERIES + 1) /* the counters, then the gauge */
#define HIST_SPAN_MAX_MS (ARCHIVE_MINUTES_KEEP_MS + 2 * ARCHIVE_MINUTE_MS)
#define HIST_ROWS_MAX (HIST_SPAN_MAX_MS / ARCHIVE_MINUTE_MS + 2)

struct hist_rows {
	uint64_t (*v)[HIST_NAMES + 1]; /* [0] minute, then by name */
	size_t n, cap;
};

static const char *
hist_name(unsigned i)
{
	return i < ARCHIVE_SERIES ? agg_counter_name(archive_series_slot(i))
	                          : agg_gauge_name(AGG_VISITORS_ACTIVE);
}

/* store_load_minutes callback: rows come ordered by minute. */
static void
hist_collect(void *arg, uint64_t minute_ms, const char *name, uint64_t v)
{
	struct hist_rows *r = arg;
	unsigned k;

	for (k = 0; k < HIST_NAMES; k++)
		if (hist_name(k) != NULL && strcmp(hist_name(k), name) == 0)
			break;
	if (k == HIST_NAMES)
		return; /* a series this build does not answer for */
	if (r->n == 0 || r->v[r->n - 1][0] != minute_ms) {
		if (r->n == r->cap)
			return;
		memset(r->v[r->n], 0, sizeof(r->v[r->n]));
		r->v[r->n++][0] = minute_ms;
	}
	r->v[r->n - 1][k + 1] = v;
}

/* The archiver's open minute and the totals at its start (archive.h). */
struct hist_base {
	bool have;
	uint64_t minute;
	uint64_t v[ARCHIVE_SERIES];
};

/*
 * Before the archiver's first tick of a new database there is no base
 * yet: its first minute will be the current one, counted from the totals
 * the run began with, which is what the answer says.
 */
static void
hist_base_read(struct agent *a, struct hist_base *b)
{
	int rv = archive_minute_base(a->store, &b->minute, b->v);
	uint64_t wall = clock_wall_ms();

	b->have = rv == 0 || rv == NUDGE_ENOTFOUND;
	if (rv != NUDGE_ENOTFOUND)
		return;
	b->minute = wall - wall % ARCHIVE_MINUTE_MS;
	for (unsigned i = 0; i < ARCHIVE_SERIES; i++)
		b->v[i] = a->base.c[archive_series_slot(i)];
}

static bool
hist_base_same(const struct hist_base *x, const struct hist_base *y)
{
	return x->have == y->have && (!x->have || (x->minute == y->minute &&
	    memcmp(x->v, y->v, sizeof(x->v)) == 0));
}

/*
 * The open minute: the live totals less those at its start.  A stored row
 * of that minute or later (the archiver wrote it and has not moved its
 * base yet) is the same growth again: dropped.
 */
static void
hist_open_minute(const struct hist_base *b, const struct agg *total,
    uint64_t from, uint64_t to, struct hist_rows *r)
{
	const uint64_t *base = b->v;
	uint64_t minute = b->minute;

	while (b->have && r->n > 0 && r->v[r->n - 1][0] >= minute)
		r->n--;
	if (!b->have || minute < from || minute >= to || r->n == r->cap)
		return;
	memset(r->v[r->n], 0, sizeof(r->v[r->n]));
	r->v[r->n][0] = minute;
	for (unsigned i = 0; i < ARCHIVE_SERIES; i++) {
		uint64_t now = total->c[archive_series_slot(i)];

		r->v[r->n][i + 1] = now >= base[i] ? now - base[i] : 0;
	}
	r->v[r->n][HIST_NAMES] = total->g[AGG_VISITORS_ACTIVE];
	r->n++;
}

static int
hist_args(const struct wire_request *rq, uint64_t *from, uint64_t *to,
    struct nudge_diag *d)
{
	uint64_t now = clock_wall_ms();
	int rv;

	*to = now + ARCHIVE_MINUTE_MS;
	*from = *to - 24ull * 3600 * 1000;
	if (rq->args != NULL &&
	    (((rv = wire_get_u64(rq->args, "from_ms", from)) != 0 &&
	         rv != NUDGE_ENOTFOUND) ||
	        ((rv = wire_get_u64(rq->args, "to_ms", to)) != 0 &&
	            rv != NUDGE_ENOTFOUND))) {
		nudge_diag_set(d, 0, 0, "from_ms, to_ms: integers (ms)");
		return NUDGE_ETYPE;
	}
	if (*to <= *from)
		*to = *from;
	if (*to - *from > HIST_SPAN_MAX_MS)
		*from = *to - HIST_SPAN_MAX_MS;
	return 0;
}

static void
hist_pack(msgpack_packer *pk, struct agent *a, const struct agg *total,
    const struct hist_rows *r)
{
	msgpack_pack_map(pk, 5);
	wire_pack_cstr(pk, "step");
	msgpack_pack_uint64(pk, ARCHIVE_MINUTE_MS);
	wire_pack_cstr(pk, "boot");
	msgpack_pack_uint64(pk, a->boot_id);
	wire_pack_cstr(pk, "names");
	msgpack_pack_array(pk, HIST_NAMES);
	for (unsigned k = 0; k < HIST_NAMES; k++)
		wire_pack_cstr(pk, hist_name(k));
	wire_pack_cstr(pk, "rows");
	msgpack_pack_array(pk, r->n);
	for (size_t i = 0; i < r->n; i++) {
		msgpack_pack_array(pk, HIST_NAMES + 1);
		for (unsigned k = 0; k <= HIST_NAMES; k++)
			msgpack_pack_uint64(pk, r->v[i][k]);
	}
	wire_pack_cstr(pk, "now");
	msgpack_pack_array(pk, HIST_NAMES);
	for (unsigned k = 0; k < ARCHIVE_SERIES; k++)
		msgpack_pack_uint64(pk, total->c[archive_series_slot(k)]);
	msgpack_pack_uint64(pk, total->g[AGG_VISITORS_ACTIVE]);
}

static int
history_run(struct agent *a, const struct wire_request *rq, msgpack_packer *pk,
    struct nudge_diag *d)
{
	struct hist_rows r = {0};
	struct agg *total = malloc(sizeof(*total));
	uint64_t from, to;
	int rv;

	if (total == NULL)
		return NUDGE_ENOMEM;
	if ((rv = hist_args(rq, &from, &to, d)) != 0) {
		free(total);
		return rv;
	}
	r.cap = (to - from) / ARCHIVE_MINUTE_MS + 2;
	r.cap = r.cap > HIST_ROWS_MAX ? HIST_ROWS_MAX : r.cap;
	if ((r.v = malloc(r.cap * sizeof(*r.v))) == NULL) {
		free(total);
		return NUDGE_ENOMEM;
	}
	/*
	 * The open minute's base, the totals, the stored minutes, and the
	 * base again: the archiver closes a minute in two steps (its row,
	 * then the next base), so a base that moved meanwhile means the rows
	 * and the base may disagree (the closed minute in neither, or in
	 * both): read again.  The totals come after the base (so they are
	 * not below it) and before the rows: what came after them counts on
	 * the console.
	 */
	struct hist_base b0, b1;

	for (int tries = 0;; tries++) {
		hist_base_read(a, &b0);
		agent_total(a, total);
		r.n = 0;
		rv = store_load_minutes(
		    a->store, from, to, r.cap * HIST_NAMES, hist_collect, &r);
		if (rv != 0)
			break;
		hist_base_read(a, &b1);
		if (hist_base_same(&b0, &b1) || tries == 3)
			break;
	}
	if (rv != 0)
		nudge_diag_set(d, 0, 0, "reading minutes: %s",
		    store_last_error(a->store));
	else
		hist_open_minute(&b0, total, from, to, &r);
	if (rv == 0)
		hist_pack(pk, a, total, &r);
	free(r.v);
	free(total);
	return rv;
}

const struct cmd_ops cmd_history = {
    .name = "history",
    .role = ROLE_VIEWER,
    .run = history_run,
};
