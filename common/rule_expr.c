/*
 * rule_expr.c - parsing and type-checking conditions and texts.
 *
 * Writes nodes and deferred checks to the compile's arena.  A
 * recursive-descent parser builds nodes bottom-up and checks each operator
 * as soon as its operands are known, so a type error points at the
 * operator.  A subtree with an error has type RT_TERR, which silences the
 * checks above it (one mistake, one message).  One compile per arena; any
 * thread.
 */
#include "rule_expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_field.h"

const char *
rexpr_type_name(int type)
{
	static const char *const names[] = {
		"a missing value", "a number", "a string", "true/false",
		"a context fact", "an error",
	};

	return type >= 0 && type <= RT_TERR ? names[type] : "?";
}

/* ---- nodes ------------------------------------------------------------ */

/* A parsed operand: its node, static type and where it starts. */
struct rx {
	uint32_t n;
	uint8_t type;
	int line;
	int col;
};

static const struct rx rx_err = {0, RT_TERR, 0, 0};

static void env_fail(struct rexpr_env *env, const struct rtoken *at,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A syntax error: reported once (not on a lexer error token). */
static void
env_fail(struct rexpr_env *env, const struct rtoken *at, const char *fmt,
    ...)
{
	va_list ap;
	char msg[NUDGE_DIAG_MSG];

	if (!env->bad && at->t != RT_ERR) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		rerr(env->errs, at->line, at->col, "%s", msg);
	}
	env->bad = true;
}

static uint32_t
node_new(struct rexpr_env *env, uint8_t op, uint8_t type, uint32_t a,
    uint32_t b)
{
	struct rarena *ar = env->ar;
	struct rnode *nd;
	unsigned h = 0;

	if (ar->n_nodes == 0) { /* the dummy at index 0 */
		if (!rarena_grow(ar, (void **)&ar->nodes, 0, &ar->cap_nodes,
		        sizeof(*nd)))
			return 0;
		memset(&ar->nodes[0], 0, sizeof(*nd));
		ar->n_nodes = 1;
	}
	if (++env->rule_nodes > RULE_NODES_MAX) {
		env_fail(env, &env->lx->tok,
		    "condition too large (more than %d nodes)", RULE_NODES_MAX);
		return 0;
	}
	if (!rarena_grow(ar, (void **)&ar->nodes, ar->n_nodes, &ar->cap_nodes,
	        sizeof(*nd)))
		return 0;
	if (a != 0 && op != ROP_FIELD && op != ROP_EVENT_IS &&
	    op != ROP_VARIANT)
		h = ar->nodes[a].h;
	if (b != 0 && op != ROP_IN && op != ROP_NOT_IN && ar->nodes[b].h > h)
		h = ar->nodes[b].h;
	if (h + 1 > RULE_DEPTH_MAX) {
		env_fail(env, &env->lx->tok,
		    "expression nested deeper than %d", RULE_DEPTH_MAX);
		return 0;
	}
	nd = &ar->nodes[ar->n_nodes];
	memset(nd, 0, sizeof(*nd));
	nd->op = op;
	nd->type = type;
	nd->a = a;
	nd->b = b;
	nd->h = (uint8_t)(h + 1);
	return ar->n_nodes++;
}

static struct rnode *
node_at(struct rexpr_env *env, uint32_t n)
{
	return &env->ar->nodes[n];
}

static void
defer_add(struct rexpr_env *env, uint8_t kind, uint32_t node, uint32_t ref,
    int line, int col)
{
	struct rarena *ar = env->ar;

	if (node == 0 || !rarena_grow(ar, (void **)&ar->defer, ar->n_defer,
	                     &ar->cap_defer, sizeof(*ar->defer)))
		return;
	ar->defer[ar->n_defer++] = (struct rdefer){kind, node, ref, line, col};
}

static struct rx
rx_of(uint32_t n, uint8_t type, const struct rtoken *at)
{
	return (struct rx){n, n ? type : RT_TERR, at->line, at->col};
}

static uint32_t
const_str(struct rexpr_env *env, const struct rtoken *t)
{
	char buf[RULE_STRING_MAX + 1];
	size_t n = rlex_unquote(t, buf, sizeof(buf));
	uint32_t k = node_new(env, ROP_CONST, RULE_V_STR, 0, 0);

	if (k != 0) {
		node_at(env, k)->k.type = RULE_V_STR;
		node_at(env, k)->k.s.ptr = rarena_str(env->ar, buf, n);
		node_at(env, k)->k.s.len = (uint32_t)n;
	}
	return k;
}

