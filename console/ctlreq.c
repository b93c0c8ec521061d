/*
 * ctlreq.c - control request building and the blocking REQ client used by
 * `nudge emit`.  Each ctlreq_client owns its socket; the module owns the
 * process's signing key (set once by main, wiped at exit).  Called from
 * the main thread of the CLI.
 */
#include "ctlreq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "reaper.h"
#include "tlsconf.h"

static struct auth_key ctl_key;	/* id "" = unsigned */

static void
ctlreq_wipe_key(void)
{
	auth_key_wipe(&ctl_key);
}

int
ctlreq_send(struct link *l, msgpack_sbuffer *sb, const char *cmd,
    ctlreq_args_fn pack, const void *arg, link_reply_fn fn, void *fn_arg,
    uint64_t now_ms)
{
	uint8_t id[WIRE_ID_LEN];
	int rv = ctlreq_build(sb, cmd, pack, arg, id);

	return rv != 0 ? rv : link_call(l, sb, id, fn, fn_arg, now_ms);
}

void
ctlreq_set_key(const struct auth_key *k)
{
	static bool registered;

	auth_key_wipe(&ctl_key);
	if (k == NULL)
		return;
	ctl_key = *k;
	if (!registered)
		registered = atexit(ctlreq_wipe_key) == 0;
}

/* Tests date requests off the real clock to exercise expiry. */
static uint64_t
ctlreq_now(void)
{
	const char *s = getenv("NUDGE_TEST_CLOCK_OFFSET_MS");
	long long off = s != NULL ? strtoll(s, NULL, 10) : 0;
	uint64_t now = clock_wall_ms();

	if (off < 0 && (uint64_t)-off > now)
		return 0;
	return now + (uint64_t)off;
}

int
ctlreq_build(msgpack_sbuffer *sb, const char *cmd, ctlreq_args_fn fn,
    const void *arg, uint8_t id[WIRE_ID_LEN])
{
	msgpack_packer pk;

	msgpack_sbuffer_clear(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_new_id(id);
	wire_request_begin(&pk, cmd, id, ctlreq_now());
	if (fn != NULL)
		fn(&pk, arg);
	else
		msgpack_pack_nil(&pk);
	if (ctl_key.id[0] == '\0')
		return wire_request_end(&pk, sb, NULL, NULL, 0);
	return wire_request_end(&pk, sb, ctl_key.id, ctl_key.secret,
	    ctl_key.secret_len);
}

int
ctlreq_open(struct ctlreq_client *c, const char *url, int timeout_ms,
    struct nudge_diag *d)
{
	int rv;

	memset(c, 0, sizeof(*c));
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		nudge_diag_set(
		    d, 0, 0, "cannot open socket: %s", nng_strerror(rv));
		return NUDGE_ECONN;
	}
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, timeout_ms);
	/* A reply is at most an emit's error list or a page of sessions. */
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, 4u << 20);
	if ((rv = tlsconf_dial(c->sock, url, 0)) != 0) {
		nudge_diag_set(
		    d, 0, 0, "cannot reach %s: %s", url, nng_strerror(rv));
		reaper_close(c->sock);
		return NUDGE_ECONN;
	}
	snprintf(c->url, sizeof(c->url), "%s", url);
	c->open = true;
	return 0;
}

void
ctlreq_close(struct ctlreq_client *c)
{
	if (c->open)
		reaper_close(c->sock);
	c->open = false;
}

int
ctlreq_call(struct ctlreq_client *c, const msgpack_sbuffer *sb, nng_msg **msg,
    struct wire_reply *rp, struct nudge_diag *d)
{
	nng_msg *m;
	int rv;

	if (nng_msg_alloc(&m, 0) != 0) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	if (nng_msg_append(m, sb->data, sb->size) != 0) {
		nng_msg_free(m);
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	if ((rv = nng_sendmsg(c->sock, m, 0)) != 0) {
		nng_msg_free(m);
		nudge_diag_set(
		    d, 0, 0, "%s: send: %s", c->url, nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? NUDGE_ETIMEOUT : NUDGE_ECONN;
	}
	if ((rv = nng_recvmsg(c->sock, &m, 0)) != 0) {
		nudge_diag_set(
		    d, 0, 0, "%s: no reply: %s", c->url, nng_strerror(rv));
		return rv == NNG_ETIMEDOUT ? NUDGE_ETIMEOUT : NUDGE_ECONN;
	}
	rv = wire_reply_parse(
	    rp, nng_msg_body(m), nng_msg_len(m), &wire_limits_reply, d);
	if (rv != 0) {
		nng_msg_free(m);
		return rv;
	}
	*msg = m;
	return 0;
}
