/*
 * rule_vm.c - the rule evaluator's inner loop: field loads, operators and
 * text rendering.
 *
 * Called by rule_eval() on every event for the rules its event-type index
 * selects, from any agent thread at once: it reads only the immutable node
 * array and the caller's context, and writes only the caller's buffers.
 * Field loads are a table of (kind, offset) so that adding a field is one
 * line; operators are a table of small handlers.
 */
#include "rule_vm.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "funnel.h"
#include "rule_field.h"

/* ---- field loads ------------------------------------------------------ */

enum ld_kind {
	LD_EV_STRV,	/* struct nudge_strv in the event */
	LD_EV_PAGE,	/* the event's page, without query or fragment */
	LD_EV_NAME,	/* type name, or the custom name */
	LD_EV_CENTS,	/* int64 cents in the event */
	LD_SJ_STRV,	/* struct nudge_strv in the subject */
	LD_SJ_U32,
	LD_SJ_U8,
	LD_SJ_I32,
	LD_SJ_DAYS,	/* int32, negative = missing */
	LD_SJ_CENTS,
	LD_SJ_BOOL,
	LD_SJ_COUNTRY,
	LD_SJ_DEVICE,
	LD_SJ_SOURCE,
	LD_HOUR,
	LD_WEEKDAY
};

struct ld_def {
	uint8_t kind;
	uint16_t off;
};

#define EV(f) offsetof(struct nudge_event, f)
#define SJ(f) offsetof(struct rule_subject, f)

static const struct ld_def ld_defs[RF_COUNT] = {
	[RF_EVENT] = {LD_EV_NAME, 0},
	[RF_PAGE] = {LD_EV_PAGE, EV(page)},
	[RF_TARGET] = {LD_EV_STRV, EV(target)},
	[RF_SKU] = {LD_EV_STRV, EV(sku)},
	[RF_VALUE] = {LD_EV_CENTS, EV(value_cents)},
	[RF_COUNTRY] = {LD_SJ_COUNTRY, SJ(country)},
	[RF_DEVICE] = {LD_SJ_DEVICE, SJ(device)},
	[RF_SOURCE] = {LD_SJ_SOURCE, SJ(source)},
	[RF_SOURCE_CAMPAIGN] = {LD_SJ_STRV, SJ(source_campaign)},
	[RF_UTM_SOURCE] = {LD_SJ_STRV, SJ(utm_source)},
	[RF_UTM_MEDIUM] = {LD_SJ_STRV, SJ(utm_medium)},
	[RF_UTM_CAMPAIGN] = {LD_SJ_STRV, SJ(utm_campaign)},
	[RF_REGION] = {LD_SJ_STRV, SJ(region)},
	[RF_STEP] = {LD_SJ_STRV, SJ(step)},
	[RF_SESSION_STEP] = {LD_SJ_U8, SJ(steps)},
	[RF_PAGES] = {LD_SJ_U32, SJ(pages)},
	[RF_EVENTS] = {LD_SJ_U32, SJ(events)},
	[RF_SECONDS] = {LD_SJ_U32, SJ(seconds)},
	[RF_EMAIL] = {LD_SJ_BOOL, SJ(email_known)},
	[RF_CART_ITEMS] = {LD_SJ_U32, SJ(cart_items)},
	[RF_CART_VALUE] = {LD_SJ_CENTS, SJ(cart_cents)},
	[RF_SCORE] = {LD_SJ_I32, SJ(score)},
	[RF_ORDERS] = {LD_SJ_U32, SJ(orders)},
	[RF_SESSIONS] = {LD_SJ_U32, SJ(sessions)},
	[RF_DAYS_SINCE] = {LD_SJ_DAYS, SJ(days_since_last_visit)},
	[RF_HOUR] = {LD_HOUR, 0},
	[RF_WEEKDAY] = {LD_WEEKDAY, 0},
};

static const char *const vm_weekdays[7] = {
	"mon", "tue", "wed", "thu", "fri", "sat", "sun",
};

static void
set_num(struct rule_value *v, double num)
{
	v->type = RULE_V_NUM;
	v->num = num;
}

static void
set_str(struct rule_value *v, struct nudge_strv s)
{
	v->type = RULE_V_STR;
	v->s = s;
	if (v->s.ptr == NULL)
		v->s = (struct nudge_strv){"", 0};
}

static void
set_cstr(struct rule_value *v, const char *s)
{
	set_str(v, strv_of(s));
}

