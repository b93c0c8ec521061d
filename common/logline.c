/*
 * logline.c - access-log line parsing: formats, fields, timestamps.
 *
 * Owns the compiled form of a log format and the line parser.  Both are
 * pure functions over caller memory (no allocation, no globals, no locale,
 * no time zone database), so any thread may call them; the log tailer
 * calls logline_parse() a million times a second, so the hot path is
 * memchr() over the line and fixed-width arithmetic on the timestamp.
 */
#include "logline.h"

#include <string.h>

static const char fmt_combined[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\"";
static const char fmt_common[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent";

static const struct {
	const char *name;
	uint8_t var;
} var_names[] = {
    {"remote_addr", LOGVAR_ADDR},
    {"remote_user", LOGVAR_USER},
    {"time_local", LOGVAR_TIME},
    {"request", LOGVAR_REQUEST},
    {"status", LOGVAR_STATUS},
    {"body_bytes_sent", LOGVAR_BYTES},
    {"bytes_sent", LOGVAR_BYTES},
    {"http_referer", LOGVAR_REFERRER},
    {"http_user_agent", LOGVAR_UA},
    {"request_time", LOGVAR_REQTIME},
};

/* ---- formats ------------------------------------------------------------ */

static bool
is_var_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

static uint8_t
var_lookup(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof(var_names) / sizeof(var_names[0]); i++)
		if (strlen(var_names[i].name) == n &&
		    memcmp(var_names[i].name, name, n) == 0)
			return var_names[i].var;
	return LOGVAR_OTHER;
}

/* Reads "$name" or "${name}" at s[*i]; returns its length or 0. */
static size_t
var_scan(const char *s, size_t *i, size_t *name_at)
{
	size_t j = *i + 1, n;
	bool brace = s[j] == '{';

	j += brace;
	*name_at = j;
	while (is_var_char(s[j]))
		j++;
	n = j - *name_at;
	if (n == 0 || (brace && s[j] != '}'))
		return 0;
	*i = j + brace;
	return n;
}

static int
fmt_push_var(
    struct logline_format *f, uint8_t var, size_t col, struct nudge_diag *d)
{
	if (f->n > 0 && f->item[f->n - 1].var != LOGVAR_NONE) {
		nudge_diag_set(d, 0, (int)col,
		    "two variables with nothing "
		    "between them: the first would have no end");
		return NUDGE_ESYNTAX;
	}
	if (f->n == LOGLINE_ITEMS_MAX) {
		nudge_diag_set(
		    d, 0, (int)col, "more than %d items", LOGLINE_ITEMS_MAX);
		return NUDGE_ETOOBIG;
	}
	f->item[f->n].var = var;
	f->has |= (uint16_t)(1u << var);
	f->n++;
	return 0;
}

static int
fmt_push_char(
    struct logline_format *f, char c, size_t col, struct nudge_diag *d)
{
	struct logline_item *it = f->n ? &f->item[f->n - 1] : NULL;

	if (it == NULL || it->var != LOGVAR_NONE) {
		if (f->n == LOGLINE_ITEMS_MAX) {
			nudge_diag_set(d, 0, (int)col, "more than %d items",
			    LOGLINE_ITEMS_MAX);
			return NUDGE_ETOOBIG;
		}
		it = &f->item[f->n++];
	}
	if (it->len == LOGLINE_LIT_MAX) {
		nudge_diag_set(d, 0, (int)col,
		    "literal text longer than %d "
		    "characters",
		    LOGLINE_LIT_MAX);
		return NUDGE_ETOOBIG;
	}
	it->lit[it->len++] = c;
	f->tab_ok |= c == '\t';
	return 0;
}

/* A variable between a literal ending in '"' and one starting with it. */
static void
fmt_mark_quoted(struct logline_format *f)
{
	for (unsigned i = 1; i + 1 < f->n; i++) {
		const struct logline_item *a = &f->item[i - 1];
		const struct logline_item *b = &f->item[i + 1];
		if (f->item[i].var != LOGVAR_NONE &&
		    a->lit[a->len - 1] == '"' && b->lit[0] == '"')
			f->item[i].quoted = 1;
	}
}

static int
fmt_build(struct logline_format *f, const char *s, struct nudge_diag *d)
{
	size_t i = 0, name_at, n;
	int rc;

	while (s[i] != '\0') {
		size_t col = i + 1;
		if ((unsigned char)s[i] < 0x20 && s[i] != '\t') {
			nudge_diag_set(d, 0, (int)col, "control character");
			return NUDGE_ESYNTAX;
		}
		if (s[i] == '$') {
			if ((n = var_scan(s, &i, &name_at)) == 0) {
				nudge_diag_set(d, 0, (int)col,
				    "expected a "
				    "variable name after '$'");
				return NUDGE_ESYNTAX;
			}
			rc = fmt_push_var(
			    f, var_lookup(s + name_at, n), col, d);
		} else {
			rc = fmt_push_char(f, s[i++], col, d);
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

int
logline_format_compile(
    struct logline_format *out, const char *spec, struct nudge_diag *d)
{
	struct logline_format f;
	int rc;

	if (spec == NULL || strcmp(spec, "combined") == 0 || spec[0] == '\0')
		spec = fmt_combined;
	else if (strcmp(spec, "common") == 0)
		spec = fmt_common;
	if (strlen(spec) > LOGLINE_FORMAT_MAX) {
		nudge_diag_set(d, 0, 1, "format longer than %d characters",
		    LOGLINE_FORMAT_MAX);
		return NUDGE_ETOOBIG;
	}
	memset(&f, 0, sizeof(f));
	if ((rc = fmt_build(&f, spec, d)) != 0)
		return rc;
	if (!(f.has & (1u << LOGVAR_TIME)) ||
	    !(f.has & (1u << LOGVAR_REQUEST))) {
		nudge_diag_set(d, 0, 1,
		    "the format needs $time_local and "
		    "$request");
		return NUDGE_ESYNTAX;
	}
	fmt_mark_quoted(&f);
	*out = f;
	return 0;
}

/* ---- time --------------------------------------------------------------- */

int64_t
logline_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Howard Hinnant's algorithm: eras of 400 years, March-based. */
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

#define MON(a, b, c) ((uint32_t)(a) << 16 | (uint32_t)(b) << 8 | (c))

/* "Jan".."Dec" -> 1..12, else 0; compares three bytes as one word. */
static unsigned
month_of(const char *p)
{
	static const uint32_t names[12] = {MON('J', 'a', 'n'),
	    MON('F', 'e', 'b'), MON('M', 'a', 'r'), MON('A', 'p', 'r'),
	    MON('M', 'a', 'y'), MON('J', 'u', 'n'), MON('J', 'u', 'l'),
	    MON('A', 'u', 'g'), MON('S', 'e', 'p'), MON('O', 'c', 't'),
	    MON('N', 'o', 'v'), MON('D', 'e', 'c')};
	uint32_t k =
	    MON((unsigned char)p[0], (unsigned char)p[1], (unsigned char)p[2]);

	for (unsigned i = 0; i < 12; i++)
		if (names[i] == k)
			return i + 1;
	return 0;
}

static unsigned
days_in_month(int64_t y, unsigned m)
{
	static const uint8_t dim[12] = {
	    31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return dim[m - 1] + (m == 2 && leap);
}

/* n digits at p into *v; false if any is not a digit. */
static bool
digits(const char *p, unsigned n, unsigned *v)
{
	unsigned x = 0;

	for (unsigned i = 0; i < n; i++) {
		unsigned c = (unsigned char)p[i] - '0';
		if (c > 9)
			return false;
		x = x * 10 + c;
	}
	*v = x;
	return true;
}

static int
time_bad(struct nudge_diag *d, int col, const char *what)
{
	nudge_diag_set(d, 0, col,
	    "time: bad %s (expected "
	    "01/Dec/2026:21:30:00 +0100)",
	    what);
	return NUDGE_ERANGE;
}

int
logline_parse_time(struct nudge_strv t, uint64_t *ms_out, struct nudge_diag *d)
{
	const char *p = t.ptr;
	unsigned day, mon, year, hh, mm, ss, oh, om;
	int64_t secs, off;

	if (t.len != 26)
		return time_bad(d, 1, "length");
	if (!digits(p, 2, &day) || p[2] != '/' || day == 0)
		return time_bad(d, 1, "day");
	if ((mon = month_of(p + 3)) == 0 || p[6] != '/')
		return time_bad(d, 4, "month");
	if (!digits(p + 7, 4, &year) || year < 1970 || p[11] != ':')
		return time_bad(d, 8, "year");
	if (day > days_in_month(year, mon))
		return time_bad(d, 1, "day");
	if (!digits(p + 12, 2, &hh) || hh > 23 || p[14] != ':')
		return time_bad(d, 13, "hour");
	if (!digits(p + 15, 2, &mm) || mm > 59 || p[17] != ':')
		return time_bad(d, 16, "minute");
	if (!digits(p + 18, 2, &ss) || ss > 60 || p[20] != ' ')
		return time_bad(d, 19, "second");
	if ((p[21] != '+' && p[21] != '-') || !digits(p + 22, 2, &oh) ||
	    !digits(p + 24, 2, &om) || oh > 23 || om > 59)
		return time_bad(d, 22, "UTC offset");
	off = ((int64_t)oh * 3600 + om * 60) * (p[21] == '-' ? -1 : 1);
	secs = logline_days_from_civil(year, mon, day) * 86400 + hh * 3600 +
	       mm * 60 + ss - off;
	if (secs < 0)
		return time_bad(d, 8, "year");
	*ms_out = (uint64_t)secs * 1000;
	return 0;
}

/* ---- lines -------------------------------------------------------------- */

static struct nudge_strv
sv(const char *p, size_t n)
{
	return (struct nudge_strv){p, (uint32_t)n};
}

/* "-" is how both servers write "no value". */
static struct nudge_strv
dash_empty(struct nudge_strv v)
{
	return v.len == 1 && v.ptr[0] == '-' ? sv(v.ptr, 0) : v;
}

static bool
is_control(unsigned char c, bool tab_ok)
{
	return (c < 0x20 && !(tab_ok && c == '\t')) || c == 0x7f;
}

/*
 * Column of the first control byte, or 0.  Both servers escape control
 * bytes when they log, so a raw one means junk.  Eight bytes at a time
 * (the per-byte loop was half the parse time); tabs, when the format has
 * them, take the byte loop.
 */
static size_t
find_control(const char *s, size_t n, bool tab_ok)
{
	const uint64_t ones = 0x0101010101010101ull;
	const uint64_t high = 0x8080808080808080ull;
	size_t i = 0;

	for (; !tab_ok && i + 8 <= n; i += 8) {
		uint64_t x, del;
		memcpy(&x, s + i, 8);
		del = x ^ (ones * 0x7f);
		/* any byte < 0x20, or any byte == 0x7f */
		if (((x - ones * 0x20) & ~x & high) != 0 ||
		    ((del - ones) & ~del & high) != 0)
			break;
	}
	for (; i < n; i++)
		if (is_control((unsigned char)s[i], tab_ok))
			return i + 1;
	return 0;
}

/* The closing '"' of a quoted value starting at p, skipping \" escapes. */
static const char *
quote_end(const char *p, const char *end)
{
	while (p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		size_t bs = 0;
		if (q == NULL)
			return NULL;
		while (q - bs > p && q[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (bs % 2 == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

/* Where the variable at item i ends, or NULL (with d filled). */
static const char *
var_end(const struct logline_format *f, unsigned i, const char *p,
    const char *end, const char *line, struct nudge_diag *d)
{
	const struct logline_item *it = &f->item[i];
	const char *e;
	char stop;

	if (it->quoted) {
		if ((e = quote_end(p, end)) == NULL)
			nudge_diag_set(d, 0, (int)(p - line),
			    "missing closing '\"' of the value opened here");
		return e;
	}
	stop = i + 1 < f->n ? f->item[i + 1].lit[0] : ' ';
	e = memchr(p, stop, (size_t)(end - p));
	if (e == NULL && i + 1 == f->n)
		return end;
	if (e == NULL)
		nudge_diag_set(d, 0, (int)(end - line) + 1,
		    "line ends before the '%c' closing the value at column %d",
		    stop, (int)(p - line) + 1);
	return e;
}

static int
parse_request(
    struct logline *l, struct nudge_strv r, int col, struct nudge_diag *d)
{
	const char *p = r.ptr, *end = r.ptr + r.len, *sp, *t;
	size_t n;

	if ((sp = memchr(p, ' ', r.len)) == NULL || sp == p) {
		nudge_diag_set(d, 0, col,
		    "request: expected \"METHOD "
		    "target [protocol]\"");
		return NUDGE_ESYNTAX;
	}
	for (t = p; t < sp; t++)
		if (*t < 'A' || *t > 'Z') {
			nudge_diag_set(
			    d, 0, col + (int)(t - p), "request: bad method");
			return NUDGE_ESYNTAX;
		}
	l->method = sv(p, (size_t)(sp - p));
	p = sp + 1;
	sp = memchr(p, ' ', (size_t)(end - p));
	n = (size_t)((sp ? sp : end) - p);
	if (n == 0) {
		nudge_diag_set(
		    d, 0, col + (int)(p - r.ptr), "request: empty target");
		return NUDGE_ESYNTAX;
	}
	l->protocol = sp ? sv(sp + 1, (size_t)(end - sp - 1)) : sv(end, 0);
	t = memchr(p, '#', n);
	n = t ? (size_t)(t - p) : n;
	t = memchr(p, '?', n);
	l->path = sv(p, t ? (size_t)(t - p) : n);
	l->query = t ? sv(t + 1, n - (size_t)(t - p) - 1) : sv(p + n, 0);
	return 0;
}

static int
parse_status(
    struct logline *l, struct nudge_strv s, int col, struct nudge_diag *d)
{
	unsigned v;

	if (s.len != 3 || !digits(s.ptr, 3, &v) || v < 100 || v > 599) {
		nudge_diag_set(d, 0, col, "status: expected 100..599");
		return NUDGE_ESYNTAX;
	}
	l->status = (uint16_t)v;
	return 0;
}

/* Stores one variable's value; parses those that need it. */
static int
put_var(struct logline *l, uint8_t var, struct nudge_strv v, int col,
    struct nudge_diag *d)
{
	switch (var) {
	case LOGVAR_ADDR:
		l->addr = dash_empty(v);
		break;
	case LOGVAR_USER:
		l->user = dash_empty(v);
		break;
	case LOGVAR_BYTES:
		l->bytes = dash_empty(v);
		break;
	case LOGVAR_REFERRER:
		l->referrer = dash_empty(v);
		break;
	case LOGVAR_UA:
		l->ua = dash_empty(v);
		break;
	case LOGVAR_REQTIME:
		l->request_time = dash_empty(v);
		break;
	case LOGVAR_STATUS:
		return parse_status(l, v, col, d);
	case LOGVAR_REQUEST:
		return parse_request(l, v, col, d);
	case LOGVAR_TIME: {
		struct nudge_diag td = {0};
		l->time = v;
		if (logline_parse_time(v, &l->ts_ms, &td) == 0)
			return 0;
		nudge_diag_set(d, 0, col + td.col - 1, "%s", td.msg);
		return NUDGE_ERANGE;
	}
	default:
		break;
	}
	return 0;
}

/*
 * Bytes of lit matching at p (n when all do); literals are a few bytes,
 * so a loop beats a call to memcmp, and the count gives the column.
 */
static unsigned
lit_match(const char *p, const char *end, const char *lit, unsigned n)
{
	unsigned i = 0;

	while (i < n && p + i < end && p[i] == lit[i])
		i++;
	return i;
}

static int
parse_items(const struct logline_format *f, const char *line, size_t len,
    struct logline *l, struct nudge_diag *d)
{
	const char *p = line, *end = line + len;
	int rc;

	for (unsigned i = 0; i < f->n; i++) {
		const struct logline_item *it = &f->item[i];
		const char *e;
		if (it->var == LOGVAR_NONE) {
			unsigned k = lit_match(p, end, it->lit, it->len);
			if (k < it->len) {
				nudge_diag_set(d, 0, (int)(p - line + k) + 1,
				    "expected '%s'", it->lit);
				return NUDGE_ESYNTAX;
			}
			p += it->len;
			continue;
		}
		if ((e = var_end(f, i, p, end, line, d)) == NULL)
			return NUDGE_ESYNTAX;
		rc = put_var(l, it->var, sv(p, (size_t)(e - p)),
		    (int)(p - line) + 1, d);
		if (rc != 0)
			return rc;
		p = e;
	}
	return 0;
}

int
logline_parse(const struct logline_format *f, const char *line, size_t len,
    struct logline *out, struct nudge_diag *d)
{
	struct logline l;
	size_t col;
	int rc;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len > LOGLINE_MAX) {
		nudge_diag_set(d, 0, LOGLINE_MAX + 1,
		    "line longer than %d "
		    "bytes",
		    LOGLINE_MAX);
		return NUDGE_ETOOBIG;
	}
	if ((col = find_control(line, len, f->tab_ok)) != 0) {
		nudge_diag_set(d, 0, (int)col,
		    "control byte 0x%02x "
		    "(binary junk?)",
		    (unsigned char)line[col - 1]);
		return NUDGE_EINVAL;
	}
	memset(&l, 0, sizeof(l));
	if ((rc = parse_items(f, line, len, &l, d)) != 0)
		return rc;
	*out = l;
	return 0;
}

struct nudge_strv
logline_query_param(struct nudge_strv query, const char *name)
{
	const char *p = query.ptr, *end = query.ptr + query.len;
	size_t n = strlen(name);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > n && memcmp(p, name, n) == 0 &&
		    p[n] == '=')
			return sv(p + n + 1, (size_t)(e - p - n - 1));
		p = e + 1;
	}
	return sv(end, 0);
}
