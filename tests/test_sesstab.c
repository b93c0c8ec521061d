/*
 * test_sesstab.c - the live session table: sessionization, funnel steps,
 * counters, expiry, queries, paths and the score after each step, forget,
 * restore, memory per session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "funnel.h"
#include "sesstab.h"

struct fixture {
	struct funnel funnel;
	struct sesstab *t;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct sesstab_config c = {.shards = 4, .timeout_ms = 30 * 60 * 1000};

	funnel_default(&f->funnel);
	c.funnel = &f->funnel;
	assert_int_equal(sesstab_new(&f->t, &c), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	sesstab_free(f->t);
	free(f);
	return 0;
}

static void
apply(struct sesstab *t, const char *vid, int type, const char *page,
    int64_t cents, uint64_t now)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = (uint8_t)type;
	ev.visitor = strv_of(vid);
	ev.page = strv_of(page);
	ev.value_cents = cents;
	ev.ts_ms = 1700000000000ull + now;
	assert_int_equal(sesstab_apply(t, &ev, now, 0), 0);
}

static void
funnel_counts(struct sesstab *t, uint64_t out[5])
{
	struct agg a;

	sesstab_sum(t, &a);
	for (int i = 0; i < 5; i++)
		out[i] = a.c[AGG_FUNNEL(i)];
}

static void
test_funnel_steps_in_order(void **state)
{
	struct fixture *f = *state;
	uint64_t n[5];

	/* a: full funnel; b: purchase without cart (stops at product) */
	apply(f->t, "a", EVENT_PAGEVIEW, "/", 0, 1);
	apply(f->t, "a", EVENT_PAGEVIEW, "/product/1", 0, 2);
	apply(f->t, "a", EVENT_ADD_TO_CART, "/product/1", 1000, 3);
	apply(f->t, "a", EVENT_PAGEVIEW, "/checkout", 0, 4);
	apply(f->t, "a", EVENT_PURCHASE, "/checkout", 1000, 5);
	apply(f->t, "b", EVENT_PAGEVIEW, "/product/2", 0, 6);
	apply(f->t, "b", EVENT_PURCHASE, "/", 500, 7);
	apply(f->t, "b", EVENT_PAGEVIEW, "/checkout", 0, 8);
	funnel_counts(f->t, n);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 2);
	assert_int_equal(n[2], 1);
	assert_int_equal(n[3], 1);
	assert_int_equal(n[4], 1);
}

static void
test_counters_and_money(void **state)
{
	struct fixture *f = *state;
	struct agg a;

	apply(f->t, "m", EVENT_ADD_TO_CART, "/p", 1250, 1);
	apply(f->t, "m", EVENT_PURCHASE, "/c", 5990, 2);
	apply(f->t, "n", EVENT_PAGEVIEW, "/", 0, 3);
	sesstab_count_rejected(f->t, 3);
	sesstab_sum(f->t, &a);
	assert_int_equal(a.c[AGG_EVENTS], 3);
	assert_int_equal(a.c[AGG_REJECTED], 3);
	assert_int_equal(a.c[AGG_SESSIONS_STARTED], 2);
	assert_int_equal(a.c[AGG_PURCHASES], 1);
	assert_int_equal(a.c[AGG_REVENUE_CENTS], 5990);
	assert_int_equal(a.c[AGG_TYPE(EVENT_PAGEVIEW)], 1);
	assert_true(hll_count(&a.visitors) == 2);
}

static void
test_bots_make_no_session(void **state)
{
	struct fixture *f = *state;
	struct nudge_event ev;
	struct agg a;

	event_init(&ev);
	ev.visitor = strv_of("crawler");
	ev.device = DEVICE_BOT;
	assert_int_equal(sesstab_apply(f->t, &ev, 1, 0), 0);
	sesstab_sum(f->t, &a);
	assert_int_equal(a.c[AGG_BOTS], 1);
	assert_int_equal(a.c[AGG_SESSIONS_STARTED], 0);
	assert_int_equal(a.c[AGG_FUNNEL(0)], 0);
}

