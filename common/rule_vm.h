/*
 * rule_vm.h - evaluating compiled expressions and rendering texts.
 * Internal to rules*.c.
 *
 * The evaluator walks the checked node tree of rule_expr.h with one
 * handler per operator (a const table).  It is the reference semantics:
 * rule_eval runs the flat programs of rule_code.h, which test the common
 * leaves themselves and hand every other subtree to rvm_test; texts are
 * rendered here.  Operands are already known to have the right static
 * type, so the only runtime case left is a missing value.  Nothing is
 * allocated: values point into the event, the subject, the rule set or a
 * fact the caller returned.
 */
#ifndef NUDGE_RULE_VM_H
#define NUDGE_RULE_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rule_expr.h"
#include "rules.h"

/*
 * Facts already asked during one evaluation: many rules test the same
 * fact, and the caller's lookup is the dearest load.  Keys are interned
 * at compile time, so a key is known by its pointer.
 */
#define RVM_FACTS 8
struct rvm_facts {
	unsigned n, next;
	struct {
		const char *key;
		struct nudge_strv index;
		struct rule_value v;
	} e[RVM_FACTS];
};

struct rvm {
	const struct rnode *nodes;
	const struct rule_campaign *camps;
	const struct rule_ctx *ctx;
	struct rvm_facts *facts;	/* per evaluation, may be NULL */
};

/* The value of field f (enum rfield) for ctx: missing only for a first
 * visit's days_since_last_visit. */
void rvm_field(const struct rule_ctx *ctx, unsigned f, struct rule_value *out);

/* The value of node n. */
void rvm_eval(const struct rvm *vm, uint32_t n, struct rule_value *out);

/* Whether the condition n holds (missing counts as false). */
bool rvm_test(const struct rvm *vm, uint32_t n);

/*
 * Renders segs[0..n) into buf (cap bytes, NUL-terminated, truncated at a
 * UTF-8 boundary).  Returns the length, or -1 if a hole is missing.
 */
int rvm_render(const struct rvm *vm, const struct rseg *segs, uint32_t n,
    char *buf, size_t cap);

/* Formats a number as a hole shows it: 3, 2.5, 19.99 (at most 2 places). */
size_t rvm_format_num(double v, char *buf, size_t cap);

#endif
