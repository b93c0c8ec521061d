/*
 * fleet.c - control calls on several agents for the scripting CLI (see
 * fleet.h).  Learns control URLs through the console's own links and
 * model (one SUB per agent, polled until each sent a snapshot or the wait
 * is over), then talks to each agent over a blocking ctlreq client.
 * Owns nothing beyond the call, except the last answer each agent behind
 * a relay gave (fleet_cache, replayed by fleet_call: fleet.h); main thread.
 */
#include "fleet.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "link.h"
#include "model.h"
#include "relayenv.h"

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

/* Per entry: an agent's answer brought back by its relay, as a reply. */
static msgpack_sbuffer fleet_cache[CONF_AGENTS_MAX];

/* A relay's envelope {agents: [[name, status, message, body]...]}, or NULL. */
static const msgpack_object *
fleet_envelope(const struct wire_reply *rp)
{
	return relayenv_agents(rp->status, rp->body);
}

/* The entry of the agent at slot behind relay entry parent (appended). */
static int
fleet_child(struct fleet *f, unsigned parent, unsigned slot)
{
	struct fleet_agent *a;

	for (unsigned i = 0; i < f->n; i++)
		if (f->a[i].virt && f->a[i].parent == parent &&
		    f->a[i].slot == slot)
			return (int)i;
	if (f->n == CONF_AGENTS_MAX)
		return -1;
	a = &f->a[f->n];
	memset(a, 0, sizeof(*a));
	a->virt = true;
	a->parent = parent;
	a->slot = slot;
	a->snap = true;
	memcpy(a->pub, f->a[parent].pub, sizeof(a->pub));
	memcpy(a->ctl, f->a[parent].ctl, sizeof(a->ctl));
	return (int)f->n++;
}

/* Keeps one envelope entry e as a whole reply for entry i's replay. */
static void
fleet_keep(struct fleet *f, unsigned i, const uint8_t id[WIRE_ID_LEN],
    const msgpack_object *e, const char *cmd)
{
	const msgpack_object *o = e->via.array.ptr;
	struct fleet_agent *a = &f->a[i];
	msgpack_sbuffer *sb = &fleet_cache[i];
	msgpack_packer pk;
	char msg[256];
	int status = (int)o[1].via.i64;

	if (sb->data == NULL)
		msgpack_sbuffer_init(sb);
	else
		msgpack_sbuffer_clear(sb);
	snprintf(a->name, sizeof(a->name), "%.*s",
	    (int)(o[0].via.str.size < WIRE_AGENT_MAX ? o[0].via.str.size :
	    WIRE_AGENT_MAX), o[0].via.str.ptr);
	snprintf(msg, sizeof(msg), "%.*s",
	    (int)(o[2].via.str.size < 255 ? o[2].via.str.size : 255),
	    o[2].via.str.ptr);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, status, msg);
	msgpack_pack_object(&pk, o[3]);
	snprintf(a->via_cmd, sizeof(a->via_cmd), "%s", cmd);
	a->err = status;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
}

static void fleet_deliver(struct fleet *f, unsigned idx, const char *cmd,
    const struct wire_reply *rp, fleet_reply_fn reply, void *reply_arg);

/*
 * A relay's answer: one entry per agent behind it, and the first
 * successful agent's answer for the relay's own index (fleet.h).
 */
static void
fleet_expand(struct fleet *f, unsigned idx, const char *cmd,
    const struct wire_reply *rp, const msgpack_object *ag,
    fleet_reply_fn reply, void *reply_arg)
{
	int rep = -1, first = -1;

	f->a[idx].relay = true;
	for (uint32_t k = 0; k < ag->via.array.size; k++) {
		int c = fleet_child(f, idx, k);
		if (c < 0)
			continue;
		fleet_keep(f, (unsigned)c, rp->id, &ag->via.array.ptr[k], cmd);
		if (first < 0)
			first = c;
		if (rep < 0 && f->a[c].err == 0)
			rep = c;
	}
	if (rep < 0)
		rep = first;
	if (reply != NULL && rep >= 0) {
		struct wire_reply crp;
		msgpack_sbuffer *sb = &fleet_cache[rep];
		if (wire_reply_parse(&crp, sb->data, sb->size,
		    &wire_limits_reply, NULL) == 0) {
			if (fleet_envelope(&crp) == NULL)
				reply(reply_arg, idx, &crp);
			wire_reply_fini(&crp);
		}
	}
}

static void
fleet_deliver(struct fleet *f, unsigned idx, const char *cmd,
    const struct wire_reply *rp, fleet_reply_fn reply, void *reply_arg)
{
	const msgpack_object *ag = fleet_envelope(rp);

	if (ag != NULL)
		fleet_expand(f, idx, cmd, rp, ag, reply, reply_arg);
	else if (reply != NULL)
		reply(reply_arg, idx, rp);
}

/* An agent behind a relay: what the relay brought back for cmd. */
static int
fleet_replay(struct fleet *f, unsigned idx, const char *cmd,
    fleet_reply_fn reply, void *reply_arg)
{
	struct fleet_agent *a = &f->a[idx];
	msgpack_sbuffer *sb = &fleet_cache[idx];
	struct wire_reply rp;
	int rv;

	if (sb->data == NULL || strcmp(a->via_cmd, cmd) != 0) {
		snprintf(a->msg, sizeof(a->msg), "not asked: its relay did "
		    "not forward %s", cmd);
		return a->err = NUDGE_ECONN;
	}
	a->via_cmd[0] = '\0';
	if ((rv = wire_reply_parse(&rp, sb->data, sb->size,
	    &wire_limits_reply, NULL)) != 0) {
		snprintf(a->msg, sizeof(a->msg), "bad answer via its relay");
		return a->err = rv;
	}
	rv = rp.status;
	snprintf(a->msg, sizeof(a->msg), "%s", rv ? rp.message : "");
	fleet_deliver(f, idx, cmd, &rp, reply, reply_arg);
	wire_reply_fini(&rp);
	return a->err = rv;
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

	if (a->virt)
		return fleet_replay(f, idx, cmd, reply, reply_arg);
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
			fleet_deliver(f, idx, cmd, &rp, reply, reply_arg);
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
