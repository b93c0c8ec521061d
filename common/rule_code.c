/*
 * rule_code.c - lowering checked conditions to flat test programs
 * (compile time) and running them (on every event).
 *
 * Lowering walks the and/or/not skeleton of a condition with the two
 * targets each subtree must reach when it holds and when it does not;
 * every other node becomes one leaf instruction.  Instructions are
 * emitted callee-first and each program is then reversed in place, so
 * that it runs front to back (rule_code.h, invariant 1).  Equal leaves
 * are interned in a hash table while lowering.  Owns struct rcode's
 * arrays.  Lowering runs on the compiling thread; rcode_next on any
 * thread, writing only the caller's frame.
 */
#include "fault.h"
#include "rule_code.h"

#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "funnel.h"

void
rcode_init(struct rcode *c, const struct rnode *nodes)
{
	memset(c, 0, sizeof(*c));
	c->nodes = nodes;
}

void
rcode_fini(struct rcode *c)
{
	free(c->ins);
	free(c->leaves);
	free(c->owner);
	free(c->hash);
	free(c->strs);
	free(c->nums);
	free(c->scratch);
	memset(c, 0, sizeof(*c));
}

/* Makes room for item n of *v (*cap slots of sz bytes). */
static bool
grow(struct rcode *c, void **v, uint32_t n, uint32_t *cap, size_t sz)
{
	uint32_t ncap;
	void *p;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 64;
	if (c->oom || ncap <= n || ncap >= RCODE_REJECT ||
	    (p = fault_realloc(*v, (size_t)ncap * sz)) == NULL) {
		c->oom = true;
		return false;
	}
	*v = p;
	*cap = ncap;
	return true;
}

bool
rcode_tests_event(const struct rnode *nodes, uint32_t cond)
{
	const struct rnode *nd = &nodes[cond];

	switch (nd->op) {
	case ROP_AND:
	case ROP_OR:
		return rcode_tests_event(nodes, nd->a) ||
		       rcode_tests_event(nodes, nd->b);
	case ROP_NOT:
		return rcode_tests_event(nodes, nd->a);
	case ROP_EVENT_IS:
		return true;
	default:
		return false;
	}
}

/* ---- leaves ----------------------------------------------------------- */

static bool
is_const(const struct rnode *nd)
{
	return nd->op == ROP_CONST;
}

/* Whether fact nodes x and y always have the same value. */
static bool
same_fact(
    const struct rnode *nodes, const struct rnode *x, const struct rnode *y)
{
	const struct rnode *i = &nodes[x->a], *j = &nodes[y->a];

	if (x->k.s.ptr != y->k.s.ptr || (x->a == 0) != (y->a == 0))
		return false;
	if (x->a == 0)
		return true;
	if (i->op != j->op)
		return false;
	if (i->op == ROP_FIELD)
		return i->a == j->a;
	return i->k.s.len == j->k.s.len &&
	       memcmp(i->k.s.ptr, j->k.s.ptr, i->k.s.len) == 0;
}

/* A fact whose index depends on the event only: its slot, or -1. */
static int
fact_slot(struct rcode *c, uint32_t n, bool add)
{
	const struct rnode *nd = &c->nodes[n], *ix = &c->nodes[nd->a];

	if (nd->a != 0 && !(ix->op == ROP_FIELD && ix->type == RULE_V_STR) &&
	    !(is_const(ix) && ix->k.type == RULE_V_STR))
		return -1;
	for (unsigned s = 0; s < c->n_slots; s++)
		if (same_fact(c->nodes, &c->nodes[c->slot_node[s]], nd))
			return (int)s;
	if (c->n_slots == RCODE_SLOTS)
		return -1;
	if (!add) /* an estimate: the slot it would get */
		return (int)c->n_slots;
	c->slot_node[c->n_slots] = n;
	return (int)c->n_slots++;
}

/* The operand source of node n (a field or a slot-able fact), or -1. */
static int
src_of(struct rcode *c, uint32_t n, bool add)
{
	const struct rnode *nd = &c->nodes[n];
	int s;

	if (nd->op == ROP_FIELD && nd->a < RF_COUNT)
		return (int)nd->a;
	if (nd->op == ROP_FACT && (s = fact_slot(c, n, add)) >= 0)
		return RCODE_SRC_SLOT + s;
	return -1;
}

