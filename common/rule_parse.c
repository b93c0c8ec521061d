/*
 * rule_parse.c - statements of the rule language: funnels, rules and
 * their clauses, campaigns and their lines.
 *
 * Owns the program being built (struct rprog) until rules.c turns it into
 * a rule set.  Each statement keyword and each clause keyword has one
 * small handler in a const table; a handler that meets a syntax error
 * returns false and the parser skips to the next line that starts a clause
 * or a statement, so one compile reports every independent mistake.  Pure;
 * any thread, one program per compile.
 */
#include "fault.h"
#include "rule_parse.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rule_text.h"

struct rps {
	struct rprog *pg;
	struct rlex lx;
	struct rexpr_env env;
	struct rtoken holdout_at;	/* where the current rule's holdout is */
	bool stop;			/* a limit was hit: stop parsing */
	bool broken;			/* a clause of this rule failed */
};

static void ps_fail(struct rps *ps, const struct rtoken *at, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
ps_fail(struct rps *ps, const struct rtoken *at, const char *fmt, ...)
{
	char msg[NUDGE_DIAG_MSG];
	va_list ap;

	if (at->t == RT_ERR)
		return; /* the lexer said it already */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rerr(ps->pg->errs, at->line, at->col, "%s", msg);
}

static const char *
ps_what(const struct rps *ps, char *buf, size_t cap)
{
	return rlex_what(&ps->lx.tok, buf, cap);
}

static bool
ps_word(struct rps *ps, const char *w)
{
	char buf[48];

	if (rlex_is(&ps->lx, w)) {
		rlex_adv(&ps->lx);
		return true;
	}
	ps_fail(ps, &ps->lx.tok, "expected '%s', found %s", w,
	    ps_what(ps, buf, sizeof(buf)));
	return false;
}

static bool
ps_tok(struct rps *ps, uint8_t t, const char *what)
{
	char buf[48];

	if (ps->lx.tok.t == t) {
		rlex_adv(&ps->lx);
		return true;
	}
	ps_fail(ps, &ps->lx.tok, "expected %s, found %s", what,
	    ps_what(ps, buf, sizeof(buf)));
	return false;
}

/* A whole number in [lo, hi] for what ("a cap count", ...). */
static bool
ps_int(struct rps *ps, long lo, long hi, const char *what, long *out)
{
	struct rtoken t = ps->lx.tok;
	char buf[48];

	if (t.t != RT_NUM) {
		ps_fail(ps, &t, "expected %s, found %s", what,
		    ps_what(ps, buf, sizeof(buf)));
		return false;
	}
	rlex_adv(&ps->lx);
	if (t.frac || t.num < (double)lo || t.num > (double)hi) {
		ps_fail(ps, &t, "%s must be a whole number from %ld to %ld",
		    what, lo, hi);
		return false;
	}
	*out = (long)t.num;
	return true;
}

/* A plain name (no dots) for what; copied into the arena. */
static bool
ps_name(struct rps *ps, const char *what, struct rname *out)
{
	struct rtoken t = ps->lx.tok;
	char buf[48];

	if (t.t != RT_IDENT || memchr(t.p, '.', t.len) != NULL) {
		ps_fail(ps, &t, "expected %s, found %s", what,
		    ps_what(ps, buf, sizeof(buf)));
		return false;
	}
	rlex_adv(&ps->lx);
	out->s = rarena_str(&ps->pg->ar, t.p, t.len);
	out->quoted = false;
	out->line = t.line;
	out->col = t.col;
	return true;
}

/* Skips to the next token that starts a line (or a statement). */
static void
ps_sync_line(struct rps *ps)
{
	while (ps->lx.tok.t != RT_EOF && !ps->lx.tok.bol)
		rlex_adv(&ps->lx);
}

/* ---- rule clauses ----------------------------------------------------- */

static bool
cl_when(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok;
	uint32_t cond;

	rlex_adv(&ps->lx);
	ps->env.bad = false;
	cond = rexpr_cond(&ps->env);
	if (ps->env.bad)
		return false;
	if (r->cond != 0)
		ps_fail(ps, &at,
		    "second 'when' in rule '%s' (join conditions with 'and')",
		    r->info.name);
	else if (cond != 0)
		r->cond = cond;
	else
		r->cond = UINT32_MAX; /* checked, wrong: no second message */
	return true;
}

/* A quoted selector: printable ASCII without quotes, '<' or braces. */
static bool
ps_selector(struct rps *ps, struct rdef *r)
{
	struct rtoken t = ps->lx.tok;
	char buf[RULE_STRING_MAX + 1];
	size_t n;

	if (!ps_tok(ps, RT_STR, "a quoted CSS selector"))
		return false;
	n = rlex_unquote(&t, buf, sizeof(buf));
	for (size_t k = 0; k < n; k++)
		if ((unsigned char)buf[k] < 0x20 ||
		    (unsigned char)buf[k] > 0x7e || strchr("\"\\<{}", buf[k])) {
			ps_fail(ps, &t, "a selector is printable ASCII without "
			                "quotes, '<' or braces");
			return true;
		}
	if (n == 0 || n > 128)
		ps_fail(ps, &t, "a selector has 1 to 128 characters");
	r->info.arg = rarena_str(&ps->pg->ar, buf, n);
	return true;
}

/* An optional text; required says whether it may be absent. */
static bool
ps_text(struct rps *ps, struct rdef *r, bool required)
{
	struct rtoken t = ps->lx.tok;

	if (t.t != RT_STR) {
		if (!required)
			return true;
		return ps_tok(ps, RT_STR, "a quoted text");
	}
	rlex_adv(&ps->lx);
	ps->env.bad = false;
	if (!rtext_compile(&ps->env, &t, &r->text))
		r->text.n = 0;
	return true;
}

static bool
ps_popup(struct rps *ps, struct rdef *r)
{
	struct rtoken t = ps->lx.tok;
	char buf[RULE_STRING_MAX + 1];
	size_t n;

	if (!ps_tok(ps, RT_STR, "a quoted popup name"))
		return false;
	n = rlex_unquote(&t, buf, sizeof(buf));
	for (size_t k = 0; k < n; k++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
		            "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
		        buf[k]) ||
		    buf[k] == '\0')
			n = RULE_NAME_MAX + 1;
	if (n == 0 || n > RULE_NAME_MAX)
		ps_fail(ps, &t, "a popup name has 1 to %d of A-Z a-z 0-9 _ -",
		    RULE_NAME_MAX);
	r->info.arg = rarena_str(&ps->pg->ar, buf, n > 63 ? 0 : n);
	return ps_text(ps, r, false);
}

