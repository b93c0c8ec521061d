/*
 * rules.c - compiled rule sets: resolving names across the file, the
 * event-type index, and evaluation of a whole set on one event.
 *
 * Owns struct rule_set: the parsed program (rule_parse.h) with its node
 * arena, the campaign gates of each rule, a name table and, for each event
 * type, the list of rules that can match it in priority order, each with
 * its condition lowered for that type (rule_code.h).  A set is
 * built by rule_compile() on one thread and never changes afterwards, so
 * any number of threads may call rule_eval() on it concurrently; the
 * evaluation state lives on the caller's stack.
 */
#include "fault.h"
#include "rules.h"

#include <stdlib.h>
#include <string.h>

#include "rule_code.h"
#include "rule_expr.h"
#include "rule_field.h"
#include "rule_parse.h"
#include "rule_vm.h"

/* How a campaign changes one rule. */
struct rgate {
	uint16_t camp;
	uint8_t enable;		/* variants where the rule is on (0: all) */
	uint8_t disable;	/* variants where it is off */
	struct rtext text[RULE_VARIANTS_MAX]; /* replacement texts */
};

struct rule_set {
	struct rprog pg;
	struct rule_campaign camps[RULE_CAMPAIGNS_MAX];
	struct rgate *gates;
	uint32_t n_gates;
	uint32_t *names;	/* open addressing: rule id + 1, 0 = empty */
	uint32_t names_mask;
	struct rcode code;	/* every rule's program for each list */
	struct rcode_entry *lists; /* every index list, back to back */
	uint32_t list_at[EVENT_TYPE_COUNT + 1];
};

static const char *const act_names[RULE_ACT_COUNT] = {
	"score", "banner", "popup", "message", "show", "hide", "shake",
	"coupon", "email",
};

const char *
rule_act_name(int kind)
{
	return kind >= 0 && kind < RULE_ACT_COUNT ? act_names[kind] : "?";
}

