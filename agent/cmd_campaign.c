/*
 * cmd_campaign.c - the control commands of the campaigns: campaign_list
 * and campaign_change (args and bodies in common/wire.h).
 *
 * One small run() per command over agent/camprt.h.  Every change, and
 * every refusal of one, is written to the audit table before the answer
 * goes, with the campaign before and after in a one-line brief (version,
 * state, weights, holdout, seed generation, winner, breaker); the whole
 * texts go to the store's campaign history (crt_change).  Changes are
 * replayable (a resent request id is answered from the replay cache,
 * never applied twice).  Runs on nng worker threads; keeps no state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "camprt.h"
#include "command.h"

#define CAMP_BRIEF_MAX 96

/* ---- campaign_list ------------------------------------------------------ */

static int
campaign_list_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct wire_campaign *v = malloc(RULE_CAMPAIGNS_MAX * sizeof(*v));
	size_t n;

	(void)rq;
	if (v == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	n = crt_list(a->camps, v, RULE_CAMPAIGNS_MAX);
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		wire_pack_campaign(pk, &v[i]);
	free(v);
	return 0;
}

const struct cmd_ops cmd_campaign_list = {
	.name = "campaign_list",
	.role = ROLE_VIEWER,
	.run = campaign_list_run,
};

/* ---- campaign_change ---------------------------------------------------- */

/* "v3 running w=50,50 ho=0 gen=0", then " winner=1", " tripped". */
static const char *
camp_brief(const struct camp *c, char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap, "v%" PRIu64 " %s w=", c->version,
	    camp_state_name(c->state));

	for (unsigned i = 0; i < c->n_variants && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%u", i ? "," : "",
		    (unsigned)c->weight[i]);
	if (n < cap)
		n += (size_t)snprintf(buf + n, cap - n, " ho=%u gen=%" PRIu32,
		    (unsigned)c->holdout_bp, c->generation);
	if (n < cap && c->state == CAMP_STOPPED)
		n += (size_t)snprintf(buf + n, cap - n, " winner=%d",
		    c->winner);
	if (n < cap && c->tripped)
		snprintf(buf + n, cap - n, " tripped");
	return buf;
}

/* The operation and its argument: "stop 1", "weights 90,10", "start". */
static const char *
change_brief(const struct wire_camp_change *ch, char *buf, size_t cap)
{
	const char *op = camp_op_name(ch->op);
	size_t n = (size_t)snprintf(buf, cap, "%s", op ? op : "?");

	if (ch->op == CAMP_OP_STOP)
		snprintf(buf + n, cap - n, " %d", ch->winner);
	else if (ch->op == CAMP_OP_HOLDOUT)
		snprintf(buf + n, cap - n, " %u", (unsigned)ch->holdout_bp);
	for (unsigned i = 0; ch->op == CAMP_OP_WEIGHTS && i < ch->n_weights &&
	    n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%u", i ? "," : " ",
		    (unsigned)ch->weights[i]);
	return buf;
}

/* The campaign as it is now, for the audit's "before". */
static bool
find_now(struct agent *a, const char *name, struct wire_campaign *out)
{
	struct wire_campaign *v = malloc(RULE_CAMPAIGNS_MAX * sizeof(*v));
	bool found = false;
	size_t n;

	if (v == NULL)
		return false;
	n = crt_list(a->camps, v, RULE_CAMPAIGNS_MAX);
	for (size_t i = 0; i < n && !found; i++)
		if (strcmp(v[i].c.name, name) == 0) {
			*out = v[i];
			found = true;
		}
	free(v);
	return found;
}

/* A stale change: say what the campaign is now, not only its version. */
static void
stale_message(const struct wire_campaign *now, struct nudge_diag *d)
{
	char msg[NUDGE_DIAG_MSG];

	snprintf(msg, sizeof(msg), "%s", d->msg);
	nudge_diag_set(d, 0, 0, "%s; it is %s now", msg,
	    camp_state_name(now->c.state));
}

static int
campaign_change_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct wire_camp_change ch;
	struct wire_campaign before, now;
	char what[64], b0[CAMP_BRIEF_MAX], b1[CAMP_BRIEF_MAX];
	bool had;
	int rv;

	if ((rv = wire_unpack_camp_change(rq->args, &ch, d)) != 0) {
		cmd_audit(a, rq, rv, "refused: %s", d->msg);
		return rv;
	}
	change_brief(&ch, what, sizeof(what));
	had = find_now(a, ch.name, &before);
	memset(&now, 0, sizeof(now));
	rv = crt_change(a->camps, &ch, cmd_who(rq), &now, d);
	if (rv == NUDGE_ESTALE)
		stale_message(&now, d);
	if (rv != 0) {
		cmd_audit(a, rq, rv, "%s %s expect %" PRIu64
		    " refused: %s%s%s", ch.name, what, ch.expect, d->msg,
		    had ? "; was " : "",
		    had ? camp_brief(&before.c, b0, sizeof(b0)) : "");
		return rv;
	}
	wire_pack_campaign(pk, &now);
	cmd_audit(a, rq, 0, "%s %s expect %" PRIu64 ": %s -> %s%s", ch.name,
	    what, ch.expect, had ? camp_brief(&before.c, b0, sizeof(b0)) : "?",
	    camp_brief(&now.c, b1, sizeof(b1)),
	    had && before.c.version == now.c.version ? " (already)" : "");
	return 0;
}

const struct cmd_ops cmd_campaign_change = {
	.name = "campaign_change",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = campaign_change_run,
};