/* Sets the rule's action, refusing a second one. */
static bool
ps_action(struct rps *ps, struct rdef *r, const struct rtoken *at,
    uint8_t kind)
{
	if (r->info.kind != RULE_ACT_SCORE) {
		ps_fail(ps, at, "rule '%s' has a second action (one per rule)",
		    r->info.name);
		return false;
	}
	r->info.kind = kind;
	return true;
}

struct ps_show {
	const char *word;
	uint8_t kind;
	bool (*arg)(struct rps *ps, struct rdef *r);
};

static bool
ps_text_req(struct rps *ps, struct rdef *r)
{
	return ps_text(ps, r, true);
}

static const struct ps_show ps_shows[] = {
	{"banner", RULE_ACT_BANNER, ps_text_req},
	{"message", RULE_ACT_MESSAGE, ps_text_req},
	{"popup", RULE_ACT_POPUP, ps_popup},
	{"element", RULE_ACT_SHOW, ps_selector},
	{"coupon", RULE_ACT_COUPON, ps_selector},
};

static bool
cl_show(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok;
	char buf[48];

	rlex_adv(&ps->lx);
	for (size_t k = 0; k < sizeof(ps_shows) / sizeof(ps_shows[0]); k++) {
		if (!rlex_is(&ps->lx, ps_shows[k].word))
			continue;
		rlex_adv(&ps->lx);
		if (!ps_action(ps, r, &at, ps_shows[k].kind))
			return false;
		return ps_shows[k].arg(ps, r);
	}
	ps_fail(ps, &ps->lx.tok,
	    "expected banner, message, popup, element or coupon after "
	    "'show', found %s",
	    ps_what(ps, buf, sizeof(buf)));
	return false;
}

