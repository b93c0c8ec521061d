/*
 * campview.c - the console's book of campaigns: per-agent versions and
 * states, drift text, the fleet-wide results kept across refreshes
 * (campstat), and the plan, confirmation and acknowledgement texts of an
 * operator's change.  Pure: reads the model, writes its own memory.
 *
 * Owns the book; the model is borrowed for the length of each call.  Main
 * thread only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campview.h"

struct campview *
campview_new(unsigned n_agents, const struct stats_policy *pol)
{
	struct campview *cv;

	if (n_agents == 0 || n_agents > CONF_AGENTS_MAX)
		return NULL;
	if ((cv = calloc(1, sizeof(*cv))) == NULL)
		return NULL;
	cv->n_agents = n_agents;
	if (pol != NULL)
		cv->pol = *pol;
	else
		campstat_policy_default(&cv->pol);
	return cv;
}

void
campview_free(struct campview *cv)
{
	free(cv);
}

static int
cv_index(const struct campview *cv, const char *name)
{
	for (unsigned i = 0; i < cv->n; i++)
		if (strcmp(cv->camp[i].name, name) == 0)
			return (int)i;
	return -1;
}

const struct campview_camp *
campview_find(const struct campview *cv, const char *name)
{
	int i = cv_index(cv, name);

	return i < 0 ? NULL : &cv->camp[i];
}

/* The entry for name, added (fresh statistics) when new; NULL when full. */
static struct campview_camp *
cv_entry(struct campview *cv, const char *name)
{
	int i = cv_index(cv, name);
	struct campview_camp *c;

	if (i >= 0)
		return &cv->camp[i];
	if (cv->n == CAMPVIEW_MAX)
		return NULL;
	c = &cv->camp[cv->n++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	campstat_init(&c->cs);
	return c;
}

/* Which agents report which campaign, at which version and state. */
static void
cv_collect(struct campview *cv, const struct model *m)
{
	for (unsigned k = 0; k < cv->n; k++)
		memset(cv->camp[k].agent, 0, sizeof(cv->camp[k].agent));
	for (unsigned i = 0; i < cv->n_agents && i < m->n_agents; i++) {
		const struct model_agent *a = &m->agents[i];

		if (!a->up || !a->have_snapshot)
			continue;
		for (unsigned j = 0; j < a->snap.n_camps && j < WIRE_CAMPS_MAX;
		     j++) {
			const struct camp *w = &a->snap.camps[j].c;
			struct campview_camp *c = cv_entry(cv, w->name);

			if (c == NULL || c->agent[i].reports)
				continue; /* full, or a duplicate name */
			c->agent[i] = (struct campview_agent){.reports = true,
			    .version = w->version,
			    .state = w->state,
			    .tripped = w->tripped};
		}
	}
}

/* Drops the entries nobody reports, keeping the others' order. */
static void
cv_compact(struct campview *cv)
{
	unsigned out = 0;

	for (unsigned k = 0; k < cv->n; k++) {
		bool any = false;

		for (unsigned i = 0; i < cv->n_agents && !any; i++)
			any = cv->camp[k].agent[i].reports;
		if (!any)
			continue;
		if (out != k)
			memcpy(
			    &cv->camp[out], &cv->camp[k], sizeof(cv->camp[k]));
		out++;
	}
	cv->n = out;
}

/* Merged version and state, agreement counts, then the statistics. */
static void
cv_merge(struct campview *cv, struct campview_camp *c, const struct model *m,
    uint64_t wall_ms)
{
	const struct wire_campaign *per[CONF_AGENTS_MAX];
	unsigned n = 0;

	c->n_report = c->n_agree = 0;
	c->version = 0;
	for (unsigned i = 0; i < cv->n_agents; i++) {
		const struct campview_agent *a = &c->agent[i];

		if (!a->reports)
			continue;
		if (c->n_report++ == 0 || a->version > c->version) {
			c->version = a->version;
			c->state = a->state;
		}
		for (unsigned j = 0; j < m->agents[i].snap.n_camps; j++)
			if (strcmp(m->agents[i].snap.camps[j].c.name,
			        c->name) == 0) {
				per[n++] = &m->agents[i].snap.camps[j];
				break;
			}
	}
	for (unsigned i = 0; i < cv->n_agents; i++)
		c->n_agree += c->agent[i].reports &&
		              c->agent[i].version == c->version &&
		              c->agent[i].state == c->state;
	if (n > 0)
		campstat_update(&c->cs, per, n, &cv->pol, wall_ms);
}

void
campview_update(struct campview *cv, const struct model *m, uint64_t wall_ms)
{
	cv_collect(cv, m);
	cv_compact(cv);
	for (unsigned k = 0; k < cv->n; k++)
		cv_merge(cv, &cv->camp[k], m, wall_ms);
}

bool
campview_settled(const struct campview_camp *c, unsigned n_agents)
{
	return c->n_report == n_agents && c->n_agree == n_agents;
}

/* The agent's name, or "#N" (1-based) while it is not known. */
static const char *
cv_agent_name(const struct model *m, unsigned i, char *buf, size_t cap)
{
	if (i < m->n_agents && m->agents[i].name[0] != '\0')
		return m->agents[i].name;
	snprintf(buf, cap, "#%u", i + 1);
	return buf;
}

/* Appends to buf at *at, never past cap; keeps it NUL-terminated. */
static void cv_append(char *buf, size_t cap, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
cv_append(char *buf, size_t cap, size_t *at, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*at + 1 >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *at, cap - *at, fmt, ap);
	va_end(ap);
	if (n > 0)
		*at += (size_t)n < cap - *at ? (size_t)n : cap - *at - 1;
}

void
campview_drift(const struct campview_camp *c, const struct model *m, char *buf,
    size_t cap)
{
	unsigned n = m->n_agents;
	size_t at = 0;
	char nb[16];

	if (cap == 0)
		return;
	buf[0] = '\0';
	if (campview_settled(c, n)) {
		cv_append(buf, cap, &at, "%u/%u agents", n, n);
		return;
	}
	cv_append(buf, cap, &at, "%u/%u at v%llu", c->n_agree, n,
	    (unsigned long long)c->version);
	for (unsigned i = 0; i < n && i < CONF_AGENTS_MAX; i++) {
		const struct campview_agent *a = &c->agent[i];
		const char *name = cv_agent_name(m, i, nb, sizeof(nb));

		if (a->reports && a->version == c->version &&
		    a->state == c->state)
			continue;
		if (a->reports)
			cv_append(buf, cap, &at, ", %s at v%llu %s", name,
			    (unsigned long long)a->version,
			    camp_state_name(a->state));
		else if (!m->agents[i].up || !m->agents[i].have_snapshot)
			cv_append(buf, cap, &at, ", %s down", name);
		else
			cv_append(buf, cap, &at, ", %s: not declared", name);
	}
}

bool
campview_op_applies(int op, int state)
{
	switch (op) {
	case CAMP_OP_START:
		return state == CAMP_DRAFT;
	case CAMP_OP_PAUSE:
		return state == CAMP_RUNNING;
	case CAMP_OP_RESUME:
		return state == CAMP_PAUSED;
	case CAMP_OP_STOP:
	case CAMP_OP_WEIGHTS:
	case CAMP_OP_HOLDOUT:
	case CAMP_OP_RESHUFFLE:
	case CAMP_OP_RESET:
		return state == CAMP_RUNNING || state == CAMP_PAUSED;
	default:
		return false;
	}
}

unsigned
campview_plan(const struct campview_camp *c, unsigned n_agents,
    const struct campview_req *rq, struct wire_camp_change *out, bool *send)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_agents && i < CONF_AGENTS_MAX; i++) {
		const struct campview_agent *a = &c->agent[i];

		send[i] = a->reports && campview_op_applies(rq->op, a->state);
		if (!send[i])
			continue;
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].name, sizeof(out[i].name), "%s", c->name);
		out[i].op = rq->op;
		out[i].expect = a->version;
		out[i].winner = rq->winner;
		out[i].n_weights = rq->n_weights;
		memcpy(out[i].weights, rq->weights, sizeof(out[i].weights));
		out[i].holdout_bp = rq->holdout_bp;
		n++;
	}
	return n;
}

