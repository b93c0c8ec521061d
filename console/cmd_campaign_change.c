/*
 * cmd_campaign_change.c - `nudge campaign start|pause|resume|stop|winner|
 * weights|holdout|reshuffle|reset NAME ...`: one operator change sent to
 * every agent given, each with expect = the version THAT agent reported
 * in campaign_list a moment before (or --expect N for all), so the change
 * is applied from what the operator saw and never over somebody else's.
 *
 * One line per agent says what happened there:
 *   ok           applied: the new version and state follow
 *   already      the agent was in that state already (nothing sent), or
 *                answered an idempotent replay
 *   stale        somebody changed it first: re-read (show) and decide
 *   refused      the agent refused: role, an illegal transition or
 *                argument, or it does not declare the campaign
 *   unreachable  no answer
 *
 * Exit codes: 0 every agent ok or already; else the worst failure, in
 * this order: 3 unreachable, 4 refused for the credential or role,
 * 5 rejected (stale, illegal, not declared).  A partial success is a
 * failure: the lines say which agents changed, and running the same
 * command again finishes the job (agents done say "already").
 * Main thread; owns its buffers for the command.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "campaign_cli.h"

static const char change_usage[] =
    "usage: nudge campaign start|pause|resume|reshuffle|reset NAME "
    "[--expect V] [--json]\n"
    "       nudge campaign stop NAME [--winner VARIANT] [--expect V] "
    "[--json]\n"
    "       nudge campaign winner NAME VARIANT [--expect V] [--json]\n"
    "       nudge campaign weights NAME W1,W2,... [--expect V] [--json]\n"
    "       nudge campaign holdout NAME PERCENT [--expect V] [--json]\n";

/* What one agent did with the change. */
struct cc_result {
	const char *word;	/* ok, already, stale, refused, unreachable */
	bool have;		/* version and state known */
	uint64_t version;
	uint8_t state;
};

struct cc_job {
	struct wire_camp_change base;	/* name, op and arguments */
	const char *winner;		/* variant name or index (stop) */
	struct cc_result r[CONF_AGENTS_MAX];
	struct wire_campaign now;	/* scratch for one reply */
	bool got;
};

/* ---- arguments ---------------------------------------------------------- */

static int
cc_weights(const char *s, struct wire_camp_change *ch)
{
	const char *p = s;

	ch->n_weights = 0;
	while (*p != '\0') {
		char *end;
		unsigned long w = strtoul(p, &end, 10);

		if (end == p || w > 100 ||
		    ch->n_weights >= CAMP_VARIANTS_MAX ||
		    (*end != ',' && *end != '\0'))
			return -1;
		ch->weights[ch->n_weights++] = (uint8_t)w;
		p = *end == ',' ? end + 1 : end;
		if (*end == ',' && *p == '\0')
			return -1;
	}
	return ch->n_weights >= 2 ? 0 : -1;
}

/* "10", "10%", "2.5": percent of visitors held out, as basis points. */
static int
cc_holdout(const char *s, struct wire_camp_change *ch)
{
	char *end;
	double pc = strtod(s, &end);

	if (end == s || (*end != '\0' && strcmp(end, "%") != 0) ||
	    !(pc >= 0.0 && pc < 100.0) || pc * 100.0 > 9999.0)
		return -1;
	ch->holdout_bp = (uint16_t)lround(pc * 100.0);
	return 0;
}

static int
cc_args(int op, const char *sub, const struct ccli_opts *o,
    struct cc_job *job)
{
	struct wire_camp_change *ch = &job->base;

