/*
 * test_campview.c - the console's book of campaigns from model snapshots:
 * merge by name across agents, drift text, entries kept across updates
 * and dropped when nobody reports them, the per-agent change plan (expect
 * = each agent's own version, agents where the change does not apply left
 * out), confirmation and acknowledgement texts, weights and holdout input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../console/campview.h"

struct fix {
	struct model m;
	struct campview *cv;
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	static const char *names[] = {"a", "b", "c"};

	assert_non_null(f);
	assert_int_equal(model_init(&f->m, 3), 0);
	for (unsigned i = 0; i < 3; i++) {
		snprintf(f->m.agents[i].name, sizeof(f->m.agents[i].name),
		    "%s", names[i]);
		f->m.agents[i].up = true;
		f->m.agents[i].have_snapshot = true;
	}
	f->cv = campview_new(3, NULL);
	assert_non_null(f->cv);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	campview_free(f->cv);
	model_fini(&f->m);
	free(f);
	return 0;
}

/* Agent i declares campaign name (2 arms, 50/50) at version v, state s. */
static struct wire_campaign *
declare(struct fix *f, unsigned i, const char *name, uint64_t v, int s)
{
	struct wire_snapshot *snap = &f->m.agents[i].snap;
	struct wire_campaign *w = &snap->camps[snap->n_camps++];

	memset(w, 0, sizeof(*w));
	snprintf(w->c.name, sizeof(w->c.name), "%s", name);
	w->c.version = v;
	w->c.state = (uint8_t)s;
	w->c.n_variants = 2;
	snprintf(w->c.variant[0], sizeof(w->c.variant[0]), "control");
	snprintf(w->c.variant[1], sizeof(w->c.variant[1]), "variant_b");
	w->c.weight[0] = w->c.weight[1] = 50;
	w->c.winner = -1;
	snprintf(w->goal, sizeof(w->goal), "purchase");
	return w;
}

static void
test_agreed(void **state)
{
	struct fix *f = *state;
	const struct campview_camp *c;
	char buf[160];

	for (unsigned i = 0; i < 3; i++) {
		struct wire_campaign *w =
		    declare(f, i, "banner", 4, CAMP_RUNNING);
		w->arm[0] = (struct wire_camp_arm){.n = 100, .x = 10};
		w->arm[1] = (struct wire_camp_arm){.n = 100, .x = 20};
	}
	campview_update(f->cv, &f->m, 1000);
	assert_int_equal(f->cv->n, 1);
	c = campview_find(f->cv, "banner");
	assert_non_null(c);
	assert_int_equal(c->version, 4);
	assert_int_equal(c->state, CAMP_RUNNING);
	assert_int_equal(c->n_report, 3);
	assert_int_equal(c->n_agree, 3);
	assert_true(campview_settled(c, 3));
	campview_drift(c, &f->m, buf, sizeof(buf));
	assert_string_equal(buf, "3/3 agents");
	/* counters summed over the agents by campstat */
	assert_int_equal(c->cs.arm[0].counts.visitors, 300);
	assert_int_equal(c->cs.arm[1].counts.conversions, 60);
	assert_null(campview_find(f->cv, "nope"));
}

