/*
 * test_fleet_relay.c - console/fleet.c against a relay's envelope
 * (agent/relay.h): a fake relay on inproc:// answers with
 * {agents: [[name, status, message, body]...]}; fleet_call must give each
 * agent behind it an entry of its own, hand the relay's index a
 * representative answer, replay each agent's own answer when asked for
 * the same command, and refuse a replay for another command.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <pthread.h>

#include "../console/fleet.h"
#include "wire.h"

#define URL "inproc://fleet-relay"

/* Answers one request with an envelope of three agents, one a relay. */
static void *
fake_relay(void *arg)
{
	nng_socket *s = arg;
	nng_msg *m;
	struct wire_request rq;
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (nng_recvmsg(*s, &m, 0) != 0)
		return NULL;
	if (wire_request_parse(&rq, nng_msg_body(m), nng_msg_len(m),
	    &wire_limits_default, NULL) != 0) {
		nng_msg_free(m);
		return NULL;
	}
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, rq.id, 0, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 3);
	/* web-1: refused */
	msgpack_pack_array(&pk, 4);
	wire_pack_cstr(&pk, "web-1");
	msgpack_pack_int(&pk, NUDGE_ESTALE);
	wire_pack_cstr(&pk, "version 9 in force");
	msgpack_pack_nil(&pk);
	/* web-2: acknowledged version 7 */
	msgpack_pack_array(&pk, 4);
	wire_pack_cstr(&pk, "web-2");
	msgpack_pack_int(&pk, 0);
	wire_pack_cstr(&pk, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "version");
	msgpack_pack_uint64(&pk, 7);
	/* relay-b: a relay with one agent behind it, version 8 */
	msgpack_pack_array(&pk, 4);
	wire_pack_cstr(&pk, "relay-b");
	msgpack_pack_int(&pk, 0);
	wire_pack_cstr(&pk, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "agents");
	msgpack_pack_array(&pk, 1);
	msgpack_pack_array(&pk, 4);
	wire_pack_cstr(&pk, "web-3");
	msgpack_pack_int(&pk, 0);
	wire_pack_cstr(&pk, "");
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "version");
	msgpack_pack_uint64(&pk, 8);
	wire_request_fini(&rq);
	nng_msg_clear(m);
	nng_msg_append(m, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	if (nng_sendmsg(*s, m, 0) != 0)
		nng_msg_free(m);
	return NULL;
}

struct got {
	unsigned calls;
	uint64_t version[CONF_AGENTS_MAX];
	int status[CONF_AGENTS_MAX];
};

static void
got_reply(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct got *g = arg;

	g->calls++;
	g->status[idx] = rp->status;
	wire_get_u64(rp->body, "version", &g->version[idx]);
}

static void
test_envelope_expands(void **state)
{
	static struct fleet f;
	static struct got g;
	nng_socket s;
	pthread_t th;

	(void)state;
	assert_int_equal(nng_rep0_open(&s), 0);
	assert_int_equal(nng_listen(s, URL, NULL, 0), 0);
	assert_int_equal(pthread_create(&th, NULL, fake_relay, &s), 0);
	memset(&f, 0, sizeof(f));
	f.n = 1;
	strcpy(f.a[0].pub, "tcp://relay:7460");
	strcpy(f.a[0].ctl, URL);
	strcpy(f.a[0].name, "relay-a");

	/* the relay answers for three entries; its own index gets web-2's */
	assert_int_equal(fleet_call(&f, 0, "rules_put", NULL, NULL,
	    got_reply, &g, NULL), 0);
	pthread_join(th, NULL);
	nng_close(s);
	assert_true(f.a[0].relay);
	assert_int_equal(f.n, 4);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.version[0], 7);
	assert_string_equal(f.a[1].name, "web-1");
	assert_string_equal(f.a[2].name, "web-2");
	assert_string_equal(f.a[3].name, "relay-b");
	assert_true(f.a[1].virt && f.a[1].parent == 0 && f.a[1].slot == 0);
	assert_string_equal(f.a[1].pub, "tcp://relay:7460");

	/* each agent's own answer, replayed; nothing is sent */
	assert_int_equal(fleet_call(&f, 1, "rules_put", NULL, NULL,
	    got_reply, &g, NULL), NUDGE_ESTALE);
	assert_int_equal(f.a[1].err, NUDGE_ESTALE);
	assert_string_equal(f.a[1].msg, "version 9 in force");
	assert_int_equal(fleet_call(&f, 2, "rules_put", NULL, NULL,
	    got_reply, &g, NULL), 0);
	assert_int_equal(g.version[2], 7);
	/* the nested relay expands in turn: web-3 behind relay-b */
	assert_int_equal(fleet_call(&f, 3, "rules_put", NULL, NULL,
	    got_reply, &g, NULL), 0);
	assert_true(f.a[3].relay);
	assert_int_equal(f.n, 5);
	assert_string_equal(f.a[4].name, "web-3");
	assert_int_equal(f.a[4].parent, 3);
	assert_int_equal(fleet_call(&f, 4, "rules_put", NULL, NULL,
	    got_reply, &g, NULL), 0);
	assert_int_equal(g.version[4], 8);

	/* a replay is for the command its relay forwarded, once */
	assert_int_equal(fleet_call(&f, 2, "rules_put", NULL, NULL,
	    got_reply, &g, NULL), NUDGE_ECONN);
	assert_int_equal(fleet_call(&f, 1, "rules_get", NULL, NULL,
	    got_reply, &g, NULL), NUDGE_ECONN);
	assert_non_null(strstr(f.a[1].msg, "rules_get"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_envelope_expands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
