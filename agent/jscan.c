/*
 * jscan.c - token-level JSON scanning without allocation (see jscan.h).
 *
 * Owns nothing: the input and the scratch buffer are the caller's, the
 * state is the caller's struct jscan.  Reentrant; any thread, one scan per
 * struct.  Every read is bounded by len; decoded strings are bounded by
 * cap (and can never need more than the source length).  The grammar and
 * the refusals follow jansson 2.14 so that the beacon decoder built on it
 * accepts exactly what the jansson-based reference accepts.
 */
#include "jscan.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSCAN_SWAR 1
/*
 * The high bit of each byte of w (8 bytes of a string, first byte lowest)
 * that ends jscan_string's fast path: '"', '\\', a control character or
 * a byte >= 0x80.  The zero-byte tests may also flag bytes above a true
 * hit (a borrow), never below one, so the lowest flag is exact.
 */
static inline uint64_t
str_stops(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');

	return (((q - ones) & ~q) | ((b - ones) & ~b) |
	    ((w - ones * 0x20) & ~w) | w) & (ones * 0x80);
}
#endif

void
jscan_init(struct jscan *s, const char *in, size_t len, char *scratch,
    size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->in = in;
	s->len = len;
	s->scratch = scratch;
	s->cap = cap;
}

int
jscan_fail_at(struct jscan *s, size_t off, const char *why)
{
	if (s->why == NULL) {
		s->why = why;
		s->err_off = off;
	}
	return -1;
}

int
jscan_fail(struct jscan *s, const char *why)
{
	return jscan_fail_at(s, s->pos, why);
}

