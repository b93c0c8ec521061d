/*
 * test_rule_code.c - the lowered test programs (rule_code.h) against a
 * reference: random well-typed rule sets and random events, visitors,
 * facts, variants and caps; every rule_eval() result (which rules fire,
 * in which order, which are capped, the score) must equal what a plain
 * recursive evaluator of rules.h's semantics, kept here, says.  Over
 * 900,000 rule/event cases, with a fixed seed (NUDGE_SEED overrides).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "funnel.h"
#include "rules.h"

/* ---- random ----------------------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static unsigned
rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)((rng >> 11) % n);
}

#define PICK(a) ((a)[rnd(sizeof(a) / sizeof((a)[0]))])

/* ---- the world: fields and the values they take ----------------------- */

enum { T_NUM = 1, T_STR, T_BOOL, T_ANY };

static const char *const pages[] = {
    "/",
    "/product/boots-12",
    "/product/hat-3?color=red",
    "/cart#top",
    "/checkout",
    "/blog/snow",
    "/product/",
    "",
    "/c?rt",
};
static const char *const page_k[] = {
    "/",
    "/product/boots-12",
    "/product/hat-3",
    "/cart",
    "/checkout",
    "",
};
static const char *const words[] = {
    "",
    "alps",
    "summer",
    "coupon-x",
    ".price",
    "#buy",
    "boots",
    "a",
    "snow",
    "sun",
    "Ann",
};
static const char *const countries[] = {"", "DE", "FR", "US"};
static const char *const devices[] = {
    "unknown",
    "desktop",
    "mobile",
    "tablet",
    "bot",
};
static const char *const sources[] = {
    "direct",
    "search",
    "social",
    "coupon",
    "email",
    "paid",
    "referral",
};
static const char *const wdays[] = {
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
};
static const char *const steps_k[] = {"visit", "cart"};
static const char *const steps_v[] = {"", "visit", "cart", "x"};
static const char *const nums[] = {
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "49.99",
    "0.5",
    "-1",
    "100",
    "89",
};
static const char *const subs[] = {
    "o",
    "/product/",
    "boots",
    "pri",
    "-1",
    "al",
    "ow",
    "/",
    "s",
};
static const char *const globs[] = {
    "/product/*",
    "*-1*",
    "/c?rt",
    "*",
    "?*",
    "/product/*-12",
    "*snow",
    "*.price*",
    "**",
    "*o*o*",
    "a*",
    "*s",
    "?",
    "/product/*-1*",
    "/product/*-3*",
    "/product/*-2*",
    "*-12",
    "*-13",
    "/product/h*",
    "/product/b*",
    "*s?",
    "*n?",
};
static const char *const customs[] = {"low_satisfaction", "x_custom"};
static const char *const fact_keys[] = {"weather", "stock", "name"};

enum tfield {
	F_EVENT,
	F_PAGE,
	F_TARGET,
	F_SKU,
	F_COUNTRY,
	F_DEVICE,
	F_SOURCE,
	F_SRC_CAMP,
	F_UTM_SOURCE,
	F_REGION,
	F_STEP,
	F_WEEKDAY,
	F_VALUE,
	F_SSTEP,
	F_PAGES,
	F_SECONDS,
	F_CART_ITEMS,
	F_CART_VALUE,
	F_SCORE,
	F_ORDERS,
	F_DAYS,
	F_HOUR,
	F_EMAIL,
	F_N
};

struct tfield_def {
	const char *name;
	int type;
	const char *const *pool; /* constants compared with it */
	unsigned n_pool;
};

