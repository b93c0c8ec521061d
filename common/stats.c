/*
 * stats.c - the statistics behind campaign results (see stats.h for the
 * formulas and references).
 *
 * Pure functions over additive counters: no state, no allocation, safe on
 * any thread.  Only libm is used (erfc, lgamma, log1p): the special
 * functions a GPL library would provide (normal quantile, incomplete gamma
 * and beta) are written here.  Every path that could divide by zero or
 * take the log of zero is guarded and flagged instead, so no caller ever
 * sees NaN or an infinity.
 */
#include "stats.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "err.h"

#define SQRT2 1.41421356237309504880
#define SQRT2PI 2.50662827463100050242
/* Relative precision the continued fractions and series stop at. */
#define SF_EPS 1e-15
/* Keeps Lentz's method away from dividing by zero. */
#define SF_TINY 1e-300
#define SF_MAXIT 100000
/* Half-width of a posterior's integration window, in standard deviations:
 * wide enough for the exponential tail of Beta(1, n) (e^-41 ~ 1e-18). */
#define BEST_WINDOW_SD 40.0

void
stats_counts_add(struct stats_counts *dst, const struct stats_counts *src)
{
	dst->visitors = dst->visitors > UINT64_MAX - src->visitors
	                    ? UINT64_MAX
	                    : dst->visitors + src->visitors;
	dst->conversions = dst->conversions > UINT64_MAX - src->conversions
	                       ? UINT64_MAX
	                       : dst->conversions + src->conversions;
	dst->revenue += src->revenue;
	dst->revenue_sq += src->revenue_sq;
}

double
stats_norm_cdf(double z)
{
	return 0.5 * erfc(-z / SQRT2);
}

/* Acklam's approximation for 0 < p <= 0.5 (lower half only). */
static double
acklam_lower(double p)
{
	static const double a[] = {-3.969683028665376e+01,
	    2.209460984245205e+02, -2.759285104469687e+02,
	    1.383577518672690e+02, -3.066479806614716e+01,
	    2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01,
	    1.615858368580409e+02, -1.556989798598866e+02,
	    6.680131188771972e+01, -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03,
	    -3.223964580411365e-01, -2.400758277161838e+00,
	    -2.549732539343734e+00, 4.374664141464968e+00,
	    2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03,
	    3.224671290700398e-01, 2.445134137142996e+00,
	    3.754408661907416e+00};
	double q, r;

	if (p < 0.02425) {
		q = sqrt(-2.0 * log(p));
		return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q +
		            c[4]) *
		               q +
		           c[5]) /
		       ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
	}
	q = p - 0.5;
	r = q * q;
	return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
	           a[5]) *
	       q /
	       (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r +
	           1.0);
}

int
stats_norm_quantile(double p, double *z)
{
	double x, e, u;

	if (!(p > 0.0 && p < 1.0))
		return NUDGE_EINVAL;
	/* Work in the lower half, where Phi(x) - p keeps its precision;
	 * 1 - p is exact for p in (0.5, 1). */
	if (p > 0.5) {
		if (stats_norm_quantile(1.0 - p, &x) != NUDGE_OK)
			return NUDGE_EINVAL;
		*z = -x;
		return NUDGE_OK;
	}
	x = acklam_lower(p);
	/* One Halley step: the error goes from ~1e-9 to rounding level. */
	e = stats_norm_cdf(x) - p;
	u = e * SQRT2PI * exp(x * x / 2.0);
	x = x - u / (1.0 + x * u / 2.0);
	*z = x;
	return NUDGE_OK;
}

/* z for a two-sided interval at confidence conf. */
static int
conf_z(double conf, double *z)
{
	if (!(conf > 0.0 && conf < 1.0))
		return NUDGE_EINVAL;
	return stats_norm_quantile(1.0 - (1.0 - conf) / 2.0, z);
}

/* P(a, x) by its power series; good for x < a + 1. */
static int
gamma_p_series(double a, double x, double *p)
{
	double ap = a, del = 1.0 / a, sum = del;

	for (int i = 0; i < SF_MAXIT; i++) {
		ap += 1.0;
		del *= x / ap;
		sum += del;
		if (fabs(del) < fabs(sum) * SF_EPS) {
			*p = sum * exp(-x + a * log(x) - lgamma(a));
			return NUDGE_OK;
		}
	}
	return NUDGE_ERANGE;
}

