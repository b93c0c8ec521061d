/*
 * command.h - the agent's control commands: one table, one dispatcher.
 *
 * Each command is a const struct cmd_ops entry with one small run()
 * function; cmd_handle() is the only error path around them: it bounds and
 * parses the request, answers replays from the replay cache, checks that the
 * endpoint offers the command and that the caller's role may run it, runs
 * it, and always answers (an error reply for anything wrong).
 *
 * run() packs exactly one body object into body on success and returns 0;
 * on failure it returns a negative nudge_err with a message in d->msg and
 * whatever it packed is discarded -- except for NUDGE_ESYNTAX, whose body
 * (one whole object: the errors) is sent with the error status.
 */
#ifndef NUDGE_COMMAND_H
#define NUDGE_COMMAND_H

#include <stdbool.h>

#include <msgpack.h>
#include <nng/nng.h>

#include "agent.h"
#include "wire.h"

enum cmd_role {
	ROLE_VIEWER = 0,	/* may read */
	ROLE_OPERATOR = 1	/* may change */
};

struct cmd_ops {
	const char *name;
	int role;		/* least role allowed */
	bool replayable;	/* changes state: answers cached by request id */
	int (*run)(struct agent *a, const struct wire_request *rq,
	    msgpack_packer *body, struct nudge_diag *d);
};

/* A listening socket's view of the table: which commands it offers. */
struct cmd_endpoint {
	struct agent *agent;
	const char *name;		/* "control", "ingest", for logs */
	const char *const *offers;	/* NULL-terminated; NULL = all */
};

/* rep_handler for a struct cmd_endpoint. */
void cmd_handle(void *endpoint, const void *req, size_t len,
    nng_msg **reply);

/* Who asked: the signing key's id, or "local" (unsigned, local socket). */
const char *cmd_who(const struct wire_request *rq);

/*
 * Writes one audit row for rq (who, command, detail, status); a failure to
 * write is noted in the agent's health, never fatal.  Every change and
 * every refused change is audited before its answer goes.
 */
#define CMD_AUDIT_DETAIL_MAX 256
void cmd_audit(struct agent *a, const struct wire_request *rq, int status,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Commands defined in other files of the agent. */
extern const struct cmd_ops cmd_ping, cmd_state, cmd_sessions, cmd_visitor;
extern const struct cmd_ops cmd_emit;
extern const struct cmd_ops cmd_heat_pages, cmd_heat; /* cmd_heat.c */
extern const struct cmd_ops cmd_history; /* cmd_history.c */
/* cmd_rules.c: live rules, context facts, the audit trail */
extern const struct cmd_ops cmd_rules_get, cmd_rules_put, cmd_rules_list;
extern const struct cmd_ops cmd_rules_rollback, cmd_rules_stats;
extern const struct cmd_ops cmd_context_set, cmd_context_get;
extern const struct cmd_ops cmd_audit_tail;
extern const struct cmd_ops cmd_message; /* cmd_message.c */
extern const struct cmd_ops cmd_forget; /* cmd_privacy.c */
/* cmd_campaign.c */
extern const struct cmd_ops cmd_campaign_list, cmd_campaign_change;

#endif