#define POOL(a) (a), sizeof(a) / sizeof((a)[0])
static const struct tfield_def fdefs[F_N] = {
    [F_EVENT] = {"event", T_STR, POOL(customs)},
    [F_PAGE] = {"page", T_STR, POOL(page_k)},
    [F_TARGET] = {"target", T_STR, POOL(words)},
    [F_SKU] = {"sku", T_STR, POOL(words)},
    [F_COUNTRY] = {"country", T_STR, POOL(countries)},
    [F_DEVICE] = {"device", T_STR, POOL(devices)},
    [F_SOURCE] = {"source", T_STR, POOL(sources)},
    [F_SRC_CAMP] = {"source.campaign", T_STR, POOL(words)},
    [F_UTM_SOURCE] = {"utm.source", T_STR, POOL(words)},
    [F_REGION] = {"region", T_STR, POOL(words)},
    [F_STEP] = {"step", T_STR, POOL(steps_k)},
    [F_WEEKDAY] = {"weekday", T_STR, POOL(wdays)},
    [F_VALUE] = {"value", T_NUM, NULL, 0},
    [F_SSTEP] = {"session.step", T_NUM, NULL, 0},
    [F_PAGES] = {"session.pages", T_NUM, NULL, 0},
    [F_SECONDS] = {"session.seconds", T_NUM, NULL, 0},
    [F_CART_ITEMS] = {"cart.items", T_NUM, NULL, 0},
    [F_CART_VALUE] = {"cart.value", T_NUM, NULL, 0},
    [F_SCORE] = {"score", T_NUM, NULL, 0},
    [F_ORDERS] = {"visitor.orders", T_NUM, NULL, 0},
    [F_DAYS] = {"visitor.days_since_last_visit", T_NUM, NULL, 0},
    [F_HOUR] = {"hour", T_NUM, NULL, 0},
    [F_EMAIL] = {"session.email", T_BOOL, NULL, 0},
};

/* ---- expressions: generated, printed and evaluated here --------------- */

enum xkind {
	X_FIELD,
	X_FACT,
	X_NUM,
	X_STR,
	X_ARITH,
	X_NEG,
	X_VARIANT,
	C_AND,
	C_OR,
	C_NOT,
	C_CMP,
	C_MATCH,
	C_IN,
	C_EMAIL,
	C_CONST,
	C_EVENT,
	C_EVIN
};

struct x {
	int kind;
	int f;         /* X_FIELD */
	char op[3];    /* X_ARITH, C_CMP */
	const char *s; /* X_STR, X_FACT key, C_MATCH pattern */
	double num;
	bool neg;     /* C_IN / C_EVIN / C_EVENT negated */
	bool numeric; /* C_IN: a list of numbers */
	unsigned n;   /* items */
	const char *items[6];
	struct x *l, *r; /* operands; X_FACT: l = index or NULL */
};

#define X_POOL 65536
static struct x xpool[X_POOL];
static unsigned n_x;

static struct x *
xnew(int kind)
{
	struct x *x;

	assert_true(n_x < X_POOL);
	x = &xpool[n_x++];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	return x;
}

static struct x *gen_str(int depth, int *field);
static struct x *gen_num(int depth);

static struct x *
gen_fact(int depth)
{
	struct x *x = xnew(X_FACT);
	int f;

	x->s = PICK(fact_keys);
	switch (rnd(4)) {
	case 0:
		break;
	case 1:
		x->l = xnew(X_STR);
		x->l->s = rnd(2) ? "alps" : "x";
		break;
	default:
		x->l = depth > 0 ? gen_str(depth - 1, &f) : NULL;
		break;
	}
	return x;
}

/* A string-typed (or fact) operand; *field: its field or -1. */
static struct x *
gen_str(int depth, int *field)
{
	struct x *x;

	*field = -1;
	switch (rnd(8)) {
	case 0:
		return gen_fact(depth);
	case 1:
		x = xnew(X_VARIANT);
		x->n = rnd(2); /* variant(t) or campaign.t */
		return x;
	default:
		x = xnew(X_FIELD);
		x->f = (int)rnd(F_WEEKDAY + 1);
		*field = x->f;
		return x;
	}
}

static struct x *
gen_num(int depth)
{
	struct x *x;
	unsigned k = rnd(depth > 0 ? 10 : 7);

	if (k < 4) {
		x = xnew(X_FIELD);
		x->f = F_VALUE + (int)rnd(F_HOUR - F_VALUE + 1);
	} else if (k < 5) {
		x = gen_fact(depth);
	} else if (k < 7) {
		x = xnew(X_NUM);
		x->s = PICK(nums);
		x->num = strtod(x->s, NULL);
	} else if (k < 9) {
		static const char *const ops[] = {"+", "-", "*", "/"};
		x = xnew(X_ARITH);
		strcpy(x->op, PICK(ops));
		x->l = gen_num(depth - 1);
		x->r = gen_num(depth - 1);
	} else {
		x = xnew(X_NEG);
		x->l = gen_num(depth - 1);
	}
	return x;
}