/* The mirror of an order comparison: c < x is x > c. */
static uint8_t
mirror(uint8_t op)
{
	switch (op) {
	case ROP_LT:
		return ROP_GT;
	case ROP_LE:
		return ROP_GE;
	case ROP_GT:
		return ROP_LT;
	case ROP_GE:
		return ROP_LE;
	default:
		return op;
	}
}

static const uint8_t cmp_kind[ROP_COUNT] = {
    [ROP_EQ] = RI_EQ,
    [ROP_NE] = RI_NE,
    [ROP_LT] = RI_LT,
    [ROP_LE] = RI_LE,
    [ROP_GT] = RI_GT,
    [ROP_GE] = RI_GE,
};

/* operand op constant, either way round; false: not that shape. */
static bool
leaf_cmp(struct rcode *c, const struct rnode *nd, bool add, struct rleaf *in)
{
	const struct rnode *k;
	uint8_t op = nd->op;
	int src;

	if (is_const(&c->nodes[nd->b]) && (src = src_of(c, nd->a, add)) >= 0) {
		k = &c->nodes[nd->b];
	} else if (is_const(&c->nodes[nd->a]) &&
	           (src = src_of(c, nd->b, add)) >= 0) {
		k = &c->nodes[nd->a];
		op = mirror(op);
	} else {
		return false;
	}
	if (op != ROP_EQ && op != ROP_NE && k->k.type != RULE_V_NUM)
		return false;
	in->kind = cmp_kind[op];
	in->src = (uint8_t)src;
	in->ktype = k->k.type;
	in->n = 0;
	if (k->k.type == RULE_V_STR) {
		in->k.s = k->k.s.ptr;
		in->n = k->k.s.len;
	} else if (k->k.type == RULE_V_BOOL) {
		in->k.b = k->k.b;
	} else {
		in->k.num = k->k.num;
	}
	return true;
}

/* operand ~ pattern: literal prefix and least length for a glob. */
static void
leaf_match(const struct rnode *nd, int src, struct rleaf *in)
{
	const char *p = nd->k.s.ptr;
	uint32_t i, min = 0;

	in->src = (uint8_t)src;
	in->k.s = p;
	if (!nd->flag) {
		in->kind = RI_SUB;
		in->n = nd->k.s.len;
		return;
	}
	in->kind = RI_GLOB;
	/* funnel_glob stops at a NUL: so do these bounds */
	for (i = 0; p[i] != '\0' && p[i] != '*' && p[i] != '?' && i < 255; i++)
		;
	in->pfx = (uint8_t)i;
	for (i = 0; p[i] != '\0'; i++)
		min += p[i] != '*';
	in->n = min;
}

/* operand [not] in [items]: the items copied to a compact array. */
static bool
leaf_in(struct rcode *c, const struct rnode *nd, int src, struct rleaf *in)
{
	const struct rnode *it = &c->nodes[nd->b];
	uint8_t type = it->k.type;

	in->kind = nd->op == ROP_IN ? RI_IN : RI_NOT_IN;
	in->src = (uint8_t)src;
	in->ktype = type;
	in->n = nd->c;
	in->k.off = type == RULE_V_STR ? c->n_strs : c->n_nums;
	for (uint32_t i = 0; i < nd->c; i++) {
		if (it[i].k.type != type)
			return false;
		if (type == RULE_V_STR) {
			if (!grow(c, (void **)&c->strs, c->n_strs,
			        &c->cap_strs, sizeof(*c->strs)))
				return false;
			c->strs[c->n_strs++] = it[i].k.s;
		} else {
			if (!grow(c, (void **)&c->nums, c->n_nums,
			        &c->cap_nums, sizeof(*c->nums)))
				return false;
			c->nums[c->n_nums++] = it[i].k.num;
		}
	}
	return true;
}

/*
 * The leaf instruction for node n (targets not set).  With add false
 * nothing is stored: only the kind and operand are worked out, for the
 * estimates.
 */