static struct nudge_strv
page_path(struct nudge_strv page)
{
	for (uint32_t k = 0; k < page.len; k++)
		if (page.ptr[k] == '?' || page.ptr[k] == '#')
			return (struct nudge_strv){page.ptr, k};
	return page;
}

/* Loads field d from the event, the subject or the clock: one switch. */
static void
ld_load(const struct rule_ctx *c, const struct ld_def *d,
    struct rule_value *v)
{
	const char *ev = (const char *)c->ev, *sj = (const char *)c->subj;
	int32_t days;

	switch (d->kind) {
	case LD_EV_STRV:
		set_str(v, *(const struct nudge_strv *)(ev + d->off));
		break;
	case LD_EV_PAGE:
		set_str(v, page_path(c->ev->page));
		break;
	case LD_EV_NAME:
		if (c->ev->type == EVENT_CUSTOM)
			set_str(v, c->ev->name);
		else
			set_cstr(v, event_type_name(c->ev->type));
		break;
	case LD_EV_CENTS:
		set_num(v, (double)c->ev->value_cents / 100.0);
		break;
	case LD_HOUR:
		set_num(v, c->hour);
		break;
	case LD_WEEKDAY:
		set_cstr(v, vm_weekdays[c->weekday % 7]);
		break;
	case LD_SJ_STRV:
		set_str(v, *(const struct nudge_strv *)(sj + d->off));
		break;
	case LD_SJ_U32:
		set_num(v, *(const uint32_t *)(sj + d->off));
		break;
	case LD_SJ_U8:
		set_num(v, *(const uint8_t *)(sj + d->off));
		break;
	case LD_SJ_I32:
		set_num(v, *(const int32_t *)(sj + d->off));
		break;
	case LD_SJ_DAYS:
		if ((days = *(const int32_t *)(sj + d->off)) >= 0)
			set_num(v, days);
		break;
	case LD_SJ_CENTS:
		set_num(v, (double)*(const int64_t *)(sj + d->off) / 100.0);
		break;
	case LD_SJ_BOOL:
		v->type = RULE_V_BOOL;
		v->b = *(const bool *)(sj + d->off);
		break;
	case LD_SJ_COUNTRY:
		set_str(v, (struct nudge_strv){c->subj->country,
		               (uint32_t)strnlen(c->subj->country, 2)});
		break;
	case LD_SJ_DEVICE:
		set_cstr(v, event_device_name(c->subj->device));
		break;
	case LD_SJ_SOURCE:
		set_cstr(v, event_source_name(c->subj->source));
		break;
	}
}

/* ---- operators -------------------------------------------------------- */

typedef void (*op_fn)(const struct rvm *vm, const struct rnode *nd,
    struct rule_value *out);

static void
op_const(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	(void)vm;
	*o = nd->k;
}

void
rvm_field(const struct rule_ctx *ctx, unsigned f, struct rule_value *out)
{
	const struct ld_def *d = &ld_defs[f < RF_COUNT ? f : RF_EVENT];

	out->type = RULE_V_MISSING;
	ld_load(ctx, d, out);
}

static void
op_field(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	ld_load(vm->ctx, &ld_defs[nd->a], o);
}

/* Asks the caller for a fact; strings or numbers, else missing. */
static void
fact_ask(const struct rule_ctx *c, struct nudge_strv key,
    struct nudge_strv index, struct rule_value *o)
{
	struct rule_value v = {0};

	o->type = RULE_V_MISSING;
	if (c->fact == NULL || !c->fact(c->arg, key, index, &v))
		return;
	if (v.type == RULE_V_STR || v.type == RULE_V_NUM)
		*o = v;
	if (o->type == RULE_V_STR && o->s.ptr == NULL)
		o->s = (struct nudge_strv){"", 0};
}

static void
op_fact(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	struct rvm_facts *f = vm->facts;
	struct rule_value idx = {.s = {"", 0}};
	unsigned i;

	if (nd->a != 0) {
		rvm_eval(vm, nd->a, &idx);
		if (idx.type != RULE_V_STR)
			return;
	}
	for (i = 0; f != NULL && i < f->n; i++)
		if (f->e[i].key == nd->k.s.ptr &&
		    f->e[i].index.len == idx.s.len &&
		    (idx.s.len == 0 ||
		        memcmp(f->e[i].index.ptr, idx.s.ptr, idx.s.len) == 0)) {
			*o = f->e[i].v;
			return;
		}
	fact_ask(vm->ctx, nd->k.s, idx.s, o);
	if (f == NULL)
		return;
	i = f->n < RVM_FACTS ? f->n++ : f->next++ % RVM_FACTS;
	f->e[i].key = nd->k.s.ptr;
	f->e[i].index = idx.s;
	f->e[i].v = *o;
}