/* A string constant fit for a comparison with field f. */
static const char *
str_const(int f)
{
	if (f < 0)
		return rnd(3) ? PICK(words) : PICK(steps_k);
	if (f == F_EVENT)
		return rnd(2) ? PICK(customs)
		              : event_type_name((int)rnd(EVENT_CUSTOM));
	return fdefs[f].pool[rnd(fdefs[f].n_pool)];
}

static bool
is_variant(const struct x *x)
{
	return x->kind == X_VARIANT;
}

static struct x *
gen_cmp(int depth)
{
	static const char *const ord[] = {"<", "<=", ">", ">=", "==", "!="};
	struct x *x = xnew(C_CMP);
	int f, g;

	switch (rnd(5)) {
	case 0:
	case 1: /* numbers */
		strcpy(x->op, PICK(ord));
		x->l = gen_num(depth);
		x->r = gen_num(depth);
		return x;
	case 2: /* string against string */
		strcpy(x->op, rnd(2) ? "==" : "!=");
		x->l = gen_str(depth, &f);
		x->r = gen_str(depth, &g);
		if (f == F_EVENT || g == F_EVENT || is_variant(x->l) ||
		    is_variant(x->r))
			x->r = gen_fact(0); /* no unchecked literals */
		return x;
	case 3: /* bool */
		strcpy(x->op, rnd(2) ? "==" : "!=");
		x->l = xnew(X_FIELD);
		x->l->f = F_EMAIL;
		x->r = xnew(X_STR);
		x->r->s = rnd(2) ? "true" : "false";
		x->r->kind = C_CONST;
		return x;
	default: /* operand against a constant, either side */
		strcpy(x->op, rnd(2) ? "==" : "!=");
		x->l = gen_str(depth, &f);
		if (f == F_EVENT) { /* that is an event test */
			x->l->f = F_PAGE;
			f = F_PAGE;
		}
		x->r = xnew(X_STR);
		x->r->s =
		    is_variant(x->l) ? (rnd(2) ? "a" : "b") : str_const(f);
		if (rnd(3) == 0) {
			struct x *t = x->l;
			x->l = x->r;
			x->r = t;
		}
		return x;
	}
}

static struct x *
gen_cond(int depth)
{
	struct x *x;
	int f;
	unsigned k = rnd(depth > 0 ? 14 : 9);

	if (k < 3)
		return gen_cmp(depth > 1 ? 1 : 0);
	switch (k) {
	case 3:
		x = xnew(C_MATCH);
		if (rnd(2)) { /* most patterns are about pages */
			x->l = xnew(X_FIELD);
			x->l->f = F_PAGE;
		} else {
			x->l = gen_str(1, &f);
		}
		x->s = rnd(2) ? PICK(subs) : PICK(globs);
		return x;
	case 4:
		x = xnew(C_IN);
		x->neg = rnd(2);
		x->n = 1 + rnd(5);
		if ((x->numeric = rnd(2))) {
			x->l = gen_num(1);
			for (unsigned i = 0; i < x->n; i++)
				x->items[i] = PICK(nums);
		} else {
			x->l = gen_str(1, &f);
			if (f == F_EVENT)
				x->l->f = f = F_SKU;
			for (unsigned i = 0; i < x->n; i++)
				x->items[i] = is_variant(x->l)
				                  ? (rnd(2) ? "a" : "b")
				                  : str_const(f);
		}
		return x;
	case 5:
		x = xnew(rnd(3) ? C_EMAIL : C_CONST);
		x->s = rnd(2) ? "true" : "false";
		return x;
	case 6:
	case 7:
		x = xnew(C_EVENT);
		x->neg = rnd(4) == 0;
		x->s = str_const(F_EVENT);
		return x;
	case 8:
		x = xnew(C_EVIN);
		x->neg = rnd(3) == 0;
		x->n = 1 + rnd(4);
		for (unsigned i = 0; i < x->n; i++)
			x->items[i] = str_const(F_EVENT);
		return x;
	case 9:
	case 10:
	case 11:
		x = xnew(rnd(3) ? C_AND : C_OR);
		x->l = gen_cond(depth - 1);
		x->r = gen_cond(depth - 1);
		return x;
	default:
		x = xnew(C_NOT);
		x->l = gen_cond(depth - 1);
		return x;
	}
}