static void
leaf_make(struct rcode *c, uint32_t n, bool add, struct rleaf *in)
{
	const struct rnode *nd = &c->nodes[n];
	int src;

	memset(in, 0, sizeof(*in));
	in->kind = RI_NODE;
	in->n = n;
	switch (nd->op) {
	case ROP_EVENT_IS:
		if (nd->a == EVENT_CUSTOM && nd->k.s.ptr != NULL) {
			in->kind = RI_EVNAME;
			in->k.s = nd->k.s.ptr;
			in->n = nd->k.s.len;
		}
		return;
	case ROP_FIELD:
		if (nd->a < RF_COUNT && nd->type == RULE_V_BOOL) {
			in->kind = RI_BOOL;
			in->src = (uint8_t)nd->a;
			in->n = 0;
		}
		return;
	case ROP_EQ:
	case ROP_NE:
	case ROP_LT:
	case ROP_LE:
	case ROP_GT:
	case ROP_GE:
		if (!leaf_cmp(c, nd, add, in)) {
			memset(in, 0, sizeof(*in));
			in->n = n;
		}
		return;
	case ROP_MATCH:
		if ((src = src_of(c, nd->a, add)) >= 0)
			leaf_match(nd, src, in);
		return;
	case ROP_IN:
	case ROP_NOT_IN:
		if ((src = src_of(c, nd->a, add)) < 0 || nd->c == 0)
			return;
		if (!add) {
			in->kind = nd->op == ROP_IN ? RI_IN : RI_NOT_IN;
			in->src = (uint8_t)src;
			in->n = nd->c;
		} else if (!leaf_in(c, nd, src, in)) {
			memset(in, 0, sizeof(*in));
			in->n = n;
		}
		return;
	default:
		return;
	}
}

/* ---- estimates -------------------------------------------------------- */

/* Estimated cost of a test (in field compares) and chance it holds. */
struct est {
	float cost;
	float p;
};

static struct est est_of(struct rcode *c, uint32_t n, int t);

static struct est
est_leaf(struct rcode *c, uint32_t n)
{
	static const float p_of[RI_COUNT] = {
	    [RI_NODE] = 0.5f,
	    [RI_EVNAME] = 0.1f,
	    [RI_BOOL] = 0.5f,
	    [RI_EQ] = 0.1f,
	    [RI_NE] = 0.9f,
	    [RI_LT] = 0.5f,
	    [RI_LE] = 0.5f,
	    [RI_GT] = 0.5f,
	    [RI_GE] = 0.5f,
	    [RI_SUB] = 0.2f,
	    [RI_GLOB] = 0.2f,
	    [RI_IN] = 0.2f,
	    [RI_NOT_IN] = 0.8f,
	};
	struct rleaf in;
	struct est e;

	leaf_make(c, n, false, &in);
	e.p = p_of[in.kind];
	if (in.kind == RI_NODE)
		return (struct est){8.0f + c->nodes[n].h, e.p};
	e.cost = in.src >= RCODE_SRC_SLOT ? 4.0f : 1.0f;
	if (in.kind == RI_SUB || in.kind == RI_GLOB)
		e.cost += 2.0f;
	else if (in.kind == RI_IN || in.kind == RI_NOT_IN)
		e.cost += 1.0f + (float)in.n / 8.0f;
	else if (in.ktype == RULE_V_STR || in.kind == RI_EVNAME)
		e.cost += 0.5f;
	return e;
}

static struct est
est_of(struct rcode *c, uint32_t n, int t)
{
	const struct rnode *nd = &c->nodes[n];
	struct est a, b;

	switch (nd->op) {
	case ROP_AND:
	case ROP_OR:
		a = est_of(c, nd->a, t);
		b = est_of(c, nd->b, t);
		if (nd->op == ROP_AND)
			return (struct est){a.cost + b.cost, a.p * b.p};
		return (struct est){
		    a.cost + b.cost, 1.0f - (1.0f - a.p) * (1.0f - b.p)};
	case ROP_NOT:
		a = est_of(c, nd->a, t);
		return (struct est){a.cost, 1.0f - a.p};
	case ROP_EVENT_IS:
		if (t >= 0 && (nd->a != EVENT_CUSTOM || t != EVENT_CUSTOM))
			return (struct est){0.0f, nd->a == (uint32_t)t};
		return est_leaf(c, n);
	case ROP_CONST:
		if (nd->k.type == RULE_V_BOOL)
			return (struct est){0.0f, nd->k.b};
		return est_leaf(c, n);
	default:
		return est_leaf(c, n);
	}
}

