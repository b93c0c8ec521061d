/*
 * test_rules_rt.c - the agent's live rules (agent/rules_rt.c): versions
 * only increase, an identical re-push is acknowledged, a failed compile
 * changes nothing, rollback makes a new version, the swap is atomic under
 * concurrent evaluation, caps hold across sessions and across a restart
 * (the store reopened), the cap clock does not follow a wall-clock jump,
 * context facts are tested and persisted, shadow rules and sets are
 * counted but never shown.  Prints the read cost of the set pointer and
 * the evaluation cost per event with 10, 100 and 1000 rules.
 * Each test works in its own mkdtemp dir.  cmocka 1.1 API.
 */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rules_rt.h"

#define DAY_MS (86400u * 1000u)

struct fixture {
	char dir[64];
	char db[128];
	struct store *st;
	struct rrt *r;
};

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
fx_open(struct fixture *fx)
{
	struct nudge_diag d = {0};

	assert_int_equal(store_open(&fx->st, fx->db, &d), 0);
	assert_int_equal(rrt_new(&fx->r, fx->st, 1024, &d), 0);
}

static void
fx_close(struct fixture *fx)
{
	rrt_free(fx->r);
	store_close(fx->st);
	fx->r = NULL;
	fx->st = NULL;
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/nudge-rrt-XXXXXX");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/nudged.db", fx->dir);
	fx_open(fx);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	fx_close(fx);
	nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static int
put(struct fixture *fx, uint64_t v, const char *text, int kind,
    uint64_t *applied)
{
	struct rrt_put p = {v, text, strlen(text), kind, "test"};
	struct rule_errors errs;
	struct nudge_diag d = {0};

	return rrt_put(fx->r, &p, applied, &errs, &d);
}

static const char set_a[] =
    "rule hello:\n  when event == \"pageview\"\n  show banner \"A\"\n";
static const char set_b[] =
    "rule hello:\n  when event == \"pageview\"\n  show banner \"B\"\n";

static void
test_versions(void **state)
{
	struct fixture *fx = *state;
	struct store_rules v[8];
	uint64_t got = 0;
	size_t n;

	assert_int_equal(rrt_version(fx->r, RRT_ACTIVE), 0);
	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	assert_int_equal(got, 1);
	/* the same version and text again: acknowledged, nothing new */
	got = 0;
	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	assert_int_equal(got, 1);
	/* the same version with another text, or an older one: stale */
	assert_int_equal(put(fx, 1, set_b, RRT_ACTIVE, &got), NUDGE_ESTALE);
	assert_int_equal(put(fx, 0, set_b, RRT_ACTIVE, &got), 0);
	assert_int_equal(got, 2);
	assert_int_equal(put(fx, 5, set_a, RRT_ACTIVE, &got), 0);
	assert_int_equal(put(fx, 3, set_b, RRT_ACTIVE, &got), NUDGE_ESTALE);
	assert_int_equal(rrt_version(fx->r, RRT_ACTIVE), 5);
	assert_int_equal(store_list_rules(fx->st, RRT_ACTIVE, v, 8, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].version, 5);
	assert_int_equal(v[2].version, 1);
	/* shadow versions are their own line */
	assert_int_equal(put(fx, 1, set_b, RRT_SHADOW, &got), 0);
	assert_int_equal(rrt_version(fx->r, RRT_SHADOW), 1);
	/* the versions in force survive a restart */
	fx_close(fx);
	fx_open(fx);
	assert_int_equal(rrt_version(fx->r, RRT_ACTIVE), 5);
	assert_int_equal(rrt_version(fx->r, RRT_SHADOW), 1);
}

static void
test_bad_compile(void **state)
{
	struct fixture *fx = *state;
	struct rrt_put p = {2, "rule x:\n  when contry == \"FR\"\n", 0,
	    RRT_ACTIVE, "t"};
	struct rule_errors errs;
	struct nudge_diag d = {0};
	struct store_rules sr;
	char h1[17], h2[17];
	uint64_t got = 0;

	p.len = strlen(p.text);
	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	rrt_hash(fx->r, RRT_ACTIVE, h1);
	assert_int_equal(rrt_put(fx->r, &p, &got, &errs, &d), NUDGE_ESYNTAX);
	assert_true(errs.n >= 1);
	assert_int_equal(errs.e[0].line, 2);
	assert_true(errs.e[0].col > 0);
	/* nothing changed: version, hash, store */
	assert_int_equal(rrt_version(fx->r, RRT_ACTIVE), 1);
	rrt_hash(fx->r, RRT_ACTIVE, h2);
	assert_string_equal(h1, h2);
	assert_int_equal(store_get_rules(fx->st, RRT_ACTIVE, 2, &sr),
	    NUDGE_ENOTFOUND);
}