struct buf {
	char *p;
	size_t n, cap;
};

static void bput(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
bput(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < b->cap - b->n);
	b->n += (size_t)n;
}

static void
xprint(struct buf *b, const struct x *x)
{
	switch (x->kind) {
	case X_FIELD:
		bput(b, "%s", fdefs[x->f].name);
		break;
	case X_FACT:
		bput(b, "context.%s", x->s);
		if (x->l != NULL) {
			bput(b, "[");
			xprint(b, x->l);
			bput(b, "]");
		}
		break;
	case X_NUM:
		bput(b, "%s", x->s);
		break;
	case X_STR:
		bput(b, "\"%s\"", x->s);
		break;
	case C_CONST:
	case C_EMAIL:
		bput(b, "%s", x->kind == C_EMAIL ? "session.email" : x->s);
		break;
	case X_VARIANT:
		bput(b, "%s", x->n ? "variant(t)" : "campaign.t");
		break;
	case X_ARITH:
	case C_CMP:
	case C_AND:
	case C_OR:
		bput(b, "(");
		xprint(b, x->l);
		bput(b, " %s ",
		    x->kind == C_AND  ? "and"
		    : x->kind == C_OR ? "or"
		                      : x->op);
		xprint(b, x->r);
		bput(b, ")");
		break;
	case X_NEG:
		bput(b, "-(");
		xprint(b, x->l);
		bput(b, ")");
		break;
	case C_NOT:
		bput(b, "not (");
		xprint(b, x->l);
		bput(b, ")");
		break;
	case C_MATCH:
		xprint(b, x->l);
		bput(b, " ~ \"%s\"", x->s);
		break;
	case C_IN:
	case C_EVIN:
		if (x->kind == C_EVIN)
			bput(b, "event");
		else
			xprint(b, x->l);
		bput(b, "%s in [", x->neg ? " not" : "");
		for (unsigned i = 0; i < x->n; i++)
			bput(b, x->numeric ? "%s%s" : "%s\"%s\"",
			    i ? ", " : "", x->items[i]);
		bput(b, "]");
		break;
	case C_EVENT:
		bput(b, "event %s \"%s\"", x->neg ? "!=" : "==", x->s);
		break;
	default:
		fail();
	}
}

/* ---- the reference ---------------------------------------------------- */

/* One case: what the agent knows, and what the callbacks answer. */
struct world {
	struct nudge_event ev;
	struct rule_subject sj;
	uint8_t hour, weekday;
	int variant;         /* campaign t: -1, 0 (a), 1 (b) */
	int fact_type[3][4]; /* key x index ("", alps, x, other) */
	const char *fact_s[3][4];
	double fact_n[3][4];
	unsigned seq;
};

struct val {
	int type; /* 0 missing, T_NUM, T_STR, T_BOOL */
	double num;
	const char *s;
	size_t len;
	bool b;
};

static struct val
vstr(const char *s, size_t len)
{
	return (struct val){T_STR, 0, s ? s : "", s ? len : 0, false};
}

static struct val
vnum(double d)
{
	return (struct val){T_NUM, d, NULL, 0, false};
}