/* ---- lowering --------------------------------------------------------- */

/* Pushes the operands of the op chain at n to the scratch stack. */
static void
chain_push(struct rcode *c, uint32_t n, uint8_t op)
{
	const struct rnode *nd = &c->nodes[n];

	if (nd->op == op) {
		chain_push(c, nd->a, op);
		chain_push(c, nd->b, op);
		return;
	}
	if (!grow(c, (void **)&c->scratch, c->n_scratch, &c->cap_scratch,
	        sizeof(*c->scratch)))
		return;
	c->scratch[c->n_scratch] = (struct rcode_op){n, c->n_scratch, 0};
	c->n_scratch++;
}

static int
op_cmp(const void *x, const void *y)
{
	const struct rcode_op *a = x, *b = y;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static uint32_t emit(
    struct rcode *c, uint32_t n, int t, uint32_t lt, uint32_t lf);

/*
 * An and (or) chain: cheapest and likeliest to decide first (cost over
 * the chance of being false, or true), then emitted last to first so
 * that each operand goes on to the next.
 */
static uint32_t
emit_chain(struct rcode *c, uint32_t n, int t, uint32_t lt, uint32_t lf)
{
	bool and = c->nodes[n].op == ROP_AND;
	uint32_t base = c->n_scratch, end, l = and? lt : lf;

	chain_push(c, n, c->nodes[n].op);
	if (c->oom)
		return RCODE_REJECT;
	end = c->n_scratch;
	for (uint32_t i = base; i < end; i++) {
		struct est e = est_of(c, c->scratch[i].node, t);
		float q = and? 1.0f - e.p : e.p;
		c->scratch[i].rank = e.cost / (q + 0.05f);
	}
	qsort(c->scratch + base, end - base, sizeof(*c->scratch), op_cmp);
	for (uint32_t i = end; i-- > base;) {
		uint32_t op = c->scratch[i].node;
		l = and? emit(c, op, t, l, lf) : emit(c, op, t, lt, l);
	}
	c->n_scratch = base;
	return l;
}

static uint32_t
leaf_hash(const struct rcode *c, const struct rleaf *lf)
{
	uint32_t h = rule_fnv1a(RULE_FNV_OFFSET, lf, 8); /* kind .. n */

	switch (lf->kind) {
	case RI_NODE:
		return h;
	case RI_GLOB: /* n is not its length: it ends at a NUL */
		return rule_fnv1a(h, lf->k.s, strlen(lf->k.s));
	case RI_EVNAME:
	case RI_SUB:
		return rule_fnv1a(h, lf->k.s, lf->n);
	case RI_IN:
	case RI_NOT_IN:
		for (uint32_t i = 0; i < lf->n; i++)
			h = lf->ktype == RULE_V_STR
			        ? rule_fnv1a(h * 31,
			              c->strs[lf->k.off + i].ptr,
			              c->strs[lf->k.off + i].len)
			        : rule_fnv1a(h, &c->nums[lf->k.off + i],
			              sizeof(double));
		return h;
	default:
		if (lf->ktype == RULE_V_STR)
			return rule_fnv1a(h, lf->k.s, lf->n);
		if (lf->ktype == RULE_V_BOOL)
			return h ^ lf->k.b;
		return rule_fnv1a(h, &lf->k.num, sizeof(double));
	}
}

static bool
leaf_same(const struct rcode *c, const struct rleaf *x, const struct rleaf *y)
{
	if (memcmp(x, y, 8) != 0)
		return false;
	switch (x->kind) {
	case RI_NODE:
		return true;
	case RI_GLOB:
		return strcmp(x->k.s, y->k.s) == 0;
	case RI_EVNAME:
	case RI_SUB:
		return memcmp(x->k.s, y->k.s, x->n) == 0;
	case RI_IN:
	case RI_NOT_IN:
		for (uint32_t i = 0; i < x->n; i++)
			if (x->ktype == RULE_V_STR
			        ? !(c->strs[x->k.off + i].len ==
			                  c->strs[y->k.off + i].len &&
			              memcmp(c->strs[x->k.off + i].ptr,
			                  c->strs[y->k.off + i].ptr,
			                  c->strs[x->k.off + i].len) == 0)
			        : memcmp(&c->nums[x->k.off + i],
			              &c->nums[y->k.off + i],
			              sizeof(double)) != 0)
				return false;
		return true;
	default:
		if (x->ktype == RULE_V_STR)
			return memcmp(x->k.s, y->k.s, x->n) == 0;
		if (x->ktype == RULE_V_BOOL)
			return x->k.b == y->k.b;
		return memcmp(&x->k.num, &y->k.num, sizeof(double)) == 0;
	}
}

/* Doubles the hash table of leaves (at least 64 buckets). */
static bool
hash_grow(struct rcode *c)
{
	uint32_t cap = c->hash ? (c->hash_mask + 1) * 2 : 64, *h;

	if ((h = fault_calloc(cap, sizeof(*h))) == NULL) {
		c->oom = true;
		return false;
	}
	for (uint32_t id = 0; id < c->n_leaves; id++) {
		uint32_t i = leaf_hash(c, &c->leaves[id]) & (cap - 1);
		while (h[i] != 0)
			i = (i + 1) & (cap - 1);
		h[i] = id + 1;
	}
	free(c->hash);
	c->hash = h;
	c->hash_mask = cap - 1;
	return true;
}

/* The id of a leaf equal to lf, stored now if there is none. */
static uint32_t
leaf_intern(struct rcode *c, const struct rleaf *lf, uint32_t items)
{
	uint32_t i, id;

	if ((c->hash == NULL || c->n_leaves * 2 >= c->hash_mask) &&
	    !hash_grow(c))
		return 0;
	for (i = leaf_hash(c, lf) & c->hash_mask; (id = c->hash[i]) != 0;
	     i = (i + 1) & c->hash_mask)
		if (leaf_same(c, &c->leaves[id - 1], lf)) {
			/* the items just copied for lf are not needed */
			if (lf->ktype == RULE_V_STR)
				c->n_strs -= items;
			else
				c->n_nums -= items;
			if (c->owner[id - 1] != c->rule)
				c->owner[id - 1] = RCODE_SHARED;
			return id - 1;
		}
	if (!grow(c, (void **)&c->owner, c->n_leaves, &c->cap_owner,
	        sizeof(*c->owner)) ||
	    !grow(c, (void **)&c->leaves, c->n_leaves, &c->cap_leaves,
	        sizeof(*c->leaves)))
		return 0;
	c->owner[c->n_leaves] = c->rule;
	c->leaves[c->n_leaves] = *lf;
	c->hash[i] = c->n_leaves + 1;
	return c->n_leaves++;
}

static uint32_t
emit_leaf(struct rcode *c, uint32_t n, uint32_t lt, uint32_t lf)
{
	struct rleaf leaf;
	uint32_t id;

	if (lt == lf) /* the result does not matter */
		return lt;
	leaf_make(c, n, true, &leaf);
	id = leaf_intern(c, &leaf,
	    leaf.kind == RI_IN || leaf.kind == RI_NOT_IN ? leaf.n : 0);
	if (c->oom ||
	    !grow(c, (void **)&c->ins, c->n_ins, &c->cap_ins, sizeof(*c->ins)))
		return RCODE_REJECT;
	c->ins[c->n_ins] = (struct rins){id, lt, lf};
	return c->n_ins++;
}

/* Emits node n so that it goes to lt when it holds, else to lf. */
static uint32_t
emit(struct rcode *c, uint32_t n, int t, uint32_t lt, uint32_t lf)
{
	const struct rnode *nd = &c->nodes[n];

	switch (nd->op) {
	case ROP_AND:
	case ROP_OR:
		return emit_chain(c, n, t, lt, lf);
	case ROP_NOT:
		return emit(c, nd->a, t, lf, lt);
	case ROP_EVENT_IS:
		/* the list is for type t: only a custom name is left */
		if (t >= 0 && (nd->a != EVENT_CUSTOM || t != EVENT_CUSTOM))
			return nd->a == (uint32_t)t ? lt : lf;
		return emit_leaf(c, n, lt, lf);
	case ROP_CONST:
		if (nd->k.type == RULE_V_BOOL)
			return nd->k.b ? lt : lf;
		return lf; /* never a condition: the checker's job */
	default:
		return emit_leaf(c, n, lt, lf);
	}
}

/* Index old of [base, end) once the range is reversed. */
static uint32_t
flip(uint32_t old, uint32_t base, uint32_t end)
{
	return old >= RCODE_REJECT ? old : base + end - 1 - old;
}

uint32_t
rcode_lower(struct rcode *c, uint32_t rule, uint32_t cond, int t)
{
	uint32_t base = c->n_ins, entry, end;

	c->n_scratch = 0;
	c->rule = rule;
	entry = emit(c, cond, t, RCODE_ACCEPT, RCODE_REJECT);
	if (c->oom)
		return RCODE_REJECT;
	end = c->n_ins;
	for (uint32_t i = base, j = end - 1; i < end && i < j; i++, j--) {
		struct rins x = c->ins[i];
		c->ins[i] = c->ins[j];
		c->ins[j] = x;
	}
	for (uint32_t i = base; i < end; i++) {
		c->ins[i].t = flip(c->ins[i].t, base, end);
		c->ins[i].f = flip(c->ins[i].f, base, end);
	}
	return flip(entry, base, end);
}

/* ---- running ---------------------------------------------------------- */

/*
 * Renumbers the leaves: those that more than one rule tests first, so
 * that a frame remembers only results that another rule may reuse.
 */
static bool
leaves_order(struct rcode *c)
{
	uint32_t *to = fault_malloc(((size_t)c->n_leaves + 1) * sizeof(*to));
	struct rleaf *lv = fault_malloc(((size_t)c->n_leaves + 1) * sizeof(*lv));
	uint32_t at = 0;

	if (to == NULL || lv == NULL) {
		free(to);
		free(lv);
		return false;
	}
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t id = 0; id < c->n_leaves; id++)
			if ((c->owner[id] == RCODE_SHARED) == (pass == 0)) {
				if (pass == 0)
					c->n_memo = at + 1;
				to[id] = at;
				lv[at++] = c->leaves[id];
			}
	for (uint32_t i = 0; i < c->n_ins; i++)
		c->ins[i].leaf = to[c->ins[i].leaf];
	if (c->n_memo > RCODE_MEMO)
		c->n_memo = RCODE_MEMO;
	free(c->leaves);
	free(to);
	c->leaves = lv;
	c->cap_leaves = c->n_leaves + 1;
	return true;
}

