/*
 * campstat.c - one campaign's fleet-wide results (campstat.h): merges the
 * agents' reports of it, runs common/stats.h over the sums, and writes the
 * verdict line.
 *
 * Owns nothing but the struct campstat its caller passes in; the
 * always-valid state of each comparison lives there between updates, so
 * the caller that keeps one struct per campaign (the campaigns view) gets
 * a sequential test that only ever tightens, and a caller that makes a
 * fresh one (`nudge campaign show`) gets a single look.
 *
 * Threads: none of its own; any thread, one struct campstat at a time.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "campstat.h"

/*
 * tau = 0.01: a one-point difference of conversion rates, baseline x MDE
 * for a 10% baseline and a 10% MDE (stats.h, stats_seq_update).  Fixed in
 * advance, never derived from the data: the mixture must not follow what
 * it tests.
 */
#define CAMPSTAT_TAU2 1e-4

void
campstat_policy_default(struct stats_policy *pol)
{
	memset(pol, 0, sizeof(*pol));
	pol->conf = 0.95;
	pol->alpha = 0.05;
	pol->tau2 = CAMPSTAT_TAU2;
	pol->mde_rel = 0.10;
	pol->power = 0.80;
	pol->baseline = 0.0;
	pol->min_seconds = 3600.0;
}

void
campstat_init(struct campstat *cs)
{
	memset(cs, 0, sizeof(*cs));
	cs->best = -1;
}

/* ---- merging ------------------------------------------------------------ */

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int64_t
sat_add_i64(int64_t a, int64_t b)
{
	if (b > 0 && a > INT64_MAX - b)
		return INT64_MAX;
	if (b < 0 && a < INT64_MIN - b)
		return INT64_MIN;
	return a + b;
}

/* Same variants, same order: their counters may be summed. */
static bool
same_variants(const struct camp *a, const struct camp *b)
{
	if (a->n_variants != b->n_variants)
		return false;
	for (unsigned i = 0; i < a->n_variants; i++)
		if (strcmp(a->variant[i], b->variant[i]) != 0)
			return false;
	return true;
}

/* The report with the highest version; ties: the first. */
static unsigned
merged_index(const struct wire_campaign *const *r, unsigned n)
{
	unsigned m = 0;

	for (unsigned i = 1; i < n; i++)
		if (r[i]->c.version > r[m]->c.version)
			m = i;
	return m;
}

static void
arm_add(struct campstat_arm *dst, const struct wire_camp_arm *a)
{
	struct stats_counts c = {
		.visitors = a->n,
		.conversions = a->x,
		.revenue = (double)a->rev_cents / 100.0,
	};

	stats_counts_add(&dst->counts, &c);
	dst->rev_cents = sat_add_i64(dst->rev_cents, a->rev_cents);
	for (unsigned j = 0; j < RULE_GUARDRAILS_MAX; j++)
		dst->g[j] = sat_add(dst->g[j], a->g[j]);
	for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
		dst->steps[k] = sat_add(dst->steps[k], a->steps[k]);
}

/* Sums the counters into cs->arm[], counts agreement and the breaker. */
static void
merge(struct campstat *cs, const struct wire_campaign *const *r,
    unsigned n, unsigned m)
{
	const struct camp *mc = &r[m]->c;
	uint64_t since = 0;

	cs->merged = *r[m];
	memset(cs->merged.arm, 0, sizeof(cs->merged.arm));
	cs->n_agents = n;
	cs->n_agree = cs->n_mismatch = 0;
	cs->tripped = false;
	cs->reason[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		const struct camp *c = &r[i]->c;

		if (c->tripped && !cs->tripped) {
			cs->tripped = true;
			snprintf(cs->reason, sizeof(cs->reason), "%s",
			    c->reason);
		}
		if (!same_variants(c, mc)) {
			cs->n_mismatch++;
			continue;
		}
		cs->n_agree += c->version == mc->version &&
		    c->state == mc->state;
		for (unsigned v = 0; v < mc->n_variants; v++)
			arm_add(&cs->arm[v], &r[i]->arm[v]);
		if (r[i]->since_ms != 0 && (since == 0 ||
		    r[i]->since_ms < since))
			since = r[i]->since_ms;
	}
	/* The earliest start among the summed agents: counting began then. */
	cs->merged.since_ms = since;
	for (unsigned v = 0; v < mc->n_variants; v++) {
		struct wire_camp_arm *a = &cs->merged.arm[v];

		a->n = cs->arm[v].counts.visitors;
		a->x = cs->arm[v].counts.conversions;
		a->rev_cents = cs->arm[v].rev_cents;
		memcpy(a->g, cs->arm[v].g, sizeof(a->g));
		memcpy(a->steps, cs->arm[v].steps, sizeof(a->steps));
	}
}

/* ---- statistics --------------------------------------------------------- */