static void
test_rollback(void **state)
{
	struct fixture *fx = *state;
	struct nudge_diag d = {0};
	struct store_rules sr;
	uint64_t got = 0;

	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	assert_int_equal(put(fx, 2, set_b, RRT_ACTIVE, &got), 0);
	assert_int_equal(rrt_rollback(fx->r, 1, "t", &got, &d), 0);
	assert_int_equal(got, 3);
	assert_int_equal(store_get_rules(fx->st, RRT_ACTIVE, 3, &sr), 0);
	assert_string_equal(sr.text, set_a);
	free(sr.text);
	assert_int_equal(rrt_rollback(fx->r, 9, "t", &got, &d),
	    NUDGE_ENOTFOUND);
}

struct swaps {
	unsigned n;
	unsigned rules[8];	/* rule count of each set seen; 99: NULL */
};

static void
on_swap(void *arg, const struct rule_set *set)
{
	struct swaps *sw = arg;

	if (sw->n < 8)
		sw->rules[sw->n] = set ? rule_set_count(set) : 99;
	sw->n++;
}

/* The swap hook: at once, after every active swap, never for shadow. */
static void
test_swap_hook(void **state)
{
	struct fixture *fx = *state;
	struct nudge_diag d = {0};
	struct swaps sw = {0};
	uint64_t got = 0;
	static const char two[] =
	    "rule a:\n  when event == \"pageview\"\n  show banner \"A\"\n"
	    "rule b:\n  when event == \"pageview\"\n  show banner \"B\"\n";

	rrt_set_swap_fn(fx->r, on_swap, &sw);
	assert_int_equal(sw.n, 1);
	assert_int_equal(sw.rules[0], 99);	/* no set yet */
	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	assert_int_equal(sw.n, 2);
	assert_int_equal(sw.rules[1], 1);
	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	assert_int_equal(sw.n, 2);	/* a re-push changes nothing */
	assert_int_equal(put(fx, 1, two, RRT_SHADOW, &got), 0);
	assert_int_equal(sw.n, 2);
	assert_int_equal(put(fx, 2, two, RRT_ACTIVE, &got), 0);
	assert_int_equal(sw.rules[2], 2);
	assert_int_equal(rrt_rollback(fx->r, 1, "t", &got, &d), 0);
	assert_int_equal(sw.n, 4);
	assert_int_equal(sw.rules[3], 1);
	rrt_set_swap_fn(fx->r, NULL, NULL);
	assert_int_equal(put(fx, 4, two, RRT_ACTIVE, &got), 0);
	assert_int_equal(sw.n, 4);
}

/* ---- evaluation helpers --------------------------------------------------- */

static void
mkview(struct sesstab_view *sv, uint64_t started_ms, const char *cc)
{
	memset(sv, 0, sizeof(*sv));
	sv->live = true;
	sv->started_ms = started_ms;
	sv->last_ms = started_ms;
	sv->pages = 1;
	sv->events = 1;
	snprintf(sv->country, sizeof(sv->country), "%s", cc);
}

static void
mkevent(struct nudge_event *ev, const char *vid, int type, const char *page)
{
	event_init(ev);
	ev->type = (uint8_t)type;
	ev->visitor = strv_of(vid);
	ev->page = strv_of(page);
}

/* Evaluates one event; returns how many decisions are to be shown. */
static unsigned
shown_for(struct fixture *fx, const char *vid, uint64_t started,
    uint64_t mono, uint64_t wall, struct rrt_shown *sh)
{
	struct nudge_event ev;
	struct sesstab_view sv;
	int32_t score = 0;

	mkevent(&ev, vid, EVENT_PAGEVIEW, "/product/boot");
	mkview(&sv, started, "DE");
	sh->n = 0;
	assert_int_equal(rrt_eval(fx->r, &ev, &sv, mono, wall, sh, &score),
	    0);
	return sh->n;
}

