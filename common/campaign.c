/*
 * campaign.c - the campaign lifecycle state machine (diagram and
 * invariants in campaign.h), its version gate, its breaker and its
 * key=value storage form.
 *
 * Owns nothing but the struct camp values callers hand it; no globals,
 * no allocation, so any thread may call it on a campaign it holds.  Every
 * operator change goes through the same three steps: gate() (version and
 * replay), a legality check, then commit() (apply, record, version + 1),
 * and a refused change leaves the campaign byte for byte as it was.
 */
#include "campaign.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[CAMP_STATE_COUNT] = {
	"draft", "running", "paused", "stopped",
};

static const char *const op_names[CAMP_OP_COUNT] = {
	"-", "start", "pause", "resume", "stop", "weights", "holdout",
	"reshuffle", "reset",
};

#define MASK(s) (1u << (s))
#define LIVE (MASK(CAMP_RUNNING) | MASK(CAMP_PAUSED))

const char *
camp_state_name(int state)
{
	if (state < 0 || state >= CAMP_STATE_COUNT)
		return "unknown";
	return state_names[state];
}

const char *
camp_op_name(int op)
{
	if (op <= CAMP_OP_NONE || op >= CAMP_OP_COUNT)
		return NULL;
	return op_names[op];
}

int
camp_op_from_name(const char *name)
{
	for (int op = CAMP_OP_NONE + 1; name != NULL && op < CAMP_OP_COUNT;
	    op++)
		if (strcmp(op_names[op], name) == 0)
			return op;
	return CAMP_OP_NONE;
}

/* Names are rule-file identifiers: safe in seeds and in the text form. */
static bool
name_ok(const char *s, size_t n)
{
	if (n == 0 || n > CAMP_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return false;
	}
	return true;
}

static int
weights_check(const uint8_t *w, unsigned n, unsigned want,
    struct nudge_diag *d)
{
	unsigned sum = 0;

	if (w == NULL || n != want) {
		nudge_diag_set(d, 0, 0, "%u weights given, the campaign has "
		    "%u variants", n, want);
		return NUDGE_EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (w[i] > 100) {
			nudge_diag_set(d, 0, 0, "weight %u of variant %u is "
			    "over 100", w[i], i);
			return NUDGE_EINVAL;
		}
		sum += w[i];
	}
	if (sum != 100) {
		nudge_diag_set(d, 0, 0, "weights sum to %u, not 100", sum);
		return NUDGE_EINVAL;
	}
	return NUDGE_OK;
}

/* The plan follows name, generation, weights and holdout. */
static int
plan_build(const struct camp *c, struct assign_plan *p)
{
	return assign_plan_init(p, c->name, c->generation, c->weight,
	    c->n_variants, c->holdout_bp);
}

int
camp_init(struct camp *c, const struct rule_campaign *rc,
    struct nudge_diag *d)
{
	struct camp n;

	if (c == NULL || rc == NULL || rc->name == NULL ||
	    !name_ok(rc->name, strlen(rc->name))) {
		nudge_diag_set(d, 0, 0, "invalid campaign name");
		return NUDGE_EINVAL;
	}
	if (rc->n_variants < 2 || rc->n_variants > CAMP_VARIANTS_MAX) {
		nudge_diag_set(d, 0, 0, "%u variants: 2 to %u allowed",
		    rc->n_variants, CAMP_VARIANTS_MAX);
		return NUDGE_EINVAL;
	}
	memset(&n, 0, sizeof(n));
	strcpy(n.name, rc->name);
	n.version = 1;
	n.winner = -1;
	n.n_variants = rc->n_variants;
	for (unsigned i = 0; i < n.n_variants; i++) {
		const char *vn = rc->variant[i].name;

		if (vn == NULL || !name_ok(vn, strlen(vn))) {
			nudge_diag_set(d, 0, 0, "invalid name of variant %u",
			    i);
			return NUDGE_EINVAL;
		}
		strcpy(n.variant[i], vn);
		n.weight[i] = rc->variant[i].weight;
	}
	if (weights_check(n.weight, n.n_variants, n.n_variants, d) != 0)
		return NUDGE_EINVAL;
	if (plan_build(&n, &n.plan) != 0)
		return NUDGE_EINVAL;
	*c = n;
	return NUDGE_OK;
}

/* ---- the version gate ------------------------------------------------- */