static void
test_drift(void **state)
{
	struct fix *f = *state;
	const struct campview_camp *c;
	char buf[160];

	declare(f, 0, "banner", 4, CAMP_PAUSED);
	declare(f, 1, "banner", 4, CAMP_PAUSED);
	declare(f, 2, "banner", 3, CAMP_RUNNING);
	campview_update(f->cv, &f->m, 1000);
	c = campview_find(f->cv, "banner");
	assert_non_null(c);
	assert_int_equal(c->version, 4);
	assert_int_equal(c->state, CAMP_PAUSED);
	assert_int_equal(c->n_agree, 2);
	assert_false(campview_settled(c, 3));
	campview_drift(c, &f->m, buf, sizeof(buf));
	assert_string_equal(buf, "2/3 at v4, c at v3 running");

	/* a down agent, one that does not declare it */
	f->m.agents[2].snap.n_camps = 0;
	f->m.agents[1].up = false;
	campview_update(f->cv, &f->m, 2000);
	c = campview_find(f->cv, "banner");
	campview_drift(c, &f->m, buf, sizeof(buf));
	assert_string_equal(buf, "1/3 at v4, b down, c: not declared");
	/* cut to fit, still terminated */
	campview_drift(c, &f->m, buf, 12);
	assert_int_equal(strlen(buf), 11);
	/* unnamed agents are numbered */
	f->m.agents[2].name[0] = '\0';
	campview_drift(c, &f->m, buf, sizeof(buf));
	assert_string_equal(buf, "1/3 at v4, b down, #3: not declared");
}

static void
test_keep_and_drop(void **state)
{
	struct fix *f = *state;
	const struct campview_camp *c;

	declare(f, 0, "one", 1, CAMP_DRAFT);
	declare(f, 0, "two", 2, CAMP_RUNNING);
	declare(f, 1, "three", 1, CAMP_DRAFT);
	campview_update(f->cv, &f->m, 1000);
	assert_int_equal(f->cv->n, 3);
	assert_string_equal(f->cv->camp[0].name, "one");
	assert_string_equal(f->cv->camp[1].name, "two");
	assert_string_equal(f->cv->camp[2].name, "three");
	c = campview_find(f->cv, "two");
	assert_non_null(c);
	assert_int_equal(c->version, 2);
	/* "one" no longer declared: dropped, the others keep their order */
	f->m.agents[0].snap.camps[0] = f->m.agents[0].snap.camps[1];
	f->m.agents[0].snap.n_camps = 1;
	campview_update(f->cv, &f->m, 3000);
	assert_int_equal(f->cv->n, 2);
	assert_string_equal(f->cv->camp[0].name, "two");
	assert_string_equal(f->cv->camp[1].name, "three");
	assert_null(campview_find(f->cv, "one"));
}

/* The always-valid state lives in the entry from one update to the next,
 * and starts afresh for a campaign that left and came back. */
static void
test_seq_kept(void **state)
{
	struct fix *f = *state;
	struct campview_camp *c;
	double fresh;

	for (unsigned i = 0; i < 3; i++) {
		struct wire_campaign *w =
		    declare(f, i, "banner", 2, CAMP_RUNNING);
		w->arm[0] = (struct wire_camp_arm){.n = 1000, .x = 100};
		w->arm[1] = (struct wire_camp_arm){.n = 1000, .x = 110};
	}
	campview_update(f->cv, &f->m, 1000);
	c = (struct campview_camp *)campview_find(f->cv, "banner");
	assert_non_null(c);
	fresh = c->cs.arm[1].seq.p;
	assert_true(fresh > 0.01);
	assert_int_equal(c->cs.arm[1].seq.n_ctl, 3000);
	c->cs.arm[1].seq.p = 1e-4; /* as if earlier looks had seen more */
	campview_update(f->cv, &f->m, 2000);
	c = (struct campview_camp *)campview_find(f->cv, "banner");
	assert_true(c->cs.arm[1].seq.p <= 1e-4);
	/* gone from every agent, then declared again: a fresh start */
	for (unsigned i = 0; i < 3; i++)
		f->m.agents[i].snap.n_camps = 0;
	campview_update(f->cv, &f->m, 3000);
	assert_int_equal(f->cv->n, 0);
	for (unsigned i = 0; i < 3; i++)
		f->m.agents[i].snap.n_camps = 1;
	campview_update(f->cv, &f->m, 4000);
	c = (struct campview_camp *)campview_find(f->cv, "banner");
	assert_non_null(c);
	assert_true(c->cs.arm[1].seq.p > 0.01);
}

