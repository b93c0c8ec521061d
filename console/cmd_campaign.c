/*
 * cmd_campaign.c - `nudge campaign list|show`, the dispatcher of every
 * `nudge campaign` subcommand, and what they share: the flags, asking
 * every agent for its campaigns (campaign_list), and the exit code over
 * the fleet.  The changes are in cmd_campaign_change.c.
 *
 * list prints one line per campaign the agents declare; show NAME the
 * per-variant results summed over the agents (console/campstat.h), the
 * sample-ratio and breaker lines, the verdict and each agent's state.
 * Both take --json (the keys are documented in nudge(1) and kept stable:
 * scripts and the A/B integration tests read them) and --min-duration
 * SECONDS (the policy's minimum duration before a verdict; default 3600)
 * and --mde PERCENT (the relative change the planned sample is for;
 * default 10).
 *
 * Exit codes: 0, 2 usage, 3 an agent unreachable, 4 refused (credential
 * or role), 5 no agent declares the campaign / an answer was rejected.
 * Main thread; owns its buffers for the command.
 */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "campaign_cli.h"
#include "clock.h"

static const char campaign_usage[] =
    "usage: nudge campaign list [--json] [--min-duration S] [--mde PCT]\n"
    "       nudge campaign show NAME [--json] [--min-duration S] "
    "[--mde PCT]\n"
    "       nudge campaign start|pause|resume|reshuffle|reset NAME "
    "[--json]\n"
    "       nudge campaign stop NAME [--winner VARIANT] [--json]\n"
    "       nudge campaign winner NAME VARIANT [--json]\n"
    "       nudge campaign weights NAME W1,W2,... [--json]\n"
    "       nudge campaign holdout NAME PERCENT [--json]\n"
    "  (every one also: --agent PUB[,CTL]... --expect VERSION)\n";

/* ---- flags -------------------------------------------------------------- */

static const struct option ccli_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"min-duration", required_argument, NULL, 'm'},
    {"mde", required_argument, NULL, 'M'},
    {"winner", required_argument, NULL, 'w'},
    {"expect", required_argument, NULL, 'e'},
    {"agent", required_argument, NULL, 'a'},
    {"dump-request", required_argument, NULL, 'D'},
    {NULL, 0, NULL, 0},
};

