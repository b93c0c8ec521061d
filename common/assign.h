/*
 * assign.h - deterministic variant assignment of campaign visitors.
 *
 * Every agent, and the browser tag, computes a visitor's variant from the
 * same inputs and nothing else: no per-visitor state is stored anywhere.
 *
 * Hash (GrowthBook's hash v2, the same as rule_bucket() in rules.h):
 *	bucket(seed, id) = fnv1a32(decimal(fnv1a32(seed + id))) % 10000
 * where fnv1a32 is 32-bit FNV-1a over the ASCII bytes (offset 2166136261,
 * prime 16777619), decimal() the base-10 digits of the unsigned value and
 * + concatenation.  GrowthBook's n = bucket / 10000, in [0, 1).
 *
 * Seeds of a campaign with salt S (its name) and seed generation G (a
 * decimal number the operator bumps to reshuffle):
 *	variant seed  = S + ":" + G + ":"
 *	holdout seed  = "campaign-holdout:" + S + ":" + G + ":"
 *
 * Ranges (GrowthBook's getBucketRanges): with weights w_i in percent
 * (sum 100) and coverage c in [0, 1], variant i owns
 *	[C_i, C_i + c * w_i)	where C_i = w_0 + ... + w_(i-1)
 * of the unit interval; n = bucket / 10000 is in variant i iff it is in
 * that range, else in no variant.  To stay exact in C and in JS (no
 * floating point anywhere) ranges are kept in millionths:
 *	start_i = C_i * 10000,  end_i = start_i + coverage_bp * w_i,
 *	bucket b is in range i iff start_i <= 100 * b < end_i.
 *
 * A campaign's plan uses coverage 100% and a holdout decided by its own
 * seed:
 *	held out  iff  bucket(holdout seed, id) < holdout_bp
 *	else variant i such that 100 * C_i <= bucket(variant seed, id)
 *	                                    < 100 * C_(i+1)
 * Held-out visitors are in no variant: they see nothing of the campaign
 * and are counted apart.
 *
 * Why the holdout has its own seed rather than GrowthBook's coverage: with
 * coverage the held-out part is the tail of every variant's range, so a
 * weight change also moves visitors between the holdout and the variants
 * (50/50 -> 90/10 at a 10% holdout: 18% of all visitors change holdout
 * status).  With its own seed, weights never touch the holdout and the
 * holdout never moves a visitor from one variant to another.
 *
 * Stability when weights change (seed generation unchanged).  Ranges are
 * contiguous and in declaration order, so a change only moves the
 * boundaries C_1 .. C_(n-1); a visitor moves iff their bucket lies between
 * an old and a new boundary.  Exactly:
 *	moved fraction <= sum over j of |C_j - C'_j|
 * and, for two variants, moved fraction = |w_0 - w'_0| = half the L1
 * distance of the weight vectors, which is the least ANY assignment can
 * achieve (someone has to move for the shares to change).  50/50 -> 90/10
 * moves exactly 40% of visitors, all from the second variant to control,
 * nobody from control.  A naive layout that reassigns at random (hashing
 * the weights into the seed, or reshuffling) moves 1 - sum w_i * w'_i =
 * 50% for the same change.  With three or more variants the bound above
 * can exceed the minimum when a middle variant changes (33/34/33 ->
 * 23/34/43 moves 20%, the minimum is 10%; at worst 50/50/0 -> 0/50/50
 * moves everyone where 50% would do).  tests/test_assign.c checks both
 * bounds over every pair of 3-variant weight vectors on a 10% grid: 2706
 * of the 4356 changes move the minimum.  Operators who need better with
 * three or more variants change the weights of adjacent variants only.
 *
 * Reshuffle: bumping the generation changes both seeds, so every visitor
 * is assigned afresh; with k equal variants about 1 - 1/k of them move.
 *
 * Visitor ids are ASCII only, printable and without spaces, 1 to
 * EVENT_VISITOR_MAX bytes (event.h): JavaScript hashes UTF-16 code units,
 * which equal bytes only for ASCII.  Others are refused with NUDGE_EINVAL.
 *
 * The tag's twin is nudgeAssign() in agent/web/nudge.js;
 * tests/integration/assign_js.sh checks that both agree on 100,000 ids.
 *
 * Threads: a plan is immutable after assign_plan_init(); any number of
 * threads may call assign_visitor() on it at once.
 */
#ifndef NUDGE_ASSIGN_H
#define NUDGE_ASSIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

#define ASSIGN_BUCKETS 10000u
#define ASSIGN_VARIANTS_MAX 8	/* = RULE_VARIANTS_MAX */
#define ASSIGN_SALT_MAX 63	/* = RULE_NAME_MAX */
#define ASSIGN_SEED_MAX 96	/* "campaign-holdout:" + salt + ":G:" */

#define ASSIGN_HOLDOUT (-1)	/* held out of the campaign */
#define ASSIGN_NONE (-2)	/* outside every range (coverage < 100%) */

/* [start, end) in millionths of the unit interval. */
struct assign_range {
	uint32_t start;
	uint32_t end;
};

/* True if v is a valid visitor id (see above). */
bool assign_visitor_ok(struct nudge_strv v);

/*
 * The bucket (0..9999) of visitor under seed into *out.  Returns 0, or
 * NUDGE_EINVAL for an invalid visitor id (*out untouched).
 */
int assign_bucket(struct nudge_strv seed, struct nudge_strv visitor,
    unsigned *out);

/*
 * GrowthBook's getBucketRanges: n (1..ASSIGN_VARIANTS_MAX) weights in
 * percent summing to 100 (zeros allowed: an empty range), coverage in
 * basis points (0..10000).  Fills out[0..n-1]; returns 0 or NUDGE_EINVAL
 * (out untouched).
 */
int assign_ranges(const uint8_t *weights, unsigned n, unsigned coverage_bp,
    struct assign_range *out);

/* The index of the range holding bucket, or ASSIGN_NONE. */
int assign_choose(const struct assign_range *r, unsigned n, unsigned bucket);

/* Everything needed to assign visitors of one campaign. */
struct assign_plan {
	uint8_t n;			/* variants; [0] is control */
	uint16_t holdout_bp;		/* 0..9999 */
	uint16_t vseed_len, hseed_len;
	char vseed[ASSIGN_SEED_MAX];	/* not NUL-terminated */
	char hseed[ASSIGN_SEED_MAX];
	struct assign_range range[ASSIGN_VARIANTS_MAX];
};

/*
 * Builds *p for salt (1..ASSIGN_SALT_MAX printable ASCII bytes, no ':' or
 * space), generation, n weights as for assign_ranges() (coverage 100%) and
 * holdout_bp (0..9999).  Returns 0, or NUDGE_EINVAL with *p untouched.
 */
int assign_plan_init(struct assign_plan *p, const char *salt,
    uint32_t generation, const uint8_t *weights, unsigned n,
    unsigned holdout_bp);

/*
 * The visitor's variant (0..n-1) or ASSIGN_HOLDOUT into *variant.  Returns
 * 0, or NUDGE_EINVAL for an invalid id (*variant untouched).
 */
int assign_visitor(const struct assign_plan *p, struct nudge_strv visitor,
    int *variant);

#endif