uint32_t
rule_fnv1a(uint32_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

/* The second round of the bucket hash: FNV-1a of h's decimal digits. */
static unsigned
bucket_of(uint32_t h)
{
	char d[12];
	int n = 0, k;
	char r[12];

	do {
		r[n++] = (char)('0' + h % 10);
		h /= 10;
	} while (h != 0);
	for (k = 0; k < n; k++)
		d[k] = r[n - 1 - k];
	return rule_fnv1a(RULE_FNV_OFFSET, d, (size_t)n) % 10000u;
}

unsigned
rule_bucket(struct nudge_strv seed, struct nudge_strv visitor)
{
	uint32_t h = rule_fnv1a(RULE_FNV_OFFSET, seed.ptr, seed.len);

	return bucket_of(rule_fnv1a(h, visitor.ptr, visitor.len));
}

/* ---- names ------------------------------------------------------------ */

static int
names_find(const struct rule_set *set, const char *name)
{
	uint32_t h, id;

	if (set->names == NULL)
		return -1;
	h = rule_fnv1a(RULE_FNV_OFFSET, name, strlen(name));
	for (uint32_t i = h & set->names_mask;; i = (i + 1) & set->names_mask) {
		if ((id = set->names[i]) == 0)
			return -1;
		if (strcmp(set->pg.rules[id - 1].info.name, name) == 0)
			return (int)(id - 1);
	}
}

/* Fills the name table, reporting duplicate rule names. */
static void
names_build(struct rule_set *set)
{
	struct rprog *pg = &set->pg;
	uint32_t cap = 16;
	int prev;

	while (cap < pg->n_rules * 2)
		cap *= 2;
	if ((set->names = fault_calloc(cap, sizeof(uint32_t))) == NULL) {
		pg->ar.oom = true;
		return;
	}
	set->names_mask = cap - 1;
	for (uint32_t id = 0; id < pg->n_rules; id++) {
		const struct rdef *r = &pg->rules[id];
		if ((prev = names_find(set, r->info.name)) >= 0) {
			rerr(pg->errs, r->info.line, r->col,
			    "duplicate rule '%s' (first at line %d)",
			    r->info.name, pg->rules[prev].info.line);
			continue;
		}
		for (uint32_t i = r->info.key & set->names_mask;;
		     i = (i + 1) & set->names_mask)
			if (set->names[i] == 0) {
				set->names[i] = id + 1;
				break;
			}
	}
}

/* ---- campaigns -------------------------------------------------------- */

static int
funnel_find(const struct rprog *pg, const char *name)
{
	for (unsigned i = 0; i < pg->n_funnels; i++)
		if (strcmp(pg->funnels[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
label_find(const struct funnel *f, const char *label)
{
	for (int i = 0; f != NULL && i < f->n; i++)
		if (strcmp(f->step[i].label, label) == 0)
			return i;
	return -1;
}

/* A goal or guardrail: a step of f, revenue, or an event. */
static void
metric_resolve(struct rprog *pg, const struct funnel *f,
    const struct rname *src, struct rule_metric *m)
{
	int step = src->quoted ? -1 : label_find(f, src->s);
	int type = event_type_from_name(strv_of(src->s));

	m->name = src->s;
	if (step >= 0) {
		m->kind = RULE_GOAL_STEP;
		m->step = (uint8_t)step;
	} else if (!src->quoted && strcmp(src->s, "revenue") == 0) {
		m->kind = RULE_GOAL_REVENUE;
	} else if (type >= 0 && (src->quoted || type != EVENT_CUSTOM)) {
		m->kind = RULE_GOAL_EVENT;
		m->event_type = (uint8_t)type;
	} else if (f == NULL && !src->quoted) {
		/* the unknown funnel is the error: its steps are unknown */
	} else if (src->quoted) {
		rerr(pg->errs, src->line, src->col,
		    "unknown event name \"%.40s\"", src->s);
	} else {
		rerr(pg->errs, src->line, src->col,
		    "'%s' is not a step of funnel '%s', an event or revenue "
		    "(quote a custom event name)",
		    src->s, f ? f->name : "?");
	}
}

static void
camps_resolve(struct rule_set *set)
{
	struct rprog *pg = &set->pg;

	for (unsigned i = 0; i < pg->n_camps; i++) {
		struct rcamp *c = &pg->camps[i];
		int fi = funnel_find(pg, c->funnel.s);
		const struct funnel *f = fi >= 0 ? &pg->funnels[fi] : NULL;

		if (fi < 0)
			rerr(pg->errs, c->funnel.line, c->funnel.col,
			    "unknown funnel '%s'", c->funnel.s);
		c->pub.funnel = fi;
		metric_resolve(pg, f, &c->goal, &c->pub.goal);
		for (unsigned g = 0; g < c->pub.n_guardrails; g++)
			metric_resolve(pg, f, &c->guard[g],
			    &c->pub.guardrail[g]);
		set->camps[i] = c->pub;
	}
}

static int
camp_find(const struct rprog *pg, struct nudge_strv name)
{
	for (unsigned i = 0; i < pg->n_camps; i++)
		if (strv_eq(name, pg->camps[i].pub.name))
			return (int)i;
	return -1;
}

static bool
any_label(const struct rprog *pg, const char *label)
{
	for (unsigned i = 0; i < pg->n_funnels; i++)
		if (label_find(&pg->funnels[i], label) >= 0)
			return true;
	return pg->n_funnels == 0; /* the agent's own funnel: not known */
}

/* The checks that needed the whole file: campaigns, variants, steps. */
static void
defer_resolve(struct rule_set *set)
{
	struct rprog *pg = &set->pg;
	struct rarena *ar = &pg->ar;

	for (uint32_t i = 0; i < ar->n_defer; i++) {
		struct rdefer *d = &ar->defer[i];
		struct rnode *nd = &ar->nodes[d->node];
		int c;
		if (d->kind != RD_CAMPAIGN)
			continue;
		if ((c = camp_find(pg, nd->k.s)) < 0)
			rerr(pg->errs, d->line, d->col,
			    "unknown campaign '%s'", nd->k.s.ptr);
		nd->a = c < 0 ? 0 : (uint32_t)c;
		nd->flag = c >= 0;
	}
	for (uint32_t i = 0; i < ar->n_defer; i++) {
		struct rdefer *d = &ar->defer[i];
		const char *s = ar->nodes[d->node].k.s.ptr;
		const struct rnode *v = &ar->nodes[d->ref];
		if (d->kind == RD_STEP_LABEL && !any_label(pg, s))
			rerr(pg->errs, d->line, d->col,
			    "no funnel has a step '%s'", s);
		if (d->kind == RD_VARIANT_NAME && v->flag &&
		    camp_find(pg, v->k.s) >= 0) {
			const struct rule_campaign *c = &set->camps[v->a];
			bool found = false;
			for (int k = 0; k < c->n_variants; k++)
				found |= strcmp(c->variant[k].name, s) == 0;
			if (!found)
				rerr(pg->errs, d->line, d->col,
				    "campaign '%s' has no variant '%s'",
				    c->name, s);
		}
	}
}

/* ---- campaign gates --------------------------------------------------- */

static int
cline_cmp(const void *a, const void *b)
{
	const struct rcline *x = a, *y = b;

	if (x->rule_id != y->rule_id)
		return x->rule_id < y->rule_id ? -1 : 1;
	if (x->camp != y->camp)
		return x->camp < y->camp ? -1 : 1;
	return 0;
}

static bool
has_text(uint8_t kind)
{
	return kind == RULE_ACT_BANNER || kind == RULE_ACT_MESSAGE ||
	       kind == RULE_ACT_POPUP || kind == RULE_ACT_EMAIL;
}

/* Applies one campaign line to the rule's gate for that campaign. */
static void
gate_apply(struct rule_set *set, struct rdef *r, const struct rcline *l)
{
	struct rgate *g = r->n_gates ? &set->gates[set->n_gates - 1] : NULL;

	if (g == NULL || g->camp != l->camp) {
		g = &set->gates[set->n_gates++];
		memset(g, 0, sizeof(*g));
		g->camp = l->camp;
		if (r->n_gates++ == 0)
			r->gate = (uint32_t)(g - set->gates);
	}
	if (l->what == RCL_ENABLE)
		g->enable |= (uint8_t)(1u << l->variant);
	else if (l->what == RCL_DISABLE)
		g->disable |= (uint8_t)(1u << l->variant);
	else if (!has_text(r->info.kind))
		rerr(set->pg.errs, l->rule.line, l->rule.col,
		    "rule '%s' has no text to replace", r->info.name);
	else
		g->text[l->variant] = l->text;
}

static void
gates_build(struct rule_set *set)
{
	struct rprog *pg = &set->pg;
	int id;

	if (pg->n_clines == 0)
		return;
	for (unsigned i = 0; i < pg->n_clines; i++)
		pg->clines[i].rule_id = names_find(set, pg->clines[i].rule.s);
	qsort(pg->clines, pg->n_clines, sizeof(pg->clines[0]), cline_cmp);
	if ((set->gates = fault_calloc(pg->n_clines, sizeof(*set->gates))) ==
	    NULL) {
		pg->ar.oom = true;
		return;
	}
	for (unsigned i = 0; i < pg->n_clines; i++) {
		const struct rcline *l = &pg->clines[i];
		if ((id = l->rule_id) < 0) {
			rerr(pg->errs, l->rule.line, l->rule.col,
			    "unknown rule '%s' in campaign '%s'", l->rule.s,
			    pg->camps[l->camp].pub.name);
			continue;
		}
		gate_apply(set, &pg->rules[id], l);
	}
}

/* ---- index ------------------------------------------------------------ */

/* Sort keys: (1000 - priority) << 32 | id, so higher priority first. */
static int
key_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A rule that tests the event type: lowered once per list. */
#define PC_PER_TYPE (RCODE_REJECT - 1)

/*
 * The list of event type t: (id, program) of every rule that can match
 * it, in order, appended at *at.  A rule whose program cannot accept
 * events of type t is left out: it could never fire for them.
 */
static void
list_build(struct rule_set *set, int t, const uint64_t *order,
    const uint32_t *pc_any, uint32_t *at)
{
	struct rprog *pg = &set->pg;

	set->list_at[t] = *at;
	for (uint32_t k = 0; k < pg->n_rules && !set->code.oom; k++) {
		uint32_t id = (uint32_t)order[k], pc = pc_any[id];
		if (!(pg->rules[id].info.event_mask & (1u << t)))
			continue;
		if (pc == PC_PER_TYPE)
			pc = rcode_lower(&set->code, id, pg->rules[id].cond, t);
		if (pc != RCODE_REJECT)
			set->lists[(*at)++] = (struct rcode_entry){id, pc};
	}
}

/* Per event type, the rules that can match it, highest priority first. */
static void
index_build(struct rule_set *set)
{
	struct rprog *pg = &set->pg;
	uint64_t *order;
	uint32_t *pc_any;
	uint32_t total = 0, at = 0;

	rcode_init(&set->code, pg->ar.nodes);
	order = fault_malloc((pg->n_rules + 1) * sizeof(*order));
	pc_any = fault_malloc((pg->n_rules + 1) * sizeof(*pc_any));
	if (order == NULL || pc_any == NULL)
		goto oom;
	for (uint32_t id = 0; id < pg->n_rules; id++) {
		struct rule_info *ri = &pg->rules[id].info;
		uint32_t cond = pg->rules[id].cond;
		ri->event_mask = rexpr_event_mask(&pg->ar, cond);
		total += (uint32_t)__builtin_popcount(ri->event_mask);
		order[id] = (uint64_t)(1000u - ri->priority) << 32 | id;
		/* one program for every type unless it tests the type */
		pc_any[id] = rcode_tests_event(pg->ar.nodes, cond)
		                 ? PC_PER_TYPE
		                 : rcode_lower(&set->code, id, cond, -1);
	}
	qsort(order, pg->n_rules, sizeof(*order), key_cmp);
	if ((set->lists = fault_malloc((total + 1) * sizeof(*set->lists))) == NULL)
		goto oom;
	for (int t = 0; t < EVENT_TYPE_COUNT; t++)
		list_build(set, t, order, pc_any, &at);
	set->list_at[EVENT_TYPE_COUNT] = at;
	if (!rcode_seal(&set->code))
		goto oom;
	free(order);
	free(pc_any);
	return;
oom:
	pg->ar.oom = true;
	free(order);
	free(pc_any);
}

/* ---- compile ---------------------------------------------------------- */

/* Sort keys: line << 40 | col << 16 | order found. */
static uint64_t
err_key(const struct nudge_diag *d, unsigned i)
{
	uint64_t line = d->line < 0 ? 0 : (uint64_t)d->line;
	uint64_t col = d->col < 0 ? 0 : (uint64_t)d->col;

	return (line & 0xffffff) << 40 | (col & 0xffffff) << 16 | i;
}

/* Sorts the errors by position (ties in the order found) into out. */
static void
errs_export(struct rerrs *e, struct rule_errors *out)
{
	uint64_t idx[RERRS_CAP];

	if (out == NULL)
		return;
	for (unsigned i = 0; i < e->n; i++)
		idx[i] = err_key(&e->e[i], i);
	qsort(idx, e->n, sizeof(idx[0]), key_cmp);
	out->n = e->n < RULE_ERRORS_MAX ? e->n : RULE_ERRORS_MAX;
	out->truncated = e->truncated || e->n > RULE_ERRORS_MAX;
	for (unsigned i = 0; i < out->n; i++)
		out->e[i] = e->e[idx[i] & 0xffff];
}

static void
set_build(struct rule_set *set, const char *text, size_t len)
{
	rparse_file(&set->pg, text, len);
	if (!set->pg.ar.oom)
		names_build(set);
	if (!set->pg.ar.oom)
		camps_resolve(set);
	if (!set->pg.ar.oom)
		defer_resolve(set);
	if (!set->pg.ar.oom)
		gates_build(set);
	if (!set->pg.ar.oom && set->pg.errs->n == 0)
		index_build(set);
}

int
rule_compile(const char *text, size_t len, struct rule_set **out,
    struct rule_errors *errs)
{
	struct rule_set *set;
	struct rerrs *e;
	int rc = NUDGE_OK;

	if (errs != NULL)
		memset(errs, 0, sizeof(*errs));
	if (out == NULL || (text == NULL && len > 0))
		return NUDGE_EINVAL;
	if ((e = fault_calloc(1, sizeof(*e))) == NULL ||
	    (set = fault_calloc(1, sizeof(*set))) == NULL) {
		free(e);
		return NUDGE_ENOMEM;
	}
	rparse_init(&set->pg, e);
	if (len > RULE_SOURCE_MAX)
		rerr(e, 1, 1, "rule text larger than %u bytes", RULE_SOURCE_MAX);
	else
		set_build(set, text ? text : "", len);
	if (set->pg.ar.oom)
		rc = NUDGE_ENOMEM;
	else if (e->n > 0)
		rc = NUDGE_ESYNTAX;
	errs_export(e, errs);
	free(e);
	set->pg.errs = NULL;
	if (rc != NUDGE_OK) {
		rule_set_free(set);
		return rc;
	}
	*out = set;
	return NUDGE_OK;
}

void
rule_set_free(struct rule_set *set)
{
	if (set == NULL)
		return;
	rparse_fini(&set->pg);
	rcode_fini(&set->code);
	free(set->gates);
	free(set->names);
	free(set->lists);
	free(set);
}

/* ---- accessors -------------------------------------------------------- */

unsigned
rule_set_count(const struct rule_set *set)
{
	return set ? set->pg.n_rules : 0;
}

const struct rule_info *
rule_set_rule(const struct rule_set *set, unsigned id)
{
	return set && id < set->pg.n_rules ? &set->pg.rules[id].info : NULL;
}

int
rule_set_find(const struct rule_set *set, const char *name)
{
	return set && name ? names_find(set, name) : -1;
}

unsigned
rule_set_funnels(const struct rule_set *set)
{
	return set ? set->pg.n_funnels : 0;
}

const struct funnel *
rule_set_funnel(const struct rule_set *set, unsigned i)
{
	return set && i < set->pg.n_funnels ? &set->pg.funnels[i] : NULL;
}

unsigned
rule_set_campaigns(const struct rule_set *set)
{
	return set ? set->pg.n_camps : 0;
}

const struct rule_campaign *
rule_set_campaign(const struct rule_set *set, unsigned i)
{
	return set && i < set->pg.n_camps ? &set->camps[i] : NULL;
}

/* ---- watch list ------------------------------------------------------ */

static bool
is_target(const struct rnode *nodes, uint32_t n)
{
	return nodes[n].op == ROP_FIELD && nodes[n].a == RF_TARGET;
}

static bool
is_str(const struct rnode *nodes, uint32_t n)
{
	return nodes[n].op == ROP_CONST && nodes[n].k.type == RULE_V_STR;
}

/* A selector the tag can pass to closest() as it is, with no escaping. */
static bool
watch_ok(struct nudge_strv s)
{
	if (s.len == 0 || s.len > RULE_WATCH_SEL_MAX)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');
		if (!alnum && (c == 0 || strchr("_-.#:>,=[] ", c) == NULL))
			return false;
	}
	return !(s.ptr[0] >= '0' && s.ptr[0] <= '9');
}

struct watch_acc {
	char (*out)[RULE_WATCH_SEL_MAX + 1];
	unsigned n, cap;
};

static void
watch_add(struct watch_acc *w, struct nudge_strv s)
{
	if (w->n == w->cap || !watch_ok(s))
		return;
	for (unsigned i = 0; i < w->n; i++)
		if (strlen(w->out[i]) == s.len &&
		    memcmp(w->out[i], s.ptr, s.len) == 0)
			return;
	memcpy(w->out[w->n], s.ptr, s.len);
	w->out[w->n++][s.len] = '\0';
}

/* Walks the boolean part of a condition (its height is bounded). */
static void
watch_walk(const struct rnode *nodes, uint32_t n, struct watch_acc *w)
{
	const struct rnode *nd = &nodes[n];

	switch (nd->op) {
	case ROP_AND:
	case ROP_OR:
		watch_walk(nodes, nd->a, w);
		watch_walk(nodes, nd->b, w);
		break;
	case ROP_NOT:
		watch_walk(nodes, nd->a, w);
		break;
	case ROP_MATCH:
		if (!nd->flag && is_target(nodes, nd->a))
			watch_add(w, nd->k.s);
		break;
	case ROP_EQ:
		if (is_target(nodes, nd->a) && is_str(nodes, nd->b))
			watch_add(w, nodes[nd->b].k.s);
		else if (is_target(nodes, nd->b) && is_str(nodes, nd->a))
			watch_add(w, nodes[nd->a].k.s);
		break;
	default:
		break;
	}
}

unsigned
rule_set_watch(const struct rule_set *set,
    char out[][RULE_WATCH_SEL_MAX + 1], unsigned cap)
{
	const uint16_t hv =
	    (uint16_t)(1u << EVENT_HOVER | 1u << EVENT_VISIBLE);
	struct watch_acc w = {out, 0, cap};

	for (uint32_t id = 0; set != NULL && id < set->pg.n_rules; id++) {
		const struct rdef *r = &set->pg.rules[id];
		/* only rules an event test narrows to hover or visible */
		if (r->info.event_mask == REXPR_ALL_EVENTS ||
		    (r->info.event_mask & hv) == 0)
			continue;
		watch_walk(set->pg.ar.nodes, r->cond, &w);
	}
	return w.n;
}

void
rule_errors_print(FILE *f, const char *file, const struct rule_errors *errs)
{
	for (unsigned i = 0; i < errs->n; i++)
		fprintf(f, "%s:%d:%d: %s\n", file, errs->e[i].line,
		    errs->e[i].col, errs->e[i].msg);
	if (errs->truncated)
		fprintf(f, "%s: more than %d errors, stopped\n", file,
		    RULE_ERRORS_MAX);
}

/* ---- evaluation ------------------------------------------------------- */

/* Whether the rule's campaigns let it fire; picks a variant's text. */
static bool
gates_allow(const struct rule_set *set, const struct rdef *r,
    const struct rule_ctx *ctx, struct rtext *text)
{
	for (uint32_t i = 0; i < r->n_gates; i++) {
		const struct rgate *g = &set->gates[r->gate + i];
		int v = ctx->variant ? ctx->variant(ctx->arg, g->camp) : -1;
		if (v >= set->camps[g->camp].n_variants)
			v = -1;
		if (g->enable && (v < 0 || !(g->enable & (1u << v))))
			return false;
		if (v >= 0 && (g->disable & (1u << v)))
			return false;
		if (v >= 0 && g->text[v].n != 0)
			*text = g->text[v];
	}
	return true;
}

static bool
caps_allow(const struct rule_ctx *ctx, uint32_t id, const struct rdef *r)
{
	if (ctx->cap_ok == NULL)
		return true;
	for (unsigned k = 0; k < r->info.n_caps; k++)
		if (!ctx->cap_ok(ctx->arg, id, &r->info.caps[k]))
			return false;
	return true;
}

/* Fills the next action; false if its text has a missing hole. */
static bool
act_fill(const struct rule_set *set, const struct rvm *vm, uint32_t id,
    struct rtext text, struct rule_action *a)
{
	const struct rdef *r = &set->pg.rules[id];
	const struct rule_subject *sj = vm->ctx->subj;
	int len = 0;

	a->text[0] = '\0';
	if (text.n != 0 &&
	    (len = rvm_render(vm, set->pg.ar.segs + text.seg, text.n,
	         a->text, sizeof(a->text))) < 0)
		return false;
	a->text_len = (uint16_t)len;
	a->rule = id;
	a->kind = r->info.kind;
	a->shadow = r->info.shadow;
	a->score = r->info.score;
	a->arg = r->info.arg;
	a->holdout = r->info.holdout_bp != 0 &&
	             bucket_of(rule_fnv1a(r->seed, sj->visitor.ptr,
	                 sj->visitor.len)) < r->info.holdout_bp;
	return true;
}

/* A score-only rule fired: its id and points, if there is room. */
static void
out_scored(const struct rdef *r, uint32_t id, struct rule_out *out)
{
	if (out->n_scored == RULE_SCORED_MAX) {
		out->dropped++;
		return;
	}
	out->scored[out->n_scored++] = id;
	if (!r->info.shadow)
		out->score += r->info.score;
}

int
rule_eval(const struct rule_set *set, const struct rule_ctx *ctx,
    struct rule_out *out)
{
	struct rvm_facts facts;
	struct rcode_frame fr;
	struct rvm vm;
	uint32_t t, k, end;

	if (out == NULL)
		return NUDGE_EINVAL;
	out->score = 0;
	out->n = out->n_scored = out->dropped = out->n_capped = 0;
	if (set == NULL || ctx == NULL || ctx->ev == NULL || ctx->subj == NULL)
		return NUDGE_EINVAL;
	facts.n = facts.next = 0;
	vm = (struct rvm){set->pg.ar.nodes, set->camps, ctx, &facts};
	rcode_frame_init(&fr, &set->code, &vm);
	t = ctx->ev->type < EVENT_TYPE_COUNT ? ctx->ev->type : EVENT_CUSTOM;
	end = set->list_at[t + 1];
	for (k = set->list_at[t];
	     (k = rcode_next(&set->code, &fr, set->lists, k, end)) < end; k++) {
		uint32_t id = set->lists[k].id;
		const struct rdef *r = &set->pg.rules[id];
		struct rtext text = r->text;
		struct rule_action *a = &out->act[out->n];

		if (!gates_allow(set, r, ctx, &text))
			continue;
		if (!caps_allow(ctx, id, r)) {
			if (out->n_capped < RULE_OUT_MAX)
				out->capped[out->n_capped] = id;
			out->n_capped++;
		} else if (r->info.kind == RULE_ACT_SCORE) {
			out_scored(r, id, out);
		} else if (out->n == RULE_OUT_MAX) {
			out->dropped++;
		} else if (act_fill(set, &vm, id, text, a)) {
			out->n++;
			if (!a->shadow && !a->holdout)
				out->score += a->score;
		}
	}
	return NUDGE_OK;
}
