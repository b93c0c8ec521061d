/*
 * funnel.c - parsing and evaluating conversion funnels.
 *
 * Owns the funnel text syntax (see funnel.h): a hand-written scanner that
 * tracks 1-based line and column so that every mistake is reported where it
 * is, and the step predicates evaluated on every event by the session
 * engine.  Parsing writes a local struct and copies it out only on success.
 * Everything here is pure: any thread may parse or evaluate, and a parsed
 * funnel is read-only.
 */
#include "funnel.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The scanner: a cursor over NUL-terminated text with its position. */
struct fp {
	const char *s;
	size_t i;
	int line;
	int col;
	struct nudge_diag *d;
};

/* A saved position, so an error can point at a token's start. */
struct fp_pos {
	int line;
	int col;
};

static struct fp_pos
fp_here(const struct fp *p)
{
	return (struct fp_pos){p->line, p->col};
}

static int fp_fail(struct fp *p, struct fp_pos at, int err, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

static int
fp_fail(struct fp *p, struct fp_pos at, int err, const char *fmt, ...)
{
	va_list ap;

	if (p->d != NULL) {
		p->d->line = at.line;
		p->d->col = at.col;
		va_start(ap, fmt);
		vsnprintf(p->d->msg, sizeof(p->d->msg), fmt, ap);
		va_end(ap);
	}
	return err;
}

static char
fp_peek(const struct fp *p, size_t ahead)
{
	size_t k;

	/* Never read past the terminator: stop at the first NUL. */
	for (k = 0; k < ahead; k++)
		if (p->s[p->i + k] == '\0')
			return '\0';
	return p->s[p->i + ahead];
}

static void
fp_adv(struct fp *p)
{
	if (p->s[p->i] == '\0')
		return;
	if (p->s[p->i] == '\n') {
		p->line++;
		p->col = 1;
	} else {
		p->col++;
	}
	p->i++;
}

/* Skips blanks, newlines and '#' comments up to the end of their line. */
static void
fp_skip_ws(struct fp *p)
{
	for (;;) {
		char c = fp_peek(p, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			fp_adv(p);
		} else if (c == '#') {
			while (fp_peek(p, 0) != '\0' && fp_peek(p, 0) != '\n')
				fp_adv(p);
		} else {
			return;
		}
	}
}

static bool
fp_is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static bool
fp_at_arrow(const struct fp *p)
{
	return fp_peek(p, 0) == '-' && fp_peek(p, 1) == '>';
}

/* Describes the character at the cursor for "found ..." messages. */
static const char *
fp_found(const struct fp *p, char *buf, size_t cap)
{
	unsigned char c = (unsigned char)fp_peek(p, 0);

	if (c == '\0')
		snprintf(buf, cap, "end of funnel");
	else if (c >= 0x21 && c < 0x7f)
		snprintf(buf, cap, "'%c'", c);
	else
		snprintf(buf, cap, "byte 0x%02x", c);
	return buf;
}

/* Reads an identifier at the cursor; returns its length (0 if none). */
static size_t
fp_ident(struct fp *p, const char **start)
{
	size_t n = 0;

	*start = p->s + p->i;
	while (fp_is_ident(fp_peek(p, 0))) {
		fp_adv(p);
		n++;
	}
	return n;
}

static bool
fp_word_is(const char *w, size_t n, const char *lit)
{
	return strlen(lit) == n && memcmp(w, lit, n) == 0;
}

/*
 * Reads a double-quoted string into dst (FUNNEL_ARG_MAX + 1 bytes).  The
 * escapes \" and \\ are understood; a string may not span lines.
 */
static int
fp_string(struct fp *p, char *dst)
{
	struct fp_pos open = fp_here(p);
	size_t n = 0;
	char buf[24];

	if (fp_peek(p, 0) != '"')
		return fp_fail(p, open, NUDGE_ESYNTAX,
		    "expected a quoted string, found %s",
		    fp_found(p, buf, sizeof(buf)));
	fp_adv(p);
	for (;;) {
		struct fp_pos at = fp_here(p);
		unsigned char c = (unsigned char)fp_peek(p, 0);
		if (c == '\0' || c == '\n')
			return fp_fail(
			    p, open, NUDGE_ESYNTAX, "unterminated string");
		if (c == '"')
			break;
		if (c == '\\') {
			fp_adv(p);
			c = (unsigned char)fp_peek(p, 0);
			if (c != '"' && c != '\\')
				return fp_fail(p, at, NUDGE_ESYNTAX,
				    "unknown escape in string (only \\\" "
				    "and \\\\)");
		} else if (c < 0x20 || c == 0x7f) {
			return fp_fail(p, at, NUDGE_ESYNTAX,
			    "control character in string");
		}
		if (n == FUNNEL_ARG_MAX)
			return fp_fail(p, open, NUDGE_ETOOBIG,
			    "string longer than %d bytes", FUNNEL_ARG_MAX);
		dst[n++] = (char)c;
		fp_adv(p);
	}
	fp_adv(p);
	dst[n] = '\0';
	return NUDGE_OK;
}

/* Skips blanks and expects the operator lit ("==" or "~"). */
static bool
fp_op(struct fp *p, const char *lit)
{
	size_t n = strlen(lit), k;

	fp_skip_ws(p);
	for (k = 0; k < n; k++)
		if (fp_peek(p, k) != lit[k])
			return false;
	for (k = 0; k < n; k++)
		fp_adv(p);
	fp_skip_ws(p);
	return true;
}

static bool
fp_custom_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > EVENT_NAME_MAX)
		return false;
	for (size_t k = 0; k < n; k++)
		if (!((s[k] >= 'a' && s[k] <= 'z') ||
		        (s[k] >= '0' && s[k] <= '9') || s[k] == '_'))
			return false;
	return true;
}

