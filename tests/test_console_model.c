/*
 * test_console_model.c - the console's model fed with messages built by
 * the wire encoders: merging agents, applying deltas, gaps and resync,
 * restarts, session and event samples, bad and unknown input, the rate.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../console/model.h"

struct fix {
	struct model m;
	msgpack_sbuffer sb;
	struct wire_snapshot snap;
	uint64_t dseq;	/* delta seq the next snapshot says it includes */
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(model_init(&f->m, 2), 0);
	msgpack_sbuffer_init(&f->sb);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	model_fini(&f->m);
	msgpack_sbuffer_destroy(&f->sb);
	free(f);
	return 0;
}

static struct wire_header
hdr(int kind, const char *agent, uint64_t seq)
{
	struct wire_header h = {.v = WIRE_VERSION,
	    .kind = (uint8_t)kind,
	    .seq = seq,
	    .ts_ms = 1700000000000ull};

	strcpy(h.agent, agent);
	return h;
}

/* Feeds agent idx a snapshot with the given counters. */
static unsigned
feed_snapshot(struct fix *f, unsigned idx, const char *name, uint64_t seq,
    uint64_t boot, uint64_t events, uint64_t step0, uint64_t step1)
{
	struct wire_header h = hdr(WIRE_SNAPSHOT, name, seq);
	struct wire_snapshot *s = &f->snap;

	memset(s, 0, sizeof(*s));
	s->boot_id = boot;
	s->delta_seq = f->dseq;
	s->uptime_ms = 1234;
	strcpy(s->version, "0.1.0");
	strcpy(s->control, "ipc:///tmp/ctl.sock");
	strcpy(s->funnel, "shop");
	s->n_steps = 2;
	strcpy(s->steps[0], "visit");
	strcpy(s->steps[1], "purchase");
	agg_init(&s->agg);
	s->agg.c[AGG_EVENTS] = events;
	s->agg.c[AGG_FUNNEL(0)] = step0;
	s->agg.c[AGG_FUNNEL(1)] = step1;
	s->agg.g[AGG_SESSIONS_LIVE] = 7;
	hll_add(&s->agg.visitors, name, strlen(name));
	assert_int_equal(wire_write_snapshot(&f->sb, &h, s), 0);
	return model_feed(&f->m, idx, f->sb.data, f->sb.size, 1000 + seq);
}

static unsigned
feed_delta(struct fix *f, unsigned idx, const char *name, uint64_t seq,
    uint64_t boot, uint64_t events, uint64_t live)
{
	struct wire_header h = hdr(WIRE_DELTA, name, seq);
	struct agg d;

	agg_init(&d);
	d.c[AGG_EVENTS] = events;
	d.g[AGG_SESSIONS_LIVE] = live;
	assert_int_equal(wire_write_delta(&f->sb, &h, boot, &d), 0);
	return model_feed(&f->m, idx, f->sb.data, f->sb.size, 2000 + seq);
}

static void
test_merge_two_agents(void **state)
{
	struct fix *f = *state;
	const struct agg *a;

	assert_true(
	    feed_snapshot(f, 0, "a1", 0, 11, 10, 5, 1) & MODEL_F_SNAPSHOT);
	assert_true(
	    feed_snapshot(f, 1, "a2", 0, 22, 20, 8, 2) & MODEL_F_SNAPSHOT);
	a = model_merged(&f->m);
	assert_int_equal(a->c[AGG_EVENTS], 30);
	assert_int_equal(a->c[AGG_FUNNEL(0)], 13);
	assert_int_equal(a->c[AGG_FUNNEL(1)], 3);
	assert_int_equal(a->g[AGG_SESSIONS_LIVE], 14);
	assert_int_equal(hll_count(&a->visitors), 2);
	assert_int_equal(model_agents_up(&f->m), 2);
	assert_string_equal(f->m.agents[1].name, "a2");
	assert_string_equal(model_funnel_source(&f->m)->steps[1], "purchase");
	assert_true(
	    model_conversion(&f->m) > 0.23 && model_conversion(&f->m) < 0.24);
	/* An agent that goes down leaves the merged view. */
	model_set_up(&f->m, 1, false);
	assert_int_equal(model_merged(&f->m)->c[AGG_EVENTS], 10);
	assert_int_equal(model_agents_up(&f->m), 1);
}

