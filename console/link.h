/*
 * link.h - the console's connection to one agent: a SUB socket that hears
 * its snapshots, deltas and samples, and a REQ socket for on-demand control
 * requests, both driven non-blocking from the console's one poll() loop.
 *
 * Link state (pub side), with the function that makes each transition:
 *
 *	link_open()
 *	    |
 *	    v
 *	CONNECTING --first snapshot (link_service)--------> LIVE
 *	    ^   |                                          |   ^
 *	    +---+ no snapshot for LINK_STALE_MS            |   |
 *	      (link_tick: close and re-open the SUB)       |   |
 *	                                                   |   | snapshot
 *	          no snapshot for LINK_STALE_MS (link_tick:|   | (link_service)
 *	          close and re-open the SUB, agent down)   v   |
 *	                                                  STALE
 *	                                                   |  ^
 *	                                                   +--+ every
 *	                                           LINK_STALE_MS: re-open again
 *
 * The SUB socket is re-opened rather than trusted to recover because nng
 * 1.5.2 was seen to leave a subscriber blocked with data queued; a receive
 * timeout is never relied upon.  An absent agent needs no re-open: the
 * dial is non-blocking and nng's reconnect retries it.
 *
 * Sequence numbers, boot ids, lost and bad counts are tracked by the model
 * (model_feed), which link_service() calls for every message; the link
 * only turns "a snapshot arrived" into LIVE and silence into STALE.
 *
 * Control requests: at most one in flight per link.  link_call() sends
 * without blocking; the reply (or a timeout after LINK_CALL_TIMEOUT_MS) is
 * delivered by calling the given function from link_service() or
 * link_tick(), i.e. on the main thread, never from an nng callback.
 *
 * Main thread only.
 */
#ifndef NUDGE_LINK_H
#define NUDGE_LINK_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>
#include <nng/nng.h>

#include "conf.h"
#include "model.h"
#include "wire.h"

#define LINK_STALE_MS 3000
#define LINK_CALL_TIMEOUT_MS 5000
#define LINK_RECVBUF 1024 /* messages queued before PUB drops */
#define LINK_RECVMAX (4u << 20)
#define LINK_DRAIN_MAX 256 /* messages per link_service() call */

enum link_state { LINK_CONNECTING = 0, LINK_LIVE, LINK_STALE };

const char *link_state_name(int state);

/*
 * Called once per link_call(): err is 0 with the decoded reply (borrowed,
 * valid during the call only), or NUDGE_ETIMEOUT / NUDGE_ECONN with rp
 * NULL.  A reply's own status is in rp->status.
 */
typedef void (*link_reply_fn)(
    void *arg, unsigned idx, int err, const struct wire_reply *rp);

struct link {
	unsigned idx; /* the agent's index in the model */
	char pub_url[CONF_URL_MAX + 1];
	char ctl_url[CONF_URL_MAX + 1]; /* "" until given or advertised */
	bool ctl_given;                 /* from the command line */
	int state;                      /* enum link_state */
	nng_socket sub;
	bool sub_open;
	int sub_fd;
	uint64_t opened_ms;        /* SUB (re)opened, mono */
	uint64_t last_snapshot_ms; /* mono; 0 = never */
	uint64_t reopens;
	nng_socket req;
	bool req_open;
	int req_fd;
	char req_url[CONF_URL_MAX + 1]; /* what req is dialed to */
	bool pending;
	uint8_t pending_id[WIRE_ID_LEN];
	uint64_t sent_ms;
	link_reply_fn fn;
	void *arg;
	char last_error[320]; /* "" if none */
};

/*
 * Parses spec ("PUBURL" or "PUBURL,CTLURL"), opens and dials the SUB
 * socket without blocking.  Returns 0, NUDGE_EINVAL (bad spec, message in
 * d) or NUDGE_ECONN (nng refused the URL, message in d).
 */
int link_open(struct link *l, unsigned idx, const char *spec, uint64_t now_ms,
    struct nudge_diag *d);

/* Closes both sockets; a pending call is dropped without its callback. */
void link_close(struct link *l);

/* Writes the fds to poll for reading into out (at most 2); returns count. */
int link_pollfds(const struct link *l, struct pollfd *out);

/*
 * Only the control fd, when a call is in flight (at most 1); for a loop
 * that drains published messages on its own schedule, not on each one.
 */
int link_pollfds_calls(const struct link *l, struct pollfd *out);

/*
 * Receives whatever is queued (at most LINK_DRAIN_MAX messages) and feeds
 * it to the model; delivers a control reply if one arrived.  Returns true
 * when anything was received.
 */
bool link_service(struct link *l, struct model *m, uint64_t now_ms);

/* Liveness and call timeouts (see the diagram); call at least every 1 s. */
void link_tick(struct link *l, struct model *m, uint64_t now_ms);

/*
 * Sends the request in sb (built with ctlreq_build) without blocking.
 * Returns 0 (fn will be called exactly once), NUDGE_EBUSY (a call is in
 * flight), or NUDGE_ECONN (no control URL known yet, or not connected).
 */
int link_call(struct link *l, const msgpack_sbuffer *sb,
    const uint8_t id[WIRE_ID_LEN], link_reply_fn fn, void *arg,
    uint64_t now_ms);

#endif
