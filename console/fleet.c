/*
 * fleet.c - control calls on several agents for the scripting CLI (see
 * fleet.h).  Learns control URLs through the console's own links and
 * model (one SUB per agent, polled until each sent a snapshot or the wait
 * is over), then talks to each agent over a blocking ctlreq client.
 * Owns nothing beyond the call; main thread.
 */
#include "fleet.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "link.h"
#include "model.h"

static bool
fleet_all_heard(const struct model *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!m->agents[i].have_snapshot)
			return false;
	return true;
}

static void
fleet_wait(struct link *links, struct model *m, unsigned n, unsigned wait_ms)
{
	uint64_t deadline = clock_mono_ms() + wait_ms;
	struct pollfd fds[2 * CONF_AGENTS_MAX];

	while (!fleet_all_heard(m, n)) {
		uint64_t now = clock_mono_ms();
		int nfds = 0;

		if (now >= deadline)
			break;
		for (unsigned i = 0; i < n; i++)
			nfds += link_pollfds(&links[i], fds + nfds);
		poll(fds, (nfds_t)nfds,
		    (int)(deadline - now < 100 ? deadline - now : 100));
		now = clock_mono_ms();
		for (unsigned i = 0; i < n; i++) {
			link_service(&links[i], m, now);
			link_tick(&links[i], m, now);
		}
	}
}

static void
fleet_take(struct fleet_agent *fa, const struct link *l,
    const struct model_agent *ma)
{
	snprintf(fa->pub, sizeof(fa->pub), "%s", l->pub_url);
	snprintf(fa->ctl, sizeof(fa->ctl), "%s", l->ctl_url);
	fa->snap = ma->have_snapshot;
	if (fa->snap) {
		snprintf(fa->name, sizeof(fa->name), "%s", ma->name);
		fa->rules_version = ma->snap.rules_version;
		fa->shadow_version = ma->snap.shadow_version;
	}
	if (fa->ctl[0] == '\0') {
		fa->err = NUDGE_ECONN;
		snprintf(fa->msg, sizeof(fa->msg), "no snapshot, so no "
		    "control URL (give PUB,CTL)");
	}
}

int
fleet_resolve(struct cli_ctx *ctx, struct fleet *f, unsigned wait_ms)
{
	const char *specs[CONF_AGENTS_MAX];
	struct link *links;
	struct model m;
	struct nudge_diag d = {0};
	uint64_t now = clock_mono_ms();
	int rv = CLI_OK;

	memset(f, 0, sizeof(*f));
	if ((f->n = cli_agents(ctx, specs)) == 0) {
		fputs("nudge: no agent given (--agent PUB[,CTL])\n", stderr);
		return CLI_EUSAGE;
	}
	links = calloc(f->n, sizeof(*links));
	if (links == NULL || model_init(&m, f->n) != 0) {
		free(links);
		return CLI_EINTERNAL;
	}
	for (unsigned i = 0; i < f->n && rv == CLI_OK; i++)
		if (link_open(&links[i], i, specs[i], now, &d) != 0) {
			fprintf(stderr, "nudge: %s\n", d.msg);
			rv = CLI_EUSAGE;
			f->n = i;
		}
	if (rv == CLI_OK)
		fleet_wait(links, &m, f->n, wait_ms);
	for (unsigned i = 0; i < f->n; i++) {
		if (rv == CLI_OK)
			fleet_take(&f->a[i], &links[i], &m.agents[i]);
		link_close(&links[i]);
	}
	free(links);
	model_fini(&m);
	return rv;
}

static void
fleet_dump(const char *path, const msgpack_sbuffer *sb)
{
	FILE *out = fopen(path, "wb");

	if (out == NULL)
		return;
	fwrite(sb->data, 1, sb->size, out);
	fclose(out);
}

int
fleet_call(struct fleet *f, unsigned idx, const char *cmd,
    ctlreq_args_fn fn, const void *arg, fleet_reply_fn reply,
    void *reply_arg, const char *dump)
{
	struct fleet_agent *a = &f->a[idx];
	struct ctlreq_client c;
	struct nudge_diag d = {0};
	struct wire_reply rp;
	uint8_t id[WIRE_ID_LEN];
	msgpack_sbuffer sb;
	nng_msg *msg = NULL;
	int rv;

	if (a->ctl[0] == '\0')
		return a->err = NUDGE_ECONN;
	msgpack_sbuffer_init(&sb);
	if ((rv = ctlreq_build(&sb, cmd, fn, arg, id)) == 0 &&
	    (rv = ctlreq_open(&c, a->ctl, CTLREQ_TIMEOUT_MS, &d)) == 0) {
		if (dump != NULL)
			fleet_dump(dump, &sb);
		if ((rv = ctlreq_call(&c, &sb, &msg, &rp, &d)) == 0) {
			rv = rp.status;
			snprintf(d.msg, sizeof(d.msg), "%.200s", rp.message);
			if (reply != NULL)
				reply(reply_arg, idx, &rp);
			wire_reply_fini(&rp);
			nng_msg_free(msg);
		}
		ctlreq_close(&c);
	}
	msgpack_sbuffer_destroy(&sb);
	a->err = rv;
	snprintf(a->msg, sizeof(a->msg), "%s", rv ? d.msg : "");
	return rv;
}

const char *
fleet_label(const struct fleet_agent *a)
{
	return a->name[0] != '\0' ? a->name : a->pub;
}
