/*
 * main.c - the `nudge` program: global flags, configuration, and dispatch
 * to a subcommand from the const command table; with no subcommand, the
 * TUI.  Owns the configuration (heap, passed down as const) for the life
 * of the process.  Single-threaded.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "conf.h"
#include "err.h"
#include "log.h"

static const struct cli_cmd cli_cmds[] = {
    {
        .name = "status",
        .fn = cli_status,
        .usage = "nudge status [--json] [--timeout MS] [--agent URL]...",
        .help = "Subscribes to every agent, waits for one snapshot from "
                "each (3 s by\n"
                "default) and prints the merged state.\n"
                "  --json        machine-readable output\n"
                "  --timeout MS  how long to wait for the agents\n"
                "  --agent URL   PUBURL or PUBURL,CTLURL, repeatable\n"
                "Exits 3 when an agent did not answer (what was got is "
                "still printed).\n",
    },
    {
        .name = "rules",
        .fn = cli_rules,
        .usage = "nudge rules check|push|show|rollback|stats ...",
        .help = "nudge rules check [--json] FILE...\n"
                "  Compiles rule files; prints every error as "
                "file:line:col: message.\n"
                "  --json  {\"ok\":bool,\"rules\":N,\"errors\":"
                "[{file,line,col,message}]}\n"
                "  Exits 0 if all are valid, 5 if not, 2 on usage errors.\n"
                "nudge rules push FILE [--version N] [--shadow] [--json]\n"
                "  Compiles FILE here (errors: nothing is pushed, exit 5),"
                " then pushes it\n"
                "  to every agent as version N (default: highest in force "
                "+ 1) and prints\n"
                "  each agent's acknowledgement.  --shadow: as the shadow "
                "set (evaluated,\n"
                "  counted, never shown).\n"
                "nudge rules show [--version N] [--shadow] [--json]\n"
                "  Each agent's version in force, the drift, and the "
                "text.\n"
                "nudge rules rollback N [--json]\n"
                "  Pushes the text of version N everywhere as a new "
                "version.\n"
                "nudge rules stats [--json]\n"
                "  Per-rule counters summed over the agents: matches per "
                "minute, shown,\n"
                "  capped, shadow matches (and how many already saw an "
                "offer), held out.\n"
                "Agents: --agent PUB or PUB,CTL (repeatable).  Exit 0 all "
                "acknowledged,\n"
                "3 an agent unreachable, 4 refused (credential, role), 5 "
                "rejected.\n",
    },
    {
        .name = "campaign",
        .fn = cli_campaign,
        .usage = "nudge campaign list|show|start|pause|resume|stop|winner|"
                 "weights|holdout|reshuffle|reset ...",
        .help = "nudge campaign list [--json] [--min-duration S] [--mde "
                "PCT]\n"
                "  Every campaign the agents declare: state, version, "
                "agents agreeing,\n"
                "  visitors and the verdict line.\n"
                "nudge campaign show NAME [--json] [--min-duration S] "
                "[--mde PCT]\n"
                "  Per variant, summed over the agents: visitors, "
                "conversions, rate with\n"
                "  95% interval, uplift with interval, p-value, "
                "always-valid p, chance to\n"
                "  beat control, revenue; the sample-ratio and breaker "
                "lines, the verdict\n"
                "  and each agent's state.  --min-duration: seconds "
                "before any verdict\n"
                "  (default 3600); --mde: the relative change in percent "
                "the planned\n"
                "  sample is for (default 10).\n"
                "nudge campaign start|pause|resume|reshuffle|reset NAME\n"
                "nudge campaign stop NAME [--winner VARIANT]\n"
                "nudge campaign winner NAME VARIANT\n"
                "nudge campaign weights NAME W1,W2,...\n"
                "nudge campaign holdout NAME PERCENT\n"
                "  Sends the change to every agent with the version that "
                "agent listed\n"
                "  (--expect V: that version instead) and prints one line "
                "per agent: ok,\n"
                "  already, stale, refused or unreachable, with its "
                "version and state.\n"
                "  --json on every subcommand.  Exit 0 every agent ok or "
                "already, else\n"
                "  the worst: 3 unreachable, 4 refused (credential, role),"
                " 5 rejected\n"
                "  (stale, illegal, not declared); a partial success is "
                "not 0.\n",
    },
    {
        .name = "context",
        .fn = cli_context,
        .usage = "nudge context set KEY[INDEX]=VALUE... | get [--json]",
        .help = "Sets or reads the context facts rules test "
                "(context.KEY,\n"
                "context.KEY[INDEX]) on every agent: nudge context set "
                "weather[alps]=snow\n"
                "stock=12.  A number is sent as a number; KEY= removes "
                "the fact.\n"
                "  --json        machine-readable output\n"
                "  --agent URL   PUB or PUB,CTL, repeatable\n"
                "Exit codes as for rules push.\n",
    },
    {
        .name = "message",
        .fn = cli_message,
        .usage = "nudge message VISITOR [TEXT] [--kind K] [--sel SEL] "
                 "[--json]",
        .help = "Sends one visitor on the site now a one-off banner "
                "(default), message,\n"
                "popup, coupon field, shake, show or hide: the agent "
                "holding their live\n"
                "session shows it with their next page event, once, if "
                "they consented.\n"
                "  --kind K      banner, message (TEXT required), popup "
                "(--sel NAME),\n"
                "                coupon, shake, show, hide (--sel "
                "SELECTOR)\n"
                "  --agent URL   PUB or PUB,CTL, repeatable\n"
                "Exit 0 queued, 5 no agent holds the visitor, else as for "
                "rules push.\n",
    },
    {
        .name = "forget",
        .fn = cli_forget,
        .usage = "nudge forget VISITOR [--json]",
        .help = "Erases one visitor (right to erasure, PRIVACY.md) on "
                "every agent: live\n"
                "session, sampled events, archived sessions, rule memory; "
                "connected\n"
                "consoles drop them too.  Audited under a hash of the id, "
                "never the id.\n"
                "  --json        machine-readable output\n"
                "  --agent URL   PUB or PUB,CTL, repeatable\n"
                "Exit 0 every agent acknowledged (even holding nothing), "
                "else as for\n"
                "rules push.\n",
    },
    {
        .name = "audit",
        .fn = cli_audit,
        .usage = "nudge audit [--lim N] [--json]",
        .help = "The newest N (default 20) rows of every agent's audit "
                "trail: who\n"
                "changed what or was refused, when, with what result.\n"
                "  --agent URL   PUB or PUB,CTL, repeatable\n",
    },
    {
        .name = "emit",
        .fn = cli_emit,
        .usage = "nudge emit TYPE --visitor V [flags] | nudge emit "
                 "--stdin",
        .help = "Sends events to the agent's ingest socket and waits "
                "for its answer.\n"
                "  --visitor V --value 59.90 --page P --referrer R\n"
                "  --utm-source S --utm-medium M --utm-campaign C\n"
                "  --country FR --device mobile --sku S --quantity N\n"
                "  --target SEL --field k=v (repeatable)\n"
                "  --stdin       one JSON object per line: type, visitor, "
                "value, page,\n"
                "                referrer, utm_source, utm_medium, "
                "utm_campaign, country,\n"
                "                device, sku, quantity, target, x, y, "
                "scroll (permilles),\n"
                "                ts (ms), fields {k: v}; sent in batches "
                "of 1000\n"
                "  --ingest URL  the agent's ingest URL (else "
                "$NUDGE_INGEST, else the\n"
                "                configuration's [agent] ingest)\n"
                "  --json        print the result as JSON\n"
                "Prints \"accepted N, rejected M\"; bad lines and refused "
                "events are\n"
                "reported on stderr with their line numbers.\n",
    },
    {
        .name = "key",
        .fn = cli_key,
        .usage = "nudge key new --id ID --role viewer|operator [--out "
                 "FILE]",
        .help = "Makes a new key: writes the client's key file (mode "
                "0600; default\n"
                "ID.key, never overwritten) and prints the line to add "
                "to the agent's\n"
                "credentials file ([agent] credentials, then SIGHUP).\n"
                "  --id ID       1 to 63 of A-Z a-z 0-9 . _ - @\n"
                "  --role ROLE   viewer (read only) or operator\n"
                "  --out FILE    the client's key file\n",
    },
    {
        .name = "top",
        .fn = cli_top,
        .usage = "nudge top --once [--view overview|funnel|sessions|"
                 "agents|events|campaigns] [--json|--csv]",
        .help = "Prints one frame of a console view, like top -b, for "
                "scripts and cron\n"
                "mail; no terminal needed.\n"
                "  --once        one frame, then exit (the only mode)\n"
                "  --view V      overview (default), funnel, sessions, "
                "agents, events,\n"
                "                campaigns (JSON: each campaign with its "
                "variants;\n"
                "                CSV: one row per variant)\n"
                "  --json        the view's data as JSON (overview: the "
                "keys of\n"
                "                `nudge status --json`, and today's "
                "history)\n"
                "  --csv         the view's rows as CSV with a header "
                "line\n"
                "  --width N --height N  the text frame's size "
                "(default 80x24)\n"
                "  --timeout MS  how long to wait for the agents (default "
                "3000)\n"
                "Exits 3 when an agent did not answer (the frame is "
                "still printed).\n",
    },
    {
        .name = "help",
        .fn = cli_help,
        .usage = "nudge help [COMMAND]",
        .help = "Prints the help of a command.\n",
    },
    {
        .name = "version",
        .fn = cli_version,
        .usage = "nudge version",
        .help = "Prints the version.\n",
    },
    {.name = NULL},
};

enum {
	OPT_AGENT = 256,
	OPT_CONFIG,
	OPT_NO_COLOR,
	OPT_VIEWER,
	OPT_KEY,
	OPT_HISTORY,
	OPT_RECONCILE,
	OPT_HELP,
	OPT_VERSION
};

static const struct option main_longopts[] = {
    {"agent", required_argument, NULL, OPT_AGENT},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"no-color", no_argument, NULL, OPT_NO_COLOR},
    {"viewer", no_argument, NULL, OPT_VIEWER},
    {"key", required_argument, NULL, OPT_KEY},
    {"history", required_argument, NULL, OPT_HISTORY},
    {"reconcile", required_argument, NULL, OPT_RECONCILE},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* File, then environment, then the flags that are configuration keys. */