static int
fp_pred_visit(struct fp *p, struct funnel_step *st)
{
	(void)p;
	st->op = FUNNEL_VISIT;
	return NUDGE_OK;
}

static int
fp_pred_page(struct fp *p, struct funnel_step *st)
{
	struct fp_pos at;
	char buf[24];
	int rc;

	if (fp_op(p, "=="))
		st->op = FUNNEL_PAGE_EQ;
	else if (fp_op(p, "~"))
		st->op = FUNNEL_PAGE_MATCH;
	else
		return fp_fail(p, fp_here(p), NUDGE_ESYNTAX,
		    "expected '==' or '~' after 'page', found %s",
		    fp_found(p, buf, sizeof(buf)));
	at = fp_here(p);
	if ((rc = fp_string(p, st->arg)) != NUDGE_OK)
		return rc;
	if (st->arg[0] == '\0')
		return fp_fail(p, at, NUDGE_ESYNTAX, "empty page pattern");
	st->glob =
	    st->op == FUNNEL_PAGE_MATCH && strpbrk(st->arg, "*?") != NULL;
	return NUDGE_OK;
}

static int
fp_pred_event(struct fp *p, struct funnel_step *st)
{
	struct fp_pos at;
	char buf[24];
	int rc, type;

	if (!fp_op(p, "=="))
		return fp_fail(p, fp_here(p), NUDGE_ESYNTAX,
		    "expected '==' after 'event', found %s",
		    fp_found(p, buf, sizeof(buf)));
	at = fp_here(p);
	if ((rc = fp_string(p, st->arg)) != NUDGE_OK)
		return rc;
	type = event_type_from_name(strv_of(st->arg));
	if (type < 0 || type >= EVENT_TYPE_COUNT ||
	    (type == EVENT_CUSTOM && !fp_custom_name_ok(st->arg)))
		return fp_fail(p, at, NUDGE_ESYNTAX,
		    "unknown event name \"%.40s\" (custom names are 1 to %d "
		    "of a-z, 0-9, _)",
		    st->arg, EVENT_NAME_MAX);
	st->op = FUNNEL_EVENT_EQ;
	st->event_type = (uint8_t)type;
	return NUDGE_OK;
}

struct fp_pred {
	const char *name;
	int (*parse)(struct fp *p, struct funnel_step *st);
};

static const struct fp_pred fp_preds[] = {
    {.name = "visit", .parse = fp_pred_visit},
    {.name = "page", .parse = fp_pred_page},
    {.name = "event", .parse = fp_pred_event},
};