/* Q(a, x) by Lentz's continued fraction; good for x >= a + 1. */
static int
gamma_q_cf(double a, double x, double *q)
{
	double b = x + 1.0 - a, c = 1.0 / SF_TINY, d = 1.0 / b, h = d;

	for (int i = 1; i < SF_MAXIT; i++) {
		double an = -i * (i - a), del;

		b += 2.0;
		d = an * d + b;
		if (fabs(d) < SF_TINY)
			d = SF_TINY;
		c = b + an / c;
		if (fabs(c) < SF_TINY)
			c = SF_TINY;
		d = 1.0 / d;
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < SF_EPS) {
			*q = exp(-x + a * log(x) - lgamma(a)) * h;
			return NUDGE_OK;
		}
	}
	return NUDGE_ERANGE;
}

int
stats_gamma_q(double a, double x, double *q)
{
	double v;
	int rc;

	if (!(a > 0.0) || !(x >= 0.0) || isinf(a) || isinf(x))
		return NUDGE_EINVAL;
	if (x == 0.0) {
		*q = 1.0;
		return NUDGE_OK;
	}
	if (x < a + 1.0) {
		rc = gamma_p_series(a, x, &v);
		v = 1.0 - v;
	} else {
		rc = gamma_q_cf(a, x, &v);
	}
	if (rc != NUDGE_OK)
		return rc;
	*q = fmin(1.0, fmax(0.0, v));
	return NUDGE_OK;
}

/* Replaces a value too close to zero for Lentz's method. */
static double
lentz_guard(double v)
{
	return fabs(v) < SF_TINY ? SF_TINY : v;
}

/* The continued fraction of I_x(a, b); converges for x < (a+1)/(a+b+2). */
static int
beta_cf(double a, double b, double x, double *out)
{
	double qab = a + b, qap = a + 1.0, qam = a - 1.0;
	double c = 1.0, d = 1.0 / lentz_guard(1.0 - qab * x / qap), h = d;

	for (int m = 1; m < SF_MAXIT; m++) {
		double m2 = 2.0 * m, aa, del;

		aa = m * (b - m) * x / ((qam + m2) * (a + m2));
		d = 1.0 / lentz_guard(1.0 + aa * d);
		c = lentz_guard(1.0 + aa / c);
		h *= d * c;
		aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
		d = 1.0 / lentz_guard(1.0 + aa * d);
		c = lentz_guard(1.0 + aa / c);
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < SF_EPS) {
			*out = h;
			return NUDGE_OK;
		}
	}
	return NUDGE_ERANGE;
}

int
stats_beta_inc(double a, double b, double x, double *out)
{
	double front, cf, v;
	int rc;

	if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0) || isinf(a) ||
	    isinf(b))
		return NUDGE_EINVAL;
	if (x == 0.0 || x == 1.0) {
		*out = x;
		return NUDGE_OK;
	}
	front = exp(lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) +
	            b * log1p(-x));
	if (x < (a + 1.0) / (a + b + 2.0)) {
		rc = beta_cf(a, b, x, &cf);
		v = front * cf / a;
	} else {
		rc = beta_cf(b, a, 1.0 - x, &cf);
		v = 1.0 - front * cf / b;
	}
	if (rc != NUDGE_OK)
		return rc;
	*out = fmin(1.0, fmax(0.0, v));
	return NUDGE_OK;
}

/* Flags that say an arm is too small for normal approximations. */
static unsigned
arm_flags(uint64_t x, uint64_t n)
{
	if (n == 0)
		return STATS_F_NODATA | STATS_F_SMALL;
	if (x < STATS_MIN_EVENTS || n - x < STATS_MIN_EVENTS)
		return STATS_F_SMALL;
	return 0;
}

static int
counts_ok(const struct stats_counts *c)
{
	return c != NULL && c->conversions <= c->visitors;
}