	if (strlen(o->pos[0]) > CAMP_NAME_MAX) {
		fprintf(stderr, "nudge: campaign names have at most %d "
		    "characters\n", CAMP_NAME_MAX);
		return CLI_EUSAGE;
	}
	snprintf(ch->name, sizeof(ch->name), "%s", o->pos[0]);
	ch->op = (uint8_t)op;
	job->winner = strcmp(sub, "winner") == 0 ? o->pos[1] : o->winner;
	if (op != CAMP_OP_STOP && o->winner != NULL) {
		fprintf(stderr, "nudge: --winner goes with stop\n%s",
		    change_usage);
		return CLI_EUSAGE;
	}
	if (op == CAMP_OP_WEIGHTS && cc_weights(o->pos[1], ch) != 0) {
		fprintf(stderr, "nudge: weights: 2 to %d percents, comma "
		    "separated, e.g. 90,10\n", CAMP_VARIANTS_MAX);
		return CLI_EUSAGE;
	}
	if (op == CAMP_OP_HOLDOUT && cc_holdout(o->pos[1], ch) != 0) {
		fprintf(stderr, "nudge: holdout: a percent from 0 to 99.99\n");
		return CLI_EUSAGE;
	}
	return CLI_OK;
}

/* The winner as an index of w's variants: by name, else as a number. */
static int
cc_winner(const char *s, const struct camp *c)
{
	char *end;
	long v;

	if (s == NULL)
		return 0;	/* stop without a winner: control stays */
	for (unsigned i = 0; i < c->n_variants; i++)
		if (strcmp(c->variant[i], s) == 0)
			return (int)i;
	v = strtol(s, &end, 10);
	if (*s != '\0' && *end == '\0' && v >= 0 && v < c->n_variants)
		return (int)v;
	return -1;
}

/* ---- one agent ---------------------------------------------------------- */

/* Already where the change would take it (nothing to send). */
static bool
cc_already(const struct wire_camp_change *ch, const struct camp *c)
{
	switch (ch->op) {
	case CAMP_OP_START:
	case CAMP_OP_RESUME:
		return c->state == CAMP_RUNNING;
	case CAMP_OP_PAUSE:
		return c->state == CAMP_PAUSED;
	case CAMP_OP_STOP:
		return c->state == CAMP_STOPPED && c->winner == ch->winner;
	case CAMP_OP_WEIGHTS:
		return ch->n_weights == c->n_variants && memcmp(ch->weights,
		    c->weight, c->n_variants) == 0 && c->state !=
		    CAMP_STOPPED;
	case CAMP_OP_HOLDOUT:
		return ch->holdout_bp == c->holdout_bp &&
		    c->state != CAMP_STOPPED;
	default:
		return false;
	}
}

static void
cc_pack(msgpack_packer *pk, const void *arg)
{
	wire_pack_camp_change(pk, arg);
}

static void
cc_got(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct cc_job *job = arg;

	(void)idx;
	job->got = rp->status == 0 &&
	    wire_unpack_campaign(rp->body, &job->now) == 0;
}

static void
cc_refuse(struct fleet_agent *a, struct cc_result *r, int err,
    const char *msg)
{
	a->err = err;
	snprintf(a->msg, sizeof(a->msg), "%s", msg);
	r->word = "refused";
}

static const char *
cc_word(int err)
{
	switch (cli_exit_for(err)) {
	case CLI_OK: return "ok";
	case CLI_EUNREACH: return "unreachable";
	default: return err == NUDGE_ESTALE ? "stale" : "refused";
	}
}

/*
 * A relay sends one change to all its agents: the expected version is the
 * first agent's behind it that declares the campaign (fleet.h).
 */
static const struct wire_campaign *
cc_find(const struct ccli_fleet *cf, unsigned i, const char *name)
{
	if (!cf->f.a[i].relay)
		return ccli_fleet_find(cf, i, name);
	for (unsigned k = 0; k < cf->f.n; k++) {
		const struct wire_campaign *w;
		if (cf->f.a[k].virt && cf->f.a[k].parent == i &&
		    (w = ccli_fleet_find(cf, k, name)) != NULL)
			return w;
	}
	return NULL;
}