/* The label a step gets when none is written. */
static void
fp_derive_label(struct funnel_step *st)
{
	size_t n = 0;
	const char *a;

	switch (st->op) {
	case FUNNEL_VISIT:
		snprintf(st->label, sizeof(st->label), "visit");
		return;
	case FUNNEL_EVENT_EQ:
		a = st->event_type == EVENT_CUSTOM
		        ? st->arg
		        : event_type_name(st->event_type);
		snprintf(st->label, sizeof(st->label), "%.*s",
		    FUNNEL_LABEL_MAX, a ? a : st->arg);
		return;
	default:
		/* "/product/" -> "product": drop path and glob characters */
		for (a = st->arg; *a != '\0' && n < FUNNEL_LABEL_MAX; a++)
			if (strchr("/*?", *a) == NULL)
				st->label[n++] = *a;
		st->label[n] = '\0';
		if (n == 0)
			snprintf(st->label, sizeof(st->label), "page");
	}
}

/* Reads `[label :] predicate` at the cursor (blanks already skipped). */
static int
fp_step(struct fp *p, struct funnel_step *st)
{
	struct fp_pos at = fp_here(p), lab;
	const char *w;
	size_t n, k;
	char buf[24];

	n = fp_ident(p, &w);
	fp_skip_ws(p);
	if (n > 0 && fp_peek(p, 0) == ':') {
		if (n > FUNNEL_LABEL_MAX)
			return fp_fail(p, at, NUDGE_ETOOBIG,
			    "label longer than %d characters",
			    FUNNEL_LABEL_MAX);
		memcpy(st->label, w, n);
		st->label[n] = '\0';
		fp_adv(p);
		fp_skip_ws(p);
		lab = fp_here(p);
		if ((n = fp_ident(p, &w)) == 0)
			return fp_fail(p, lab, NUDGE_ESYNTAX,
			    "expected a predicate after label '%s', "
			    "found %s",
			    st->label, fp_found(p, buf, sizeof(buf)));
		at = lab;
	}
	if (n == 0)
		return fp_fail(p, at, NUDGE_ESYNTAX,
		    "expected a step (visit, page or event), found %s",
		    fp_found(p, buf, sizeof(buf)));
	for (k = 0; k < sizeof(fp_preds) / sizeof(fp_preds[0]); k++)
		if (fp_word_is(w, n, fp_preds[k].name))
			return fp_preds[k].parse(p, st);
	return fp_fail(p, at, NUDGE_ESYNTAX,
	    "unknown predicate '%.*s' (expected visit, page or event)",
	    n > 32 ? 32 : (int)n, w);
}

/* Parses the steps of the whole text into f (f->n counts them). */
static int
fp_steps(struct fp *p, struct funnel *f)
{
	char buf[24];
	int rc;

	for (;;) {
		struct funnel_step *st;

		fp_skip_ws(p);
		if (fp_peek(p, 0) == '\0' || fp_at_arrow(p))
			return fp_fail(p, fp_here(p), NUDGE_ESYNTAX,
			    f->n == 0 && fp_peek(p, 0) == '\0'
			        ? "empty funnel: expected a step"
			        : "empty step");
		if (f->n == AGG_STEPS_MAX)
			return fp_fail(p, fp_here(p), NUDGE_ETOOBIG,
			    "more than %d steps", AGG_STEPS_MAX);
		st = &f->step[f->n];
		memset(st, 0, sizeof(*st));
		if ((rc = fp_step(p, st)) != NUDGE_OK)
			return rc;
		if (st->label[0] == '\0')
			fp_derive_label(st);
		f->n++;
		fp_skip_ws(p);
		if (fp_peek(p, 0) == '\0')
			return NUDGE_OK;
		if (!fp_at_arrow(p))
			return fp_fail(p, fp_here(p), NUDGE_ESYNTAX,
			    "expected '->' or end of funnel, found %s",
			    fp_found(p, buf, sizeof(buf)));
		fp_adv(p);
		fp_adv(p);
	}
}