/* Wilson interval with a given z; n > 0. */
static void
wilson(uint64_t x, uint64_t n, double z, double *lo, double *hi)
{
	double nn = (double)n, p = (double)x / nn, z2 = z * z;
	double den = 1.0 + z2 / nn;
	double centre = (p + z2 / (2.0 * nn)) / den;
	double half =
	    z / den * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));

	/* Analytically exact at the ends; keep rounding from leaving. */
	*lo = x == 0 ? 0.0 : fmax(0.0, centre - half);
	*hi = x == n ? 1.0 : fmin(1.0, centre + half);
}

int
stats_rate(uint64_t x, uint64_t n, double conf, struct stats_rate *out)
{
	struct stats_rate r = {0.0, 0.0, 1.0, 0};
	double z;

	if (x > n || out == NULL || conf_z(conf, &z) != NUDGE_OK)
		return NUDGE_EINVAL;
	r.flags = arm_flags(x, n);
	if (n > 0) {
		r.p = (double)x / (double)n;
		wilson(x, n, z, &r.lo, &r.hi);
	}
	*out = r;
	return NUDGE_OK;
}

/* Relative uplift and its log-ratio delta-method interval into c. */
static void
compare_uplift(uint64_t xa, uint64_t na, uint64_t xb, uint64_t nb, double z,
    struct stats_cmp *c)
{
	double pa = (double)xa / (double)na, pb = (double)xb / (double)nb;
	double lr, se;

	if (xa == 0) {
		c->flags |= STATS_F_NO_UPLIFT | STATS_F_NO_UPLIFT_CI;
		return;
	}
	c->uplift = pb / pa - 1.0;
	c->uplift_lo = c->uplift_hi = c->uplift;
	if (xb == 0) {
		c->flags |= STATS_F_NO_UPLIFT_CI;
		return;
	}
	lr = log(pb / pa);
	se = sqrt(fmax(0.0, 1.0 / (double)xa - 1.0 / (double)na +
	                        1.0 / (double)xb - 1.0 / (double)nb));
	c->uplift_lo = expm1(lr - z * se);
	c->uplift_hi = expm1(lr + z * se);
}

/* Pooled two-proportion z-test into c. */
static void
compare_ztest(
    uint64_t xa, uint64_t na, uint64_t xb, uint64_t nb, struct stats_cmp *c)
{
	double pooled = ((double)xa + (double)xb) / ((double)na + (double)nb);
	double var =
	    pooled * (1.0 - pooled) * (1.0 / (double)na + 1.0 / (double)nb);

	if (!(var > 0.0)) {
		c->flags |= STATS_F_DEGENERATE;
		return;
	}
	c->z = c->diff / sqrt(var);
	c->p_value = erfc(fabs(c->z) / SQRT2);
}

int
stats_compare(const struct stats_counts *ctl, const struct stats_counts *var,
    double conf, struct stats_cmp *out)
{
	struct stats_cmp c;
	uint64_t xa, na, xb, nb;
	double z, la, ua, lb, ub, pa, pb;

	if (!counts_ok(ctl) || !counts_ok(var) || out == NULL ||
	    conf_z(conf, &z) != NUDGE_OK)
		return NUDGE_EINVAL;
	memset(&c, 0, sizeof(c));
	c.diff_lo = -1.0;
	c.diff_hi = 1.0;
	c.p_value = 1.0;
	xa = ctl->conversions, na = ctl->visitors;
	xb = var->conversions, nb = var->visitors;
	c.flags = arm_flags(xa, na) | arm_flags(xb, nb);
	if (na == 0 || nb == 0) {
		c.flags |= STATS_F_NO_UPLIFT | STATS_F_NO_UPLIFT_CI;
		*out = c;
		return NUDGE_OK;
	}
	pa = (double)xa / (double)na;
	pb = (double)xb / (double)nb;
	wilson(xa, na, z, &la, &ua);
	wilson(xb, nb, z, &lb, &ub);
	c.diff = pb - pa;
	c.diff_lo = fmax(-1.0, c.diff - hypot(pb - lb, ua - pa));
	c.diff_hi = fmin(1.0, c.diff + hypot(ub - pb, pa - la));
	compare_uplift(xa, na, xb, nb, z, &c);
	compare_ztest(xa, na, xb, nb, &c);
	*out = c;
	return NUDGE_OK;
}