static void
test_plan(void **state)
{
	struct fix *f = *state;
	struct wire_camp_change out[3];
	bool send[3];
	struct campview_req rq = {.op = CAMP_OP_PAUSE};
	const struct campview_camp *c;
	char buf[200];

	declare(f, 0, "banner", 4, CAMP_RUNNING);
	declare(f, 1, "banner", 4, CAMP_RUNNING);
	declare(f, 2, "banner", 3, CAMP_RUNNING);
	campview_update(f->cv, &f->m, 1000);
	c = campview_find(f->cv, "banner");
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_true(send[i]);
		assert_string_equal(out[i].name, "banner");
		assert_int_equal(out[i].op, CAMP_OP_PAUSE);
	}
	/* every agent is asked against its own version */
	assert_int_equal(out[0].expect, 4);
	assert_int_equal(out[2].expect, 3);
	campview_confirm(c, &f->m, &rq, send, buf, sizeof(buf));
	assert_string_equal(buf, "pause banner v4 on a, b, c (v3)? y/n");

	/* an agent already paused is not asked again */
	f->m.agents[1].snap.camps[0].c.state = CAMP_PAUSED;
	f->m.agents[1].snap.camps[0].c.version = 5;
	campview_update(f->cv, &f->m, 2000);
	c = campview_find(f->cv, "banner");
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 2);
	assert_false(send[1]);
	rq.op = CAMP_OP_RESUME;
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 1);
	assert_true(send[1]);
	assert_int_equal(out[1].expect, 5);
	rq.op = CAMP_OP_START;
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 0);

	/* stop names the winner; weights and holdout their values */
	rq = (struct campview_req){.op = CAMP_OP_STOP, .winner = 1};
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 3);
	assert_int_equal(out[0].winner, 1);
	campview_confirm(c, &f->m, &rq, send, buf, sizeof(buf));
	assert_string_equal(buf, "stop banner v5, roll variant_b out to "
	                         "everyone, on a (v4), b, c (v3)? y/n");
	rq = (struct campview_req){
	    .op = CAMP_OP_WEIGHTS, .n_weights = 2, .weights = {90, 10}};
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 3);
	assert_int_equal(out[2].n_weights, 2);
	assert_int_equal(out[2].weights[0], 90);
	campview_confirm(c, &f->m, &rq, send, buf, sizeof(buf));
	assert_string_equal(buf, "set weights 90,10 of banner v5 on a (v4), "
	                         "b, c (v3)? y/n");
	rq = (struct campview_req){.op = CAMP_OP_HOLDOUT, .holdout_bp = 250};
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 3);
	assert_int_equal(out[1].holdout_bp, 250);
	campview_confirm(c, &f->m, &rq, send, buf, sizeof(buf));
	assert_string_equal(buf, "set holdout 2.50% of banner v5 on a (v4), "
	                         "b, c (v3)? y/n");
	/* a down agent is not part of the plan */
	f->m.agents[0].up = false;
	campview_update(f->cv, &f->m, 3000);
	c = campview_find(f->cv, "banner");
	assert_int_equal(campview_plan(c, 3, &rq, out, send), 2);
	assert_false(send[0]);
}

static void
test_applies(void **state)
{
	(void)state;
	assert_true(campview_op_applies(CAMP_OP_START, CAMP_DRAFT));
	assert_false(campview_op_applies(CAMP_OP_START, CAMP_RUNNING));
	assert_true(campview_op_applies(CAMP_OP_PAUSE, CAMP_RUNNING));
	assert_false(campview_op_applies(CAMP_OP_PAUSE, CAMP_PAUSED));
	assert_true(campview_op_applies(CAMP_OP_RESUME, CAMP_PAUSED));
	assert_true(campview_op_applies(CAMP_OP_STOP, CAMP_PAUSED));
	assert_false(campview_op_applies(CAMP_OP_STOP, CAMP_STOPPED));
	assert_false(campview_op_applies(CAMP_OP_WEIGHTS, CAMP_DRAFT));
	assert_false(campview_op_applies(CAMP_OP_NONE, CAMP_RUNNING));
}

