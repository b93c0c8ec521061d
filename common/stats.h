/*
 * stats.h - statistics of A/B/n campaign results, from additive counters.
 *
 * Every input is a set of counters that agents keep and the console sums
 * (struct stats_counts); every function here is pure: no state, no
 * allocation, any thread.  Results travel through out-parameters written
 * only on success (return 0); bad arguments give NUDGE_EINVAL (common/err.h).
 * No result is ever NaN or infinite: where a statistic is undefined (no
 * visitors, no conversions in the control, ...) a STATS_F_* flag says so and
 * the value is a documented placeholder that must not be shown as a number.
 *
 * Notation: for one arm, n = visitors, x = conversions (0 <= x <= n),
 * p = x / n.  "ctl" is the control arm (A), "var" the variant (B);
 * diff = pB - pA, uplift = pB / pA - 1.  z(q) is the standard normal
 * quantile, Phi the standard normal CDF.
 *
 * What is here, with the method and why:
 *   stats_rate        Wilson score interval for one rate.
 *   stats_compare     difference (Newcombe hybrid score interval), relative
 *                     uplift (delta method on log ratio), pooled two-
 *                     proportion z-test.  Fixed-horizon: valid only if
 *                     looked at once, at a sample size fixed in advance.
 *   stats_revenue_compare  revenue per visitor, Welch difference.
 *   stats_beat_prob   Bayesian P(pB > pA), exact closed-form sum.
 *   stats_best_prob   P(arm k has the highest rate), A/B/n, deterministic
 *                     quadrature (no Monte Carlo).
 *   stats_srm         sample-ratio mismatch, chi-square goodness of fit.
 *   stats_seq_update  always-valid p-value (mixture SPRT) and confidence
 *                     sequence for diff: safe under continuous monitoring.
 *   stats_sample_size planned visitors per arm for a baseline and an MDE.
 *   stats_verdict     all of the above folded into what the console prints.
 * Building blocks, exported for tests and for other modules:
 *   stats_norm_cdf, stats_norm_quantile, stats_gamma_q, stats_beta_inc.
 */
#ifndef NUDGE_STATS_H
#define NUDGE_STATS_H

#include <stddef.h>
#include <stdint.h>

/* At most this many arms (control included) in one campaign. */
#define STATS_MAX_ARMS 16

/*
 * Flags on results.  A result with any of NODATA, NO_UPLIFT, NO_UPLIFT_CI
 * has placeholder values in the fields the flag names (documented at each
 * struct); SMALL and APPROX qualify values that are still numbers.
 */
#define STATS_F_NODATA 0x01       /* an arm has n == 0 */
#define STATS_F_SMALL 0x02        /* an arm has < STATS_MIN_EVENTS x or n-x */
#define STATS_F_NO_UPLIFT 0x04    /* control has x == 0: uplift undefined */
#define STATS_F_NO_UPLIFT_CI 0x08 /* an arm has x == 0: no uplift interval */
#define STATS_F_DEGENERATE 0x10   /* pooled rate is 0 or 1: no information */
#define STATS_F_APPROX 0x20       /* normal approximation (huge counts) */
#define STATS_F_CS_CONFLICT 0x40  /* new confidence sequence missed the old */

/*
 * Below this many conversions or non-conversions in an arm, normal
 * approximations (z-test, delta method, mSPRT) are not trusted: the
 * classic n*p >= 5 rule.  The verdict says "not enough data" then.
 */
#define STATS_MIN_EVENTS 5

/*
 * Additive per-arm counters: summing two of these field by field gives the
 * counters of the union of their visitors (stats_counts_add).  Revenue is
 * per visitor (0 for visitors who did not buy); revenue_sq is the sum of
 * squares of per-visitor revenue, for its variance.
 */
struct stats_counts {
	uint64_t visitors;
	uint64_t conversions;
	double revenue;
	double revenue_sq;
};

/* dst += src, field by field.  Counters saturate instead of wrapping. */
void stats_counts_add(
    struct stats_counts *dst, const struct stats_counts *src);

/* Standard normal CDF, Phi(z) = erfc(-z / sqrt 2) / 2.  Never NaN for
 * finite z. */
double stats_norm_cdf(double z);

