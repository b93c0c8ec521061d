/*
 * test_cmd_campaign.c - agent/cmd_campaign.c in process, on a real agent
 * (real SQLite file in a temp dir): campaign_list of a pushed rule set,
 * campaign_change through every answer (applied, replayed request id,
 * idempotent re-send, stale with the current state named, illegal, not
 * declared, malformed), and the audit row each change or refusal leaves.
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
#include "command.h"

static const char rules_text[] =
    "funnel shop: visit -> product: page ~ \"/product/\"\n"
    "           -> purchase: event == \"purchase\"\n"
    "rule r1:\n"
    "  when page ~ \"/product/\"\n"
    "  show banner \"hello\"\n"
    "campaign ab on funnel shop goal purchase:\n"
    "  split control 50, variant_b 50\n"
    "  variant_b: disable rule r1\n"
    "  guardrail product drop 5%\n";

struct fixture {
	char dir[64];
	struct nudge_config cfg;
	struct agent a;
	struct cmd_endpoint control;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct nudge_diag d = {0};

	snprintf(f->dir, sizeof(f->dir), "/tmp/nudge-ccmd.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	conf_defaults(&f->cfg);
	snprintf(f->cfg.agent.db, sizeof(f->cfg.agent.db), "%s/a.db", f->dir);
	snprintf(f->cfg.agent.name, sizeof(f->cfg.agent.name), "t1");
	assert_int_equal(agent_init(&f->a, &f->cfg, &d), 0);
	f->control = (struct cmd_endpoint){&f->a, "control", NULL};
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	const char *files[] = {"a.db", "a.db-wal", "a.db-shm"};
	char path[128];

	agent_fini(&f->a);
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* One request and its reply (kept in *keep until the caller frees it). */
static int
call(struct fixture *f, const msgpack_sbuffer *sb, struct wire_reply *rp,
    nng_msg **keep)
{
	struct nudge_diag d = {0};
	nng_msg *reply = NULL;

	cmd_handle(&f->control, sb->data, sb->size, &reply);
	assert_non_null(reply);
	assert_int_equal(wire_reply_parse(rp, nng_msg_body(reply),
	    nng_msg_len(reply), &wire_limits_default, &d), 0);
	*keep = reply;
	return rp->status;
}

static void
push_rules(struct fixture *f)
{
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_reply rp;
	nng_msg *m;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_new_id(id);
	wire_request_begin(&pk, "rules_put", id, 1);
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "text");
	msgpack_pack_str_with_body(&pk, rules_text, sizeof(rules_text) - 1);
	assert_int_equal(wire_request_end(&pk, &sb, NULL, NULL, 0), 0);
	if (call(f, &sb, &rp, &m) != 0)
		fail_msg("rules_put: %s", rp.message);
	wire_reply_fini(&rp);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

/* A campaign_change request for ab into sb, with a fresh id into id. */
static void
change_request(msgpack_sbuffer *sb, uint8_t id[WIRE_ID_LEN], int op,
    uint64_t expect, const char *name)
{
	struct wire_camp_change ch;
	msgpack_packer pk;

	memset(&ch, 0, sizeof(ch));
	snprintf(ch.name, sizeof(ch.name), "%s", name);
	ch.op = (uint8_t)op;
	ch.expect = expect;
	ch.winner = 1;
	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_new_id(id);
	wire_request_begin(&pk, "campaign_change", id, 1);
	wire_pack_camp_change(&pk, &ch);
	assert_int_equal(wire_request_end(&pk, sb, NULL, NULL, 0), 0);
}

/* Sends one change; on success *now is the campaign as answered. */
static int
change(struct fixture *f, int op, uint64_t expect, const char *name,
    struct wire_campaign *now, char *msg, size_t cap)
{
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply rp;
	nng_msg *m;
	int rv;

	msgpack_sbuffer_init(&sb);
	change_request(&sb, id, op, expect, name);
	rv = call(f, &sb, &rp, &m);
	if (rv == 0 && now != NULL)
		assert_int_equal(wire_unpack_campaign(rp.body, now), 0);
	if (msg != NULL)
		snprintf(msg, cap, "%s", rp.message);
	wire_reply_fini(&rp);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
	return rv;
}

/* The newest audit row's detail and status. */
struct last_audit {
	char what[64], detail[256];
	int status;
	bool got;
};

static void
audit_first(void *arg, const struct store_audit_entry *e)
{
	struct last_audit *l = arg;

	if (l->got)
		return;
	snprintf(l->what, sizeof(l->what), "%s", e->what);
	snprintf(l->detail, sizeof(l->detail), "%s", e->detail);
	l->status = e->status;
	l->got = true;
}

static struct last_audit
last_audit(struct fixture *f)
{
	struct last_audit l = {.got = false};

	assert_int_equal(store_audit_tail(f->a.store, 1, audit_first, &l), 0);
	assert_true(l.got);
	return l;
}