static const char capped_set[] =
    "rule weekly:\n  when event == \"pageview\"\n  show banner \"W\"\n"
    "  at most 1 per 7 days\n"
    "rule per_session:\n  when event == \"pageview\"\n"
    "  show message \"S {country}\"\n";

static void
test_caps_restart(void **state)
{
	struct fixture *fx = *state;
	struct rrt_shown sh;
	uint64_t got, wall = 1700000000000ull, mono = 1000000;

	assert_int_equal(put(fx, 1, capped_set, RRT_ACTIVE, &got), 0);
	assert_int_equal(shown_for(fx, "v1", wall, mono, wall, &sh), 2);
	assert_string_equal(sh.d[1].text, "S DE");
	/* same session: both capped */
	assert_int_equal(shown_for(fx, "v1", wall, mono + 10, wall + 10, &sh),
	    0);
	/* a new session an hour later: only the session cap restarts */
	assert_int_equal(shown_for(fx, "v1", wall + 3600000, mono + 3600000,
	    wall + 3600000, &sh), 1);
	assert_string_equal(sh.d[0].id, "per_session");
	/* another visitor is not affected */
	assert_int_equal(shown_for(fx, "v2", wall, mono + 20, wall + 20, &sh),
	    2);
	/* the agent restarts: the 7-day cap still holds, on a new session */
	fx_close(fx);
	fx_open(fx);
	assert_int_equal(shown_for(fx, "v1", wall + 2 * DAY_MS, 5000,
	    wall + 2 * DAY_MS, &sh), 1);
	assert_string_equal(sh.d[0].id, "per_session");
	/* and its session cap too, same session after the restart */
	assert_int_equal(shown_for(fx, "v1", wall + 2 * DAY_MS, 6000,
	    wall + 2 * DAY_MS + 1000, &sh), 0);
	/* eight days on (taken as they are at the next start: a running
	 * agent would not follow such a step of the wall clock at once),
	 * the weekly one may show again */
	fx_close(fx);
	fx_open(fx);
	assert_int_equal(shown_for(fx, "v1", wall + 10 * DAY_MS, 7000,
	    wall + 10 * DAY_MS, &sh), 2);
}

/* Evaluates a page view of page by v1 in the session started at wall. */
static unsigned
shown_on(struct fixture *fx, const char *page, uint64_t wall,
    uint64_t mono, struct rrt_shown *sh)
{
	struct nudge_event ev;
	struct sesstab_view sv;
	int32_t score = 0;

	mkevent(&ev, "v1", EVENT_PAGEVIEW, page);
	mkview(&sv, wall, "DE");
	sh->n = 0;
	assert_int_equal(rrt_eval(fx->r, &ev, &sv, mono, wall, sh, &score),
	    0);
	return sh->n;
}

/*
 * The visitor's 8 entries are full: a score's entry makes room before a
 * shown action's, even a staler one, so the action is not shown again.
 */
static void
test_hist_keeps_shown(void **state)
{
	struct fixture *fx = *state;
	struct rrt_shown sh;
	char set[2048];
	size_t n = 0;
	uint64_t got, wall = 1700000000000ull, mono = 1000000;

	for (int i = 1; i <= 7; i++)
		n += (size_t)snprintf(set + n, sizeof(set) - n,
		    "rule a%d:\n  when event == \"pageview\" and page == \"/a\"\n"
		    "  show message \"A%d\"\n  at most 1 per 7 days\n", i, i);
	for (int i = 1; i <= 2; i++)
		n += (size_t)snprintf(set + n, sizeof(set) - n,
		    "rule s%d:\n  when event == \"pageview\" and page == \"/s\"\n"
		    "  score +1\n  at most 100 per session\n", i);
	assert_int_equal(put(fx, 1, set, RRT_ACTIVE, &got), 0);
	assert_int_equal(shown_on(fx, "/a", wall, mono, &sh), 7);
	/* a minute on: two scores want entries; only one is free */
	assert_int_equal(shown_on(fx, "/s", wall, mono + 60000, &sh), 0);
	/* a new session a day on: every a-rule is still capped */
	assert_int_equal(shown_on(fx, "/a", wall + DAY_MS, mono + DAY_MS, &sh),
	    0);
	/* and after a restart too (the entries say they were shown) */
	fx_close(fx);
	fx_open(fx);
	assert_int_equal(shown_on(fx, "/a", wall + 2 * DAY_MS, 5000, &sh), 0);
	/* a week on (at a start: see test_caps_restart), they show again */
	fx_close(fx);
	fx_open(fx);
	assert_int_equal(shown_on(fx, "/a", wall + 8 * DAY_MS, 6000, &sh), 7);
}