/*
 * Standard normal quantile: *z such that Phi(*z) = p, for 0 < p < 1
 * (else NUDGE_EINVAL).  Acklam's rational approximation (relative error
 * 1.15e-9) refined by one Halley step on erfc, which brings it to about
 * 1e-15.
 */
int stats_norm_quantile(double p, double *z);

/*
 * Regularized upper incomplete gamma Q(a, x) = Gamma(a, x) / Gamma(a),
 * for a > 0 and x >= 0 (else NUDGE_EINVAL).  Series for P = 1 - Q when
 * x < a + 1, Lentz's continued fraction for Q otherwise (the split of
 * Numerical Recipes, 3rd ed., section 6.2; written afresh).  The
 * chi-square survival function with k degrees of freedom is Q(k/2, x/2).
 */
int stats_gamma_q(double a, double x, double *q);

/*
 * Regularized incomplete beta I_x(a, b), a > 0, b > 0, 0 <= x <= 1 (else
 * NUDGE_EINVAL): the Beta(a, b) CDF at x.  Lentz's continued fraction
 * (Numerical Recipes, 3rd ed., section 6.4), using the symmetry
 * I_x(a, b) = 1 - I_{1-x}(b, a) on the side where it converges fast.
 */
int stats_beta_inc(double a, double b, double x, double *out);

/*
 * One rate with its interval.  With STATS_F_NODATA (n == 0): p = 0,
 * lo = 0, hi = 1 (placeholders).
 */
struct stats_rate {
	double p;
	double lo;
	double hi;
	unsigned flags;
};

/*
 * Conversion rate x / n with the Wilson score interval at confidence conf
 * (0 < conf < 1, e.g. 0.95), z = z(1 - (1 - conf) / 2):
 *     centre = (p + z^2 / 2n) / (1 + z^2 / n)
 *     half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)
 * Why not Wald (p +- z sqrt(p (1 - p) / n)): at x = 0 or x = n Wald has
 * zero width ("0% [0%, 0%]" after 3 visitors), it leaves [0, 1] for small
 * x, and its coverage is far below nominal for small n or extreme p.
 * Wilson stays in [0, 1], is never empty, and keeps near-nominal coverage
 * (Wilson 1927; Brown, Cai & DasGupta 2001, Statistical Science 16:101).
 * x > n gives NUDGE_EINVAL.  Sets STATS_F_SMALL when x or n - x is below
 * STATS_MIN_EVENTS.
 */
int stats_rate(uint64_t x, uint64_t n, double conf, struct stats_rate *out);

/*
 * Fixed-horizon comparison of a variant with the control.
 *   diff, diff_lo, diff_hi: pB - pA with Newcombe's hybrid score interval
 *       (Newcombe 1998, Stat Med 17:873, method 10), built from the two
 *       Wilson intervals (lA, uA), (lB, uB):
 *           lo = diff - sqrt((pB - lB)^2 + (uA - pA)^2)
 *           hi = diff + sqrt((uB - pB)^2 + (pA - lA)^2)
 *       It inherits Wilson's good behaviour at x = 0 and x = n.
 *   uplift, uplift_lo, uplift_hi: pB / pA - 1, interval by the delta
 *       method on the log ratio (Katz et al. 1978):
 *           se^2 = (1 - pA) / xA + (1 - pB) / xB   (= 1/x - 1/n per arm)
 *           [exp(log(pB / pA) -+ z se) - 1]
 *       The interval is asymmetric, as it should be for a ratio, and never
 *       below -100%.  STATS_F_NO_UPLIFT when xA == 0 (uplift, lo, hi = 0);
 *       STATS_F_NO_UPLIFT_CI when xA == 0 or xB == 0 (lo = hi = uplift).
 *       At x = n in both arms se = 0 and the interval is a point: the
 *       STATS_F_SMALL flag is set whenever that can mislead.
 *   z, p_value: pooled two-proportion z-test, two-sided,
 *           P = (xA + xB) / (nA + nB)
 *           z = (pB - pA) / sqrt(P (1 - P) (1 / nA + 1 / nB))
 *           p_value = erfc(|z| / sqrt 2)
 *       STATS_F_DEGENERATE when P is 0 or 1 (z = 0, p_value = 1).
 * STATS_F_NODATA when nA or nB is 0: every field 0 except p_value = 1 and
 * diff_lo = -1, diff_hi = 1.
 */