static void
op_variant(const struct rvm *vm, const struct rnode *nd,
    struct rule_value *o)
{
	const struct rule_ctx *c = vm->ctx;
	const struct rule_campaign *camp = &vm->camps[nd->a];
	int v;

	if (c->variant == NULL || (v = c->variant(c->arg, nd->a)) < 0 ||
	    v >= camp->n_variants)
		return;
	set_cstr(o, camp->variant[v].name);
}

static void
op_event_is(const struct rvm *vm, const struct rnode *nd,
    struct rule_value *o)
{
	const struct nudge_event *ev = vm->ctx->ev;

	o->type = RULE_V_BOOL;
	o->b = ev->type == nd->a &&
	       (nd->a != EVENT_CUSTOM ||
	           (ev->name.len == nd->k.s.len &&
	               memcmp(ev->name.ptr, nd->k.s.ptr, nd->k.s.len) == 0));
}

static void
op_logic(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	bool l = rvm_test(vm, nd->a);

	o->type = RULE_V_BOOL;
	if (nd->op == ROP_AND)
		o->b = l && rvm_test(vm, nd->b);
	else if (nd->op == ROP_OR)
		o->b = l || rvm_test(vm, nd->b);
	else
		o->b = !l;
}

static bool
val_eq(const struct rule_value *a, const struct rule_value *b)
{
	if (a->type != b->type)
		return false;
	if (a->type == RULE_V_NUM)
		return a->num == b->num;
	if (a->type == RULE_V_BOOL)
		return a->b == b->b;
	return a->s.len == b->s.len &&
	       (a->s.len == 0 || memcmp(a->s.ptr, b->s.ptr, a->s.len) == 0);
}

static void
op_cmp(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	struct rule_value l, r;

	rvm_eval(vm, nd->a, &l);
	if (l.type == RULE_V_MISSING)
		return;
	rvm_eval(vm, nd->b, &r);
	if (r.type == RULE_V_MISSING)
		return;
	o->type = RULE_V_BOOL;
	if (nd->op == ROP_EQ || nd->op == ROP_NE) {
		/* a fact of the other type is missing, not unequal */
		if (l.type != r.type)
			o->type = RULE_V_MISSING;
		o->b = val_eq(&l, &r) == (nd->op == ROP_EQ);
		return;
	}
	if (l.type != RULE_V_NUM || r.type != RULE_V_NUM) {
		o->type = RULE_V_MISSING;
		return;
	}
	o->b = nd->op == ROP_LT   ? l.num < r.num
	       : nd->op == ROP_LE ? l.num <= r.num
	       : nd->op == ROP_GT ? l.num > r.num
	                          : l.num >= r.num;
}

static void
op_match(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	struct rule_value l;

	rvm_eval(vm, nd->a, &l);
	if (l.type != RULE_V_STR)
		return;
	o->type = RULE_V_BOOL;
	if (nd->flag)
		o->b = funnel_glob(nd->k.s.ptr, l.s.ptr, l.s.len);
	else
		o->b = l.s.len >= nd->k.s.len &&
		       memmem(l.s.ptr, l.s.len, nd->k.s.ptr, nd->k.s.len) !=
		           NULL;
}

static void
op_in(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	struct rule_value l;
	bool found = false;

	rvm_eval(vm, nd->a, &l);
	if (l.type == RULE_V_MISSING || l.type != vm->nodes[nd->b].k.type)
		return;
	for (uint32_t i = 0; i < nd->c && !found; i++)
		found = val_eq(&l, &vm->nodes[nd->b + i].k);
	o->type = RULE_V_BOOL;
	o->b = found == (nd->op == ROP_IN);
}

static void
op_arith(const struct rvm *vm, const struct rnode *nd, struct rule_value *o)
{
	struct rule_value l, r;
	double v;

	rvm_eval(vm, nd->a, &l);
	if (l.type != RULE_V_NUM)
		return;
	if (nd->op == ROP_NEG) {
		set_num(o, -l.num);
		return;
	}
	rvm_eval(vm, nd->b, &r);
	if (r.type != RULE_V_NUM || (nd->op == ROP_DIV && r.num == 0))
		return;
	v = nd->op == ROP_ADD   ? l.num + r.num
	    : nd->op == ROP_SUB ? l.num - r.num
	    : nd->op == ROP_MUL ? l.num * r.num
	                        : l.num / r.num;
	if (isfinite(v))
		set_num(o, v);
}