/* Privacy: a forgotten visitor's caps are gone, in memory and on disk. */
static void
test_forget_and_purge(void **state)
{
	struct fixture *fx = *state;
	struct rrt_shown sh;
	uint64_t got, wall = 1700000000000ull, mono = 1000000;
	bool found = false;

	assert_int_equal(put(fx, 1, capped_set, RRT_ACTIVE, &got), 0);
	assert_int_equal(shown_for(fx, "v1", wall, mono, wall, &sh), 2);
	assert_int_equal(shown_for(fx, "v2", wall, mono, wall, &sh), 2);
	assert_int_equal(rrt_flush(fx->r), 0);
	assert_int_equal(rrt_forget_visitor(fx->r, STRV_LIT("v1"), &found), 0);
	assert_true(found);
	assert_int_equal(rrt_forget_visitor(fx->r, STRV_LIT("v1"), &found), 0);
	assert_false(found);
	/* a stranger again: both shown, though the weekly cap had fired */
	assert_int_equal(shown_for(fx, "v1", wall, mono + 10, wall + 10, &sh),
	    2);
	/* and it stays forgotten across a restart (nothing flushed back) */
	assert_int_equal(rrt_forget_visitor(fx->r, STRV_LIT("v1"), NULL), 0);
	fx_close(fx);
	fx_open(fx);
	assert_int_equal(shown_for(fx, "v1", wall, mono + 20, wall + 20, &sh),
	    2);
	assert_int_equal(shown_for(fx, "v2", wall, mono + 20, wall + 20, &sh),
	    0);	/* v2 is remembered: both capped in this session */
	/* retention: memory last seen before the cut-off goes */
	assert_int_equal(rrt_purge(fx->r, wall + 20), 0);
	assert_int_equal(rrt_purge(fx->r, wall + 21), 2);
	assert_int_equal(shown_for(fx, "v2", wall, mono + 30, wall + 30, &sh),
	    2);
}

static void
test_clock_jump(void **state)
{
	struct fixture *fx = *state;
	struct rrt_shown sh;
	uint64_t got, wall = 1800000000000ull, mono = 50000000;

	assert_int_equal(put(fx, 1, capped_set, RRT_ACTIVE, &got), 0);
	assert_int_equal(shown_for(fx, "v9", wall, mono, wall, &sh), 2);
	/* the wall clock jumps 8 days ahead while only 2 s pass: the cap
	 * clock moves 2 s (and 1% more), so the weekly cap still holds */
	assert_int_equal(shown_for(fx, "v9", wall, mono + 2000,
	    wall + 8 * DAY_MS, &sh), 0);
	/* a jump back: the history in the "future" still counts */
	assert_int_equal(shown_for(fx, "v9", wall, mono + 4000,
	    wall - 30 * DAY_MS, &sh), 0);
	/* 8 days of monotonic time really pass: shown again */
	assert_int_equal(shown_for(fx, "v9", wall,
	    mono + 8ull * DAY_MS, wall + 8ull * DAY_MS, &sh), 1);
	assert_string_equal(sh.d[0].id, "weekly");
}

static void
test_not_delivered(void **state)
{
	struct fixture *fx = *state;
	struct nudge_event ev;
	struct sesstab_view sv;
	struct rrt_rule_stat st[4];
	struct rrt_shown sh;
	uint64_t got, wall = 1700000000000ull;
	int32_t score;

	assert_int_equal(put(fx, 1, capped_set, RRT_ACTIVE, &got), 0);
	mkevent(&ev, "v3", EVENT_PAGEVIEW, "/");
	mkview(&sv, wall, "DE");
	/* an emit/log event: fires, not delivered, cap not used up */
	assert_int_equal(rrt_eval(fx->r, &ev, &sv, 1, wall, NULL, &score), 0);
	assert_int_equal(shown_for(fx, "v3", wall, 2, wall, &sh), 2);
	assert_int_equal(rrt_stats(fx->r, RRT_ACTIVE, st, 4), 2);
	assert_int_equal(st[0].nd, 1);
	assert_int_equal(st[0].s, 1);
	assert_int_equal(st[0].m, 2);
}

