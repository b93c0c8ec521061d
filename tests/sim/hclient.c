/*
 * hclient.c - a keep-alive HTTP/1.1 POST client over one TCP socket, for
 * nudge-sim's --beacon output (see hclient.h for why not libcurl).
 *
 * Owns its socket and two growing buffers (request, answer), reused for
 * the whole run.  Blocking I/O with SO_RCVTIMEO/SO_SNDTIMEO as the
 * timeout.  Chunked answers are decoded in place.  Single-threaded.
 */
#include "hclient.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "err.h"

static int fail(struct hc *h, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct hc *h, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* host[:port] or [v6][:port] of len bytes into h. */
static int
parse_authority(struct hc *h, const char *s, size_t len)
{
	const char *colon = NULL;
	size_t nlen;

	if (len == 0 || len > HC_HOST_MAX)
		return NUDGE_EINVAL;
	memcpy(h->host, s, len);
	h->host[len] = '\0';
	if (s[0] == '[') {
		const char *rb = memchr(s, ']', len);

		if (rb == NULL || rb == s + 1)
			return NUDGE_EINVAL;
		memcpy(h->name, s + 1, (size_t)(rb - s - 1));
		h->name[rb - s - 1] = '\0';
		if (rb + 1 < s + len && rb[1] != ':')
			return NUDGE_EINVAL;
		colon = rb + 1 < s + len ? rb + 1 : NULL;
	} else {
		colon = memchr(s, ':', len);
		nlen = colon != NULL ? (size_t)(colon - s) : len;
		if (nlen == 0)
			return NUDGE_EINVAL;
		memcpy(h->name, s, nlen);
		h->name[nlen] = '\0';
	}
	snprintf(h->port, sizeof(h->port), "80");
	if (colon != NULL) {
		size_t plen = (size_t)(s + len - colon - 1);

		if (plen == 0 || plen > 5 ||
		    strspn(colon + 1, "0123456789") < plen ||
		    strtoul(colon + 1, NULL, 10) > 65535)
			return NUDGE_EINVAL;
		memcpy(h->port, colon + 1, plen);
		h->port[plen] = '\0';
	}
	return 0;
}

int
hc_init(struct hc *h, const char *url, uint32_t timeout_ms)
{
	const char *a, *slash;
	size_t alen;

	memset(h, 0, sizeof(*h));
	h->fd = -1;
	h->timeout_ms = timeout_ms;
	if (strncmp(url, "http://", 7) != 0)
		return fail(h, NUDGE_EINVAL, "%s: not an http:// URL", url);
	a = url + 7;
	slash = strchr(a, '/');
	alen = slash != NULL ? (size_t)(slash - a) : strlen(a);
	if (parse_authority(h, a, alen) != 0)
		return fail(h, NUDGE_EINVAL, "%s: bad host or port", url);
	if (slash == NULL)
		slash = "/";
	if (strlen(slash) > HC_PATH_MAX)
		return fail(h, NUDGE_EINVAL, "%s: path too long", url);
	snprintf(h->path, sizeof(h->path), "%s", slash);
	return 0;
}

static void
disconnect(struct hc *h)
{
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	h->reused = 0;
}

void
hc_fini(struct hc *h)
{
	disconnect(h);
	free(h->req);
	free(h->buf);
	h->req = h->buf = NULL;
	h->req_cap = h->cap = 0;
}

static void
set_timeouts(struct hc *h, int fd)
{
	struct timeval tv = {(time_t)(h->timeout_ms / 1000),
	    (suseconds_t)(h->timeout_ms % 1000) * 1000};
	int one = 1;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int
connect_to(struct hc *h)
{
	struct addrinfo hints = {0}, *res, *ai;
	int rv, err = 0;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rv = getaddrinfo(h->name, h->port, &hints, &res)) != 0)
		return fail(
		    h, NUDGE_ECONN, "%s: %s", h->name, gai_strerror(rv));
	for (ai = res; ai != NULL && h->fd < 0; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);

		if (fd < 0)
			continue;
		set_timeouts(h, fd);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
			h->fd = fd;
			break;
		}
		err = errno;
		close(fd);
	}
	freeaddrinfo(res);
	if (h->fd < 0)
		return fail(h, NUDGE_ECONN, "cannot connect to %s:%s: %s",
		    h->name, h->port, strerror(err));
	h->connects++;
	h->reused = 0;
	return 0;
}

