/*
 * test_campaign.c - unit tests of common/campaign.c: every legal and
 * illegal transition of the lifecycle, the version gate (stale changes,
 * idempotent replays), weights validation, the breaker's routing, and the
 * text form's round trip and strict rejection of malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "campaign.h"
#include "err.h"

static struct camp
fresh(void)
{
	struct rule_campaign rc;
	struct camp c;

	memset(&rc, 0, sizeof(rc));
	rc.name = "checkout";
	rc.n_variants = 3;
	rc.variant[0] = (struct rule_variant){"control", 50};
	rc.variant[1] = (struct rule_variant){"bold", 25};
	rc.variant[2] = (struct rule_variant){"red", 25};
	assert_int_equal(camp_init(&c, &rc, NULL), 0);
	return c;
}

/* The campaign brought to a state by legal transitions. */
static struct camp
in_state(int state)
{
	struct camp c = fresh();

	if (state >= CAMP_RUNNING)
		assert_int_equal(camp_start(&c, c.version, NULL), 0);
	if (state == CAMP_PAUSED)
		assert_int_equal(camp_pause(&c, c.version, NULL), 0);
	if (state == CAMP_STOPPED)
		assert_int_equal(camp_stop(&c, c.version, 1, NULL), 0);
	assert_int_equal(c.state, state);
	return c;
}

static void
test_init(void **state)
{
	struct rule_campaign rc;
	struct nudge_diag d = {0};
	struct camp c = fresh(), keep;

	(void)state;
	assert_int_equal(c.version, 1);
	assert_int_equal(c.state, CAMP_DRAFT);
	assert_int_equal(c.winner, -1);
	assert_string_equal(c.variant[1], "bold");
	memset(&rc, 0, sizeof(rc));
	rc.name = "x";
	rc.n_variants = 2;
	rc.variant[0] = (struct rule_variant){"a", 50};
	rc.variant[1] = (struct rule_variant){"b", 49};
	keep = c;
	assert_int_equal(camp_init(&c, &rc, &d), NUDGE_EINVAL);
	assert_string_equal(d.msg, "weights sum to 99, not 100");
	rc.variant[1] = (struct rule_variant){"b c", 50};
	assert_int_equal(camp_init(&c, &rc, NULL), NUDGE_EINVAL);
	rc.variant[1] = (struct rule_variant){"b", 50};
	rc.n_variants = 1;
	assert_int_equal(camp_init(&c, &rc, NULL), NUDGE_EINVAL);
	rc.n_variants = 2;
	rc.name = "a:b";
	assert_int_equal(camp_init(&c, &rc, NULL), NUDGE_EINVAL);
	assert_memory_equal(&c, &keep, sizeof(c));
}

typedef int (*move_fn)(struct camp *, uint64_t, struct nudge_diag *);

static int
do_stop(struct camp *c, uint64_t v, struct nudge_diag *d)
{
	return camp_stop(c, v, 2, d);
}