static void
test_ack(void **state)
{
	struct wire_campaign now;
	char buf[80];

	(void)state;
	memset(&now, 0, sizeof(now));
	now.c.state = CAMP_PAUSED;
	now.c.version = 5;
	campview_ack(0, 0, "", &now, buf, sizeof(buf));
	assert_string_equal(buf, "ok: paused v5");
	campview_ack(0, 0, "", NULL, buf, sizeof(buf));
	assert_string_equal(buf, "ok");
	campview_ack(
	    0, NUDGE_ESTALE, "now v6 running", NULL, buf, sizeof(buf));
	assert_string_equal(buf, "stale: now v6 running");
	campview_ack(0, NUDGE_EPERM, "viewer may not", NULL, buf, sizeof(buf));
	assert_string_equal(buf, "refused: viewer may not");
	campview_ack(0, NUDGE_EINVAL, "", NULL, buf, sizeof(buf));
	assert_string_equal(buf, "refused: invalid argument");
	campview_ack(NUDGE_ETIMEOUT, 0, NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "no answer");
	campview_ack(NUDGE_ECONN, 0, NULL, NULL, buf, sizeof(buf));
	assert_string_equal(buf, "no answer: no control link");
}

static void
test_weights(void **state)
{
	uint8_t w[CAMP_VARIANTS_MAX] = {0};
	char why[96];

	(void)state;
	assert_int_equal(
	    campview_parse_weights("50,50", 2, w, why, sizeof(why)), 0);
	assert_int_equal(w[0], 50);
	assert_int_equal(w[1], 50);
	assert_int_equal(
	    campview_parse_weights(" 34, 33 ,33", 3, w, why, sizeof(why)), 0);
	assert_int_equal(w[2], 33);
	assert_int_equal(
	    campview_parse_weights("100,0", 2, w, why, sizeof(why)), 0);
	w[0] = 7;
	assert_int_equal(
	    campview_parse_weights("60,50", 2, w, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_string_equal(why, "2 weights summing to 100 wanted (got 2 "
	                         "summing to 110)");
	assert_int_equal(w[0], 7); /* untouched on error */
	assert_int_equal(
	    campview_parse_weights("50,50", 3, w, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_weights("50;50", 2, w, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_weights("-50,150", 2, w, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_weights("150,-50", 2, w, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_weights("", 2, w, why, sizeof(why)), NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_weights("50,,50", 2, w, why, sizeof(why)),
	    NUDGE_EINVAL);
}

static void
test_holdout(void **state)
{
	uint16_t bp = 7;
	char why[96];

	(void)state;
	assert_int_equal(
	    campview_parse_holdout("5", &bp, why, sizeof(why)), 0);
	assert_int_equal(bp, 500);
	assert_int_equal(
	    campview_parse_holdout("2.5%", &bp, why, sizeof(why)), 0);
	assert_int_equal(bp, 250);
	assert_int_equal(
	    campview_parse_holdout("0", &bp, why, sizeof(why)), 0);
	assert_int_equal(bp, 0);
	assert_int_equal(
	    campview_parse_holdout("99.99", &bp, why, sizeof(why)), 0);
	assert_int_equal(bp, 9999);
	bp = 7;
	assert_int_equal(campview_parse_holdout("100", &bp, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_holdout("1.234", &bp, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_holdout("", &bp, why, sizeof(why)), NUDGE_EINVAL);
	assert_int_equal(
	    campview_parse_holdout("x", &bp, why, sizeof(why)), NUDGE_EINVAL);
	assert_int_equal(campview_parse_holdout("5 %x", &bp, why, sizeof(why)),
	    NUDGE_EINVAL);
	assert_int_equal(bp, 7);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_agreed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drift, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_keep_and_drop, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_seq_kept, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plan, setup, teardown),
	    cmocka_unit_test(test_applies),
	    cmocka_unit_test(test_ack),
	    cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_holdout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
