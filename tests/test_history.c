/*
 * test_history.c - the console's per-minute history: growth measured per
 * agent (joins, restarts and departures are no spikes), minutes closing,
 * sums and series, persistence across a reopen, retention, back-fill
 * from agents and baselines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "../console/history.h"

#define MIN HIST_MINUTE_MS
#define T0 (1800000000000ull - 1800000000000ull % MIN) /* a minute start */

struct fix {
	char dir[64];
	char path[128];
	struct agg a, b;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/nudge-thist.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/sub/console.db", f->dir);
	agg_init(&f->a);
	agg_init(&f->b);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(hist_series_name(HIST_EVENTS), "events");
	assert_string_equal(
	    hist_series_name(HIST_SESSIONS), "sessions_started");
	assert_string_equal(hist_series_name(HIST_FUNNEL0 + 2), "funnel.2");
	assert_string_equal(
	    hist_series_name(HIST_VISITORS), "visitors_active");
	assert_int_equal(hist_series_index("revenue_cents"), HIST_REVENUE);
	assert_int_equal(hist_series_index("nope"), -1);
	assert_null(hist_series_name(HIST_SERIES));
}

/* Two agents: the first observation is a baseline, not growth. */
static void
test_growth_per_agent(void **state)
{
	struct fix *f = *state;
	struct nudge_diag d = {0};
	struct hist *h;

	assert_int_equal(hist_open(&h, NULL, 2, T0 + 1000, &d), 0);
	f->a.c[AGG_EVENTS] = 1000; /* history before the console: not ours */
	hist_observe(h, 0, 7, &f->a);
	f->a.c[AGG_EVENTS] = 1010;
	hist_observe(h, 0, 7, &f->a);
	f->b.c[AGG_EVENTS] = 500; /* joins later: no spike */
	hist_observe(h, 1, 9, &f->b);
	f->b.c[AGG_EVENTS] = 505;
	hist_observe(h, 1, 9, &f->b);
	assert_int_equal(hist_row_at(h, T0 + 2000)->v[HIST_EVENTS], 15);
	/* agent 0 restarts (new boot, counters lower): rebases */
	f->a.c[AGG_EVENTS] = 3;
	hist_observe(h, 0, 8, &f->a);
	f->a.c[AGG_EVENTS] = 4;
	hist_observe(h, 0, 8, &f->a);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_EVENTS], 16);
	/* agent 1 goes away and comes back higher: forgotten, no spike */
	hist_forget(h, 1);
	f->b.c[AGG_EVENTS] = 900;
	hist_observe(h, 1, 9, &f->b);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_EVENTS], 16);
	hist_close(h);
}

static void
test_minutes_close(void **state)
{
	struct fix *f = *state;
	struct nudge_diag d = {0};
	struct hist *h;
	uint64_t v[3];

	assert_int_equal(hist_open(&h, NULL, 1, T0, &d), 0);
	hist_observe(h, 0, 1, &f->a);
	f->a.c[AGG_PURCHASES] = 2;
	f->a.c[AGG_REVENUE_CENTS] = 5000;
	hist_observe(h, 0, 1, &f->a);
	assert_false(hist_advance(h, T0 + 59999, 40));
	assert_true(hist_advance(h, T0 + MIN, 42));
	f->a.c[AGG_PURCHASES] = 5;
	hist_observe(h, 0, 1, &f->a);
	assert_true(hist_advance(h, T0 + 3 * MIN + 5, 7)); /* a gap */
	assert_int_equal(hist_row_at(h, T0)->v[HIST_PURCHASES], 2);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_VISITORS], 42);
	assert_int_equal(hist_row_at(h, T0 + MIN)->v[HIST_PURCHASES], 3);
	assert_null(hist_row_at(h, T0 + 2 * MIN));
	assert_int_equal(hist_sum(h, HIST_PURCHASES, T0, T0 + 4 * MIN), 5);
	assert_int_equal(hist_sum(h, HIST_REVENUE, T0, T0 + MIN), 5000);
	assert_int_equal(
	    hist_sum(h, HIST_PURCHASES, T0 + MIN, T0 + 4 * MIN), 3);
	hist_series(h, HIST_PURCHASES, T0 + 3 * MIN, v, 3);
	assert_int_equal(v[0], 3);
	assert_int_equal(v[1], 0);
	assert_int_equal(v[2], 0);
	hist_close(h);
}

static void
test_persists(void **state)
{
	struct fix *f = *state;
	struct nudge_diag d = {0};
	struct hist *h;

	assert_int_equal(hist_open(&h, f->path, 1, T0, &d), 0);
	hist_observe(h, 0, 1, &f->a);
	f->a.c[AGG_FUNNEL(1)] = 12;
	f->a.c[AGG_EVENTS] = 99;
	hist_observe(h, 0, 1, &f->a);
	hist_advance(h, T0 + MIN, 3);
	f->a.c[AGG_EVENTS] = 100; /* the open minute is not written */
	hist_observe(h, 0, 1, &f->a);
	hist_close(h);
	assert_int_equal(hist_open(&h, f->path, 1, T0 + 2 * MIN, &d), 0);
	assert_non_null(hist_row_at(h, T0));
	assert_true(hist_row_at(h, T0)->own);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_FUNNEL0 + 1], 12);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_EVENTS], 99);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_VISITORS], 3);
	assert_null(hist_row_at(h, T0 + MIN));
	/* an own minute is never back-filled; a missing one is */
	assert_false(hist_fill(h, T0, "events", 5));
	assert_true(hist_fill(h, T0 + MIN, "events", 5));
	assert_true(hist_fill(h, T0 + MIN + 17, "events", 6)); /* 2nd agent */
	assert_false(hist_fill(h, T0 + MIN, "no.such", 6));
	assert_int_equal(hist_fill_commit(h), 0);
	assert_int_equal(hist_row_at(h, T0 + MIN)->v[HIST_EVENTS], 11);
	hist_close(h);
	assert_int_equal(hist_open(&h, f->path, 1, T0 + 2 * MIN, &d), 0);
	assert_int_equal(hist_row_at(h, T0 + MIN)->v[HIST_EVENTS], 11);
	assert_true(hist_row_at(h, T0 + MIN)->own); /* loaded: settled */
	hist_close(h);
}