static struct val
field_val(const struct world *w, int f)
{
	const struct nudge_event *ev = &w->ev;
	const struct rule_subject *sj = &w->sj;
	const char *nm;
	size_t k;

	switch (f) {
	case F_EVENT:
		if (ev->type == EVENT_CUSTOM)
			return vstr(ev->name.ptr, ev->name.len);
		nm = event_type_name(ev->type);
		return vstr(nm, strlen(nm));
	case F_PAGE:
		for (k = 0; k < ev->page.len; k++)
			if (ev->page.ptr[k] == '?' || ev->page.ptr[k] == '#')
				break;
		return vstr(ev->page.ptr, k);
	case F_TARGET:
		return vstr(ev->target.ptr, ev->target.len);
	case F_SKU:
		return vstr(ev->sku.ptr, ev->sku.len);
	case F_COUNTRY:
		return vstr(sj->country, strnlen(sj->country, 2));
	case F_DEVICE:
		nm = event_device_name(sj->device);
		return vstr(nm, strlen(nm));
	case F_SOURCE:
		nm = event_source_name(sj->source);
		return vstr(nm, strlen(nm));
	case F_SRC_CAMP:
		return vstr(sj->source_campaign.ptr, sj->source_campaign.len);
	case F_UTM_SOURCE:
		return vstr(sj->utm_source.ptr, sj->utm_source.len);
	case F_REGION:
		return vstr(sj->region.ptr, sj->region.len);
	case F_STEP:
		return vstr(sj->step.ptr, sj->step.len);
	case F_WEEKDAY:
		return vstr(wdays[w->weekday], 3);
	case F_VALUE:
		return vnum((double)ev->value_cents / 100.0);
	case F_SSTEP:
		return vnum(sj->steps);
	case F_PAGES:
		return vnum(sj->pages);
	case F_SECONDS:
		return vnum(sj->seconds);
	case F_CART_ITEMS:
		return vnum(sj->cart_items);
	case F_CART_VALUE:
		return vnum((double)sj->cart_cents / 100.0);
	case F_SCORE:
		return vnum(sj->score);
	case F_ORDERS:
		return vnum(sj->orders);
	case F_DAYS:
		if (sj->days_since_last_visit < 0)
			return (struct val){0};
		return vnum(sj->days_since_last_visit);
	case F_HOUR:
		return vnum(w->hour);
	case F_EMAIL:
		return (struct val){T_BOOL, 0, NULL, 0, sj->email_known};
	default:
		fail();
		return (struct val){0};
	}
}

static int
key_ix(const char *s, size_t n)
{
	for (int i = 0; i < 3; i++)
		if (strlen(fact_keys[i]) == n &&
		    memcmp(fact_keys[i], s, n) == 0)
			return i;
	return -1;
}

static int
index_ix(const char *s, size_t n)
{
	if (n == 0)
		return 0;
	if (n == 4 && memcmp(s, "alps", 4) == 0)
		return 1;
	if (n == 1 && s[0] == 'x')
		return 2;
	return 3;
}

static bool
w_fact(void *arg, struct nudge_strv key, struct nudge_strv index,
    struct rule_value *out)
{
	const struct world *w = arg;
	int k = key_ix(key.ptr, key.len), i = index_ix(index.ptr, index.len);

	if (k < 0 || w->fact_type[k][i] == 0)
		return false;
	out->type = w->fact_type[k][i] == T_NUM   ? RULE_V_NUM
	            : w->fact_type[k][i] == T_STR ? RULE_V_STR
	                                          : RULE_V_BOOL;
	out->num = w->fact_n[k][i];
	out->s = strv_of(w->fact_s[k][i]);
	out->b = true;
	return true;
}

static int
w_variant(void *arg, unsigned camp)
{
	const struct world *w = arg;

	return camp == 0 ? w->variant : -1;
}

static bool
cap_says(unsigned rule, unsigned seq, unsigned count)
{
	uint32_t h = (rule * 2654435761u) ^ (seq * 40503u) ^ count;

	h ^= h >> 15;
	h *= 2246822519u;
	h ^= h >> 13;
	return h % 5 != 0;
}

static bool
w_cap(void *arg, unsigned rule, const struct rule_cap *cap)
{
	const struct world *w = arg;

	return cap_says(rule, w->seq, cap->count);
}

static struct val veval(const struct world *w, const struct x *x);

static bool vtest(const struct world *w, const struct x *x);

static bool
veq(struct val a, struct val b)
{
	if (a.type == T_NUM)
		return a.num == b.num;
	if (a.type == T_BOOL)
		return a.b == b.b;
	return a.len == b.len && memcmp(a.s, b.s, a.len) == 0;
}

static struct val
vcmp(const struct world *w, const struct x *x)
{
	struct val l = veval(w, x->l), r = veval(w, x->r);
	struct val o = {T_BOOL, 0, NULL, 0, false};

	if (l.type == 0 || r.type == 0)
		return (struct val){0};
	if (!strcmp(x->op, "==") || !strcmp(x->op, "!=")) {
		if (l.type != r.type)
			return (struct val){0};
		o.b = veq(l, r) == (x->op[0] == '=');
		return o;
	}
	if (l.type != T_NUM || r.type != T_NUM)
		return (struct val){0};
	o.b = !strcmp(x->op, "<")    ? l.num < r.num
	      : !strcmp(x->op, "<=") ? l.num <= r.num
	      : !strcmp(x->op, ">")  ? l.num > r.num
	                             : l.num >= r.num;
	return o;
}