bool
rcode_seal(struct rcode *c)
{
	bool ok = !c->oom && leaves_order(c);

	free(c->scratch);
	free(c->hash);
	free(c->owner);
	c->scratch = NULL;
	c->hash = NULL;
	c->owner = NULL;
	c->n_scratch = c->cap_scratch = c->hash_mask = c->cap_owner = 0;
	c->oom |= !ok;
	return ok;
}

void
rcode_frame_init(
    struct rcode_frame *fr, const struct rcode *c, const struct rvm *vm)
{
	fr->vm = vm;
	fr->have = 0;
	fr->have_slot = 0;
	for (uint32_t w = 0; w < (c->n_memo + 63) / 64; w++)
		fr->known[w] = 0;
}

static inline const struct rule_value *
operand(const struct rcode *c, struct rcode_frame *fr, unsigned src)
{
	unsigned s;

	if (src < RCODE_SRC_SLOT) {
		if (!(fr->have & (1u << src))) {
			rvm_field(fr->vm->ctx, src, &fr->fld[src]);
			fr->have |= 1u << src;
		}
		return &fr->fld[src];
	}
	s = src - RCODE_SRC_SLOT;
	if (!(fr->have_slot & (1ull << s))) {
		rvm_eval(fr->vm, c->slot_node[s], &fr->slot[s]);
		fr->have_slot |= 1ull << s;
	}
	return &fr->slot[s];
}