static uint32_t
const_num(struct rexpr_env *env, double v)
{
	uint32_t k = node_new(env, ROP_CONST, RULE_V_NUM, 0, 0);

	if (k != 0) {
		node_at(env, k)->k.type = RULE_V_NUM;
		node_at(env, k)->k.num = v;
	}
	return k;
}

/* ---- atoms ------------------------------------------------------------ */

static struct rx ex_or(struct rexpr_env *env);
static struct rx ex_sum(struct rexpr_env *env);

static bool
tok_word(const struct rtoken *t, const char *w)
{
	size_t n = strlen(w);

	return t->t == RT_IDENT && t->len == n && memcmp(t->p, w, n) == 0;
}

static bool
tok_prefix(const struct rtoken *t, const char *w)
{
	size_t n = strlen(w);

	return t->t == RT_IDENT && t->len > n && memcmp(t->p, w, n) == 0;
}

static bool
expect(struct rexpr_env *env, uint8_t t, const char *what)
{
	char buf[48];

	if (env->lx->tok.t == t) {
		rlex_adv(env->lx);
		return true;
	}
	env_fail(env, &env->lx->tok, "expected %s, found %s", what,
	    rlex_what(&env->lx->tok, buf, sizeof(buf)));
	return false;
}

static uint32_t
variant_node(struct rexpr_env *env, const char *name, size_t n,
    const struct rtoken *at)
{
	uint32_t k = node_new(env, ROP_VARIANT, RULE_V_STR, 0, 0);

	if (k != 0) {
		node_at(env, k)->k.s.ptr = rarena_str(env->ar, name, n);
		node_at(env, k)->k.s.len = (uint32_t)n;
		defer_add(env, RD_CAMPAIGN, k, 0, at->line, at->col);
	}
	return k;
}

/* variant(NAME) */
static struct rx
at_variant(struct rexpr_env *env, struct rtoken at)
{
	struct rtoken name;
	char buf[48];

	rlex_adv(env->lx);
	rlex_adv(env->lx); /* '(' */
	name = env->lx->tok;
	if (name.t != RT_IDENT || memchr(name.p, '.', name.len) != NULL) {
		env_fail(env, &name, "expected a campaign name, found %s",
		    rlex_what(&name, buf, sizeof(buf)));
		return rx_err;
	}
	rlex_adv(env->lx);
	if (!expect(env, RT_RP, "')'"))
		return rx_err;
	return rx_of(variant_node(env, name.p, name.len, &name), RULE_V_STR,
	    &at);
}

/* context.KEY or context.KEY[index] */
static struct rx
at_fact(struct rexpr_env *env, struct rtoken at)
{
	uint32_t k, idx = 0;
	struct rx ix;

	rlex_adv(env->lx);
	if (env->lx->tok.t == RT_LB) {
		rlex_adv(env->lx);
		ix = ex_sum(env);
		if (env->bad || !expect(env, RT_RB, "']'"))
			return rx_err;
		if (ix.type != RULE_V_STR && ix.type != RT_TANY &&
		    ix.type != RT_TERR)
			rerr(env->errs, ix.line, ix.col,
			    "a context index must be a string, found %s",
			    rexpr_type_name(ix.type));
		idx = ix.n;
	}
	k = node_new(env, ROP_FACT, RT_TANY, idx, 0);
	if (k != 0) {
		node_at(env, k)->k.s.ptr =
		    rarena_intern(env->ar, at.p + 8, at.len - 8);
		node_at(env, k)->k.s.len = at.len - 8;
	}
	return rx_of(k, RT_TANY, &at);
}

static struct rx
at_name(struct rexpr_env *env)
{
	struct rtoken at = env->lx->tok;
	uint32_t k;
	int f;

	if (tok_word(&at, "true") || tok_word(&at, "false")) {
		rlex_adv(env->lx);
		if ((k = node_new(env, ROP_CONST, RULE_V_BOOL, 0, 0)) != 0) {
			node_at(env, k)->k.type = RULE_V_BOOL;
			node_at(env, k)->k.b = at.p[0] == 't';
		}
		return rx_of(k, RULE_V_BOOL, &at);
	}
	if (tok_prefix(&at, "context."))
		return at_fact(env, at);
	if (tok_prefix(&at, "campaign.")) {
		rlex_adv(env->lx);
		k = variant_node(env, at.p + 9, at.len - 9, &at);
		return rx_of(k, RULE_V_STR, &at);
	}
	if ((f = rfield_find(at.p, at.len)) >= 0) {
		rlex_adv(env->lx);
		k = node_new(env, ROP_FIELD, rfield_type(f), (uint32_t)f, 0);
		return rx_of(k, rfield_type(f), &at);
	}
	env_fail(env, &at, "unknown name '%.*s'", (int)at.len, at.p);
	return rx_err;
}

