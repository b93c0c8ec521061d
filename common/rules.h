/*
 * rules.h - the rule language: what each visitor sees, compiled once,
 * evaluated on every event.
 *
 * A rule file declares funnels, rules and campaigns.  rule_compile() parses
 * and checks the whole text (every name resolved, every type checked, every
 * error collected) and builds an immutable struct rule_set; rule_eval()
 * applies it to one event of one visitor and lists the actions to take.
 *
 * Grammar (a statement starts at column 1; its clauses follow on the same
 * line or on indented lines; '#' starts a comment to the end of the line):
 *
 *	file      = { funnel | rule | campaign }
 *	funnel    = "funnel" NAME ":" STEPS        (funnel.h syntax; indented
 *	                                            lines continue it)
 *	rule      = "rule" NAME ":" { clause }
 *	clause    = "when" cond
 *	          | action
 *	          | "at" "most" INT "per" ( "session" | "day" | INT "days" )
 *	          | "score" ("+" | "-") INT
 *	          | "holdout" NUMBER "%"            (up to two decimals)
 *	          | "shadow"
 *	          | "priority" INT                  (0..1000, default 100)
 *	action    = "show" "banner" TEXT | "show" "message" TEXT
 *	          | "show" "popup" STRING [TEXT]    (STRING: a popup name)
 *	          | "show" "element" SEL | "hide" "element" SEL
 *	          | "shake" SEL | "show" "coupon" SEL
 *	          | "capture" "email" [TEXT]
 *	campaign  = "campaign" NAME "on" "funnel" NAME "goal" GOAL ":"
 *	            "split" VARIANT INT { "," VARIANT INT }   (weights sum 100;
 *	                                                       first = control)
 *	            { VARIANT ":" ( "enable" "rule" NAME | "disable" "rule" NAME
 *	                          | "text" "rule" NAME TEXT ) }
 *	            { "guardrail" GOAL [ "drop" NUMBER "%" ] }
 *	GOAL      = a step label of the funnel | an event name | "revenue"
 *	cond      = or ;  or = and { "or" and } ;  and = not { "and" not }
 *	not       = "not" not | cmp
 *	cmp       = sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
 *	                | "~" STRING | ["not"] "in" "[" literal { "," literal } "]" ]
 *	sum       = prod { ("+" | "-") prod } ;  prod = unary { ("*" | "/") unary }
 *	unary     = "-" unary | atom
 *	atom      = NUMBER | STRING | "true" | "false" | "(" cond ")"
 *	          | FIELD | "context." KEY [ "[" sum "]" ]
 *	          | "campaign." NAME | "variant" "(" NAME ")"
 *	TEXT      = a string with {expr} holes (sum); "{{" and "}}" are braces
 *
 * Fields (type): event (s: "pageview", "add_to_cart", ... or a custom name),
 * page (s: path without ?query or #fragment), target (s: element
 * selector), sku (s), value (n, currency units), country (s, "FR"),
 * device (s: desktop mobile tablet bot unknown), source (s: direct search
 * social coupon email paid referral), source.campaign, utm.source,
 * utm.medium, utm.campaign, region, step (s: label of the furthest funnel
 * step reached), session.pages, session.events, session.seconds,
 * session.step (n), session.email (b), cart.items, cart.value, score (n),
 * visitor.orders, visitor.sessions, visitor.days_since_last_visit (n),
 * hour (n, 0-23), weekday (s: mon..sun), context.KEY and
 * context.KEY[expr] (fact set from outside: string or number), variant(C)
 * and campaign.C (s: the visitor's variant of campaign C).
 *
 * Semantics:
 * - A value may be missing: an unknown context fact, a visitor not in a
 *   campaign, a first visit's days_since_last_visit, a division by zero, a
 *   fact of the wrong type.  Any comparison, `~` or `in` involving a missing
 *   value is false (so `not (x == 1)` is true); arithmetic on it is missing.
 *   A rule whose text has a missing hole does not fire.
 * - `~` is substring, or an anchored glob when the pattern has * or ?
 *   (linear time, funnel_glob()).  Strings compare byte for byte.
 * - Caps: every rule is capped; with no `at most` clause a rule fires at
 *   most once per session.  Up to RULE_CAPS_MAX caps, all must allow.
 * - A rule has one action, or none when it only scores (`score +10`).
 *   Score deltas of rules that fire add up in rule_out.score; the score a
 *   condition tests is the session's score before this event.
 * - `holdout 10%`: a matching visitor in the holdout still gets the action
 *   in the output, flagged holdout, so the caller records but does not
 *   show it.  `shadow`: evaluated and reported, flagged shadow, never shown.
 * - Campaign lines: a rule named by `enable rule` in some variant of
 *   campaign C fires only for visitors assigned to one of those variants
 *   (no one while C does not assign anyone); `disable rule` turns a rule off
 *   for that variant's visitors; `text rule` replaces its text for them.
 *
 * Holdout bucket, the same in the tag (GrowthBook's hash v2):
 *	seed   = "holdout:" + rule name
 *	bucket = fnv1a32(decimal(fnv1a32(seed + visitor_id))) % 10000
 *	held out iff bucket < holdout basis points (10% = 1000)
 * where fnv1a32 is 32-bit FNV-1a over the ASCII bytes (offset 2166136261,
 * prime 16777619) and decimal() the base-10 digits of the unsigned value.
 *
 * Threads: a rule set is immutable after rule_compile(); any number of
 * threads may call rule_eval() on it at once.  rule_set_free() only when no
 * evaluation is running.
 */
