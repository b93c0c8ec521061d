/*
 * link.c - one agent's sockets: the SUB socket's liveness state machine
 * (diagram in link.h) and the non-blocking REQ socket for control calls.
 *
 * Owns the two nng sockets of a struct link.  Every function runs on the
 * console's main thread; nothing here registers an nng callback, so no
 * other thread ever touches the link or the model.
 */
#include "link.h"

#include <stdio.h>
#include <string.h>

#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "reaper.h"
#include "tlsconf.h"

static const char *const link_state_names[] = {
    [LINK_CONNECTING] = "connecting",
    [LINK_LIVE] = "live",
    [LINK_STALE] = "stale",
};

const char *
link_state_name(int state)
{
	if (state < 0 || state > LINK_STALE)
		return "?";
	return link_state_names[state];
}

static void
link_error(struct link *l, const char *what, int rv)
{
	snprintf(l->last_error, sizeof(l->last_error), "%.200s: %.100s", what,
	    nng_strerror(rv));
}

/* Short reconnect intervals: an agent restart should show within ~1 s. */
static void
link_sock_opts(nng_socket s)
{
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 100);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 1000);
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, LINK_RECVMAX);
}

static int
link_sub_open(struct link *l, uint64_t now_ms)
{
	int rv;

	if ((rv = nng_sub0_open(&l->sub)) != 0) {
		link_error(l, "sub", rv);
		return rv;
	}
	link_sock_opts(l->sub);
	/* Without a subscription a SUB socket receives nothing at all. */
	if ((rv = nng_socket_set(l->sub, NNG_OPT_SUB_SUBSCRIBE, "", 0)) != 0 ||
	    (rv = nng_socket_set_int(l->sub, NNG_OPT_RECVBUF, LINK_RECVBUF)) !=
	        0 ||
	    (rv = tlsconf_dial(l->sub, l->pub_url, NNG_FLAG_NONBLOCK)) !=
	        0 ||
	    (rv = nng_socket_get_int(l->sub, NNG_OPT_RECVFD, &l->sub_fd)) !=
	        0) {
		link_error(l, l->pub_url, rv);
		reaper_close(l->sub);
		return rv;
	}
	l->sub_open = true;
	l->opened_ms = now_ms;
	return 0;
}

static void
link_sub_close(struct link *l)
{
	if (l->sub_open)
		reaper_close(l->sub);
	l->sub_open = false;
	l->sub_fd = -1;
}

int
link_open(struct link *l, unsigned idx, const char *spec, uint64_t now_ms,
    struct nudge_diag *d)
{
	const char *comma = strchr(spec, ',');
	size_t publen = comma != NULL ? (size_t)(comma - spec) : strlen(spec);
	int rv;

	memset(l, 0, sizeof(*l));
	l->idx = idx;
	l->sub_fd = l->req_fd = -1;
	if (publen == 0 || publen > CONF_URL_MAX ||
	    (comma != NULL &&
	        (comma[1] == '\0' || strlen(comma + 1) > CONF_URL_MAX))) {
		nudge_diag_set(d, 0, 0,
		    "bad agent address '%s' (want "
		    "PUBURL or PUBURL,CTLURL)",
		    spec);
		return NUDGE_EINVAL;
	}
	memcpy(l->pub_url, spec, publen);
	if (comma != NULL) {
		snprintf(l->ctl_url, sizeof(l->ctl_url), "%s", comma + 1);
		l->ctl_given = true;
	}
	if ((rv = link_sub_open(l, now_ms)) != 0) {
		nudge_diag_set(
		    d, 0, 0, "%s: %s", l->pub_url, nng_strerror(rv));
		return NUDGE_ECONN;
	}
	return 0;
}

static void
link_req_close(struct link *l)
{
	if (l->req_open)
		reaper_close(l->req);
	l->req_open = false;
	l->req_fd = -1;
	l->pending = false;
}

static int
link_req_open(struct link *l)
{
	int rv;

	if ((rv = nng_req0_open(&l->req)) != 0) {
		link_error(l, "req", rv);
		return rv;
	}
	link_sock_opts(l->req);
	if ((rv = tlsconf_dial(l->req, l->ctl_url, NNG_FLAG_NONBLOCK)) !=
	        0 ||
	    (rv = nng_socket_get_int(l->req, NNG_OPT_RECVFD, &l->req_fd)) !=
	        0) {
		link_error(l, l->ctl_url, rv);
		reaper_close(l->req);
		return rv;
	}
	snprintf(l->req_url, sizeof(l->req_url), "%s", l->ctl_url);
	l->req_open = true;
	return 0;
}

void
link_close(struct link *l)
{
	link_sub_close(l);
	link_req_close(l);
}

int
link_pollfds(const struct link *l, struct pollfd *out)
{
	int n = 0;

	if (l->sub_open && l->sub_fd >= 0)
		out[n++] = (struct pollfd){.fd = l->sub_fd, .events = POLLIN};
	return n + link_pollfds_calls(l, out + n);
}

int
link_pollfds_calls(const struct link *l, struct pollfd *out)
{
	if (l->req_open && l->pending && l->req_fd >= 0) {
		*out = (struct pollfd){.fd = l->req_fd, .events = POLLIN};
		return 1;
	}
	return 0;
}