static void
test_delta_applied(void **state)
{
	struct fix *f = *state;
	const struct model_agent *a = &f->m.agents[0];
	uint64_t gen;

	feed_snapshot(f, 0, "a1", 0, 11, 10, 5, 1);
	gen = f->m.gen;
	/* the snapshot included delta 0: deltas 1, 2, ... apply on top */
	assert_true(feed_delta(f, 0, "a1", 1, 11, 5, 9) & MODEL_F_DELTA);
	assert_true(feed_delta(f, 0, "a1", 2, 11, 2, 3) & MODEL_F_DELTA);
	assert_true(f->m.gen > gen);
	assert_int_equal(a->snap.agg.c[AGG_EVENTS], 17);
	assert_int_equal(a->snap.agg.g[AGG_SESSIONS_LIVE], 3);
	assert_int_equal(model_merged(&f->m)->c[AGG_EVENTS], 17);
	assert_int_equal(a->lost, 0);
	assert_false(a->resync);
}

static void
test_delta_before_snapshot_dropped(void **state)
{
	struct fix *f = *state;

	assert_true(feed_delta(f, 0, "a1", 4, 11, 5, 1) & MODEL_F_DROPPED);
	assert_false(f->m.agents[0].have_snapshot);
	f->dseq = 4;
	feed_snapshot(f, 0, "a1", 0, 11, 10, 5, 1);
	assert_true(feed_delta(f, 0, "a1", 5, 11, 1, 1) & MODEL_F_DELTA);
	assert_int_equal(f->m.agents[0].snap.agg.c[AGG_EVENTS], 11);
}

static void
test_gap_and_resync(void **state)
{
	struct fix *f = *state;
	const struct model_agent *a = &f->m.agents[0];
	unsigned fl;

	feed_snapshot(f, 0, "a1", 0, 11, 10, 5, 1);
	feed_delta(f, 0, "a1", 1, 11, 1, 1);
	fl = feed_delta(f, 0, "a1", 4, 11, 100, 1); /* 2 and 3 lost */
	assert_true(fl & MODEL_F_GAP);
	assert_true(fl & MODEL_F_DROPPED);
	assert_int_equal(a->lost, 2);
	assert_true(a->resync);
	/* In sequence again, but still waiting for a snapshot. */
	assert_true(feed_delta(f, 0, "a1", 5, 11, 100, 1) & MODEL_F_DROPPED);
	assert_int_equal(a->snap.agg.c[AGG_EVENTS], 11);
	/* The next snapshot (published right after delta 6) replaces the
	 * aggregates and ends the resync; delta 6 itself was lost, which
	 * the snapshot covers: delta 7 applies, no new gap. */
	f->dseq = 6;
	fl = feed_snapshot(f, 0, "a1", 1, 11, 500, 5, 1);
	assert_true(fl & MODEL_F_SNAPSHOT);
	assert_false(a->resync);
	assert_int_equal(a->snap.agg.c[AGG_EVENTS], 500);
	fl = feed_delta(f, 0, "a1", 7, 11, 1, 1);
	assert_true(fl & MODEL_F_DELTA);
	assert_false(fl & MODEL_F_GAP);
	assert_int_equal(a->snap.agg.c[AGG_EVENTS], 501);
	/* Snapshot gaps count as lost too, but the snapshot applies. */
	f->dseq = 7;
	fl = feed_snapshot(f, 0, "a1", 4, 11, 600, 5, 1);
	assert_true(fl & MODEL_F_GAP);
	assert_true(fl & MODEL_F_SNAPSHOT);
	assert_int_equal(a->lost, 4);
}

