/*
 * cmd_help.c - `nudge --help`, `nudge help CMD` and `nudge --version`.
 * Reads the command table only; main thread.
 */
#include <stdio.h>

#include "cli.h"

static const char help_global[] =
    "Global flags (before the subcommand):\n"
    "  --agent URL[,CTLURL]  an agent's PUB URL, repeatable (default: the\n"
    "                        config's [console] agent lines, else the\n"
    "                        local agent); CTLURL overrides the control\n"
    "                        URL the agent advertises\n"
    "  --config FILE         read an INI configuration file\n"
    "  -d TENTHS             TUI refresh delay in tenths of a second\n"
    "  --no-color            no colour (also when NO_COLOR is set)\n"
    "  --viewer              read-only console\n"
    "  --history FILE        the console's per-minute history (default\n"
    "                        $XDG_STATE_HOME/nudge/console.db; none: off)\n"
    "  --key FILE            sign requests with this key file (else\n"
    "                        $NUDGE_KEY_FILE, else [console] key); a\n"
    "                        viewer key implies --viewer\n"
    "  --reconcile MODE      manual (r in the rules view) or auto: push\n"
    "                        the newest rule set to agents found behind\n"
    "                        (default: [console] reconcile, else manual)\n"
    "  --help, --version\n";

static const char help_tui[] =
    "With no subcommand and a terminal, nudge runs the interactive "
    "console:\n"
    "  1 overview  2 funnel  3 sessions  4 agents  5 heat  6 events\n"
    "  Tab next view, ? help (every key of the view), p pause, / filter,\n"
    "  s sort or split, Enter details, Esc back, q or F10 quit\n";

static const char help_exit[] =
    "Exit codes:\n"
    "  0 ok\n"
    "  1 internal error\n"
    "  2 usage error\n"
    "  3 an agent is unreachable or did not answer in time\n"
    "  4 the agent refused the request (credential or role)\n"
    "  5 some input was rejected (bad lines, events refused)\n";

void
cli_print_help(const struct cli_ctx *ctx)
{
	printf("nudge - real-time marketing console for online shops\n\n"
	       "usage: nudge [global flags] [COMMAND [flags]]\n\n"
	       "Commands:\n");
	for (const struct cli_cmd *c = ctx->cmds; c->name != NULL; c++)
		printf("  %s\n", c->usage);
	printf("\n%s\n%s\n%s", help_global, help_tui, help_exit);
}

int
cli_help(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_cmd *c;

	if (argc < 2) {
		cli_print_help(ctx);
		return CLI_OK;
	}
	if ((c = cli_find(ctx, argv[1])) == NULL)
		return cli_usage(NULL, "no command '%s'", argv[1]);
	printf("usage: %s\n\n%s\n%s", c->usage, c->help, help_exit);
	return CLI_OK;
}

int
cli_version(struct cli_ctx *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	(void)argv;
	printf("nudge %s\n", NUDGE_VERSION);
	return CLI_OK;
}