struct closed {
	size_t n;
	char last[EVENT_VISITOR_MAX + 1];
};

static void
collect(void *arg, const struct session_summary *v, size_t n)
{
	struct closed *c = arg;

	for (size_t i = 0; i < n; i++) {
		assert_true(v[i].closed);
		snprintf(c->last, sizeof(c->last), "%s", v[i].visitor);
	}
	c->n += n;
}

/*
 * A sweep whose clock was read before an event was applied (the archiver
 * reads it, saves the counters, then sweeps) sees last_mono > now_ms: the
 * session is busy, not idle for 2^64 ms.  Closing it split live visits in
 * two and made campaigns count them twice (tests/integration/campaigns.sh).
 */
static void
test_sweep_older_than_event(void **state)
{
	struct fixture *f = *state;
	struct closed c = {0};
	const uint64_t min = 60 * 1000;

	apply(f->t, "busy", EVENT_PAGEVIEW, "/", 0, 40 * min);
	assert_int_equal(sesstab_expire(f->t, 40 * min - 5, collect, &c), 0);
	assert_int_equal(c.n, 0);
	assert_int_equal(sesstab_expire(f->t, 70 * min, collect, &c), 1);
}

static void
test_inactivity_closes(void **state)
{
	struct fixture *f = *state;
	struct closed c = {0};
	struct agg a;
	uint64_t n[5];
	const uint64_t min = 60 * 1000;

	apply(f->t, "old", EVENT_PAGEVIEW, "/", 0, 0);
	apply(f->t, "new", EVENT_PAGEVIEW, "/", 0, 20 * min);
	assert_int_equal(sesstab_expire(f->t, 30 * min, collect, &c), 1);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.last, "old");
	sesstab_sum(f->t, &a);
	assert_int_equal(a.g[AGG_SESSIONS_LIVE], 1);
	assert_int_equal(a.c[AGG_SESSIONS_CLOSED], 1);
	/* the old visitor coming back starts a new session and visit */
	apply(f->t, "old", EVENT_PAGEVIEW, "/", 0, 31 * min);
	funnel_counts(f->t, n);
	assert_int_equal(n[0], 3);
	/* an event just before the timeout keeps a session alive */
	assert_int_equal(sesstab_expire(f->t, 50 * min - 1, collect, &c), 0);
	assert_int_equal(sesstab_expire(f->t, UINT64_MAX, collect, &c), 2);
	sesstab_sum(f->t, &a);
	assert_int_equal(a.g[AGG_SESSIONS_LIVE], 0);
}

static void
test_query_sorts_filters_pages(void **state)
{
	struct fixture *f = *state;
	struct session_summary out[10];
	size_t n, total;
	char vid[16];

	for (int i = 0; i < 30; i++) {
		snprintf(vid, sizeof(vid), "q%02d", i);
		for (int p = 0; p <= i % 7; p++)
			apply(f->t, vid, EVENT_PAGEVIEW, i % 2 ? "/odd" : "/even",
			    0, (uint64_t)i * 10 + p);
	}
	assert_int_equal(sesstab_query(f->t, SESSION_SORT_RECENT, NULL, 0, 5,
	    out, &n, &total), 0);
	assert_int_equal(n, 5);
	assert_int_equal(total, 30);
	assert_string_equal(out[0].visitor, "q29");
	assert_string_equal(out[1].visitor, "q28");
	assert_int_equal(sesstab_query(f->t, SESSION_SORT_PAGES, NULL, 0, 3,
	    out, &n, &total), 0);
	assert_int_equal(out[0].pages, 7);
	assert_int_equal(sesstab_query(f->t, SESSION_SORT_RECENT, "/odd", 2, 10,
	    out, &n, &total), 0);
	assert_int_equal(total, 15);
	assert_int_equal(n, 10);
	assert_string_equal(out[0].visitor, "q25");
	assert_string_equal(out[0].last_page, "/odd");
	assert_int_equal(sesstab_query(f->t, 99, NULL, 0, 3, out, &n, &total),
	    NUDGE_EINVAL);
}