static void
test_restart_new_boot(void **state)
{
	struct fix *f = *state;
	const struct model_agent *a = &f->m.agents[0];
	unsigned fl;

	f->dseq = 8;
	feed_snapshot(f, 0, "a1", 7, 11, 10, 5, 1);
	feed_delta(f, 0, "a1", 9, 11, 1, 1);
	/* New process: new boot id, sequences back to 0. */
	f->dseq = 0;
	fl = feed_snapshot(f, 0, "a1", 0, 99, 40, 5, 1);
	assert_true(fl & MODEL_F_RESTART);
	assert_true(fl & MODEL_F_SNAPSHOT);
	assert_int_equal(a->restarts, 1);
	assert_int_equal(a->boot_id, 99);
	assert_int_equal(a->snap.agg.c[AGG_EVENTS], 40);
	/* Its delta sequence starts afresh: the one after dseq applies. */
	assert_true(feed_delta(f, 0, "a1", 1, 99, 2, 1) & MODEL_F_DELTA);
	assert_int_equal(a->snap.agg.c[AGG_EVENTS], 42);
	assert_int_equal(a->lost, 0);
}

static void
test_restart_seq_back(void **state)
{
	struct fix *f = *state;
	const struct model_agent *a = &f->m.agents[0];
	unsigned fl;

	feed_snapshot(f, 0, "a1", 5, 11, 10, 5, 1);
	feed_delta(f, 0, "a1", 50, 11, 1, 1);
	/* A delta whose seq goes back (same boot id): reset and wait. */
	fl = feed_delta(f, 0, "a1", 2, 11, 1000, 1);
	assert_true(fl & MODEL_F_RESTART);
	assert_true(fl & MODEL_F_DROPPED);
	assert_false(a->have_snapshot);
	assert_int_equal(model_merged(&f->m)->c[AGG_EVENTS], 0);
	fl = feed_snapshot(f, 0, "a1", 0, 11, 70, 5, 1);
	assert_true(fl & MODEL_F_SNAPSHOT);
	assert_int_equal(model_merged(&f->m)->c[AGG_EVENTS], 70);
	assert_int_equal(a->restarts, 1);
}

static void
test_delta_new_boot(void **state)
{
	struct fix *f = *state;
	unsigned fl;

	feed_snapshot(f, 0, "a1", 3, 11, 10, 5, 1);
	fl = feed_delta(f, 0, "a1", 0, 12, 5, 1);
	assert_true(fl & MODEL_F_RESTART);
	assert_true(fl & MODEL_F_DROPPED);
	assert_false(f->m.agents[0].have_snapshot);
}

static void
test_sessions_newest_first(void **state)
{
	struct fix *f = *state;
	struct session_summary s[3];
	struct wire_header h = hdr(WIRE_SESSION, "a1", 0);

	memset(s, 0, sizeof(s));
	strcpy(s[0].visitor, "v1");
	s[0].last_ms = 100;
	strcpy(s[1].visitor, "v2");
	s[1].last_ms = 300;
	strcpy(s[2].visitor, "v3");
	s[2].last_ms = 200;
	assert_int_equal(wire_write_sessions(&f->sb, &h, s, 3), 0);
	assert_true(model_feed(&f->m, 0, f->sb.data, f->sb.size, 1) &
	            MODEL_F_SESSIONS);
	assert_int_equal(f->m.n_sessions, 3);
	assert_string_equal(f->m.sessions[0].s.visitor, "v2");
	assert_string_equal(f->m.sessions[2].s.visitor, "v1");
	/* v1 again, newer; v3 closed: v1 moves up, v3 goes. */
	s[0].last_ms = 400;
	s[1] = s[2];
	s[1].closed = true;
	h.seq = 1;
	assert_int_equal(wire_write_sessions(&f->sb, &h, s, 2), 0);
	model_feed(&f->m, 0, f->sb.data, f->sb.size, 2);
	assert_int_equal(f->m.n_sessions, 2);
	assert_string_equal(f->m.sessions[0].s.visitor, "v1");
	assert_string_equal(f->m.sessions[1].s.visitor, "v2");
}

