/*
 * test_campstat.c - unit tests of console/campstat.c: merging agents'
 * reports (highest version wins, agreement, mismatched variants left out,
 * the breaker), the verdict line in each of its forms, and the sequential
 * state that only tightens across updates.
 *
 * Expected figures were computed by hand (python3 with the textbook
 * formulas, not this code's): for control 3000/30000 against 3250/30000,
 * uplift +8.33% [+3.36%, +13.54%] (delta method on the log ratio),
 * always-valid p = 0.0216 (mSPRT, tau2 = 1e-4, one look), chance to beat
 * 0.9996; planned visitors for a 10% baseline and a 10% MDE at 80% power,
 * 14,751 per arm; the SRM of 10,000 / 11,000 at 50/50, chi2 = 47.62,
 * p = 5.2e-12.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "campstat.h"

#define HOUR_MS 3600000ull
#define T0 1767225600000ull	/* started */
#define NOW (T0 + 2 * HOUR_MS)	/* two hours later: past the minimum */

/* A campaign "banner" with variants control, variant_b, in state. */
static void
report(struct wire_campaign *w, int state, const char *second)
{
	struct rule_campaign rc;

	memset(&rc, 0, sizeof(rc));
	memset(w, 0, sizeof(*w));
	rc.name = "banner";
	rc.n_variants = 2;
	rc.variant[0] = (struct rule_variant){"control", 50};
	rc.variant[1] = (struct rule_variant){second ? second : "variant_b",
	    50};
	assert_int_equal(camp_init(&w->c, &rc, NULL), 0);
	if (state >= CAMP_RUNNING) {
		assert_int_equal(camp_start(&w->c, w->c.version, NULL), 0);
		w->since_ms = T0;
	}
	if (state == CAMP_PAUSED)
		assert_int_equal(camp_pause(&w->c, w->c.version, NULL), 0);
	if (state == CAMP_STOPPED)
		assert_int_equal(camp_stop(&w->c, w->c.version, 1, NULL), 0);
	snprintf(w->goal, sizeof(w->goal), "purchase");
}

static void
arms(struct wire_campaign *w, uint64_t na, uint64_t xa, uint64_t nb,
    uint64_t xb)
{
	w->arm[0].n = na;
	w->arm[0].x = xa;
	w->arm[1].n = nb;
	w->arm[1].x = xb;
}

static struct campstat *
one(const struct wire_campaign *w, uint64_t now)
{
	static struct campstat cs;
	const struct wire_campaign *r[1] = {w};
	struct stats_policy pol;

	campstat_policy_default(&pol);
	campstat_init(&cs);
	assert_int_equal(campstat_update(&cs, r, 1, &pol, now), 0);
	return &cs;
}

static void
test_policy_default(void **state)
{
	struct stats_policy pol;

	(void)state;
	campstat_policy_default(&pol);
	assert_true(pol.conf == 0.95 && pol.alpha == 0.05);
	assert_true(pol.mde_rel == 0.10 && pol.power == 0.80);
	assert_true(pol.baseline <= 0.0 && pol.min_seconds == 3600.0);
	assert_true(pol.tau2 > 0.0);
}