#ifndef NUDGE_RULES_H
#define NUDGE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "event.h"
#include "funnel.h"

/* Bounds on input: everything from outside is checked against these. */
#define RULE_SOURCE_MAX (1u << 20)	/* bytes of rule text */
#define RULE_RULES_MAX 10000
#define RULE_FUNNELS_MAX 16
#define RULE_CAMPAIGNS_MAX 64
#define RULE_VARIANTS_MAX 8
#define RULE_GUARDRAILS_MAX 4
#define RULE_CAPS_MAX 3
#define RULE_NAME_MAX 63		/* rule, campaign, variant, fact names */
#define RULE_STRING_MAX 512		/* bytes of a string literal */
#define RULE_TEXT_MAX 512		/* bytes of a rendered text */
#define RULE_DEPTH_MAX 64		/* nesting and height of an expression */
#define RULE_NODES_MAX 4096		/* expression nodes of one rule */
#define RULE_LIST_MAX 64		/* items of an `in` list */
#define RULE_HOLES_MAX 16		/* holes of one text */
#define RULE_ERRORS_MAX 50		/* errors collected per compile */
#define RULE_OUT_MAX 16			/* actions reported per event */
#define RULE_SCORED_MAX 128		/* score-only rules per event */

enum rule_act {
	RULE_ACT_SCORE = 0,	/* no visible action: the rule only scores */
	RULE_ACT_BANNER,	/* text */
	RULE_ACT_POPUP,		/* arg = popup name, optional text */
	RULE_ACT_MESSAGE,	/* text */
	RULE_ACT_SHOW,		/* arg = selector */
	RULE_ACT_HIDE,		/* arg = selector */
	RULE_ACT_SHAKE,		/* arg = selector */
	RULE_ACT_COUPON,	/* arg = selector of the coupon field */
	RULE_ACT_EMAIL,		/* email capture, optional text */
	RULE_ACT_COUNT
};

/* Names the tag knows: "score", "banner", "popup", ... */
const char *rule_act_name(int kind);

enum rule_window {
	RULE_PER_SESSION = 0,
	RULE_PER_DAYS		/* a sliding window of `days` days */
};

struct rule_cap {
	uint16_t count;		/* at most count firings ... */
	uint8_t window;		/* enum rule_window */
	uint16_t days;		/* RULE_PER_DAYS: 1..365 */
};

/* The read-only part of a compiled rule, for the agent and the console. */
struct rule_info {
	const char *name;
	uint32_t key;		/* fnv1a32(name): a stable history key */
	int line;		/* where `rule NAME:` is */
	uint8_t kind;		/* enum rule_act */
	bool shadow;
	uint16_t holdout_bp;	/* 0..9999 basis points */
	int16_t score;		/* delta when it fires, 0 if none */
	uint16_t priority;	/* higher first; ties in file order */
	uint8_t n_caps;		/* >= 1 (the default cap is explicit) */
	struct rule_cap caps[RULE_CAPS_MAX];
	const char *arg;	/* selector or popup name, "" if none */
	uint16_t event_mask;	/* event types that can match, bit per type */
};

