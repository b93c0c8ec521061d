/*
 * cli.c - helpers every `nudge` subcommand uses: the agent list, the
 * signing key and TLS set-up, exit codes for errors, usage messages.
 * Owns nothing; main thread.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "ctlreq.h"
#include "tlsconf.h"

int
cli_add_agent(struct cli_ctx *ctx, const char *spec)
{
	if (ctx->n_agents >= CONF_AGENTS_MAX) {
		fprintf(stderr, "nudge: at most %d agents\n", CONF_AGENTS_MAX);
		return NUDGE_ETOOBIG;
	}
	ctx->agents[ctx->n_agents++] = spec;
	return 0;
}

unsigned
cli_agents(const struct cli_ctx *ctx, const char **out)
{
	const struct conf_console *cc = &ctx->conf->console;
	unsigned n = 0;

	if (ctx->n_agents > 0) {
		for (; n < ctx->n_agents; n++)
			out[n] = ctx->agents[n];
		return n;
	}
	for (; n < cc->n_agents && n < CONF_AGENTS_MAX; n++)
		out[n] = cc->agents[n];
	if (n == 0 && ctx->conf->agent.pub[0] != '\0')
		out[n++] = ctx->conf->agent.pub;
	return n;
}

int
cli_setup_access(struct cli_ctx *ctx)
{
	const char *key_flag = ctx->key_flag;
	const struct conf_console *cc = &ctx->conf->console;
	const char *env = getenv("NUDGE_KEY_FILE");
	const char *path = key_flag ? key_flag :
	    env != NULL && env[0] != '\0' ? env : cc->key;
	struct nudge_diag d = {0};
	struct auth_key k;

	if (tlsconf_client(cc->tls_ca, cc->tls_cert, cc->tls_key, &d) != 0) {
		fprintf(stderr, "nudge: TLS: %s\n", d.msg);
		return CLI_EUSAGE;
	}
	if (path[0] == '\0')
		return CLI_OK;
	if (auth_client_load(&k, path, &d) != 0) {
		fprintf(stderr, "nudge: key: %s\n", d.msg);
		return CLI_EUSAGE;
	}
	ctlreq_set_key(&k);
	snprintf(ctx->key_id, sizeof(ctx->key_id), "%s", k.id);
	if (k.role == AUTH_ROLE_VIEWER)
		ctx->viewer = true;
	auth_key_wipe(&k);
	return CLI_OK;
}

int
cli_exit_for(int err)
{
	switch (err) {
	case NUDGE_OK:
		return CLI_OK;
	case NUDGE_ETIMEOUT:
	case NUDGE_ECONN:
		return CLI_EUNREACH;
	case NUDGE_EAUTH:
	case NUDGE_EPERM:
		return CLI_EREFUSED;
	case NUDGE_ENOMEM:
	case NUDGE_EIO:
		return CLI_EINTERNAL;
	default:
		return CLI_EREJECTED;
	}
}

int
cli_usage(const struct cli_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("nudge: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cmd != NULL)
		fprintf(stderr, "usage: %s\n(see: nudge help %s)\n",
		    cmd->usage, cmd->name);
	else
		fputs("(see: nudge --help)\n", stderr);
	return CLI_EUSAGE;
}

const struct cli_cmd *
cli_find(const struct cli_ctx *ctx, const char *name)
{
	for (const struct cli_cmd *c = ctx->cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}