static bool
cl_hide(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok;

	rlex_adv(&ps->lx);
	return ps_word(ps, "element") &&
	       ps_action(ps, r, &at, RULE_ACT_HIDE) && ps_selector(ps, r);
}

static bool
cl_shake(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok;

	rlex_adv(&ps->lx);
	return ps_action(ps, r, &at, RULE_ACT_SHAKE) && ps_selector(ps, r);
}

static bool
cl_capture(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok;

	rlex_adv(&ps->lx);
	return ps_word(ps, "email") && ps_action(ps, r, &at, RULE_ACT_EMAIL) &&
	       ps_text(ps, r, false);
}

/* at most N per session | day | N days */
static bool
cl_at(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok;
	struct rule_cap cap = {0, RULE_PER_SESSION, 0};
	long n, days = 1;

	rlex_adv(&ps->lx);
	if (!ps_word(ps, "most") || !ps_int(ps, 1, 1000, "a count", &n) ||
	    !ps_word(ps, "per"))
		return false;
	cap.count = (uint16_t)n;
	if (rlex_is(&ps->lx, "session")) {
		rlex_adv(&ps->lx);
	} else if (rlex_is(&ps->lx, "day")) {
		rlex_adv(&ps->lx);
		cap.window = RULE_PER_DAYS;
	} else {
		char buf[48];
		if (ps->lx.tok.t != RT_NUM) {
			ps_fail(ps, &ps->lx.tok,
			    "expected session, day or N days after 'per', "
			    "found %s",
			    ps_what(ps, buf, sizeof(buf)));
			return false;
		}
		if (!ps_int(ps, 1, 365, "a number of days", &days))
			return false;
		if (!rlex_is(&ps->lx, "days") && !rlex_is(&ps->lx, "day"))
			return ps_word(ps, "days");
		rlex_adv(&ps->lx);
		cap.window = RULE_PER_DAYS;
	}
	cap.days = cap.window == RULE_PER_DAYS ? (uint16_t)days : 0;
	if (r->info.n_caps == RULE_CAPS_MAX) {
		ps_fail(ps, &at, "more than %d caps in rule '%s'",
		    RULE_CAPS_MAX, r->info.name);
		return true;
	}
	r->info.caps[r->info.n_caps++] = cap;
	return true;
}

static bool
cl_score(struct rps *ps, struct rdef *r)
{
	struct rtoken at = ps->lx.tok, sign;
	long n;

	rlex_adv(&ps->lx);
	sign = ps->lx.tok;
	if (sign.t != RT_PLUS && sign.t != RT_MINUS) {
		char buf[48];
		ps_fail(ps, &sign, "expected +N or -N after 'score', found %s",
		    ps_what(ps, buf, sizeof(buf)));
		return false;
	}
	rlex_adv(&ps->lx);
	if (!ps_int(ps, 1, 1000, "a score", &n))
		return false;
	if (r->info.score != 0)
		ps_fail(ps, &at, "second 'score' in rule '%s'", r->info.name);
	r->info.score = (int16_t)(sign.t == RT_PLUS ? n : -n);
	return true;
}