static const char *const reserved[] = {
	"and", "or", "not", "in", "when", "show", "hide", "shake", "capture",
	"at", "holdout", "shadow", "priority", NULL,
};

static struct rx
ex_atom(struct rexpr_env *env)
{
	struct rtoken at = env->lx->tok;
	struct rx r;
	char buf[48];

	switch (at.t) {
	case RT_NUM:
		rlex_adv(env->lx);
		return rx_of(const_num(env, at.num), RULE_V_NUM, &at);
	case RT_STR:
		rlex_adv(env->lx);
		return rx_of(const_str(env, &at), RULE_V_STR, &at);
	case RT_LP:
		if (++env->depth > RULE_DEPTH_MAX) {
			env_fail(env, &at, "expression nested deeper than %d",
			    RULE_DEPTH_MAX);
			return rx_err;
		}
		rlex_adv(env->lx);
		r = ex_or(env);
		env->depth--;
		if (env->bad || !expect(env, RT_RP, "')'"))
			return rx_err;
		r.line = at.line;
		r.col = at.col;
		return r;
	case RT_IDENT:
		for (int i = 0; reserved[i] != NULL; i++)
			if (tok_word(&at, reserved[i]))
				goto no_value;
		if (tok_word(&at, "variant") && env->lx->i < env->lx->n &&
		    env->lx->s[env->lx->i] == '(')
			return at_variant(env, at);
		return at_name(env);
	default:
		break;
	}
no_value:
	env_fail(env, &at, "expected a value, found %s",
	    rlex_what(&at, buf, sizeof(buf)));
	return rx_err;
}

/* ---- arithmetic ------------------------------------------------------- */

static bool
is_num(uint8_t t)
{
	return t == RULE_V_NUM || t == RT_TANY;
}

/* Checks both operands of an arithmetic operator; result type. */
static uint8_t
arith_type(struct rexpr_env *env, const struct rtoken *op, struct rx l,
    struct rx r)
{
	if (l.type == RT_TERR || r.type == RT_TERR)
		return RT_TERR;
	if (is_num(l.type) && is_num(r.type))
		return RULE_V_NUM;
	rerr(env->errs, op->line, op->col, "'%.*s' needs numbers, found %s",
	    (int)op->len, op->p, rexpr_type_name(is_num(l.type) ? r.type
	                                                       : l.type));
	return RT_TERR;
}

static struct rx
ex_unary(struct rexpr_env *env)
{
	struct rtoken op = env->lx->tok;
	struct rx r;
	uint8_t type;

	if (op.t != RT_MINUS)
		return ex_atom(env);
	if (++env->depth > RULE_DEPTH_MAX) {
		env_fail(env, &op, "expression nested deeper than %d",
		    RULE_DEPTH_MAX);
		return rx_err;
	}
	rlex_adv(env->lx);
	r = ex_unary(env);
	env->depth--;
	if (env->bad)
		return rx_err;
	type = arith_type(env, &op, r, (struct rx){0, RULE_V_NUM, 0, 0});
	if (type == RULE_V_NUM && node_at(env, r.n)->op == ROP_CONST) {
		node_at(env, r.n)->k.num = -node_at(env, r.n)->k.num;
		return rx_of(r.n, type, &op);
	}
	return rx_of(node_new(env, ROP_NEG, type, r.n, 0), type, &op);
}

struct ex_binop {
	uint8_t tok;
	uint8_t op;
};

static const struct ex_binop ex_mul_ops[] = {
	{RT_STAR, ROP_MUL}, {RT_SLASH, ROP_DIV}, {0, 0}};
static const struct ex_binop ex_add_ops[] = {
	{RT_PLUS, ROP_ADD}, {RT_MINUS, ROP_SUB}, {0, 0}};