int
jscan_peek(struct jscan *s)
{
	while (s->pos < s->len) {
		unsigned char c = (unsigned char)s->in[s->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return c;
		s->pos++;
	}
	return -1;
}

int
jscan_expect(struct jscan *s, char c, const char *why)
{
	if (jscan_peek(s) != (unsigned char)c)
		return jscan_fail(s, why);
	s->pos++;
	return 0;
}

int
jscan_open(struct jscan *s, char c)
{
	if (jscan_expect(s, c, c == '{' ? "want an object" : "want an array"))
		return -1;
	if (s->depth >= JSCAN_MAX_DEPTH)
		return jscan_fail(s, "nested too deep");
	s->depth++;
	return 0;
}

int
jscan_more(struct jscan *s, char close)
{
	int c = jscan_peek(s);

	if (c == ',') {
		s->pos++;
		return 1;
	}
	if (c == (unsigned char)close) {
		s->pos++;
		s->depth--;
		return 0;
	}
	return jscan_fail(s, close == '}' ? "want ',' or '}'" :
	    "want ',' or ']'");
}

size_t
jscan_mark(const struct jscan *s)
{
	return s->used;
}

void
jscan_release(struct jscan *s, size_t mark)
{
	if (mark <= s->used)
		s->used = mark;
}

/*
 * Length of the well-formed UTF-8 sequence at p (RFC 3629: no overlongs,
 * no surrogates, at most U+10FFFF), 0 if it is not one.
 */
static size_t
utf8_seq(const unsigned char *p, size_t avail)
{
	size_t n;
	uint32_t cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1fu;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0fu;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07u;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static int
hex4(const char *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Reads \uXXXX (or a surrogate pair) at s->pos (after the 'u'). */
static int
unicode_escape(struct jscan *s, uint32_t *cp)
{
	uint32_t hi, lo;

	if (s->len - s->pos < 4 || hex4(s->in + s->pos, &hi) != 0)
		return jscan_fail(s, "bad \\u escape");
	s->pos += 4;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return jscan_fail(s, "lone low surrogate");
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (s->len - s->pos < 6 || s->in[s->pos] != '\\' ||
		    s->in[s->pos + 1] != 'u' ||
		    hex4(s->in + s->pos + 2, &lo) != 0 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return jscan_fail(s, "lone high surrogate");
		s->pos += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (hi == 0)
		return jscan_fail(s, "\\u0000 is not accepted");
	*cp = hi;
	return 0;
}

static size_t
utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* One escape after the backslash at s->pos - 1, appended at o. */
static int
escape(struct jscan *s, char *o, size_t *n)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;
	uint32_t cp;

	if (s->pos >= s->len)
		return jscan_fail(s, "unterminated string");
	if (s->in[s->pos] == 'u') {
		s->pos++;
		if (unicode_escape(s, &cp) != 0)
			return -1;
		*n = utf8_put(o, cp);
		return 0;
	}
	if (s->in[s->pos] == '\0' ||
	    (e = strchr(from, s->in[s->pos])) == NULL)
		return jscan_fail(s, "bad escape");
	s->pos++;
	*o = to[e - from];
	*n = 1;
	return 0;
}

/*
 * The slow path: the string from start has an escape at s->pos.  Copies
 * what came before, then decodes into scratch up to the closing quote.
 * Each source byte gives at most one output byte, so the bound checked
 * once at the start holds for the whole string.
 */
static int
string_decode(struct jscan *s, size_t start, struct nudge_strv *out)
{
	char *o = s->scratch + s->used, *o0 = o;
	size_t n;

	if (s->cap - s->used < s->len - start)
		return jscan_fail(s, "scratch too small");
	memcpy(o, s->in + start, s->pos - start);
	o += s->pos - start;
	while (s->pos < s->len) {
		unsigned char c = (unsigned char)s->in[s->pos];
		if (c == '"') {
			s->pos++;
			s->used += (size_t)(o - o0);
			*out = (struct nudge_strv){o0, (uint32_t)(o - o0)};
			return 0;
		}
		if (c < 0x20)
			return jscan_fail(s, "control character in string");
		if (c == '\\') {
			s->pos++;
			if (escape(s, o, &n) != 0)
				return -1;
			o += n;
			continue;
		}
		n = c < 0x80 ? 1 : utf8_seq((const unsigned char *)s->in +
		    s->pos, s->len - s->pos);
		if (n == 0)
			return jscan_fail(s, "invalid UTF-8");
		memcpy(o, s->in + s->pos, n);
		o += n;
		s->pos += n;
	}
	return jscan_fail(s, "unterminated string");
}

int
jscan_string(struct jscan *s, struct nudge_strv *out)
{
	const unsigned char *p = (const unsigned char *)s->in;
	size_t start, n;

	if (jscan_expect(s, '"', "want a string") != 0)
		return -1;
	start = s->pos;
	/*
	 * The fast path: validated in place, no copy.  The position lives in
	 * a local while scanning (p may alias *s, so s->pos would be stored
	 * and reloaded around every byte) and is written back before any
	 * other function sees s.
	 */
	for (size_t i = start, len = s->len; i < len;) {
		unsigned char c;
#ifdef JSCAN_SWAR
		/* 8 plain bytes at a time, up to the first that is not */
		if (len - i >= 8) {
			uint64_t w, stop;
			memcpy(&w, p + i, sizeof(w));
			if ((stop = str_stops(w)) == 0) {
				i += 8;
				continue;
			}
			i += (size_t)__builtin_ctzll(stop) / 8;
		}
#endif
		c = p[i];
		if (c == '"') {
			*out = (struct nudge_strv){s->in + start,
			    (uint32_t)(i - start)};
			s->pos = i + 1;
			return 0;
		}
		if (c >= 0x20 && c < 0x80 && c != '\\') {
			i++;
			continue;
		}
		s->pos = i;
		if (c == '\\')
			return string_decode(s, start, out);
		if (c < 0x20)
			return jscan_fail(s, "control character in string");
		if ((n = utf8_seq(p + i, len - i)) == 0)
			return jscan_fail(s, "invalid UTF-8");
		i += n;
		s->pos = i;
	}
	s->pos = s->len;
	return jscan_fail(s, "unterminated string");
}

static size_t
digits(const struct jscan *s, size_t i)
{
	while (i < s->len && s->in[i] >= '0' && s->in[i] <= '9')
		i++;
	return i;
}

/* int64 like strtoll; overflow is a syntax error, as in jansson. */
static int
number_int(struct jscan *s, size_t start, size_t end, struct jscan_val *v)
{
	bool neg = s->in[start] == '-';
	uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;

	for (size_t i = start + neg; i < end; i++) {
		unsigned d = (unsigned)(s->in[i] - '0');
		if (u > (lim - d) / 10)
			return jscan_fail(s, "integer out of range");
		u = u * 10 + d;
	}
	v->kind = JK_INT;
	v->i = neg ? (u == lim ? INT64_MIN : -(int64_t)u) : (int64_t)u;
	v->d = (double)v->i;
	return 0;
}

/*
 * strtod needs a terminated copy: short numbers go through a stack buffer,
 * long ones through the unused scratch tail (a number is never longer
 * than what is left of the input, and the scratch has len + 1 bytes).
 */
/*
 * The common case, "0.412": at most 15 digits and no exponent.  The
 * digits as an integer and the power of ten are then both exact doubles,
 * and one IEEE division rounds their exact quotient correctly: the same
 * double strtod gives, without its cost (Clinger's fast path).
 */
static bool
number_simple(const struct jscan *s, size_t start, size_t end, double *out)
{
	static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7,
	    1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	bool neg = s->in[start] == '-';
	uint64_t m = 0;
	unsigned nd = 0, frac = 0;
	bool dot = false;

	for (size_t i = start + neg; i < end; i++) {
		char c = s->in[i];
		if (c == '.') {
			dot = true;
			continue;
		}
		if (c < '0' || c > '9' || ++nd > 15)
			return false;
		m = m * 10 + (uint64_t)(c - '0');
		frac += dot;
	}
	*out = (double)m / p10[frac];
	if (neg)
		*out = -*out;
	return true;
}

static int
number_real(struct jscan *s, size_t start, size_t end, struct jscan_val *v)
{
	char buf[64], *p = buf;
	size_t n = end - start;

	if (number_simple(s, start, end, &v->d)) {
		v->kind = JK_REAL;
		return 0;
	}
	if (n >= sizeof(buf)) {
		if (s->cap - s->used < n + 1)
			return jscan_fail(s, "number too long");
		p = s->scratch + s->used;
	}
	memcpy(p, s->in + start, n);
	p[n] = '\0';
	errno = 0;
	v->d = strtod(p, NULL);
	if (errno == ERANGE && isinf(v->d))
		return jscan_fail(s, "real number overflow");
	v->kind = JK_REAL;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
number(struct jscan *s, struct jscan_val *v)
{
	size_t start = s->pos, i = s->pos, j;
	bool real = false;

	if (s->in[i] == '-')
		i++;
	if (i < s->len && s->in[i] == '0')
		j = i + 1;
	else if ((j = digits(s, i)) == i)
		return jscan_fail(s, "bad number");
	if (j < s->len && s->in[j] >= '0' && s->in[j] <= '9')
		return jscan_fail(s, "leading zero");
	if (j < s->len && s->in[j] == '.') {
		real = true;
		if ((i = digits(s, j + 1)) == j + 1)
			return jscan_fail(s, "bad fraction");
		j = i;
	}
	if (j < s->len && (s->in[j] == 'e' || s->in[j] == 'E')) {
		real = true;
		i = j + 1;
		if (i < s->len && (s->in[i] == '+' || s->in[i] == '-'))
			i++;
		if ((j = digits(s, i)) == i)
			return jscan_fail(s, "bad exponent");
	}
	s->pos = j;
	return real ? number_real(s, start, j, v) :
	    number_int(s, start, j, v);
}

static int
literal(struct jscan *s, const char *word, enum jscan_kind kind,
    struct jscan_val *v)
{
	size_t n = strlen(word);

	if (s->len - s->pos < n || memcmp(s->in + s->pos, word, n) != 0)
		return jscan_fail(s, "bad literal");
	s->pos += n;
	v->kind = kind;
	return 0;
}

int
jscan_scalar(struct jscan *s, struct jscan_val *out)
{
	int c = jscan_peek(s);

	if (c == '"') {
		out->kind = JK_STRING;
		return jscan_string(s, &out->s);
	}
	if (c == '-' || (c >= '0' && c <= '9'))
		return number(s, out);
	if (c == 't')
		return literal(s, "true", JK_TRUE, out);
	if (c == 'f')
		return literal(s, "false", JK_FALSE, out);
	if (c == 'n')
		return literal(s, "null", JK_NULL, out);
	return jscan_fail(s, c < 0 ? "unexpected end" : "unexpected byte");
}

/* A key and its colon, for jscan_skip(): the text is not kept. */
static int
skip_key(struct jscan *s)
{
	struct nudge_strv k;
	size_t m = jscan_mark(s);

	if (jscan_string(s, &k) != 0 ||
	    jscan_expect(s, ':', "want ':'") != 0)
		return -1;
	jscan_release(s, m);
	return 0;
}

/*
 * One value of any shape, iteratively: bit i of open[] says whether the
 * container at level i is an object.  The caller's depth counts.
 */
int
jscan_skip(struct jscan *s)
{
	uint8_t open[JSCAN_MAX_DEPTH / 8];
	unsigned base = s->depth, lv;
	struct jscan_val v;
	size_t m = jscan_mark(s);
	int c, r;

	for (;;) {
		c = jscan_peek(s);
		if (c == '{' || c == '[') {
			if (jscan_open(s, (char)c) != 0)
				return -1;
			lv = s->depth - 1;
			open[lv / 8] = (uint8_t)((open[lv / 8] &
			    ~(1u << lv % 8)) | (c == '{') << lv % 8);
			if (jscan_peek(s) == (c == '{' ? '}' : ']')) {
				s->pos++;
				s->depth--;
			} else {
				if (c == '{' && skip_key(s) != 0)
					return -1;
				continue;
			}
		} else if (jscan_scalar(s, &v) != 0) {
			return -1;
		}
		/* after a value: close containers, or go to the next one */
		for (;;) {
			if (s->depth == base) {
				jscan_release(s, m);
				return 0;
			}
			lv = s->depth - 1;
			bool obj = open[lv / 8] >> lv % 8 & 1;
			if ((r = jscan_more(s, obj ? '}' : ']')) < 0)
				return -1;
			if (r == 1) {
				if (obj && skip_key(s) != 0)
					return -1;
				break;
			}
		}
	}
}

int
jscan_end(struct jscan *s)
{
	if (jscan_peek(s) != -1)
		return jscan_fail(s, "trailing bytes after the value");
	return 0;
}
