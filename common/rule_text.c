/*
 * rule_text.c - texts with {expr} holes: the literal runs are decoded once
 * at compile time and each hole is parsed as an expression by a lexer over
 * just its bytes, so errors inside a hole point at the right column.
 * Writes segments to the compile's arena; one compile at a time per arena.
 */
#include "rule_text.h"

#include <string.h>

static bool
seg_add(struct rexpr_env *env, const char *lit, size_t len, uint32_t node)
{
	struct rarena *ar = env->ar;

	if (!rarena_grow(ar, (void **)&ar->segs, ar->n_segs, &ar->cap_segs,
	        sizeof(*ar->segs)))
		return false;
	ar->segs[ar->n_segs++] = (struct rseg){
	    node ? NULL : rarena_str(ar, lit, len), (uint32_t)len, node};
	return true;
}

/* Parses the hole p[0..n) whose first byte is at line:col. */
static uint32_t
text_hole(struct rexpr_env *env, const char *p, size_t n, int line, int col)
{
	struct rlex sub, *outer = env->lx;
	uint32_t node;

	rlex_init(&sub, p, n, line, col, false, env->errs);
	env->lx = &sub;
	node = rexpr_hole(env);
	env->lx = outer;
	env->bad = false; /* the statement goes on after the string */
	return node;
}

/* Where the pending literal run goes: the decoded bytes so far. */
struct text_acc {
	char lit[RULE_STRING_MAX + 1];
	size_t n;
	unsigned holes;
};

static bool
text_flush(struct rexpr_env *env, struct text_acc *acc)
{
	bool ok = acc->n == 0 || seg_add(env, acc->lit, acc->n, 0);

	acc->n = 0;
	return ok;
}

/* Handles the '{' at p[k]; returns the index of the matching '}'. */
static size_t
text_brace(struct rexpr_env *env, const struct rtoken *t, size_t k,
    struct text_acc *acc, bool *ok)
{
	const char *end = memchr(t->p + k, '}', t->len - k);
	int col = t->col + 1 + (int)k;
	uint32_t node;

	*ok = false;
	if (end == NULL) {
		rerr(env->errs, t->line, col, "unclosed '{' in text "
		                              "(write '{{' for a brace)");
		return t->len;
	}
	if (++acc->holes > RULE_HOLES_MAX) {
		rerr(env->errs, t->line, col, "more than %d holes in a text",
		    RULE_HOLES_MAX);
		return t->len;
	}
	node = text_hole(env, t->p + k + 1, (size_t)(end - t->p) - k - 1,
	    t->line, col + 1);
	*ok = node != 0 && text_flush(env, acc) && seg_add(env, NULL, 0, node);
	return (size_t)(end - t->p);
}

bool
rtext_compile(struct rexpr_env *env, const struct rtoken *t, struct rtext *out)
{
	struct text_acc acc;
	uint32_t first = env->ar->n_segs;
	bool ok = true;

	acc.n = 0;
	acc.holes = 0;
	for (size_t k = 0; k < t->len && ok; k++) {
		char c = t->p[k];
		if (c == '\\') {
			c = t->p[++k];
		} else if (c == '{' && k + 1 < t->len && t->p[k + 1] == '{') {
			k++;
		} else if (c == '{') {
			k = text_brace(env, t, k, &acc, &ok);
			continue;
		} else if (c == '}' && k + 1 < t->len && t->p[k + 1] == '}') {
			k++;
		} else if (c == '}') {
			rerr(env->errs, t->line, t->col + 1 + (int)k,
			    "unmatched '}' in text (write '}}' for a brace)");
			return false;
		}
		acc.lit[acc.n++] = c;
	}
	if (!ok || !text_flush(env, &acc))
		return false;
	out->seg = first;
	out->n = env->ar->n_segs - first;
	return true;
}