static bool
same_change(const struct camp_change *a, const struct camp_change *b)
{
	if (a->op != b->op || a->base != b->base || a->n_args != b->n_args)
		return false;
	for (unsigned i = 0; i < a->n_args; i++)
		if (a->arg[i] != b->arg[i])
			return false;
	return true;
}

/* 1: an idempotent replay (nothing to do), 0: go on, < 0: refused. */
static int
gate(const struct camp *c, const struct camp_change *ch,
    struct nudge_diag *d)
{
	if (ch->base == c->version)
		return 0;
	if (ch->base + 1 == c->version && same_change(&c->last, ch))
		return 1;
	if (ch->base < c->version) {
		nudge_diag_set(d, 0, 0, "version %" PRIu64 " is stale: "
		    "campaign %s is at version %" PRIu64 " (changed by "
		    "someone else; reload)", ch->base, c->name, c->version);
		return NUDGE_ESTALE;
	}
	nudge_diag_set(d, 0, 0, "version %" PRIu64 " is ahead of campaign "
	    "%s (version %" PRIu64 ")", ch->base, c->name, c->version);
	return NUDGE_EINVAL;
}

/* Applies n (a checked copy of *c with the change made) and records ch. */
static int
commit(struct camp *c, struct camp *n, const struct camp_change *ch,
    struct nudge_diag *d)
{
	if (plan_build(n, &n->plan) != 0) {
		nudge_diag_set(d, 0, 0, "cannot build the assignment plan");
		return NUDGE_EINVAL;
	}
	n->last = *ch;
	n->version = c->version + 1;
	*c = *n;
	return NUDGE_OK;
}

static struct camp_change
change(uint8_t op, uint64_t expect)
{
	struct camp_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.op = op;
	ch.base = expect;
	return ch;
}

/* Gate, then the state check shared by every operator change. */
static int
begin(const struct camp *c, const struct camp_change *ch, unsigned from,
    struct nudge_diag *d)
{
	int r;

	if (c == NULL)
		return NUDGE_EINVAL;
	if ((r = gate(c, ch, d)) != 0)
		return r;
	if (!(from & MASK(c->state))) {
		nudge_diag_set(d, 0, 0, "cannot %s campaign %s: it is %s",
		    op_names[ch->op], c->name, camp_state_name(c->state));
		return NUDGE_EINVAL;
	}
	return 0;
}

/* ---- transitions ------------------------------------------------------ */

static int
move(struct camp *c, uint64_t expect, uint8_t op, unsigned from,
    uint8_t to, struct nudge_diag *d)
{
	struct camp_change ch = change(op, expect);
	struct camp n;
	int r;

	if ((r = begin(c, &ch, from, d)) != 0)
		return r < 0 ? r : NUDGE_OK;
	n = *c;
	n.state = to;
	return commit(c, &n, &ch, d);
}

int
camp_start(struct camp *c, uint64_t expect, struct nudge_diag *d)
{
	return move(c, expect, CAMP_OP_START, MASK(CAMP_DRAFT), CAMP_RUNNING,
	    d);
}

int
camp_pause(struct camp *c, uint64_t expect, struct nudge_diag *d)
{
	return move(c, expect, CAMP_OP_PAUSE, MASK(CAMP_RUNNING),
	    CAMP_PAUSED, d);
}

int
camp_resume(struct camp *c, uint64_t expect, struct nudge_diag *d)
{
	return move(c, expect, CAMP_OP_RESUME, MASK(CAMP_PAUSED),
	    CAMP_RUNNING, d);
}

int
camp_stop(struct camp *c, uint64_t expect, int winner, struct nudge_diag *d)
{
	struct camp_change ch = change(CAMP_OP_STOP, expect);
	struct camp n;
	int r;

	ch.n_args = 1;
	ch.arg[0] = (uint16_t)(winner < 0 ? 0xffff : winner);
	if ((r = begin(c, &ch, LIVE, d)) != 0)
		return r < 0 ? r : NUDGE_OK;
	if (winner < 0 || winner >= c->n_variants) {
		nudge_diag_set(d, 0, 0, "winner %d: campaign %s has variants "
		    "0 to %u", winner, c->name, c->n_variants - 1u);
		return NUDGE_EINVAL;
	}
	n = *c;
	n.state = CAMP_STOPPED;
	n.winner = (int8_t)winner;
	/* The rollout supersedes the breaker: it has nothing left to guard. */
	n.tripped = false;
	memset(n.reason, 0, sizeof(n.reason));
	return commit(c, &n, &ch, d);
}