static void
test_events_ring(void **state)
{
	struct fix *f = *state;
	struct nudge_event ev[2];
	struct wire_header h = hdr(WIRE_EVENT, "a1", 0);

	event_init(&ev[0]);
	event_init(&ev[1]);
	ev[0].type = EVENT_PAGEVIEW;
	ev[0].visitor = STRV_LIT("v1");
	ev[0].page = STRV_LIT("/home");
	ev[1].type = EVENT_PURCHASE;
	ev[1].visitor = STRV_LIT("v2");
	ev[1].value_cents = 5990;
	assert_int_equal(wire_write_events(&f->sb, &h, ev, 2), 0);
	assert_true(
	    model_feed(&f->m, 1, f->sb.data, f->sb.size, 1) & MODEL_F_EVENTS);
	assert_non_null(model_event_at(&f->m, 0));
	assert_string_equal(model_event_at(&f->m, 0)->visitor, "v2");
	assert_int_equal(model_event_at(&f->m, 0)->value_cents, 5990);
	assert_int_equal(model_event_at(&f->m, 0)->agent, 1);
	assert_string_equal(model_event_at(&f->m, 1)->page, "/home");
	assert_null(model_event_at(&f->m, 2));
}

/* A snapshot's "forgot" drops those visitors' sessions and events. */
static void
test_forgot_dropped(void **state)
{
	struct fix *f = *state;
	struct session_summary s[2];
	struct nudge_event ev[3];
	struct wire_header h = hdr(WIRE_SESSION, "a1", 0);
	struct wire_header hs = hdr(WIRE_SNAPSHOT, "a2", 0);
	struct wire_snapshot *snap = &f->snap;

	memset(s, 0, sizeof(s));
	strcpy(s[0].visitor, "gone");
	strcpy(s[1].visitor, "stay");
	assert_int_equal(wire_write_sessions(&f->sb, &h, s, 2), 0);
	model_feed(&f->m, 0, f->sb.data, f->sb.size, 1);
	for (int i = 0; i < 3; i++) {
		event_init(&ev[i]);
		ev[i].type = EVENT_PAGEVIEW;
		ev[i].visitor = i == 1 ? STRV_LIT("stay") : STRV_LIT("gone");
	}
	h = hdr(WIRE_EVENT, "a1", 0);
	assert_int_equal(wire_write_events(&f->sb, &h, ev, 3), 0);
	model_feed(&f->m, 0, f->sb.data, f->sb.size, 2);
	assert_int_equal(f->m.ev_n, 3);
	/* another agent's snapshot says "gone" was erased */
	memset(snap, 0, sizeof(*snap));
	snap->boot_id = 9;
	agg_init(&snap->agg);
	snap->n_forgot = 1;
	snap->forgot[0] = wire_visitor_hash(STRV_LIT("gone"));
	assert_int_equal(wire_write_snapshot(&f->sb, &hs, snap), 0);
	assert_true(model_feed(&f->m, 1, f->sb.data, f->sb.size, 3) &
	            MODEL_F_SESSIONS);
	assert_int_equal(f->m.n_sessions, 1);
	assert_string_equal(f->m.sessions[0].s.visitor, "stay");
	assert_int_equal(f->m.ev_n, 1);
	assert_string_equal(model_event_at(&f->m, 0)->visitor, "stay");
	assert_null(model_event_at(&f->m, 1));
	/* the ring goes on from there */
	h.seq = 1;
	assert_int_equal(wire_write_events(&f->sb, &h, ev, 1), 0);
	model_feed(&f->m, 0, f->sb.data, f->sb.size, 4);
	assert_string_equal(model_event_at(&f->m, 1)->visitor, "stay");
	assert_int_equal(f->m.ev_n, 2);
}

/*
 * One nng message holding an agent's period (agent/publish.c): a snapshot
 * and the next delta back to back are both applied, in order; a broken
 * part after them is counted bad without undoing them.
 */
