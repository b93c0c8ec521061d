/*
 * authraw.c - test tool: control requests signed (or mis-signed) on
 * purpose, to check what the agent refuses.  One REQ socket, blocking;
 * prints one line per reply: "STATUS MESSAGE".
 *
 *   authraw URL KEYFILE MODE [N]
 *
 * MODE:
 *   ping           a signed ping
 *   emit N         a signed emit of N purchase events (visitor authraw-i)
 *   unsigned       an unsigned ping
 *   badmac         a ping whose mac is flipped
 *   resend         the same signed emit of 1 event sent twice (a REQ
 *                  resend: both answered, applied once)
 *   replay N       a signed emit of 1 event, then another request (emit
 *                  of N events) under the same id, signed with the same
 *                  key: the second must be refused
 * KEYFILE "-" sends unsigned.  NUDGE_TEST_CLOCK_OFFSET_MS shifts ts.
 * Exit status: 0 every reply came, 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "auth.h"
#include "clock.h"
#include "event.h"
#include "wire.h"

static struct auth_key key;

static uint64_t
now_ts(void)
{
	const char *s = getenv("NUDGE_TEST_CLOCK_OFFSET_MS");

	return clock_wall_ms() + (uint64_t)(s ? strtoll(s, NULL, 10) : 0);
}

/* Builds cmd (ping, or emit of n events) under id into sb. */
static void
build(msgpack_sbuffer *sb, const uint8_t id[WIRE_ID_LEN], const char *cmd,
    int n, bool sign)
{
	msgpack_packer pk;
	char vid[32];

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_request_begin(&pk, cmd, id, now_ts());
	if (strcmp(cmd, "emit") == 0) {
		msgpack_pack_map(&pk, 1);
		wire_pack_cstr(&pk, "ev");
		msgpack_pack_array(&pk, (size_t)n);
		for (int i = 0; i < n; i++) {
			struct nudge_event ev;
			event_init(&ev);
			ev.type = EVENT_PURCHASE;
			snprintf(vid, sizeof(vid), "authraw-%d", i);
			ev.visitor = (struct nudge_strv){vid, strlen(vid)};
			ev.value_cents = 100;
			wire_pack_event(&pk, &ev);
		}
	} else {
		msgpack_pack_nil(&pk);
	}
	if (sign && key.id[0] != '\0')
		wire_request_end(&pk, sb, key.id, key.secret, key.secret_len);
	else
		wire_request_end(&pk, sb, NULL, NULL, 0);
}

static int
call(nng_socket s, const msgpack_sbuffer *sb)
{
	struct wire_reply rp;
	struct nudge_diag d = {0};
	char *buf;
	size_t len;

	if (nng_send(s, sb->data, sb->size, 0) != 0 ||
	    nng_recv(s, &buf, &len, NNG_FLAG_ALLOC) != 0) {
		puts("noreply");
		return 1;
	}
	if (wire_reply_parse(&rp, buf, len, &wire_limits_default, &d) != 0) {
		puts("undecodable");
	} else {
		printf("%d %s\n", rp.status, rp.message);
		wire_reply_fini(&rp);
	}
	nng_free(buf, len);
	return 0;
}

static int
run(nng_socket s, const char *mode, int n)
{
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	int rv = 0;

	msgpack_sbuffer_init(&sb);
	wire_new_id(id);
	if (strcmp(mode, "ping") == 0 || strcmp(mode, "unsigned") == 0) {
		build(&sb, id, "ping", 0, strcmp(mode, "ping") == 0);
		rv = call(s, &sb);
	} else if (strcmp(mode, "emit") == 0) {
		build(&sb, id, "emit", n, true);
		rv = call(s, &sb);
	} else if (strcmp(mode, "badmac") == 0) {
		build(&sb, id, "ping", 0, true);
		sb.data[sb.size - 1] ^= 0x01;
		rv = call(s, &sb);
	} else if (strcmp(mode, "resend") == 0) {
		build(&sb, id, "emit", 1, true);
		rv = call(s, &sb) | call(s, &sb);
	} else if (strcmp(mode, "replay") == 0) {
		build(&sb, id, "emit", 1, true);
		rv = call(s, &sb);
		build(&sb, id, "emit", n, true);
		rv |= call(s, &sb);
	} else {
		rv = 2;
	}
	msgpack_sbuffer_destroy(&sb);
	return rv;
}

int
main(int argc, char **argv)
{
	struct nudge_diag d = {0};
	nng_socket s;
	int rv;

	if (argc < 4) {
		fputs("usage: authraw URL KEYFILE MODE [N]\n", stderr);
		return 2;
	}
	if (strcmp(argv[2], "-") != 0 &&
	    auth_client_load(&key, argv[2], &d) != 0) {
		fprintf(stderr, "authraw: %s\n", d.msg);
		return 1;
	}
	if (nng_req0_open(&s) != 0 || nng_dial(s, argv[1], NULL, 0) != 0) {
		fprintf(stderr, "authraw: cannot reach %s\n", argv[1]);
		return 1;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	rv = run(s, argv[3], argc > 4 ? atoi(argv[4]) : 1);
	nng_close(s);
	auth_key_wipe(&key);
	return rv;
}