/* Mean and variance of per-visitor revenue from the sums; n >= 2. */
static void
revenue_moments(const struct stats_counts *c, double *mean, double *var)
{
	double n = (double)c->visitors;

	*mean = c->revenue / n;
	*var = fmax(0.0, (c->revenue_sq - c->revenue * *mean) / (n - 1.0));
}

int
stats_revenue_compare(const struct stats_counts *ctl,
    const struct stats_counts *var, double conf, struct stats_revenue *out)
{
	struct stats_revenue r;
	double z, va, vb, se;

	if (!counts_ok(ctl) || !counts_ok(var) || out == NULL ||
	    !isfinite(ctl->revenue) || !isfinite(ctl->revenue_sq) ||
	    !isfinite(var->revenue) || !isfinite(var->revenue_sq) ||
	    conf_z(conf, &z) != NUDGE_OK)
		return NUDGE_EINVAL;
	memset(&r, 0, sizeof(r));
	r.p_value = 1.0;
	if (ctl->visitors > 0)
		r.mean_ctl = ctl->revenue / (double)ctl->visitors;
	if (var->visitors > 0)
		r.mean_var = var->revenue / (double)var->visitors;
	if (ctl->visitors < 2 || var->visitors < 2) {
		r.flags = STATS_F_NODATA;
		*out = r;
		return NUDGE_OK;
	}
	revenue_moments(ctl, &r.mean_ctl, &va);
	revenue_moments(var, &r.mean_var, &vb);
	r.diff = r.lo = r.hi = r.mean_var - r.mean_ctl;
	se = sqrt(va / (double)ctl->visitors + vb / (double)var->visitors);
	if (!(se > 0.0)) {
		r.flags = STATS_F_DEGENERATE;
		*out = r;
		return NUDGE_OK;
	}
	r.lo = r.diff - z * se;
	r.hi = r.diff + z * se;
	r.p_value = erfc(fabs(r.diff / se) / SQRT2);
	*out = r;
	return NUDGE_OK;
}

static double
log_beta(double a, double b)
{
	return lgamma(a) + lgamma(b) - lgamma(a + b);
}

/*
 * P(X2 > X1) for X1 ~ Beta(a1, b1), X2 ~ Beta(a2, b2), a2 a positive
 * integer: Evan Miller's sum of a2 terms, in logs with a running
 * log-sum-exp (m = largest log term so far, s = sum of exp(t - m)).
 */
static double
beat_sum(double a1, double b1, double a2, double b2)
{
	double lt = log_beta(a1, b1 + b2) - log_beta(a1, b1);
	double m = lt, s = 1.0;
	uint64_t terms = (uint64_t)a2;

	for (uint64_t k = 0; k + 1 < terms; k++) {
		double i = (double)k;

		lt += log(
		    (a1 + i) * (b2 + i) / ((a1 + b1 + b2 + i) * (1.0 + i)));
		if (lt > m) {
			s = s * exp(m - lt) + 1.0;
			m = lt;
		} else {
			s += exp(lt - m);
		}
	}
	return exp(m + log(s));
}

static double
beta_mean(double a, double b)
{
	return a / (a + b);
}

static double
beta_var(double a, double b)
{
	return a * b / ((a + b) * (a + b) * (a + b + 1.0));
}

