/*
 * rule_lex.h - tokens of the rule language and the error list every stage
 * of the rule compiler writes to.  Internal to rules*.c.
 *
 * The lexer is a cursor over a byte span with one current token
 * (lx->tok).  Positions are 1-based lines and byte columns.  A token
 * remembers whether it is the first on its line (bol); a token at column 1
 * starts a statement.  Lexical errors are reported once, here, and the
 * token becomes RT_ERR: later stages skip it without a second message.
 */
#ifndef NUDGE_RULE_LEX_H
#define NUDGE_RULE_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

enum rtok {
	RT_EOF = 0,
	RT_ERR,
	RT_IDENT,	/* letters, digits, '_' and inner '.' */
	RT_NUM,
	RT_STR,		/* p/len: the raw bytes between the quotes */
	RT_COLON,
	RT_EQ,
	RT_NE,
	RT_LT,
	RT_LE,
	RT_GT,
	RT_GE,
	RT_TILDE,
	RT_LP,
	RT_RP,
	RT_LB,
	RT_RB,
	RT_COMMA,
	RT_PLUS,
	RT_MINUS,
	RT_STAR,
	RT_SLASH,
	RT_PCT
};

struct rtoken {
	uint8_t t;		/* enum rtok */
	bool bol;		/* first token on its line */
	int line;
	int col;
	const char *p;
	uint32_t len;
	double num;		/* RT_NUM */
	bool frac;		/* RT_NUM written with a decimal point */
};

/* Collected errors: more than the caller keeps, sorted at the end. */
#define RERRS_CAP (RULE_ERRORS_MAX * 2)
struct rerrs {
	unsigned n;
	bool truncated;
	struct nudge_diag e[RERRS_CAP];
};

void rerr(struct rerrs *errs, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

struct rlex {
	const char *s;
	size_t n;
	size_t i;
	int line;
	int col;
	bool bol;
	struct rerrs *errs;
	struct rtoken tok;	/* the current token */
};

/*
 * Starts a lexer over n bytes at s whose first byte is at line:col, and
 * reads the first token.  bol says whether that byte starts a line.
 */
void rlex_init(struct rlex *lx, const char *s, size_t n, int line, int col,
    bool bol, struct rerrs *errs);

/* Reads the next token into lx->tok. */
void rlex_adv(struct rlex *lx);

/* Whether the current token starts a statement (column 1). */
bool rlex_at_top(const struct rlex *lx);

/* Whether the current token is the identifier w. */
bool rlex_is(const struct rlex *lx, const char *w);

/*
 * Takes the raw text from just after the current token up to the next
 * statement (a line not starting with a blank or '#'), for funnel steps.
 * Sets *p, *n and the text's starting line:col, then reads the token after.
 */
void rlex_raw(struct rlex *lx, const char **p, size_t *n, int *line, int *col);

/* Describes a token for "found ..." messages: 'x', "end of file", ... */
const char *rlex_what(const struct rtoken *t, char *buf, size_t cap);

/*
 * Decodes a string token's escapes (\" and \\) into buf (cap bytes,
 * NUL-terminated).  Returns the length; the lexer has bounded it.
 */
size_t rlex_unquote(const struct rtoken *t, char *buf, size_t cap);

#endif