static bool
grow(char **p, size_t *cap, size_t need)
{
	size_t c = *cap ? *cap : 4096;
	char *n;

	if (need <= *cap)
		return true;
	while (c < need)
		c *= 2;
	if ((n = realloc(*p, c)) == NULL)
		return false;
	*p = n;
	*cap = c;
	return true;
}

static int
build(struct hc *h, const char *ctype, const char *headers, const char *body,
    size_t len)
{
	int n;

	if (!grow(&h->req, &h->req_cap, HC_HEAD_MAX + len))
		return fail(h, NUDGE_ENOMEM, "out of memory");
	n = snprintf(h->req, HC_HEAD_MAX,
	    "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%s\r\n",
	    h->path, h->host, ctype, len, headers);
	if (n < 0 || n >= (int)HC_HEAD_MAX)
		return fail(h, NUDGE_ETOOBIG, "request head too long");
	memcpy(h->req + n, body, len);
	h->req_len = (size_t)n + len;
	return 0;
}

static int
io_error(struct hc *h, const char *what)
{
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return fail(h, NUDGE_ETIMEOUT, "%s %s:%s: timed out", what,
		    h->name, h->port);
	return fail(h, NUDGE_EIO, "%s %s:%s: %s", what, h->name, h->port,
	    strerror(errno));
}

static int
send_all(struct hc *h)
{
	size_t off = 0;

	while (off < h->req_len) {
		ssize_t k =
		    send(h->fd, h->req + off, h->req_len - off, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return io_error(h, "send to");
		off += (size_t)k;
	}
	return 0;
}

/* Reads until h->len >= need; NUDGE_ECONN on a clean close first. */
static int
need(struct hc *h, size_t n)
{
	if (n > HC_HEAD_MAX + HC_BODY_MAX)
		return fail(
		    h, NUDGE_ETOOBIG, "answer over %u bytes", HC_BODY_MAX);
	if (!grow(&h->buf, &h->cap, n + 1))
		return fail(h, NUDGE_ENOMEM, "out of memory");
	while (h->len < n) {
		ssize_t k =
		    recv(h->fd, h->buf + h->len, h->cap - 1 - h->len, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k == 0)
			return fail(h, NUDGE_ECONN,
			    "%s:%s closed the "
			    "connection",
			    h->name, h->port);
		if (k < 0)
			return io_error(h, "receive from");
		h->len += (size_t)k;
	}
	return 0;
}

/* Index just past the first "\r\n" at or after from, reading as needed. */
static int
line_end(struct hc *h, size_t from, size_t *out)
{
	int rc;

	for (;;) {
		for (size_t k = from; k + 1 < h->len; k++)
			if (h->buf[k] == '\r' && h->buf[k + 1] == '\n') {
				*out = k + 2;
				return 0;
			}
		if (h->len - from > HC_HEAD_MAX)
			return fail(h, NUDGE_ETOOBIG, "line too long");
		if ((rc = need(h, h->len + 1)) != 0)
			return rc;
	}
}

struct head {
	size_t end;     /* first body byte */
	long long clen; /* -1: none */
	bool chunked;
	bool close;
};

/* Case-insensitive header value of name in the line [s, e), or NULL. */
static const char *
header_value(const char *s, const char *e, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(e - s) <= n || strncasecmp(s, name, n) != 0 ||
	    s[n] != ':')
		return NULL;
	for (s += n + 1; s < e && (*s == ' ' || *s == '\t'); s++)
		;
	return s;
}