static void
test_list(void **state)
{
	struct fixture *f = *state;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_reply rp;
	struct wire_campaign w;
	nng_msg *m;

	push_rules(f);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_new_id(id);
	wire_request_begin(&pk, "campaign_list", id, 1);
	msgpack_pack_nil(&pk);
	assert_int_equal(wire_request_end(&pk, &sb, NULL, NULL, 0), 0);
	assert_int_equal(call(f, &sb, &rp, &m), 0);
	assert_int_equal(rp.body->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(rp.body->via.array.size, 1);
	assert_int_equal(wire_unpack_campaign(&rp.body->via.array.ptr[0], &w),
	    0);
	assert_string_equal(w.c.name, "ab");
	assert_int_equal(w.c.state, CAMP_DRAFT);
	assert_int_equal(w.c.version, 1);
	assert_string_equal(w.c.variant[1], "variant_b");
	assert_string_equal(w.goal, "purchase");
	assert_int_equal(w.n_guard, 1);
	assert_string_equal(w.guard[0], "product");
	assert_int_equal(w.guard_drop_bp[0], 500);
	wire_reply_fini(&rp);
	nng_msg_free(m);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_change_applied_and_audited(void **state)
{
	struct fixture *f = *state;
	struct wire_campaign now;
	struct last_audit l;

	push_rules(f);
	assert_int_equal(change(f, CAMP_OP_START, 1, "ab", &now, NULL, 0), 0);
	assert_int_equal(now.c.state, CAMP_RUNNING);
	assert_int_equal(now.c.version, 2);
	assert_true(now.since_ms > 0);
	l = last_audit(f);
	assert_string_equal(l.what, "campaign_change");
	assert_int_equal(l.status, 0);
	assert_string_equal(l.detail, "ab start expect 1: v1 draft w=50,50 "
	    "ho=0 gen=0 -> v2 running w=50,50 ho=0 gen=0");
	/* the very same change against the version before: a replay */
	assert_int_equal(change(f, CAMP_OP_START, 1, "ab", &now, NULL, 0), 0);
	assert_int_equal(now.c.version, 2);
	l = last_audit(f);
	assert_non_null(strstr(l.detail, "(already)"));
	assert_int_equal(change(f, CAMP_OP_STOP, 2, "ab", &now, NULL, 0), 0);
	assert_int_equal(now.c.state, CAMP_STOPPED);
	assert_int_equal(now.c.winner, 1);
	l = last_audit(f);
	assert_string_equal(l.detail, "ab stop 1 expect 2: v2 running w=50,50 "
	    "ho=0 gen=0 -> v3 stopped w=50,50 ho=0 gen=0 winner=1");
}

static void
test_change_refusals_audited(void **state)
{
	struct fixture *f = *state;
	char msg[256];
	struct last_audit l;

	push_rules(f);
	assert_int_equal(change(f, CAMP_OP_START, 1, "ab", NULL, NULL, 0), 0);
	assert_int_equal(change(f, CAMP_OP_PAUSE, 2, "ab", NULL, NULL, 0), 0);
	/* somebody changed it first: the message says the state now */
	assert_int_equal(change(f, CAMP_OP_RESUME, 1, "ab", NULL, msg,
	    sizeof(msg)), NUDGE_ESTALE);
	assert_non_null(strstr(msg, "version 3"));
	assert_non_null(strstr(msg, "it is paused now"));
	l = last_audit(f);
	assert_int_equal(l.status, NUDGE_ESTALE);
	assert_non_null(strstr(l.detail, "ab resume expect 1 refused: "));
	assert_non_null(strstr(l.detail, "; was v3 paused w=50,50"));
	/* illegal: pause a paused campaign */
	assert_int_equal(change(f, CAMP_OP_PAUSE, 3, "ab", NULL, msg,
	    sizeof(msg)), NUDGE_EINVAL);
	assert_int_equal(last_audit(f).status, NUDGE_EINVAL);
	/* not declared */
	assert_int_equal(change(f, CAMP_OP_START, 1, "nosuch", NULL, msg,
	    sizeof(msg)), NUDGE_ENOTFOUND);
	assert_non_null(strstr(msg, "nosuch"));
	l = last_audit(f);
	assert_int_equal(l.status, NUDGE_ENOTFOUND);
	assert_non_null(strstr(l.detail, "nosuch start expect 1 refused"));
	/* malformed: an unknown op never reaches the runtime */
	assert_int_equal(change(f, CAMP_OP_NONE, 1, "ab", NULL, msg,
	    sizeof(msg)), NUDGE_EINVAL);
	l = last_audit(f);
	assert_non_null(strstr(l.detail, "refused: op"));
}

/* A resent request id is answered from the cache, not applied twice. */
static void
test_change_request_replayed(void **state)
{
	struct fixture *f = *state;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	struct wire_reply r1, r2;
	struct wire_campaign now;
	nng_msg *m1, *m2;

	push_rules(f);
	msgpack_sbuffer_init(&sb);
	change_request(&sb, id, CAMP_OP_START, 1, "ab");
	assert_int_equal(call(f, &sb, &r1, &m1), 0);
	assert_int_equal(call(f, &sb, &r2, &m2), 0);
	assert_int_equal(nng_msg_len(m1), nng_msg_len(m2));
	assert_memory_equal(nng_msg_body(m1), nng_msg_body(m2),
	    nng_msg_len(m1));
	wire_reply_fini(&r1);
	wire_reply_fini(&r2);
	nng_msg_free(m1);
	nng_msg_free(m2);
	msgpack_sbuffer_destroy(&sb);
	/* still at version 2: the next change is against 2 */
	assert_int_equal(change(f, CAMP_OP_PAUSE, 2, "ab", &now, NULL, 0), 0);
	assert_int_equal(now.c.version, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_change_applied_and_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_change_refusals_audited, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_change_request_replayed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
