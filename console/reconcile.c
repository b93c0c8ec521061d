/*
 * reconcile.c - automatic drift reconciliation for the interactive
 * console (see reconcile.h for the rules and the state diagram).
 *
 * Owns the fetched text of the desired version and the per-agent record
 * of what was pushed; borrows the model and the links.  Main thread only:
 * the TUI calls reconcile_tick() from its refresh tick, and the control
 * replies come back through link_service()/link_tick() on that thread.
 * A relay is one agent here (its version: the lowest behind it); its
 * answers are read through relayenv.h.
 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ctlreq.h"
#include "relayenv.h"

void
reconcile_init(struct reconcile *r, bool enabled)
{
	memset(r, 0, sizeof(*r));
	r->enabled = enabled;
	msgpack_sbuffer_init(&r->sb);
}

void
reconcile_fini(struct reconcile *r)
{
	free(r->text);
	r->text = NULL;
	msgpack_sbuffer_destroy(&r->sb);
}

const char *
reconcile_ack(const struct reconcile *r, unsigned idx, uint64_t *at_ms)
{
	*at_ms = idx < CONF_AGENTS_MAX ? r->ack_ms[idx] : 0;
	return idx < CONF_AGENTS_MAX ? r->ack[idx] : "";
}

/* The newest version over the agents that are up, and one that has it. */
static uint64_t
rec_desired(const struct model *m, unsigned n, int *who)
{
	uint64_t best = 0;

	*who = -1;
	for (unsigned i = 0; i < n; i++) {
		const struct model_agent *a = &m->agents[i];
		if (a->up && a->have_snapshot && (*who < 0 ||
		    a->snap.rules_version > best)) {
			best = a->snap.rules_version;
			*who = (int)i;
		}
	}
	return best;
}

static const char *
rec_name(const struct model *m, unsigned idx)
{
	return m->agents[idx].name[0] ? m->agents[idx].name : "?";
}

static void
rec_pack_get(msgpack_packer *pk, const void *arg)
{
	const uint64_t *version = arg;

	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, *version);
	wire_pack_cstr(pk, "shadow");
	msgpack_pack_false(pk);
}

static void
rec_pack_put(msgpack_packer *pk, const void *arg)
{
	const struct reconcile *r = arg;

	msgpack_pack_map(pk, 3);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, r->text_version);
	wire_pack_cstr(pk, "text");
	msgpack_pack_str_with_body(pk, r->text, r->len);
	wire_pack_cstr(pk, "shadow");
	msgpack_pack_false(pk);
}

static void
reconcile_on_text(void *arg, unsigned idx, int err,
    const struct wire_reply *rp)
{
	struct reconcile *r = arg;
	struct relayenv_leaf best = {.status = NUDGE_ENOTFOUND};
	struct nudge_strv t;
	uint64_t v = 0;
	char *copy;

	(void)idx;
	r->fetching = false;
	if (err == 0)
		relayenv_pick_newest(rp, &best);
	if (err != 0 || best.status != 0 ||
	    wire_get_u64(best.body, "version", &v) != 0 || v == 0 ||
	    wire_get_strv(best.body, "text", &t) != 0 ||
	    (copy = malloc(t.len + 1)) == NULL) {
		snprintf(r->status, sizeof(r->status), "auto reconcile: "
		    "cannot fetch the rule set: %.80s", err != 0 ?
		    nudge_strerror(err) : best.message);
		return;
	}
	memcpy(copy, t.ptr, t.len);
	copy[t.len] = '\0';
	free(r->text);
	r->text = copy;
	r->len = t.len;
	r->text_version = v;
}

/* A relay's agents' answers: how many acknowledged, the first refusal. */
struct rec_leaves {
	unsigned n, ok;
	uint64_t version;
	struct relayenv_leaf refused;
};

static void
rec_count_leaf(void *arg, const struct relayenv_leaf *leaf)
{
	struct rec_leaves *c = arg;

	c->n++;
	if (leaf->status == 0 && c->ok++ == 0)
		wire_get_u64(leaf->body, "version", &c->version);
	else if (leaf->status != 0 && c->n - c->ok == 1)
		c->refused = *leaf;
}

static void
rec_relay_ack(struct reconcile *r, unsigned idx, const struct wire_reply *rp)
{
	struct rec_leaves c = {0};

	relayenv_each(rp, rec_count_leaf, &c);
	if (c.ok == c.n)
		snprintf(r->ack[idx], sizeof(r->ack[idx]), "auto: %u of %u "
		    "acknowledged version %llu", c.ok, c.n,
		    (unsigned long long)c.version);
	else
		snprintf(r->ack[idx], sizeof(r->ack[idx]), "auto: %u of %u "
		    "acknowledged; %.16s: %.30s", c.ok, c.n, c.refused.name,
		    c.refused.message);
}