int
camp_set_weights(struct camp *c, uint64_t expect, const uint8_t *w,
    unsigned n_w, struct nudge_diag *d)
{
	struct camp_change ch = change(CAMP_OP_WEIGHTS, expect);
	struct camp n;
	int r;

	if (c == NULL || w == NULL || n_w > CAMP_VARIANTS_MAX) {
		nudge_diag_set(d, 0, 0, "invalid weights");
		return NUDGE_EINVAL;
	}
	ch.n_args = (uint8_t)n_w;
	for (unsigned i = 0; i < n_w; i++)
		ch.arg[i] = w[i];
	if ((r = begin(c, &ch, LIVE, d)) != 0)
		return r < 0 ? r : NUDGE_OK;
	if ((r = weights_check(w, n_w, c->n_variants, d)) != 0)
		return r;
	n = *c;
	memcpy(n.weight, w, n_w);
	return commit(c, &n, &ch, d);
}

int
camp_set_holdout(struct camp *c, uint64_t expect, unsigned holdout_bp,
    struct nudge_diag *d)
{
	struct camp_change ch = change(CAMP_OP_HOLDOUT, expect);
	struct camp n;
	int r;

	ch.n_args = 1;
	ch.arg[0] = (uint16_t)(holdout_bp > 0xffff ? 0xffff : holdout_bp);
	if ((r = begin(c, &ch, MASK(CAMP_DRAFT) | LIVE, d)) != 0)
		return r < 0 ? r : NUDGE_OK;
	if (holdout_bp >= ASSIGN_BUCKETS) {
		nudge_diag_set(d, 0, 0, "holdout %u basis points: 0 to 9999 "
		    "allowed", holdout_bp);
		return NUDGE_EINVAL;
	}
	n = *c;
	n.holdout_bp = (uint16_t)holdout_bp;
	return commit(c, &n, &ch, d);
}

int
camp_reshuffle(struct camp *c, uint64_t expect, struct nudge_diag *d)
{
	struct camp_change ch = change(CAMP_OP_RESHUFFLE, expect);
	struct camp n;
	int r;

	if ((r = begin(c, &ch, LIVE, d)) != 0)
		return r < 0 ? r : NUDGE_OK;
	if (c->generation == UINT32_MAX) {
		nudge_diag_set(d, 0, 0, "no seed generation left");
		return NUDGE_EINVAL;
	}
	n = *c;
	n.generation++;
	return commit(c, &n, &ch, d);
}

int
camp_reset_breaker(struct camp *c, uint64_t expect, struct nudge_diag *d)
{
	struct camp_change ch = change(CAMP_OP_RESET, expect);
	struct camp n;
	int r;

	if ((r = begin(c, &ch, LIVE, d)) != 0)
		return r < 0 ? r : NUDGE_OK;
	if (!c->tripped) {
		nudge_diag_set(d, 0, 0, "the breaker of campaign %s is not "
		    "tripped", c->name);
		return NUDGE_EINVAL;
	}
	n = *c;
	n.tripped = false;
	memset(n.reason, 0, sizeof(n.reason));
	return commit(c, &n, &ch, d);
}

int
camp_trip(struct camp *c, const char *reason)
{
	size_t i = 0;

	if (c == NULL || !(LIVE & MASK(c->state)))
		return NUDGE_EINVAL;
	if (c->tripped)
		return NUDGE_OK;
	for (; reason != NULL && reason[i] != '\0' && i < CAMP_REASON_MAX;
	    i++) {
		unsigned char ch = (unsigned char)reason[i];

		c->reason[i] = (ch < 0x20 || ch > 0x7e) ? '?' : (char)ch;
	}
	c->reason[i] = '\0';
	c->tripped = true;
	return NUDGE_OK;
}

/* ---- what visitors see ------------------------------------------------ */

int
camp_assigned(const struct camp *c, struct nudge_strv visitor, int *variant)
{
	if (c == NULL)
		return NUDGE_EINVAL;
	return assign_visitor(&c->plan, visitor, variant);
}