static inline bool
bytes_eq(const char *a, const char *b, uint32_t n)
{
	return n == 0 || (a[0] == b[0] && memcmp(a, b, n) == 0);
}

static bool
eq_test(const struct rleaf *in, const struct rule_value *v)
{
	if (v->type == RULE_V_STR)
		return v->s.len == in->n && bytes_eq(v->s.ptr, in->k.s, in->n);
	if (v->type == RULE_V_NUM)
		return v->num == in->k.num;
	return v->b == in->k.b;
}

static bool
in_test(
    const struct rcode *c, const struct rleaf *in, const struct rule_value *v)
{
	if (v->type == RULE_V_STR) {
		const struct nudge_strv *it = c->strs + in->k.off;
		for (uint32_t i = 0; i < in->n; i++)
			if (it[i].len == v->s.len &&
			    bytes_eq(it[i].ptr, v->s.ptr, v->s.len))
				return true;
		return false;
	}
	for (uint32_t i = 0; i < in->n; i++)
		if (c->nums[in->k.off + i] == v->num)
			return true;
	return false;
}

static bool
match_test(const struct rleaf *in, const struct rule_value *v)
{
	const char *s = v->s.ptr;
	uint32_t len = v->s.len;

	if (v->type != RULE_V_STR || len < in->n)
		return false;
	if (in->kind == RI_SUB)
		return in->n == 1 ? memchr(s, in->k.s[0], len) != NULL
		                  : memmem(s, len, in->k.s, in->n) != NULL;
	return bytes_eq(s, in->k.s, in->pfx) &&
	       funnel_glob(in->k.s + in->pfx, s + in->pfx, len - in->pfx);
}