static int
main_load_conf(struct nudge_config *conf, const char *path,
    const char *reconcile)
{
	struct nudge_diag d = {0};

	conf_defaults(conf);
	if (path != NULL && conf_load(conf, path, &d) != 0) {
		if (d.line > 0)
			fprintf(
			    stderr, "nudge: %s:%d: %s\n", path, d.line, d.msg);
		else
			fprintf(stderr, "nudge: %s: %s\n", path, d.msg);
		return CLI_EUSAGE;
	}
	if (conf_apply_env(conf, &d) != 0) {
		fprintf(stderr, "nudge: environment: %s\n", d.msg);
		return CLI_EUSAGE;
	}
	if (reconcile != NULL &&
	    conf_set(conf, "console", "reconcile", reconcile, &d) != 0) {
		fprintf(stderr, "nudge: --reconcile: %s\n", d.msg);
		return CLI_EUSAGE;
	}
	return CLI_OK;
}

/* The refresh delay is in tenths of a second, as in htop and top. */
static int
main_set_delay(struct cli_ctx *ctx, const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > 600)
		return cli_usage(NULL, "-d wants tenths of a second, 1..600");
	ctx->refresh_ms = (unsigned)v * 100;
	return CLI_OK;
}

/*
 * Global flags stop at the first word that is not one ('+'), so that the
 * subcommand parses its own.  Returns -1 to go on, else an exit code.
 */