static void
srm_check(struct campstat *cs)
{
	const struct camp *c = &cs->merged.c;
	uint64_t n[CAMP_VARIANTS_MAX];
	double w[CAMP_VARIANTS_MAX];
	struct stats_srm s;

	memset(&cs->srm, 0, sizeof(cs->srm));
	cs->srm.p = 1.0;
	cs->srm.flags = STATS_F_NODATA;
	if (c->state == CAMP_STOPPED || c->state == CAMP_DRAFT)
		return;
	for (unsigned v = 0; v < c->n_variants; v++) {
		n[v] = cs->arm[v].counts.visitors;
		w[v] = c->weight[v];
	}
	/* Fewer than two weighted arms: there is no ratio to check. */
	if (stats_srm(n, w, c->n_variants, &s) == 0)
		cs->srm = s;
}

static double
elapsed_seconds(const struct wire_campaign *w, uint64_t now_ms)
{
	if (w->since_ms == 0 || now_ms <= w->since_ms)
		return 0.0;
	return (double)(now_ms - w->since_ms) / 1000.0;
}

/*
 * One variant against control.  The always-valid state is carried from
 * the previous update; if the sums shrank (an agent left the fleet or was
 * reset) it starts afresh, as stats.h prescribes.
 */
static int
compare_arm(struct campstat *cs, unsigned v, const struct stats_policy *pol,
    double elapsed)
{
	struct campstat_arm *ctl = &cs->arm[0], *a = &cs->arm[v];
	struct stats_verdict vd;
	int rc;

	rc = stats_verdict(pol, &ctl->counts, &a->counts, &a->seq, &cs->srm,
	    elapsed, &vd);
	if (rc == NUDGE_ESTALE) {
		stats_seq_init(&a->seq);
		rc = stats_verdict(pol, &ctl->counts, &a->counts, &a->seq,
		    &cs->srm, elapsed, &vd);
	}
	if (rc != 0)
		return rc;
	a->cmp = vd.cmp;
	a->beat = vd.beat;
	a->seq = vd.seq;
	a->verdict = vd;
	return 0;
}

static int
compute(struct campstat *cs, const struct stats_policy *pol, uint64_t now_ms)
{
	const struct camp *c = &cs->merged.c;
	double elapsed = elapsed_seconds(&cs->merged, now_ms);
	int rc;

	srm_check(cs);
	for (unsigned v = 0; v < c->n_variants; v++) {
		struct campstat_arm *a = &cs->arm[v];

		if ((rc = stats_rate(a->counts.conversions, a->counts.visitors,
		    pol->conf, &a->rate)) != 0)
			return rc;
		if (v > 0 && (rc = compare_arm(cs, v, pol, elapsed)) != 0)
			return rc;
	}
	cs->best = -1;
	cs->call = STATS_CALL_NOT_ENOUGH;
	if (c->state == CAMP_DRAFT)
		return 0;
	for (unsigned v = 1; v < c->n_variants; v++)
		if (cs->best < 0 || cs->arm[v].beat > cs->arm[cs->best].beat)
			cs->best = (int)v;
	if (cs->best > 0)
		cs->call = cs->arm[cs->best].verdict.call;
	return 0;
}

/* ---- the verdict line --------------------------------------------------- */

struct line {
	char *p;
	size_t cap, n;
};