static int
ccli_number(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int
ccli_flag(struct cli_ctx *ctx, int ch, struct ccli_opts *o,
    const char *usage)
{
	double v;

	switch (ch) {
	case 'j': o->json = true; return CLI_OK;
	case 'w': o->winner = optarg; return CLI_OK;
	case 'D': o->dump = optarg; return CLI_OK;
	case 'a':
		return cli_add_agent(ctx, optarg) != 0 ? CLI_EUSAGE : CLI_OK;
	case 'm':
		if (ccli_number(optarg, 0.0, 1e9, &o->min_duration) == 0)
			return CLI_OK;
		fprintf(stderr, "nudge: --min-duration wants seconds\n%s",
		    usage);
		return CLI_EUSAGE;
	case 'M':
		if (ccli_number(optarg, 0.1, 1000.0, &v) == 0) {
			o->mde = v / 100.0;
			return CLI_OK;
		}
		fprintf(stderr, "nudge: --mde wants a percent (0.1 to 1000)\n"
		    "%s", usage);
		return CLI_EUSAGE;
	case 'e':
		if (ccli_number(optarg, 1.0, 9007199254740992.0, &v) == 0 &&
		    v == floor(v)) {
			o->have_expect = true;
			o->expect = (uint64_t)v;
			return CLI_OK;
		}
		fprintf(stderr, "nudge: --expect wants a version\n%s", usage);
		return CLI_EUSAGE;
	default:
		fputs(usage, stderr);
		return CLI_EUSAGE;
	}
}

int
ccli_parse(struct cli_ctx *ctx, int argc, char **argv, struct ccli_opts *o,
    int wants, const char *usage)
{
	int ch, rv;

	memset(o, 0, sizeof(*o));
	o->min_duration = -1.0;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", ccli_longopts, NULL)) != -1)
		if ((rv = ccli_flag(ctx, ch, o, usage)) != CLI_OK)
			return rv;
	if (argc - optind != wants) {
		fprintf(stderr, "nudge: campaign %s: %s\n%s", argv[0],
		    argc - optind < wants ? "missing argument" :
		    "unexpected argument", usage);
		return CLI_EUSAGE;
	}
	for (int i = 0; i < wants; i++)
		o->pos[i] = argv[optind + i];
	o->n_pos = wants;
	return CLI_OK;
}

/* ---- every agent's campaigns -------------------------------------------- */

static void
ccli_got_list(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct ccli_fleet *cf = arg;
	const msgpack_object *b = rp->body;
	uint32_t n;

	if (rp->status != 0)
		return;
	if (b == NULL || b->type != MSGPACK_OBJECT_ARRAY ||
	    b->via.array.size > RULE_CAMPAIGNS_MAX)
		return;
	n = b->via.array.size;
	if (n > 0 && (cf->list[idx] = calloc(n, sizeof(**cf->list))) == NULL)
		return;
	for (uint32_t i = 0; i < n; i++)
		if (wire_unpack_campaign(&b->via.array.ptr[i],
		    &cf->list[idx][i]) != 0) {
			free(cf->list[idx]);
			cf->list[idx] = NULL;
			return;
		}
	cf->n_list[idx] = n;
	cf->listed[idx] = true;
}

int
ccli_fleet_load(struct cli_ctx *ctx, struct ccli_fleet **out)
{
	struct ccli_fleet *cf = calloc(1, sizeof(*cf));
	int rv;

	*out = cf;
	if (cf == NULL)
		return CLI_EINTERNAL;
	if ((rv = fleet_resolve(ctx, &cf->f, FLEET_WAIT_MS)) != CLI_OK)
		return rv;
	for (unsigned i = 0; i < cf->f.n; i++) {
		struct fleet_agent *a = &cf->f.a[i];

		if (fleet_call(&cf->f, i, "campaign_list", NULL, NULL,
		    ccli_got_list, cf, NULL) == 0 && !cf->listed[i]) {
			a->err = NUDGE_EINVAL;
			snprintf(a->msg, sizeof(a->msg), "its campaign_list "
			    "answer does not decode");
		}
	}
	return CLI_OK;
}

void
ccli_fleet_free(struct ccli_fleet *cf)
{
	if (cf == NULL)
		return;
	for (unsigned i = 0; i < CONF_AGENTS_MAX; i++)
		free(cf->list[i]);
	free(cf);
}

const struct wire_campaign *
ccli_fleet_find(const struct ccli_fleet *cf, unsigned i, const char *name)
{
	if (cf->f.a[i].relay)
		return NULL;	/* its agents are counted, not it (fleet.h) */
	for (unsigned k = 0; k < cf->n_list[i]; k++)
		if (strcmp(cf->list[i][k].c.name, name) == 0)
			return &cf->list[i][k];
	return NULL;
}

unsigned
ccli_fleet_agents(const struct ccli_fleet *cf)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cf->f.n; i++)
		n += !cf->f.a[i].relay;
	return n;
}

int
ccli_fleet_exit(const struct ccli_fleet *cf)
{
	bool unreach = false, refused = false, rejected = false;

	for (unsigned i = 0; i < cf->f.n; i++) {
		int e = cli_exit_for(cf->f.a[i].err);

		unreach = unreach || e == CLI_EUNREACH;
		refused = refused || e == CLI_EREFUSED;
		rejected = rejected || e == CLI_EREJECTED ||
		    e == CLI_EINTERNAL;
	}
	return unreach ? CLI_EUNREACH : refused ? CLI_EREFUSED :
	    rejected ? CLI_EREJECTED : CLI_OK;
}

