/*
 * test_relayenv.c - console/relayenv.c: a plain reply is its own one leaf;
 * a relay's envelope yields every agent behind it in order, a relay behind
 * a relay walked in place; relayenv_pick takes the first success, else the
 * first answer; a body that only looks like an envelope is a plain reply.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../console/relayenv.h"

static const uint8_t id[WIRE_ID_LEN];

/* One agent's entry [name, status, message, {version: v}] (or nil body). */
static void
pack_entry(msgpack_packer *pk, const char *name, int status, const char *msg,
    int64_t version)
{
	msgpack_pack_array(pk, 4);
	wire_pack_cstr(pk, name);
	msgpack_pack_int(pk, status);
	wire_pack_cstr(pk, msg);
	if (version < 0) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, (uint64_t)version);
}

static void
parse(msgpack_sbuffer *sb, struct wire_reply *rp)
{
	assert_int_equal(wire_reply_parse(rp, sb->data, sb->size,
	    &wire_limits_reply, NULL), 0);
}

/* relay-a: web-1 refused, relay-b {web-2 missing, web-3 v8}, web-4 v7. */
static void
build_nested(msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 3);
	pack_entry(&pk, "web-1", NUDGE_ESTALE, "version 9 in force", -1);
	msgpack_pack_array(&pk, 4);
	wire_pack_cstr(&pk, "relay-b");
	msgpack_pack_int(&pk, 0);
	wire_pack_cstr(&pk, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 2);
	pack_entry(&pk, "web-2", NUDGE_ENOTFOUND, "no such visitor", -1);
	pack_entry(&pk, "web-3", 0, "", 8);
	pack_entry(&pk, "web-4", 0, "", 7);
}

struct seen {
	unsigned n;
	char names[8][WIRE_AGENT_MAX + 1];
	int status[8];
	unsigned depth[8];
	uint64_t version[8];
};

static void
collect(void *arg, const struct relayenv_leaf *leaf)
{
	struct seen *s = arg;

	assert_true(s->n < 8);
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", leaf->name);
	s->status[s->n] = leaf->status;
	s->depth[s->n] = leaf->depth;
	wire_get_u64(leaf->body, "version", &s->version[s->n]);
	s->n++;
}

static void
test_nested_leaves(void **state)
{
	msgpack_sbuffer sb;
	struct wire_reply rp;
	struct seen s = {0};
	struct relayenv_leaf pick;

	(void)state;
	msgpack_sbuffer_init(&sb);
	build_nested(&sb);
	parse(&sb, &rp);
	assert_true(relayenv_is(&rp));
	assert_int_equal(relayenv_each(&rp, collect, &s), 4);
	assert_string_equal(s.names[0], "web-1");
	assert_int_equal(s.status[0], NUDGE_ESTALE);
	assert_int_equal(s.depth[0], 1);
	assert_string_equal(s.names[1], "web-2");
	assert_int_equal(s.depth[1], 2);
	assert_string_equal(s.names[2], "web-3");
	assert_int_equal(s.version[2], 8);
	assert_string_equal(s.names[3], "web-4");
	assert_int_equal(s.version[3], 7);
	/* the one that has it: web-3, the first success (nested) */
	assert_true(relayenv_pick(&rp, &pick));
	assert_string_equal(pick.name, "web-3");
	assert_int_equal(pick.status, 0);
	wire_reply_fini(&rp);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_plain_reply(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_reply rp;
	struct seen s = {0};

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "version");
	msgpack_pack_uint64(&pk, 5);
	parse(&sb, &rp);
	assert_false(relayenv_is(&rp));
	assert_int_equal(relayenv_each(&rp, collect, &s), 1);
	assert_string_equal(s.names[0], "");
	assert_int_equal(s.depth[0], 0);
	assert_int_equal(s.version[0], 5);
	wire_reply_fini(&rp);
	msgpack_sbuffer_destroy(&sb);
}

/* {agents: [...]} whose entries are not [str, int, str, any]: plain. */
static void
test_lookalike_is_plain(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_reply rp;
	struct seen s = {0};

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 2);
	wire_pack_cstr(&pk, "web-1");
	msgpack_pack_int(&pk, 0);
	parse(&sb, &rp);
	assert_false(relayenv_is(&rp));
	assert_int_equal(relayenv_each(&rp, collect, &s), 1);
	wire_reply_fini(&rp);
	msgpack_sbuffer_destroy(&sb);
}

/* No success anywhere: the first answer, with its status and message. */
/* The newest version among the successes, walked through nested relays. */
static void
test_pick_newest(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_reply rp;
	struct relayenv_leaf pick = {.status = -1};
	uint64_t v = 0;

	(void)state;
	msgpack_sbuffer_init(&sb);
	build_nested(&sb); /* web-3 v8 inside relay-b, then web-4 v7 */
	parse(&sb, &rp);
	relayenv_pick_newest(&rp, &pick);
	assert_string_equal(pick.name, "web-3");
	assert_int_equal(wire_get_u64(pick.body, "version", &v), 0);
	assert_int_equal(v, 8);
	wire_reply_fini(&rp);
	/* a later, newer success wins over an earlier one and an error */
	msgpack_sbuffer_clear(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 3);
	pack_entry(&pk, "web-1", NUDGE_ETIMEOUT, "no answer", -1);
	pack_entry(&pk, "web-2", 0, "", 3);
	pack_entry(&pk, "web-3", 0, "", 5);
	parse(&sb, &rp);
	relayenv_pick_newest(&rp, &pick);
	assert_string_equal(pick.name, "web-3");
	wire_reply_fini(&rp);
	/* errors only: the first, as it is */
	msgpack_sbuffer_clear(&sb);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 2);
	pack_entry(&pk, "web-1", NUDGE_ESTALE, "stale", -1);
	pack_entry(&pk, "web-2", NUDGE_ETIMEOUT, "no answer", -1);
	parse(&sb, &rp);
	relayenv_pick_newest(&rp, &pick);
	assert_string_equal(pick.name, "web-1");
	assert_int_equal(pick.status, NUDGE_ESTALE);
	wire_reply_fini(&rp);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_pick_first_error(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct wire_reply rp;
	struct relayenv_leaf pick;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 2);
	pack_entry(&pk, "web-1", NUDGE_ETIMEOUT, "no answer", -1);
	pack_entry(&pk, "web-2", NUDGE_ENOTFOUND, "", -1);
	parse(&sb, &rp);
	assert_true(relayenv_pick(&rp, &pick));
	assert_string_equal(pick.name, "web-1");
	assert_int_equal(pick.status, NUDGE_ETIMEOUT);
	assert_string_equal(pick.message, "no answer");
	wire_reply_fini(&rp);
	/* an empty envelope has no leaf: pick says so */
	msgpack_sbuffer_clear(&sb);
	wire_reply_begin(&pk, id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 0);
	parse(&sb, &rp);
	assert_false(relayenv_pick(&rp, &pick));
	wire_reply_fini(&rp);
	msgpack_sbuffer_destroy(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nested_leaves),
	    cmocka_unit_test(test_plain_reply),
	    cmocka_unit_test(test_lookalike_is_plain),
	    cmocka_unit_test(test_pick_newest),
	    cmocka_unit_test(test_pick_first_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
