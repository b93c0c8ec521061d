/*
 * ab.c - nudge-sim's campaigns, broken splits and rule lifts: parsing the
 * specs and deciding, per visitor, variant, drop and purchase.
 *
 * Assignment is common/assign.h's, the agent's own code, so the simulator
 * and every agent agree on every visitor by construction.  The draws use
 * gen.h's PRNG on streams keyed by (seed ^ a per-purpose constant, visitor
 * index): independent of the session's own stream, so a campaign changes
 * whether a visitor buys and nothing else about them.  Owns nothing on
 * the heap; single-threaded.
 */
#include "ab.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gen.h"

/* Stream keys: one per kind of draw. */
#define KEY_BUY 0x6275792d64726177ULL  /* "buy-draw" */
#define KEY_DROP 0x64726f702d647261ULL /* "drop-dra" */

static int say(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
say(char *err, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
	return NUDGE_EINVAL;
}

void
ab_init(struct ab *a)
{
	memset(a, 0, sizeof(*a));
}

bool
ab_active(const struct ab *a)
{
	return a->n_camp > 0 || a->n_lift > 0;
}

/* Copies the text before the first ':' of s into out; *rest after it. */
static bool
take_name(const char *s, char *out, const char **rest)
{
	const char *c = strchr(s, ':');
	size_t n = c != NULL ? (size_t)(c - s) : strlen(s);

	if (n == 0 || n > AB_NAME_MAX)
		return false;
	for (size_t k = 0; k < n; k++)
		if (s[k] <= ' ' || s[k] > '~')
			return false;
	memcpy(out, s, n);
	out[n] = '\0';
	*rest = c != NULL ? c + 1 : NULL;
	return true;
}

/* A probability: "0.045" or "4.5%", in [0, 1]; end is where it stopped. */
static bool
parse_prob(const char *s, double *out, const char **end)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (e == s || errno != 0 || !isfinite(v))
		return false;
	if (*e == '%') {
		v /= 100;
		e++;
	}
	if (v < 0 || v > 1)
		return false;
	*out = v;
	*end = e;
	return true;
}

static bool
parse_uint(
    const char *s, unsigned long max, unsigned long *out, const char **end)
{
	char *e;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &e, 10);
	if (errno != 0 || v > max)
		return false;
	*out = v;
	*end = e;
	return true;
}

/* "10%" or "2.5%" (two decimals at most) in basis points, 0..9999. */
static bool
parse_holdout(const char *s, uint16_t *bp)
{
	char *e;
	double v;

	errno = 0;
	v = strtod(s, &e);
	if (e == s || errno != 0 || strcmp(e, "%") != 0 || !(v >= 0) ||
	    v >= 100)
		return false;
	v *= 100;
	if (fabs(v - round(v)) > 1e-6)
		return false;
	*bp = (uint16_t)round(v);
	return true;
}

static int
find_campaign(const struct ab *a, const char *name)
{
	for (unsigned k = 0; k < a->n_camp; k++)
		if (strcmp(a->camp[k].name, name) == 0)
			return (int)k;
	return -1;
}

/* W1,W2,... up to ':' or the end. */
static int
parse_weights(struct ab_campaign *c, const char **p, char *err, size_t cap)
{
	unsigned sum = 0;
	unsigned long w;
	const char *s = *p;

	for (c->n = 0;; s++) {
		if (c->n == ASSIGN_VARIANTS_MAX)
			return say(err, cap, "at most %d variants",
			    ASSIGN_VARIANTS_MAX);
		if (!parse_uint(s, 100, &w, &s))
			return say(err, cap, "a weight is 0..100");
		c->weight[c->n++] = (uint8_t)w;
		sum += (unsigned)w;
		if (*s != ',')
			break;
	}
	if (c->n < 2 || sum != 100)
		return say(err, cap, "2 or more weights summing to 100");
	if (*s != ':')
		return say(err, cap, "purchase rates missing after '%.*s'",
		    (int)(s - *p), *p);
	*p = s + 1;
	return 0;
}

