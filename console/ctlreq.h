/*
 * ctlreq.h - building control requests and, for the scripting CLI, making
 * one blocking round trip on a REQ socket.
 *
 * Requests are built with wire_request_begin()/wire_request_end() (the
 * wire module is the only writer of the format); this module adds the
 * socket handling around them.  The TUI never blocks: it sends what
 * ctlreq_build() made through link_call().
 */
#ifndef NUDGE_CTLREQ_H
#define NUDGE_CTLREQ_H

#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

#include "auth.h"
#include "link.h"
#include "wire.h"

#define CTLREQ_TIMEOUT_MS 5000

/* Packs exactly one args object (a map, or nil). */
typedef void (*ctlreq_args_fn)(msgpack_packer *pk, const void *arg);

/*
 * Clears sb and writes a whole request for cmd into it, with a fresh id
 * (written to id) and args from fn (nil when fn is NULL), signed with the
 * key given to ctlreq_set_key() if any.  Returns 0 or NUDGE_ENOMEM.
 */
int ctlreq_build(msgpack_sbuffer *sb, const char *cmd, ctlreq_args_fn fn,
    const void *arg, uint8_t id[WIRE_ID_LEN]);

/*
 * ctlreq_build() into sb, then link_call() on l (the TUI's way): 0 once
 * sent, else link_call's NUDGE_EBUSY / NUDGE_ECONN, or NUDGE_ENOMEM.
 */
int ctlreq_send(struct link *l, msgpack_sbuffer *sb, const char *cmd,
    ctlreq_args_fn pack, const void *arg, link_reply_fn fn, void *fn_arg,
    uint64_t now_ms);

/*
 * The key every request of this process is signed with, copied (the
 * caller wipes its own copy).  One key per process, set by main before
 * the first request and never changed after, so that every caller of
 * ctlreq_build() signs without the key being passed around.  NULL clears
 * (and wipes) it.  The request's ts is the wall clock, plus
 * $NUDGE_TEST_CLOCK_OFFSET_MS (a testing aid: a signed integer) when set.
 */
void ctlreq_set_key(const struct auth_key *k);

/* A blocking client: one REQ socket dialed to one URL. */
struct ctlreq_client {
	nng_socket sock;
	bool open;
	char url[256];
};

/*
 * Opens a REQ socket and dials url synchronously, so that an absent agent
 * is reported at once.  Returns 0 or NUDGE_ECONN with the reason in d.
 */
int ctlreq_open(struct ctlreq_client *c, const char *url, int timeout_ms,
    struct nudge_diag *d);
void ctlreq_close(struct ctlreq_client *c);

/*
 * Sends sb and waits for the reply (the socket's receive timeout).  On 0,
 * *msg holds the reply bytes and rp the decoded reply, which points into
 * *msg: release with wire_reply_fini(rp) then nng_msg_free(*msg).  Returns
 * NUDGE_ETIMEOUT, NUDGE_ECONN or a decoding error with d filled.  A reply
 * with a non-zero status is still 0 here: look at rp->status.
 */
int ctlreq_call(struct ctlreq_client *c, const msgpack_sbuffer *sb,
    nng_msg **msg, struct wire_reply *rp, struct nudge_diag *d);

#endif