/* Every (state, transition) pair: legal ones land, others are refused. */
static void
test_transitions(void **state)
{
	static const struct {
		const char *name;
		move_fn f;
		int to[CAMP_STATE_COUNT];	/* -1: illegal from there */
	} t[] = {
	    {"start", camp_start, {CAMP_RUNNING, -1, -1, -1}},
	    {"pause", camp_pause, {-1, CAMP_PAUSED, -1, -1}},
	    {"resume", camp_resume, {-1, -1, CAMP_RUNNING, -1}},
	    {"stop", do_stop, {-1, CAMP_STOPPED, CAMP_STOPPED, -1}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		for (int s = 0; s < CAMP_STATE_COUNT; s++) {
			struct camp c = in_state(s), before = c;
			struct nudge_diag d = {0};
			int r = t[i].f(&c, c.version, &d);

			if (t[i].to[s] < 0) {
				char want[128];

				assert_int_equal(r, NUDGE_EINVAL);
				snprintf(want, sizeof(want), "cannot %s "
				    "campaign checkout: it is %s", t[i].name,
				    camp_state_name(s));
				assert_string_equal(d.msg, want);
				assert_memory_equal(&c, &before, sizeof(c));
			} else {
				assert_int_equal(r, 0);
				assert_int_equal(c.state, t[i].to[s]);
				assert_int_equal(c.version,
				    before.version + 1);
			}
		}
}

static void
test_stop_winner(void **state)
{
	struct camp c = in_state(CAMP_RUNNING);
	struct nudge_diag d = {0};
	int v = -5;

	(void)state;
	assert_int_equal(camp_stop(&c, c.version, 3, &d), NUDGE_EINVAL);
	assert_string_equal(d.msg, "winner 3: campaign checkout has variants "
	    "0 to 2");
	assert_int_equal(camp_stop(&c, c.version, -1, NULL), NUDGE_EINVAL);
	assert_int_equal(c.state, CAMP_RUNNING);
	assert_int_equal(camp_set_holdout(&c, c.version, 2000, NULL), 0);
	assert_int_equal(camp_stop(&c, c.version, 2, NULL), 0);
	assert_int_equal(c.winner, 2);
	/* Rolled out to 100%: former holdout included. */
	for (int i = 0; i < 2000; i++) {
		char id[16];

		snprintf(id, sizeof(id), "v%d", i);
		assert_int_equal(camp_effective_variant(&c, strv_of(id), &v),
		    0);
		assert_int_equal(v, 2);
	}
	/* Stopped is final: nothing else applies. */
	assert_int_equal(camp_set_weights(&c, c.version,
	    (const uint8_t[]){50, 25, 25}, 3, NULL), NUDGE_EINVAL);
	assert_int_equal(camp_reshuffle(&c, c.version, NULL), NUDGE_EINVAL);
	assert_int_equal(camp_set_holdout(&c, c.version, 0, NULL),
	    NUDGE_EINVAL);
	assert_int_equal(camp_trip(&c, "late"), NUDGE_EINVAL);
}

static void
test_versions(void **state)
{
	struct camp c = fresh(), before;
	struct nudge_diag d = {0};

	(void)state;
	assert_int_equal(camp_start(&c, 1, NULL), 0);
	assert_int_equal(c.version, 2);
	/* Operator B, who read version 1, pauses: refused as stale. */
	before = c;
	assert_int_equal(camp_pause(&c, 1, &d), NUDGE_ESTALE);
	assert_string_equal(d.msg, "version 1 is stale: campaign checkout is "
	    "at version 2 (changed by someone else; reload)");
	assert_memory_equal(&c, &before, sizeof(c));
	/* A version from the future is not stale but invalid. */
	assert_int_equal(camp_pause(&c, 9, NULL), NUDGE_EINVAL);
	/* Operator A retries start (lost ack): an idempotent replay. */
	assert_int_equal(camp_start(&c, 1, NULL), 0);
	assert_memory_equal(&c, &before, sizeof(c));
	assert_int_equal(camp_pause(&c, 2, NULL), 0);
	assert_int_equal(camp_pause(&c, 2, NULL), 0);
	assert_int_equal(c.version, 3);
	/* Only the last change replays; an older one is stale. */
	assert_int_equal(camp_start(&c, 1, NULL), NUDGE_ESTALE);
	/* Same base, other arguments: not a replay. */
	assert_int_equal(camp_set_weights(&c, 3,
	    (const uint8_t[]){80, 10, 10}, 3, NULL), 0);
	assert_int_equal(camp_set_weights(&c, 3,
	    (const uint8_t[]){80, 10, 10}, 3, NULL), 0);
	assert_int_equal(c.version, 4);
	assert_int_equal(camp_set_weights(&c, 3,
	    (const uint8_t[]){70, 20, 10}, 3, NULL), NUDGE_ESTALE);
	assert_int_equal(c.weight[0], 80);
	/* A refused change is not recorded: its retry is still refused. */
	assert_int_equal(camp_set_weights(&c, 4,
	    (const uint8_t[]){70, 20, 20}, 3, NULL), NUDGE_EINVAL);
	assert_int_equal(camp_set_weights(&c, 4,
	    (const uint8_t[]){70, 20, 20}, 3, NULL), NUDGE_EINVAL);
	assert_int_equal(c.version, 4);
}

static void
test_weights(void **state)
{
	struct camp c = fresh(), before;
	struct nudge_diag d = {0};
	int v = 0, moved = 0;

	(void)state;
	/* Not while draft (weights come from the rule file then). */
	assert_int_equal(camp_set_weights(&c, 1,
	    (const uint8_t[]){50, 25, 25}, 3, NULL), NUDGE_EINVAL);
	c = in_state(CAMP_RUNNING);
	before = c;
	assert_int_equal(camp_set_weights(&c, c.version,
	    (const uint8_t[]){50, 50}, 2, &d), NUDGE_EINVAL);
	assert_string_equal(d.msg, "2 weights given, the campaign has 3 "
	    "variants");
	assert_int_equal(camp_set_weights(&c, c.version,
	    (const uint8_t[]){50, 30, 30}, 3, &d), NUDGE_EINVAL);
	assert_string_equal(d.msg, "weights sum to 110, not 100");
	assert_int_equal(camp_set_weights(&c, c.version,
	    (const uint8_t[]){150, 0, 0}, 3, &d), NUDGE_EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	/* Zero is allowed; the change moves only whom it must. */
	assert_int_equal(camp_set_weights(&c, c.version,
	    (const uint8_t[]){75, 25, 0}, 3, NULL), 0);
	assert_int_equal(c.version, before.version + 1);
	for (int i = 0; i < 10000; i++) {
		char id[16];
		int w = 0;

		snprintf(id, sizeof(id), "id%d", i);
		assert_int_equal(camp_assigned(&before, strv_of(id), &w), 0);
		assert_int_equal(camp_assigned(&c, strv_of(id), &v), 0);
		assert_int_not_equal(v, 2);
		moved += v != w;
	}
	/* Bound C_1, C_2: |50 - 75| + |75 - 100| = 50% of 10000. */
	assert_true(moved < 5300);
	/* Paused too. */
	assert_int_equal(camp_pause(&c, c.version, NULL), 0);
	assert_int_equal(camp_set_weights(&c, c.version,
	    (const uint8_t[]){34, 33, 33}, 3, NULL), 0);
}

static void
test_reshuffle_holdout(void **state)
{
	struct camp c = in_state(CAMP_RUNNING);
	unsigned gen = c.generation, held = 0;
	int v = 0;

	(void)state;
	assert_int_equal(camp_reshuffle(&c, c.version, NULL), 0);
	assert_int_equal(c.generation, gen + 1);
	assert_int_equal(camp_set_holdout(&c, c.version, 10000, NULL),
	    NUDGE_EINVAL);
	assert_int_equal(camp_set_holdout(&c, c.version, 1000, NULL), 0);
	for (int i = 0; i < 10000; i++) {
		char id[16];

		snprintf(id, sizeof(id), "h%d", i);
		assert_int_equal(camp_assigned(&c, strv_of(id), &v), 0);
		held += v == ASSIGN_HOLDOUT;
	}
	/* 10% of 10000, 4 standard deviations (30 visitors each). */
	assert_true(held > 880 && held < 1120);
	/* Holdout may be set on a draft. */
	c = fresh();
	assert_int_equal(camp_set_holdout(&c, 1, 500, NULL), 0);
}

/* Counts what 4000 visitors see: [0..2] variants, [3] nothing. */
static void
seen(const struct camp *c, unsigned out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	for (int i = 0; i < 4000; i++) {
		char id[16];
		int v = 9;

		snprintf(id, sizeof(id), "s%d", i);
		assert_int_equal(camp_effective_variant(c, strv_of(id), &v),
		    0);
		out[v == CAMP_NONE ? 3 : v]++;
	}
}

static void
test_breaker(void **state)
{
	struct camp c = in_state(CAMP_DRAFT);
	struct nudge_diag d = {0};
	unsigned n[4];
	uint64_t ver;
	char longr[400];

	(void)state;
	seen(&c, n);
	assert_int_equal(n[3], 4000);		/* draft: nobody */
	assert_int_equal(camp_trip(&c, "x"), NUDGE_EINVAL);
	assert_int_equal(camp_start(&c, 1, NULL), 0);
	assert_int_equal(camp_set_holdout(&c, c.version, 1000, NULL), 0);
	seen(&c, n);
	assert_true(n[1] > 0 && n[2] > 0 && n[3] > 0);
	ver = c.version;
	memset(longr, 'r', sizeof(longr) - 1);
	longr[sizeof(longr) - 1] = '\0';
	longr[3] = '\n';
	assert_int_equal(camp_trip(&c, longr), 0);
	assert_int_equal(c.version, ver);	/* not versioned */
	assert_true(c.tripped);
	assert_int_equal(strlen(c.reason), CAMP_REASON_MAX);
	assert_int_equal(c.reason[3], '?');
	assert_int_equal(camp_trip(&c, "second"), 0);
	assert_int_equal(c.reason[0], 'r');	/* first reason kept */
	seen(&c, n);
	assert_int_equal(n[1] + n[2], 0);	/* everyone to control */
	assert_true(n[0] > 3000 && n[3] > 0);	/* holdout still apart */
	/* Paused: control too. */
	assert_int_equal(camp_reset_breaker(&c, c.version, NULL), 0);
	assert_false(c.tripped);
	assert_string_equal(c.reason, "");
	assert_int_equal(camp_reset_breaker(&c, c.version, &d), NUDGE_EINVAL);
	assert_string_equal(d.msg, "the breaker of campaign checkout is not "
	    "tripped");
	assert_int_equal(camp_pause(&c, c.version, NULL), 0);
	seen(&c, n);
	assert_int_equal(n[1] + n[2], 0);
	/* Stop clears the breaker. */
	assert_int_equal(camp_trip(&c, "guardrail purchase -12%"), 0);
	assert_int_equal(camp_stop(&c, c.version, 0, NULL), 0);
	assert_false(c.tripped);
	seen(&c, n);
	assert_int_equal(n[0], 4000);
}

static void
test_bad_visitor(void **state)
{
	struct camp c = in_state(CAMP_RUNNING);
	int v = 42;

	(void)state;
	assert_int_equal(camp_effective_variant(&c, STRV_LIT("\xc3\xa9"), &v),
	    NUDGE_EINVAL);
	assert_int_equal(camp_assigned(&c, STRV_LIT(""), &v), NUDGE_EINVAL);
	assert_int_equal(v, 42);
}

static void
round_trip(const struct camp *c)
{
	char buf[CAMP_TEXT_MAX];
	struct camp back;
	struct nudge_diag d = {0};
	size_t len = 0;

	assert_int_equal(camp_format(c, buf, sizeof(buf), &len), 0);
	assert_int_equal(strlen(buf), len);
	if (camp_parse(buf, len, &back, &d) != 0)
		fail_msg("%d:%d: %s\n%s", d.line, d.col, d.msg, buf);
	assert_memory_equal(&back, c, sizeof(back));
}

static void
test_round_trip(void **state)
{
	struct camp c = fresh();

	(void)state;
	round_trip(&c);
	assert_int_equal(camp_start(&c, 1, NULL), 0);
	assert_int_equal(camp_set_weights(&c, 2,
	    (const uint8_t[]){60, 40, 0}, 3, NULL), 0);
	assert_int_equal(camp_set_holdout(&c, 3, 9999, NULL), 0);
	assert_int_equal(camp_reshuffle(&c, 4, NULL), 0);
	assert_int_equal(camp_trip(&c, "purchase rate -12% vs control"), 0);
	round_trip(&c);
	assert_int_equal(camp_reset_breaker(&c, 5, NULL), 0);
	assert_int_equal(camp_pause(&c, 6, NULL), 0);
	round_trip(&c);
	assert_int_equal(camp_stop(&c, 7, 1, NULL), 0);
	round_trip(&c);
	/* A restored campaign replays like the original. */
	{
		char buf[CAMP_TEXT_MAX];
		size_t len;
		struct camp back;

		assert_int_equal(camp_format(&c, buf, sizeof(buf), &len), 0);
		assert_int_equal(camp_parse(buf, len, &back, NULL), 0);
		assert_int_equal(camp_stop(&back, 7, 1, NULL), 0);
		assert_int_equal(camp_stop(&back, 7, 0, NULL), NUDGE_ESTALE);
		assert_int_equal(camp_format(&c, buf, 10, &len),
		    NUDGE_ETOOBIG);
	}
}

static const char good[] =
    "nudge-campaign 1\n"
    "name=checkout\n"
    "version=3\n"
    "state=running\n"
    "generation=0\n"
    "holdout=500\n"
    "variants=control:50,bold:50\n"
    "winner=-1\n"
    "tripped=1\n"
    "reason=purchase -12%\n"
    "last=weights 2 50,50\n";

/* good with the first occurrence of from replaced by to. */
static int
parse_edit(const char *from, const char *to, struct nudge_diag *d)
{
	char buf[1024];
	const char *p = strstr(good, from);
	struct camp c;

	assert_non_null(p);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - good), good, to,
	    p + strlen(from));
	memset(&c, 0x5a, sizeof(c));
	return camp_parse(buf, strlen(buf), &c, d);
}

static void
test_parse_reject(void **state)
{
	static const struct {
		const char *from, *to;
		int err, line;
	} t[] = {
	    {"nudge-campaign 1", "nudge-campaign 2", NUDGE_EVERSION, 1},
	    {"nudge-campaign 1", "nudge-kampagne 1", NUDGE_ESYNTAX, 1},
	    {"name=checkout", "name=check out", NUDGE_ESYNTAX, 2},
	    {"name=checkout", "nom=checkout", NUDGE_ESYNTAX, 2},
	    {"version=3", "version=03", NUDGE_ESYNTAX, 3},
	    {"version=3", "version=-3", NUDGE_ESYNTAX, 3},
	    {"version=3", "version=18446744073709551616", NUDGE_ESYNTAX, 3},
	    {"version=3", "version=0", NUDGE_ESYNTAX, 3},
	    {"state=running", "state=done", NUDGE_ESYNTAX, 4},
	    {"generation=0", "generation=4294967296", NUDGE_ESYNTAX, 5},
	    {"holdout=500", "holdout=10000", NUDGE_ESYNTAX, 6},
	    {"control:50,bold:50", "control:50,bold:49", NUDGE_ESYNTAX, 7},
	    {"control:50,bold:50", "control:100", NUDGE_ESYNTAX, 7},
	    {"control:50,bold:50", "control:50,bold", NUDGE_ESYNTAX, 7},
	    {"control:50,bold:50", "control:50,:50", NUDGE_ESYNTAX, 7},
	    {"control:50,bold:50", "a:10,b:10,c:10,d:10,e:10,f:10,g:10,h:10,"
		"i:20", NUDGE_ESYNTAX, 7},
	    {"winner=-1", "winner=0", NUDGE_ESYNTAX, 8},
	    {"tripped=1", "tripped=2", NUDGE_ESYNTAX, 9},
	    {"reason=purchase", "reason=\x01purchase", NUDGE_ESYNTAX, 10},
	    {"tripped=1\nreason=purchase -12%", "tripped=0\nreason=x",
		NUDGE_ESYNTAX, 10},
	    {"last=weights 2 50,50", "last=weights 2 50", NUDGE_ESYNTAX, 11},
	    {"last=weights 2 50,50", "last=jump 2 -", NUDGE_ESYNTAX, 11},
	    {"last=weights 2 50,50", "last=start 1 -", NUDGE_EINVAL, 11},
	    {"last=weights 2 50,50", "last=-", NUDGE_EINVAL, 11},
	    {"last=weights 2 50,50\n", "last=weights 2 50,50", NUDGE_ESYNTAX,
		11},
	    {"last=weights 2 50,50\n", "last=weights 2 50,50\nx\n",
		NUDGE_ESYNTAX, 11},
	    {"holdout=500\n", "", NUDGE_ESYNTAX, 6},
	};
	struct nudge_diag d;
	char big[CAMP_TEXT_MAX + 2];
	struct camp c;

	(void)state;
	assert_int_equal(parse_edit("name", "name", NULL), 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&d, 0, sizeof(d));
		if (parse_edit(t[i].from, t[i].to, &d) != t[i].err ||
		    d.line != t[i].line)
			fail_msg("case %zu: want %d at line %d, got line %d: "
			    "%s", i, t[i].err, t[i].line, d.line, d.msg);
	}
	/* Stopped: winner required and in range. */
	memset(&d, 0, sizeof(d));
	assert_int_equal(parse_edit("state=running\n", "state=stopped\n", &d),
	    NUDGE_ESYNTAX);
	memset(big, 'a', sizeof(big));
	assert_int_equal(camp_parse(big, sizeof(big), &c, NULL),
	    NUDGE_ETOOBIG);
	assert_int_equal(camp_parse(good, 0, &c, NULL), NUDGE_ESYNTAX);
	assert_int_equal(camp_parse(good, 30, &c, NULL), NUDGE_ESYNTAX);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init),
	    cmocka_unit_test(test_transitions),
	    cmocka_unit_test(test_stop_winner),
	    cmocka_unit_test(test_versions),
	    cmocka_unit_test(test_weights),
	    cmocka_unit_test(test_reshuffle_holdout),
	    cmocka_unit_test(test_breaker),
	    cmocka_unit_test(test_bad_visitor),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_parse_reject),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