/* Highest version wins; n_agree counts that version and state. */
static void
test_merge_highest_version(void **state)
{
	static struct wire_campaign a, b, c;
	static struct campstat cs;
	const struct wire_campaign *r[3] = {&a, &b, &c};
	struct stats_policy pol;

	(void)state;
	campstat_policy_default(&pol);
	report(&a, CAMP_RUNNING, NULL);		/* version 2 */
	report(&b, CAMP_PAUSED, NULL);		/* version 3 */
	report(&c, CAMP_PAUSED, NULL);
	arms(&a, 100, 10, 110, 12);
	arms(&b, 200, 20, 190, 25);
	arms(&c, 1, 1, 2, 0);
	a.arm[0].rev_cents = 1000;
	b.arm[0].rev_cents = -250;	/* a refund */
	c.since_ms = T0 - 5000;		/* started first */
	campstat_init(&cs);
	assert_int_equal(campstat_update(&cs, r, 3, &pol, NOW), 0);
	assert_int_equal(cs.merged.c.version, 3);
	assert_int_equal(cs.merged.c.state, CAMP_PAUSED);
	assert_int_equal(cs.n_agents, 3);
	assert_int_equal(cs.n_agree, 2);
	assert_int_equal(cs.n_mismatch, 0);
	assert_false(cs.tripped);
	assert_int_equal(cs.arm[0].counts.visitors, 301);
	assert_int_equal(cs.arm[0].counts.conversions, 31);
	assert_int_equal(cs.arm[1].counts.visitors, 302);
	assert_int_equal(cs.arm[1].counts.conversions, 37);
	assert_int_equal(cs.arm[0].rev_cents, 750);
	assert_int_equal(cs.merged.arm[1].n, 302);
	assert_int_equal(cs.merged.arm[0].rev_cents, 750);
	assert_int_equal(cs.merged.since_ms, T0 - 5000);
	/* rate 31 / 301 */
	assert_true(cs.arm[0].rate.p > 0.10299 && cs.arm[0].rate.p < 0.10300);

	/* A tie at the top: the first agent's state is the merged one. */
	report(&b, CAMP_RUNNING, NULL);
	assert_int_equal(camp_pause(&b.c, 2, NULL), 0);
	report(&c, CAMP_RUNNING, NULL);
	assert_int_equal(camp_set_holdout(&c.c, 2, 100, NULL), 0);
	r[0] = &c;
	r[1] = &b;
	r[2] = &a;
	assert_int_equal(campstat_update(&cs, r, 3, &pol, NOW), 0);
	assert_int_equal(cs.merged.c.version, 3);
	assert_int_equal(cs.merged.c.state, CAMP_RUNNING);
	assert_int_equal(cs.merged.c.holdout_bp, 100);
	assert_int_equal(cs.n_agree, 1);
}

/* An agent that declares other variants is counted, not summed. */
static void
test_merge_mismatch(void **state)
{
	static struct wire_campaign a, b, c;
	static struct campstat cs;
	const struct wire_campaign *r[3] = {&a, &b, &c};
	struct stats_policy pol;

	(void)state;
	campstat_policy_default(&pol);
	report(&a, CAMP_RUNNING, NULL);
	report(&b, CAMP_RUNNING, "variant_c");
	report(&c, CAMP_RUNNING, NULL);
	arms(&a, 100, 10, 100, 10);
	arms(&b, 5000, 500, 5000, 900);
	arms(&c, 50, 5, 60, 6);
	campstat_init(&cs);
	assert_int_equal(campstat_update(&cs, r, 3, &pol, NOW), 0);
	assert_int_equal(cs.n_agents, 3);
	assert_int_equal(cs.n_mismatch, 1);
	assert_int_equal(cs.n_agree, 2);
	assert_int_equal(cs.arm[0].counts.visitors, 150);
	assert_int_equal(cs.arm[1].counts.visitors, 160);
	assert_int_equal(cs.arm[1].counts.conversions, 16);
	assert_string_equal(cs.merged.c.variant[1], "variant_b");
}

/* The shop funnel's step counts add up step by step, like n. */
static void
test_merge_steps(void **state)
{
	static struct wire_campaign a, b, c;
	static struct campstat cs;
	const struct wire_campaign *r[3] = {&a, &b, &c};
	struct stats_policy pol;

	(void)state;
	campstat_policy_default(&pol);
	report(&a, CAMP_RUNNING, NULL);
	report(&b, CAMP_RUNNING, NULL);
	report(&c, CAMP_RUNNING, "variant_c");	/* left out */
	arms(&a, 100, 10, 100, 10);
	arms(&b, 50, 5, 60, 6);
	arms(&c, 70, 7, 70, 7);
	a.arm[1].steps[0] = 100;
	a.arm[1].steps[3] = 12;
	b.arm[1].steps[0] = 60;
	b.arm[1].steps[3] = 7;
	b.arm[0].steps[15] = 1;
	c.arm[1].steps[0] = 70;
	campstat_init(&cs);
	assert_int_equal(campstat_update(&cs, r, 3, &pol, NOW), 0);
	assert_int_equal(cs.arm[1].steps[0], 160);
	assert_int_equal(cs.arm[1].steps[3], 19);
	assert_int_equal(cs.merged.arm[1].steps[0], 160);
	assert_int_equal(cs.merged.arm[1].steps[3], 19);
	assert_int_equal(cs.merged.arm[0].steps[15], 1);
	assert_int_equal(cs.merged.arm[0].steps[0], 0);
	/* the next update sums afresh, not on top of the last */
	assert_int_equal(campstat_update(&cs, r, 3, &pol, NOW), 0);
	assert_int_equal(cs.merged.arm[1].steps[0], 160);
}