static struct val
veval(const struct world *w, const struct x *x)
{
	struct val l, r;
	double d;

	switch (x->kind) {
	case X_FIELD:
		return field_val(w, x->f);
	case X_FACT: {
		struct rule_value fv = {0};
		struct nudge_strv ix = {"", 0};
		if (x->l != NULL) {
			l = veval(w, x->l);
			if (l.type != T_STR)
				return (struct val){0};
			ix = (struct nudge_strv){l.s, (uint32_t)l.len};
		}
		if (!w_fact((void *)w, strv_of(x->s), ix, &fv))
			return (struct val){0};
		if (fv.type == RULE_V_NUM)
			return vnum(fv.num);
		if (fv.type == RULE_V_STR)
			return vstr(fv.s.ptr, fv.s.len);
		return (struct val){0};
	}
	case X_NUM:
		return vnum(x->num);
	case X_STR:
		return vstr(x->s, strlen(x->s));
	case C_CONST:
		return (struct val){T_BOOL, 0, NULL, 0, x->s[0] == 't'};
	case X_VARIANT:
		if (w->variant < 0)
			return (struct val){0};
		return vstr(w->variant ? "b" : "a", 1);
	case X_NEG:
		l = veval(w, x->l);
		return l.type == T_NUM ? vnum(-l.num) : (struct val){0};
	case X_ARITH:
		l = veval(w, x->l);
		r = veval(w, x->r);
		if (l.type != T_NUM || r.type != T_NUM ||
		    (x->op[0] == '/' && r.num == 0))
			return (struct val){0};
		d = x->op[0] == '+'   ? l.num + r.num
		    : x->op[0] == '-' ? l.num - r.num
		    : x->op[0] == '*' ? l.num * r.num
		                      : l.num / r.num;
		return isfinite(d) ? vnum(d) : (struct val){0};
	case C_CMP:
		return vcmp(w, x);
	default:
		return (struct val){T_BOOL, 0, NULL, 0, vtest(w, x)};
	}
}

static bool
substr(struct val s, const char *p)
{
	size_t n = strlen(p);

	for (size_t i = 0; i + n <= s.len; i++)
		if (memcmp(s.s + i, p, n) == 0)
			return true;
	return false;
}

static bool
event_is(const struct world *w, const char *name)
{
	int t = event_type_from_name(strv_of(name));

	return w->ev.type == t &&
	       (t != EVENT_CUSTOM || strv_eq(w->ev.name, name));
}

static bool
vtest(const struct world *w, const struct x *x)
{
	struct val v;
	bool found = false;

	switch (x->kind) {
	case C_AND:
		return vtest(w, x->l) & vtest(w, x->r);
	case C_OR:
		return vtest(w, x->l) | vtest(w, x->r);
	case C_NOT:
		return !vtest(w, x->l);
	case C_EMAIL:
		return w->sj.email_known;
	case C_CONST:
		return x->s[0] == 't';
	case C_EVENT:
		return event_is(w, x->s) != x->neg;
	case C_EVIN:
		for (unsigned i = 0; i < x->n; i++)
			found |= event_is(w, x->items[i]);
		return found != x->neg;
	case C_MATCH:
		v = veval(w, x->l);
		if (v.type != T_STR)
			return false;
		if (strpbrk(x->s, "*?") != NULL)
			return funnel_glob(x->s, v.s, v.len);
		return substr(v, x->s);
	case C_IN: {
		bool numeric = x->numeric;
		v = veval(w, x->l);
		if (v.type != (numeric ? T_NUM : T_STR))
			return false;
		for (unsigned i = 0; i < x->n; i++)
			found |= numeric ? v.num == strtod(x->items[i], NULL)
			                 : veq(v, vstr(x->items[i],
			                              strlen(x->items[i])));
		return found != x->neg;
	}
	default:
		v = veval(w, x);
		return v.type == T_BOOL && v.b;
	}
}

/* ---- the cases -------------------------------------------------------- */

#define N_RULES 60

struct tset {
	struct x *cond[N_RULES];
	unsigned prio[N_RULES], cap[N_RULES];
	char text[N_RULES * 4096];
};

