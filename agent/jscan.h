/*
 * jscan.h - a bounded, allocation-free JSON (RFC 8259) token scanner.
 *
 * The caller drives it (recursive descent over the shape it expects) and
 * the scanner checks the syntax of each token: strings (escapes, \uXXXX,
 * surrogate pairs, strict UTF-8), numbers, true/false/null, whitespace, and
 * jscan_skip() validates any value the caller does not want.  Its
 * acceptance is that of jansson 2.14 with JSON_REJECT_DUPLICATES (the
 * reference the differential tests compare against): \u0000 is refused,
 * an integer outside int64 and a real that overflows a double are syntax
 * errors, nesting deeper than JSCAN_MAX_DEPTH is refused.  Duplicate keys
 * are the caller's to detect (it knows its keys).
 *
 * Memory: the input is borrowed; a string without escapes is returned as a
 * view into the input, one with escapes is decoded into the caller's
 * scratch buffer.  Decoded text is never longer than its source, so a
 * scratch of len + 1 bytes can never fill up.  Nothing is allocated.
 *
 * Errors: every failing call returns -1 and records (once) the byte offset
 * and a short static reason in the struct; the scan is over then.
 */
#ifndef NUDGE_JSCAN_H
#define NUDGE_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* jansson's JSON_PARSER_MAX_DEPTH: the same documents nest too deep. */
#define JSCAN_MAX_DEPTH 2048

struct jscan {
	const char *in;		/* borrowed input, len bytes */
	size_t len;
	size_t pos;		/* next byte to read */
	char *scratch;		/* caller's, decoded strings go here */
	size_t cap;
	size_t used;		/* scratch bytes handed out */
	unsigned depth;		/* containers open (the caller's + skip's) */
	const char *why;	/* NULL until the first error */
	size_t err_off;		/* byte offset of the first error */
};

enum jscan_kind {
	JK_STRING,
	JK_INT,		/* a number without fraction or exponent */
	JK_REAL,
	JK_TRUE,
	JK_FALSE,
	JK_NULL
};

/* A scalar value; s for JK_STRING, i for JK_INT, d for both numbers. */
struct jscan_val {
	enum jscan_kind kind;
	struct nudge_strv s;
	int64_t i;
	double d;
};

/* Starts a scan of in[0..len) with scratch[0..cap) for decoded strings. */
void jscan_init(struct jscan *s, const char *in, size_t len, char *scratch,
    size_t cap);

/*
 * Skips whitespace and returns the next byte without consuming it, or -1 at
 * the end of the input (not an error by itself).
 */
int jscan_peek(struct jscan *s);

/* Consumes byte c after whitespace, else fails with why. */
int jscan_expect(struct jscan *s, char c, const char *why);

/*
 * Container bookkeeping for the caller's own '{' / '[': jscan_open()
 * consumes the byte and fails past JSCAN_MAX_DEPTH; jscan_close() consumes
 * the closing byte.  jscan_more() is called after an element: 1 if a ','
 * follows (consumed), 0 if the closing byte c follows (consumed, depth
 * decreased), -1 on anything else.
 */
int jscan_open(struct jscan *s, char c);
int jscan_more(struct jscan *s, char close);

/*
 * Reads a string token into *out (a view into the input, or into scratch
 * when it had escapes).  jscan_mark() / jscan_release() give back the
 * scratch of strings only looked at (keys).
 */
int jscan_string(struct jscan *s, struct nudge_strv *out);
size_t jscan_mark(const struct jscan *s);
void jscan_release(struct jscan *s, size_t mark);

/* Reads a scalar (string, number, literal); a '{' or '[' fails. */
int jscan_scalar(struct jscan *s, struct jscan_val *out);

/* Validates and skips one value of any type (iterative, bounded depth). */
int jscan_skip(struct jscan *s);

/* Checks that only whitespace is left. */
int jscan_end(struct jscan *s);

/* Records an error at the current offset (first error wins); returns -1. */
int jscan_fail(struct jscan *s, const char *why);
/* The same at an earlier offset (a duplicate key: where the key starts). */
int jscan_fail_at(struct jscan *s, size_t off, const char *why);

#endif