static void
test_context(void **state)
{
	struct fixture *fx = *state;
	static const char set[] =
	    "rule snow:\n  when context.weather[region] == \"snow\"\n"
	    "  show banner \"boots -20%\"\n  at most 100 per session\n"
	    "rule stock:\n  when context.stock < 5\n"
	    "  show message \"only {context.stock} left\"\n"
	    "  at most 100 per session\n";
	struct store_fact f[2] = {
	    {"weather", "alps", STORE_FACT_STR, 0, "snow"},
	    {"stock", "", STORE_FACT_NUM, 3, NULL},
	};
	struct nudge_diag d = {0};
	struct nudge_event ev;
	struct sesstab_view sv;
	struct rrt_shown sh;
	uint64_t got, wall = 1700000000000ull;
	int32_t score;

	assert_int_equal(put(fx, 1, set, RRT_ACTIVE, &got), 0);
	mkevent(&ev, "v4", EVENT_PAGEVIEW, "/");
	ev.n_fields = 1;
	ev.fields[0].key = strv_of("region");
	ev.fields[0].val = strv_of("alps");
	mkview(&sv, wall, "CH");
	sh.n = 0;
	rrt_eval(fx->r, &ev, &sv, 1, wall, &sh, &score);
	assert_int_equal(sh.n, 0);	/* no facts yet: missing, false */
	assert_int_equal(rrt_context_set(fx->r, f, 2, &d), 0);
	sh.n = 0;
	rrt_eval(fx->r, &ev, &sv, 2, wall, &sh, &score);
	assert_int_equal(sh.n, 2);
	assert_string_equal(sh.d[1].text, "only 3 left");
	/* a bad key is refused, nothing changes */
	struct store_fact bad = {"we ather", "", STORE_FACT_NUM, 1, NULL};
	assert_int_equal(rrt_context_set(fx->r, &bad, 1, &d), NUDGE_EINVAL);
	/* facts survive a restart; a removed one is gone */
	struct store_fact del = {"stock", "", STORE_FACT_DEL, 0, NULL};
	assert_int_equal(rrt_context_set(fx->r, &del, 1, &d), 0);
	fx_close(fx);
	fx_open(fx);
	sh.n = 0;
	rrt_eval(fx->r, &ev, &sv, 3, wall, &sh, &score);
	assert_int_equal(sh.n, 1);
	assert_string_equal(sh.d[0].id, "snow");
}

static void
test_shadow(void **state)
{
	struct fixture *fx = *state;
	static const char set[] =
	    "rule quiet:\n  when event == \"pageview\"\n  show banner \"Q\"\n"
	    "  shadow\n"
	    "rule loud:\n  when event == \"pageview\"\n  show banner \"L\"\n";
	struct rrt_rule_stat st[4];
	struct rrt_shown sh;
	uint64_t got, wall = 1700000000000ull;

	assert_int_equal(put(fx, 1, set, RRT_ACTIVE, &got), 0);
	assert_int_equal(put(fx, 1, set_b, RRT_SHADOW, &got), 0);
	assert_int_equal(shown_for(fx, "v5", wall, 1, wall, &sh), 1);
	assert_string_equal(sh.d[0].id, "loud");
	assert_int_equal(rrt_stats(fx->r, RRT_ACTIVE, st, 4), 2);
	assert_int_equal(st[0].sh, 1);
	assert_int_equal(st[0].s, 0);
	assert_true(st[0].shadow);
	/* the shadow set's rule: counted, and this visitor already saw one */
	shown_for(fx, "v5", wall, 2, wall, &sh);
	assert_int_equal(rrt_stats(fx->r, RRT_SHADOW, st, 4), 1);
	assert_int_equal(st[0].sh, 2);
	assert_int_equal(st[0].sho, 2);
	assert_int_equal(st[0].s, 0);
}

/* ---- the swap under concurrent evaluation ------------------------------ */

