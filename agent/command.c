/*
 * command.c - control request dispatch: bounds, authentication (access.c),
 * role check, replay cache, the command table, and the reply.  Runs on nng
 * worker threads (see rep.c); keeps no state of its own besides the const
 * table.
 */
#include "command.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
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
	&cmd_history, /* cmd_history.c */
	&cmd_rules_get,
	&cmd_rules_put,
	&cmd_rules_list,
	&cmd_rules_rollback,
	&cmd_rules_stats,
	&cmd_context_set,
	&cmd_context_get,
	&cmd_audit_tail,
	&cmd_message,
	&cmd_forget, /* cmd_privacy.c */
	&cmd_campaign_list, /* cmd_campaign.c */
	&cmd_campaign_change,
};

const char *
cmd_who(const struct wire_request *rq)
{
	return rq->signed_ && rq->key_id[0] != '\0' ? rq->key_id : "local";
}

void
cmd_audit(struct agent *a, const struct wire_request *rq, int status,
    const char *fmt, ...)
{
	char detail[CMD_AUDIT_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (store_audit(a->store, clock_wall_ms(), cmd_who(rq), rq->cmd,
	    detail, status) != 0)
		agent_note_error(a, "audit of %s failed: %s", rq->cmd,
		    store_last_error(a->store));
}

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
 * Who is asking, and with which role (access.h has the rules).  Without
 * credentials local endpoints act as operator (the listener policy keeps
 * them local); a test agent without an access module behaves the same.
 */
static int
cmd_authorize(const struct cmd_endpoint *ep, const struct wire_request *rq,
    const void *req, struct access_verdict *v, struct nudge_diag *d)
{
	if (ep->agent->access != NULL)
		return access_check(ep->agent->access, rq, req, v, d);
	if (rq->signed_) {
		nudge_diag_set(d, 0, 0, "no credentials are configured on "
		    "this agent; send the request unsigned");
		return NUDGE_EAUTH;
	}
	*v = (struct access_verdict){.role = ROLE_OPERATOR, .who = "local"};
	return 0;
}

/* A viewer asking for a change: refused, and audited like the rest. */
static int
cmd_permit(const struct cmd_endpoint *ep, const struct cmd_ops *op,
    const struct access_verdict *v, struct nudge_diag *d)
{
	if (op == NULL || v->role >= op->role)
		return 0;
	nudge_diag_set(d, 0, 0, "key '%s' is a %s: it may only read",
	    v->who, auth_role_name(v->role));
	if (ep->agent->access != NULL)
		access_refused(ep->agent->access, v->who, op->name, d->msg,
		    NUDGE_EPERM);
	return NUDGE_EPERM;
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
	/* a syntax error's body is its list of errors (rules_put) */
	if ((status == 0 || status == NUDGE_ESYNTAX) && body != NULL &&
	    body->size > 0)
		msgpack_sbuffer_write(&sb, body->data, body->size);
	else
		msgpack_pack_nil(&pk);
	if (nng_msg_alloc(&msg, sb.size) == 0)
		memcpy(nng_msg_body(msg), sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
	return msg;
}

static nng_msg *
cmd_run(const struct cmd_endpoint *ep, const struct cmd_ops *op,
    const struct wire_request *rq)
{
	struct nudge_diag d = {0};
	msgpack_sbuffer body;
	msgpack_packer pk;
	int rv;
	nng_msg *reply;

	if (op == NULL) {
		nudge_diag_set(&d, 0, 0, "unknown command '%s' on the %s "
		    "socket", rq->cmd, ep->name);
		return cmd_reply(rq->id, NUDGE_EKIND, d.msg, NULL);
	}
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

/*
 * A command that changes state: applied once per request id.  A signed
 * resend (same id, same bytes) whose answer the cache no longer holds is
 * refused rather than applied a second time.
 */
static nng_msg *
cmd_run_once(const struct cmd_endpoint *ep, const struct cmd_ops *op,
    const struct wire_request *rq, bool resend)
{
	void *cached;
	size_t cached_len;
	nng_msg *reply;

	switch (replay_begin(ep->agent->replay, rq->id, &cached,
	    &cached_len)) {
	case REPLAY_DONE:
		reply = cmd_replayed(cached, cached_len);
		free(cached);
		return reply;
	case REPLAY_PENDING:
		return cmd_reply(rq->id, NUDGE_EBUSY,
		    "this request is being handled; retry", NULL);
	default:
		break;
	}
	if (resend) {
		replay_abandon(ep->agent->replay, rq->id);
		return cmd_reply(rq->id, NUDGE_EEXIST, "this request was "
		    "applied already; its answer is no longer kept", NULL);
	}
	reply = cmd_run(ep, op, rq);
	if (reply != NULL)
		replay_finish(ep->agent->replay, rq->id, nng_msg_body(reply),
		    nng_msg_len(reply));
	else
		replay_abandon(ep->agent->replay, rq->id);
	return reply;
}

void
cmd_handle(void *endpoint, const void *req, size_t len, nng_msg **reply)
{
	const struct cmd_endpoint *ep = endpoint;
	static const uint8_t no_id[WIRE_ID_LEN];
	struct wire_request rq;
	struct access_verdict v;
	struct nudge_diag d = {0};
	const struct cmd_ops *op;
	int rv;

	rv = wire_request_parse(&rq, req, len, &wire_limits_default, &d);
	if (rv != 0) {
		log_debug("%s: bad request: %s", ep->name, d.msg);
		*reply = cmd_reply(no_id, rv, d.msg, NULL);
		return;
	}
	/* Authenticated first: the replay cache answers only the sender. */
	op = cmd_find(ep, rq.cmd);
	if ((rv = cmd_authorize(ep, &rq, req, &v, &d)) != 0 ||
	    (rv = cmd_permit(ep, op, &v, &d)) != 0)
		*reply = cmd_reply(rq.id, rv, d.msg, NULL);
	else if (op == NULL || !op->replayable)
		*reply = cmd_run(ep, op, &rq);
	else
		*reply = cmd_run_once(ep, op, &rq, v.resend);
	wire_request_fini(&rq);
}