struct stats_cmp {
	double diff;
	double diff_lo;
	double diff_hi;
	double uplift;
	double uplift_lo;
	double uplift_hi;
	double z;
	double p_value;
	unsigned flags;
};

int stats_compare(const struct stats_counts *ctl,
    const struct stats_counts *var, double conf, struct stats_cmp *out);

/*
 * Revenue per visitor (every visitor counts, buyers or not), from the
 * additive sums R = revenue, S = revenue_sq, per arm:
 *     mean = R / n,  var = (S - R^2 / n) / (n - 1)
 * and the Welch difference of means with a normal interval and p-value
 * (large-sample; revenue is far from normal, so this needs the sample
 * sizes a conversion test needs anyway):
 *     se = sqrt(varA / nA + varB / nB),  diff = meanB - meanA,
 *     [diff -+ z se],  p = erfc(|diff / se| / sqrt 2)
 * STATS_F_NODATA when an arm has n < 2 (means 0 if n = 0, diff 0,
 * lo = hi = diff, p = 1); STATS_F_DEGENERATE when se = 0 (p = 1).
 * Rounding can make S - R^2 / n slightly negative: clamped to 0.
 */
struct stats_revenue {
	double mean_ctl;
	double mean_var;
	double diff;
	double lo;
	double hi;
	double p_value;
	unsigned flags;
};

int stats_revenue_compare(const struct stats_counts *ctl,
    const struct stats_counts *var, double conf, struct stats_revenue *out);

/*
 * Exact sum up to this many terms in stats_beat_prob; above, a normal
 * approximation of the two Beta posteriors (STATS_F_APPROX).  The sum has
 * min(alphaA, betaA, alphaB, betaB) terms of ~20 ns, so the worst exact
 * case costs ~4 ms.  At this size the posteriors are nearly normal
 * (skewness ~2/sqrt(2e5) = 0.004, and the two arms' skews cancel in the
 * difference): the approximation is within ~2e-6 of the exact value
 * (measured; the tests check 1e-5 on both sides of the threshold).
 */
#define STATS_BEAT_EXACT_MAX 200000

/*
 * Bayesian chance that the variant's true rate beats the control's,
 * P(pB > pA), with uniform priors, i.e. posteriors
 * pA ~ Beta(aA = 1 + xA, bA = 1 + nA - xA), likewise B.
 * Closed form (Evan Miller, "Formulas for Bayesian A/B testing", 2015):
 *     P(pB > pA) = sum_{i=0}^{aB-1} B(aA + i, bA + bB)
 *                  / ((bB + i) B(1 + i, bB) B(aA, bA))
 * By the symmetries P(B > A) = 1 - P(A > B) and p -> 1 - p, the same sum
 * can run over aA, bA or bB terms instead; the smallest is used.  Terms
 * are built in logs (lgamma for the first, then the exact ratio
 *     t(i+1) / t(i) = (a1 + i)(b2 + i) / ((a1 + b1 + b2 + i)(1 + i)))
 * and added with a running log-sum-exp, so nothing under- or overflows.
 * Above STATS_BEAT_EXACT_MAX terms:
 *     P = Phi((mB - mA) / sqrt(vA + vB)), m, v the Beta means, variances.
 * n = 0 arms are fine (uniform posterior); no flag but APPROX is set.
 */
int stats_beat_prob(const struct stats_counts *ctl,
    const struct stats_counts *var, double *prob, unsigned *flags);

/*
 * Chance that each of k arms (2 <= k <= STATS_MAX_ARMS) has the highest
 * true rate, same posteriors as stats_beat_prob:
 *     P(k best) = integral f_k(p) prod_{j != k} F_j(p) dp
 * f the Beta density, F its CDF (stats_beta_inc).  Composite Simpson rule
 * with STATS_BEST_GRID intervals over mean_k +- 12 sd_k (clipped to
 * [0, 1]), where all but ~1e-20 of f_k lies; arms whose smaller Beta
 * parameter exceeds STATS_BEAT_EXACT_MAX use the normal approximation
 * (flag APPROX).  The k results are renormalised to sum to 1 (their raw
 * sum is within ~1e-9 of 1).  Deterministic; cost grows as k^2 (every
 * arm's window times every other arm's CDF): ~9 ms for 3 arms of 2,000
 * visitors, ~20 ms for 4 arms of 10^6, ~1 ms when all are approximated.
 * prob[0..k-1] is written on success.
 */