static void
test_batch(void **state)
{
	struct fix *f = *state;
	static const unsigned char junk[] = {0x96, 0x01, 0x01, 0xc1};
	struct wire_header h = hdr(WIRE_DELTA, "a1", 1);
	msgpack_sbuffer all;
	struct agg d;
	unsigned fl;

	/* the snapshot's bytes (fed to the other agent slot on the way) */
	feed_snapshot(f, 1, "a1", 0, 11, 10, 5, 1);
	msgpack_sbuffer_init(&all);
	msgpack_sbuffer_write(&all, f->sb.data, f->sb.size);
	agg_init(&d);
	d.c[AGG_EVENTS] = 5;
	assert_int_equal(wire_write_delta(&f->sb, &h, 11, &d), 0);
	msgpack_sbuffer_write(&all, f->sb.data, f->sb.size);
	fl = model_feed(&f->m, 0, all.data, all.size, 1);
	assert_true(fl & MODEL_F_SNAPSHOT);
	assert_true(fl & MODEL_F_DELTA);
	assert_false(fl & MODEL_F_BAD);
	assert_int_equal(f->m.agents[0].snap.agg.c[AGG_EVENTS], 15);

	h.seq = 2;
	assert_int_equal(wire_write_delta(&f->sb, &h, 11, &d), 0);
	msgpack_sbuffer_clear(&all);
	msgpack_sbuffer_write(&all, f->sb.data, f->sb.size);
	msgpack_sbuffer_write(&all, (const char *)junk, sizeof(junk));
	fl = model_feed(&f->m, 0, all.data, all.size, 2);
	assert_true(fl & MODEL_F_DELTA);
	assert_true(fl & MODEL_F_BAD);
	assert_int_equal(f->m.agents[0].bad, 1);
	assert_int_equal(f->m.agents[0].snap.agg.c[AGG_EVENTS], 20);
	msgpack_sbuffer_destroy(&all);
}

static void
test_bad_and_unknown(void **state)
{
	struct fix *f = *state;
	static const unsigned char junk[] = {0x96, 0x01, 0x01, 0xc1};
	msgpack_packer pk;

	assert_true(model_feed(&f->m, 0, junk, sizeof(junk), 1) & MODEL_F_BAD);
	assert_int_equal(f->m.agents[0].bad, 1);
	/* A kind from the future is skipped silently. */
	msgpack_sbuffer_clear(&f->sb);
	msgpack_packer_init(&pk, &f->sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, WIRE_VERSION);
	msgpack_pack_uint8(&pk, 42);
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "a1", 2);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_uint64(&pk, 0);
	msgpack_pack_nil(&pk);
	assert_int_equal(
	    model_feed(&f->m, 0, f->sb.data, f->sb.size, 1), MODEL_F_SKIPPED);
	assert_int_equal(f->m.agents[0].bad, 1);
	assert_int_equal(
	    model_feed(&f->m, 9, junk, sizeof(junk), 1), MODEL_F_SKIPPED);
}

static void
test_rate(void **state)
{
	struct fix *f = *state;

	feed_snapshot(f, 0, "a1", 0, 11, 100, 5, 1);
	model_tick(&f->m, 10000);
	assert_true(model_events_rate(&f->m) == 0);
	feed_delta(f, 0, "a1", 1, 11, 50, 1);
	model_tick(&f->m, 11000);
	feed_delta(f, 0, "a1", 2, 11, 150, 1);
	model_tick(&f->m, 12000);
	assert_true(model_events_rate(&f->m) > 99.9 &&
	            model_events_rate(&f->m) < 100.1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_merge_two_agents, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_delta_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_delta_before_snapshot_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_gap_and_resync, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_new_boot, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_restart_seq_back, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_delta_new_boot, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_sessions_newest_first, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_events_ring, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forgot_dropped, setup,
	        teardown),
	    cmocka_unit_test_setup_teardown(
	        test_bad_and_unknown, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