const char *
ccli_call_token(enum stats_call call)
{
	switch (call) {
	case STATS_CALL_BETTER: return "better";
	case STATS_CALL_WORSE: return "worse";
	case STATS_CALL_NO_DIFF: return "no_diff";
	default: return "not_enough";
	}
}

/* ---- one campaign's results --------------------------------------------- */

/* The default policy with the flags' changes. */
static void
ccli_policy(const struct ccli_opts *o, struct stats_policy *pol)
{
	campstat_policy_default(pol);
	if (o->min_duration >= 0.0)
		pol->min_seconds = o->min_duration;
	if (o->mde > 0.0)
		pol->mde_rel = o->mde;
}

/* Runs campstat over every agent's report of name; false: none has it. */
static bool
ccli_stat(const struct ccli_fleet *cf, const char *name,
    const struct ccli_opts *o, struct campstat *cs)
{
	const struct wire_campaign *r[CONF_AGENTS_MAX];
	struct stats_policy pol;
	unsigned n = 0;

	for (unsigned i = 0; i < cf->f.n; i++)
		if ((r[n] = ccli_fleet_find(cf, i, name)) != NULL)
			n++;
	ccli_policy(o, &pol);
	campstat_init(cs);
	return n > 0 && campstat_update(cs, r, n, &pol, clock_wall_ms()) == 0;
}


/* A number, or null where the statistic is undefined. */
static json_t *
jnum(double v, bool defined)
{
	return defined ? json_real(v) : json_null();
}

static json_t *
ccli_arm_json(const struct campstat *cs, unsigned v)
{
	const struct campstat_arm *a = &cs->arm[v];
	const struct camp *c = &cs->merged.c;
	bool var = v > 0, up = var && !(a->cmp.flags & (STATS_F_NODATA |
	    STATS_F_NO_UPLIFT));
	bool upci = up && !(a->cmp.flags & STATS_F_NO_UPLIFT_CI);
	json_t *g = json_object();
	json_t *o;

	for (unsigned j = 0; j < cs->merged.n_guard; j++)
		json_object_set_new(g, cs->merged.guard[j],
		    json_integer((json_int_t)a->g[j]));
	o = json_pack("{s:s, s:i, s:I, s:I, s:I, s:o, s:o, s:o}", "name",
	    c->variant[v], "weight", c->weight[v], "visitors",
	    (json_int_t)a->counts.visitors, "conversions",
	    (json_int_t)a->counts.conversions, "revenue_cents",
	    (json_int_t)a->rev_cents, "rate", jnum(a->rate.p,
	    a->counts.visitors > 0), "rate_lo", json_real(a->rate.lo),
	    "rate_hi", json_real(a->rate.hi));
	json_object_set_new(o, "guardrails", g);
	json_object_set_new(o, "uplift", jnum(a->cmp.uplift, up));
	json_object_set_new(o, "uplift_lo", jnum(a->cmp.uplift_lo, upci));
	json_object_set_new(o, "uplift_hi", jnum(a->cmp.uplift_hi, upci));
	json_object_set_new(o, "diff", jnum(a->cmp.diff, var));
	json_object_set_new(o, "diff_lo", jnum(a->cmp.diff_lo, var));
	json_object_set_new(o, "diff_hi", jnum(a->cmp.diff_hi, var));
	json_object_set_new(o, "p_value", jnum(a->cmp.p_value, var));
	json_object_set_new(o, "avp", jnum(a->seq.p, var));
	json_object_set_new(o, "cs_lo", jnum(a->seq.lo, var));
	json_object_set_new(o, "cs_hi", jnum(a->seq.hi, var));
	json_object_set_new(o, "beat", jnum(a->beat, var));
	json_object_set_new(o, "call", var ?
	    json_string(ccli_call_token(a->verdict.call)) : json_null());
	json_object_set_new(o, "have", json_integer(var ?
	    (json_int_t)a->verdict.have : 0));
	json_object_set_new(o, "need", json_integer(var ?
	    (json_int_t)a->verdict.need : 0));
	json_object_set_new(o, "wait_s", json_real(var ?
	    a->verdict.wait_seconds : 0.0));
	json_object_set_new(o, "flags", json_integer(var ?
	    (json_int_t)a->verdict.flags : (json_int_t)a->rate.flags));
	return o;
}