static void put(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (l->n >= l->cap)
		return;
	va_start(ap, fmt);
	k = vsnprintf(l->p + l->n, l->cap - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n = l->n + (size_t)k < l->cap ? l->n + (size_t)k : l->cap;
}

/* 12480 -> "12,480" */
static const char *
thousands(uint64_t v, char buf[32])
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, v), o = 0;

	for (int i = 0; i < n; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* A relative change as "+18%", "-4%", "+0.4%". */
static void
put_pct(struct line *l, double x)
{
	double pc = 100.0 * x;

	put(l, fabs(pc) < 1.0 && pc != 0.0 ? "%+.1f%%" : "%+.0f%%", pc);
}

static void
put_p(struct line *l, double p)
{
	if (p < 0.001)
		put(l, "p<0.001");
	else
		put(l, "p=%.3f", p);
}

static uint64_t
total_visitors(const struct campstat *cs)
{
	uint64_t t = 0;

	for (unsigned v = 0; v < cs->merged.c.n_variants; v++)
		t = sat_add(t, cs->arm[v].counts.visitors);
	return t;
}

/*
 * "not enough data yet: ..." saying what is missing: visitors (of the
 * planned total: every arm of the campaign, scaled up when the split is
 * unequal, since the smaller of control and the named variant must reach
 * its planned half), conversions, or time.
 */
static void
put_not_enough(struct line *l, const struct campstat *cs)
{
	const struct stats_verdict *vd = &cs->arm[cs->best].verdict;
	uint64_t na = cs->arm[0].counts.visitors;
	uint64_t nb = cs->arm[cs->best].counts.visitors;
	uint64_t small = na < nb ? na : nb, half = vd->need / 2;
	uint64_t have = total_visitors(cs);
	char a[32], b[32];

	put(l, "not enough data yet: ");
	if (vd->need > 0 && small < half) {
		double need = (double)half * cs->merged.c.n_variants;

		if (small > 0 && (double)have * (double)half / (double)small >
		    need)
			need = (double)have * (double)half / (double)small;
		put(l, "%s of ~%s visitors", thousands(have, a),
		    thousands((uint64_t)ceil(need), b));
	} else if (vd->need == 0)
		put(l, "%s visitors, no conversions in control yet",
		    thousands(have, a));
	else if (vd->wait_seconds > 0.0)
		put(l, "%s visitors, %.0f more minutes to run",
		    thousands(have, a), ceil(vd->wait_seconds / 60.0));
	else
		put(l, "%s visitors, too few conversions", thousands(have, a));
}

static void
put_result(struct line *l, const struct campstat *cs)
{
	const struct campstat_arm *a = &cs->arm[cs->best];
	const char *name = cs->merged.c.variant[cs->best];
	char buf[32];

	switch (cs->call) {
	case STATS_CALL_BETTER:
	case STATS_CALL_WORSE:
		put(l, "%s ", name);
		put_pct(l, a->cmp.uplift);
		put(l, " [");
		put_pct(l, a->cmp.uplift_lo);
		put(l, ", ");
		put_pct(l, a->cmp.uplift_hi);
		put(l, "], always-valid ");
		put_p(l, a->seq.p);
		if (cs->call == STATS_CALL_BETTER && a->beat < 1.0 &&
		    a->beat > 0.999)
			put(l, ", >99.9%% chance to beat control");
		else if (cs->call == STATS_CALL_BETTER)
			put(l, ", %.1f%% chance to beat control",
			    100.0 * a->beat);
		else
			put(l, ": worse than control");
		break;
	case STATS_CALL_NO_DIFF:
		put(l, "no difference yet: always-valid p=%.2f after %s "
		    "visitors", a->seq.p, thousands(total_visitors(cs), buf));
		break;
	default:
		put_not_enough(l, cs);
		break;
	}
}

static void
write_line(struct campstat *cs)
{
	const struct camp *c = &cs->merged.c;
	struct line l = {cs->line, sizeof(cs->line), 0};

	cs->line[0] = '\0';
	if (cs->tripped)
		put(&l, "BREAKER TRIPPED: %s; ", cs->reason);
	if (cs->srm.warn) {
		put(&l, "SAMPLE RATIO MISMATCH (p=%.2g): do not trust these "
		    "figures; ", cs->srm.p);
	}
	if (c->state == CAMP_DRAFT)
		put(&l, "draft: not started");
	else if (c->state == CAMP_STOPPED)
		put(&l, "stopped: winner %s rolled out to everyone",
		    c->winner >= 0 && c->winner < c->n_variants ?
		    c->variant[c->winner] : "?");
	else if (cs->best > 0)
		put_result(&l, cs);
}

int
campstat_update(struct campstat *cs,
    const struct wire_campaign *const *per_agent, unsigned n,
    const struct stats_policy *pol, uint64_t now_ms)
{
	struct campstat next;
	unsigned m;
	int rc;

	if (cs == NULL || per_agent == NULL || n == 0 || pol == NULL)
		return NUDGE_EINVAL;
	for (unsigned i = 0; i < n; i++)
		if (per_agent[i] == NULL || strcmp(per_agent[i]->c.name,
		    per_agent[0]->c.name) != 0 ||
		    per_agent[i]->c.n_variants < 2 ||
		    per_agent[i]->c.n_variants > CAMP_VARIANTS_MAX)
			return NUDGE_EINVAL;
	m = merged_index(per_agent, n);
	/* Work on a copy: cs changes only on success. */
	next = *cs;
	/* Another campaign or other variants: the sequential tests restart. */
	if (strcmp(next.merged.c.name, per_agent[m]->c.name) != 0 ||
	    !same_variants(&next.merged.c, &per_agent[m]->c))
		for (unsigned v = 0; v < CAMP_VARIANTS_MAX; v++)
			stats_seq_init(&next.arm[v].seq);
	for (unsigned v = 0; v < CAMP_VARIANTS_MAX; v++) {
		struct stats_seq keep = next.arm[v].seq;

		memset(&next.arm[v], 0, sizeof(next.arm[v]));
		next.arm[v].seq = keep;
	}
	merge(&next, per_agent, n, m);
	if ((rc = compute(&next, pol, now_ms)) != 0)
		return rc;
	write_line(&next);
	*cs = next;
	return 0;
}