static int
read_head(struct hc *h, struct head *hd)
{
	size_t at = 0, next;
	int rc;

	if ((rc = line_end(h, 0, &next)) != 0)
		return rc;
	if (next < 14 || strncmp(h->buf, "HTTP/1.", 7) != 0 ||
	    sscanf(h->buf + 9, "%3d", &h->status) != 1)
		return fail(h, NUDGE_EIO, "not an HTTP answer");
	*hd = (struct head){.clen = -1};
	hd->close = h->buf[7] == '0';
	for (at = next;; at = next) {
		const char *v, *e;

		if ((rc = line_end(h, at, &next)) != 0)
			return rc;
		if (next == at + 2)
			break;
		e = h->buf + next - 2;
		if ((v = header_value(h->buf + at, e, "Content-Length")))
			hd->clen = strtoll(v, NULL, 10);
		else if ((v = header_value(
		              h->buf + at, e, "Transfer-Encoding")))
			hd->chunked =
			    memmem(v, (size_t)(e - v), "chunked", 7) != NULL;
		else if ((v = header_value(h->buf + at, e, "Connection")))
			hd->close = strncasecmp(v, "close", 5) == 0;
	}
	hd->end = next;
	return 0;
}

/* Decodes a chunked body in place; returns its length in *out. */
static int
read_chunked(struct hc *h, size_t start, size_t *out)
{
	size_t pos = start, w = start, next;
	int rc;

	for (;;) {
		unsigned long long size;
		char *e;

		if ((rc = line_end(h, pos, &next)) != 0)
			return rc;
		size = strtoull(h->buf + pos, &e, 16);
		if (e == h->buf + pos || size > HC_BODY_MAX)
			return fail(h, NUDGE_EIO, "bad chunk size");
		if (size == 0)
			break;
		if ((rc = need(h, next + size + 2)) != 0)
			return rc;
		memmove(h->buf + w, h->buf + next, size);
		w += size;
		pos = next + size + 2;
	}
	/* Trailers, up to the empty line. */
	for (pos = next;; pos = next) {
		if ((rc = line_end(h, pos, &next)) != 0)
			return rc;
		if (next == pos + 2)
			break;
	}
	*out = w - start;
	return 0;
}

/* Reads one answer; *any says whether a byte of it arrived. */
static int
read_answer(struct hc *h, bool *any, bool *close_after)
{
	struct head hd = {.clen = -1};
	size_t blen = 0;
	int rc;

	h->len = 0;
	rc = read_head(h, &hd);
	*any = h->len > 0;
	if (rc != 0)
		return rc;
	if (h->status == 204 || h->status == 304 || h->status < 200) {
		blen = 0;
	} else if (hd.chunked) {
		if ((rc = read_chunked(h, hd.end, &blen)) != 0)
			return rc;
	} else if (hd.clen >= 0) {
		if (hd.clen > (long long)HC_BODY_MAX)
			return fail(h, NUDGE_ETOOBIG, "answer over %u bytes",
			    HC_BODY_MAX);
		blen = (size_t)hd.clen;
		if ((rc = need(h, hd.end + blen)) != 0)
			return rc;
	} else {
		return fail(h, NUDGE_EIO, "answer without a length");
	}
	h->buf[hd.end + blen] = '\0';
	h->body = h->buf + hd.end;
	h->body_len = blen;
	*close_after = hd.close;
	return 0;
}

int
hc_post(struct hc *h, const char *ctype, const char *headers, const char *body,
    size_t len)
{
	int rc;

	if ((rc = build(h, ctype, headers, body, len)) != 0)
		return rc;
	for (int attempt = 0;; attempt++) {
		bool reused, any = false, close_after = false;

		if (h->fd < 0 && (rc = connect_to(h)) != 0)
			return rc;
		reused = h->reused > 0;
		rc = send_all(h);
		if (rc == 0)
			rc = read_answer(h, &any, &close_after);
		if (rc == 0) {
			h->reused++;
			if (close_after)
				disconnect(h);
			return 0;
		}
		disconnect(h);
		/* An idle connection the server closed: once more. */
		if (!reused || any || attempt > 0 || rc == NUDGE_ETIMEOUT)
			return rc;
	}
}