static int
count_rows(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *q;
	int n = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db,
	        "SELECT count(DISTINCT minute) FROM minutes", -1, &q, NULL),
	    SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	return n;
}

static void
test_retention(void **state)
{
	struct fix *f = *state;
	struct nudge_diag d = {0};
	struct hist *h;

	assert_int_equal(hist_open(&h, f->path, 1, T0, &d), 0);
	hist_advance(h, T0 + MIN, 1);
	hist_advance(h, T0 + 2 * MIN, 1);
	assert_int_equal(count_rows(f->path), 2);
	/* 8 days later, closing a minute drops what is older than 8 days */
	hist_advance(h, T0 + HIST_KEEP_MS + MIN + 1, 1);
	hist_advance(h, T0 + HIST_KEEP_MS + 2 * MIN + 1, 1);
	assert_int_equal(count_rows(f->path), 2);
	hist_close(h);
}

/* The back-fill's baseline: only growth after the answer counts. */
static void
test_fill_and_base(void **state)
{
	struct fix *f = *state;
	struct nudge_diag d = {0};
	struct hist *h;

	assert_int_equal(hist_open(&h, NULL, 1, T0 + 30000, &d), 0);
	assert_true(hist_fill(h, T0, "sessions_started", 40)); /* open min */
	assert_true(hist_fill(h, T0 - MIN, "sessions_started", 60));
	hist_set_base(h, 0, 5, "sessions_started", 100);
	f->a.c[AGG_SESSIONS_STARTED] = 103;
	f->a.c[AGG_EVENTS] = 7777; /* not named in the answer: rebases */
	hist_observe(h, 0, 5, &f->a);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_SESSIONS], 43);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_EVENTS], 0);
	assert_int_equal(hist_sum(h, HIST_SESSIONS, T0 - MIN, T0 + MIN), 103);
	assert_true(hist_known(h, T0 - MIN));
	assert_false(hist_known(h, T0 - 2 * MIN));
	/* the model's delta lags the answer: nothing counts twice */
	f->a.c[AGG_SESSIONS_STARTED] = 101;
	hist_observe(h, 0, 5, &f->a);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_SESSIONS], 43);
	f->a.c[AGG_SESSIONS_STARTED] = 106;
	hist_observe(h, 0, 5, &f->a);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_SESSIONS], 46);
	/* the agent's clock turned first: its minute is the current one */
	assert_true(hist_fill(h, T0 + MIN + 5, "events", 1));
	assert_int_equal(hist_row_at(h, T0)->v[HIST_EVENTS], 1);
	/* out of the ring or further in the future: refused */
	assert_false(hist_fill(h, T0 + 2 * MIN, "events", 1));
	assert_false(
	    hist_fill(h, T0 - (uint64_t)HIST_RING_MIN * MIN, "events", 1));
	hist_close(h);
}

/*
 * An answer that comes after the minute it speaks of has closed still
 * counts: that minute holds none of the answering agent's growth.  A
 * minute an earlier run recorded does not take it.
 */
static void
test_fill_after_close(void **state)
{
	struct fix *f = *state;
	struct nudge_diag d = {0};
	struct hist *h;

	assert_int_equal(hist_open(&h, f->path, 2, T0, &d), 0);
	hist_observe(h, 0, 1, &f->a); /* agent 0 answered: observed */
	f->a.c[AGG_SESSIONS_STARTED] = 30;
	hist_observe(h, 0, 1, &f->a);
	assert_true(hist_fill(h, T0 - MIN, "sessions_started", 5));
	hist_advance(h, T0 + MIN, 0);
	assert_true(hist_fill(h, T0 + 7, "sessions_started", 400)); /* 1 */
	assert_true(hist_fill(h, T0 - MIN, "sessions_started", 6));
	assert_int_equal(hist_fill_commit(h), 0);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_SESSIONS], 430);
	assert_int_equal(hist_sum(h, HIST_SESSIONS, T0 - MIN, T0 + MIN), 441);
	hist_close(h);
	assert_int_equal(hist_open(&h, f->path, 2, T0 + 2 * MIN, &d), 0);
	assert_int_equal(hist_row_at(h, T0)->v[HIST_SESSIONS], 430);
	assert_int_equal(hist_row_at(h, T0 - MIN)->v[HIST_SESSIONS], 11);
	assert_false(hist_fill(h, T0, "sessions_started", 1)); /* prior */
	assert_int_equal(hist_row_at(h, T0)->v[HIST_SESSIONS], 430);
	hist_close(h);
}

static void
test_open_fails(void **state)
{
	struct nudge_diag d = {0};
	struct hist *h = NULL;

	(void)state;
	assert_int_equal(
	    hist_open(&h, "/proc/nope/console.db", 1, T0, &d), NUDGE_ESTORE);
	assert_null(h);
	assert_non_null(strstr(d.msg, "history"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test_setup_teardown(
	        test_growth_per_agent, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_minutes_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_persists, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_retention, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fill_and_base, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_fill_after_close, setup, teardown),
	    cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
