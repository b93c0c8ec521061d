/*
 * test_assign.c - unit tests of common/assign.c.
 *
 * Known vectors were computed by an independent Python 3 implementation
 * (no third-party packages) of the formulas in assign.h and are written
 * here as constants.  The statistical checks run 100,000 visitor ids made
 * like the tag's (16 hex digits from a seeded splitmix64, the same as
 * tests/tools/assign_dump.c) and use fixed bounds:
 * - splits: Pearson's chi-square against the weights, below the 0.1%
 *   critical value (10.828 for 1 degree of freedom, 16.266 for 3);
 * - shares and moved fractions: within 4 binomial standard deviations,
 *   4 * sqrt(p (1 - p) / 100000) (0.0062 at p = 0.4).
 * Stability is also checked exactly, bucket by bucket (no statistics).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <inttypes.h>
#include <math.h>

#include "assign.h"
#include "err.h"
#include "rules.h"

#define N_IDS 100000

static char ids[N_IDS][17];

/* splitmix64: the ids of tests/tools/assign_dump.c. */
static uint64_t
sm_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int
setup_ids(void **state)
{
	uint64_t s = 20240515;

	(void)state;
	for (int i = 0; i < N_IDS; i++)
		snprintf(ids[i], sizeof(ids[i]), "%016" PRIx64, sm_next(&s));
	return 0;
}

static struct nudge_strv
id(int i)
{
	return strv_of(ids[i]);
}

static struct assign_plan
plan(const char *salt, uint32_t gen, const uint8_t *w, unsigned n,
    unsigned hold)
{
	struct assign_plan p;

	assert_int_equal(assign_plan_init(&p, salt, gen, w, n, hold), 0);
	return p;
}

static int
pick(const struct assign_plan *p, int i)
{
	int v = -99;

	assert_int_equal(assign_visitor(p, id(i), &v), 0);
	return v;
}

static double
tol4(double p)
{
	return 4 * sqrt(p * (1 - p) / N_IDS);
}

struct vec {
	const char *seed, *vid;
	uint32_t round1;	/* fnv1a32(seed + vid) */
	unsigned bucket;
};

static void
test_vectors(void **state)
{
	/* From tests' independent Python implementation (see the top). */
	static const struct vec v[] = {
	    {"checkout:0:", "0123456789abcdef", 2282837311u, 5914u},
	    {"checkout:1:", "0123456789abcdef", 3638466654u, 6884u},
	    {"checkout:0:", "ffffffffffffffff", 3837842691u, 4538u},
	    {"banner_test:0:", "a", 573085223u, 8186u},
	    {"banner_test:7:", "visitor-42", 695035700u, 9246u},
	    {"campaign-holdout:checkout:0:", "0123456789abcdef", 4164882583u,
		3380u},
	    {"campaign-holdout:banner_test:3:", "Z~!{}", 647429522u, 3248u},
	    {"x:4294967295:", "deadbeefcafebabe", 1435331083u, 1702u},
	    {"", "1", 873244444u, 3263u},
	    {"holdout:promo", "8f14e45fceea167a", 3479972869u, 8377u},
	};
	char buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		unsigned b = 0;

		snprintf(buf, sizeof(buf), "%s%s", v[i].seed, v[i].vid);
		assert_int_equal(rule_fnv1a(RULE_FNV_OFFSET, buf, strlen(buf)),
		    v[i].round1);
		assert_int_equal(assign_bucket(strv_of(v[i].seed),
		    strv_of(v[i].vid), &b), 0);
		assert_int_equal(b, v[i].bucket);
		/* The same hash as a rule's holdout. */
		assert_int_equal(rule_bucket(strv_of(v[i].seed),
		    strv_of(v[i].vid)), v[i].bucket);
	}
}

struct pvec {
	const char *salt;
	uint32_t gen;
	uint8_t w[4];
	unsigned n, hold;
	const char *vid;
	int want;
};