#define STATS_BEST_GRID 2000
int stats_best_prob(
    const struct stats_counts *arms, size_t k, double *prob, unsigned *flags);

/*
 * Sample-ratio mismatch: are the visitors split as the weights say?
 *     E_i = N w_i / sum w,  chi2 = sum (O_i - E_i)^2 / E_i,
 *     df = (arms with w_i > 0) - 1,  p = Q(df / 2, chi2 / 2).
 * An arm with weight 0 but visitors is a certain mismatch (p = 0).
 * warn is 1 when p < STATS_SRM_ALPHA: the split is broken (assignment bug,
 * bot filtering by arm, redirect losses) and no other figure can be
 * trusted.  N = 0: STATS_F_NODATA, chi2 = 0, p = 1, warn = 0.
 * k from 2 to STATS_MAX_ARMS, weights >= 0, at least two > 0.
 */
#define STATS_SRM_ALPHA 0.001
struct stats_srm {
	double chi2;
	int df;
	double p;
	int warn;
	unsigned flags;
};

int stats_srm(const uint64_t *visitors, const double *weights, size_t k,
    struct stats_srm *out);

/*
 * Always-valid inference for diff = pB - pA (mixture SPRT).
 *
 * Johari, Koomen, Pekelis & Walsh, "Peeking at A/B tests" (KDD 2017) and
 * "Always valid inference" (Operations Research 70:1806, 2022): with
 * diff_hat = pB - pA, V its variance and a normal mixing distribution
 * N(0, tau2) over the true difference,
 *     Lambda = sqrt(V / (V + tau2)) exp(tau2 diff_hat^2 / (2 V (V + tau2)))
 * is a likelihood ratio mixture, a nonnegative martingale under H0
 * (diff = 0) for Gaussian data, so by Ville's inequality
 * P(exists n: Lambda_n >= 1/alpha) <= alpha.  The always-valid p-value is
 *     p_n = min(p_{n-1}, 1 / Lambda_n),  p_0 = 1,
 * so it never rises, and rejecting when p_n < alpha at ANY time chosen in
 * any way (peek every second, stop when it looks good) keeps the false-
 * positive rate <= alpha.  Here V = P (1 - P) (1/nA + 1/nB) with the
 * pooled rate P (the H0 variance), which makes the guarantee asymptotic
 * for Bernoulli data: it holds as counts grow, and the tests measure it
 * from 100 visitors per arm on (see tests/test_stats.c).
 *
 * Confidence sequence: the values d0 that the same test at d0 does not
 * reject, with the unpooled variance V' = pA(1-pA)/nA + pB(1-pB)/nB:
 *     |diff_hat - d0| < sqrt(2 V' (V' + tau2) / tau2
 *                           * (log(1/alpha) + log((V' + tau2) / V') / 2))
 * It covers the true diff at all times at once with probability ~1-alpha
 * (same asymptotic caveat; Howard, Ramdas, McAuliffe & Sekhon 2021, Ann.
 * Statist. 49:1055, eq. 14, one-sample normal mixture).  Successive
 * intervals are intersected, which keeps coverage; if a new one misses the
 * running one entirely (only possible when the model is off), the running
 * one is kept and STATS_F_CS_CONFLICT is set.
 *
 * tau2 is the prior variance of true differences: choose tau = the
 * absolute difference you expect or care about (baseline * MDE).  Too
 * small or too large only costs power, never validity.
 *
 * Usage: stats_seq_init once per comparison; then at every look,
 * stats_seq_update(&prev, ...) -> next, store next.  Counters must not
 * shrink between looks (NUDGE_ESTALE: an agent's counters were reset;
 * start over with stats_seq_init).  With V = 0 (no conversions yet, or
 * all convert) or an empty arm, next = prev with STATS_F_DEGENERATE.
 */