int
funnel_parse(struct funnel *out, const char *name, const char *text,
    struct nudge_diag *d)
{
	struct funnel f;
	struct fp p = {.s = text ? text : "", .line = 1, .col = 1, .d = d};
	int rc;

	memset(&f, 0, sizeof(f));
	if (name == NULL || name[0] == '\0')
		name = "funnel";
	if (strlen(name) > FUNNEL_NAME_MAX) {
		nudge_diag_set(d, 0, 0,
		    "funnel name longer than %d characters", FUNNEL_NAME_MAX);
		return NUDGE_ETOOBIG;
	}
	snprintf(f.name, sizeof(f.name), "%s", name);
	if ((rc = fp_steps(&p, &f)) != NUDGE_OK)
		return rc;
	*out = f;
	return NUDGE_OK;
}

void
funnel_default(struct funnel *out)
{
	static const char text[] = "visit"
	                           " -> product: page ~ \"/product/\""
	                           " -> cart: event == \"add_to_cart\""
	                           " -> checkout: page == \"/checkout\""
	                           " -> purchase: event == \"purchase\"";
	struct nudge_diag d;

	/* The text is a constant checked by the tests: it cannot fail. */
	if (funnel_parse(out, "shop", text, &d) != NUDGE_OK)
		memset(out, 0, sizeof(*out));
}

/*
 * The path of a page without its query string or fragment, so that
 * page == "/checkout" also matches "/checkout?step=2".
 */
static size_t
fn_path_len(struct nudge_strv page)
{
	for (uint32_t k = 0; k < page.len; k++)
		if (page.ptr[k] == '?' || page.ptr[k] == '#')
			return k;
	return page.len;
}

static bool
fn_page_eq(const char *arg, struct nudge_strv page)
{
	size_t n = strlen(arg);
	size_t len = strpbrk(arg, "?#") ? page.len : fn_path_len(page);

	return len == n && (n == 0 || memcmp(page.ptr, arg, n) == 0);
}

bool
funnel_step_matches(const struct funnel_step *st, const struct nudge_event *ev)
{
	switch (st->op) {
	case FUNNEL_VISIT:
		return true;
	case FUNNEL_PAGE_EQ:
		return ev->type == EVENT_PAGEVIEW &&
		       fn_page_eq(st->arg, ev->page);
	case FUNNEL_PAGE_MATCH:
		if (ev->type != EVENT_PAGEVIEW || ev->page.ptr == NULL)
			return false;
		if (st->glob)
			return funnel_glob(
			    st->arg, ev->page.ptr, ev->page.len);
		return memmem(ev->page.ptr, ev->page.len, st->arg,
		           strlen(st->arg)) != NULL;
	case FUNNEL_EVENT_EQ:
		if (ev->type != st->event_type)
			return false;
		return ev->type != EVENT_CUSTOM || strv_eq(ev->name, st->arg);
	default:
		return false;
	}
}

uint8_t
funnel_advance(
    const struct funnel *f, uint8_t reached, const struct nudge_event *ev)
{
	/* in order only: step k+1 is tried only once step k is reached */
	while (reached < f->n && funnel_step_matches(&f->step[reached], ev))
		reached++;
	return reached;
}

/*
 * Anchored glob: '*' any run of bytes, '?' one byte.  Only the latest star
 * is remembered: when a later literal fails, the match resumes one byte
 * further after that star.  Going back to an earlier star can never help
 * (the later star can absorb whatever it would), so this is complete, and
 * costs at most strlen(pat) * slen steps instead of exponential time.
 */
bool
funnel_glob(const char *pat, const char *s, size_t slen)
{
	size_t p = 0, i = 0, star_p = 0, star_i = 0;
	bool star = false;

	while (i < slen) {
		if (pat[p] == '*') {
			star = true;
			star_p = ++p;
			star_i = i;
		} else if (pat[p] != '\0' &&
		           (pat[p] == '?' || pat[p] == s[i])) {
			p++;
			i++;
		} else if (star) {
			p = star_p;
			i = ++star_i;
		} else {
			return false;
		}
	}
	while (pat[p] == '*')
		p++;
	return pat[p] == '\0';
}