enum rule_goal {
	RULE_GOAL_STEP = 0,	/* reaching a step of the campaign's funnel */
	RULE_GOAL_EVENT,	/* an event of a type (or custom name) */
	RULE_GOAL_REVENUE	/* purchase value */
};

struct rule_metric {
	uint8_t kind;		/* enum rule_goal */
	uint8_t step;		/* RULE_GOAL_STEP: 0-based step index */
	uint8_t event_type;	/* RULE_GOAL_EVENT */
	const char *name;	/* step label, event name or "revenue" */
	uint16_t max_drop_bp;	/* guardrails: allowed relative drop */
};

struct rule_variant {
	const char *name;
	uint8_t weight;		/* percent; the weights sum to 100 */
};

/* A campaign as declared: the campaign runtime runs it. */
struct rule_campaign {
	const char *name;
	int line;
	int funnel;		/* index for rule_set_funnel() */
	struct rule_metric goal;
	uint8_t n_variants;	/* 2..RULE_VARIANTS_MAX; [0] is control */
	struct rule_variant variant[RULE_VARIANTS_MAX];
	uint8_t n_guardrails;
	struct rule_metric guardrail[RULE_GUARDRAILS_MAX];
};

/* Errors of one compile, in file order.  Caller-owned. */
struct rule_errors {
	unsigned n;		/* entries in e[] */
	bool truncated;		/* more than RULE_ERRORS_MAX were found */
	struct nudge_diag e[RULE_ERRORS_MAX];
};

/* Prints every error as "file:line:col: message\n". */
void rule_errors_print(FILE *f, const char *file, const struct rule_errors *errs);

struct rule_set;

/*
 * Compiles len bytes of text (need not be NUL-terminated).  Returns 0 and
 * a new set in *out (the caller frees it with rule_set_free), or
 * NUDGE_ESYNTAX with every error found in errs (also too-big inputs,
 * reported as errors with a position), or NUDGE_ENOMEM.  *out is written
 * only on success; errs (may be NULL) is always reset first.
 */
int rule_compile(const char *text, size_t len, struct rule_set **out,
    struct rule_errors *errs);

void rule_set_free(struct rule_set *set);

unsigned rule_set_count(const struct rule_set *set);
const struct rule_info *rule_set_rule(const struct rule_set *set, unsigned id);
/* The id of the rule named name, or -1. */
int rule_set_find(const struct rule_set *set, const char *name);
unsigned rule_set_funnels(const struct rule_set *set);
const struct funnel *rule_set_funnel(const struct rule_set *set, unsigned i);
unsigned rule_set_campaigns(const struct rule_set *set);
const struct rule_campaign *rule_set_campaign(const struct rule_set *set,
    unsigned i);

/*
 * The selectors the tag should watch for this set: every string that a
 * rule gated on event "hover" or "visible" compares with target (`target
 * ~ "S"` without * or ?, `target == "S"`), in rule order, without
 * duplicates, keeping only those made of [A-Za-z0-9_-.#:>,=[] ] (so they
 * are plain CSS selectors that need no escaping in JSON) and at most
 * RULE_WATCH_SEL_MAX bytes.  Writes up to cap of them to out and returns
 * how many were written; 0 for a NULL set.
 */
#define RULE_WATCH_MAX 16
#define RULE_WATCH_SEL_MAX 127
unsigned rule_set_watch(const struct rule_set *set,
    char out[][RULE_WATCH_SEL_MAX + 1], unsigned cap);

