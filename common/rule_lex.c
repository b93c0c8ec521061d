/*
 * rule_lex.c - the rule language's scanner and error list.
 *
 * Owns no memory: tokens point into the text being compiled.  Strings are
 * checked here once (escapes, control bytes, UTF-8, length) so that every
 * later stage may decode them without checks.  Pure; any thread, one
 * lexer per compile.
 */
#include "rule_lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
rerr(struct rerrs *errs, int line, int col, const char *fmt, ...)
{
	struct nudge_diag *d;
	va_list ap;

	if (errs->n == RERRS_CAP) {
		errs->truncated = true;
		return;
	}
	d = &errs->e[errs->n++];
	d->line = line;
	d->col = col;
	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
	va_end(ap);
}

static char
lx_peek(const struct rlex *lx, size_t ahead)
{
	return lx->i + ahead < lx->n ? lx->s[lx->i + ahead] : '\0';
}

static void
lx_step(struct rlex *lx)
{
	if (lx->i >= lx->n)
		return;
	if (lx->s[lx->i] == '\n') {
		lx->line++;
		lx->col = 1;
		lx->bol = true;
	} else {
		lx->col++;
	}
	lx->i++;
}

static void
lx_skip_blank(struct rlex *lx)
{
	for (;;) {
		char c = lx_peek(lx, 0);

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx_step(lx);
		} else if (c == '#') {
			while (lx->i < lx->n && lx_peek(lx, 0) != '\n')
				lx_step(lx);
		} else {
			return;
		}
	}
}

static bool
lx_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool
lx_digit(char c)
{
	return c >= '0' && c <= '9';
}

static void
lx_fail(struct rlex *lx, const char *msg)
{
	rerr(lx->errs, lx->tok.line, lx->tok.col, "%s", msg);
	lx->tok.t = RT_ERR;
}

static void
lx_ident(struct rlex *lx)
{
	struct rtoken *t = &lx->tok;

	while (lx_alpha(lx_peek(lx, 0)) || lx_digit(lx_peek(lx, 0)) ||
	    (lx_peek(lx, 0) == '.' && lx_alpha(lx_peek(lx, 1))))
		lx_step(lx);
	t->t = RT_IDENT;
	t->len = (uint32_t)(lx->s + lx->i - t->p);
	if (t->len > RULE_NAME_MAX)
		lx_fail(lx, "name longer than 63 characters");
}

static void
lx_number(struct rlex *lx)
{
	struct rtoken *t = &lx->tok;
	char buf[24];

	while (lx_digit(lx_peek(lx, 0)))
		lx_step(lx);
	if (lx_peek(lx, 0) == '.' && lx_digit(lx_peek(lx, 1))) {
		t->frac = true;
		lx_step(lx);
		while (lx_digit(lx_peek(lx, 0)))
			lx_step(lx);
	}
	t->t = RT_NUM;
	t->len = (uint32_t)(lx->s + lx->i - t->p);
	if (t->len > 15) {
		lx_fail(lx, "number longer than 15 digits");
		return;
	}
	memcpy(buf, t->p, t->len);
	buf[t->len] = '\0';
	t->num = strtod(buf, NULL);
}

/* Length of the UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t
lx_utf8(const unsigned char *s, size_t n)
{
	size_t len, k;
	uint32_t cp;

	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (n < len)
		return 0;
	cp = s[0] & (0x3f >> (len - 1));
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[k] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* One byte or sequence of a string's body; false when the string ends. */
static bool
lx_string_char(struct rlex *lx)
{
	unsigned char c = (unsigned char)lx_peek(lx, 0);
	size_t k, len;

	if (c == '\\') {
		char e = lx_peek(lx, 1);
		if (e != '"' && e != '\\') {
			rerr(lx->errs, lx->line, lx->col,
			    "unknown escape in string (only \\\" and \\\\)");
			lx->tok.t = RT_ERR;
		}
		lx_step(lx);
		if (e == '"' || e == '\\')
			lx_step(lx);
		return true;
	}
	if (c < 0x80) {
		if (c < 0x20 || c == 0x7f) {
			rerr(lx->errs, lx->line, lx->col,
			    "control character in string");
			lx->tok.t = RT_ERR;
		}
		lx_step(lx);
		return true;
	}
	len = lx_utf8((const unsigned char *)lx->s + lx->i, lx->n - lx->i);
	if (len == 0) {
		rerr(lx->errs, lx->line, lx->col, "invalid UTF-8 in string");
		lx->tok.t = RT_ERR;
		len = 1;
	}
	for (k = 0; k < len; k++)
		lx_step(lx);
	return true;
}

static void
lx_string(struct rlex *lx)
{
	struct rtoken *t = &lx->tok;

	t->t = RT_STR;
	lx_step(lx);
	t->p = lx->s + lx->i;
	for (;;) {
		char c = lx_peek(lx, 0);
		if (lx->i >= lx->n || c == '\n') {
			if (t->t != RT_ERR)
				lx_fail(lx, "unterminated string");
			return;
		}
		if (c == '"')
			break;
		lx_string_char(lx);
	}
	t->len = (uint32_t)(lx->s + lx->i - t->p);
	lx_step(lx);
	if (t->t != RT_ERR && t->len > RULE_STRING_MAX)
		lx_fail(lx, "string longer than 512 bytes");
}