static void
test_visitor_path_and_forget(void **state)
{
	struct fixture *f = *state;
	struct session_summary s;
	struct session_step path[SESSION_PATH_MAX];
	size_t n;

	for (int i = 0; i < 20; i++) {
		char page[32];
		snprintf(page, sizeof(page), "/page/%d", i);
		apply(f->t, "walker", EVENT_PAGEVIEW, page, 0, (uint64_t)i);
	}
	apply(f->t, "walker", EVENT_CLICK, "/page/19", 0, 30);
	assert_int_equal(sesstab_visitor(f->t, strv_of("walker"), &s, path,
	    SESSION_PATH_MAX, &n), 0);
	assert_int_equal(s.pages, 20);
	assert_int_equal(s.events, 21);
	assert_int_equal(n, 16); /* clicks are not path steps; 16 kept */
	assert_string_equal(path[0].page, "/page/4");
	assert_string_equal(path[15].page, "/page/19");
	assert_true(path[15].ts_ms > path[0].ts_ms);
	assert_int_equal(sesstab_forget(f->t, strv_of("walker")), 0);
	assert_int_equal(sesstab_visitor(f->t, strv_of("walker"), &s, path,
	    SESSION_PATH_MAX, &n), NUDGE_ENOTFOUND);
	assert_int_equal(sesstab_forget(f->t, strv_of("walker")),
	    NUDGE_ENOTFOUND);
}

/* The path as its visitor's steps: the score after each, oldest first. */
static size_t
path_of(struct sesstab *t, const char *vid, struct session_step *path,
    int32_t *session_score)
{
	struct session_summary s;
	size_t n = 0;

	assert_int_equal(sesstab_visitor(t, strv_of(vid), &s, path,
	    SESSION_PATH_MAX, &n), 0);
	*session_score = s.score;
	for (size_t i = 0; i < n; i++)
		assert_true(path[i].has_score);
	return n;
}

/*
 * Each step keeps the score once its event and the rules' sesstab_add_score
 * were done; an event that is no step (a click) adds to the step before.
 */
static void
test_path_scores_follow_add_score(void **state)
{
	struct fixture *f = *state;
	struct session_step path[SESSION_PATH_MAX];
	int32_t score;

	assert_int_equal(sesstab_add_score(f->t, strv_of("sc"), 1),
	    NUDGE_ENOTFOUND);
	apply(f->t, "sc", EVENT_PAGEVIEW, "/a", 0, 1);
	assert_int_equal(sesstab_add_score(f->t, strv_of("sc"), 2), 0);
	apply(f->t, "sc", EVENT_CLICK, "/a", 0, 2);
	assert_int_equal(sesstab_add_score(f->t, strv_of("sc"), 3), 0);
	apply(f->t, "sc", EVENT_PAGEVIEW, "/b", 0, 3);	/* no rule score */
	apply(f->t, "sc", EVENT_ADD_TO_CART, "/b", 500, 4);
	assert_int_equal(sesstab_add_score(f->t, strv_of("sc"), -7), 0);
	assert_int_equal(path_of(f->t, "sc", path, &score), 3);
	assert_string_equal(path[0].page, "/a");
	assert_int_equal(path[0].score, 5);
	assert_string_equal(path[1].page, "/b");
	assert_int_equal(path[1].type, EVENT_PAGEVIEW);
	assert_int_equal(path[1].score, 5);
	assert_int_equal(path[2].type, EVENT_ADD_TO_CART);
	assert_int_equal(path[2].score, -2);
	assert_int_equal(score, -2);	/* the newest step is the session's */
	/* saturating, like the session's score */
	assert_int_equal(sesstab_add_score(f->t, strv_of("sc"), INT32_MAX), 0);
	assert_int_equal(sesstab_add_score(f->t, strv_of("sc"), INT32_MAX), 0);
	assert_int_equal(path_of(f->t, "sc", path, &score), 3);
	assert_int_equal(path[2].score, INT32_MAX);
	assert_int_equal(score, INT32_MAX);
	assert_int_equal(path[1].score, 5);
}