/*
 * Each agent's state of the campaign (null when it does not declare it);
 * name NULL: each agent and how many campaigns it listed.
 */
static json_t *
ccli_agents_json(const struct ccli_fleet *cf, const char *name)
{
	json_t *arr = json_array();

	for (unsigned i = 0; i < cf->f.n; i++) {
		const struct fleet_agent *a = &cf->f.a[i];
		const struct wire_campaign *w = name != NULL ?
		    ccli_fleet_find(cf, i, name) : NULL;
		json_t *o;

		if (a->relay)
			continue;	/* its agents have entries */
		o = json_pack("{s:s, s:s, s:b}", "name", a->name,
		    "url", a->pub, "ok", a->err == 0);
		if (name == NULL) {	/* list: the agent only */
			json_object_set_new(o, "campaigns",
			    json_integer(cf->n_list[i]));
			json_object_set_new(o, "error", json_string(a->msg));
			json_array_append_new(arr, o);
			continue;
		}
		json_object_set_new(o, "state", w ? json_string(
		    camp_state_name(w->c.state)) : json_null());
		json_object_set_new(o, "version", w ? json_integer(
		    (json_int_t)w->c.version) : json_null());
		json_object_set_new(o, "tripped", json_boolean(w &&
		    w->c.tripped));
		json_object_set_new(o, "reason", json_string(w ?
		    w->c.reason : ""));
		json_object_set_new(o, "error", json_string(a->err ? a->msg :
		    w == NULL ? "does not declare this campaign" : ""));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* The whole of `show --json` for one campaign. */
static json_t *
ccli_campaign_json(const struct ccli_fleet *cf, const struct campstat *cs,
    const struct ccli_opts *o)
{
	const struct wire_campaign *m = &cs->merged;
	const struct camp *c = &m->c;
	json_t *root, *arms = json_array(), *gr = json_array();
	struct stats_policy pol;

	for (unsigned v = 0; v < c->n_variants; v++)
		json_array_append_new(arms, ccli_arm_json(cs, v));
	for (unsigned j = 0; j < m->n_guard; j++)
		json_array_append_new(gr, json_pack("{s:s, s:i}", "name",
		    m->guard[j], "max_drop_bp", m->guard_drop_bp[j]));
	root = json_pack("{s:s, s:s, s:I, s:I, s:i, s:s, s:I}", "name",
	    c->name, "state", camp_state_name(c->state), "version",
	    (json_int_t)c->version, "generation", (json_int_t)c->generation,
	    "holdout_bp", c->holdout_bp, "goal", m->goal, "since_ms",
	    (json_int_t)m->since_ms);
	json_object_set_new(root, "winner", c->state == CAMP_STOPPED &&
	    c->winner >= 0 ? json_string(c->variant[c->winner]) :
	    json_null());
	json_object_set_new(root, "verdict", json_string(cs->line));
	json_object_set_new(root, "call", json_string(ccli_call_token(
	    cs->call)));
	json_object_set_new(root, "best", cs->best > 0 ?
	    json_string(c->variant[cs->best]) : json_null());
	json_object_set_new(root, "srm_p", json_real(cs->srm.p));
	json_object_set_new(root, "srm_chi2", json_real(cs->srm.chi2));
	json_object_set_new(root, "srm_warn", json_boolean(cs->srm.warn));
	json_object_set_new(root, "tripped", json_boolean(cs->tripped));
	json_object_set_new(root, "reason", json_string(cs->reason));
	json_object_set_new(root, "n_agents", json_integer(cs->n_agents));
	json_object_set_new(root, "n_agree", json_integer(cs->n_agree));
	json_object_set_new(root, "n_mismatch", json_integer(cs->n_mismatch));
	ccli_policy(o, &pol);
	json_object_set_new(root, "min_duration_s",
	    json_real(pol.min_seconds));
	json_object_set_new(root, "mde", json_real(pol.mde_rel));
	json_object_set_new(root, "guardrails", gr);
	json_object_set_new(root, "variants", arms);
	json_object_set_new(root, "agents", ccli_agents_json(cf, c->name));
	return root;
}

static void
ccli_json_print(json_t *root)
{
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

/* ---- human output ------------------------------------------------------- */

/* 1234567 -> "1,234,567" (negative too). */
static const char *
ccli_count(int64_t v, char buf[32])
{
	char tmp[32];
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, u), o = 0;

	if (v < 0)
		buf[o++] = '-';
	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

static const char *
ccli_money(int64_t cents, char buf[40])
{
	char whole[32];
	int64_t w = cents / 100, r = cents % 100;

	snprintf(buf, 40, "%s%s.%02d", cents < 0 && w == 0 ? "-" : "",
	    ccli_count(w, whole), (int)(r < 0 ? -r : r));
	return buf;
}

static void
ccli_print_rates(const struct campstat *cs)
{
	const struct camp *c = &cs->merged.c;
	char n[32], x[32], rev[40];

	printf("%-16s %6s %10s %10s  %-24s %12s\n", "VARIANT", "WEIGHT",
	    "VISITORS", "CONV", "RATE [95% CI]", "REVENUE");
	for (unsigned v = 0; v < c->n_variants; v++) {
		const struct campstat_arm *a = &cs->arm[v];
		char rate[40] = "-";

		if (a->counts.visitors > 0)
			snprintf(rate, sizeof(rate), "%.2f%% [%.2f, %.2f]",
			    100 * a->rate.p, 100 * a->rate.lo,
			    100 * a->rate.hi);
		printf("%-16.16s %5u%% %10s %10s  %-24s %12s\n",
		    c->variant[v], (unsigned)c->weight[v],
		    ccli_count((int64_t)a->counts.visitors, n),
		    ccli_count((int64_t)a->counts.conversions, x), rate,
		    ccli_money(a->rev_cents, rev));
	}
}

static void
ccli_print_tests(const struct campstat *cs)
{
	const struct camp *c = &cs->merged.c;

	printf("%-16s %-24s %8s %8s %7s  %s\n", "VS CONTROL",
	    "UPLIFT [95% CI]", "P", "AV-P", "BEAT", "CALL");
	for (unsigned v = 1; v < c->n_variants; v++) {
		const struct campstat_arm *a = &cs->arm[v];
		char up[48] = "-";

		if (!(a->cmp.flags & (STATS_F_NODATA | STATS_F_NO_UPLIFT)))
			snprintf(up, sizeof(up), a->cmp.flags &
			    STATS_F_NO_UPLIFT_CI ? "%+.1f%%" :
			    "%+.1f%% [%+.1f, %+.1f]", 100 * a->cmp.uplift,
			    100 * a->cmp.uplift_lo, 100 * a->cmp.uplift_hi);
		printf("%-16.16s %-24s %8.4f %8.4f %6.1f%%  %s\n",
		    c->variant[v], up, a->cmp.p_value, a->seq.p,
		    100 * a->beat, stats_call_name(a->verdict.call));
	}
}

static void
ccli_print_agents(const struct ccli_fleet *cf, const char *name)
{
	printf("%-20s %-8s %8s  %s\n", "AGENT", "STATE", "VERSION", "NOTE");
	for (unsigned i = 0; i < cf->f.n; i++) {
		const struct fleet_agent *a = &cf->f.a[i];
		const struct wire_campaign *w = ccli_fleet_find(cf, i, name);

		if (a->relay)
			continue;
		if (a->err != 0)
			printf("%-20s %-8s %8s  unreachable or refused: %s\n",
			    fleet_label(a), "-", "-", a->msg);
		else if (w == NULL)
			printf("%-20s %-8s %8s  does not declare it\n",
			    fleet_label(a), "-", "-");
		else
			printf("%-20s %-8s %8" PRIu64 "  %s\n",
			    fleet_label(a), camp_state_name(w->c.state),
			    w->c.version, w->c.tripped ? "BREAKER TRIPPED" :
			    "");
	}
}

static void
ccli_show_human(const struct ccli_fleet *cf, const struct campstat *cs)
{
	const struct wire_campaign *m = &cs->merged;
	uint64_t now = clock_wall_ms();

	printf("campaign %s: %s, version %" PRIu64 " on %u of %u agents, "
	    "goal %s", m->c.name, camp_state_name(m->c.state), m->c.version,
	    cs->n_agree, ccli_fleet_agents(cf), m->goal[0] ? m->goal : "?");
	if (m->since_ms != 0 && now > m->since_ms)
		printf(", running for %.0f min", (double)(now - m->since_ms) /
		    60000.0);
	if (m->c.holdout_bp)
		printf(", holdout %.2f%%", m->c.holdout_bp / 100.0);
	printf("\n\n");
	ccli_print_rates(cs);
	putchar('\n');
	ccli_print_tests(cs);
	putchar('\n');
	if (m->c.state == CAMP_STOPPED || m->c.state == CAMP_DRAFT)
		printf("SRM: not checked (%s)\n", camp_state_name(m->c.state));
	else if (cs->srm.warn)
		printf("SRM: SAMPLE RATIO MISMATCH, p=%.2g: the split is not "
		    "the weights; do not trust these figures\n", cs->srm.p);
	else
		printf("SRM: ok (p=%.3f)\n", cs->srm.p);
	if (cs->tripped)
		printf("BREAKER TRIPPED: %s; everybody sees control\n",
		    cs->reason);
	else
		printf("breaker: ok\n");
	if (cs->n_mismatch > 0)
		printf("warning: %u agent(s) declare other variants: left "
		    "out of the sums\n", cs->n_mismatch);
	printf("verdict: %s\n\n", cs->line);
	ccli_print_agents(cf, m->c.name);
}

/* ---- list and show ------------------------------------------------------ */

static int
ccli_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct ccli_opts o;
	struct ccli_fleet *cf = NULL;
	struct campstat *cs = malloc(sizeof(*cs));
	int rv;

	if (cs == NULL)
		return CLI_EINTERNAL;
	if ((rv = ccli_parse(ctx, argc, argv, &o, 1, campaign_usage)) ==
	    CLI_OK && (rv = ccli_fleet_load(ctx, &cf)) == CLI_OK) {
		if (!ccli_stat(cf, o.pos[0], &o, cs)) {
			fprintf(stderr, "nudge: no agent declares a campaign "
			    "%s\n", o.pos[0]);
			rv = ccli_fleet_exit(cf);
			if (rv == CLI_OK)
				rv = CLI_EREJECTED;
		} else {
			if (o.json)
				ccli_json_print(ccli_campaign_json(cf, cs,
				    &o));
			else
				ccli_show_human(cf, cs);
			rv = ccli_fleet_exit(cf);
		}
	}
	ccli_fleet_free(cf);
	free(cs);
	return rv;
}

/* Names in the order agents list them, each once. */
static unsigned
ccli_names(const struct ccli_fleet *cf, const char **names, unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cf->f.n; i++)
		for (unsigned k = 0; k < cf->n_list[i]; k++) {
			const char *nm = cf->list[i][k].c.name;
			unsigned j = 0;

			while (j < n && strcmp(names[j], nm) != 0)
				j++;
			if (j == n && n < cap)
				names[n++] = nm;
		}
	return n;
}

static void
ccli_list_line(const struct campstat *cs, unsigned n_agents)
{
	const struct camp *c = &cs->merged.c;
	uint64_t total = 0;
	char agents[16], vis[32];

	for (unsigned v = 0; v < c->n_variants; v++)
		total += cs->arm[v].counts.visitors;
	snprintf(agents, sizeof(agents), "%u/%u", cs->n_agree, n_agents);
	printf("%-20.20s %-8s %7" PRIu64 " %7s %10s  %s\n", c->name,
	    camp_state_name(c->state), c->version, agents,
	    ccli_count((int64_t)total, vis), cs->line);
}

static int
ccli_list(struct cli_ctx *ctx, int argc, char **argv)
{
	static const char *names[RULE_CAMPAIGNS_MAX * 4];
	struct ccli_opts o;
	struct ccli_fleet *cf = NULL;
	struct campstat *cs = malloc(sizeof(*cs));
	json_t *arr = json_array();
	unsigned n;
	int rv;

	if (cs == NULL || arr == NULL) {
		free(cs);
		json_decref(arr);
		return CLI_EINTERNAL;
	}
	if ((rv = ccli_parse(ctx, argc, argv, &o, 0, campaign_usage)) ==
	    CLI_OK && (rv = ccli_fleet_load(ctx, &cf)) == CLI_OK) {
		n = ccli_names(cf, names, sizeof(names) / sizeof(names[0]));
		if (!o.json)
			printf("%-20s %-8s %7s %7s %10s  %s\n", "CAMPAIGN",
			    "STATE", "VERSION", "AGREE", "VISITORS",
			    "VERDICT");
		for (unsigned k = 0; k < n; k++) {
			if (!ccli_stat(cf, names[k], &o, cs))
				continue;
			if (o.json)
				json_array_append_new(arr,
				    ccli_campaign_json(cf, cs, &o));
			else
				ccli_list_line(cs, ccli_fleet_agents(cf));
		}
		for (unsigned i = 0; !o.json && i < cf->f.n; i++)
			if (cf->f.a[i].err != 0)
				printf("%-20s unreachable or refused: %s\n",
				    fleet_label(&cf->f.a[i]), cf->f.a[i].msg);
		if (o.json) {
			ccli_json_print(json_pack("{s:O, s:o}", "campaigns",
			    arr, "agents", ccli_agents_json(cf, NULL)));
		}
		rv = ccli_fleet_exit(cf);
	}
	json_decref(arr);
	ccli_fleet_free(cf);
	free(cs);
	return rv;
}

/* ---- the dispatcher ----------------------------------------------------- */

static const struct {
	const char *name;
	int op;			/* enum camp_op; CAMP_OP_NONE: list, show */
	int (*fn)(struct cli_ctx *ctx, int argc, char **argv);
} ccli_subs[] = {
	{"list", CAMP_OP_NONE, ccli_list},
	{"show", CAMP_OP_NONE, ccli_show},
	{"start", CAMP_OP_START, NULL},
	{"pause", CAMP_OP_PAUSE, NULL},
	{"resume", CAMP_OP_RESUME, NULL},
	{"stop", CAMP_OP_STOP, NULL},
	{"winner", CAMP_OP_STOP, NULL},
	{"weights", CAMP_OP_WEIGHTS, NULL},
	{"holdout", CAMP_OP_HOLDOUT, NULL},
	{"reshuffle", CAMP_OP_RESHUFFLE, NULL},
	{"reset", CAMP_OP_RESET, NULL},
};

/* The command table's entry point: argv[0] is "campaign". */
int
cli_campaign(struct cli_ctx *ctx, int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0)) {
		fputs(campaign_usage, stdout);
		return CLI_OK;
	}
	for (size_t i = 0; argc >= 2 &&
	    i < sizeof(ccli_subs) / sizeof(ccli_subs[0]); i++) {
		if (strcmp(argv[1], ccli_subs[i].name) != 0)
			continue;
		if (ccli_subs[i].fn != NULL)
			return ccli_subs[i].fn(ctx, argc - 1, argv + 1);
		return ccli_change(ctx, ccli_subs[i].op, argc - 1, argv + 1);
	}
	fputs("nudge: campaign: expected a subcommand (list, show, start, "
	    "pause, resume,\nstop, winner, weights, holdout, reshuffle, "
	    "reset)\n", stderr);
	fputs(campaign_usage, stderr);
	return CLI_EUSAGE;
}
