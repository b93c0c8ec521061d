/*
 * rule_expr.h - the parser-checker of conditions and holes: tokens in,
 * typed nodes of rule_arena.h out.  Internal to rules*.c.
 *
 * Every operator is checked as soon as its operands are parsed, so that
 * nothing that runs later can meet a type it does not expect.
 */
#ifndef NUDGE_RULE_EXPR_H
#define NUDGE_RULE_EXPR_H

#include <stdbool.h>
#include <stdint.h>

#include "rule_arena.h"
#include "rule_lex.h"
#include "rules.h"

/* What the expression parser works on: the statement parser's cursor. */
struct rexpr_env {
	struct rlex *lx;
	struct rarena *ar;
	struct rerrs *errs;
	bool bad;	/* a syntax error: the caller resynchronizes */
	int depth;
	uint32_t rule_nodes; /* nodes of the current rule */
};

/* Parses a condition at lx->tok; returns its root node (0 on error). */
uint32_t rexpr_cond(struct rexpr_env *env);

/*
 * Parses a whole hole (a number or string expression up to the end of
 * env->lx); returns its node, 0 after reporting an error.
 */
uint32_t rexpr_hole(struct rexpr_env *env);

/* Event types node n can match, a bit per enum event_type. */
uint16_t rexpr_event_mask(const struct rarena *ar, uint32_t n);
#define REXPR_ALL_EVENTS ((uint16_t)((1u << EVENT_TYPE_COUNT) - 1))

/* Names of static types for messages: "a number", "a string", ... */
const char *rexpr_type_name(int type);

#endif