/* "pause", "stop ..., roll X out to everyone,", "set weights 50,50 of". */
static void
cv_what(const struct campview_camp *c, const struct campview_req *rq,
    char *buf, size_t cap, size_t *at)
{
	const struct camp *k = &c->cs.merged.c;
	const char *op = camp_op_name(rq->op);
	unsigned nv = k->n_variants;

	switch (rq->op) {
	case CAMP_OP_STOP:
		cv_append(buf, cap, at,
		    "stop %s v%llu, roll %s out to "
		    "everyone,",
		    c->name, (unsigned long long)c->version,
		    rq->winner >= 0 && (unsigned)rq->winner < nv
		        ? k->variant[rq->winner]
		        : "control");
		return;
	case CAMP_OP_WEIGHTS:
		cv_append(buf, cap, at, "set weights ");
		for (unsigned i = 0; i < rq->n_weights; i++)
			cv_append(buf, cap, at, "%s%u", i ? "," : "",
			    rq->weights[i]);
		cv_append(buf, cap, at, " of");
		break;
	case CAMP_OP_HOLDOUT:
		cv_append(buf, cap, at, "set holdout %u.%02u%% of",
		    rq->holdout_bp / 100, rq->holdout_bp % 100);
		break;
	default:
		cv_append(buf, cap, at, "%s", op != NULL ? op : "change");
		break;
	}
	cv_append(buf, cap, at, " %s v%llu", c->name,
	    (unsigned long long)c->version);
}

