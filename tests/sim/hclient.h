/*
 * hclient.h - the smallest HTTP/1.1 client nudge-sim needs: POST a body
 * to one URL over one keep-alive connection and read the answer.
 *
 * Why not libcurl: the simulator talks to exactly one endpoint, nudged's
 * POST /nudge/e, in plain HTTP (on loopback, or through the shop's nginx),
 * one request at a time.  A hundred and fifty lines over a socket do that
 * with no new build or package dependency, no allocation per request, and
 * exact control of what goes on the wire (headers, one write per request,
 * TCP_NODELAY), which a load generator wants.  No TLS, no redirects, no
 * proxies: put the simulator where it can reach the agent in clear.
 *
 * Answers with Content-Length or chunked bodies are read; "Connection:
 * close" or a closed idle connection are handled by reconnecting for the
 * next request.  A request on a reused connection that fails before any
 * byte of the answer arrived is sent once more on a fresh one (the server
 * closed the idle connection under us).  Bodies are bounded by HC_BODY_MAX.
 *
 * Every function returns 0 or a negative enum nudge_err and leaves a
 * message in h->err.  One struct hc per thread.
 */
#ifndef NUDGE_SIM_HCLIENT_H
#define NUDGE_SIM_HCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_HOST_MAX 255
#define HC_PATH_MAX 1023
#define HC_BODY_MAX (1u << 20)
#define HC_HEAD_MAX 16384

struct hc {
	char host[HC_HOST_MAX + 1]; /* as in the URL, for Host: */
	char name[HC_HOST_MAX + 1]; /* for getaddrinfo, no brackets */
	char port[8];
	char path[HC_PATH_MAX + 1];
	uint32_t timeout_ms;
	int fd;          /* -1 when not connected */
	unsigned reused; /* requests on the current connection */
	char *req;       /* the request being sent; owned */
	size_t req_len, req_cap;
	char *buf; /* the answer's bytes; owned */
	size_t len, cap;
	int status;       /* of the last answer */
	const char *body; /* into buf: the last answer's body, NUL-ended */
	size_t body_len;
	uint64_t connects;
	char err[256];
};

/*
 * Parses url ("http://host[:port]/path", host a name, IPv4 or [IPv6])
 * into h; connects lazily.  Returns 0 or NUDGE_EINVAL.
 */
int hc_init(struct hc *h, const char *url, uint32_t timeout_ms);

/*
 * POSTs len bytes of body with Content-Type ctype and the extra header
 * lines in headers ("Name: value\r\n" each, or ""), then reads the answer
 * into h->status, h->body, h->body_len (valid until the next call).  Any
 * status is a success here; NUDGE_ECONN, NUDGE_ETIMEOUT, NUDGE_EIO or
 * NUDGE_ETOOBIG when no well-formed answer came.
 */
int hc_post(struct hc *h, const char *ctype, const char *headers,
    const char *body, size_t len);

/* Closes the connection and frees the buffer; h may be hc_init'ed again. */
void hc_fini(struct hc *h);

#endif