int
camp_effective_variant(const struct camp *c, struct nudge_strv visitor,
    int *variant)
{
	int v, r;

	if (c == NULL || variant == NULL)
		return NUDGE_EINVAL;
	if ((r = assign_visitor(&c->plan, visitor, &v)) != 0)
		return r;
	switch (c->state) {
	case CAMP_DRAFT:
		v = CAMP_NONE;
		break;
	case CAMP_STOPPED:
		v = c->winner;
		break;
	default:
		/* Paused or tripped: everyone in the campaign sees control. */
		if (v != ASSIGN_HOLDOUT && (c->state == CAMP_PAUSED ||
		    c->tripped))
			v = 0;
		break;
	}
	*variant = v == ASSIGN_HOLDOUT ? CAMP_NONE : v;
	return NUDGE_OK;
}

/* ---- the text form ---------------------------------------------------- */

struct fbuf {
	char *p;
	size_t cap;
	size_t n;
	bool over;
};

static void put(struct fbuf *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct fbuf *f, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (f->over)
		return;
	va_start(ap, fmt);
	k = vsnprintf(f->p + f->n, f->cap - f->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= f->cap - f->n)
		f->over = true;
	else
		f->n += (size_t)k;
}

static void
put_last(struct fbuf *f, const struct camp_change *l)
{
	if (l->op == CAMP_OP_NONE) {
		put(f, "last=-\n");
		return;
	}
	put(f, "last=%s %" PRIu64 " ", op_names[l->op], l->base);
	if (l->n_args == 0)
		put(f, "-");
	for (unsigned i = 0; i < l->n_args; i++)
		put(f, "%s%u", i ? "," : "", (unsigned)l->arg[i]);
	put(f, "\n");
}

int
camp_format(const struct camp *c, char *buf, size_t cap, size_t *len)
{
	struct fbuf f = {buf, cap, 0, cap == 0};

	if (c == NULL || buf == NULL || len == NULL)
		return NUDGE_EINVAL;
	put(&f, "nudge-campaign 1\nname=%s\nversion=%" PRIu64 "\n"
	    "state=%s\ngeneration=%" PRIu32 "\nholdout=%u\nvariants=",
	    c->name, c->version, camp_state_name(c->state), c->generation,
	    (unsigned)c->holdout_bp);
	for (unsigned i = 0; i < c->n_variants; i++)
		put(&f, "%s%s:%u", i ? "," : "", c->variant[i],
		    (unsigned)c->weight[i]);
	put(&f, "\nwinner=%d\ntripped=%d\nreason=%s\n", c->winner,
	    c->tripped ? 1 : 0, c->reason);
	put_last(&f, &c->last);
	if (f.over)
		return NUDGE_ETOOBIG;
	*len = f.n;
	return NUDGE_OK;
}

struct pstate {
	const char *s;
	size_t len;
	size_t off;		/* start of the next line */
	int line;		/* of the line last taken */
	struct nudge_diag *d;
};

static int
perr(struct pstate *ps, const char *at, const char *what)
{
	int col = 1;

	for (const char *p = at; p > ps->s && p[-1] != '\n'; p--)
		col++;
	nudge_diag_set(ps->d, ps->line, col, "%s", what);
	return NUDGE_ESYNTAX;
}

/* Takes the next line, which must be key=VALUE; the value into *v. */
static int
take(struct pstate *ps, const char *key, struct nudge_strv *v)
{
	const char *p = ps->s + ps->off, *end = ps->s + ps->len, *nl;
	size_t kl = strlen(key);

	ps->line++;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (nl == NULL)
		return perr(ps, p, "missing line or final newline");
	if ((size_t)(nl - p) <= kl || memcmp(p, key, kl) != 0 ||
	    p[kl] != '=') {
		nudge_diag_set(ps->d, ps->line, 1, "expected %s=", key);
		return NUDGE_ESYNTAX;
	}
	for (const char *q = p + kl + 1; q < nl; q++)
		if ((unsigned char)*q < 0x20 || (unsigned char)*q > 0x7e)
			return perr(ps, q, "not printable ASCII");
	v->ptr = p + kl + 1;
	v->len = (uint32_t)(nl - v->ptr);
	ps->off = (size_t)(nl + 1 - ps->s);
	return NUDGE_OK;
}