static void
test_merge_refusals(void **state)
{
	static struct wire_campaign a, b;
	static struct campstat cs, before;
	const struct wire_campaign *r[2] = {&a, &a};
	struct stats_policy pol;

	(void)state;
	campstat_policy_default(&pol);
	report(&a, CAMP_RUNNING, NULL);
	b = a;
	snprintf(b.c.name, sizeof(b.c.name), "other");
	campstat_init(&cs);
	assert_int_equal(campstat_update(&cs, r, 2, &pol, NOW), 0);
	before = cs;
	assert_int_equal(campstat_update(&cs, r, 0, &pol, NOW), NUDGE_EINVAL);
	r[1] = &b;
	assert_int_equal(campstat_update(&cs, r, 2, &pol, NOW), NUDGE_EINVAL);
	r[1] = NULL;
	assert_int_equal(campstat_update(&cs, r, 2, &pol, NOW), NUDGE_EINVAL);
	assert_memory_equal(&cs, &before, sizeof(cs));
	/* an invalid policy refuses too, and leaves cs alone */
	r[1] = &a;
	pol.alpha = 0.0;
	assert_int_equal(campstat_update(&cs, r, 2, &pol, NOW), NUDGE_EINVAL);
	assert_memory_equal(&cs, &before, sizeof(cs));
}

/* One agent's breaker marks the merge tripped, with its reason. */
static void
test_merge_tripped(void **state)
{
	static struct wire_campaign a, b;
	static struct campstat cs;
	const struct wire_campaign *r[2] = {&a, &b};
	struct stats_policy pol;

	(void)state;
	campstat_policy_default(&pol);
	report(&a, CAMP_RUNNING, NULL);
	report(&b, CAMP_RUNNING, NULL);
	arms(&a, 100, 10, 100, 10);
	arms(&b, 100, 10, 100, 10);
	assert_int_equal(camp_trip(&b.c, "variant_b purchase 2.1% vs 4.0%"),
	    0);
	campstat_init(&cs);
	assert_int_equal(campstat_update(&cs, r, 2, &pol, NOW), 0);
	assert_true(cs.tripped);
	assert_string_equal(cs.reason, "variant_b purchase 2.1% vs 4.0%");
	assert_int_equal(cs.n_agree, 2);	/* tripping is not versioned */
	assert_string_equal(cs.line, "BREAKER TRIPPED: variant_b purchase "
	    "2.1% vs 4.0%; not enough data yet: 400 of ~29,502 visitors");
}

static void
test_line_better(void **state)
{
	static struct wire_campaign w;
	struct campstat *cs;

	(void)state;
	report(&w, CAMP_RUNNING, NULL);
	arms(&w, 30000, 3000, 30000, 3250);
	cs = one(&w, NOW);
	assert_int_equal(cs->best, 1);
	assert_int_equal(cs->call, STATS_CALL_BETTER);
	assert_int_equal(cs->arm[1].verdict.call, STATS_CALL_BETTER);
	assert_true(cs->arm[1].cmp.uplift > 0.0833 &&
	    cs->arm[1].cmp.uplift < 0.0834);
	assert_true(cs->arm[1].seq.p > 0.0215 && cs->arm[1].seq.p < 0.0217);
	assert_true(cs->arm[1].beat > 0.9995 && cs->arm[1].beat < 0.9997);
	assert_false(cs->srm.warn);
	assert_string_equal(cs->line, "variant_b +8% [+3%, +14%], "
	    "always-valid p=0.022, >99.9% chance to beat control");
}

static void
test_line_worse(void **state)
{
	static struct wire_campaign w;
	struct campstat *cs;

	(void)state;
	report(&w, CAMP_RUNNING, NULL);
	arms(&w, 30000, 3250, 30000, 3000);
	cs = one(&w, NOW);
	assert_int_equal(cs->call, STATS_CALL_WORSE);
	assert_string_equal(cs->line, "variant_b -8% [-12%, -3%], "
	    "always-valid p=0.022: worse than control");
}

static void
test_line_no_difference(void **state)
{
	static struct wire_campaign w;
	struct campstat *cs;

	(void)state;
	report(&w, CAMP_RUNNING, NULL);
	arms(&w, 30000, 3000, 30000, 3000);
	cs = one(&w, NOW);
	assert_int_equal(cs->call, STATS_CALL_NO_DIFF);
	assert_string_equal(cs->line, "no difference yet: always-valid "
	    "p=1.00 after 60,000 visitors");
}