struct stats_seq {
	double p;       /* always-valid p-value, non-increasing */
	double lo;      /* confidence sequence for pB - pA, */
	double hi;      /* intersected over time */
	uint64_t n_ctl; /* visitors at the last update */
	uint64_t n_var;
	unsigned flags;
};

void stats_seq_init(struct stats_seq *s);
int stats_seq_update(const struct stats_seq *prev,
    const struct stats_counts *ctl, const struct stats_counts *var,
    double alpha, double tau2, struct stats_seq *next);

/*
 * Visitors per arm needed to detect a relative uplift mde_rel over a
 * baseline rate with a two-sided test at level alpha and the given power
 * (Fleiss, Levin & Paik 2003, eq. 4.14 without continuity correction):
 *     p1 = baseline, p2 = p1 (1 + mde_rel), P = (p1 + p2) / 2
 *     n = (z(1 - alpha/2) sqrt(2 P (1 - P))
 *          + z(power) sqrt(p1 (1 - p1) + p2 (1 - p2)))^2 / (p2 - p1)^2
 * rounded up.  Requires 0 < baseline < 1, mde_rel != 0, 0 < p2 < 1,
 * 0 < alpha < 1, 0 < power < 1; NUDGE_ERANGE if n exceeds 2^53.
 * This is the fixed-horizon size; the always-valid test needs somewhat
 * more for the same power, so the verdict treats it as a floor.
 */
int stats_sample_size(double baseline, double mde_rel, double alpha,
    double power, uint64_t *per_arm);

/* What the console concludes about one variant against the control. */
enum stats_call {
	STATS_CALL_NOT_ENOUGH = 0, /* too few visitors, events or days */
	STATS_CALL_NO_DIFF,        /* always-valid p >= alpha so far */
	STATS_CALL_BETTER,         /* always-valid p < alpha, diff > 0 */
	STATS_CALL_WORSE           /* always-valid p < alpha, diff < 0 */
};

/* "not enough data", "no difference yet", "better", "worse". */
const char *stats_call_name(enum stats_call call);

/* The campaign's statistical policy (from the campaign's configuration). */
struct stats_policy {
	double conf;        /* fixed-horizon interval confidence, 0.95 */
	double alpha;       /* always-valid test level, 0.05 */
	double tau2;        /* mSPRT mixing variance, see stats_seq_update */
	double mde_rel;     /* planned relative MDE, e.g. 0.10 */
	double power;       /* planned power, e.g. 0.80 */
	double baseline;    /* planned baseline; <= 0: control's rate */
	double min_seconds; /* minimum duration before a verdict, e.g. 7 d */
};

/*
 * One printed line's worth.  need is the planned visitors in the two arms
 * (2 * stats_sample_size), 0 when it cannot be known yet (no planned
 * baseline and no control conversions); have = nA + nB.
 * wait_seconds is what remains of the minimum duration (0 when met).
 */
struct stats_verdict {
	enum stats_call call;
	struct stats_rate ctl;
	struct stats_rate var;
	struct stats_cmp cmp; /* diff, uplift [lo, hi], fixed-horizon p */
	struct stats_seq seq; /* always-valid p and confidence sequence */
	double beat;          /* chance to beat control, 0..1 */
	int srm_warn;         /* copied from the campaign's stats_srm */
	double srm_p;
	uint64_t have;
	uint64_t need;
	double wait_seconds;
	unsigned flags; /* union of the parts' flags */
};

/*
 * Compares var with ctl under pol after elapsed_seconds of running.
 * prev is the comparison's always-valid state from the previous look
 * (stats_seq_init for the first); the updated state is in out->seq, to
 * store for the next look.  srm (may be NULL) is the campaign-wide check.
 * The call is NOT_ENOUGH until all hold: need is known and each arm has
 * need / 2 visitors (an unequal split waits for its smaller arm),
 * elapsed_seconds >= pol->min_seconds, no STATS_F_SMALL, NODATA or
 * DEGENERATE; then
 * BETTER/WORSE when out->seq.p < pol->alpha, else NO_DIFF.  An SRM
 * warning does not change the call; the console must show it beside.
 */
int stats_verdict(const struct stats_policy *pol,
    const struct stats_counts *ctl, const struct stats_counts *var,
    const struct stats_seq *prev, const struct stats_srm *srm,
    double elapsed_seconds, struct stats_verdict *out);

#endif