void
campview_confirm(const struct campview_camp *c, const struct model *m,
    const struct campview_req *rq, const bool *send, char *buf, size_t cap)
{
	size_t at = 0;
	unsigned k = 0;
	char nb[16];

	if (cap == 0)
		return;
	buf[0] = '\0';
	cv_what(c, rq, buf, cap, &at);
	cv_append(buf, cap, &at, " on");
	for (unsigned i = 0; i < m->n_agents && i < CONF_AGENTS_MAX; i++) {
		if (!send[i])
			continue;
		cv_append(buf, cap, &at, "%s %s", k++ ? "," : "",
		    cv_agent_name(m, i, nb, sizeof(nb)));
		if (c->agent[i].version != c->version)
			cv_append(buf, cap, &at, " (v%llu)",
			    (unsigned long long)c->agent[i].version);
	}
	cv_append(buf, cap, &at, "? y/n");
}

void
campview_ack(int err, int status, const char *message,
    const struct wire_campaign *now, char *buf, size_t cap)
{
	const char *msg = message != NULL ? message : "";

	if (err == NUDGE_ECONN)
		snprintf(buf, cap, "no answer: no control link");
	else if (err != 0)
		snprintf(buf, cap, "no answer");
	else if (status == 0 && now != NULL)
		snprintf(buf, cap, "ok: %s v%llu",
		    camp_state_name(now->c.state),
		    (unsigned long long)now->c.version);
	else if (status == 0)
		snprintf(buf, cap, "ok");
	else if (status == NUDGE_ESTALE)
		snprintf(buf, cap, "stale: %s",
		    msg[0] ? msg : "changed by somebody else first");
	else
		snprintf(buf, cap, "refused: %s",
		    msg[0] ? msg : nudge_strerror(status));
}

static void
cv_why(char *why, size_t cap, const char *msg)
{
	if (why != NULL && cap > 0)
		snprintf(why, cap, "%s", msg);
}

int
campview_parse_weights(
    const char *text, unsigned n, uint8_t *w, char *why, size_t cap)
{
	uint8_t v[CAMP_VARIANTS_MAX];
	const char *p = text;
	unsigned k = 0, sum = 0;
	char msg[96];

	while (*p != '\0') {
		char *end;
		long x;

		while (*p == ' ')
			p++;
		if (!isdigit((unsigned char)*p)) {
			cv_why(why, cap,
			    "weights are whole percents, "
			    "e.g. 50,50");
			return NUDGE_EINVAL;
		}
		errno = 0;
		x = strtol(p, &end, 10);
		if (errno != 0 || x > 100 || k == CAMP_VARIANTS_MAX) {
			cv_why(why, cap, "a weight is 0..100");
			return NUDGE_EINVAL;
		}
		v[k++] = (uint8_t)x;
		sum += (unsigned)x;
		for (p = end; *p == ' '; p++)
			;
		if (*p == ',')
			p++;
		else if (*p != '\0') {
			cv_why(why, cap, "weights are separated by commas");
			return NUDGE_EINVAL;
		}
	}
	if (k != n || sum != 100) {
		snprintf(msg, sizeof(msg),
		    "%u weights summing to 100 wanted "
		    "(got %u summing to %u)",
		    n, k, sum);
		cv_why(why, cap, msg);
		return NUDGE_EINVAL;
	}
	memcpy(w, v, k);
	return 0;
}

int
campview_parse_holdout(const char *text, uint16_t *bp, char *why, size_t cap)
{
	const char *p = text;
	unsigned whole = 0, frac = 0, nd = 0, nw = 0;

	while (*p == ' ')
		p++;
	for (; isdigit((unsigned char)*p) && nw < 3; p++, nw++)
		whole = whole * 10 + (unsigned)(*p - '0');
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p) && nd < 3; p++, nd++)
			frac = frac * 10 + (unsigned)(*p - '0');
	if (*p == '%')
		p++;
	while (*p == ' ')
		p++;
	if (nw == 0 || *p != '\0' || nd > 2) {
		cv_why(why, cap,
		    "a holdout is a percentage, e.g. 5 or 2.5 "
		    "(two decimals at most)");
		return NUDGE_EINVAL;
	}
	if (nd == 1)
		frac *= 10;
	if (whole * 100 + frac > 9999) {
		cv_why(why, cap, "a holdout is from 0 to 99.99%");
		return NUDGE_EINVAL;
	}
	*bp = (uint16_t)(whole * 100 + frac);
	return 0;
}