static uint8_t
binop_find(const struct ex_binop *ops, uint8_t tok)
{
	for (; ops->tok != 0; ops++)
		if (ops->tok == tok)
			return ops->op;
	return ROP_NONE;
}

/* A left-associative chain of ops over operands parsed by sub. */
static struct rx
ex_chain(struct rexpr_env *env, const struct ex_binop *ops,
    struct rx (*sub)(struct rexpr_env *))
{
	struct rx l = sub(env), r;
	uint8_t op, type;

	while (!env->bad &&
	       (op = binop_find(ops, env->lx->tok.t)) != ROP_NONE) {
		struct rtoken at = env->lx->tok;
		rlex_adv(env->lx);
		r = sub(env);
		if (env->bad)
			return rx_err;
		type = arith_type(env, &at, l, r);
		l = (struct rx){node_new(env, op, type, l.n, r.n), type,
		    l.line, l.col};
	}
	return env->bad ? rx_err : l;
}

static struct rx
ex_prod(struct rexpr_env *env)
{
	return ex_chain(env, ex_mul_ops, ex_unary);
}

static struct rx
ex_sum(struct rexpr_env *env)
{
	return ex_chain(env, ex_add_ops, ex_prod);
}

/* ---- comparisons ------------------------------------------------------ */

static bool
is_op(const struct rnode *nd, uint8_t op)
{
	return nd->op == op;
}

static bool
is_str_const(const struct rnode *nd)
{
	return nd->op == ROP_CONST && nd->k.type == RULE_V_STR;
}

/* `event == "name"`: a test of the event type (and custom name). */
static uint32_t
event_is(struct rexpr_env *env, uint32_t c, struct rx at)
{
	const struct rnode *k = node_at(env, c);
	int type = event_type_from_name(k->k.s);
	struct nudge_strv name = k->k.s;
	uint32_t n;

	if (type < 0) {
		rerr(env->errs, at.line, at.col,
		    "unknown event name \"%.40s\" (custom names are 1 to %d "
		    "of A-Z a-z 0-9 _ . -)",
		    name.ptr, EVENT_NAME_MAX);
		return 0;
	}
	if ((n = node_new(env, ROP_EVENT_IS, RULE_V_BOOL, (uint32_t)type, 0)) &&
	    type == EVENT_CUSTOM)
		node_at(env, n)->k.s = name;
	return n;
}

/*
 * Checks a string constant compared with field f (a field, a variant or
 * anything): enum-like fields know their values, variants and steps are
 * checked once the whole file is read.
 */
static void
check_literal(struct rexpr_env *env, struct rx f, uint32_t c, struct rx at)
{
	const struct rnode *fn = node_at(env, f.n), *k = node_at(env, c);
	const char *msg;

	if (!is_str_const(k))
		return;
	if (is_op(fn, ROP_VARIANT))
		defer_add(env, RD_VARIANT_NAME, c, f.n, at.line, at.col);
	if (!is_op(fn, ROP_FIELD))
		return;
	if (fn->a == RF_STEP)
		defer_add(env, RD_STEP_LABEL, c, 0, at.line, at.col);
	if ((msg = rfield_check((int)fn->a, k->k.s.ptr, k->k.s.len)) != NULL)
		rerr(env->errs, at.line, at.col, "%s", msg);
}

static bool
types_meet(uint8_t a, uint8_t b)
{
	return a == b || a == RT_TANY || b == RT_TANY;
}

static bool
is_event_field(struct rexpr_env *env, struct rx x)
{
	const struct rnode *nd = node_at(env, x.n);

	return is_op(nd, ROP_FIELD) && nd->a == RF_EVENT;
}

/* l == r, l != r */
static struct rx
cmp_eq(struct rexpr_env *env, const struct rtoken *op, struct rx l,
    struct rx r)
{
	uint8_t rop = op->t == RT_EQ ? ROP_EQ : ROP_NE;
	uint32_t n;