/* R1,R2,... one per variant, then the end or ":HOLDOUT%". */
static int
parse_rates(struct ab_campaign *c, const char **p, char *err, size_t cap)
{
	const char *s = *p;

	for (unsigned k = 0; k < c->n; k++) {
		if (!parse_prob(s, &c->rate[k], &s))
			return say(err, cap,
			    "rate %u: a probability in "
			    "[0, 1] (0.03 or 3%%)",
			    k + 1);
		if (k + 1 < c->n && *s++ != ',')
			return say(
			    err, cap, "%u rates for %u weights", k + 1, c->n);
	}
	if (*s == ',')
		return say(err, cap, "more rates than weights (%u)", c->n);
	if (*s == ':' && !parse_holdout(s + 1, &c->holdout_bp))
		return say(err, cap,
		    "holdout: a percentage below 100, two "
		    "decimals at most (10%%)");
	if (*s != ':' && *s != '\0')
		return say(err, cap, "unexpected '%s'", s);
	return 0;
}

int
ab_add_campaign(struct ab *a, const char *spec, char *err, size_t cap)
{
	struct ab_campaign c;
	const char *p;
	int rc;

	memset(&c, 0, sizeof(c));
	if (a->n_camp == AB_CAMPAIGNS_MAX)
		return say(err, cap, "at most %d campaigns", AB_CAMPAIGNS_MAX);
	if (!take_name(spec, c.name, &p) || p == NULL)
		return say(err, cap,
		    "NAME:W1,W2,...:R1,R2,...[:HOLDOUT%%], "
		    "not '%s'",
		    spec);
	if (find_campaign(a, c.name) >= 0)
		return say(err, cap, "campaign %s given twice", c.name);
	if ((rc = parse_weights(&c, &p, err, cap)) != 0 ||
	    (rc = parse_rates(&c, &p, err, cap)) != 0)
		return rc;
	a->camp[a->n_camp++] = c;
	return 0;
}

static int
add_pending(
    const char **v, unsigned *n, const char *spec, char *err, size_t cap)
{
	if (*n == AB_PENDING_MAX)
		return say(err, cap, "at most %d of these", AB_PENDING_MAX);
	v[(*n)++] = spec;
	return 0;
}

int
ab_add_drop(struct ab *a, const char *spec, char *err, size_t cap)
{
	return add_pending(a->drop_spec, &a->n_drop, spec, err, cap);
}

int
ab_add_generation(struct ab *a, const char *spec, char *err, size_t cap)
{
	return add_pending(a->gen_spec, &a->n_gen, spec, err, cap);
}

int
ab_add_lift(struct ab *a, const char *spec, char *err, size_t cap)
{
	struct ab_lift l;
	const char *p, *e;

	if (a->n_lift == AB_LIFTS_MAX)
		return say(err, cap, "at most %d rule lifts", AB_LIFTS_MAX);
	if (!take_name(spec, l.rule, &p) || p == NULL ||
	    !parse_prob(p, &l.rate, &e) || *e != '\0')
		return say(err, cap,
		    "RULE:RATE (RATE in [0, 1] or a "
		    "percentage), not '%s'",
		    spec);
	if (ab_lift_find(a, l.rule, strlen(l.rule)) >= 0)
		return say(err, cap, "rule %s given twice", l.rule);
	a->lift[a->n_lift++] = l;
	return 0;
}