static bool
cl_holdout(struct rps *ps, struct rdef *r)
{
	struct rtoken t;
	double bp;
	char buf[48];

	ps->holdout_at = ps->lx.tok;
	rlex_adv(&ps->lx);
	t = ps->lx.tok;
	if (t.t != RT_NUM) {
		ps_fail(ps, &t, "expected a percentage after 'holdout', "
		                "found %s",
		    ps_what(ps, buf, sizeof(buf)));
		return false;
	}
	rlex_adv(&ps->lx);
	if (!ps_tok(ps, RT_PCT, "'%'"))
		return false;
	bp = t.num * 100.0;
	if (bp < 1 || bp > 9999 || fabs(bp - round(bp)) > 1e-6) {
		ps_fail(ps, &t, "a holdout is from 0.01%% to 99.99%%, in "
		                "steps of 0.01%%");
		return true;
	}
	r->info.holdout_bp = (uint16_t)round(bp);
	return true;
}

static bool
cl_shadow(struct rps *ps, struct rdef *r)
{
	rlex_adv(&ps->lx);
	r->info.shadow = true;
	return true;
}

static bool
cl_priority(struct rps *ps, struct rdef *r)
{
	long n;

	rlex_adv(&ps->lx);
	if (!ps_int(ps, 0, 1000, "a priority", &n))
		return false;
	r->info.priority = (uint16_t)n;
	return true;
}

struct ps_clause {
	const char *word;
	bool (*fn)(struct rps *ps, struct rdef *r);
};

static const struct ps_clause ps_clauses[] = {
	{"when", cl_when}, {"show", cl_show}, {"hide", cl_hide},
	{"shake", cl_shake}, {"capture", cl_capture}, {"at", cl_at},
	{"score", cl_score}, {"holdout", cl_holdout}, {"shadow", cl_shadow},
	{"priority", cl_priority},
};

static const struct ps_clause *
ps_clause_find(const struct rps *ps)
{
	for (size_t k = 0; k < sizeof(ps_clauses) / sizeof(ps_clauses[0]); k++)
		if (rlex_is(&ps->lx, ps_clauses[k].word))
			return &ps_clauses[k];
	return NULL;
}

/* Skips to the next statement (a token at column 1), or the end. */
static void
ps_sync_top(struct rps *ps)
{
	while (ps->lx.tok.t != RT_EOF && !rlex_at_top(&ps->lx))
		rlex_adv(&ps->lx);
}

/* ---- rule ------------------------------------------------------------- */