static int
main_parse(struct cli_ctx *ctx, int argc, char **argv, const char **config,
    const char **reconcile)
{
	int ch;

	while ((ch = getopt_long(argc, argv, "+d:hV", main_longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case OPT_AGENT:
			if (cli_add_agent(ctx, optarg) != 0)
				return CLI_EUSAGE;
			break;
		case OPT_CONFIG:
			*config = optarg;
			break;
		case OPT_NO_COLOR:
			ctx->no_color = true;
			break;
		case OPT_VIEWER:
			ctx->viewer = true;
			break;
		case OPT_KEY:
			ctx->key_flag = optarg;
			break;
		case OPT_HISTORY:
			ctx->history = optarg;
			break;
		case OPT_RECONCILE:
			*reconcile = optarg;
			break;
		case 'd':
			if (main_set_delay(ctx, optarg) != CLI_OK)
				return CLI_EUSAGE;
			break;
		case 'h':
		case OPT_HELP:
			cli_print_help(ctx);
			return CLI_OK;
		case 'V':
		case OPT_VERSION:
			return cli_version(ctx, 0, NULL);
		default:
			return cli_usage(NULL, "bad flag");
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct cli_ctx ctx = {.cmds = cli_cmds};
	struct nudge_config *conf;
	const struct cli_cmd *cmd;
	const char *config = NULL, *reconcile = NULL;
	const char *nc = getenv("NO_COLOR");
	int rv;

	log_init("nudge", LOG_LEVEL_WARN);
	ctx.no_color = nc != NULL && nc[0] != '\0';
	if ((rv = main_parse(&ctx, argc, argv, &config, &reconcile)) >= 0)
		return rv;
	if ((conf = calloc(1, sizeof(*conf))) == NULL) {
		fputs("nudge: out of memory\n", stderr);
		return CLI_EINTERNAL;
	}
	if ((rv = main_load_conf(conf, config, reconcile)) != CLI_OK) {
		free(conf);
		return rv;
	}
	ctx.conf = conf;
	/* every request of this process is signed with the key, if any */
	if ((rv = cli_setup_access(&ctx)) != CLI_OK) {
		free(conf);
		return rv;
	}
	if (ctx.refresh_ms == 0)
		ctx.refresh_ms = conf->console.refresh_ms > 0
		                     ? conf->console.refresh_ms
		                     : 1000;
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: re-initialise getopt for the subcommand */
	if (argc == 0)
		rv = cli_tui(&ctx, 0, NULL);
	else if ((cmd = cli_find(&ctx, argv[0])) != NULL)
		rv = cmd->fn(&ctx, argc, argv);
	else
		rv = cli_usage(NULL, "no command '%s'", argv[0]);
	free(conf);
	return rv;
}