/* 20 steps in a ring of 16: the 16 kept keep their own scores. */
static void
test_path_scores_wrap_aligned(void **state)
{
	struct fixture *f = *state;
	struct session_step path[SESSION_PATH_MAX];
	int32_t score;
	size_t n;

	for (int i = 0; i < 20; i++) {
		char page[32];
		snprintf(page, sizeof(page), "/page/%d", i);
		apply(f->t, "ring", EVENT_PAGEVIEW, page, 0, (uint64_t)i);
		/* step i leaves the score at 1 + 2 + ... + (i + 1) */
		assert_int_equal(sesstab_add_score(f->t, strv_of("ring"),
		    i + 1), 0);
	}
	n = path_of(f->t, "ring", path, &score);
	assert_int_equal(n, 16);
	assert_int_equal(score, 20 * 21 / 2);
	for (size_t k = 0; k < n; k++) {
		char page[32];
		int i = (int)k + 4;
		snprintf(page, sizeof(page), "/page/%d", i);
		assert_string_equal(path[k].page, page);
		assert_int_equal(path[k].score, (i + 1) * (i + 2) / 2);
	}
}

/*
 * A batch applies all of a visitor's events before any rule: each event's
 * delta, given with its view's path_seq, lands where one-by-one would.
 */
static void
test_path_scores_batch(void **state)
{
	struct fixture *f = *state;
	static const uint8_t type[4] = {EVENT_CLICK, EVENT_PAGEVIEW,
	    EVENT_CLICK, EVENT_PAGEVIEW};
	static const int32_t delta[4] = {1, 10, 100, 1000};
	struct nudge_event ev[4];
	const struct nudge_event *evp[4];
	struct sesstab_view views[4];
	struct session_step pa[SESSION_PATH_MAX], pb[SESSION_PATH_MAX];
	int rv[4];
	int32_t sa, sb;

	for (int i = 0; i < 4; i++) {
		event_init(&ev[i]);
		ev[i].type = type[i];
		ev[i].visitor = strv_of("batch");
		ev[i].page = strv_of(i < 2 ? "/one" : "/two");
		ev[i].ts_ms = 1700000000000ull + (uint64_t)i;
		evp[i] = &ev[i];
	}
	assert_int_equal(sesstab_apply_batch(f->t, evp, 4, 1, 0, views, rv),
	    0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(rv[i], 0);
		assert_int_equal(sesstab_add_score_at(f->t, strv_of("batch"),
		    delta[i], views[i].path_seq), 0);
	}
	/* the same events one by one, each followed by its delta */
	for (int i = 0; i < 4; i++) {
		ev[i].visitor = strv_of("single");
		assert_int_equal(sesstab_apply(f->t, &ev[i], 1, 0), 0);
		assert_int_equal(sesstab_add_score(f->t, strv_of("single"),
		    delta[i]), 0);
	}
	assert_int_equal(path_of(f->t, "batch", pa, &sa), 2);
	assert_int_equal(path_of(f->t, "single", pb, &sb), 2);
	/* the first click came before any step: it counts in the first */
	assert_int_equal(pa[0].score, 1 + 10 + 100);
	assert_int_equal(pa[1].score, 1111);
	assert_int_equal(sa, 1111);
	for (int k = 0; k < 2; k++)
		assert_int_equal(pa[k].score, pb[k].score);
	assert_int_equal(sa, sb);
}

