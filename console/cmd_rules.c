/*
 * cmd_rules.c - `nudge rules check FILE...`: compile rule files locally
 * and print every error as file:line:col: message (or --json), so an
 * editor, a hook or a script can check a rule set before it is pushed;
 * and the dispatcher of every `nudge rules` subcommand (push, show,
 * rollback, stats live in cmd_rules_fleet.c).
 *
 * Owns the file buffers and compiled sets for the duration of the
 * command; main thread.  Exit codes: 0 all valid, 5 some error (or an
 * unreadable file), 2 usage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "rules.h"
#include "rules_cli.h"

int cmd_rules_main(int argc, char **argv);
int cli_rules(struct cli_ctx *ctx, int argc, char **argv);

static const char rules_usage[] =
    "usage: nudge rules check [--json] FILE...\n"
    "       nudge rules push FILE [--version N] [--shadow] [--json] "
    "--agent URL...\n"
    "       nudge rules show [--version N] [--shadow] [--json] "
    "--agent URL...\n"
    "       nudge rules rollback N [--json] --agent URL...\n"
    "       nudge rules stats [--json] --agent URL...\n";

/* Reads a whole file of at most RULE_SOURCE_MAX bytes into *out. */
static int
rules_read(const char *path, char **out, size_t *len, char *why, size_t cap)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		snprintf(why, cap, "cannot open: %s", strerror(errno));
		return NUDGE_EIO;
	}
	if ((buf = malloc(RULE_SOURCE_MAX + 1)) == NULL) {
		fclose(f);
		snprintf(why, cap, "out of memory");
		return NUDGE_ENOMEM;
	}
	n = fread(buf, 1, RULE_SOURCE_MAX + 1, f);
	if (ferror(f)) {
		snprintf(why, cap, "cannot read: %s", strerror(errno));
		fclose(f);
		free(buf);
		return NUDGE_EIO;
	}
	fclose(f);
	*out = buf;
	*len = n; /* one byte over the limit: the compiler reports it */
	return NUDGE_OK;
}

static void
rules_json_error(json_t *arr, const char *file, int line, int col,
    const char *msg)
{
	json_array_append_new(arr, json_pack("{s:s, s:i, s:i, s:s}", "file",
	                               file, "line", line, "col", col,
	                               "message", msg));
}

/* Checks one file; returns the number of errors it has. */
static unsigned
rules_check_one(const char *path, json_t *errors, unsigned *n_rules)
{
	struct rule_errors *errs = calloc(1, sizeof(*errs));
	struct rule_set *set = NULL;
	char *text = NULL, why[160];
	size_t len = 0;
	unsigned bad;
	int rc;

	if (errs == NULL)
		return 1;
	if (rules_read(path, &text, &len, why, sizeof(why)) != NUDGE_OK) {
		if (errors != NULL)
			rules_json_error(errors, path, 0, 0, why);
		else
			fprintf(stderr, "%s: %s\n", path, why);
		free(errs);
		return 1;
	}
	rc = rule_compile(text, len, &set, errs);
	if (rc == NUDGE_OK)
		*n_rules += rule_set_count(set);
	else if (errs->n == 0 && errors == NULL)
		fprintf(stderr, "%s: %s\n", path, nudge_strerror(rc));
	else if (errs->n == 0)
		rules_json_error(errors, path, 0, 0, nudge_strerror(rc));
	if (errors != NULL)
		for (unsigned i = 0; i < errs->n; i++)
			rules_json_error(errors, path, errs->e[i].line,
			    errs->e[i].col, errs->e[i].msg);
	else
		rule_errors_print(stderr, path, errs);
	bad = rc == NUDGE_OK ? 0 : errs->n ? errs->n : 1;
	rule_set_free(set);
	free(text);
	free(errs);
	return bad;
}

static int
rules_check(int argc, char **argv)
{
	json_t *errors = NULL;
	unsigned bad = 0, n_rules = 0;
	int i = 2;

	if (i < argc && strcmp(argv[i], "--json") == 0) {
		errors = json_array();
		i++;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc || argv[i][0] == '-') {
		fputs(i >= argc ? "nudge: rules check: no file\n"
		                : "nudge: rules check: unknown flag\n",
		    stderr);
		fputs(rules_usage, stderr);
		json_decref(errors);
		return CLI_EUSAGE;
	}
	for (; i < argc; i++)
		bad += rules_check_one(argv[i], errors, &n_rules);
	if (errors != NULL) {
		json_t *o = json_pack("{s:b, s:i, s:o}", "ok", bad == 0,
		    "rules", (int)n_rules, "errors", errors);
		char *s = json_dumps(o, JSON_COMPACT);
		if (s != NULL)
			puts(s);
		free(s);
		json_decref(o);
	}
	return bad == 0 ? CLI_OK : CLI_EREJECTED;
}

int
rules_load_checked(const char *path, char **text, size_t *len)
{
	struct rule_errors *errs = calloc(1, sizeof(*errs));
	struct rule_set *set = NULL;
	char why[160];
	int rc;

	if (errs == NULL)
		return CLI_EINTERNAL;
	if (rules_read(path, text, len, why, sizeof(why)) != NUDGE_OK) {
		fprintf(stderr, "%s: %s\n", path, why);
		free(errs);
		return CLI_EREJECTED;
	}
	if (*len > RULE_SOURCE_MAX) {
		fprintf(stderr, "%s: over %u bytes: nothing was pushed\n", path,
		    RULE_SOURCE_MAX);
		free(*text);
		*text = NULL;
		free(errs);
		return CLI_EREJECTED;
	}
	(*text)[*len] = '\0';
	rc = rule_compile(*text, *len, &set, errs);
	rule_set_free(set);
	if (rc != NUDGE_OK) {
		if (errs->n == 0)
			fprintf(stderr, "%s: %s\n", path, nudge_strerror(rc));
		rule_errors_print(stderr, path, errs);
		fprintf(stderr, "nudge: %s has errors: nothing was pushed\n",
		    path);
		free(*text);
		*text = NULL;
	}
	free(errs);
	return rc == NUDGE_OK ? CLI_OK : CLI_EREJECTED;
}

/* Subcommands that talk to agents: argv[0] is the subcommand. */
static const struct {
	const char *name;
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
} rules_subs[] = {
	{"push", rules_push},
	{"show", rules_show},
	{"rollback", rules_rollback},
	{"stats", rules_stats},
};

int
cmd_rules_main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "check") == 0)
		return rules_check(argc, argv);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	                     strcmp(argv[1], "help") == 0)) {
		fputs(rules_usage, stdout);
		return CLI_OK;
	}
	fputs("nudge: rules: expected a subcommand (check, push, show, "
	    "rollback, stats)\n", stderr);
	fputs(rules_usage, stderr);
	return CLI_EUSAGE;
}

/* The command table's entry point: argv[0] is "rules". */
int
cli_rules(struct cli_ctx *ctx, int argc, char **argv)
{
	for (size_t i = 0; argc >= 2 &&
	    i < sizeof(rules_subs) / sizeof(rules_subs[0]); i++)
		if (strcmp(argv[1], rules_subs[i].name) == 0)
			return rules_subs[i].fn(ctx, argc - 1, argv + 1);
	return cmd_rules_main(argc, argv);
}
