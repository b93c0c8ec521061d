/*
 * test_command.c - the agent's control dispatcher, in process, on a real
 * agent (real SQLite file in a temp dir): replays applied once, bad input
 * answered with errors, endpoints offering only their commands, the
 * sessions and visitor queries, the history of a run's first minute.
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
#include "archive.h"
#include "command.h"
#include "publish.h"

struct fixture {
	char dir[64];
	struct nudge_config cfg;
	struct agent a;
	struct cmd_endpoint control;
	struct cmd_endpoint ingest;
};

static const char *const ingest_offers[] = {"ping", "emit", NULL};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct nudge_diag d = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/nudge-cmd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	conf_defaults(&f->cfg);
	snprintf(f->cfg.agent.db, sizeof(f->cfg.agent.db), "%s/a.db", f->dir);
	snprintf(f->cfg.agent.name, sizeof(f->cfg.agent.name), "t1");
	assert_int_equal(agent_init(&f->a, &f->cfg, &d), 0);
	f->control = (struct cmd_endpoint){&f->a, "control", NULL};
	f->ingest = (struct cmd_endpoint){&f->a, "ingest", ingest_offers};
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char path[128];

	agent_fini(&f->a);
	const char *files[] = {"a.db", "a.db-wal", "a.db-shm"};
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
pack_event(msgpack_packer *pk, const char *type, const char *vid,
    const char *page)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = (uint8_t)event_type_from_name(strv_of(type));
	ev.visitor = strv_of(vid);
	ev.page = strv_of(page);
	wire_pack_event(pk, &ev);
}

/* Sends raw bytes to an endpoint; returns the parsed reply's status. */
static int
send_raw(const struct cmd_endpoint *ep, const void *buf, size_t len,
    struct wire_reply *rp, nng_msg **keep)
{
	struct nudge_diag d = {0};
	nng_msg *reply = NULL;

	cmd_handle((void *)ep, buf, len, &reply);
	assert_non_null(reply);
	assert_int_equal(wire_reply_parse(rp, nng_msg_body(reply),
	    nng_msg_len(reply), &wire_limits_default, &d), 0);
	*keep = reply;
	return rp->status;
}

static void
emit_request(msgpack_sbuffer *sb, const uint8_t id[WIRE_ID_LEN], int n,
    const char *bad_vid)
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_request_begin(&pk, "emit", id, 1);
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "ev");
	msgpack_pack_array(&pk, (size_t)n + (bad_vid != NULL));
	for (int i = 0; i < n; i++)
		pack_event(&pk, "pageview", "visitor-1", "/product/1");
	if (bad_vid != NULL)
		pack_event(&pk, "pageview", bad_vid, "/");
	assert_int_equal(wire_request_end(&pk, sb, NULL, NULL, 0), 0);
}

static uint64_t
events_counted(struct agent *a)
{
	struct agg total;

	agent_total(a, &total);
	return total.c[AGG_EVENTS];
}