/* NAME:I:FRACTION */
static int
resolve_drop(struct ab *a, const char *spec, char *err, size_t cap)
{
	char name[AB_NAME_MAX + 1];
	const char *p, *e;
	unsigned long i;
	double f;
	int k;

	if (!take_name(spec, name, &p) || p == NULL ||
	    !parse_uint(p, ASSIGN_VARIANTS_MAX, &i, &e) || *e != ':' ||
	    !parse_prob(e + 1, &f, &e) || *e != '\0')
		return say(err, cap,
		    "--drop-variant NAME:I:FRACTION, not "
		    "'%s'",
		    spec);
	if ((k = find_campaign(a, name)) < 0)
		return say(err, cap, "--drop-variant %s: no --campaign %s",
		    spec, name);
	if (i >= a->camp[k].n)
		return say(err, cap,
		    "--drop-variant %s: %s has variants "
		    "0..%u",
		    spec, name, a->camp[k].n - 1u);
	a->camp[k].drop[i] = f;
	return 0;
}

/* NAME:G */
static int
resolve_generation(struct ab *a, const char *spec, char *err, size_t cap)
{
	char name[AB_NAME_MAX + 1];
	const char *p, *e;
	unsigned long g;
	int k;

	if (!take_name(spec, name, &p) || p == NULL ||
	    !parse_uint(p, UINT32_MAX, &g, &e) || *e != '\0')
		return say(
		    err, cap, "--campaign-generation NAME:G, not '%s'", spec);
	if ((k = find_campaign(a, name)) < 0)
		return say(err, cap,
		    "--campaign-generation %s: no "
		    "--campaign %s",
		    spec, name);
	a->camp[k].generation = (uint32_t)g;
	return 0;
}

int
ab_finish(struct ab *a, uint64_t seed, char *err, size_t cap)
{
	int rc;

	a->seed = seed;
	for (unsigned k = 0; k < a->n_drop; k++)
		if ((rc = resolve_drop(a, a->drop_spec[k], err, cap)) != 0)
			return rc;
	for (unsigned k = 0; k < a->n_gen; k++)
		if ((rc = resolve_generation(a, a->gen_spec[k], err, cap)) !=
		    0)
			return rc;
	for (unsigned k = 0; k < a->n_camp; k++) {
		struct ab_campaign *c = &a->camp[k];

		if (assign_plan_init(&c->plan, c->name, c->generation,
		        c->weight, c->n, c->holdout_bp) != 0)
			return say(err, cap,
			    "campaign %s: not a valid name "
			    "for assignment",
			    c->name);
	}
	return 0;
}

/* Uniform in [0, 1) from stream (seed ^ key, index), 53 bits. */
static double
draw(const struct ab *a, uint64_t key, uint64_t index)
{
	struct gen_rng r;

	gen_rng_seed(&r, a->seed ^ key, index);
	return (double)(gen_rng_next(&r) >> 11) * 0x1p-53;
}

void
ab_visitor(const struct ab *a, uint64_t index, struct nudge_strv id,
    struct ab_visitor *out)
{
	memset(out, 0, sizeof(*out));
	out->decider = -1;
	out->buy = GEN_BUY_DEFAULT;
	out->u = draw(a, KEY_BUY, index);
	for (unsigned k = 0; k < a->n_camp; k++) {
		const struct ab_campaign *c = &a->camp[k];
		int v = ASSIGN_HOLDOUT;

		/* Ids from gen_visitor_id are always valid. */
		if (assign_visitor(&c->plan, id, &v) != 0)
			v = ASSIGN_HOLDOUT;
		out->variant[k] = (int8_t)v;
		if (v < 0)
			continue;
		if (out->decider < 0) {
			out->decider = (int8_t)k;
			out->buy =
			    out->u < c->rate[v] ? GEN_BUY_YES : GEN_BUY_NO;
		}
		if (c->drop[v] > 0 &&
		    draw(a, KEY_DROP ^ gen_mix64(k + 1), index) < c->drop[v])
			out->dropped = true;
	}
}

int
ab_lift_find(const struct ab *a, const char *id, size_t len)
{
	for (unsigned k = 0; k < a->n_lift; k++)
		if (strlen(a->lift[k].rule) == len &&
		    memcmp(a->lift[k].rule, id, len) == 0)
			return (int)k;
	return -1;
}
