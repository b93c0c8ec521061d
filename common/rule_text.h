/*
 * rule_text.h - compiling the texts of actions ("We deliver to {country}")
 * into literal and hole segments.  Internal to rules*.c.
 */
#ifndef NUDGE_RULE_TEXT_H
#define NUDGE_RULE_TEXT_H

#include <stdbool.h>

#include "rule_expr.h"

/*
 * Compiles the string token t into *out: "{{" and "}}" are braces, each
 * {expr} is a number or string expression.  Errors are reported to
 * env->errs; returns false on any.
 */
bool rtext_compile(struct rexpr_env *env, const struct rtoken *t,
    struct rtext *out);

#endif
