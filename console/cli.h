/*
 * cli.h - what the `nudge` subcommands share: the command table entry,
 * the run context built by main from the configuration and the global
 * flags, and the documented exit codes.
 *
 * One subcommand is one function (one file per command or group) listed
 * in main.c's const table.  A command parses its own flags, returns an
 * exit code, and never calls exit().
 */
#ifndef NUDGE_CLI_H
#define NUDGE_CLI_H

#include <stdbool.h>

#include "conf.h"

/* Exit codes: part of the stable CLI, documented in `nudge --help`. */
enum cli_exit {
	CLI_OK = 0,
	CLI_EINTERNAL = 1, /* a bug or the system failed */
	CLI_EUSAGE = 2,    /* bad command line */
	CLI_EUNREACH = 3,  /* an agent did not answer in time */
	CLI_EREFUSED = 4,  /* the agent refused the credential or role */
	CLI_EREJECTED = 5  /* some input was rejected */
};

struct cli_ctx;

struct cli_cmd {
	const char *name;
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
	const char *usage; /* one line: "nudge status [--json] ..." */
	const char *help;  /* what it does, its flags, one per line */
};

struct cli_ctx {
	const struct nudge_config *conf;
	const struct cli_cmd *cmds; /* the table, ended by a NULL name */
	const char *agents[CONF_AGENTS_MAX]; /* --agent values, borrowed */
	unsigned n_agents;
	unsigned refresh_ms;
	bool no_color;
	bool viewer;
	const char *key_flag; /* --key FILE, borrowed; NULL if not given */
	char key_id[64];      /* "" when requests go unsigned */
	const char *history;  /* --history FILE; NULL = the default file */
};

/*
 * Appends an --agent value.  Returns 0, or NUDGE_ETOOBIG past
 * CONF_AGENTS_MAX (after printing a message).
 */
int cli_add_agent(struct cli_ctx *ctx, const char *spec);

/*
 * The agents to talk to: the --agent values, else the configuration's
 * [console] agent lines, else the local agent's default PUB URL.  Writes
 * at most CONF_AGENTS_MAX borrowed pointers to out; returns the count.
 */
unsigned cli_agents(const struct cli_ctx *ctx, const char **out);

/*
 * Loads the client key (ctx->key_flag, else $NUDGE_KEY_FILE, else [console]
 * key; none is fine: requests go unsigned) and hands it to ctlreq, and
 * sets up TLS from [console] tls_ca/tls_cert/tls_key.  A viewer key sets
 * ctx->viewer.  Returns CLI_OK or CLI_EUSAGE after printing why.
 */
int cli_setup_access(struct cli_ctx *ctx);

/* Maps a nudge error (reply status or local failure) to an exit code. */
int cli_exit_for(int err);

/* Prints "nudge: message" and the usage line of cmd to stderr; CLI_EUSAGE. */
int cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The table entry named name, or NULL. */
const struct cli_cmd *cli_find(const struct cli_ctx *ctx, const char *name);

int cli_status(struct cli_ctx *ctx, int argc, char **argv);
int cli_emit(struct cli_ctx *ctx, int argc, char **argv);
int cli_rules(struct cli_ctx *ctx, int argc, char **argv);
int cli_campaign(struct cli_ctx *ctx, int argc, char **argv); /* cmd_campaign.c */
int cli_context(struct cli_ctx *ctx, int argc, char **argv); /* cmd_context.c */
int cli_audit(struct cli_ctx *ctx, int argc, char **argv); /* cmd_audit.c */
int cli_forget(struct cli_ctx *ctx, int argc, char **argv); /* cmd_forget.c */
int cli_key(struct cli_ctx *ctx, int argc, char **argv); /* cmd_key.c */
int cli_message(struct cli_ctx *ctx, int argc, char **argv); /* cmd_message.c */
int cli_help(struct cli_ctx *ctx, int argc, char **argv);
int cli_version(struct cli_ctx *ctx, int argc, char **argv);
int cli_tui(struct cli_ctx *ctx, int argc, char **argv);
int cli_top(struct cli_ctx *ctx, int argc, char **argv); /* cmd_top.c */

/* Prints the whole --help text (commands, global flags, exit codes). */
void cli_print_help(const struct cli_ctx *ctx);

#endif