/* Plain decimal, no sign, no leading zeros, at most max. */
static bool
num(struct nudge_strv v, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (v.len == 0 || v.len > 20 || (v.len > 1 && v.ptr[0] == '0'))
		return false;
	for (uint32_t i = 0; i < v.len; i++) {
		unsigned dg = (unsigned)(v.ptr[i] - '0');

		if (dg > 9 || dg > max || x > (max - dg) / 10)
			return false;
		x = x * 10 + dg;
	}
	*out = x;
	return true;
}

/* A numeric line: key=N with N <= max. */
static int
take_num(struct pstate *ps, const char *key, uint64_t max, uint64_t *out)
{
	struct nudge_strv v;
	int r;

	if ((r = take(ps, key, &v)) != 0)
		return r;
	if (!num(v, max, out))
		return perr(ps, v.ptr, "bad number");
	return NUDGE_OK;
}

/* Splits v at the first c: head into *h, the rest (after c) into *v. */
static bool
split(struct nudge_strv *v, char c, struct nudge_strv *h)
{
	const char *p = v->len ? memchr(v->ptr, c, v->len) : NULL;

	h->ptr = v->ptr;
	if (p == NULL) {
		h->len = v->len;
		v->ptr += v->len;
		v->len = 0;
		return false;
	}
	h->len = (uint32_t)(p - v->ptr);
	v->len -= h->len + 1;
	v->ptr = p + 1;
	return true;
}

static int
take_variants(struct pstate *ps, struct camp *n)
{
	struct nudge_strv v, item, nm;
	uint64_t w;
	bool more = true;
	int r;

	if ((r = take(ps, "variants", &v)) != 0)
		return r;
	for (n->n_variants = 0; more; n->n_variants++) {
		more = split(&v, ',', &item);
		if (n->n_variants == CAMP_VARIANTS_MAX)
			return perr(ps, item.ptr, "too many variants");
		if (!split(&item, ':', &nm) || !name_ok(nm.ptr, nm.len))
			return perr(ps, nm.ptr, "expected variant:weight");
		if (!num(item, 100, &w))
			return perr(ps, item.ptr, "bad weight");
		memcpy(n->variant[n->n_variants], nm.ptr, nm.len);
		n->variant[n->n_variants][nm.len] = '\0';
		n->weight[n->n_variants] = (uint8_t)w;
	}
	if (n->n_variants < 2)
		return perr(ps, v.ptr, "fewer than 2 variants");
	if (weights_check(n->weight, n->n_variants, n->n_variants, NULL) != 0)
		return perr(ps, v.ptr, "weights do not sum to 100");
	return NUDGE_OK;
}

static int
find_name(const char *const *names, unsigned n, struct nudge_strv v)
{
	for (unsigned i = 0; i < n; i++)
		if (strv_eq(v, names[i]))
			return (int)i;
	return -1;
}

/* The replay record; its argument count must fit its operation. */
static int
take_last(struct pstate *ps, struct camp *n)
{
	struct camp_change *l = &n->last;
	struct nudge_strv v, f, a;
	uint64_t x;
	int op, r;

	if ((r = take(ps, "last", &v)) != 0)
		return r;
	if (strv_eq(v, "-"))
		return NUDGE_OK;
	split(&v, ' ', &f);
	if ((op = find_name(op_names, CAMP_OP_COUNT, f)) <= 0)
		return perr(ps, f.ptr, "unknown operation");
	l->op = (uint8_t)op;
	split(&v, ' ', &f);
	if (!num(f, UINT64_MAX, &l->base))
		return perr(ps, f.ptr, "bad base version");
	for (bool more = !strv_eq(v, "-"); more; l->n_args++) {
		more = split(&v, ',', &a);
		if (l->n_args == CAMP_VARIANTS_MAX || !num(a, 0xffff, &x))
			return perr(ps, a.ptr, "bad argument");
		l->arg[l->n_args] = (uint16_t)x;
	}
	if (l->n_args != (op == CAMP_OP_WEIGHTS ? n->n_variants :
	    op == CAMP_OP_STOP || op == CAMP_OP_HOLDOUT ? 1 : 0))
		return perr(ps, v.ptr, "wrong number of arguments");
	return NUDGE_OK;
}

