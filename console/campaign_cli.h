/*
 * campaign_cli.h - the `nudge campaign` subcommands, shared between
 * cmd_campaign.c (the dispatcher, list, show, and asking every agent for
 * its campaigns) and cmd_campaign_change.c (start, pause, resume, stop,
 * winner, weights, holdout, reshuffle, reset across agents).
 *
 * Every subcommand first asks each agent for campaign_list, so that a
 * change is sent to each agent with `expect` = the version THAT agent
 * reported: it applies exactly what the operator saw, and a change made
 * by somebody else in between is refused (stale) rather than overwritten.
 * Main thread; everything here is owned by the running subcommand.
 */
#ifndef NUDGE_CAMPAIGN_CLI_H
#define NUDGE_CAMPAIGN_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "campstat.h"
#include "cli.h"
#include "fleet.h"

struct ccli_opts {
	bool json;
	bool have_expect;
	uint64_t expect;		/* --expect N: instead of the listed */
	double min_duration;		/* --min-duration S; < 0: default */
	double mde;			/* --mde PERCENT / 100; 0: default */
	const char *winner;		/* --winner VARIANT (stop) */
	const char *dump;		/* --dump-request FILE (tests) */
	const char *pos[2];		/* positional arguments */
	int n_pos;
};

/* The fleet and what each agent listed (heap; ccli_fleet_free). */
struct ccli_fleet {
	struct fleet f;
	struct wire_campaign *list[CONF_AGENTS_MAX];
	unsigned n_list[CONF_AGENTS_MAX];
	bool listed[CONF_AGENTS_MAX];	/* campaign_list answered */
};

/*
 * Parses argv (argv[0] = the subcommand) into o, expecting exactly
 * `wants` positional arguments.  Returns CLI_OK or CLI_EUSAGE (printed).
 */
int ccli_parse(struct cli_ctx *ctx, int argc, char **argv,
    struct ccli_opts *o, int wants, const char *usage);

/*
 * Resolves the agents and asks each for campaign_list.  Returns CLI_OK
 * (even if some agents failed: see f.a[i].err), CLI_EUSAGE or
 * CLI_EINTERNAL; *out must be freed with ccli_fleet_free.
 */
int ccli_fleet_load(struct cli_ctx *ctx, struct ccli_fleet **out);
void ccli_fleet_free(struct ccli_fleet *cf);

/*
 * Agent i's report of campaign name, or NULL (always for a relay: the
 * agents behind it have entries of their own, fleet.h).
 */
const struct wire_campaign *ccli_fleet_find(const struct ccli_fleet *cf,
    unsigned i, const char *name);

/* Entries that are agents (relays left out). */
unsigned ccli_fleet_agents(const struct ccli_fleet *cf);

/* The worst outcome over the agents: 3, then 4, then 5, else 0. */
int ccli_fleet_exit(const struct ccli_fleet *cf);

/* A change subcommand: op is enum camp_op, argv[0] the subcommand. */
int ccli_change(struct cli_ctx *ctx, int op, int argc, char **argv);

/* "not_enough", "no_diff", "better", "worse": the JSON's call names. */
const char *ccli_call_token(enum stats_call call);

#endif