	if (l.type == RT_TERR || r.type == RT_TERR)
		return rx_err;
	if (!types_meet(l.type, r.type)) {
		rerr(env->errs, op->line, op->col, "cannot compare %s with %s",
		    rexpr_type_name(l.type), rexpr_type_name(r.type));
		return rx_err;
	}
	if (is_event_field(env, r) && is_str_const(node_at(env, l.n)))
		return cmp_eq(env, op, r, l);
	if (is_event_field(env, l) && is_str_const(node_at(env, r.n))) {
		if ((n = event_is(env, r.n, r)) == 0)
			return rx_err;
		if (rop == ROP_NE)
			n = node_new(env, ROP_NOT, RULE_V_BOOL, n, 0);
		return (struct rx){n, n ? RULE_V_BOOL : RT_TERR, l.line,
		    l.col};
	}
	check_literal(env, l, r.n, r);
	check_literal(env, r, l.n, l);
	n = node_new(env, rop, RULE_V_BOOL, l.n, r.n);
	return (struct rx){n, n ? RULE_V_BOOL : RT_TERR, l.line, l.col};
}

static const struct ex_binop ex_ord_ops[] = {
	{RT_LT, ROP_LT}, {RT_LE, ROP_LE}, {RT_GT, ROP_GT}, {RT_GE, ROP_GE},
	{0, 0}};

static struct rx
cmp_order(struct rexpr_env *env, const struct rtoken *op, struct rx l,
    struct rx r)
{
	uint32_t n;

	if (l.type == RT_TERR || r.type == RT_TERR)
		return rx_err;
	if (!is_num(l.type) || !is_num(r.type)) {
		rerr(env->errs, op->line, op->col,
		    "'%.*s' needs numbers, found %s", (int)op->len, op->p,
		    rexpr_type_name(is_num(l.type) ? r.type : l.type));
		return rx_err;
	}
	n = node_new(env, binop_find(ex_ord_ops, op->t), RULE_V_BOOL, l.n,
	    r.n);
	return (struct rx){n, n ? RULE_V_BOOL : RT_TERR, l.line, l.col};
}

/* l ~ "pattern" */
static struct rx
cmp_match(struct rexpr_env *env, const struct rtoken *op, struct rx l)
{
	struct rtoken pat = env->lx->tok;
	char buf[48];
	uint32_t n, k;

	if (pat.t != RT_STR) {
		env_fail(env, &pat,
		    "expected a quoted pattern after '~', found %s",
		    rlex_what(&pat, buf, sizeof(buf)));
		return rx_err;
	}
	rlex_adv(env->lx);
	if (l.type == RT_TERR)
		return rx_err;
	if (l.type != RULE_V_STR && l.type != RT_TANY) {
		rerr(env->errs, op->line, op->col,
		    "'~' needs a string, found %s", rexpr_type_name(l.type));
		return rx_err;
	}
	if (pat.len == 0) {
		rerr(env->errs, pat.line, pat.col, "empty pattern");
		return rx_err;
	}
	if ((k = const_str(env, &pat)) == 0 ||
	    (n = node_new(env, ROP_MATCH, RULE_V_BOOL, l.n, 0)) == 0)
		return rx_err;
	node_at(env, n)->k = node_at(env, k)->k;
	node_at(env, n)->flag = strpbrk(node_at(env, n)->k.s.ptr, "*?") != 0;
	return (struct rx){n, RULE_V_BOOL, l.line, l.col};
}

/* One literal of an `in` list: a number, -number or string token. */
static bool
list_item(struct rexpr_env *env, struct rtoken *t, bool *neg)
{
	char buf[48];

	*neg = env->lx->tok.t == RT_MINUS;
	if (*neg)
		rlex_adv(env->lx);
	*t = env->lx->tok;
	if (t->t == RT_NUM || (t->t == RT_STR && !*neg)) {
		rlex_adv(env->lx);
		return true;
	}
	env_fail(env, t, "expected a number or a quoted string in the list, "
	                 "found %s",
	    rlex_what(t, buf, sizeof(buf)));
	return false;
}

/* Reads "[" literal {"," literal} "]" into items (count in *n). */
static bool
list_read(struct rexpr_env *env, struct rtoken *items, bool *neg,
    unsigned *n)
{
	*n = 0;
	if (!expect(env, RT_LB, "'[' after 'in'"))
		return false;
	for (;;) {
		if (*n == RULE_LIST_MAX) {
			env_fail(env, &env->lx->tok,
			    "list longer than %d items", RULE_LIST_MAX);
			return false;
		}
		if (!list_item(env, &items[*n], &neg[*n]))
			return false;
		(*n)++;
		if (env->lx->tok.t != RT_COMMA)
			break;
		rlex_adv(env->lx);
	}
	return expect(env, RT_RB, "',' or ']'");
}

