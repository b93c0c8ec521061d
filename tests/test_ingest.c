/*
 * test_ingest.c - agent/ingest.c and agent_apply_batch on real agents
 * (SQLite files in a temp dir): a batch leaves what the same events leave
 * applied one by one (sessions, the rules' scores, a rule that tests the
 * score an earlier event of the batch gave), and an emit batch with bad
 * events reports them in order, counted as bad rows.
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

#include "agent.h"
#include "ingest.h"
#include "rules_rt.h"
#include "wire.h"

struct one {
	char dir[64];
	struct nudge_config cfg;
	struct agent a;
};

struct fixture {
	struct one x, y;	/* one by one, batched */
};

static const char rules[] =
    "rule viewed:\n  when event == \"pageview\"\n  score +7\n"
    "  at most 1000 per session\n"
    "rule hot:\n  when event == \"click\" and score >= 20\n  score +100\n"
    "  at most 1000 per session\n"
    "rule cold:\n  when event == \"scroll\" and score < 10\n  score -3\n"
    "  at most 1000 per session\n";

static void
one_up(struct one *o, const char *name)
{
	struct nudge_diag d = {0};
	struct rrt_put p = {0, rules, sizeof(rules) - 1, RRT_ACTIVE, "test"};
	struct rule_errors errs;
	uint64_t v = 0;

	snprintf(o->dir, sizeof(o->dir), "/tmp/nudge-ingest.XXXXXX");
	assert_non_null(mkdtemp(o->dir));
	conf_defaults(&o->cfg);
	snprintf(o->cfg.agent.db, sizeof(o->cfg.agent.db), "%s/a.db", o->dir);
	snprintf(o->cfg.agent.name, sizeof(o->cfg.agent.name), "%s", name);
	assert_int_equal(agent_init(&o->a, &o->cfg, &d), 0);
	assert_int_equal(rrt_put(o->a.rules, &p, &v, &errs, &d), 0);
}

static void
one_down(struct one *o)
{
	char path[128];
	const char *files[] = {"a.db", "a.db-wal", "a.db-shm"};

	agent_fini(&o->a);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", o->dir, files[i]);
		unlink(path);
	}
	rmdir(o->dir);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	one_up(&f->x, "x1");
	one_up(&f->y, "y1");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	one_down(&f->x);
	one_down(&f->y);
	free(f);
	return 0;
}

static char vids[12][16];

static void
make_events(struct nudge_event *ev, size_t n)
{
	static const uint8_t types[] = {EVENT_PAGEVIEW, EVENT_PAGEVIEW,
	    EVENT_PAGEVIEW, EVENT_CLICK, EVENT_SCROLL, EVENT_ADD_TO_CART};
	uint64_t r = 12345;

	for (int i = 0; i < 12; i++)
		snprintf(vids[i], sizeof(vids[i]), "vis-%02d", i);
	for (size_t i = 0; i < n; i++) {
		r = r * 6364136223846793005ull + 1442695040888963407ull;
		event_init(&ev[i]);
		ev[i].visitor = strv_of(vids[(r >> 33) % 12]);
		ev[i].type = types[(r >> 40) % 6];
		ev[i].page = strv_of("/product/1");
		ev[i].ts_ms = 1767225600000ull + i;
		ev[i].x_permille = 10;
		ev[i].y_permille = 20;
		ev[i].scroll_permille = 500;
	}
}

static void
test_batch_as_one_by_one(void **state)
{
	struct fixture *f = *state;
	static struct nudge_event ev[400];
	static const struct nudge_event *evp[400];
	static int rv[400];
	struct session_summary sx, sy;
	struct session_step px[4], py[4];
	size_t nx, ny;
	bool saw_hot = false;

	make_events(ev, 400);
	for (size_t i = 0; i < 400; i++) {
		evp[i] = &ev[i];
		assert_int_equal(agent_apply(&f->x.a, &ev[i], 1000,
		    1767225600000ull), 0);
	}
	agent_apply_batch(&f->y.a, evp, 250, 1000, 1767225600000ull, rv);
	agent_apply_batch(&f->y.a, evp + 250, 150, 1000, 1767225600000ull,
	    rv + 250);
	for (size_t i = 0; i < 400; i++)
		assert_int_equal(rv[i], 0);
	for (int v = 0; v < 12; v++) {
		struct nudge_strv id = strv_of(vids[v]);
		assert_int_equal(sesstab_visitor(f->x.a.sessions, id, &sx, px,
		    4, &nx), 0);
		assert_int_equal(sesstab_visitor(f->y.a.sessions, id, &sy, py,
		    4, &ny), 0);
		assert_int_equal(sx.score, sy.score);
		assert_int_equal(sx.events, sy.events);
		assert_int_equal(sx.pages, sy.pages);
		/* and the score after each step (sesstab_add_score_at) */
		assert_int_equal(nx, ny);
		for (size_t k = 0; k < nx; k++)
			assert_int_equal(px[k].score, py[k].score);
		saw_hot |= sx.score >= 100;
	}
	assert_true(saw_hot);	/* "hot" fired on a score given in-batch */
}

static void
pack_event(msgpack_packer *pk, const char *type, const char *vid)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = (uint8_t)event_type_from_name(strv_of(type));
	ev.visitor = strv_of(vid);
	ev.page = strv_of("/");
	wire_pack_event(pk, &ev);
}

static void
test_emit_reports_bad_rows_in_order(void **state)
{
	struct fixture *f = *state;
	msgpack_sbuffer sb, eb;
	msgpack_packer pk, epk;
	msgpack_unpacked up, ue;
	struct nudge_diag first = {0};
	struct agg before, after;
	size_t acc = 9, rej = 9, n_errs = 9;

	msgpack_sbuffer_init(&sb);
	msgpack_sbuffer_init(&eb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_packer_init(&epk, &eb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 30);
	for (int i = 0; i < 30; i++) {
		if (i % 3 == 1)
			pack_event(&pk, "pageview", "has space"); /* bad */
		else if (i % 3 == 2)
			msgpack_pack_int(&pk, i);	/* not a map */
		else
			pack_event(&pk, "pageview", "ok-visitor");
	}
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	agent_total(&f->y.a, &before);
	assert_int_equal(ingest_events(&f->y.a, &up.data, &acc, &rej, &first,
	    &epk, &n_errs), 0);
	agent_total(&f->y.a, &after);
	assert_int_equal(acc, 10);
	assert_int_equal(rej, 20);
	assert_int_equal(n_errs, WIRE_ERRS_MAX);
	assert_int_equal(after.c[AGG_REJECTED] - before.c[AGG_REJECTED], 20);
	assert_int_equal(after.c[AGG_EVENTS] - before.c[AGG_EVENTS], 10);
	assert_true(strstr(first.msg, "visitor") != NULL);
	/* [[1, msg], [2, "expected a map"], [4, msg], ...] */
	msgpack_unpacked_init(&ue);
	for (size_t off = 0, k = 0; k < n_errs; k++) {
		assert_int_equal(msgpack_unpack_next(&ue, eb.data, eb.size,
		    &off), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(ue.data.type, MSGPACK_OBJECT_ARRAY);
		uint64_t idx = ue.data.via.array.ptr[0].via.u64;
		assert_int_equal(idx, 3 * (k / 2) + 1 + k % 2);
		if (idx % 3 == 2)
			assert_memory_equal(
			    ue.data.via.array.ptr[1].via.str.ptr,
			    "expected a map", 14);
	}
	msgpack_unpacked_destroy(&ue);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&eb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_batch_as_one_by_one,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_emit_reports_bad_rows_in_order, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