/* The answer to an automatic push: shown per agent and on the status line. */
static void
reconcile_on_ack(void *arg, unsigned idx, int err,
    const struct wire_reply *rp)
{
	struct reconcile *r = arg;
	uint64_t v = 0;

	if (idx >= CONF_AGENTS_MAX)
		return;
	if (err != 0)
		snprintf(r->ack[idx], sizeof(r->ack[idx]), "auto: no answer: "
		    "%s", nudge_strerror(err));
	else if (relayenv_is(rp))
		rec_relay_ack(r, idx, rp);
	else if (rp->status != 0)
		snprintf(r->ack[idx], sizeof(r->ack[idx]), "auto: refused: "
		    "%.60s", rp->message);
	else if (wire_get_u64(rp->body, "version", &v) == 0)
		snprintf(r->ack[idx], sizeof(r->ack[idx]),
		    "auto: acknowledged version %llu", (unsigned long long)v);
	r->ack_ms[idx] = clock_mono_ms();
	snprintf(r->status, sizeof(r->status), "%s reconciled: %s",
	    rec_name(r->model, idx), r->ack[idx]);
}

/* Marks who is behind desired and due a push; returns how many are due. */
static unsigned
rec_due(struct reconcile *r, const struct model *m, unsigned n,
    uint64_t desired, uint64_t now_ms, bool due[])
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && i < CONF_AGENTS_MAX; i++) {
		const struct model_agent *a = &m->agents[i];
		bool behind = a->up && a->have_snapshot &&
		    a->snap.rules_version < desired;

		due[i] = false;
		if (!behind) {
			r->behind_ms[i] = 0;
			continue;
		}
		if (r->behind_ms[i] == 0)
			r->behind_ms[i] = now_ms;
		/* once per agent per version; a settling push is not raced */
		due[i] = r->pushed[i] < desired &&
		    now_ms - r->behind_ms[i] >= RECONCILE_GRACE_MS;
		k += due[i];
	}
	return k;
}

static void
rec_fetch(struct reconcile *r, struct link *l, uint64_t desired,
    uint64_t now_ms)
{
	uint8_t id[WIRE_ID_LEN];

	if (now_ms < r->retry_ms ||
	    ctlreq_build(&r->sb, "rules_get", rec_pack_get, &desired, id) != 0)
		return;
	/* a failed fetch is not repeated at once; a busy link is */
	r->retry_ms = now_ms + RECONCILE_RETRY_MS;
	if (link_call(l, &r->sb, id, reconcile_on_text, r, now_ms) == 0)
		r->fetching = true;
	else
		r->retry_ms = 0;
}

/* Sends the text to each agent due; a busy link is tried next tick. */
static void
rec_push(struct reconcile *r, const struct model *m, struct link *links,
    unsigned n, const bool due[], uint64_t now_ms)
{
	uint8_t id[WIRE_ID_LEN];

	if (ctlreq_build(&r->sb, "rules_put", rec_pack_put, r, id) != 0)
		return;
	for (unsigned i = 0; i < n && i < CONF_AGENTS_MAX; i++) {
		if (!due[i] || link_call(&links[i], &r->sb, id,
		    reconcile_on_ack, r, now_ms) != 0)
			continue;
		r->pushed[i] = r->text_version;
		snprintf(r->ack[i], sizeof(r->ack[i]), "auto: pushing "
		    "version %llu...", (unsigned long long)r->text_version);
		r->ack_ms[i] = now_ms;
		snprintf(r->status, sizeof(r->status), "%s is behind: "
		    "pushing version %llu", rec_name(m, i),
		    (unsigned long long)r->text_version);
	}
}

void
reconcile_tick(struct reconcile *r, struct model *m, struct link *links,
    unsigned n, uint64_t now_ms)
{
	bool due[CONF_AGENTS_MAX];
	uint64_t desired;
	int who;

	if (!r->enabled || r->fetching)
		return;
	r->model = m;
	desired = rec_desired(m, n, &who);
	if (who < 0 || desired == 0 ||
	    rec_due(r, m, n, desired, now_ms, due) == 0)
		return;
	if (r->text == NULL || r->text_version < desired)
		rec_fetch(r, &links[who], desired, now_ms);
	else
		rec_push(r, m, links, n, due, now_ms);
}