/* A closed session's sampled events are wiped by forget too. */
static void
test_forget_wipes_recent_events(void **state)
{
	struct fixture *f = *state;
	struct closed c = {0};
	struct sesstab_event out[8];
	size_t n;

	apply(f->t, "leaver", EVENT_PAGEVIEW, "/a", 0, 0);
	apply(f->t, "stayer", EVENT_PAGEVIEW, "/b", 0, 1);
	apply(f->t, "leaver", EVENT_CLICK, "/a", 0, 2);
	/* the session closes before the events are sampled */
	assert_int_equal(sesstab_expire(f->t, UINT64_MAX, collect, &c), 2);
	assert_int_equal(sesstab_forget(f->t, strv_of("leaver")),
	    NUDGE_ENOTFOUND);
	n = sesstab_recent_events(f->t, out, 8);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].visitor, "stayer");
	assert_int_equal(sesstab_recent_events(f->t, out, 8), 0);
}

static void
test_restore_continues_funnel(void **state)
{
	struct fixture *f = *state;
	struct session_summary s = {0};
	uint64_t n[5];

	snprintf(s.visitor, sizeof(s.visitor), "back");
	s.step = 3; /* visit, product, cart reached */
	s.pages = 3;
	assert_int_equal(sesstab_restore(f->t, &s, 0), 0);
	assert_int_equal(sesstab_restore(f->t, &s, 0), NUDGE_EEXIST);
	apply(f->t, "back", EVENT_PAGEVIEW, "/checkout", 0, 1);
	funnel_counts(f->t, n);
	/* restored sessions do not count again; only the new step does */
	assert_int_equal(n[0], 0);
	assert_int_equal(n[2], 0);
	assert_int_equal(n[3], 1);
}

static void
test_changed_sample_once(void **state)
{
	struct fixture *f = *state;
	struct session_summary out[8];

	apply(f->t, "c1", EVENT_PAGEVIEW, "/", 0, 1);
	apply(f->t, "c1", EVENT_PAGEVIEW, "/x", 0, 2);
	apply(f->t, "c2", EVENT_PAGEVIEW, "/", 0, 3);
	assert_int_equal(sesstab_changed(f->t, out, 8), 2);
	assert_int_equal(sesstab_changed(f->t, out, 8), 0);
	apply(f->t, "c1", EVENT_PAGEVIEW, "/y", 0, 4);
	assert_int_equal(sesstab_changed(f->t, out, 8), 1);
	assert_string_equal(out[0].last_page, "/y");
}

static void
test_many_sessions_memory(void **state)
{
	struct fixture *f = *state;
	size_t sessions, bytes;
	char vid[24];

	for (int i = 0; i < 100000; i++) {
		snprintf(vid, sizeof(vid), "v%016x", (unsigned)i * 2654435761u);
		apply(f->t, vid, EVENT_PAGEVIEW, "/product/1", 0, 1);
	}
	sesstab_memory(f->t, &sessions, &bytes);
	assert_int_equal(sessions, 100000);
	/* the budget is 512 bytes per live session */
	assert_true(bytes / sessions <= 512);
	struct closed c = {0};
	assert_int_equal(sesstab_expire(f->t, UINT64_MAX, collect, &c), 100000);
	assert_int_equal(c.n, 100000);
}

struct kept {
	size_t n;
	struct session_summary v[4];
};

static void
keep(void *arg, const struct session_summary *v, size_t n)
{
	struct kept *k = arg;

	for (size_t i = 0; i < n && k->n < 4; i++)
		k->v[k->n++] = v[i];
}