static void
cc_one(struct ccli_fleet *cf, unsigned i, struct cc_job *job,
    const struct ccli_opts *o)
{
	struct fleet_agent *a = &cf->f.a[i];
	const struct wire_campaign *w = cc_find(cf, i, job->base.name);
	struct cc_result *r = &job->r[i];
	struct wire_camp_change ch = job->base;
	char msg[160];
	int rv;

	if (a->err != 0) {
		r->word = cc_word(a->err);
		return;
	}
	if (w == NULL) {
		snprintf(msg, sizeof(msg), "does not declare campaign %s",
		    ch.name);
		cc_refuse(a, r, NUDGE_ENOTFOUND, msg);
		return;
	}
	r->have = true;
	r->version = w->c.version;
	r->state = w->c.state;
	if (ch.op == CAMP_OP_STOP &&
	    (ch.winner = cc_winner(job->winner, &w->c)) < 0) {
		snprintf(msg, sizeof(msg), "no variant %s in campaign %s",
		    job->winner, ch.name);
		cc_refuse(a, r, NUDGE_EINVAL, msg);
		return;
	}
	ch.expect = o->have_expect ? o->expect : w->c.version;
	if (!o->have_expect && cc_already(&ch, &w->c)) {
		r->word = "already";
		return;
	}
	job->got = false;
	rv = fleet_call(&cf->f, i, "campaign_change", cc_pack, &ch, cc_got,
	    job, o->dump);
	r->word = cc_word(rv);
	if (rv == 0 && job->got) {
		r->version = job->now.c.version;
		r->state = job->now.c.state;
		if (r->version == ch.expect)
			r->word = "already";	/* an idempotent replay */
	} else if (rv != 0 && rv != NUDGE_ESTALE) {
		r->have = false;
	}
}

/* ---- output ------------------------------------------------------------- */

static void
cc_print(const struct ccli_fleet *cf, const struct cc_job *job, bool json)
{
	json_t *arr = json_array();
	bool ok = true;

	for (unsigned i = 0; i < cf->f.n; i++) {
		const struct fleet_agent *a = &cf->f.a[i];
		const struct cc_result *r = &job->r[i];

		if (a->relay)
			continue;	/* its agents have lines of their own */
		ok = ok && a->err == 0;
		if (json) {
			json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s}",
			    "name", a->name, "url", a->pub, "result", r->word,
			    "status", a->err ? nudge_errname(a->err) : "OK",
			    "error", a->err ? a->msg : "");
			json_object_set_new(e, "version", r->have ?
			    json_integer((json_int_t)r->version) :
			    json_null());
			json_object_set_new(e, "state", r->have ? json_string(
			    camp_state_name(r->state)) : json_null());
			json_array_append_new(arr, e);
		} else if (r->have) {
			printf("%-20s %-11s v%" PRIu64 " %-8s %s\n",
			    fleet_label(a), r->word, r->version,
			    camp_state_name(r->state), a->err ? a->msg : "");
		} else {
			printf("%-20s %-11s %s\n", fleet_label(a), r->word,
			    a->msg);
		}
	}
	if (!json) {
		json_decref(arr);
		return;
	}
	json_t *root = json_pack("{s:s, s:s, s:b, s:o}", "campaign",
	    job->base.name, "op", camp_op_name(job->base.op), "ok", ok,
	    "agents", arr);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

int
ccli_change(struct cli_ctx *ctx, int op, int argc, char **argv)
{
	bool two = strcmp(argv[0], "winner") == 0 || op == CAMP_OP_WEIGHTS ||
	    op == CAMP_OP_HOLDOUT;
	struct cc_job *job = calloc(1, sizeof(*job));
	struct ccli_fleet *cf = NULL;
	struct ccli_opts o;
	int rv;

	if (job == NULL)
		return CLI_EINTERNAL;
	if ((rv = ccli_parse(ctx, argc, argv, &o, two ? 2 : 1,
	    change_usage)) == CLI_OK &&
	    (rv = cc_args(op, argv[0], &o, job)) == CLI_OK &&
	    (rv = ccli_fleet_load(ctx, &cf)) == CLI_OK) {
		for (unsigned i = 0; i < cf->f.n; i++)
			cc_one(cf, i, job, &o);
		cc_print(cf, job, o.json);
		rv = ccli_fleet_exit(cf);
	}
	ccli_fleet_free(cf);
	free(job);
	return rv;
}
