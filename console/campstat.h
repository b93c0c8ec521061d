/*
 * campstat.h - a campaign's fleet-wide results: every agent's counters for
 * it summed, each variant's statistics against control (common/stats.h),
 * the sample-ratio check, the breaker, and the verdict line the campaigns
 * view and `nudge campaign show` print.
 *
 * Merging: agents report the same campaign (by name) each with its own
 * state and version.  The merged state is the one with the highest
 * version (ties: the first agent's); n_agree counts agents at exactly that
 * version and state.  Counters are summed over every agent that declares
 * the same variant names in the same order (an agent that declares them
 * otherwise is counted in n_mismatch and left out of the sums; the shop
 * funnel's step counts are summed alike, step by step).  An agent
 * whose breaker tripped marks the merge tripped, with its reason.
 *
 * Statistics per variant v >= 1 against control: rate with 95% Wilson
 * interval, relative uplift with interval and two-sided p-value
 * (stats_compare), chance to beat control (stats_beat_prob), the
 * always-valid p and confidence sequence (stats_seq_update, kept across
 * updates in the struct, so it only ever tightens while the caller keeps
 * it), and stats_verdict's call with the campaign's policy.  SRM:
 * stats_srm over the arms' n against the weights (not while stopped).
 *
 * The verdict line, one of:
 *	"variant_b +18% [+6%, +31%], always-valid p=0.003, 99.2% chance to
 *	 beat control"                              (a variant is better)
 *	"variant_b -12% [-20%, -4%], always-valid p=0.001: worse than control"
 *	"no difference yet: always-valid p=0.41 after 12,480 visitors"
 *	"not enough data yet: 1,240 of ~9,000 visitors"
 *	"stopped: winner variant_b rolled out to everyone"
 *	"draft: not started"
 * preceded by "SAMPLE RATIO MISMATCH (p=...): do not trust these figures; "
 * when the SRM check warns, and by "BREAKER TRIPPED: <reason>; " when the
 * breaker tripped.  With several variants the line names the best by
 * chance to beat control.
 *
 * Threads: none; a struct campstat belongs to its caller.
 */
#ifndef NUDGE_CAMPSTAT_H
#define NUDGE_CAMPSTAT_H

#include <stdbool.h>
#include <stdint.h>

#include "stats.h"
#include "wire.h"

#define CAMPSTAT_LINE_MAX 320

struct campstat_arm {
	struct stats_counts counts;	/* summed over agents */
	int64_t rev_cents;
	uint64_t g[RULE_GUARDRAILS_MAX];
	uint64_t steps[AGG_STEPS_MAX];	/* shop funnel, summed */
	struct stats_rate rate;		/* conversion rate, 95% interval */
	struct stats_cmp cmp;		/* against control; arm 0: zeros */
	double beat;			/* chance to beat control */
	struct stats_seq seq;		/* kept across updates */
	struct stats_verdict verdict;	/* arm 0: unused */
};

struct campstat {
	struct wire_campaign merged;	/* highest version; counters summed */
	unsigned n_agents;		/* agents reporting this campaign */
	unsigned n_agree;		/* at the merged version and state */
	unsigned n_mismatch;		/* variants declared otherwise */
	bool tripped;
	char reason[CAMP_REASON_MAX + 1];
	struct campstat_arm arm[CAMP_VARIANTS_MAX];
	struct stats_srm srm;
	int best;			/* the variant the line names, or -1 */
	enum stats_call call;		/* of best (NOT_ENOUGH if none) */
	char line[CAMPSTAT_LINE_MAX];
};

/*
 * The default policy: 95%, alpha 0.05, MDE 10%, power 0.8, tau2 as
 * stats.h recommends, at least one hour before a verdict (the CLI's
 * --min-duration and the console's campaign_min_duration change that).
 */
void campstat_policy_default(struct stats_policy *pol);

/* Zeroes cs (the sequential state starts afresh). */
void campstat_init(struct campstat *cs);

/*
 * Recomputes cs from the n agents' reports of one campaign (all with the
 * same name; n >= 1) at wall time now_ms (for the minimum duration since
 * merged.since_ms).  Returns 0 or NUDGE_EINVAL (n == 0, names differ).
 */
int campstat_update(struct campstat *cs,
    const struct wire_campaign *const *per_agent, unsigned n,
    const struct stats_policy *pol, uint64_t now_ms);

#endif