static void
test_emit_replay_applied_once(void **state)
{
	struct fixture *f = *state;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply r1, r2;
	nng_msg *m1, *m2;
	uint64_t acc;

	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	emit_request(&sb, id, 3, NULL);
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r1, &m1), 0);
	assert_int_equal(wire_get_u64(r1.body, "acc", &acc), 0);
	assert_int_equal(acc, 3);
	/* the same request again (an nng REQ resend): same answer, no effect */
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r2, &m2), 0);
	assert_int_equal(nng_msg_len(m1), nng_msg_len(m2));
	assert_memory_equal(nng_msg_body(m1), nng_msg_body(m2),
	    nng_msg_len(m1));
	assert_int_equal(events_counted(&f->a), 3);
	wire_reply_fini(&r1);
	wire_reply_fini(&r2);
	nng_msg_free(m1);
	nng_msg_free(m2);
	/* a new id is a new request */
	wire_new_id(id);
	emit_request(&sb, id, 2, NULL);
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r1, &m1), 0);
	assert_int_equal(events_counted(&f->a), 5);
	wire_reply_fini(&r1);
	nng_msg_free(m1);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_emit_counts_bad_rows(void **state)
{
	struct fixture *f = *state;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply r;
	nng_msg *m;
	uint64_t acc, rej, index;
	const msgpack_object *errs;
	struct agg total;

	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	emit_request(&sb, id, 2, "has space");
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r, &m), 0);
	assert_int_equal(wire_get_u64(r.body, "acc", &acc), 0);
	assert_int_equal(wire_get_u64(r.body, "rej", &rej), 0);
	assert_int_equal(acc, 2);
	assert_int_equal(rej, 1);
	errs = wire_map_get(r.body, "errs");
	assert_non_null(errs);
	assert_int_equal(errs->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(errs->via.array.size, 1);
	index = errs->via.array.ptr[0].via.array.ptr[0].via.u64;
	assert_int_equal(index, 2);
	agent_total(&f->a, &total);
	assert_int_equal(total.c[AGG_REJECTED], 1);
	wire_reply_fini(&r);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_garbage_gets_error_reply(void **state)
{
	struct fixture *f = *state;
	static const unsigned char bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	static const unsigned char junk[] = {0x96, 0x01, 0xc1, 0x00};
	static const unsigned char not_array[] = {0xa3, 'a', 'b', 'c'};
	struct wire_reply r;
	nng_msg *m;

	assert_true(send_raw(&f->control, bomb, sizeof(bomb), &r, &m) < 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	assert_true(send_raw(&f->control, junk, sizeof(junk), &r, &m) < 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	assert_true(send_raw(&f->ingest, not_array, sizeof(not_array), &r,
	    &m) < 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	assert_int_equal(events_counted(&f->a), 0);
}

static void
simple_request(msgpack_sbuffer *sb, const char *cmd, const char *key,
    const char *value)
{
	msgpack_packer pk;
	uint8_t id[WIRE_ID_LEN];

	wire_new_id(id);
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_request_begin(&pk, cmd, id, 1);
	if (key == NULL) {
		msgpack_pack_nil(&pk);
	} else {
		msgpack_pack_map(&pk, 1);
		wire_pack_cstr(&pk, key);
		wire_pack_cstr(&pk, value);
	}
	assert_int_equal(wire_request_end(&pk, sb, NULL, NULL, 0), 0);
}

static void
test_endpoints_offer_their_commands(void **state)
{
	struct fixture *f = *state;
	msgpack_sbuffer sb;
	struct wire_reply r;
	nng_msg *m;

	msgpack_sbuffer_init(&sb);
	simple_request(&sb, "sessions", NULL, NULL);
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r, &m),
	    NUDGE_EKIND);
	wire_reply_fini(&r);
	nng_msg_free(m);
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m), 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "no-such-command", NULL, NULL);
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m),
	    NUDGE_EKIND);
	assert_non_null(strstr(r.message, "no-such-command"));
	wire_reply_fini(&r);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_sessions_and_visitor(void **state)
{
	struct fixture *f = *state;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply r;
	nng_msg *m;
	uint64_t total;
	struct session_summary s;

	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	emit_request(&sb, id, 4, NULL);
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r, &m), 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "sessions", "sort", "pages");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m), 0);
	assert_int_equal(wire_get_u64(r.body, "total", &total), 0);
	assert_int_equal(total, 1);
	const msgpack_object *items = wire_map_get(r.body, "items");
	assert_non_null(items);
	assert_int_equal(items->via.array.size, 1);
	assert_int_equal(wire_unpack_session(&items->via.array.ptr[0], &s), 0);
	assert_string_equal(s.visitor, "visitor-1");
	assert_int_equal(s.pages, 4);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "sessions", "sort", "bogus");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m),
	    NUDGE_EINVAL);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "visitor", "vid", "visitor-1");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m), 0);
	const msgpack_object *path = wire_map_get(r.body, "path");
	assert_non_null(path);
	assert_int_equal(path->via.array.size, 4);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "visitor", "vid", "nobody");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m),
	    NUDGE_ENOTFOUND);
	wire_reply_fini(&r);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

static void
audit_first(void *arg, const struct store_audit_entry *e)
{
	char *detail = arg;

	if (detail[0] == '\0' && e->what && strcmp(e->what, "forget") == 0)
		snprintf(detail, 256, "%s", e->detail ? e->detail : "");
}