/* Emits the items as consecutive constants; returns the first's index. */
static uint32_t
list_emit(struct rexpr_env *env, struct rx l, const struct rtoken *items,
    const bool *neg, unsigned n)
{
	uint32_t first = 0, k;

	for (unsigned i = 0; i < n; i++) {
		struct rx at = {0, items[i].t == RT_NUM ? RULE_V_NUM
		                                        : RULE_V_STR,
		    items[i].line, items[i].col};
		k = at.type == RULE_V_NUM
		        ? const_num(env, neg[i] ? -items[i].num : items[i].num)
		        : const_str(env, &items[i]);
		if (k == 0)
			return 0;
		first = first ? first : k;
		check_literal(env, l, k, at);
	}
	return first;
}

/* `event in [...]`: an 'or' of event tests. */
static uint32_t
list_events(struct rexpr_env *env, uint32_t first, unsigned n)
{
	uint32_t acc = 0, e;

	for (unsigned i = 0; i < n; i++) {
		struct rx at = {0, 0, 0, 0}; /* the names are already checked */
		if ((e = event_is(env, first + i, at)) == 0)
			return 0;
		acc = acc ? node_new(env, ROP_OR, RULE_V_BOOL, acc, e) : e;
	}
	return acc;
}

static struct rx
cmp_in(struct rexpr_env *env, const struct rtoken *op, struct rx l,
    bool negate)
{
	struct rtoken items[RULE_LIST_MAX];
	bool neg[RULE_LIST_MAX];
	unsigned n, i;
	uint32_t first, r;
	uint8_t lt;

	if (!list_read(env, items, neg, &n))
		return rx_err;
	lt = items[0].t == RT_NUM ? RULE_V_NUM : RULE_V_STR;
	for (i = 1; i < n; i++)
		if ((items[i].t == RT_NUM ? RULE_V_NUM : RULE_V_STR) != lt) {
			rerr(env->errs, items[i].line, items[i].col,
			    "a list mixes numbers and strings");
			return rx_err;
		}
	if (l.type == RT_TERR)
		return rx_err;
	if (!types_meet(l.type, lt)) {
		rerr(env->errs, op->line, op->col,
		    "'in' compares %s with a list of %s",
		    rexpr_type_name(l.type), lt == RULE_V_NUM ? "numbers"
		                                              : "strings");
		return rx_err;
	}
	if (is_event_field(env, l)) {
		for (i = 0; i < n; i++)
			if (event_type_from_name((struct nudge_strv){
			        items[i].p, items[i].len}) < 0) {
				rerr(env->errs, items[i].line, items[i].col,
				    "unknown event name \"%.*s\"",
				    (int)items[i].len, items[i].p);
				return rx_err;
			}
		if ((first = list_emit(env, l, items, neg, n)) == 0 ||
		    (r = list_events(env, first, n)) == 0)
			return rx_err;
		if (negate)
			r = node_new(env, ROP_NOT, RULE_V_BOOL, r, 0);
		return (struct rx){r, r ? RULE_V_BOOL : RT_TERR, l.line,
		    l.col};
	}
	if ((first = list_emit(env, l, items, neg, n)) == 0)
		return rx_err;
	r = node_new(env, negate ? ROP_NOT_IN : ROP_IN, RULE_V_BOOL, l.n,
	    first);
	if (r != 0)
		node_at(env, r)->c = n;
	return (struct rx){r, r ? RULE_V_BOOL : RT_TERR, l.line, l.col};
}

/* sum [cmp-op sum | "~" STRING | ["not"] "in" list] */
static struct rx
ex_cmp(struct rexpr_env *env)
{
	struct rx l = ex_sum(env);
	struct rtoken op = env->lx->tok;
	bool negate = false;

	if (env->bad)
		return rx_err;
	if (op.t == RT_EQ || op.t == RT_NE) {
		rlex_adv(env->lx);
		struct rx r = ex_sum(env);
		return env->bad ? rx_err : cmp_eq(env, &op, l, r);
	}
	if (binop_find(ex_ord_ops, op.t) != ROP_NONE) {
		rlex_adv(env->lx);
		struct rx r = ex_sum(env);
		return env->bad ? rx_err : cmp_order(env, &op, l, r);
	}
	if (op.t == RT_TILDE) {
		rlex_adv(env->lx);
		return cmp_match(env, &op, l);
	}
	if (tok_word(&op, "not")) {
		rlex_adv(env->lx);
		if (!tok_word(&env->lx->tok, "in")) {
			env_fail(env, &op, "expected 'in' after 'not'");
			return rx_err;
		}
		negate = true;
	}
	if (tok_word(&env->lx->tok, "in")) {
		rlex_adv(env->lx);
		return cmp_in(env, &op, l, negate);
	}
	return l;
}