int
stats_beat_prob(const struct stats_counts *ctl, const struct stats_counts *var,
    double *prob, unsigned *flags)
{
	double aa, ba, ab, bb, mn, p;
	unsigned f = 0;

	if (!counts_ok(ctl) || !counts_ok(var) || prob == NULL)
		return NUDGE_EINVAL;
	aa = 1.0 + (double)ctl->conversions;
	ba = 1.0 + (double)(ctl->visitors - ctl->conversions);
	ab = 1.0 + (double)var->conversions;
	bb = 1.0 + (double)(var->visitors - var->conversions);
	mn = fmin(fmin(aa, ba), fmin(ab, bb));
	if (mn > STATS_BEAT_EXACT_MAX) {
		f |= STATS_F_APPROX;
		p = stats_norm_cdf((beta_mean(ab, bb) - beta_mean(aa, ba)) /
		                   sqrt(beta_var(aa, ba) + beta_var(ab, bb)));
	} else if (mn == ab) {
		p = beat_sum(aa, ba, ab, bb);
	} else if (mn == aa) {
		p = 1.0 - beat_sum(ab, bb, aa, ba);
	} else if (mn == ba) {
		/* p -> 1 - p swaps the Beta parameters and the order. */
		p = beat_sum(bb, ab, ba, aa);
	} else {
		p = 1.0 - beat_sum(ba, aa, bb, ab);
	}
	*prob = fmin(1.0, fmax(0.0, p));
	if (flags != NULL)
		*flags = f;
	return NUDGE_OK;
}

/* One arm's posterior, as stats_best_prob integrates it. */
struct post {
	double a, b; /* Beta parameters */
	double mean, sd;
	double lo, hi;  /* integration window */
	double lognorm; /* log B(a, b) */
	int normal;     /* use the normal approximation */
};

static void
post_init(struct post *q, const struct stats_counts *c)
{
	q->a = 1.0 + (double)c->conversions;
	q->b = 1.0 + (double)(c->visitors - c->conversions);
	q->mean = beta_mean(q->a, q->b);
	q->sd = sqrt(beta_var(q->a, q->b));
	q->lo = fmax(0.0, q->mean - BEST_WINDOW_SD * q->sd);
	q->hi = fmin(1.0, q->mean + BEST_WINDOW_SD * q->sd);
	q->lognorm = log_beta(q->a, q->b);
	q->normal = fmin(q->a, q->b) > STATS_BEAT_EXACT_MAX;
}

static double
post_pdf(const struct post *q, double x)
{
	double u = (x - q->mean) / q->sd, l;

	if (q->normal)
		return exp(-0.5 * u * u) / (q->sd * SQRT2PI);
	if (x <= 0.0 || x >= 1.0)
		/* a, b >= 1: the density at an end is 0 unless its exponent
		 * is 0, where it is 1 / B(a, b). */
		return (x <= 0.0 ? q->a : q->b) == 1.0 ? exp(-q->lognorm)
		                                       : 0.0;
	l = (q->a - 1.0) * log(x) + (q->b - 1.0) * log1p(-x) - q->lognorm;
	return exp(l);
}

static int
post_cdf(const struct post *q, double x, double *out)
{
	/* Outside the window the CDF is 0 or 1 to ~1e-18. */
	if (x <= q->lo) {
		*out = 0.0;
		return NUDGE_OK;
	}
	if (x >= q->hi) {
		*out = 1.0;
		return NUDGE_OK;
	}
	if (q->normal) {
		*out = stats_norm_cdf((x - q->mean) / q->sd);
		return NUDGE_OK;
	}
	return stats_beta_inc(q->a, q->b, x, out);
}

/* f_k(x) prod_{j != k} F_j(x). */
static int
best_integrand(
    const struct post *q, size_t k, size_t kk, double x, double *out)
{
	double v = post_pdf(&q[kk], x), f;

	for (size_t j = 0; j < k && v > 0.0; j++) {
		if (j == kk)
			continue;
		if (post_cdf(&q[j], x, &f) != NUDGE_OK)
			return NUDGE_ERANGE;
		v *= f;
	}
	*out = v;
	return NUDGE_OK;
}

/* Simpson's rule over [x0, x1] in panels no wider than h. */
static int
simpson(const struct post *q, size_t k, size_t kk, double x0, double x1,
    double h, double *acc)
{
	double n = ceil((x1 - x0) / h), w = (x1 - x0) / n, sum = 0.0;
	double fa, fm, fb;

	if (!(x1 > x0))
		return NUDGE_OK;
	if (best_integrand(q, k, kk, x0, &fa) != NUDGE_OK)
		return NUDGE_ERANGE;
	for (double i = 0.0; i < n; i += 1.0) {
		double a = x0 + i * w;

		if (best_integrand(q, k, kk, a + w / 2.0, &fm) != NUDGE_OK ||
		    best_integrand(q, k, kk, a + w, &fb) != NUDGE_OK)
			return NUDGE_ERANGE;
		sum += w / 6.0 * (fa + 4.0 * fm + fb);
		fa = fb;
	}
	*acc += sum;
	return NUDGE_OK;
}

