/*
 * assign.c - deterministic variant assignment: GrowthBook's hash v2 and
 * bucket ranges, with a holdout on its own seed (the formulas, and the
 * stability guarantee when weights change, are in assign.h).
 *
 * Owns no state: a plan is a small value the caller embeds (one per
 * campaign and seed generation) and never changes after assign_plan_init,
 * so any thread may assign visitors with it.  The hash itself is
 * rule_bucket() from rules.c, so a rule holdout and a campaign bucket can
 * never disagree on what FNV-1a means.  All arithmetic is on integers so
 * that the tag's JavaScript gets the very same answer.
 */
#include "assign.h"

#include <stdio.h>
#include <string.h>

#include "rules.h"

bool
assign_visitor_ok(struct nudge_strv v)
{
	if (v.len == 0 || v.len > EVENT_VISITOR_MAX || v.ptr == NULL)
		return false;
	for (uint32_t i = 0; i < v.len; i++) {
		unsigned char c = (unsigned char)v.ptr[i];

		if (c < 0x21 || c > 0x7e)
			return false;
	}
	return true;
}

int
assign_bucket(struct nudge_strv seed, struct nudge_strv visitor,
    unsigned *out)
{
	if (!assign_visitor_ok(visitor) || out == NULL)
		return NUDGE_EINVAL;
	*out = rule_bucket(seed, visitor);
	return NUDGE_OK;
}

int
assign_ranges(const uint8_t *weights, unsigned n, unsigned coverage_bp,
    struct assign_range *out)
{
	struct assign_range r[ASSIGN_VARIANTS_MAX];
	uint32_t cum = 0;

	if (weights == NULL || out == NULL || n == 0 ||
	    n > ASSIGN_VARIANTS_MAX || coverage_bp > ASSIGN_BUCKETS)
		return NUDGE_EINVAL;
	for (unsigned i = 0; i < n; i++) {
		if (weights[i] > 100)
			return NUDGE_EINVAL;
		/* C_i * 10000 and C_i * 10000 + coverage_bp * w_i: exact. */
		r[i].start = cum * 10000u;
		r[i].end = r[i].start + coverage_bp * weights[i];
		cum += weights[i];
	}
	if (cum != 100)
		return NUDGE_EINVAL;
	memcpy(out, r, n * sizeof(r[0]));
	return NUDGE_OK;
}

int
assign_choose(const struct assign_range *r, unsigned n, unsigned bucket)
{
	uint32_t x = bucket * 100u;	/* the bucket in millionths */

	for (unsigned i = 0; i < n; i++)
		if (x >= r[i].start && x < r[i].end)
			return (int)i;
	return ASSIGN_NONE;
}

/* A salt is a name: it must not be able to forge another seed's shape. */
static bool
salt_ok(const char *salt)
{
	size_t n;

	if (salt == NULL || (n = strlen(salt)) == 0 || n > ASSIGN_SALT_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)salt[i];

		if (c < 0x21 || c > 0x7e || c == ':')
			return false;
	}
	return true;
}

int
assign_plan_init(struct assign_plan *p, const char *salt,
    uint32_t generation, const uint8_t *weights, unsigned n,
    unsigned holdout_bp)
{
	struct assign_plan np;
	int vl, hl;

	if (p == NULL || !salt_ok(salt) || holdout_bp >= ASSIGN_BUCKETS)
		return NUDGE_EINVAL;
	memset(&np, 0, sizeof(np));
	if (assign_ranges(weights, n, ASSIGN_BUCKETS, np.range) != 0)
		return NUDGE_EINVAL;
	/* Both fit: 17 + 63 + 1 + 10 + 1 < ASSIGN_SEED_MAX. */
	vl = snprintf(np.vseed, sizeof(np.vseed), "%s:%u:", salt,
	    (unsigned)generation);
	hl = snprintf(np.hseed, sizeof(np.hseed), "campaign-holdout:%s:%u:",
	    salt, (unsigned)generation);
	if (vl < 0 || hl < 0 || (size_t)hl >= sizeof(np.hseed))
		return NUDGE_EINVAL;
	np.n = (uint8_t)n;
	np.holdout_bp = (uint16_t)holdout_bp;
	np.vseed_len = (uint16_t)vl;
	np.hseed_len = (uint16_t)hl;
	*p = np;
	return NUDGE_OK;
}

int
assign_visitor(const struct assign_plan *p, struct nudge_strv visitor,
    int *variant)
{
	struct nudge_strv vs, hs;
	int v;

	if (p == NULL || variant == NULL || !assign_visitor_ok(visitor))
		return NUDGE_EINVAL;
	vs.ptr = p->vseed;
	vs.len = p->vseed_len;
	hs.ptr = p->hseed;
	hs.len = p->hseed_len;
	/* Skip the second hash when nobody is held out. */
	if (p->holdout_bp > 0 && rule_bucket(hs, visitor) < p->holdout_bp) {
		*variant = ASSIGN_HOLDOUT;
		return NUDGE_OK;
	}
	v = assign_choose(p->range, p->n, rule_bucket(vs, visitor));
	/* Coverage is 100%: every bucket is in exactly one range. */
	*variant = v < 0 ? 0 : v;
	return NUDGE_OK;
}