/* Winner, breaker and reason: the lines that depend on the state. */
static int
take_outcome(struct pstate *ps, struct camp *n)
{
	struct nudge_strv v;
	uint64_t x;
	int r;

	if ((r = take(ps, "winner", &v)) != 0)
		return r;
	if (strv_eq(v, "-1") != (n->state != CAMP_STOPPED))
		return perr(ps, v.ptr, "winner -1 if and only if not stopped");
	if (n->state == CAMP_STOPPED && (!num(v, 255, &x) ||
	    x >= n->n_variants))
		return perr(ps, v.ptr, "bad winner");
	n->winner = n->state == CAMP_STOPPED ? (int8_t)x : -1;
	if ((r = take_num(ps, "tripped", 1, &x)) != 0)
		return r;
	n->tripped = x == 1;
	if (n->tripped && !(LIVE & MASK(n->state)))
		return perr(ps, ps->s + ps->off - 2, "tripped but not live");
	if ((r = take(ps, "reason", &v)) != 0)
		return r;
	if (v.len > CAMP_REASON_MAX || (v.len > 0 && !n->tripped))
		return perr(ps, v.ptr, "bad reason");
	memcpy(n->reason, v.ptr, v.len);
	n->reason[v.len] = '\0';
	return NUDGE_OK;
}

static int
take_head(struct pstate *ps, struct camp *n)
{
	struct nudge_strv v;
	uint64_t x;
	int r, st;

	if ((r = take(ps, "name", &v)) != 0)
		return r;
	if (!name_ok(v.ptr, v.len))
		return perr(ps, v.ptr, "bad name");
	memcpy(n->name, v.ptr, v.len);
	if ((r = take_num(ps, "version", UINT64_MAX, &n->version)) != 0)
		return r;
	if (n->version == 0)
		return perr(ps, ps->s + ps->off - 2, "version 0");
	if ((r = take(ps, "state", &v)) != 0)
		return r;
	if ((st = find_name(state_names, CAMP_STATE_COUNT, v)) < 0)
		return perr(ps, v.ptr, "unknown state");
	n->state = (uint8_t)st;
	if ((r = take_num(ps, "generation", UINT32_MAX, &x)) != 0)
		return r;
	n->generation = (uint32_t)x;
	if ((r = take_num(ps, "holdout", ASSIGN_BUCKETS - 1, &x)) != 0)
		return r;
	n->holdout_bp = (uint16_t)x;
	return NUDGE_OK;
}

static int
parse_all(struct pstate *ps, struct camp *n)
{
	static const char magic[] = "nudge-campaign 1\n";
	int r;

	ps->line = 1;
	if (ps->len < sizeof(magic) - 1 ||
	    memcmp(ps->s, magic, sizeof(magic) - 1) != 0) {
		bool other = ps->len >= 15 && memcmp(ps->s, magic, 15) == 0;

		nudge_diag_set(ps->d, 1, 1, other ? "unknown format version" :
		    "not a campaign (expected \"nudge-campaign 1\")");
		return other ? NUDGE_EVERSION : NUDGE_ESYNTAX;
	}
	ps->off = sizeof(magic) - 1;
	if ((r = take_head(ps, n)) != 0 || (r = take_variants(ps, n)) != 0 ||
	    (r = take_outcome(ps, n)) != 0 || (r = take_last(ps, n)) != 0)
		return r;
	if (ps->off != ps->len)
		return perr(ps, ps->s + ps->off, "text after the last line");
	if ((n->last.op == CAMP_OP_NONE) != (n->version == 1) ||
	    (n->last.op != CAMP_OP_NONE && n->last.base + 1 != n->version)) {
		nudge_diag_set(ps->d, ps->line, 1, "replay record does not "
		    "match version %" PRIu64, n->version);
		return NUDGE_EINVAL;
	}
	return NUDGE_OK;
}

int
camp_parse(const char *text, size_t len, struct camp *out,
    struct nudge_diag *d)
{
	struct pstate ps = {text, len, 0, 0, d};
	struct camp n;
	int r;

	if (text == NULL || out == NULL)
		return NUDGE_EINVAL;
	if (len > CAMP_TEXT_MAX) {
		nudge_diag_set(d, 0, 0, "%zu bytes: at most %u", len,
		    CAMP_TEXT_MAX);
		return NUDGE_ETOOBIG;
	}
	memset(&n, 0, sizeof(n));
	if ((r = parse_all(&ps, &n)) != 0)
		return r;
	if (plan_build(&n, &n.plan) != 0) {
		nudge_diag_set(d, 0, 0, "cannot build the assignment plan");
		return NUDGE_EINVAL;
	}
	*out = n;
	return NUDGE_OK;
}
