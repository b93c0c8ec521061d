/*
 * logline.h - parsing one web-server access-log line into string views.
 *
 * A format is compiled once (logline_format_compile) from a name, "combined"
 * (nginx's and Apache's default) or "common", or from an nginx `log_format`
 * string such as
 *
 *	$remote_addr - $remote_user [$time_local] "$request" $status
 *	$body_bytes_sent "$http_referer" "$http_user_agent" $request_time
 *
 * The compiled format is a list of literals and variables; a variable ends
 * where the next literal starts (inside quotes: at the next unescaped '"').
 * Known variables: $remote_addr $remote_user $time_local $request $status
 * $body_bytes_sent $bytes_sent $http_referer $http_user_agent $request_time;
 * any other variable ($host, $upstream_addr, ...) is matched and ignored.
 * Text after the last item of the format is ignored (formats often grow a
 * field at the end).
 *
 * logline_parse() allocates nothing and copies nothing: every view in a
 * struct logline points into the caller's line, which must outlive it.  The
 * time is converted to epoch milliseconds by arithmetic on the numeric
 * offset (no libc time-zone work per line).  A compiled format is immutable:
 * any thread may parse with it.
 */
#ifndef NUDGE_LOGLINE_H
#define NUDGE_LOGLINE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

#define LOGLINE_MAX 16384       /* longest line accepted, newline excluded */
#define LOGLINE_ITEMS_MAX 48    /* literals + variables in a format */
#define LOGLINE_LIT_MAX 31      /* longest literal between two variables */
#define LOGLINE_FORMAT_MAX 1023 /* longest format string */

/* Variables a format may hold; LOGVAR_OTHER is matched and ignored. */
enum logline_var {
	LOGVAR_NONE = 0, /* the item is a literal */
	LOGVAR_ADDR,
	LOGVAR_USER,
	LOGVAR_TIME,
	LOGVAR_REQUEST,
	LOGVAR_STATUS,
	LOGVAR_BYTES,
	LOGVAR_REFERRER,
	LOGVAR_UA,
	LOGVAR_REQTIME,
	LOGVAR_OTHER
};

struct logline_item {
	uint8_t var;    /* enum logline_var */
	uint8_t len;    /* literal length */
	uint8_t quoted; /* variable sits between '"' literals */
	char lit[LOGLINE_LIT_MAX + 1];
};

struct logline_format {
	uint8_t n;
	uint16_t has;   /* bit (1 << var) for each variable present */
	uint8_t tab_ok; /* a literal holds a tab: tabs are not junk */
	struct logline_item item[LOGLINE_ITEMS_MAX];
};

/*
 * Compiles "combined", "common" or an nginx log_format string into out.
 * The format must hold $time_local and $request (a page view needs both).
 * Returns 0, NUDGE_ESYNTAX (d->col: 1-based column in spec, d->msg) or
 * NUDGE_ETOOBIG (too many items, literal or string too long).  out is
 * written only on success.
 */
int logline_format_compile(
    struct logline_format *out, const char *spec, struct nudge_diag *d);

/*
 * One parsed line.  Views are empty when the format lacks the variable or
 * the log says "-".  status is 0 when absent; bytes and request_time stay
 * views (unparsed: nothing here needs their value).
 */
struct logline {
	struct nudge_strv addr;
	struct nudge_strv user;
	struct nudge_strv time;     /* "01/Dec/2026:21:30:00 +0100" */
	struct nudge_strv method;   /* "GET" */
	struct nudge_strv path;     /* target up to '?' or '#' */
	struct nudge_strv query;    /* after '?', up to '#'; no '?' */
	struct nudge_strv protocol; /* "HTTP/1.1"; empty for HTTP/0.9 */
	struct nudge_strv bytes;
	struct nudge_strv referrer;
	struct nudge_strv ua;
	struct nudge_strv request_time;
	uint16_t status;
	uint64_t ts_ms; /* epoch ms, UTC */
};

/*
 * Parses line[0..len) (no newline; a trailing '\r' is dropped) with f.
 * Returns 0 and fills *out, or one of:
 *	NUDGE_ETOOBIG	line longer than LOGLINE_MAX
 *	NUDGE_EINVAL	a control byte (binary junk) in the line
 *	NUDGE_ESYNTAX	a literal or quote of the format missing, a bad
 *			request line or status
 *	NUDGE_ERANGE	a bad or out-of-range date/time
 * with d->col the 1-based column of the fault (d->line is left 0) and a
 * message naming the field.  out is written only on success.
 */
int logline_parse(const struct logline_format *f, const char *line, size_t len,
    struct logline *out, struct nudge_diag *d);

/*
 * Parses "01/Dec/2026:21:30:00 +0100" into epoch ms (UTC).  Returns 0 or
 * NUDGE_ERANGE (d->col within the text).  Pure arithmetic.
 */
int logline_parse_time(
    struct nudge_strv t, uint64_t *ms_out, struct nudge_diag *d);

/*
 * Finds query parameter name (e.g. "utm_source") in a query string
 * ("a=1&utm_source=x"); returns its raw (still percent-encoded) value as a
 * view into query, or an empty view.
 */
struct nudge_strv logline_query_param(
    struct nudge_strv query, const char *name);

/* Days since 1970-01-01 of a proleptic Gregorian date (any year >= 0). */
int64_t logline_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