static void
gen_set(struct tset *s)
{
	static const unsigned prios[] = {50, 100, 100, 200};
	struct buf b = {s->text, 0, sizeof(s->text)};

	n_x = 0;
	bput(&b, "funnel f: visit -> cart: event == \"add_to_cart\"\n"
	         "campaign t on funnel f goal cart:\n  split a 50, b 50\n");
	for (unsigned i = 0; i < N_RULES; i++) {
		s->cond[i] = gen_cond(4);
		s->prio[i] = PICK(prios);
		s->cap[i] = rnd(2) + 1;
		bput(&b, "rule r%u:\n  when ", i);
		xprint(&b, s->cond[i]);
		bput(&b, "\n  score +1\n  priority %u\n", s->prio[i]);
		if (s->cap[i] == 2)
			bput(&b, "  at most 2 per session\n");
	}
}

static void
gen_world(struct world *w, unsigned seq)
{
	static const char *const targets[] = {".price", "#buy", "", "a.price"};
	static int64_t cents[] = {0, 4999, 8900, 150, 100};

	memset(w, 0, sizeof(*w));
	event_init(&w->ev);
	w->seq = seq;
	w->ev.type = (uint8_t)rnd(EVENT_TYPE_COUNT);
	w->ev.name = strv_of(PICK(customs));
	w->ev.page = strv_of(PICK(pages));
	w->ev.target = strv_of(PICK(targets));
	w->ev.sku = strv_of(PICK(words));
	w->ev.value_cents = PICK(cents);
	w->ev.visitor = strv_of("v-1");
	w->sj.visitor = strv_of("v-1");
	snprintf(w->sj.country, sizeof(w->sj.country), "%s", PICK(countries));
	w->sj.device = (uint8_t)rnd(5);
	w->sj.source = (uint8_t)rnd(7);
	w->sj.source_campaign = strv_of(PICK(words));
	w->sj.utm_source = strv_of(PICK(words));
	w->sj.region = strv_of(rnd(2) ? "alps" : PICK(words));
	w->sj.step = strv_of(PICK(steps_v));
	w->sj.steps = (uint8_t)rnd(3);
	w->sj.pages = rnd(6);
	w->sj.seconds = rnd(200);
	w->sj.email_known = rnd(2);
	w->sj.cart_items = rnd(4);
	w->sj.cart_cents = PICK(cents);
	w->sj.score = (int32_t)rnd(30) - 5;
	w->sj.orders = rnd(4);
	w->sj.days_since_last_visit = (int32_t)rnd(5) - 1;
	w->hour = (uint8_t)rnd(24);
	w->weekday = (uint8_t)rnd(7);
	w->variant = (int)rnd(3) - 1;
	for (int k = 0; k < 3; k++)
		for (int i = 0; i < 4; i++) {
			w->fact_type[k][i] =
			    (int)rnd(4); /* none num str bool */
			w->fact_n[k][i] = strtod(PICK(nums), NULL);
			w->fact_s[k][i] = PICK(words);
		}
}

/* What rule_eval must say, from the reference. */
static void
expect_out(const struct tset *s, const struct world *w, struct rule_out *o)
{
	unsigned order[N_RULES], n = 0;

	for (unsigned p = 0; p < 3; p++) {
		static const unsigned by[] = {200, 100, 50};
		for (unsigned i = 0; i < N_RULES; i++)
			if (s->prio[i] == by[p])
				order[n++] = i;
	}
	memset(o, 0, sizeof(*o));
	for (unsigned k = 0; k < n; k++) {
		unsigned id = order[k];
		if (!vtest(w, s->cond[id]))
			continue;
		if (!cap_says(id, w->seq, s->cap[id])) {
			if (o->n_capped < RULE_OUT_MAX)
				o->capped[o->n_capped] = id;
			o->n_capped++;
			continue;
		}
		o->scored[o->n_scored++] = id;
		o->score++;
	}
}