static void
test_plan_vectors(void **state)
{
	static const struct pvec v[] = {
	    {"checkout", 0, {50, 50}, 2, 1000, "0123456789abcdef", 1},
	    {"checkout", 1, {50, 50}, 2, 1000, "0123456789abcdef", 1},
	    {"checkout", 0, {90, 10}, 2, 0, "ffffffffffffffff", 0},
	    {"banner_test", 7, {20, 30, 50}, 3, 0, "visitor-42", 2},
	    {"banner_test", 3, {25, 25, 25, 25}, 4, 2500, "Z~!{}", 0},
	    {"promo", 0, {0, 100}, 2, 500, "8f14e45fceea167a", 1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct assign_plan p = plan(v[i].salt, v[i].gen, v[i].w,
		    v[i].n, v[i].hold);
		int got = -99;

		assert_int_equal(assign_visitor(&p, strv_of(v[i].vid), &got),
		    0);
		assert_int_equal(got, v[i].want);
	}
}

static void
test_visitor_ids(void **state)
{
	static const char *const bad[] = {
	    "", "caf\xc3\xa9", "a b", "tab\there", "nl\n", "\x7f", "\x01",
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4",
	};
	struct assign_plan p = plan("c", 0, (const uint8_t[]){50, 50}, 2, 0);
	unsigned b = 12345;
	int v = 77;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(assign_visitor_ok(strv_of(bad[i])));
		assert_int_equal(assign_bucket(STRV_LIT("s"), strv_of(bad[i]),
		    &b), NUDGE_EINVAL);
		assert_int_equal(assign_visitor(&p, strv_of(bad[i]), &v),
		    NUDGE_EINVAL);
	}
	/* Out-params untouched on failure. */
	assert_int_equal(b, 12345);
	assert_int_equal(v, 77);
	assert_true(assign_visitor_ok(STRV_LIT("!~")));
	assert_true(assign_visitor_ok(strv_of("0123456789012345678901234567890"
	    "123456789012345678901234567890123")));
}

static void
test_ranges(void **state)
{
	struct assign_range r[4] = {{7, 7}, {7, 7}, {7, 7}, {7, 7}};
	const uint8_t w[] = {50, 50}, w3[] = {20, 0, 80};

	(void)state;
	assert_int_equal(assign_ranges(w, 2, 10000, r), 0);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[0].end, 500000);
	assert_int_equal(r[1].start, 500000);
	assert_int_equal(r[1].end, 1000000);
	/* GrowthBook's coverage: the front of each slot. */
	assert_int_equal(assign_ranges(w, 2, 5000, r), 0);
	assert_int_equal(r[0].end, 250000);
	assert_int_equal(r[1].start, 500000);
	assert_int_equal(r[1].end, 750000);
	assert_int_equal(assign_choose(r, 2, 2499), 0);
	assert_int_equal(assign_choose(r, 2, 2500), ASSIGN_NONE);
	assert_int_equal(assign_choose(r, 2, 5000), 1);
	assert_int_equal(assign_choose(r, 2, 9999), ASSIGN_NONE);
	/* A zero weight is an empty range. */
	assert_int_equal(assign_ranges(w3, 3, 10000, r), 0);
	assert_int_equal(assign_choose(r, 3, 1999), 0);
	assert_int_equal(assign_choose(r, 3, 2000), 2);
	/* Refused, out untouched. */
	assert_int_equal(assign_ranges((const uint8_t[]){50, 49}, 2, 10000,
	    r), NUDGE_EINVAL);
	assert_int_equal(assign_ranges((const uint8_t[]){101, 0}, 2, 10000,
	    r), NUDGE_EINVAL);
	assert_int_equal(assign_ranges(w, 2, 10001, r), NUDGE_EINVAL);
	assert_int_equal(assign_ranges(w, 0, 10000, r), NUDGE_EINVAL);
	assert_int_equal(assign_ranges(w, 9, 10000, r), NUDGE_EINVAL);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[2].start, 200000);
}

static void
test_plan_invalid(void **state)
{
	const uint8_t w[] = {50, 50};
	struct assign_plan p;

	(void)state;
	memset(&p, 0xab, sizeof(p));
	assert_int_equal(assign_plan_init(&p, "", 0, w, 2, 0), NUDGE_EINVAL);
	assert_int_equal(assign_plan_init(&p, "a:b", 0, w, 2, 0),
	    NUDGE_EINVAL);
	assert_int_equal(assign_plan_init(&p, "a b", 0, w, 2, 0),
	    NUDGE_EINVAL);
	assert_int_equal(assign_plan_init(&p, "a", 0, w, 2, 10000),
	    NUDGE_EINVAL);
	assert_int_equal(assign_plan_init(&p, "a", 0,
	    (const uint8_t[]){60, 60}, 2, 0), NUDGE_EINVAL);
	assert_int_equal(assign_plan_init(&p,
	    "0123456789012345678901234567890123456789012345678901234567890123",
	    0, w, 2, 0), NUDGE_EINVAL);
	assert_int_equal(p.n, 0xab);
	assert_int_equal(assign_plan_init(&p,
	    "012345678901234567890123456789012345678901234567890123456789012",
	    UINT32_MAX, w, 2, 9999), 0);
}

/* Pearson's chi-square of the counts against the weights. */
static double
chi2(const unsigned *count, const uint8_t *w, unsigned n, unsigned total)
{
	double x = 0;

	for (unsigned i = 0; i < n; i++) {
		double e = total * (w[i] / 100.0);

		x += (count[i] - e) * (count[i] - e) / e;
	}
	return x;
}