/*
 * P(arm kk is best).  Arm kk's window is cut at every other window's ends;
 * each piece is integrated at the finest resolution of the windows that
 * cover it, so a narrow posterior's steep CDF is never stepped over.
 */
static int
best_one(const struct post *q, size_t k, size_t kk, double *out)
{
	double cut[2 * STATS_MAX_ARMS + 2], acc = 0.0;
	size_t nc = 0;

	cut[nc++] = q[kk].lo;
	cut[nc++] = q[kk].hi;
	for (size_t j = 0; j < k; j++) {
		if (q[j].lo > q[kk].lo && q[j].lo < q[kk].hi)
			cut[nc++] = q[j].lo;
		if (q[j].hi > q[kk].lo && q[j].hi < q[kk].hi)
			cut[nc++] = q[j].hi;
	}
	for (size_t i = 1; i < nc; i++) /* insertion sort, nc <= 34 */
		for (size_t j = i; j > 0 && cut[j] < cut[j - 1]; j--) {
			double t = cut[j];

			cut[j] = cut[j - 1];
			cut[j - 1] = t;
		}
	for (size_t i = 0; i + 1 < nc; i++) {
		double mid = (cut[i] + cut[i + 1]) / 2.0, h = 1.0;

		for (size_t j = 0; j < k; j++)
			if (q[j].lo <= mid && mid <= q[j].hi)
				h = fmin(
				    h, (q[j].hi - q[j].lo) / STATS_BEST_GRID);
		if (simpson(q, k, kk, cut[i], cut[i + 1], h, &acc) != 0)
			return NUDGE_ERANGE;
	}
	*out = acc;
	return NUDGE_OK;
}

int
stats_best_prob(
    const struct stats_counts *arms, size_t k, double *prob, unsigned *flags)
{
	struct post q[STATS_MAX_ARMS];
	double p[STATS_MAX_ARMS], sum = 0.0;
	unsigned f = 0;

	if (arms == NULL || prob == NULL || k < 2 || k > STATS_MAX_ARMS)
		return NUDGE_EINVAL;
	for (size_t i = 0; i < k; i++) {
		if (!counts_ok(&arms[i]))
			return NUDGE_EINVAL;
		post_init(&q[i], &arms[i]);
		if (q[i].normal)
			f |= STATS_F_APPROX;
	}
	for (size_t i = 0; i < k; i++) {
		if (best_one(q, k, i, &p[i]) != NUDGE_OK)
			return NUDGE_ERANGE;
		sum += p[i];
	}
	if (!(sum > 0.0))
		return NUDGE_ERANGE;
	for (size_t i = 0; i < k; i++)
		prob[i] = fmin(1.0, p[i] / sum);
	if (flags != NULL)
		*flags = f;
	return NUDGE_OK;
}

int
stats_srm(const uint64_t *visitors, const double *weights, size_t k,
    struct stats_srm *out)
{
	struct stats_srm r = {0.0, 0, 1.0, 0, 0};
	double total = 0.0, wsum = 0.0;
	int positive = 0, zero_hit = 0;

	if (visitors == NULL || weights == NULL || out == NULL || k < 2 ||
	    k > STATS_MAX_ARMS)
		return NUDGE_EINVAL;
	for (size_t i = 0; i < k; i++) {
		if (!(weights[i] >= 0.0) || isinf(weights[i]))
			return NUDGE_EINVAL;
		positive += weights[i] > 0.0;
		zero_hit |= weights[i] == 0.0 && visitors[i] > 0;
		wsum += weights[i];
		total += (double)visitors[i];
	}
	if (positive < 2)
		return NUDGE_EINVAL;
	r.df = positive - 1;
	if (total == 0.0) {
		r.flags = STATS_F_NODATA;
		*out = r;
		return NUDGE_OK;
	}
	for (size_t i = 0; i < k; i++) {
		double e = total * weights[i] / wsum,
		       d = (double)visitors[i] - e;

		if (weights[i] > 0.0)
			r.chi2 += d * d / e;
	}
	if (zero_hit)
		r.p = 0.0;
	else if (stats_gamma_q(r.df / 2.0, r.chi2 / 2.0, &r.p) != NUDGE_OK)
		return NUDGE_ERANGE;
	r.warn = r.p < STATS_SRM_ALPHA;
	*out = r;
	return NUDGE_OK;
}