/* Inlined into run(): a call per leaf costs as much as most tests. */
static inline __attribute__((always_inline)) bool
leaf_test(
    const struct rcode *c, struct rcode_frame *fr, const struct rleaf *in)
{
	const struct nudge_event *ev = fr->vm->ctx->ev;
	const struct rule_value *v =
	    in->kind >= RI_BOOL ? operand(c, fr, in->src) : NULL;

	switch (in->kind) {
	case RI_NODE:
		return rvm_test(fr->vm, in->n);
	case RI_EVNAME:
		return ev->type == EVENT_CUSTOM && ev->name.len == in->n &&
		       bytes_eq(ev->name.ptr, in->k.s, in->n);
	case RI_BOOL:
		return v->type == RULE_V_BOOL && v->b;
	case RI_EQ:
		return v->type == in->ktype && eq_test(in, v);
	case RI_NE:
		return v->type == in->ktype && !eq_test(in, v);
	case RI_LT:
		return v->type == RULE_V_NUM && v->num < in->k.num;
	case RI_LE:
		return v->type == RULE_V_NUM && v->num <= in->k.num;
	case RI_GT:
		return v->type == RULE_V_NUM && v->num > in->k.num;
	case RI_GE:
		return v->type == RULE_V_NUM && v->num >= in->k.num;
	case RI_SUB:
	case RI_GLOB:
		return match_test(in, v);
	case RI_IN:
		return v->type == in->ktype && in_test(c, in, v);
	case RI_NOT_IN:
		return v->type == in->ktype && !in_test(c, in, v);
	default:
		return false;
	}
}

/*
 * Runs a program.  A shared leaf's result is computed at most once per
 * frame (invariant 3); leaf_test is expanded here only once, so that the
 * loop makes no call for the tests that need none.
 */
static inline __attribute__((always_inline)) bool
run(const struct rcode *c, struct rcode_frame *fr, uint32_t pc)
{
	while (pc < RCODE_REJECT) {
		const struct rins *in = &c->ins[pc];
		uint32_t l = in->leaf, w = l >> 6;
		uint64_t bit = 1ull << (l & 63);
		bool r, memo = l < c->n_memo;

		if (memo && (fr->known[w] & bit)) {
			r = (fr->val[w] & bit) != 0;
		} else {
			r = leaf_test(c, fr, &c->leaves[l]);
			if (memo) {
				fr->known[w] |= bit;
				fr->val[w] =
				    r ? fr->val[w] | bit : fr->val[w] & ~bit;
			}
		}
		pc = r ? in->t : in->f;
	}
	return pc == RCODE_ACCEPT;
}

uint32_t
rcode_next(const struct rcode *c, struct rcode_frame *fr,
    const struct rcode_entry *e, uint32_t from, uint32_t to)
{
	for (uint32_t k = from; k < to; k++)
		if (run(c, fr, e[k].pc))
			return k;
	return to;
}
