/*
 * ab.h - the A/B truth nudge-sim plays: campaigns whose variants truly
 * convert at given rates, broken splits, and rules that truly help.
 *
 * A campaign (--campaign NAME:W1,W2,...:R1,R2,...[:HOLDOUT%]) is assigned
 * exactly as the agent assigns it: assign_plan_init() with salt = NAME,
 * the campaign's seed generation (0 unless --campaign-generation) and
 * holdout, so the simulator knows every visitor's variant without asking.
 * A visitor in variant i of the first campaign (command-line order) that
 * has them in a variant buys with probability R_i per visit instead of
 * the shop's 2.5%; held-out visitors, and visitors of no campaign, keep
 * the shop's odds.  A --drop-variant NAME:I:FRACTION visitor of variant I
 * sends nothing at all (a split broken in front of the agent: SRM).  A
 * --rule-lift RULE:RATE visitor who was shown RULE (beacon output only)
 * buys with probability RATE instead.
 *
 * Every decision is a pure function of (seed, visitor index, visitor id):
 * the purchase draw, the drop draws and the lift draw come from PRNG
 * streams of their own, so adding a campaign never changes the sessions
 * of visitors it does not touch, and two runs with the same seed send
 * the same visitors the same way to any number of agents.
 *
 * Spec strings are parsed by ab_add_*(); drops and generations may name a
 * campaign declared later, so they are resolved by ab_finish().  The spec
 * strings must outlive the struct ab (argv does).  A struct ab is
 * read-only after ab_finish(); single-threaded use by nudge-sim.
 */
#ifndef NUDGE_SIM_AB_H
#define NUDGE_SIM_AB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assign.h"
#include "event.h"

#define AB_CAMPAIGNS_MAX 64 /* = RULE_CAMPAIGNS_MAX */
#define AB_LIFTS_MAX 8
#define AB_PENDING_MAX 128 /* --drop-variant and --campaign-generation */
#define AB_NAME_MAX ASSIGN_SALT_MAX

struct ab_campaign {
	char name[AB_NAME_MAX + 1];
	uint8_t n; /* variants, 2..ASSIGN_VARIANTS_MAX */
	uint8_t weight[ASSIGN_VARIANTS_MAX];
	double rate[ASSIGN_VARIANTS_MAX]; /* purchase probability per visit */
	double drop[ASSIGN_VARIANTS_MAX]; /* fraction never sent */
	uint16_t holdout_bp;
	uint32_t generation;
	struct assign_plan plan; /* built by ab_finish() */
};

struct ab_lift {
	char rule[AB_NAME_MAX + 1];
	double rate;
};

struct ab {
	uint64_t seed;
	unsigned n_camp;
	struct ab_campaign camp[AB_CAMPAIGNS_MAX];
	unsigned n_lift;
	struct ab_lift lift[AB_LIFTS_MAX];
	unsigned n_drop, n_gen; /* pending specs, resolved by ab_finish */
	const char *drop_spec[AB_PENDING_MAX];
	const char *gen_spec[AB_PENDING_MAX];
};

/* What one visitor is in; ab_visitor() writes every field. */
struct ab_visitor {
	int8_t variant[AB_CAMPAIGNS_MAX]; /* 0..n-1 or ASSIGN_HOLDOUT */
	int8_t decider; /* campaign whose rate applies, or -1 */
	bool dropped;   /* a --drop-variant drops the whole visit */
	int8_t buy;     /* enum gen_buy: what the campaigns decided */
	double u;       /* the visitor's purchase draw, uniform in [0, 1) */
};

void ab_init(struct ab *a);

/*
 * Adds one --campaign, --drop-variant, --campaign-generation or
 * --rule-lift spec.  Returns 0, or NUDGE_EINVAL with a message in err
 * (cap bytes) naming what is wrong; *a is unchanged then.
 */
int ab_add_campaign(struct ab *a, const char *spec, char *err, size_t cap);
int ab_add_drop(struct ab *a, const char *spec, char *err, size_t cap);
int ab_add_generation(struct ab *a, const char *spec, char *err, size_t cap);
int ab_add_lift(struct ab *a, const char *spec, char *err, size_t cap);

/*
 * Resolves the drops and generations against the campaigns and builds
 * every assignment plan for the run's seed.  Returns 0 or NUDGE_EINVAL
 * (an unknown campaign or variant index) with a message in err.
 */
int ab_finish(struct ab *a, uint64_t seed, char *err, size_t cap);

/* True when the run plays any campaign or rule lift. */
bool ab_active(const struct ab *a);

/*
 * Visitor index's place in every campaign and the decisions above into
 * *out.  id is the visitor id the agent will see.
 */
void ab_visitor(const struct ab *a, uint64_t index, struct nudge_strv id,
    struct ab_visitor *out);

/* The --rule-lift index of rule id (len bytes), or -1. */
int ab_lift_find(const struct ab *a, const char *id, size_t len);

#endif