void
stats_seq_init(struct stats_seq *s)
{
	memset(s, 0, sizeof(*s));
	s->p = 1.0;
	s->lo = -1.0;
	s->hi = 1.0;
}

/* Intersects the running confidence sequence in s with [lo, hi]. */
static void
seq_intersect(struct stats_seq *s, double lo, double hi)
{
	lo = fmax(-1.0, lo);
	hi = fmin(1.0, hi);
	if (lo > s->hi || hi < s->lo) {
		s->flags |= STATS_F_CS_CONFLICT;
		return;
	}
	s->lo = fmax(s->lo, lo);
	s->hi = fmin(s->hi, hi);
}

int
stats_seq_update(const struct stats_seq *prev, const struct stats_counts *ctl,
    const struct stats_counts *var, double alpha, double tau2,
    struct stats_seq *next)
{
	struct stats_seq s;
	double na, nb, pa, pb, pooled, v, vu, d, loglam, half;

	if (prev == NULL || next == NULL || !counts_ok(ctl) ||
	    !counts_ok(var) || !(alpha > 0.0 && alpha < 1.0) ||
	    !(tau2 > 0.0) || isinf(tau2))
		return NUDGE_EINVAL;
	if (ctl->visitors < prev->n_ctl || var->visitors < prev->n_var)
		return NUDGE_ESTALE;
	s = *prev;
	s.n_ctl = ctl->visitors;
	s.n_var = var->visitors;
	s.flags = (prev->flags & STATS_F_CS_CONFLICT) |
	          arm_flags(ctl->conversions, ctl->visitors) |
	          arm_flags(var->conversions, var->visitors);
	na = (double)ctl->visitors;
	nb = (double)var->visitors;
	pooled = na > 0.0 && nb > 0.0
	             ? ((double)ctl->conversions + (double)var->conversions) /
	                   (na + nb)
	             : 0.0;
	v = pooled * (1.0 - pooled) *
	    (1.0 / fmax(na, 1.0) + 1.0 / fmax(nb, 1.0));
	if (!(v > 0.0)) {
		s.flags |= STATS_F_DEGENERATE;
		*next = s;
		return NUDGE_OK;
	}
	pa = (double)ctl->conversions / na;
	pb = (double)var->conversions / nb;
	d = pb - pa;
	loglam =
	    0.5 * log(v / (v + tau2)) + tau2 * d * d / (2.0 * v * (v + tau2));
	s.p = fmin(s.p, loglam > 0.0 ? exp(-loglam) : 1.0);
	vu = pa * (1.0 - pa) / na + pb * (1.0 - pb) / nb;
	if (!(vu > 0.0))
		vu = v;
	half = sqrt(2.0 * vu * (vu + tau2) / tau2 *
	            (-log(alpha) + 0.5 * log((vu + tau2) / vu)));
	seq_intersect(&s, d - half, d + half);
	*next = s;
	return NUDGE_OK;
}

int
stats_sample_size(double baseline, double mde_rel, double alpha, double power,
    uint64_t *per_arm)
{
	double p1 = baseline, p2 = baseline * (1.0 + mde_rel), pm, za, zb, n;

	if (per_arm == NULL || !(p1 > 0.0 && p1 < 1.0) || mde_rel == 0.0 ||
	    !(p2 > 0.0 && p2 < 1.0) || !(power > 0.0 && power < 1.0) ||
	    stats_norm_quantile(1.0 - alpha / 2.0, &za) != NUDGE_OK ||
	    !(alpha > 0.0 && alpha < 1.0) ||
	    stats_norm_quantile(power, &zb) != NUDGE_OK)
		return NUDGE_EINVAL;
	pm = (p1 + p2) / 2.0;
	n = za * sqrt(2.0 * pm * (1.0 - pm)) +
	    zb * sqrt(p1 * (1.0 - p1) + p2 * (1.0 - p2));
	n = ceil(n * n / ((p2 - p1) * (p2 - p1)));
	if (!(n <= 9007199254740992.0))
		return NUDGE_ERANGE;
	*per_arm = (uint64_t)n;
	return NUDGE_OK;
}

