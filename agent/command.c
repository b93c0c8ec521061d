/*
 * command.c - control request dispatch: bounds, replay cache, role check,
 * the command table, and the reply.  Runs on nng worker threads (see
 * rep.c); keeps no state of its own besides the const table.
 */
#include "command.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "replay.h"

static const struct cmd_ops *const cmd_table[] = {
	&cmd_ping,
	&cmd_state,
	&cmd_emit,
	&cmd_sessions,
	&cmd_visitor,
	&cmd_heat_pages,
	&cmd_heat,
};

static const struct cmd_ops *
cmd_find(const struct cmd_endpoint *ep, const char *name)
{
	if (ep->offers != NULL) {
		bool offered = false;
		for (const char *const *o = ep->offers; *o; o++)
			offered = offered || strcmp(*o, name) == 0;
		if (!offered)
			return NULL;
	}
	for (size_t i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++)
		if (strcmp(cmd_table[i]->name, name) == 0)
			return cmd_table[i];
	return NULL;
}

/*
 * The caller's role.  Local endpoints (ipc://, reachable only through the
 * socket file's permissions) act as operator until credentials are
 * configured; signed requests are checked here once keys exist.
 */
static int
cmd_authorize(const struct cmd_endpoint *ep, const struct wire_request *rq,
    int *role, struct nudge_diag *d)
{
	(void)ep;
	if (rq->signed_) {
		nudge_diag_set(d, 0, 0, "no credentials are configured on "
		    "this agent; send the request unsigned");
		return NUDGE_EAUTH;
	}
	*role = ROLE_OPERATOR;
	return 0;
}

static nng_msg *
cmd_reply(const uint8_t id[WIRE_ID_LEN], int status, const char *message,
    const msgpack_sbuffer *body)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	nng_msg *msg = NULL;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, status, message);
	if (status == 0 && body != NULL && body->size > 0)
		msgpack_sbuffer_write(&sb, body->data, body->size);
	else
		msgpack_pack_nil(&pk);
	if (nng_msg_alloc(&msg, sb.size) == 0)
		memcpy(nng_msg_body(msg), sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return msg;
}

static nng_msg *
cmd_run(const struct cmd_endpoint *ep, const struct wire_request *rq,
    const void *req)
{
	struct nudge_diag d = {0};
	const struct cmd_ops *op = cmd_find(ep, rq->cmd);
	msgpack_sbuffer body;
	msgpack_packer pk;
	int role = ROLE_VIEWER, rv;
	nng_msg *reply;

	(void)req;
	if (op == NULL) {
		nudge_diag_set(&d, 0, 0, "unknown command '%s' on the %s "
		    "socket", rq->cmd, ep->name);
		return cmd_reply(rq->id, NUDGE_EKIND, d.msg, NULL);
	}
	if ((rv = cmd_authorize(ep, rq, &role, &d)) != 0)
		return cmd_reply(rq->id, rv, d.msg, NULL);
	if (role < op->role)
		return cmd_reply(rq->id, NUDGE_EPERM,
		    "this credential may only read", NULL);
	msgpack_sbuffer_init(&body);
	msgpack_packer_init(&pk, &body, msgpack_sbuffer_write);
	rv = op->run(ep->agent, rq, &pk, &d);
	reply = cmd_reply(rq->id, rv, rv ? d.msg : "", &body);
	msgpack_sbuffer_destroy(&body);
	return reply;
}

static nng_msg *
cmd_replayed(const void *bytes, size_t len)
{
	nng_msg *msg = NULL;

	if (nng_msg_alloc(&msg, len) == 0)
		memcpy(nng_msg_body(msg), bytes, len);
	return msg;
}

void
cmd_handle(void *endpoint, const void *req, size_t len, nng_msg **reply)
{
	const struct cmd_endpoint *ep = endpoint;
	static const uint8_t no_id[WIRE_ID_LEN];
	struct wire_request rq;
	struct nudge_diag d = {0};
	const struct cmd_ops *op;
	void *cached;
	size_t cached_len;
	int rv;

	rv = wire_request_parse(&rq, req, len, &wire_limits_default, &d);
	if (rv != 0) {
		log_debug("%s: bad request: %s", ep->name, d.msg);
		*reply = cmd_reply(no_id, rv, d.msg, NULL);
		return;
	}
	op = cmd_find(ep, rq.cmd);
	if (op == NULL || !op->replayable) {
		*reply = cmd_run(ep, &rq, req);
		wire_request_fini(&rq);
		return;
	}
	switch (replay_begin(ep->agent->replay, rq.id, &cached, &cached_len)) {
	case REPLAY_DONE:
		*reply = cmd_replayed(cached, cached_len);
		free(cached);
		break;
	case REPLAY_PENDING:
		*reply = cmd_reply(rq.id, NUDGE_EBUSY,
		    "this request is being handled; retry", NULL);
		break;
	default:
		*reply = cmd_run(ep, &rq, req);
		if (*reply != NULL)
			replay_finish(ep->agent->replay, rq.id,
			    nng_msg_body(*reply), nng_msg_len(*reply));
		else
			replay_abandon(ep->agent->replay, rq.id);
		break;
	}
	wire_request_fini(&rq);
}