static void
check_split(const uint8_t *w, unsigned n, double crit)
{
	struct assign_plan p = plan("split_test", 0, w, n, 0);
	unsigned count[ASSIGN_VARIANTS_MAX] = {0};
	double x;

	for (int i = 0; i < N_IDS; i++)
		count[pick(&p, i)]++;
	x = chi2(count, w, n, N_IDS);
	printf("split %u", w[0]);
	for (unsigned i = 1; i < n; i++)
		printf("/%u", w[i]);
	printf(": chi2 %.3f (critical %.3f)\n", x, crit);
	assert_true(x < crit);
}

static void
test_splits(void **state)
{
	(void)state;
	check_split((const uint8_t[]){50, 50}, 2, 10.828);
	check_split((const uint8_t[]){90, 10}, 2, 10.828);
	check_split((const uint8_t[]){25, 25, 25, 25}, 4, 16.266);
}

/* Two agents: plans built apart from separately built strings. */
static void
test_two_agents(void **state)
{
	char salt_a[16], salt_b[16];
	uint8_t wa[2] = {90, 10}, wb[2];
	struct assign_plan *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	snprintf(salt_a, sizeof(salt_a), "%s", "checkout");
	snprintf(salt_b, sizeof(salt_b), "check%s", "out");
	memcpy(wb, wa, sizeof(wb));
	assert_int_equal(assign_plan_init(a, salt_a, 3, wa, 2, 700), 0);
	assert_int_equal(assign_plan_init(b, salt_b, 3, wb, 2, 700), 0);
	for (int i = 0; i < N_IDS; i++)
		assert_int_equal(pick(a, i), pick(b, i));
	free(a);
	free(b);
}

/* Buckets (of 10000) whose variant differs between two weight vectors. */
static unsigned
moved_buckets(const uint8_t *w0, const uint8_t *w1, unsigned n,
    unsigned cov)
{
	struct assign_range r0[ASSIGN_VARIANTS_MAX], r1[ASSIGN_VARIANTS_MAX];
	unsigned moved = 0;

	assert_int_equal(assign_ranges(w0, n, cov, r0), 0);
	assert_int_equal(assign_ranges(w1, n, cov, r1), 0);
	for (unsigned b = 0; b < ASSIGN_BUCKETS; b++)
		moved += assign_choose(r0, n, b) != assign_choose(r1, n, b);
	return moved;
}

static void
test_stability_5050_9010(void **state)
{
	const uint8_t w0[] = {50, 50}, w1[] = {90, 10};
	struct assign_plan p0 = plan("checkout", 0, w0, 2, 0);
	struct assign_plan p1 = plan("checkout", 0, w1, 2, 0);
	struct assign_plan pn = plan("checkout", 1, w1, 2, 0);
	unsigned moved = 0, from_control = 0, naive = 0;
	double f, fn;

	(void)state;
	/* Exactly |delta w| = 40% of buckets, the least possible. */
	assert_int_equal(moved_buckets(w0, w1, 2, 10000), 4000);
	for (int i = 0; i < N_IDS; i++) {
		int a = pick(&p0, i), b = pick(&p1, i);

		moved += a != b;
		from_control += a == 0 && b != 0;
		naive += a != pick(&pn, i);
	}
	f = (double)moved / N_IDS;
	fn = (double)naive / N_IDS;
	printf("50/50 -> 90/10: moved %.4f (bound 0.40), naive rehash "
	    "%.4f (expected 0.50)\n", f, fn);
	assert_int_equal(from_control, 0);	/* control only grows */
	assert_true(f <= 0.40 + tol4(0.40));
	assert_true(fabs(f - 0.40) <= tol4(0.40));
	assert_true(fabs(fn - 0.50) <= tol4(0.50));
}

static unsigned
absdiff(unsigned a, unsigned b)
{
	return a > b ? a - b : b - a;
}