/* What the agent knows about the visitor when an event arrives. */
struct rule_subject {
	struct nudge_strv visitor;	/* id: holdout bucketing */
	char country[3];		/* "" unknown */
	uint8_t device;			/* enum event_device */
	uint8_t source;			/* enum event_source */
	struct nudge_strv source_campaign; /* coupon or utm campaign */
	struct nudge_strv utm_source, utm_medium, utm_campaign;
	struct nudge_strv region;	/* geo region, for context facts */
	struct nudge_strv step;		/* label of the furthest step */
	uint8_t steps;			/* steps reached, 0..funnel length */
	uint32_t pages, events, seconds;
	bool email_known;
	uint32_t cart_items;
	int64_t cart_cents;
	int32_t score;
	uint32_t orders, sessions;	/* across sessions, this one included */
	int32_t days_since_last_visit;	/* -1: first visit (missing) */
};

enum rule_vtype {
	RULE_V_MISSING = 0,
	RULE_V_NUM,
	RULE_V_STR,
	RULE_V_BOOL
};

/* A value: what context facts return.  s is borrowed. */
struct rule_value {
	uint8_t type;		/* enum rule_vtype */
	bool b;
	double num;
	struct nudge_strv s;
};

/*
 * The caller's side of one evaluation.  Callbacks get arg; they must be
 * safe to call from the evaluating thread and must not block for long.
 * - fact: the fact key (e.g. "weather") and its index ("alps", or empty
 *   view for context.KEY).  Fills *out and returns true if the fact is
 *   known; its strings must stay valid until rule_eval returns.  NULL: no
 *   facts (all missing).
 * - variant: the index (in rule_campaign.variant) the visitor is assigned
 *   in campaign c, or -1 if none.  NULL: no campaign assigns anyone.
 * - cap_ok: may rule id fire once more under cap (its history for this
 *   visitor)?  Called for each cap of a rule whose condition matched.
 *   NULL: everything may fire.  rule_eval never records anything: the
 *   caller records what it shows (and decides about shadow/holdout ones).
 */
struct rule_ctx {
	const struct nudge_event *ev;
	const struct rule_subject *subj;
	uint8_t hour;		/* 0..23, agent local time */
	uint8_t weekday;	/* 0 = monday .. 6 = sunday */
	void *arg;
	bool (*fact)(void *arg, struct nudge_strv key, struct nudge_strv index,
	    struct rule_value *out);
	int (*variant)(void *arg, unsigned campaign);
	bool (*cap_ok)(void *arg, unsigned rule, const struct rule_cap *cap);
};

struct rule_action {
	uint32_t rule;		/* id for rule_set_rule() */
	uint8_t kind;		/* enum rule_act */
	bool shadow;
	bool holdout;
	int16_t score;
	const char *arg;	/* selector or popup name (borrowed from set) */
	uint16_t text_len;
	char text[RULE_TEXT_MAX + 1]; /* rendered, NUL-terminated, "" if none */
};

/*
 * What one event does.  Rules with an action are in act[]; rules that only
 * score are in scored[] (ids), so a page full of scoring rules never
 * crowds out an action.  The caller records every entry of both in the
 * visitor's history (that is what the caps count).  A rule that does not
 * fit is left out entirely, its score too, and counted in dropped.
 */
struct rule_out {
	int32_t score;		/* sum of fired non-shadow, non-holdout rules */
	unsigned n;		/* entries in act[], highest priority first */
	unsigned n_scored;	/* entries in scored[], same order */
	unsigned dropped;	/* fired but beyond RULE_OUT_MAX/SCORED_MAX */
	unsigned n_capped;	/* matched but refused by a cap (all of them) */
	uint32_t capped[RULE_OUT_MAX]; /* the first RULE_OUT_MAX of them */
	uint32_t scored[RULE_SCORED_MAX];
	struct rule_action act[RULE_OUT_MAX];
};

/*
 * Evaluates every rule that can match ctx->ev (rules are indexed by event
 * type) in priority order and writes the result to *out (always written).
 * Returns 0, or NUDGE_EINVAL if an argument is NULL.
 */
int rule_eval(const struct rule_set *set, const struct rule_ctx *ctx,
    struct rule_out *out);

/* fnv1a32 over n bytes, continuing from h (start with RULE_FNV_OFFSET). */
#define RULE_FNV_OFFSET 2166136261u
uint32_t rule_fnv1a(uint32_t h, const void *p, size_t n);

/* The bucket (0..9999) of visitor under seed: the formula above. */
unsigned rule_bucket(struct nudge_strv seed, struct nudge_strv visitor);

#endif
