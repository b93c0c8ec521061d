/*
 * rule_parse.h - the statements of a rule file (funnel, rule, campaign)
 * parsed into a program that rules.c resolves and indexes.  Internal to
 * rules*.c.
 *
 * The parser reports every error it can and resynchronizes at the next
 * clause or statement.  Names that may be declared later in the file (rule
 * names in campaigns, campaign names in conditions, funnel names and step
 * labels) are kept with their positions and checked by rules.c once the
 * whole file is read.
 */
#ifndef NUDGE_RULE_PARSE_H
#define NUDGE_RULE_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "funnel.h"
#include "rule_expr.h"
#include "rule_lex.h"
#include "rules.h"

struct rdef {
	struct rule_info info;	/* public part: first, see rules.c */
	int col;		/* of the name */
	uint32_t cond;		/* root node */
	struct rtext text;	/* no segments: no text */
	uint32_t seed;		/* fnv1a state after "holdout:" + name */
	uint32_t gate;		/* campaign gates [gate, gate + n_gates) */
	uint32_t n_gates;
};

/* A name written in the file, checked once the file is read. */
struct rname {
	const char *s;		/* "" if absent */
	bool quoted;		/* a string literal (custom event goal) */
	int line;
	int col;
};

struct rcamp {
	struct rule_campaign pub;
	int col;
	struct rname funnel;
	struct rname goal;
	struct rname guard[RULE_GUARDRAILS_MAX];
};

enum rcline_what { RCL_ENABLE = 0, RCL_DISABLE, RCL_TEXT };

/* One `VARIANT: enable|disable|text rule NAME ["text"]` line. */
struct rcline {
	int32_t rule_id;	/* set by rules.c: -1 if unknown */
	uint16_t camp;
	uint8_t variant;
	uint8_t what;		/* enum rcline_what */
	struct rname rule;
	struct rtext text;
};

struct rprog {
	struct rarena ar;
	struct rerrs *errs;
	struct rdef *rules;
	unsigned n_rules, cap_rules;
	struct funnel funnels[RULE_FUNNELS_MAX];
	int funnel_line[RULE_FUNNELS_MAX];
	unsigned n_funnels;
	struct rcamp camps[RULE_CAMPAIGNS_MAX];
	unsigned n_camps;
	struct rcline *clines;
	unsigned n_clines, cap_clines;
};

void rparse_init(struct rprog *pg, struct rerrs *errs);
void rparse_fini(struct rprog *pg);

/* Parses len bytes of text into pg; errors go to pg->errs. */
void rparse_file(struct rprog *pg, const char *text, size_t len);

#endif