static void
test_line_not_enough(void **state)
{
	static struct wire_campaign w;
	struct campstat *cs;

	(void)state;
	report(&w, CAMP_RUNNING, NULL);
	/* visitors: 2 x 14,751 planned */
	arms(&w, 620, 62, 620, 70);
	cs = one(&w, NOW);
	assert_int_equal(cs->call, STATS_CALL_NOT_ENOUGH);
	assert_int_equal(cs->arm[1].verdict.need, 29502);
	assert_string_equal(cs->line,
	    "not enough data yet: 1,240 of ~29,502 visitors");
	/* time: the result above would be called, but 10 minutes in */
	arms(&w, 30000, 3000, 30000, 3250);
	cs = one(&w, T0 + 600000);
	assert_int_equal(cs->call, STATS_CALL_NOT_ENOUGH);
	assert_string_equal(cs->line, "not enough data yet: 60,000 visitors, "
	    "50 more minutes to run");
	/* no conversion in control: nothing to plan from */
	arms(&w, 300, 0, 300, 4);
	cs = one(&w, NOW);
	assert_string_equal(cs->line, "not enough data yet: 600 visitors, no "
	    "conversions in control yet");
	/* enough visitors, too few conversions in the variant */
	arms(&w, 30000, 3000, 30000, 3);
	cs = one(&w, NOW);
	assert_string_equal(cs->line, "not enough data yet: 60,000 visitors, "
	    "too few conversions");
	/* nobody yet */
	arms(&w, 0, 0, 0, 0);
	cs = one(&w, NOW);
	assert_int_equal(cs->best, 1);
	assert_string_equal(cs->line, "not enough data yet: 0 visitors, no "
	    "conversions in control yet");
}

static void
test_line_draft_stopped(void **state)
{
	static struct wire_campaign w;
	struct campstat *cs;

	(void)state;
	report(&w, CAMP_DRAFT, NULL);
	cs = one(&w, NOW);
	assert_int_equal(cs->best, -1);
	assert_int_equal(cs->call, STATS_CALL_NOT_ENOUGH);
	assert_string_equal(cs->line, "draft: not started");
	report(&w, CAMP_STOPPED, NULL);
	/* a broken split does not matter once stopped */
	arms(&w, 10000, 1000, 11000, 1100);
	cs = one(&w, NOW);
	assert_false(cs->srm.warn);
	assert_string_equal(cs->line,
	    "stopped: winner variant_b rolled out to everyone");
}

static void
test_line_srm(void **state)
{
	static struct wire_campaign w;
	struct campstat *cs;

	(void)state;
	report(&w, CAMP_RUNNING, NULL);
	arms(&w, 10000, 1000, 11000, 1100);
	cs = one(&w, NOW);
	assert_true(cs->srm.warn);
	assert_true(cs->srm.chi2 > 47.61 && cs->srm.chi2 < 47.63);
	assert_true(cs->srm.p > 5.1e-12 && cs->srm.p < 5.3e-12);
	/* the smaller arm must reach 14,751: 21,000 x 14,751 / 10,000 */
	assert_string_equal(cs->line, "SAMPLE RATIO MISMATCH (p=5.2e-12): do "
	    "not trust these figures; not enough data yet: 21,000 of "
	    "~30,978 visitors");
	/* both warnings at once */
	assert_int_equal(camp_trip(&w.c, "why"), 0);
	cs = one(&w, NOW);
	assert_string_equal(cs->line, "BREAKER TRIPPED: why; SAMPLE RATIO "
	    "MISMATCH (p=5.2e-12): do not trust these figures; not enough "
	    "data yet: 21,000 of ~30,978 visitors");
}

