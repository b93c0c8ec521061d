/*
 * fuzz_logline.c - libFuzzer harness for access-log formats and lines.
 *
 * The first byte picks the format: combined, common, a fixed custom
 * format, or (3) a format read from the input up to its first newline.
 * The rest is one line, copied into a buffer of exactly its size so that
 * any read past it is caught.  A parsed line's views must all lie inside
 * the line; a failure must carry a column inside it (or just past it) and
 * a message; query parameters are looked up in whatever query came out.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logline.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char custom[] =
    "$remote_addr - $remote_user [$time_local] \"$request\" $status "
    "$body_bytes_sent \"$http_referer\" \"$http_user_agent\" "
    "rt=$request_time host=${host}";

static void
check_view(struct nudge_strv v, const char *line, size_t len)
{
	if (v.len == 0)
		return;
	if (v.ptr < line || v.ptr + v.len > line + len)
		abort();
}

static void
check_line(const struct logline *l, const char *line, size_t len)
{
	const struct nudge_strv *v[] = {&l->addr, &l->user, &l->time,
	    &l->method, &l->path, &l->query, &l->protocol, &l->bytes,
	    &l->referrer, &l->ua, &l->request_time};
	static const char *const params[] = {
	    "utm_source", "utm_medium", "utm_campaign", "a"};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_view(*v[i], line, len);
	if (l->status != 0 && (l->status < 100 || l->status > 599))
		abort();
	for (size_t i = 0; i < 4; i++)
		check_view(
		    logline_query_param(l->query, params[i]), line, len);
}

/* Format 3: the spec is the input up to the first newline. */
static int
spec_format(struct logline_format *f, const uint8_t **data, size_t *size)
{
	const uint8_t *nl = memchr(*data, '\n', *size);
	size_t n = nl ? (size_t)(nl - *data) : *size;
	char *spec = malloc(n + 1);
	struct nudge_diag d = {0};
	int rc;

	if (spec == NULL)
		return -1;
	memcpy(spec, *data, n);
	spec[n] = '\0';
	rc = logline_format_compile(f, spec, &d);
	if (rc != 0 && (d.msg[0] == '\0' || d.col < 1))
		abort();
	free(spec);
	*data += nl ? n + 1 : n;
	*size -= nl ? n + 1 : n;
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const named[] = {"combined", "common", custom};
	struct logline_format f;
	struct nudge_diag d = {0};
	struct logline l;
	char *line;
	int rc;

	if (size < 1)
		return 0;
	if (data[0] % 4 == 3) {
		data++;
		size--;
		if (spec_format(&f, &data, &size) != 0)
			return 0;
	} else {
		if (logline_format_compile(&f, named[data[0] % 4], &d) != 0)
			abort();
		data++;
		size--;
	}
	if ((line = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	rc = logline_parse(&f, line, size, &l, &d);
	if (rc == 0)
		check_line(&l, line, size);
	else if (d.msg[0] == '\0' || d.col < 1 ||
	         (size_t)d.col > (size > LOGLINE_MAX ? LOGLINE_MAX : size) + 1)
		abort();
	free(line);
	return 0;
}