struct lx_punct {
	const char *lit;
	uint8_t t;
};

/* Longest first, so that "<=" wins over "<". */
static const struct lx_punct lx_puncts[] = {
	{"==", RT_EQ}, {"!=", RT_NE}, {"<=", RT_LE}, {">=", RT_GE},
	{"<", RT_LT}, {">", RT_GT}, {"~", RT_TILDE}, {":", RT_COLON},
	{"(", RT_LP}, {")", RT_RP}, {"[", RT_LB}, {"]", RT_RB},
	{",", RT_COMMA}, {"+", RT_PLUS}, {"-", RT_MINUS}, {"*", RT_STAR},
	{"/", RT_SLASH}, {"%", RT_PCT},
};

static void
lx_punct(struct rlex *lx)
{
	char c = lx_peek(lx, 0), buf[40];
	size_t k, m;

	for (k = 0; k < sizeof(lx_puncts) / sizeof(lx_puncts[0]); k++) {
		const char *l = lx_puncts[k].lit;
		for (m = 0; l[m] != '\0' && lx_peek(lx, m) == l[m]; m++)
			;
		if (l[m] != '\0')
			continue;
		for (m = 0; l[m] != '\0'; m++)
			lx_step(lx);
		lx->tok.t = lx_puncts[k].t;
		lx->tok.len = (uint32_t)m;
		return;
	}
	if ((unsigned char)c > 0x20 && (unsigned char)c < 0x7f)
		snprintf(buf, sizeof(buf), "unexpected character '%c'", c);
	else
		snprintf(buf, sizeof(buf), "unexpected byte 0x%02x",
		    (unsigned char)c);
	lx_step(lx);
	lx_fail(lx, buf);
}

void
rlex_adv(struct rlex *lx)
{
	struct rtoken *t = &lx->tok;
	char c;

	lx_skip_blank(lx);
	memset(t, 0, sizeof(*t));
	t->line = lx->line;
	t->col = lx->col;
	t->bol = lx->bol;
	t->p = lx->s + lx->i;
	lx->bol = false;
	if (lx->i >= lx->n)
		return; /* RT_EOF */
	c = lx_peek(lx, 0);
	if (lx_alpha(c))
		lx_ident(lx);
	else if (lx_digit(c))
		lx_number(lx);
	else if (c == '"')
		lx_string(lx);
	else
		lx_punct(lx);
}

void
rlex_init(struct rlex *lx, const char *s, size_t n, int line, int col,
    bool bol, struct rerrs *errs)
{
	memset(lx, 0, sizeof(*lx));
	lx->s = s;
	lx->n = n;
	lx->line = line;
	lx->col = col;
	lx->bol = bol;
	lx->errs = errs;
	rlex_adv(lx);
}

bool
rlex_at_top(const struct rlex *lx)
{
	return lx->tok.t != RT_EOF && lx->tok.bol && lx->tok.col == 1;
}

bool
rlex_is(const struct rlex *lx, const char *w)
{
	size_t n = strlen(w);

	return lx->tok.t == RT_IDENT && lx->tok.len == n &&
	       memcmp(lx->tok.p, w, n) == 0;
}

void
rlex_raw(struct rlex *lx, const char **p, size_t *n, int *line, int *col)
{
	size_t start = lx->i;

	*line = lx->line;
	*col = lx->col;
	while (lx->i < lx->n) {
		char c = lx_peek(lx, 1);
		if (lx_peek(lx, 0) == '\n' && lx->i + 1 < lx->n && c != ' ' &&
		    c != '\t' && c != '\r' && c != '\n' && c != '#')
			break;
		lx_step(lx);
	}
	*p = lx->s + start;
	*n = lx->i - start;
	rlex_adv(lx);
}

const char *
rlex_what(const struct rtoken *t, char *buf, size_t cap)
{
	switch (t->t) {
	case RT_EOF:
		snprintf(buf, cap, "end of file");
		break;
	case RT_STR:
		snprintf(buf, cap, "string \"%.*s%s\"",
		    t->len > 20 ? 20 : (int)t->len, t->p,
		    t->len > 20 ? "..." : "");
		break;
	default:
		snprintf(buf, cap, "'%.*s'", t->len > 32 ? 32 : (int)t->len,
		    t->p);
	}
	return buf;
}

size_t
rlex_unquote(const struct rtoken *t, char *buf, size_t cap)
{
	size_t n = 0;

	for (uint32_t k = 0; k < t->len && n + 1 < cap; k++) {
		if (t->p[k] == '\\' && k + 1 < t->len)
			k++;
		buf[n++] = t->p[k];
	}
	buf[n] = '\0';
	return n;
}