static const op_fn vm_ops[ROP_COUNT] = {
	[ROP_CONST] = op_const, [ROP_FIELD] = op_field,
	[ROP_FACT] = op_fact, [ROP_VARIANT] = op_variant,
	[ROP_EVENT_IS] = op_event_is, [ROP_AND] = op_logic,
	[ROP_OR] = op_logic, [ROP_NOT] = op_logic, [ROP_EQ] = op_cmp,
	[ROP_NE] = op_cmp, [ROP_LT] = op_cmp, [ROP_LE] = op_cmp,
	[ROP_GT] = op_cmp, [ROP_GE] = op_cmp, [ROP_MATCH] = op_match,
	[ROP_IN] = op_in, [ROP_NOT_IN] = op_in, [ROP_ADD] = op_arith,
	[ROP_SUB] = op_arith, [ROP_MUL] = op_arith, [ROP_DIV] = op_arith,
	[ROP_NEG] = op_arith,
};

void
rvm_eval(const struct rvm *vm, uint32_t n, struct rule_value *out)
{
	const struct rnode *nd = &vm->nodes[n];

	out->type = RULE_V_MISSING;
	if (vm_ops[nd->op] != NULL)
		vm_ops[nd->op](vm, nd, out);
}

/*
 * Logic and event tests are answered here without building a value.
 * rule_eval's programs (rule_code.h) come here only for the leaves they
 * do not test themselves (arithmetic, variants, two fields compared...).
 */
bool
rvm_test(const struct rvm *vm, uint32_t n)
{
	const struct rnode *nd = &vm->nodes[n];
	struct rule_value v;

	switch (nd->op) {
	case ROP_AND:
		return rvm_test(vm, nd->a) && rvm_test(vm, nd->b);
	case ROP_OR:
		return rvm_test(vm, nd->a) || rvm_test(vm, nd->b);
	case ROP_NOT:
		return !rvm_test(vm, nd->a);
	case ROP_EVENT_IS:
		if (vm->ctx->ev->type != nd->a)
			return false;
		break;
	default:
		break;
	}
	rvm_eval(vm, n, &v);
	return v.type == RULE_V_BOOL && v.b;
}

/* ---- rendering -------------------------------------------------------- */

size_t
rvm_format_num(double v, char *buf, size_t cap)
{
	int n;

	if (v == 0)
		v = 0; /* no "-0" */
	if (fabs(v) < 1e15 && v == floor(v))
		n = snprintf(buf, cap, "%.0f", v);
	else
		n = snprintf(buf, cap, "%.2f", v);
	if (n < 0)
		return 0;
	if ((size_t)n >= cap)
		n = (int)cap - 1;
	/* "2.50" -> "2.5": trim zeros after the point */
	if (memchr(buf, '.', (size_t)n) != NULL && fabs(v) < 1e15) {
		while (n > 0 && buf[n - 1] == '0')
			n--;
		if (n > 0 && buf[n - 1] == '.')
			n--;
		buf[n] = '\0';
	}
	return (size_t)n;
}

/* Appends s to buf: control bytes become '?', cut at a UTF-8 boundary. */
static size_t
put(char *buf, size_t at, size_t cap, const char *s, size_t n)
{
	size_t k;

	if (at + n >= cap) {
		n = cap - 1 - at;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (k = 0; k < n; k++) {
		unsigned char c = (unsigned char)s[k];
		buf[at + k] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	return at + n;
}

int
rvm_render(const struct rvm *vm, const struct rseg *segs, uint32_t n,
    char *buf, size_t cap)
{
	struct rule_value v;
	char num[40];
	size_t at = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (segs[i].node == 0) {
			at = put(buf, at, cap, segs[i].lit, segs[i].len);
			continue;
		}
		rvm_eval(vm, segs[i].node, &v);
		if (v.type == RULE_V_NUM)
			at = put(buf, at, cap, num,
			    rvm_format_num(v.num, num, sizeof(num)));
		else if (v.type == RULE_V_STR)
			at = put(buf, at, cap, v.s.ptr, v.s.len);
		else
			return -1;
	}
	buf[at] = '\0';
	return (int)at;
}
