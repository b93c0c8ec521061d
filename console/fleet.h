/*
 * fleet.h - the scripting CLI's view of several agents at once: find each
 * agent's control URL, then make the same control call on every one of
 * them, one blocking round trip each, and keep every agent's answer.
 *
 * An agent is given as PUBURL (its control URL is learnt from its
 * snapshot, so the agent must be up to be reached) or PUBURL,CTLURL.
 * Used by `nudge rules`, `nudge context` and `nudge audit`; main thread.
 *
 * Relays (nudged --relay, agent/relay.h): a relay answers a forwarded
 * command with {agents: [[name, status, message, body]...]}.  fleet_call
 * recognises that envelope, marks the entry as a relay (relay = true) and
 * gives each agent behind it an entry of its own, appended after the
 * given ones (virt = true, parent = the relay's index; nested relays
 * nest).  The caller's reply function gets, for the relay's index, the
 * first successful agent's answer (a representative, so per-agent logic
 * such as a campaign's expected version works) and, when the caller's
 * loop reaches an appended entry, that agent's own answer: fleet_call on
 * a virt entry sends nothing and replays what its relay brought back for
 * the same command.  Printers list the virt entries and skip relays.
 * The envelope is recognised by relayenv_agents() (relayenv.h), which the
 * TUI's views use too, walking every level at once.
 */
#ifndef NUDGE_FLEET_H
#define NUDGE_FLEET_H

#include <stdbool.h>
#include <stdint.h>

#include <msgpack.h>

#include "cli.h"
#include "conf.h"
#include "ctlreq.h"
#include "wire.h"

#define FLEET_WAIT_MS 2000

struct fleet_agent {
	char pub[CONF_URL_MAX + 1];
	char ctl[CONF_URL_MAX + 1];	/* "" when none is known */
	char name[WIRE_AGENT_MAX + 1];	/* "" until a snapshot named it */
	bool snap;			/* a snapshot arrived */
	uint64_t rules_version, shadow_version; /* from the snapshot */
	int err;			/* last call: 0 or a nudge error */
	char msg[256];			/* why, when err != 0 */
	bool relay;			/* answered with a relay's envelope */
	bool virt;			/* an agent behind entry parent */
	unsigned parent, slot;		/* virt: relay's index, position */
	char via_cmd[WIRE_CMD_MAX + 1];	/* virt: command last answered */
};

struct fleet {
	unsigned n;
	struct fleet_agent a[CONF_AGENTS_MAX];
};

/*
 * Fills f from the CLI's agents and waits up to wait_ms for a snapshot of
 * each (control URLs, names, versions).  Returns CLI_OK, or CLI_EUSAGE
 * (no agent, bad spec) after printing why.  An agent that sent nothing is
 * still listed (ctl "" unless given).
 */
int fleet_resolve(struct cli_ctx *ctx, struct fleet *f, unsigned wait_ms);

/*
 * Called with each agent's decoded reply (valid during the call only) when
 * the round trip succeeded, whatever the reply's status.
 */
typedef void (*fleet_reply_fn)(void *arg, unsigned idx,
    const struct wire_reply *rp);

/*
 * Sends cmd with args (fn, arg as for ctlreq_build) to agent idx and waits
 * for the answer.  Returns 0 or the reply's status (the answer went to
 * reply), or NUDGE_ECONN / NUDGE_ETIMEOUT (no answer); a->err and a->msg
 * say the same.  With dump != NULL the request's bytes are also written
 * to that file (tests replay them).
 */
int fleet_call(struct fleet *f, unsigned idx, const char *cmd,
    ctlreq_args_fn fn, const void *arg, fleet_reply_fn reply,
    void *reply_arg, const char *dump);

/* "name" if known, else the PUB URL. */
const char *fleet_label(const struct fleet_agent *a);

#endif