const char *
stats_call_name(enum stats_call call)
{
	static const char *const names[] = {
	    [STATS_CALL_NOT_ENOUGH] = "not enough data",
	    [STATS_CALL_NO_DIFF] = "no difference yet",
	    [STATS_CALL_BETTER] = "better",
	    [STATS_CALL_WORSE] = "worse",
	};

	if ((unsigned)call >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[call];
}

static int
policy_ok(const struct stats_policy *pol)
{
	return pol != NULL && pol->conf > 0.0 && pol->conf < 1.0 &&
	       pol->alpha > 0.0 && pol->alpha < 1.0 && pol->tau2 > 0.0 &&
	       pol->power > 0.0 && pol->power < 1.0 && pol->mde_rel != 0.0 &&
	       pol->baseline < 1.0 && pol->min_seconds >= 0.0;
}

/* Planned visitors per arm, 0 when no baseline is known yet. */
static uint64_t
verdict_need(const struct stats_policy *pol, const struct stats_counts *ctl)
{
	double base = pol->baseline;
	uint64_t n = 0;

	if (!(base > 0.0) && ctl->conversions > 0 &&
	    ctl->conversions < ctl->visitors)
		base = (double)ctl->conversions / (double)ctl->visitors;
	if (!(base > 0.0) || stats_sample_size(base, pol->mde_rel, pol->alpha,
	                         pol->power, &n) != NUDGE_OK)
		return 0;
	return n;
}

int
stats_verdict(const struct stats_policy *pol, const struct stats_counts *ctl,
    const struct stats_counts *var, const struct stats_seq *prev,
    const struct stats_srm *srm, double elapsed_seconds,
    struct stats_verdict *out)
{
	struct stats_verdict v;
	uint64_t per_arm;
	unsigned bf = 0;
	int rc;

	if (!policy_ok(pol) || !counts_ok(ctl) || !counts_ok(var) ||
	    out == NULL || !(elapsed_seconds >= 0.0))
		return NUDGE_EINVAL;
	memset(&v, 0, sizeof(v));
	if ((rc = stats_rate(
	         ctl->conversions, ctl->visitors, pol->conf, &v.ctl)) != 0 ||
	    (rc = stats_rate(
	         var->conversions, var->visitors, pol->conf, &v.var)) != 0 ||
	    (rc = stats_compare(ctl, var, pol->conf, &v.cmp)) != 0 ||
	    (rc = stats_beat_prob(ctl, var, &v.beat, &bf)) != 0 ||
	    (rc = stats_seq_update(
	         prev, ctl, var, pol->alpha, pol->tau2, &v.seq)) != 0)
		return rc;
	if (srm != NULL) {
		v.srm_warn = srm->warn;
		v.srm_p = srm->p;
	}
	per_arm = verdict_need(pol, ctl);
	v.have = ctl->visitors + var->visitors;
	v.need = 2 * per_arm;
	v.wait_seconds = fmax(0.0, pol->min_seconds - elapsed_seconds);
	v.flags = v.cmp.flags | v.seq.flags | bf;
	if (per_arm == 0 || ctl->visitors < per_arm ||
	    var->visitors < per_arm || v.wait_seconds > 0.0 ||
	    (v.flags & (STATS_F_NODATA | STATS_F_SMALL | STATS_F_DEGENERATE)))
		v.call = STATS_CALL_NOT_ENOUGH;
	else if (v.seq.p < pol->alpha)
		v.call =
		    v.cmp.diff > 0.0 ? STATS_CALL_BETTER : STATS_CALL_WORSE;
	else
		v.call = STATS_CALL_NO_DIFF;
	*out = v;
	return NUDGE_OK;
}