static struct rdef *
ps_new_rule(struct rps *ps)
{
	struct rprog *pg = ps->pg;
	struct rdef *r;

	if (pg->n_rules == pg->cap_rules) {
		unsigned ncap = pg->cap_rules ? pg->cap_rules * 2 : 16;
		struct rdef *nr = fault_realloc(pg->rules, ncap * sizeof(*nr));
		if (nr == NULL) {
			pg->ar.oom = true;
			ps->stop = true;
			return NULL;
		}
		pg->rules = nr;
		pg->cap_rules = ncap;
	}
	r = &pg->rules[pg->n_rules++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* Checks what a rule must have once its clauses are read. */
static void
ps_rule_done(struct rps *ps, struct rdef *r)
{
	static const char pre[] = "holdout:";
	struct rtoken at = {.t = RT_IDENT, .line = r->info.line,
	    .col = r->col};
	const char *name = r->info.name;

	/* a failed clause may be the missing one: say nothing more */
	if (r->cond == 0 && !ps->broken)
		ps_fail(ps, &at, "rule '%s' has no 'when' clause", name);
	if (r->cond == UINT32_MAX)
		r->cond = 0;
	if (r->info.kind == RULE_ACT_SCORE && r->info.score == 0 &&
	    !ps->broken)
		ps_fail(ps, &at, "rule '%s' has no action and no score", name);
	if (r->info.kind == RULE_ACT_SCORE && r->info.holdout_bp != 0)
		ps_fail(ps, &ps->holdout_at,
		    "holdout needs an action (rule '%s' only scores)", name);
	if (r->info.n_caps == 0)
		r->info.caps[r->info.n_caps++] =
		    (struct rule_cap){1, RULE_PER_SESSION, 0};
	if (r->info.arg == NULL)
		r->info.arg = "";
	r->info.key = rule_fnv1a(RULE_FNV_OFFSET, name, strlen(name));
	r->seed = rule_fnv1a(RULE_FNV_OFFSET, pre, sizeof(pre) - 1);
	r->seed = rule_fnv1a(r->seed, name, strlen(name));
}

static void
ps_rule_body(struct rps *ps, struct rdef *r)
{
	const struct ps_clause *cl;
	char buf[48];

	while (ps->lx.tok.t != RT_EOF && !rlex_at_top(&ps->lx)) {
		if ((cl = ps_clause_find(ps)) == NULL) {
			ps_fail(ps, &ps->lx.tok,
			    "expected a clause (when, show, hide, shake, "
			    "capture, at most, score, holdout, shadow, "
			    "priority), found %s",
			    ps_what(ps, buf, sizeof(buf)));
			rlex_adv(&ps->lx);
			ps_sync_line(ps);
			ps->broken = true;
			continue;
		}
		if (!cl->fn(ps, r)) {
			ps_sync_line(ps);
			ps->broken = true;
		}
		/* every handler consumes its keyword first: progress is made */
	}
}

static void
st_rule(struct rps *ps)
{
	struct rtoken kw = ps->lx.tok;
	struct rname name;
	struct rdef *r;

	rlex_adv(&ps->lx);
	if (!ps_name(ps, "a rule name", &name) ||
	    !ps_tok(ps, RT_COLON, "':' after the rule name")) {
		ps_sync_top(ps);
		return;
	}
	if (ps->pg->n_rules == RULE_RULES_MAX) {
		ps_fail(ps, &kw, "more than %d rules", RULE_RULES_MAX);
		ps->stop = true;
		return;
	}
	if ((r = ps_new_rule(ps)) == NULL)
		return;
	r->info.name = name.s;
	r->info.line = name.line;
	r->col = name.col;
	r->info.priority = 100;
	ps->env.rule_nodes = 0;
	ps->holdout_at.t = RT_EOF;
	ps->broken = false;
	ps_rule_body(ps, r);
	ps_rule_done(ps, r);
}

/* ---- funnel ----------------------------------------------------------- */

/* Runs funnel_parse() on the raw steps and maps its position back. */
static void
ps_funnel_steps(struct rps *ps, const struct rname *name, const char *p,
    size_t n, int line, int col)
{
	struct rprog *pg = ps->pg;
	struct nudge_diag d = {0};
	struct funnel f;
	char *copy = fault_malloc(n + 1);

	if (copy == NULL) {
		pg->ar.oom = true;
		return;
	}
	memcpy(copy, p, n);
	copy[n] = '\0';
	if (funnel_parse(&f, name->s, copy, &d) != NUDGE_OK) {
		if (d.line < 1)
			rerr(pg->errs, name->line, name->col, "%s", d.msg);
		else
			rerr(pg->errs, line + d.line - 1,
			    d.line == 1 ? col + d.col - 1 : d.col, "%s", d.msg);
	} else if (pg->n_funnels == RULE_FUNNELS_MAX) {
		rerr(pg->errs, name->line, name->col, "more than %d funnels",
		    RULE_FUNNELS_MAX);
	} else {
		pg->funnel_line[pg->n_funnels] = name->line;
		pg->funnels[pg->n_funnels++] = f;
	}
	free(copy);
}

static void
st_funnel(struct rps *ps)
{
	struct rprog *pg = ps->pg;
	struct rname name;
	const char *p;
	size_t n;
	int line, col;

	rlex_adv(&ps->lx);
	if (!ps_name(ps, "a funnel name", &name) || ps->lx.tok.t != RT_COLON) {
		if (name.s != NULL && ps->lx.tok.t != RT_COLON)
			ps_tok(ps, RT_COLON, "':' after the funnel name");
		ps_sync_top(ps);
		return;
	}
	for (unsigned i = 0; i < pg->n_funnels; i++)
		if (strcmp(pg->funnels[i].name, name.s) == 0)
			rerr(pg->errs, name.line, name.col,
			    "duplicate funnel '%s' (first at line %d)", name.s,
			    pg->funnel_line[i]);
	if (strlen(name.s) > FUNNEL_NAME_MAX)
		rerr(pg->errs, name.line, name.col,
		    "funnel name longer than %d characters", FUNNEL_NAME_MAX);
	rlex_raw(&ps->lx, &p, &n, &line, &col);
	if (strlen(name.s) <= FUNNEL_NAME_MAX)
		ps_funnel_steps(ps, &name, p, n, line, col);
}

/* ---- campaign --------------------------------------------------------- */

/* A goal or guardrail: a name, or a quoted custom event name. */
static bool
ps_goal(struct rps *ps, struct rname *out)
{
	struct rtoken t = ps->lx.tok;
	char buf[RULE_STRING_MAX + 1];
	size_t n;

	if (t.t != RT_STR)
		return ps_name(ps, "a step, an event or revenue", out);
	rlex_adv(&ps->lx);
	n = rlex_unquote(&t, buf, sizeof(buf));
	out->s = rarena_str(&ps->pg->ar, buf, n);
	out->quoted = true;
	out->line = t.line;
	out->col = t.col;
	return true;
}

static int
cm_variant(const struct rcamp *c, const char *name)
{
	for (int i = 0; i < c->pub.n_variants; i++)
		if (strcmp(c->pub.variant[i].name, name) == 0)
			return i;
	return -1;
}

/* split NAME W {, NAME W} */
static bool
cm_split(struct rps *ps, struct rcamp *c)
{
	struct rtoken kw = ps->lx.tok;
	struct rname v;
	long w, sum = 0;

	rlex_adv(&ps->lx);
	if (c->pub.n_variants != 0)
		ps_fail(ps, &kw, "second 'split' in campaign '%s'",
		    c->pub.name);
	c->pub.n_variants = 0;
	for (;;) {
		if (!ps_name(ps, "a variant name", &v) ||
		    !ps_int(ps, 0, 100, "a weight", &w))
			return false;
		if (cm_variant(c, v.s) >= 0)
			rerr(ps->pg->errs, v.line, v.col,
			    "duplicate variant '%s'", v.s);
		else if (c->pub.n_variants == RULE_VARIANTS_MAX)
			rerr(ps->pg->errs, v.line, v.col,
			    "more than %d variants", RULE_VARIANTS_MAX);
		else
			c->pub.variant[c->pub.n_variants++] =
			    (struct rule_variant){v.s, (uint8_t)w};
		sum += w;
		if (ps->lx.tok.t != RT_COMMA)
			break;
		rlex_adv(&ps->lx);
	}
	if (c->pub.n_variants < 2)
		ps_fail(ps, &kw, "a split needs at least two variants");
	else if (sum != 100)
		ps_fail(ps, &kw, "weights add up to %ld, not 100", sum);
	return true;
}

/* guardrail GOAL [drop N%] */
static bool
cm_guardrail(struct rps *ps, struct rcamp *c)
{
	struct rtoken kw = ps->lx.tok, t;
	struct rname g;
	double bp = 0;

	rlex_adv(&ps->lx);
	if (!ps_goal(ps, &g))
		return false;
	if (rlex_is(&ps->lx, "drop")) {
		rlex_adv(&ps->lx);
		t = ps->lx.tok;
		if (!ps_tok(ps, RT_NUM, "a percentage after 'drop'") ||
		    !ps_tok(ps, RT_PCT, "'%'"))
			return false;
		bp = t.num * 100.0;
		if (bp > 10000 || fabs(bp - round(bp)) > 1e-6) {
			ps_fail(ps, &t, "a drop is from 0%% to 100%%, in steps "
			                "of 0.01%%");
			bp = 0;
		}
	}
	if (c->pub.n_guardrails == RULE_GUARDRAILS_MAX) {
		ps_fail(ps, &kw, "more than %d guardrails",
		    RULE_GUARDRAILS_MAX);
		return true;
	}
	c->guard[c->pub.n_guardrails] = g;
	c->pub.guardrail[c->pub.n_guardrails++].max_drop_bp =
	    (uint16_t)round(bp);
	return true;
}

static struct rcline *
cm_new_line(struct rps *ps)
{
	struct rprog *pg = ps->pg;

	if (pg->n_clines == pg->cap_clines) {
		unsigned ncap = pg->cap_clines ? pg->cap_clines * 2 : 16;
		struct rcline *nl = fault_realloc(pg->clines, ncap * sizeof(*nl));
		if (nl == NULL) {
			pg->ar.oom = true;
			return NULL;
		}
		pg->clines = nl;
		pg->cap_clines = ncap;
	}
	memset(&pg->clines[pg->n_clines], 0, sizeof(pg->clines[0]));
	return &pg->clines[pg->n_clines++];
}

static const char *const cm_whats[] = {"enable", "disable", "text"};

/* VARIANT: enable rule R | disable rule R | text rule R "text" */
static bool
cm_line(struct rps *ps, struct rcamp *c)
{
	struct rname v, rule;
	struct rcline *l;
	int vi, what = -1;
	char buf[48];

	if (!ps_name(ps, "a variant name", &v) ||
	    !ps_tok(ps, RT_COLON, "':' after the variant name"))
		return false;
	for (int k = 0; k < 3; k++)
		if (rlex_is(&ps->lx, cm_whats[k]))
			what = k;
	if (what < 0) {
		ps_fail(ps, &ps->lx.tok,
		    "expected enable, disable or text, found %s",
		    ps_what(ps, buf, sizeof(buf)));
		return false;
	}
	rlex_adv(&ps->lx);
	if (!ps_word(ps, "rule") || !ps_name(ps, "a rule name", &rule))
		return false;
	if ((vi = cm_variant(c, v.s)) < 0)
		rerr(ps->pg->errs, v.line, v.col,
		    "variant '%s' is not in the split of campaign '%s'", v.s,
		    c->pub.name);
	if ((l = cm_new_line(ps)) == NULL)
		return false;
	*l = (struct rcline){-1, (uint16_t)(c - ps->pg->camps),
	    (uint8_t)(vi < 0 ? 0 : vi), (uint8_t)what, rule, {0, 0}};
	if (what == RCL_TEXT) {
		struct rdef tmp;
		memset(&tmp, 0, sizeof(tmp));
		ps->env.rule_nodes = 0;
		if (!ps_text(ps, &tmp, true))
			return false;
		l->text = tmp.text;
	}
	if (vi < 0)
		ps->pg->n_clines--;
	return true;
}

static void
cm_body(struct rps *ps, struct rcamp *c)
{
	bool ok;
	char buf[48];

	while (ps->lx.tok.t != RT_EOF && !rlex_at_top(&ps->lx)) {
		const char *at = ps->lx.tok.p;
		if (rlex_is(&ps->lx, "split")) {
			ok = cm_split(ps, c);
		} else if (rlex_is(&ps->lx, "guardrail")) {
			ok = cm_guardrail(ps, c);
		} else if (ps->lx.tok.t == RT_IDENT) {
			ok = cm_line(ps, c);
		} else {
			ps_fail(ps, &ps->lx.tok,
			    "expected split, guardrail or VARIANT: in a "
			    "campaign, found %s",
			    ps_what(ps, buf, sizeof(buf)));
			rlex_adv(&ps->lx);
			ok = false;
		}
		if (!ok && ps->lx.tok.p == at)
			rlex_adv(&ps->lx); /* always make progress */
		if (!ok)
			ps_sync_line(ps);
	}
}

static void
st_campaign(struct rps *ps)
{
	struct rprog *pg = ps->pg;
	struct rtoken kw = ps->lx.tok;
	struct rcamp *c = &pg->camps[pg->n_camps < RULE_CAMPAIGNS_MAX
	                                 ? pg->n_camps
	                                 : RULE_CAMPAIGNS_MAX - 1];
	struct rname name;

	rlex_adv(&ps->lx);
	if (pg->n_camps == RULE_CAMPAIGNS_MAX) {
		ps_fail(ps, &kw, "more than %d campaigns", RULE_CAMPAIGNS_MAX);
		ps->stop = true;
		return;
	}
	memset(c, 0, sizeof(*c));
	if (!ps_name(ps, "a campaign name", &name) || !ps_word(ps, "on") ||
	    !ps_word(ps, "funnel") ||
	    !ps_name(ps, "a funnel name", &c->funnel) ||
	    !ps_word(ps, "goal") || !ps_goal(ps, &c->goal) ||
	    !ps_tok(ps, RT_COLON, "':' after the goal")) {
		ps_sync_top(ps);
		return;
	}
	for (unsigned i = 0; i < pg->n_camps; i++)
		if (strcmp(pg->camps[i].pub.name, name.s) == 0)
			rerr(pg->errs, name.line, name.col,
			    "duplicate campaign '%s' (first at line %d)",
			    name.s, pg->camps[i].pub.line);
	c->pub.name = name.s;
	c->pub.line = name.line;
	c->col = name.col;
	pg->n_camps++;
	cm_body(ps, c);
	if (c->pub.n_variants == 0)
		rerr(pg->errs, name.line, name.col,
		    "campaign '%s' has no 'split' line", name.s);
}

/* ---- file ------------------------------------------------------------- */

struct ps_stmt {
	const char *word;
	void (*fn)(struct rps *ps);
};

static const struct ps_stmt ps_stmts[] = {
	{"funnel", st_funnel},
	{"rule", st_rule},
	{"campaign", st_campaign},
};

static void
ps_statement(struct rps *ps)
{
	char buf[48];

	for (size_t k = 0; k < sizeof(ps_stmts) / sizeof(ps_stmts[0]); k++)
		if (rlex_is(&ps->lx, ps_stmts[k].word)) {
			ps_stmts[k].fn(ps);
			return;
		}
	if (ps_clause_find(ps) != NULL && rlex_at_top(&ps->lx))
		ps_fail(ps, &ps->lx.tok,
		    "'%.*s' must be indented under its rule",
		    (int)ps->lx.tok.len, ps->lx.tok.p);
	else
		ps_fail(ps, &ps->lx.tok,
		    "expected funnel, rule or campaign, found %s",
		    ps_what(ps, buf, sizeof(buf)));
	rlex_adv(&ps->lx);
	ps_sync_top(ps);
}

void
rparse_init(struct rprog *pg, struct rerrs *errs)
{
	memset(pg, 0, sizeof(*pg));
	rarena_init(&pg->ar);
	pg->errs = errs;
}

void
rparse_fini(struct rprog *pg)
{
	rarena_fini(&pg->ar);
	free(pg->rules);
	free(pg->clines);
	memset(pg, 0, sizeof(*pg));
}

void
rparse_file(struct rprog *pg, const char *text, size_t len)
{
	struct rps ps;

	memset(&ps, 0, sizeof(ps));
	ps.pg = pg;
	rlex_init(&ps.lx, text, len, 1, 1, true, pg->errs);
	ps.env.lx = &ps.lx;
	ps.env.ar = &pg->ar;
	ps.env.errs = pg->errs;
	while (ps.lx.tok.t != RT_EOF && !ps.stop && !pg->ar.oom)
		ps_statement(&ps);
}
