/*
 * rules_cli.h - the `nudge rules` subcommands, shared between
 * cmd_rules.c (check, the dispatcher, reading and compiling a file) and
 * cmd_rules_fleet.c (push, show, rollback, stats across agents).  Each
 * takes argv with argv[0] = the subcommand and returns an exit code.
 */
#ifndef NUDGE_RULES_CLI_H
#define NUDGE_RULES_CLI_H

#include <stddef.h>

#include "cli.h"

int rules_push(struct cli_ctx *ctx, int argc, char **argv);
int rules_show(struct cli_ctx *ctx, int argc, char **argv);
int rules_rollback(struct cli_ctx *ctx, int argc, char **argv);
int rules_stats(struct cli_ctx *ctx, int argc, char **argv);

/*
 * Reads path and compiles it; on errors prints them (file:line:col:
 * message) and returns CLI_EREJECTED.  On CLI_OK *text (malloc'ed,
 * NUL-terminated, caller frees) and *len hold the file.
 */
int rules_load_checked(const char *path, char **text, size_t *len);

#endif
