#!/usr/bin/python3
"""Reference values for tests/test_stats.c, computed with SciPy.

Run with Debian's python3 (apt-get install python3-scipy):
    /usr/bin/python3 tests/stats/reference.py
and paste the printed C tables into tests/test_stats.c.  The tests do not
need Python; this script only makes the constants reproducible.  Where
SciPy has the statistic itself (Wilson interval, chi-square test, special
functions, Beta CDF) it is used directly; otherwise the textbook formula is
written out here on top of SciPy's distributions, or the probability is
integrated numerically (Bayesian chances), never with the C code's method.
"""
import math

import numpy as np
from scipy import integrate, special, stats

Z95 = stats.norm.ppf(0.975)


def g(v):
    return repr(float(v))


def table(name, ctype, rows):
    print("static const %s %s[] = {" % (ctype, name))
    for r in rows:
        print("\t{%s}," % ", ".join(r))
    print("};\n")


def quantiles():
    ps = [0.975, 0.5, 0.8, 0.3, 0.02, 1e-10, 0.999999, 0.9]
    table("ref_quantile", "struct ref_q", [[g(p), g(stats.norm.ppf(p))]
                                            for p in ps])


def gamma_q():
    cases = [(0.5, 0.1), (1.0, 3.0), (1.5, 10.0), (5.0, 2.0), (50.0, 60.0),
             (0.5, 20.0), (1.0, 0.5), (10.0, 9.5), (2.5, 40.0)]
    table("ref_gamma_q", "struct ref_g",
          [[g(a), g(x), g(special.gammaincc(a, x))] for a, x in cases])


def beta_inc():
    cases = [(2, 3, 0.4), (1, 101, 0.01), (31, 971, 0.03), (500.5, 300, 0.6),
             (1, 1, 0.25), (3001, 97001, 0.0305), (5, 2, 0.99)]
    table("ref_beta_inc", "struct ref_b",
          [[g(a), g(b), g(x), g(special.betainc(a, b, x))]
           for a, b, x in cases])


def wilson():
    cases = [(30, 1000), (0, 10), (0, 1000), (10, 10), (1, 1), (3, 7),
             (1, 3), (500000, 10000000), (999, 1000)]
    rows = []
    for x, n in cases:
        ci = stats.binomtest(x, n).proportion_ci(0.95, method="wilson")
        rows.append([str(x), str(n), g(ci.low), g(ci.high)])
    table("ref_wilson", "struct ref_w", rows)


def newcombe(xa, na, xb, nb):
    a = stats.binomtest(xa, na).proportion_ci(0.95, method="wilson")
    b = stats.binomtest(xb, nb).proportion_ci(0.95, method="wilson")
    pa, pb = xa / na, xb / nb
    d = pb - pa
    lo = d - math.sqrt((pb - b.low) ** 2 + (a.high - pa) ** 2)
    hi = d + math.sqrt((b.high - pb) ** 2 + (pa - a.low) ** 2)
    return d, lo, hi


def uplift(xa, na, xb, nb):
    if xa == 0 or xb == 0:
        return 0.0, 0.0, 0.0
    r = (xb / nb) / (xa / na)
    se = math.sqrt(1 / xa - 1 / na + 1 / xb - 1 / nb)
    return r - 1, math.exp(math.log(r) - Z95 * se) - 1, \
        math.exp(math.log(r) + Z95 * se) - 1


def ztest_p(xa, na, xb, nb):
    # Pearson chi-square on the 2x2 table without Yates' correction equals
    # the pooled two-proportion z-test squared.
    t = np.array([[xa, na - xa], [xb, nb - xb]])
    chi2, p, _, _ = stats.chi2_contingency(t, correction=False)
    return p


def compare():
    cases = [(100, 2000, 130, 2000), (20, 500, 0, 500), (0, 500, 7, 500),
             (1, 3, 2, 4), (10, 10, 9, 10), (7, 10, 10, 10),
             (300000, 10000000, 303000, 10000000), (45, 1000, 30, 1200)]
    rows = []
    for xa, na, xb, nb in cases:
        d, lo, hi = newcombe(xa, na, xb, nb)
        u, ul, uh = uplift(xa, na, xb, nb)
        rows.append([str(xa), str(na), str(xb), str(nb), g(d), g(lo), g(hi),
                     g(u), g(ul), g(uh), g(ztest_p(xa, na, xb, nb))])
    table("ref_compare", "struct ref_c", rows)


def window(a, b, k=40.0):
    m = a / (a + b)
    s = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    return max(0.0, m - k * s), min(1.0, m + k * s)


def prob_best(arms, k):
    """P(arm k has the highest rate) by adaptive quadrature."""
    post = [(1 + x, 1 + n - x) for x, n in arms]
    lo, hi = window(*post[k])
    pts = sorted({p for j in range(len(post)) for p in window(*post[j])
                  if lo < p < hi} |
                 {post[j][0] / sum(post[j]) for j in range(len(post))
                  if lo < post[j][0] / sum(post[j]) < hi})

    def f(p):
        v = stats.beta.pdf(p, *post[k])
        for j, (a, b) in enumerate(post):
            if j != k:
                v *= special.betainc(a, b, p)
        return v

    edges = [lo] + pts + [hi]
    total = 0.0
    for e0, e1 in zip(edges, edges[1:]):
        v, _ = integrate.quad(f, e0, e1, epsabs=1e-15, epsrel=1e-13,
                              limit=1000)
        total += v
    return total