/* Every pair of weight vectors on a 10% grid, exactly. */
static void
grid_check(unsigned n)
{
	uint8_t w[80][3];
	unsigned nw = 0, at_min = 0, pairs = 0, worst = 0;

	for (unsigned a = 0; a <= 100; a += 10)
		for (unsigned b = 0; a + b <= 100; b += 10) {
			if (n == 2 && b != 100 - a)
				continue;
			w[nw][0] = (uint8_t)a;
			w[nw][1] = (uint8_t)b;
			w[nw++][2] = (uint8_t)(100 - a - b);
		}
	for (unsigned i = 0; i < nw; i++)
		for (unsigned j = 0; j < nw; j++) {
			unsigned m = moved_buckets(w[i], w[j], n, 10000);
			unsigned tv = 0, bound = 0, ci = 0, cj = 0;

			for (unsigned k = 0; k < n; k++) {
				tv += absdiff(w[i][k], w[j][k]);
				ci += w[i][k];
				cj += w[j][k];
				if (k + 1 < n)
					bound += absdiff(ci, cj);
			}
			tv = tv * 100 / 2;	/* percent -> buckets */
			assert_true(m >= tv);
			assert_true(m <= bound * 100);
			if (n == 2)
				assert_int_equal(m, tv);
			at_min += m == tv;
			worst = m - tv > worst ? m - tv : worst;
			pairs++;
		}
	printf("%u variants: %u of %u weight changes move the minimum; worst "
	    "excess %.2f%% of visitors\n", n, at_min, pairs, worst / 100.0);
}

static void
test_stability_grid(void **state)
{
	(void)state;
	grid_check(2);
	grid_check(3);
	/* The example of assign.h: 20% moved where 10% is the minimum. */
	assert_int_equal(moved_buckets((const uint8_t[]){33, 34, 33},
	    (const uint8_t[]){23, 34, 43}, 3, 10000), 2000);
}

static void
test_holdout(void **state)
{
	const uint8_t w0[] = {50, 50}, w1[] = {90, 10};
	struct assign_plan p10 = plan("checkout", 0, w0, 2, 1000);
	struct assign_plan p10w = plan("checkout", 0, w1, 2, 1000);
	struct assign_plan p20 = plan("checkout", 0, w0, 2, 2000);
	unsigned held = 0, flips = 0, count[2] = {0};
	double f;

	(void)state;
	for (int i = 0; i < N_IDS; i++) {
		int a = pick(&p10, i), b = pick(&p10w, i), c = pick(&p20, i);

		held += a == ASSIGN_HOLDOUT;
		flips += (a == ASSIGN_HOLDOUT) != (b == ASSIGN_HOLDOUT);
		if (a >= 0)
			count[a]++;
		/* Growing the holdout only takes in; the rest stay put. */
		if (a == ASSIGN_HOLDOUT)
			assert_int_equal(c, ASSIGN_HOLDOUT);
		else if (c != ASSIGN_HOLDOUT)
			assert_int_equal(c, a);
	}
	f = (double)held / N_IDS;
	printf("holdout 10%%: %.4f held out; 50/50 among the rest: chi2 %.3f;"
	    " holdout changes on 50/50 -> 90/10: %u\n", f,
	    chi2(count, w0, 2, count[0] + count[1]), flips);
	assert_true(fabs(f - 0.10) <= tol4(0.10));
	assert_true(chi2(count, w0, 2, count[0] + count[1]) < 10.828);
	assert_int_equal(flips, 0);
	/* Why not GrowthBook's coverage: 18% would change holdout status. */
	{
		struct assign_range r0[2], r1[2];
		unsigned ch = 0;

		assert_int_equal(assign_ranges(w0, 2, 9000, r0), 0);
		assert_int_equal(assign_ranges(w1, 2, 9000, r1), 0);
		for (unsigned bk = 0; bk < ASSIGN_BUCKETS; bk++)
			ch += (assign_choose(r0, 2, bk) < 0) !=
			    (assign_choose(r1, 2, bk) < 0);
		assert_int_equal(ch, 1800);
	}
}

static void
check_reshuffle(const uint8_t *w, unsigned n, double want)
{
	struct assign_plan p0 = plan("reshuffle", 4, w, n, 0);
	struct assign_plan p1 = plan("reshuffle", 5, w, n, 0);
	unsigned moved = 0;
	double f;

	for (int i = 0; i < N_IDS; i++)
		moved += pick(&p0, i) != pick(&p1, i);
	f = (double)moved / N_IDS;
	printf("reshuffle %u equal variants: moved %.4f (1 - 1/k = %.4f)\n",
	    n, f, want);
	assert_true(fabs(f - want) <= tol4(want));
}

static void
test_reshuffle(void **state)
{
	(void)state;
	check_reshuffle((const uint8_t[]){50, 50}, 2, 0.5);
	check_reshuffle((const uint8_t[]){25, 25, 25, 25}, 4, 0.75);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),
	    cmocka_unit_test(test_plan_vectors),
	    cmocka_unit_test(test_visitor_ids),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_plan_invalid),
	    cmocka_unit_test(test_splits),
	    cmocka_unit_test(test_two_agents),
	    cmocka_unit_test(test_stability_5050_9010),
	    cmocka_unit_test(test_stability_grid),
	    cmocka_unit_test(test_holdout),
	    cmocka_unit_test(test_reshuffle),
	};

	return cmocka_run_group_tests(tests, setup_ids, NULL);
}