struct swap_arg {
	struct fixture *fx;
	atomic_bool stop;
	atomic_uint mixed, evals;
};

static void *
swap_reader(void *p)
{
	struct swap_arg *a = p;
	struct rrt_shown sh;
	char vid[32];
	unsigned i = 0;

	while (!atomic_load(&a->stop)) {
		struct nudge_event ev;
		struct sesstab_view sv;
		int32_t score;

		snprintf(vid, sizeof(vid), "r%p-%u", (void *)&sh, i++ % 500);
		mkevent(&ev, vid, EVENT_PAGEVIEW, "/");
		mkview(&sv, 1000 + i, "DE");	/* a new session each time */
		sh.n = 0;
		rrt_eval(a->fx->r, &ev, &sv, i, 1700000000000ull + i, &sh,
		    &score);
		/* both rules of one set carry the same version in their text */
		if (sh.n == 2 && strcmp(sh.d[0].text, sh.d[1].text) != 0)
			atomic_fetch_add(&a->mixed, 1);
		atomic_fetch_add(&a->evals, 1);
	}
	return NULL;
}

static void
test_swap_concurrent(void **state)
{
	struct fixture *fx = *state;
	struct swap_arg a = {.fx = fx};
	pthread_t th[3];
	char text[256];
	uint64_t got;

	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, swap_reader, &a),
		    0);
	for (unsigned v = 1; v <= 40; v++) {
		snprintf(text, sizeof(text), "rule a:\n  when event == "
		    "\"pageview\"\n  show banner \"v%u\"\nrule b:\n  when event"
		    " == \"pageview\"\n  show message \"v%u\"\n", v, v);
		assert_int_equal(put(fx, v, text, RRT_ACTIVE, &got), 0);
	}
	atomic_store(&a.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(atomic_load(&a.mixed), 0);
	assert_true(atomic_load(&a.evals) > 0);
	assert_int_equal(rrt_version(fx->r, RRT_ACTIVE), 40);
}

/* ---- figures ------------------------------------------------------------ */

static double
eval_ns(struct fixture *fx, unsigned n_rules, unsigned iters)
{
	size_t cap = (size_t)n_rules * 96 + 64, len = 0;
	char *text = malloc(cap);
	struct timespec t0, t1;
	struct nudge_event ev;
	struct sesstab_view sv;
	struct rrt_shown sh;
	uint64_t got;
	int32_t score;

	for (unsigned i = 0; i < n_rules; i++)
		len += (size_t)snprintf(text + len, cap - len, "rule r%u:\n  "
		    "when event == \"pageview\" and page ~ \"/p%u/\"\n  show "
		    "banner \"x\"\n", i, i);
	assert_int_equal(put(fx, rrt_version(fx->r, RRT_ACTIVE) + 1, text,
	    RRT_ACTIVE, &got), 0);
	free(text);
	mkevent(&ev, "bench", EVENT_PAGEVIEW, "/p7/x");
	mkview(&sv, 1, "DE");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 0; i < iters; i++) {
		sh.n = 0;
		rrt_eval(fx->r, &ev, &sv, 5, 1700000000000ull, &sh, &score);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
	    (double)(t1.tv_nsec - t0.tv_nsec)) / iters;
}

static void
test_figures(void **state)
{
	struct fixture *fx = *state;
	uint64_t got;

	assert_int_equal(put(fx, 1, set_a, RRT_ACTIVE, &got), 0);
	printf("# rules_rt: set pointer acquire+release %.1f ns\n",
	    rrt_bench_acquire(fx->r, 1000000));
	printf("# rules_rt: rrt_eval with 10 rules %.0f ns/event\n",
	    eval_ns(fx, 10, 20000));
	printf("# rules_rt: rrt_eval with 100 rules %.0f ns/event\n",
	    eval_ns(fx, 100, 20000));
	printf("# rules_rt: rrt_eval with 1000 rules %.0f ns/event\n",
	    eval_ns(fx, 1000, 5000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_compile, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forget_and_purge, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(test_caps_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hist_keeps_shown, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_clock_jump, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_delivered, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_context, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_shadow, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_swap_concurrent, setup,
		teardown),
	    cmocka_unit_test_setup_teardown(test_swap_hook, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_figures, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
