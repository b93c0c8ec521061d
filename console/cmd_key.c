/*
 * cmd_key.c - `nudge key new`: makes a key, writes the client's key file
 * (0600, never overwriting) and prints the line for the agent's
 * credentials file.  The secret is never taken from, nor put on, the
 * command line.  Main thread; owns nothing after it returns.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "cli.h"

static int
key_new(const struct cli_cmd *self, const char *id, const char *role_name,
    const char *out)
{
	struct nudge_diag d = {0};
	struct auth_key k;
	char path[512], line[AUTH_LINE_MAX];
	int role = role_name ? auth_role_parse(role_name) : AUTH_ROLE_NONE;
	int rv;

	if (id == NULL || role == AUTH_ROLE_NONE)
		return cli_usage(self, "key new needs --id ID and --role "
		    "viewer|operator");
	if (auth_key_new(&k, id, role, &d) != 0)
		return cli_usage(self, "%s", d.msg);
	snprintf(path, sizeof(path), "%s", out ? out : id);
	if (out == NULL)
		strncat(path, ".key", sizeof(path) - strlen(path) - 1);
	rv = auth_key_write(&k, path, &d);
	if (rv == 0)
		rv = auth_key_format(&k, line, sizeof(line)) < 0 ?
		    NUDGE_ETOOBIG : 0;
	auth_key_wipe(&k);
	if (rv != 0) {
		fprintf(stderr, "nudge: %s\n", d.msg);
		return rv == NUDGE_EEXIST ? CLI_EUSAGE : CLI_EINTERNAL;
	}
	fprintf(stderr, "nudge: wrote %s (mode 0600): give it to the client "
	    "(--key %s).\nAdd this line to the agent's credentials file "
	    "(mode 0600), then send nudged SIGHUP:\n", path, path);
	fputs(line, stdout);
	explicit_bzero(line, sizeof(line));
	return CLI_OK;
}

int
cli_key(struct cli_ctx *ctx, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"id", required_argument, NULL, 'i'},
	    {"role", required_argument, NULL, 'r'},
	    {"out", required_argument, NULL, 'o'},
	    {NULL, 0, NULL, 0},
	};
	const struct cli_cmd *self = cli_find(ctx, "key");
	const char *id = NULL, *role = NULL, *out = NULL;
	int ch;

	if (argc < 2 || strcmp(argv[1], "new") != 0)
		return cli_usage(self, "expected `key new`");
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'i': id = optarg; break;
		case 'r': role = optarg; break;
		case 'o': out = optarg; break;
		default: return cli_usage(self, "bad flag");
		}
	}
	if (optind < argc)
		return cli_usage(self, "unexpected '%s'", argv[optind]);
	return key_new(self, id, role, out);
}