/* forget: the live session and memory gone, audited by hash, announced. */
static void
test_forget(void **state)
{
	struct fixture *f = *state;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply r;
	nng_msg *m;
	bool live = false;
	uint64_t facts = 0;
	char detail[256] = "";
	static struct wire_snapshot snap;

	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	emit_request(&sb, id, 3, NULL);
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r, &m), 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "forget", "vid", "visitor-1");
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r, &m),
	    NUDGE_EKIND);	/* not on the ingest socket */
	wire_reply_fini(&r);
	nng_msg_free(m);
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m), 0);
	assert_int_equal(wire_get_bool(r.body, "live", &live), 0);
	assert_true(live);
	assert_int_equal(wire_get_u64(r.body, "facts", &facts), 0);
	assert_int_equal(facts, 1);	/* the rules' memory of them */
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "visitor", "vid", "visitor-1");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m),
	    NUDGE_ENOTFOUND);
	wire_reply_fini(&r);
	nng_msg_free(m);
	/* audited under the hash, never the id */
	assert_int_equal(store_audit_tail(f->a.store, 10, audit_first, detail),
	    0);
	assert_non_null(strstr(detail, "visitor #"));
	assert_null(strstr(detail, "visitor-1"));
	/* announced to consoles */
	publish_fill_snapshot(&f->a, &snap);
	assert_int_equal(snap.n_forgot, 1);
	assert_true(snap.forgot[0] == wire_visitor_hash(STRV_LIT("visitor-1")));
	/* nothing held: still acknowledged */
	simple_request(&sb, "forget", "vid", "visitor-1");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m), 0);
	assert_int_equal(wire_get_bool(r.body, "live", &live), 0);
	assert_false(live);
	wire_reply_fini(&r);
	nng_msg_free(m);
	simple_request(&sb, "forget", "vid", "");
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m),
	    NUDGE_EINVAL);
	wire_reply_fini(&r);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

/* Emits n page views to the fixture's agent. */
static void
emit_pageviews(struct fixture *f, int n)
{
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply r;
	nng_msg *m;

	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	emit_request(&sb, id, n, NULL);
	assert_int_equal(send_raw(&f->ingest, sb.data, sb.size, &r, &m), 0);
	wire_reply_fini(&r);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

/* The events the `history` answer holds over all its minutes. */
static uint64_t
history_events(struct fixture *f)
{
	msgpack_sbuffer sb;
	struct wire_reply r;
	nng_msg *m;
	uint64_t sum = 0;
	int col = -1;

	msgpack_sbuffer_init(&sb);
	simple_request(&sb, "history", NULL, NULL);
	assert_int_equal(send_raw(&f->control, sb.data, sb.size, &r, &m), 0);
	const msgpack_object *names = wire_map_get(r.body, "names");
	const msgpack_object *rows = wire_map_get(r.body, "rows");
	assert_non_null(names);
	assert_non_null(rows);
	for (uint32_t k = 0; k < names->via.array.size; k++)
		if (names->via.array.ptr[k].via.str.size == 6 &&
		    memcmp(names->via.array.ptr[k].via.str.ptr, "events", 6) ==
		        0)
			col = (int)k + 1;
	assert_true(col > 0);
	for (uint32_t i = 0; i < rows->via.array.size; i++)
		sum += rows->via.array.ptr[i].via.array.ptr[col].via.u64;
	wire_reply_fini(&r);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
	return sum;
}

/* Asked before the archiver's first tick, the open minute is still there. */
static void
test_history_before_first_tick(void **state)
{
	struct fixture *f = *state;

	emit_pageviews(f, 4);
	assert_int_equal(history_events(f), 4);
}

/*
 * A stop closes no minute: the next run takes the open one over (or
 * writes its row), so its events stay in the history.
 */
static void
test_history_across_restart(void **state)
{
	struct fixture *f = *state;
	struct nudge_diag d = {0};
	struct archiver *ar;

	assert_int_equal(archive_start(&ar, &f->a, &d), 0);
	usleep(700 * 1000); /* the first tick: the minute's base */
	emit_pageviews(f, 4);
	archive_stop(ar);
	agent_fini(&f->a);
	assert_int_equal(agent_init(&f->a, &f->cfg, &d), 0);
	assert_int_equal(events_counted(&f->a), 4);
	assert_int_equal(archive_start(&ar, &f->a, &d), 0);
	usleep(700 * 1000);
	emit_pageviews(f, 3);
	assert_int_equal(history_events(f), 7);
	archive_stop(ar);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_emit_replay_applied_once,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_emit_counts_bad_rows,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_gets_error_reply,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_endpoints_offer_their_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sessions_and_visitor,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_forget, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_before_first_tick,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_across_restart,
		    setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