/* Finishes the call in flight: clear first, so fn may call again. */
static void
link_finish(struct link *l, int err, const struct wire_reply *rp)
{
	link_reply_fn fn = l->fn;
	void *arg = l->arg;

	l->pending = false;
	l->fn = NULL;
	l->arg = NULL;
	if (fn != NULL)
		fn(arg, l->idx, err, rp);
}

/* The agent advertises its control URL; follow it if it moves. */
static void
link_learn_control(struct link *l, const struct model *m)
{
	const char *adv = m->agents[l->idx].snap.control;

	if (l->ctl_given || adv[0] == '\0' || strcmp(adv, l->ctl_url) == 0)
		return;
	snprintf(l->ctl_url, sizeof(l->ctl_url), "%s", adv);
	if (l->req_open) {
		if (l->pending)
			link_finish(l, NUDGE_ECONN, NULL);
		link_req_close(l);
	}
}

static bool
link_drain_sub(struct link *l, struct model *m, uint64_t now_ms)
{
	bool got = false;

	for (int i = 0; i < LINK_DRAIN_MAX && l->sub_open; i++) {
		nng_msg *msg;
		unsigned flags;

		if (nng_recvmsg(l->sub, &msg, NNG_FLAG_NONBLOCK) != 0)
			break;
		got = true;
		flags = model_feed(
		    m, l->idx, nng_msg_body(msg), nng_msg_len(msg), now_ms);
		nng_msg_free(msg);
		if (flags & MODEL_F_SNAPSHOT) {
			l->state = LINK_LIVE;
			l->last_snapshot_ms = now_ms;
			model_set_up(m, l->idx, true);
			link_learn_control(l, m);
		}
	}
	return got;
}

static bool
link_drain_req(struct link *l)
{
	struct wire_reply rp;
	nng_msg *msg;
	int rv;

	if (!l->req_open || !l->pending)
		return false;
	if (nng_recvmsg(l->req, &msg, NNG_FLAG_NONBLOCK) != 0)
		return false;
	rv = wire_reply_parse(&rp, nng_msg_body(msg), nng_msg_len(msg),
	    &wire_limits_reply, NULL);
	if (rv != 0) {
		snprintf(l->last_error, sizeof(l->last_error), "bad reply: %s",
		    nudge_strerror(rv));
		link_finish(l, rv, NULL);
	} else if (memcmp(rp.id, l->pending_id, WIRE_ID_LEN) != 0) {
		/* A late answer to a call already given up: not ours. */
		wire_reply_fini(&rp);
	} else {
		link_finish(l, 0, &rp);
		wire_reply_fini(&rp);
	}
	nng_msg_free(msg);
	return true;
}

bool
link_service(struct link *l, struct model *m, uint64_t now_ms)
{
	bool got = link_drain_sub(l, m, now_ms);

	return link_drain_req(l) || got;
}

void
link_tick(struct link *l, struct model *m, uint64_t now_ms)
{
	uint64_t since =
	    l->state == LINK_LIVE ? l->last_snapshot_ms : l->opened_ms;

	if (l->pending && now_ms - l->sent_ms >= LINK_CALL_TIMEOUT_MS) {
		/* Closing cancels REQ's own resend of the request. */
		link_req_close(l);
		snprintf(l->last_error, sizeof(l->last_error),
		    "control request timed out");
		link_finish(l, NUDGE_ETIMEOUT, NULL);
	}
	if (now_ms - since < LINK_STALE_MS)
		return;
	if (l->state == LINK_LIVE) {
		l->state = LINK_STALE;
		model_set_up(m, l->idx, false);
	}
	link_sub_close(l);
	l->reopens++;
	link_sub_open(l, now_ms);
	l->opened_ms = now_ms;
}

int
link_call(struct link *l, const msgpack_sbuffer *sb,
    const uint8_t id[WIRE_ID_LEN], link_reply_fn fn, void *arg,
    uint64_t now_ms)
{
	nng_msg *msg;
	int rv;

	if (l->pending)
		return NUDGE_EBUSY;
	if (l->ctl_url[0] == '\0')
		return NUDGE_ECONN;
	if (!l->req_open && link_req_open(l) != 0)
		return NUDGE_ECONN;
	if (nng_msg_alloc(&msg, 0) != 0)
		return NUDGE_ENOMEM;
	if (nng_msg_append(msg, sb->data, sb->size) != 0) {
		nng_msg_free(msg);
		return NUDGE_ENOMEM;
	}
	/* Fails with EAGAIN while the dial has not connected yet. */
	if ((rv = nng_sendmsg(l->req, msg, NNG_FLAG_NONBLOCK)) != 0) {
		nng_msg_free(msg);
		if (rv != NNG_EAGAIN)
			link_error(l, "control send", rv);
		return NUDGE_ECONN;
	}
	memcpy(l->pending_id, id, WIRE_ID_LEN);
	l->pending = true;
	l->sent_ms = now_ms;
	l->fn = fn;
	l->arg = arg;
	return 0;
}