static void
test_marks(void **state)
{
	struct fixture *f = *state;
	struct sesstab_mark m[3] = {
		{.slot = 2, .init = 0x8001, .set = 0x0008},
		{.slot = 5, .init = 0, .set = 0},	/* a read */
		{.slot = SESSION_XSLOTS, .init = 1},	/* out of range */
	};
	struct kept c = {0};
	struct session_summary *s = c.v;

	assert_int_equal(sesstab_mark(f->t, strv_of("nobody"), m, 1),
	    NUDGE_ENOTFOUND);
	apply(f->t, "mk", EVENT_PAGEVIEW, "/", 0, 1);
	apply(f->t, "mk2", EVENT_PAGEVIEW, "/", 0, 1);
	assert_int_equal(sesstab_mark(f->t, strv_of("mk"), m, 3), 0);
	assert_int_equal(m[0].had, 0);
	assert_int_equal(m[0].now, 0x8009);
	assert_int_equal(m[1].had, 0);
	assert_int_equal(m[1].now, 0);	/* init 0 leaves a zero word alone */
	/* the second time: init is not applied again, set is ORed in */
	m[0].init = 0x8002;
	m[0].set = 0x0010;
	assert_int_equal(sesstab_mark(f->t, strv_of("mk"), m, 1), 0);
	assert_int_equal(m[0].had, 0x8009);
	assert_int_equal(m[0].now, 0x8019);
	/* two entries on one slot in one call apply in order */
	struct sesstab_mark two[2] = {{.slot = 7, .init = 0x8000},
	    {.slot = 7, .init = 0x8001, .set = 2}};
	assert_int_equal(sesstab_mark(f->t, strv_of("mk"), two, 2), 0);
	assert_int_equal(two[1].had, 0x8000);
	assert_int_equal(two[1].now, 0x8002);
	m[0] = (struct sesstab_mark){.slot = 2, .init = 0x8003};
	assert_int_equal(sesstab_mark(f->t, strv_of("mk2"), m, 1), 0);
	assert_int_equal(m[0].now, 0x8003);
	/* clearing a slot zeroes it in every live session, and no other */
	sesstab_clear_slot(f->t, 2);
	sesstab_clear_slot(f->t, SESSION_XSLOTS);	/* ignored */
	m[0] = (struct sesstab_mark){.slot = 2};
	m[1] = (struct sesstab_mark){.slot = 7};
	assert_int_equal(sesstab_mark(f->t, strv_of("mk"), m, 2), 0);
	assert_int_equal(m[0].had, 0);
	assert_int_equal(m[1].had, 0x8002);
	m[0] = (struct sesstab_mark){.slot = 2};
	assert_int_equal(sesstab_mark(f->t, strv_of("mk2"), m, 1), 0);
	assert_int_equal(m[0].had, 0);
	/* marks go out with the summary (for a graceful restart) and come
	 * back with sesstab_restore; a new session starts at zero */
	assert_int_equal(sesstab_expire(f->t, UINT64_MAX, keep, &c), 2);
	assert_int_equal(c.n, 2);
	int k = strcmp(s[0].visitor, "mk") == 0 ? 0 : 1;
	assert_int_equal(s[k].xmarks[7], 0x8002);
	assert_int_equal(sesstab_restore(f->t, &s[k], 5), 0);
	m[0] = (struct sesstab_mark){.slot = 7};
	assert_int_equal(sesstab_mark(f->t, strv_of("mk"), m, 1), 0);
	assert_int_equal(m[0].had, 0x8002);
	apply(f->t, "mk2", EVENT_PAGEVIEW, "/", 0, 9);
	m[0] = (struct sesstab_mark){.slot = 7};
	assert_int_equal(sesstab_mark(f->t, strv_of("mk2"), m, 1), 0);
	assert_int_equal(m[0].had, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_funnel_steps_in_order,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_and_money, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_bots_make_no_session,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_older_than_event,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_inactivity_closes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_query_sorts_filters_pages,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget_wipes_recent_events,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_visitor_path_and_forget,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_path_scores_follow_add_score, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_scores_wrap_aligned,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_scores_batch, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restore_continues_funnel,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_changed_sample_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_sessions_memory,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_marks, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