/* A/B/n: the line names the variant most likely to beat control. */
static void
test_line_best_of_several(void **state)
{
	static struct wire_campaign w;
	struct rule_campaign rc;
	struct campstat *cs;

	(void)state;
	memset(&rc, 0, sizeof(rc));
	memset(&w, 0, sizeof(w));
	rc.name = "banner";
	rc.n_variants = 3;
	rc.variant[0] = (struct rule_variant){"control", 34};
	rc.variant[1] = (struct rule_variant){"red", 33};
	rc.variant[2] = (struct rule_variant){"blue", 33};
	assert_int_equal(camp_init(&w.c, &rc, NULL), 0);
	assert_int_equal(camp_start(&w.c, 1, NULL), 0);
	w.since_ms = T0;
	w.arm[0] = (struct wire_camp_arm){.n = 30600, .x = 3060};
	w.arm[1] = (struct wire_camp_arm){.n = 29700, .x = 2970};
	w.arm[2] = (struct wire_camp_arm){.n = 29700, .x = 3218};
	cs = one(&w, NOW);
	assert_false(cs->srm.warn);
	assert_int_equal(cs->best, 2);
	assert_int_equal(cs->call, STATS_CALL_BETTER);
	assert_int_equal(cs->arm[1].verdict.call, STATS_CALL_NO_DIFF);
	assert_non_null(strstr(cs->line, "blue +"));
	/* not enough: all three arms count, 3 x 14,751 planned */
	w.arm[0] = (struct wire_camp_arm){.n = 300, .x = 30};
	w.arm[1] = (struct wire_camp_arm){.n = 300, .x = 30};
	w.arm[2] = (struct wire_camp_arm){.n = 300, .x = 31};
	cs = one(&w, NOW);
	assert_string_equal(cs->line,
	    "not enough data yet: 900 of ~44,253 visitors");
}

/* Kept across updates, the always-valid p never rises, the interval only
 * narrows; counters that shrink start the test afresh. */
static void
test_sequential_tightens(void **state)
{
	static struct wire_campaign w;
	static struct campstat cs;
	const struct wire_campaign *r[1] = {&w};
	struct stats_policy pol;
	double p = 1.0, lo = -1.0, hi = 1.0;

	(void)state;
	campstat_policy_default(&pol);
	campstat_init(&cs);
	report(&w, CAMP_RUNNING, NULL);
	w.arm[0].n = w.arm[1].n = 0;
	w.arm[0].x = w.arm[1].x = 0;
	for (int k = 1; k <= 40; k++) {
		/* batches of 1,000 a side: control converts 100, the variant
		 * 120, or 100 every fifth batch: mostly ahead */
		w.arm[0].n += 1000;
		w.arm[1].n += 1000;
		w.arm[0].x += 100;
		w.arm[1].x += k % 5 == 0 ? 100 : 120;
		assert_int_equal(campstat_update(&cs, r, 1, &pol, NOW), 0);
		assert_true(cs.arm[1].seq.p <= p);
		assert_true(cs.arm[1].seq.lo >= lo);
		assert_true(cs.arm[1].seq.hi <= hi);
		p = cs.arm[1].seq.p;
		lo = cs.arm[1].seq.lo;
		hi = cs.arm[1].seq.hi;
	}
	assert_true(p < 0.05);
	/* the last look alone sees the same data; the kept state is at
	 * least as tight (it is the running minimum) */
	assert_true(one(&w, NOW)->arm[1].seq.p >= p);
	/* an agent gone: sums shrink, the test starts over, no error */
	arms(&w, 1000, 100, 1000, 110);
	assert_int_equal(campstat_update(&cs, r, 1, &pol, NOW), 0);
	assert_true(cs.arm[1].seq.p > p);
	assert_int_equal(cs.arm[1].seq.n_ctl, 1000);
	/* another campaign in the same struct: afresh too */
	snprintf(w.c.name, sizeof(w.c.name), "other");
	arms(&w, 5000, 500, 5000, 500);
	assert_int_equal(campstat_update(&cs, r, 1, &pol, NOW), 0);
	assert_string_equal(cs.merged.c.name, "other");
	assert_int_equal(cs.arm[1].seq.n_ctl, 5000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_default),
		cmocka_unit_test(test_merge_highest_version),
		cmocka_unit_test(test_merge_mismatch),
		cmocka_unit_test(test_merge_steps),
		cmocka_unit_test(test_merge_refusals),
		cmocka_unit_test(test_merge_tripped),
		cmocka_unit_test(test_line_better),
		cmocka_unit_test(test_line_worse),
		cmocka_unit_test(test_line_no_difference),
		cmocka_unit_test(test_line_not_enough),
		cmocka_unit_test(test_line_draft_stopped),
		cmocka_unit_test(test_line_srm),
		cmocka_unit_test(test_line_best_of_several),
		cmocka_unit_test(test_sequential_tightens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