def beat():
    cases = [(100, 2000, 130, 2000), (0, 0, 0, 0), (0, 10, 0, 10),
             (0, 100, 3, 100), (10, 10, 9, 10), (1, 3, 2, 4),
             (2000, 100000, 2100, 100000), (150, 1000, 149, 1000),
             (900, 1000, 930, 1000),
             # both sides of STATS_BEAT_EXACT_MAX (200000)
             (199000, 10000000, 199999, 10000000),
             (201000, 10000000, 202001, 10000000)]
    rows = [[str(c) for c in case] + [g(prob_best([case[:2], case[2:]], 1))]
            for case in cases]
    table("ref_beat", "struct ref_beat", rows)


def best():
    sets = [[(100, 2000), (120, 2000), (110, 2000)],
            [(0, 50), (1, 50), (2, 50)],
            [(5, 100), (3000, 100000), (3200, 100000)],
            [(30, 1000), (30, 1000), (30, 1000)]]
    for i, arms in enumerate(sets):
        ps = [prob_best(arms, k) for k in range(len(arms))]
        s = sum(ps)
        print("/* raw sum %.15g */" % s)
        print("static const struct ref_best_arm ref_best%d[] = {" % i)
        for (x, n), p in zip(arms, ps):
            print("\t{%d, %d, %s}," % (x, n, g(p / s)))
        print("};\n")


def srm():
    cases = [([5000, 5100], [1, 1]), ([1000, 1000, 1100], [1, 1, 1]),
             ([9000, 1100], [0.9, 0.1]), ([50000, 50600, 49400], [1, 1, 1]),
             ([10000, 10300, 9700], [1, 1, 1]), ([500, 2500], [1, 4])]
    print("static const struct ref_srm ref_srm[] = {")
    for obs, w in cases:
        e = np.array(w, float) / sum(w) * sum(obs)
        chi2, p = stats.chisquare(obs, e)
        print("\t{%d, {%s}, {%s}, %s, %s}," % (
            len(obs), ", ".join(str(o) for o in obs),
            ", ".join(g(x) for x in w), g(chi2), g(p)))
    print("};\n")


def sample_size():
    cases = [(0.05, 0.10, 0.05, 0.8), (0.30, 0.05, 0.05, 0.8),
             (0.01, 0.20, 0.05, 0.9), (0.10, -0.10, 0.01, 0.8)]
    rows = []
    for p1, mde, alpha, power in cases:
        p2 = p1 * (1 + mde)
        pm = (p1 + p2) / 2
        za, zb = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
        n = (za * math.sqrt(2 * pm * (1 - pm)) +
             zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / \
            (p2 - p1) ** 2
        rows.append([g(p1), g(mde), g(alpha), g(power), str(math.ceil(n))])
    table("ref_sample", "struct ref_n", rows)


def msprt():
    cases = [(100, 2000, 130, 2000, 1e-4), (500, 10000, 600, 10000, 1e-4),
             (50, 1000, 52, 1000, 4e-4), (5000, 100000, 5400, 101000, 2.5e-5)]
    rows = []
    for xa, na, xb, nb, tau2 in cases:
        pa, pb = xa / na, xb / nb
        pool = (xa + xb) / (na + nb)
        v = pool * (1 - pool) * (1 / na + 1 / nb)
        d = pb - pa
        lam = math.sqrt(v / (v + tau2)) * \
            math.exp(tau2 * d * d / (2 * v * (v + tau2)))
        vu = pa * (1 - pa) / na + pb * (1 - pb) / nb
        half = math.sqrt(2 * vu * (vu + tau2) / tau2 *
                         (math.log(1 / 0.05) +
                          0.5 * math.log((vu + tau2) / vu)))
        rows.append([str(xa), str(na), str(xb), str(nb), g(tau2),
                     g(min(1.0, 1 / lam)), g(d - half), g(d + half)])
    table("ref_msprt", "struct ref_m", rows)


def revenue():
    """Per-visitor revenue from explicit deterministic samples: mean and
    variance by NumPy from the raw values, the C code sees only sums."""
    rows = []
    rng = np.random.default_rng(20240601)
    for na, nb, ca, cb, scale in [(2000, 2100, 0.05, 0.06, 40.0),
                                  (50000, 50000, 0.03, 0.03, 120.0),
                                  (30, 40, 0.2, 0.1, 10.0)]:
        a = np.where(rng.random(na) < ca, rng.gamma(2.0, scale, na), 0.0)
        b = np.where(rng.random(nb) < cb, rng.gamma(2.0, scale, nb), 0.0)
        a, b = np.round(a, 2), np.round(b, 2)
        se = math.sqrt(np.var(a, ddof=1) / na + np.var(b, ddof=1) / nb)
        d = b.mean() - a.mean()
        rows.append([str(na), g(a.sum()), g((a * a).sum()),
                     str(int((a > 0).sum())), str(nb), g(b.sum()),
                     g((b * b).sum()), str(int((b > 0).sum())),
                     g(a.mean()), g(b.mean()), g(d - Z95 * se),
                     g(d + Z95 * se), g(2 * stats.norm.sf(abs(d) / se))])
    table("ref_revenue", "struct ref_r", rows)


if __name__ == "__main__":
    print("/* generated by tests/stats/reference.py, SciPy %s */\n"
          % __import__("scipy").__version__)
    quantiles()
    gamma_q()
    beta_inc()
    wilson()
    compare()
    beat()
    best()
    srm()
    sample_size()
    msprt()
    revenue()