/* ---- logic ------------------------------------------------------------ */

static void
want_bool(struct rexpr_env *env, const char *what, struct rx x,
    const struct rtoken *at)
{
	if (x.type == RULE_V_BOOL || x.type == RT_TERR)
		return;
	rerr(env->errs, at ? at->line : x.line, at ? at->col : x.col,
	    "%s needs true/false, found %s", what, rexpr_type_name(x.type));
}

static struct rx
ex_not(struct rexpr_env *env)
{
	struct rtoken at = env->lx->tok;
	struct rx r;

	if (!tok_word(&at, "not"))
		return ex_cmp(env);
	if (++env->depth > RULE_DEPTH_MAX) {
		env_fail(env, &at, "expression nested deeper than %d",
		    RULE_DEPTH_MAX);
		return rx_err;
	}
	rlex_adv(env->lx);
	r = ex_not(env);
	env->depth--;
	if (env->bad)
		return rx_err;
	want_bool(env, "'not'", r, &at);
	return rx_of(node_new(env, ROP_NOT, RULE_V_BOOL, r.n, 0), RULE_V_BOOL,
	    &at);
}

static struct rx
ex_logic(struct rexpr_env *env, const char *word, uint8_t op,
    struct rx (*sub)(struct rexpr_env *))
{
	struct rx l = sub(env), r;
	char what[8];

	snprintf(what, sizeof(what), "'%s'", word);
	while (!env->bad && tok_word(&env->lx->tok, word)) {
		struct rtoken at = env->lx->tok;
		rlex_adv(env->lx);
		r = sub(env);
		if (env->bad)
			return rx_err;
		want_bool(env, what, l, &at);
		want_bool(env, what, r, &at);
		l = (struct rx){node_new(env, op, RULE_V_BOOL, l.n, r.n),
		    RULE_V_BOOL, l.line, l.col};
	}
	return env->bad ? rx_err : l;
}

static struct rx
ex_and(struct rexpr_env *env)
{
	return ex_logic(env, "and", ROP_AND, ex_not);
}

static struct rx
ex_or(struct rexpr_env *env)
{
	return ex_logic(env, "or", ROP_OR, ex_and);
}

uint32_t
rexpr_cond(struct rexpr_env *env)
{
	struct rx r;

	env->depth = 0;
	r = ex_or(env);
	if (env->bad)
		return 0;
	if (r.type != RULE_V_BOOL && r.type != RT_TERR)
		rerr(env->errs, r.line, r.col,
		    "a condition must be true or false, found %s",
		    rexpr_type_name(r.type));
	return r.type == RULE_V_BOOL ? r.n : 0;
}

uint16_t
rexpr_event_mask(const struct rarena *ar, uint32_t n)
{
	const struct rnode *nd = &ar->nodes[n];

	switch (nd->op) {
	case ROP_EVENT_IS:
		return (uint16_t)(1u << nd->a);
	case ROP_AND:
		return rexpr_event_mask(ar, nd->a) &
		       rexpr_event_mask(ar, nd->b);
	case ROP_OR:
		return rexpr_event_mask(ar, nd->a) |
		       rexpr_event_mask(ar, nd->b);
	default:
		return REXPR_ALL_EVENTS;
	}
}

uint32_t
rexpr_hole(struct rexpr_env *env)
{
	struct rx r;
	char buf[48];

	env->depth = 0;
	env->bad = false;
	if (env->lx->tok.t == RT_EOF) {
		env_fail(env, &env->lx->tok, "empty hole in text");
		return 0;
	}
	r = ex_sum(env);
	if (!env->bad && env->lx->tok.t != RT_EOF)
		env_fail(env, &env->lx->tok, "expected '}', found %s",
		    rlex_what(&env->lx->tok, buf, sizeof(buf)));
	if (env->bad)
		return 0;
	if (r.type == RULE_V_BOOL) {
		rerr(env->errs, r.line, r.col,
		    "a hole needs a number or a string, found true/false");
		return 0;
	}
	return r.type == RT_TERR ? 0 : r.n;
}