static void
check_case(const struct tset *s, struct rule_set *set, struct world *w,
    unsigned long *matched)
{
	static struct rule_out got, want;
	struct rule_ctx ctx = {.ev = &w->ev,
	    .subj = &w->sj,
	    .hour = w->hour,
	    .weekday = w->weekday,
	    .arg = w,
	    .fact = w_fact,
	    .variant = w_variant,
	    .cap_ok = w_cap};
	bool same;

	assert_int_equal(rule_eval(set, &ctx, &got), 0);
	expect_out(s, w, &want);
	same =
	    got.n == 0 && got.dropped == 0 && got.n_scored == want.n_scored &&
	    got.score == want.score && got.n_capped == want.n_capped &&
	    memcmp(got.scored, want.scored,
	        want.n_scored * sizeof(got.scored[0])) == 0 &&
	    memcmp(got.capped, want.capped,
	        (want.n_capped < RULE_OUT_MAX ? want.n_capped : RULE_OUT_MAX) *
	            sizeof(got.capped[0])) == 0;
	if (!same) {
		fprintf(stderr,
		    "mismatch at seq %u (event type %u, page %s):"
		    "\n%s\n",
		    w->seq, w->ev.type, w->ev.page.ptr, s->text);
		for (unsigned i = 0; i < got.n_scored; i++)
			fprintf(stderr, "got r%u\n", got.scored[i]);
		for (unsigned i = 0; i < want.n_scored; i++)
			fprintf(stderr, "want r%u\n", want.scored[i]);
		fprintf(stderr, "capped got %u want %u\n", got.n_capped,
		    want.n_capped);
		fail();
	}
	*matched += want.n_scored + want.n_capped;
}

static void
test_random_sets(void **state)
{
	static struct tset s;
	struct rule_errors errs;
	unsigned long cases = 0, matched = 0;
	unsigned seq = 0;
	const char *seed = getenv("NUDGE_SEED");

	(void)state;
	if (seed != NULL)
		rng = strtoull(seed, NULL, 0) * 2 + 1;
	for (unsigned set_i = 0; set_i < 150; set_i++) {
		struct rule_set *set = NULL;
		gen_set(&s);
		if (rule_compile(s.text, strlen(s.text), &set, &errs) != 0) {
			rule_errors_print(stderr, "random", &errs);
			fprintf(stderr, "%s\n", s.text);
			fail();
		}
		for (unsigned e = 0; e < 100; e++) {
			struct world w;
			gen_world(&w, seq++);
			check_case(&s, set, &w, &matched);
			cases += N_RULES;
		}
		rule_set_free(set);
	}
	fprintf(stderr, "%lu rule/event cases, %lu matched\n", cases, matched);
	assert_true(cases >= 200000);
	assert_true(matched > cases / 50);
}

/*
 * More shared leaves than a frame remembers (rules r and s test the same
 * 10,000 things): the rest are still tested, and nothing is remembered
 * wrongly.
 */
static void
test_many_leaves(void **state)
{
	struct buf b = {malloc(1u << 20), 0, 1u << 20};
	struct rule_set *set = NULL;
	struct rule_errors errs;
	struct world w;
	static struct rule_out out;
	struct rule_ctx ctx = {.ev = &w.ev, .subj = &w.sj, .arg = &w};
	static const unsigned secs[] = {3, 2047, 2048, 4095, 4096, 4999};

	(void)state;
	assert_non_null(b.p);
	for (unsigned i = 0; i < 2 * 5000; i++)
		bput(&b,
		    "rule %c%u:\n  when session.seconds == %u or "
		    "cart.value > %u\n  score +1\n",
		    i < 5000 ? 'r' : 's', i % 5000, i % 5000,
		    100000 + i % 5000);
	assert_int_equal(rule_compile(b.p, b.n, &set, &errs), 0);
	gen_world(&w, 0);
	for (unsigned k = 0; k < sizeof(secs) / sizeof(secs[0]); k++) {
		w.sj.seconds = secs[k];
		w.sj.cart_cents = 100000 * 100 + 2500 * 100; /* > r0..r2499 */
		assert_int_equal(rule_eval(set, &ctx, &out), 0);
		assert_int_equal(out.n_scored, RULE_SCORED_MAX);
		assert_int_equal(out.dropped,
		    2 * (2500 + (secs[k] >= 2500)) - RULE_SCORED_MAX);
		w.sj.cart_cents = 0;
		assert_int_equal(rule_eval(set, &ctx, &out), 0);
		assert_int_equal(out.n_scored, 2);
		assert_int_equal(out.scored[0], secs[k]);
		assert_int_equal(out.scored[1], 5000 + secs[k]);
	}
	rule_set_free(set);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_random_sets),
	    cmocka_unit_test(test_many_leaves),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
