/*
 * http.c - the beacon endpoint, the tag and the demo shop on libmicrohttpd.
 *
 * Owns the MHD daemon, the two rate limiters, the GeoIP handle, the tag's
 * prebuilt responses, the test decisions and the endpoint's counters.  MHD
 * runs [http] threads workers (epoll, one listen socket shared by a thread
 * pool); each request is handled start to end on one of them and updates
 * the session table directly under its shard's lock, so a beacon's answer
 * needs no queue hop.  Everything in struct http_server is read-only after
 * http_start except the atomics and the rate limiters' own locks.
 *
 * Requests use MHD's two-call pattern: the first call only looks at the
 * headers (route, method, origin, content type, length, address bucket)
 * and records a verdict; the answer is queued on a later call, after the
 * body was read.  Queuing on the first call makes MHD close the connection
 * (PLATFORM.md), which we want only for an announced oversized body.
 *
 * Per beacon the work is kept off the allocator: the body is gathered in
 * the request's own 2 KB (larger ones take one block), the decoding and
 * the answer use the worker's scratch, the clocks are read once, and the
 * answer's response object is reused while it repeats (reply_answer).
 */
#include "http.h"

#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "beacon.h"
#include "clock.h"
#include "geoip.h"
#include "netrange.h"
#include "log.h"
#include "netaddr.h"
#include "oneoff.h"
#include "ratelim.h"
#include "tarpit.h"
#include "web_tag.h"

#define HTTP_ORIGINS_MAX 32
#define HTTP_TAG_FILE_MAX (256u * 1024u)
#define HTTP_SHOP_FILE_MAX (8u * 1024u * 1024u)
#define HTTP_RATE_KEYS 65536
#define HTTP_REPLY_MAX 8192
#define HTTP_DEFAULT_LISTEN "127.0.0.1:7480"
#define HTTP_DRAIN_MAX (1024u * 1024u)
/* A body up to this size is gathered in the request itself (no malloc). */
#define HTTP_BODY_INLINE 2048u
/*
 * MHD's pool per connection (headers, its read and write buffers).  MHD
 * clears the pool between keep-alive requests, so its 32 KB default cost
 * a 32 KB memset per beacon; bodies are gathered in our own buffer
 * (req_body), so the pool only needs the headers and a read window.
 */
#define HTTP_CONN_MEMORY (16u * 1024u)
#define HTTP_BOT_SECONDS 3	/* "sustained": this many seconds' worth */
#define HTTP_BOT_HOLD_MS (10u * 60u * 1000u)
#define HTTP_CONN_LIMIT 4096u	/* MHD_OPTION_CONNECTION_LIMIT */
/* 429s held at once: the rest of the connections stay for everyone else */
#define HTTP_TARPIT_MAX (HTTP_CONN_LIMIT / 16u)

enum http_ctr {
	HC_REQUESTS = 0,
	HC_BEACONS,		/* beacons accepted */
	HC_EVENTS,		/* events applied */
	HC_REFUSED,		/* requests answered 4xx */
	HC_RATE_LIMITED,
	HC_XFF,			/* client taken from X-Forwarded-For */
	HC_BOT_BEACONS,
	HC_AUDIENCE,		/* audience-only beacons (DNT, GPC, consent) */
	HC_DECISIONS,		/* decisions sent */
	HC_GEO_HITS,		/* countries found (header or database) */
	HC_BOT_FAST,		/* bot beacons by page view rate (too_fast) */
	HC_BOT_DATACENTER,	/* bot beacons from [http] datacenter_ranges */
	HC_TARPITTED,		/* 429s held before they were sent */
	HC_COUNT
};

static const char *const ctr_names[HC_COUNT] = {
	"requests", "beacons", "events", "refused", "rate_limited",
	"xff_used", "bot_beacons", "audience_only", "decisions", "geo_hits",
	"bot_fast", "bot_datacenter", "tarpitted",
};

struct http_server {
	struct agent *a;
	const struct conf_http *cfg;
	struct MHD_Daemon *d;
	unsigned port;
	struct beacon_limits lim;
	struct net_cidrs trusted;
	unsigned n_origins;
	char origins[HTTP_ORIGINS_MAX][CONF_URL_MAX + 1];
	struct ratelim *rl_visitor;
	struct ratelim *rl_address;
	struct ratelim *rl_bots;	/* page views per visitor (too_fast) */
	struct ratelim *rl_strikes;	/* refusals per visitor or address */
	struct tarpit *tarpit;		/* NULL: [http] tarpit_ms = 0 */
	uint64_t salt;
	struct geoip *geo;
	struct netrange_ref datacenter;	/* replaced on SIGHUP */
	struct MHD_Response *tag_plain, *tag_gz;
	char etag[24];
	char *tag_file;
	struct http_decisions test;
	atomic_uint_fast64_t ctr[HC_COUNT];
	atomic_uint_fast64_t country[26 * 26];
	pthread_key_t scratch;	/* struct http_scratch of each worker */
	bool scratch_ok;	/* the key was created */
};

/* What the first call learnt about one request. */
struct http_req {
	const struct http_route *route;
	int status;		/* verdict of the first call; 0 = go on */
	const char *reason;
	const char *origin;	/* echoed in CORS headers when allowed */
	bool cors;
	bool trusted_peer;
	bool audience;		/* DNT: 1 or Sec-GPC: 1 */
	bool held;		/* in the tarpit: answer r->status when back */
	uint64_t limit_key;	/* the address's bucket, when it refused */
	struct net_addr client;
	size_t len, cap;
	size_t expect;		/* Content-Length when announced, else 0 */
	size_t drained;		/* body bytes dropped after a verdict */
	char *body;		/* inl, or malloc'd once past it */
	char inl[HTTP_BODY_INLINE];
};

typedef enum MHD_Result (*http_route_fn)(struct http_server *s,
    struct MHD_Connection *c, struct http_req *r, const char *url);

struct http_route {
	const char *path;
	bool prefix;		/* path is a prefix ("/shop/") */
	const char *methods;	/* for Allow: and 405 */
	bool beacon;		/* the POST checks apply */
	http_route_fn serve;
};

static const char *const kind_names[HTTP_KIND_COUNT] = {
	"banner", "popup", "message", "show", "hide", "shake", "coupon",
	"email",
};

int
http_kind_from_name(const char *name)
{
	for (int i = 0; i < HTTP_KIND_COUNT; i++)
		if (name != NULL && strcmp(name, kind_names[i]) == 0)
			return i;
	return -1;
}

const char *
http_kind_name(int kind)
{
	return kind >= 0 && kind < HTTP_KIND_COUNT ? kind_names[kind] : "";
}

/* enum rule_act -> enum http_kind; -1: nothing to show (score only). */
static const int8_t act_kind[RULE_ACT_COUNT] = {
	[RULE_ACT_SCORE] = -1,
	[RULE_ACT_BANNER] = HTTP_KIND_BANNER,
	[RULE_ACT_POPUP] = HTTP_KIND_POPUP,
	[RULE_ACT_MESSAGE] = HTTP_KIND_MESSAGE,
	[RULE_ACT_SHOW] = HTTP_KIND_SHOW,
	[RULE_ACT_HIDE] = HTTP_KIND_HIDE,
	[RULE_ACT_SHAKE] = HTTP_KIND_SHAKE,
	[RULE_ACT_COUPON] = HTTP_KIND_COUPON,
	[RULE_ACT_EMAIL] = HTTP_KIND_EMAIL,
};

/* Copies src cut to cap - 1 bytes: no vfprintf per decision field. */
static void
copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* The operator's one-off message for this visitor, if any (oneoff.h). */
static void
http_oneoff(struct agent *a, const struct http_visit *v,
    struct http_decisions *out)
{
	struct rrt_decision r;
	struct http_decision *d = &out->d[out->n];

	if (out->n >= HTTP_DECISIONS_MAX || a->oneoff == NULL ||
	    !oneoff_take(a->oneoff, v->visitor, clock_mono_ms(), &r) ||
	    r.kind >= RULE_ACT_COUNT || act_kind[r.kind] < 0)
		return;
	d->kind = (uint8_t)act_kind[r.kind];
	copy_cut(d->id, sizeof(d->id), r.id);
	copy_cut(d->sel, sizeof(d->sel), r.sel);
	copy_cut(d->text, sizeof(d->text), r.text);
	out->n++;
}

int
http_decide(struct agent *a, const struct http_visit *v,
    struct http_decisions *out)
{
	out->n = 0;
	for (unsigned i = 0; v->shown != NULL && i < v->shown->n &&
	    out->n < HTTP_DECISIONS_MAX; i++) {
		const struct rrt_decision *r = &v->shown->d[i];
		struct http_decision *d = &out->d[out->n];
		if (r->kind >= RULE_ACT_COUNT || act_kind[r->kind] < 0)
			continue;
		d->kind = (uint8_t)act_kind[r->kind];
		copy_cut(d->id, sizeof(d->id), r->id);
		copy_cut(d->sel, sizeof(d->sel), r->sel);
		copy_cut(d->text, sizeof(d->text), r->text);
		out->n++;
	}
	http_oneoff(a, v, out);
	return 0;
}

static void
count(struct http_server *s, enum http_ctr c, uint64_t n)
{
	atomic_fetch_add_explicit(&s->ctr[c], n, memory_order_relaxed);
}

/* ---- responses -------------------------------------------------------- */

struct jbuf {
	size_t len;
	bool full;
	char b[HTTP_REPLY_MAX];
};

/*
 * What one beacon needs besides its body, about 140 KB (struct beacon is
 * most of it).  Each worker thread keeps one for good (freed when the
 * thread ends), so no request allocates it: a beacon is handled start to
 * end on its worker, never two at once on one thread.
 */
struct http_scratch {
	struct beacon b;
	struct http_decisions out;
	struct rrt_shown shown;
	struct jbuf j;
	char watch[RRT_WATCH_JSON_MAX];
	char anon[24];		/* audience-only pseudonym (audience_only) */
	/* the last beacon answer, kept while answers repeat (reply_answer) */
	struct MHD_Response *res;
	size_t res_len;
	char res_body[HTTP_REPLY_MAX];
	char res_origin[CONF_URL_MAX + 1];	/* "" without CORS */
};

static void
jb_raw(struct jbuf *j, const char *s, size_t n)
{
	if (j->full || j->len + n >= sizeof(j->b)) {
		j->full = true;
		return;
	}
	memcpy(j->b + j->len, s, n);
	j->len += n;
	j->b[j->len] = '\0';
}

/* A JSON string; '<' and '>' escaped too, so no reader sees markup. */
static void
jb_str(struct jbuf *j, const char *s)
{
	char esc[8];

	jb_raw(j, "\"", 1);
	for (const unsigned char *p = (const void *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			jb_raw(j, esc, 2);
		} else if (*p < 0x20 || *p == '<' || *p == '>' || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			jb_raw(j, esc, 6);
		} else {
			jb_raw(j, (const char *)p, 1);
		}
	}
	jb_raw(j, "\"", 1);
}

static void
add_common(struct MHD_Response *res, const struct http_req *r)
{
	MHD_add_response_header(res, "X-Content-Type-Options", "nosniff");
	if (r != NULL && r->cors) {
		MHD_add_response_header(res, "Access-Control-Allow-Origin",
		    r->origin);
		MHD_add_response_header(res, "Vary", "Origin");
	}
}

/* A response holding a copy of body, with the headers every answer has. */
static struct MHD_Response *
response_new(const struct http_req *r, unsigned status, const char *type,
    const void *body, size_t len)
{
	struct MHD_Response *res = MHD_create_response_from_buffer(len,
	    (void *)body, MHD_RESPMEM_MUST_COPY);

	if (res == NULL)
		return NULL;
	if (type != NULL)
		MHD_add_response_header(res, "Content-Type", type);
	MHD_add_response_header(res, "Cache-Control", "no-store");
	if (status == MHD_HTTP_TOO_MANY_REQUESTS)
		MHD_add_response_header(res, "Retry-After", "1");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED && r->route != NULL)
		MHD_add_response_header(res, "Allow", r->route->methods);
	add_common(res, r);
	return res;
}

/* Queues res with status and drops our reference to it. */
static enum MHD_Result
queue_once(struct MHD_Connection *c, unsigned status,
    struct MHD_Response *res)
{
	enum MHD_Result ret = MHD_queue_response(c, status, res);

	MHD_destroy_response(res);
	return ret;
}

static enum MHD_Result
reply(struct MHD_Connection *c, const struct http_req *r, unsigned status,
    const char *type, const void *body, size_t len)
{
	struct MHD_Response *res = response_new(r, status, type, body, len);

	return res != NULL ? queue_once(c, status, res) : MHD_NO;
}

static enum MHD_Result
reply_error(struct http_server *s, struct MHD_Connection *c,
    const struct http_req *r, unsigned status, const char *reason)
{
	struct jbuf j = {0};

	count(s, HC_REFUSED, 1);
	jb_raw(&j, "{\"error\":", 9);
	jb_str(&j, reason);
	jb_raw(&j, "}", 1);
	return reply(c, r, status, "application/json", j.b, j.len);
}

/*
 * A 429 for the client whose bucket is key: at once, or held in the
 * tarpit when the client was refused too often (http_access answers it
 * when the tarpit hands the connection back).
 */
static enum MHD_Result
reply_limited(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, uint64_t key, const char *reason)
{
	r->status = MHD_HTTP_TOO_MANY_REQUESTS;
	r->reason = reason;
	if (s->tarpit != NULL &&
	    !ratelim_take(s->rl_strikes, key, clock_mono_ms()) &&
	    tarpit_hold(s->tarpit, c)) {
		r->held = true;
		count(s, HC_TARPITTED, 1);
		return MHD_YES;
	}
	return reply_error(s, c, r, (unsigned)r->status, reason);
}

/* ---- the first call: headers only ------------------------------------ */

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Same origin (Origin's host == Host) or one of [http] origins. */
static bool
origin_ok(const struct http_server *s, struct MHD_Connection *c,
    struct http_req *r)
{
	const char *host = r->trusted_peer && header(c, "X-Forwarded-Host") ?
	    header(c, "X-Forwarded-Host") : header(c, "Host");
	const char *auth;

	if (r->origin == NULL)
		return true; /* not a browser's cross-origin request */
	for (unsigned i = 0; i < s->n_origins; i++)
		if (strcasecmp(r->origin, s->origins[i]) == 0)
			return r->cors = true;
	auth = strstr(r->origin, "://");
	return auth != NULL && host != NULL && strcasecmp(auth + 3, host) == 0;
}

static bool
ctype_ok(const char *ct)
{
	static const char *const ok[] = {"text/plain", "application/json"};
	size_t n;

	if (ct == NULL)
		return false;
	n = strcspn(ct, "; \t");
	for (size_t i = 0; i < 2; i++)
		if (n == strlen(ok[i]) && strncasecmp(ct, ok[i], n) == 0)
			return true;
	return false;
}

static void
client_of(const struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, bool *from_xff)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c,
	    MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct net_addr peer;

	memset(&peer, 0, sizeof(peer));
	if (ci != NULL)
		net_addr_from_sockaddr(&peer, ci->client_addr);
	r->trusted_peer = net_cidrs_match(&s->trusted, &peer);
	*from_xff = net_client_addr(&peer, header(c, "X-Forwarded-For"),
	    &s->trusted, &r->client);
}

/* The POST /nudge/e checks that need no body; sets r->status. */
static void
check_beacon(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r)
{
	const char *cl = header(c, "Content-Length");
	uint64_t key, n = cl != NULL ? strtoull(cl, NULL, 10) : 0;

	if (!origin_ok(s, c, r)) {
		r->status = MHD_HTTP_FORBIDDEN;
		r->reason = "origin not allowed";
	} else if (!ctype_ok(header(c, "Content-Type"))) {
		r->status = MHD_HTTP_UNSUPPORTED_MEDIA_TYPE;
		r->reason = "content type must be text/plain or "
		    "application/json";
	} else if (n > s->lim.max_body) {
		r->status = MHD_HTTP_CONTENT_TOO_LARGE;
		r->reason = "body too large";
	} else {
		r->expect = (size_t)n;
		key = XXH64(r->client.b, sizeof(r->client.b), s->salt);
		if (s->cfg->rate_per_address != 0 &&
		    !ratelim_take(s->rl_address, key, clock_mono_ms())) {
			r->limit_key = key;
			r->status = MHD_HTTP_TOO_MANY_REQUESTS;
			r->reason = "rate limited (address)";
			count(s, HC_RATE_LIMITED, 1);
		}
	}
}

static const struct http_route *route_find(const char *url);

/* Whether method is one of the ", "-separated tokens of methods. */
static bool
method_ok(const char *methods, const char *method)
{
	size_t n = strlen(method);

	for (const char *p = methods; *p != '\0'; p += strspn(p, ", ")) {
		size_t k = strcspn(p, ", ");
		if (k == n && strncmp(p, method, n) == 0)
			return true;
		p += k;
	}
	return false;
}

static struct http_req *
req_begin(struct http_server *s, struct MHD_Connection *c, const char *url,
    const char *method)
{
	struct http_req *r = malloc(sizeof(*r));
	const char *dnt = header(c, "DNT"), *gpc = header(c, "Sec-GPC");
	bool from_xff;

	if (r == NULL)
		return NULL;
	/* all but the inline buffer: a beacon's 2 KB need not be cleared */
	memset(r, 0, offsetof(struct http_req, inl));
	r->body = r->inl;
	r->cap = sizeof(r->inl);
	count(s, HC_REQUESTS, 1);
	r->origin = header(c, "Origin");
	r->audience = (dnt && strcmp(dnt, "1") == 0) ||
	    (gpc && strcmp(gpc, "1") == 0);
	client_of(s, c, r, &from_xff);
	if (from_xff)
		count(s, HC_XFF, 1);
	if ((r->route = route_find(url)) == NULL) {
		r->status = MHD_HTTP_NOT_FOUND;
		r->reason = "no such endpoint";
	} else if (!method_ok(r->route->methods, method)) {
		r->status = MHD_HTTP_METHOD_NOT_ALLOWED;
		r->reason = "method not allowed";
	} else if (r->route->beacon && strcmp(method, "POST") == 0) {
		check_beacon(s, c, r);
	} else if (r->route->beacon && !origin_ok(s, c, r)) {
		r->status = MHD_HTTP_FORBIDDEN;	/* a preflight */
		r->reason = "origin not allowed";
	}
	return r;
}

/* Appends a body chunk; false when it would pass max_body. */
static bool
req_body(struct http_server *s, struct http_req *r, const char *p, size_t n)
{
	char *nb;

	if (r->len + n > s->lim.max_body)
		return false;
	/* past the inline buffer: the announced length, else the limit */
	if (r->len + n > r->cap) {
		size_t cap = r->len == 0 && r->expect >= n ? r->expect :
		    s->lim.max_body;
		if (r->body == r->inl) {
			if ((nb = malloc(cap)) == NULL)
				return false;
			memcpy(nb, r->inl, r->len);
		} else if ((nb = realloc(r->body, cap)) == NULL) {
			return false;
		}
		r->body = nb;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, n);
	r->len += n;
	return true;
}

/* ---- the beacon -------------------------------------------------------- */

static void
country_of(struct http_server *s, struct MHD_Connection *c,
    const struct http_req *r, char cc[3])
{
	const char *h = s->cfg->country_header[0] != '\0' && r->trusted_peer ?
	    header(c, s->cfg->country_header) : NULL;

	cc[0] = '\0';
	if (h != NULL && strlen(h) == 2 &&
	    ((h[0] | 0x20) >= 'a' && (h[0] | 0x20) <= 'z') &&
	    ((h[1] | 0x20) >= 'a' && (h[1] | 0x20) <= 'z')) {
		cc[0] = (char)(h[0] & ~0x20);
		cc[1] = (char)(h[1] & ~0x20);
		cc[2] = '\0';
	} else if (!geoip_country(s->geo, &r->client, cc)) {
		return;
	}
	count(s, HC_GEO_HITS, 1);
	atomic_fetch_add_explicit(&s->country[(cc[0] - 'A') * 26 +
	    (cc[1] - 'A')], 1, memory_order_relaxed);
}

/* Applies the batch as this client's; returns how many were applied. */
static unsigned
apply_batch(struct http_server *s, struct beacon *b, const char *cc,
    uint8_t device, bool targetable, struct rrt_shown *shown, uint64_t mono,
    uint64_t wall)
{
	unsigned ok = 0;

	for (unsigned i = 0; i < b->n; i++) {
		b->ev[i].device = device;
		memcpy(b->ev[i].country, cc, 3);
		/* agent_apply_ex: sessions, heatmaps, then the rules */
		if (agent_apply_ex(s->a, &b->ev[i], mono, wall, targetable,
		    shown) == 0)
			ok++;
	}
	count(s, HC_EVENTS, ok);
	return ok;
}

/* {"d": [...], "w": [...]}; "w" only when the rules watch something. */
static void
reply_decisions(struct jbuf *j, const struct http_decisions *out,
    const char *watch, size_t watch_len)
{
	jb_raw(j, "{\"d\":[", 6);
	for (unsigned i = 0; i < out->n; i++) {
		const struct http_decision *d = &out->d[i];
		jb_raw(j, i ? ",{\"id\":" : "{\"id\":", i ? 7 : 6);
		jb_str(j, d->id);
		jb_raw(j, ",\"kind\":", 8);
		jb_str(j, http_kind_name(d->kind));
		jb_raw(j, ",\"sel\":", 7);
		jb_str(j, d->sel);
		jb_raw(j, ",\"text\":", 8);
		jb_str(j, d->text);
		jb_raw(j, "}", 1);
	}
	jb_raw(j, "]", 1);
	if (watch_len > 0) {
		jb_raw(j, ",\"w\":", 5);
		jb_raw(j, watch, watch_len);
	}
	jb_raw(j, "}", 1);
}

/* Decisions for a visitor who may be targeted: the hook, then tests'. */
static void
decide(struct http_server *s, const struct beacon *b, const char *cc,
    uint8_t device, const struct rrt_shown *shown,
    struct http_decisions *out)
{
	struct http_visit v = {b->visitor, {0}, device, b->ev, b->n, shown};

	memcpy(v.country, cc, 3);
	if (http_decide(s->a, &v, out) != 0)
		out->n = 0;
	for (unsigned i = 0; i < s->test.n && out->n < HTTP_DECISIONS_MAX; i++)
		out->d[out->n++] = s->test.d[i];
	count(s, HC_DECISIONS, out->n);
}

/*
 * Bots by behaviour: no person turns pages faster than bot_pageviews_per_s
 * for HTTP_BOT_SECONDS on end.  A visitor id that does is a bot for
 * HTTP_BOT_HOLD_MS, beacons without page views included, so a crawler
 * cannot slip its other events into funnels between page loads.
 */
static bool
too_fast(struct http_server *s, const struct beacon *b, uint64_t mono)
{
	unsigned n = 0;

	if (s->cfg->bot_pageviews_per_s == 0)
		return false;	/* off (ratelim_mark would say so) */
	for (unsigned i = 0; i < b->n; i++)
		n += b->ev[i].type == EVENT_PAGEVIEW;
	if (!ratelim_mark(s->rl_bots, XXH64(b->visitor.ptr, b->visitor.len,
	    s->salt), mono, n, HTTP_BOT_HOLD_MS))
		return false;
	count(s, HC_BOT_FAST, 1);
	return true;
}

/*
 * Bots by address: a client (after the trusted-proxy walk) inside one of
 * [http] datacenter_ranges is a server, not a person's browser.
 */
static bool
from_datacenter(struct http_server *s, const struct http_req *r)
{
	if (!netrange_ref_has(&s->datacenter, &r->client))
		return false;
	count(s, HC_BOT_DATACENTER, 1);
	return true;
}

/*
 * An audience-only beacon (DNT, GPC, no consent; PRIVACY.md) is counted,
 * never targeted, and its visitor id is written nowhere: its events are
 * applied under "~" and 15 hex digits of a keyed hash of the id, the key
 * random per process (s->salt, in memory only) and changing every day, so
 * that sessions and funnels still count while nothing stored, published or
 * archived can be linked back to the id, or across days.
 */
static void
audience_only(struct http_server *s, struct beacon *b, char *anon, size_t cap,
    uint64_t wall)
{
	uint64_t day = wall / 86400000u;
	uint64_t h = XXH64(b->visitor.ptr, b->visitor.len, s->salt ^
	    (day * 0x9e3779b97f4a7c15ull));

	snprintf(anon, cap, "~%015llx",
	    (unsigned long long)(h & 0xfffffffffffffffull));
	for (unsigned i = 0; i < b->n; i++)
		b->ev[i].visitor = strv_of(anon);
}

static struct http_scratch *
scratch_get(struct http_server *s)
{
	struct http_scratch *x = pthread_getspecific(s->scratch);

	if (x == NULL && (x = malloc(sizeof(*x))) != NULL &&
	    pthread_setspecific(s->scratch, x) != 0) {
		free(x);
		x = NULL;
	}
	return x;
}

/* The thread's scratch, when the thread ends (the key's destructor). */
static void
scratch_free(void *p)
{
	struct http_scratch *x = p;

	if (x->res != NULL)
		MHD_destroy_response(x->res);
	free(x);
}

/*
 * Queues x->j as the beacon's 200 answer.  Most beacons get the same bytes
 * ({"d":[]} and the watch list), and a new response costs about a dozen
 * allocations (the body's copy, each header's name and value), so each
 * worker keeps its last answer's response and queues it again while body
 * and CORS origin are the same.  MHD counts a response's references: the
 * one replaced here lives on until the connections sending it are done.
 */
static enum MHD_Result
reply_answer(struct MHD_Connection *c, const struct http_req *r,
    struct http_scratch *x)
{
	const char *origin = r->cors ? r->origin : "";
	size_t olen = strlen(origin);
	struct MHD_Response *res;

	if (x->res == NULL || x->res_len != x->j.len ||
	    memcmp(x->res_body, x->j.b, x->j.len) != 0 ||
	    strcmp(x->res_origin, origin) != 0) {
		if ((res = response_new(r, MHD_HTTP_OK, "application/json",
		    x->j.b, x->j.len)) == NULL)
			return MHD_NO;
		if (olen >= sizeof(x->res_origin)) /* not kept: no CORS match */
			return queue_once(c, MHD_HTTP_OK, res);
		if (x->res != NULL)
			MHD_destroy_response(x->res);
		x->res = res;
		x->res_len = x->j.len;
		memcpy(x->res_body, x->j.b, x->j.len);
		memcpy(x->res_origin, origin, olen + 1);
	}
	return MHD_queue_response(c, MHD_HTTP_OK, x->res);
}

static enum MHD_Result
beacon_answer(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, struct http_scratch *x, uint64_t mono, uint64_t wall)
{
	static const struct http_decisions none = {0};
	const struct beacon *b = &x->b;
	const char *ua = header(c, "User-Agent");
	uint8_t device = (uint8_t)event_device_from_ua(strv_of(ua));
	char cc[3];
	bool audience = r->audience || (s->cfg->consent_required &&
	    !b->consent);
	size_t watch_len;

	if (too_fast(s, b, mono) || b->webdriver || from_datacenter(s, r))
		device = DEVICE_BOT;
	country_of(s, c, r, cc);
	x->shown.n = 0;
	x->shown.n_trials = 0;
	if (audience)
		audience_only(s, &x->b, x->anon, sizeof(x->anon), wall);
	apply_batch(s, &x->b, cc, device, !audience && device != DEVICE_BOT,
	    &x->shown, mono, wall);
	count(s, HC_BEACONS, 1);
	if (device == DEVICE_BOT)
		count(s, HC_BOT_BEACONS, 1);
	if (audience)
		count(s, HC_AUDIENCE, 1);
	x->out.n = 0;
	if (!audience && device != DEVICE_BOT)
		decide(s, b, cc, device, &x->shown, &x->out);
	watch_len = s->a->rules != NULL && !audience ?
	    rrt_watch_json(s->a->rules, x->watch, sizeof(x->watch)) : 0;
	x->j.len = 0;
	x->j.full = false;
	reply_decisions(&x->j, &x->out, x->watch, watch_len);
	if (x->j.full) {	/* too long: drop the decisions, keep it JSON */
		x->j.len = 0;
		x->j.full = false;
		reply_decisions(&x->j, &none, x->watch, watch_len);
	}
	return reply_answer(c, r, x);
}

static enum MHD_Result
route_beacon(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, const char *url)
{
	struct http_scratch *x = scratch_get(s);
	struct nudge_diag d = {0};
	uint64_t key, mono = clock_mono_ms(), wall = clock_wall_ms();
	unsigned seen = 0;
	enum MHD_Result ret;
	int rv;

	(void)url;
	if (x == NULL)
		return reply_error(s, c, r, 503, "out of memory");
	rv = beacon_decode(&x->b, r->body, r->len, &s->lim,
	    wall, &seen, &d);
	if (rv != 0) {
		sesstab_count_rejected(s->a->sessions, seen ? seen : 1);
		return reply_error(s, c, r, MHD_HTTP_BAD_REQUEST, d.msg);
	}
	key = XXH64(x->b.visitor.ptr, x->b.visitor.len, s->salt);
	if (!ratelim_take(s->rl_visitor, key, mono)) {
		sesstab_count_rejected(s->a->sessions, x->b.n);
		beacon_fini(&x->b);
		count(s, HC_RATE_LIMITED, 1);
		return reply_limited(s, c, r, key, "rate limited (visitor)");
	}
	ret = beacon_answer(s, c, r, x, mono, wall);
	beacon_fini(&x->b);
	return ret;
}

static enum MHD_Result
route_preflight(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, const char *url)
{
	struct MHD_Response *res = MHD_create_response_from_buffer(0, "",
	    MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	(void)s;
	(void)url;
	if (res == NULL)
		return MHD_NO;
	add_common(res, r);
	MHD_add_response_header(res, "Access-Control-Allow-Methods",
	    "POST, GET, OPTIONS");
	MHD_add_response_header(res, "Access-Control-Allow-Headers",
	    "Content-Type");
	MHD_add_response_header(res, "Access-Control-Max-Age", "86400");
	ret = MHD_queue_response(c, MHD_HTTP_NO_CONTENT, res);
	MHD_destroy_response(res);
	return ret;
}

/* ---- the tag, health, the shop --------------------------------------- */

static enum MHD_Result
route_tag(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, const char *url)
{
	const char *inm = header(c, "If-None-Match");
	const char *ae = header(c, "Accept-Encoding");
	struct MHD_Response *res;
	enum MHD_Result ret;

	(void)url;
	if (inm != NULL && strstr(inm, s->etag) != NULL) {
		if ((res = MHD_create_response_from_buffer(0, "",
		    MHD_RESPMEM_PERSISTENT)) == NULL)
			return MHD_NO;
		MHD_add_response_header(res, "ETag", s->etag);
		add_common(res, r);
		ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, res);
		MHD_destroy_response(res);
		return ret;
	}
	res = s->tag_gz != NULL && ae != NULL && strstr(ae, "gzip") != NULL ?
	    s->tag_gz : s->tag_plain;
	return MHD_queue_response(c, MHD_HTTP_OK, res);
}

static enum MHD_Result
route_health(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, const char *url)
{
	struct jbuf *j = calloc(1, sizeof(*j));
	char num[64];
	enum MHD_Result ret;

	(void)url;
	if (j == NULL)
		return MHD_NO;
	jb_raw(j, "{\"ok\":true,\"agent\":", 19);
	jb_str(j, s->a->cfg->agent.name);
	for (int i = 0; i < HC_COUNT; i++) {
		int n = snprintf(num, sizeof(num), ",\"%s\":%llu", ctr_names[i],
		    (unsigned long long)atomic_load(&s->ctr[i]));
		jb_raw(j, num, (size_t)n);
	}
	if (s->tarpit != NULL) {
		struct tarpit_stats st = tarpit_stats(s->tarpit);
		int n = snprintf(num, sizeof(num), ",\"tarpit_held\":%zu,"
		    "\"tarpit_full\":%llu", st.held,
		    (unsigned long long)st.overflows);
		jb_raw(j, num, (size_t)n);
	}
	jb_raw(j, s->geo ? ",\"geoip\":true" : ",\"geoip\":false", s->geo ?
	    13 : 14);
	jb_raw(j, ",\"countries\":{", 14);
	for (int i = 0, first = 1; i < 26 * 26; i++) {
		uint64_t v = atomic_load(&s->country[i]);
		if (v == 0)
			continue;
		int n = snprintf(num, sizeof(num), "%s\"%c%c\":%llu",
		    first ? "" : ",", 'A' + i / 26, 'A' + i % 26,
		    (unsigned long long)v);
		jb_raw(j, num, (size_t)n);
		first = 0;
	}
	jb_raw(j, "}}", 2);
	ret = reply(c, r, MHD_HTTP_OK, "application/json", j->b, j->len);
	free(j);
	return ret;
}

static const char *
mime_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{".html", "text/html; charset=utf-8"},
		{".css", "text/css; charset=utf-8"},
		{".js", "application/javascript; charset=utf-8"},
		{".json", "application/json"}, {".svg", "image/svg+xml"},
		{".png", "image/png"}, {".ico", "image/x-icon"},
		{".txt", "text/plain; charset=utf-8"},
	};
	const char *dot = strrchr(path, '.');

	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* Only [A-Za-z0-9._/-], no component starting with '.', bounded. */
static bool
shop_path_ok(const char *rel)
{
	size_t n = strlen(rel);

	if (n > 200)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = rel[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum && strchr("._/-", ch) == NULL)
			return false;
		if (ch == '.' && (i == 0 || rel[i - 1] == '/'))
			return false;
	}
	return true;
}

static enum MHD_Result
route_shop(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, const char *url)
{
	const char *rel = url + strlen("/shop/");
	char path[CONF_PATH_MAX + 256];
	struct MHD_Response *res;
	struct stat st;
	int fd;
	enum MHD_Result ret;

	if (s->cfg->shop_dir[0] == '\0' || !shop_path_ok(rel))
		return reply_error(s, c, r, MHD_HTTP_NOT_FOUND, "not found");
	snprintf(path, sizeof(path), "%s/%s%s", s->cfg->shop_dir, rel,
	    rel[0] == '\0' || rel[strlen(rel) - 1] == '/' ? "index.html" : "");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return reply_error(s, c, r, MHD_HTTP_NOT_FOUND, "not found");
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > (off_t)HTTP_SHOP_FILE_MAX ||
	    (res = MHD_create_response_from_fd((size_t)st.st_size, fd)) ==
	    NULL) {
		close(fd);
		return reply_error(s, c, r, MHD_HTTP_NOT_FOUND, "not found");
	}
	MHD_add_response_header(res, "Content-Type", mime_of(path));
	MHD_add_response_header(res, "Cache-Control", "no-cache");
	add_common(res, r);
	ret = MHD_queue_response(c, MHD_HTTP_OK, res);
	MHD_destroy_response(res);
	return ret;
}

static const struct http_route routes[] = {
	{"/nudge/nudge.js", false, "GET, HEAD", false, route_tag},
	{"/nudge/e", false, "POST, OPTIONS", true, NULL},
	{"/nudge/health", false, "GET, HEAD", false, route_health},
	{"/shop/", true, "GET, HEAD", false, route_shop},
};

static const struct http_route *
route_find(const char *url)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct http_route *rt = &routes[i];
		if (rt->prefix ? strncmp(url, rt->path, strlen(rt->path)) == 0 :
		    strcmp(url, rt->path) == 0)
			return rt;
	}
	return NULL;
}

/* ---- MHD callbacks ----------------------------------------------------- */

static enum MHD_Result
req_finish(struct http_server *s, struct MHD_Connection *c,
    struct http_req *r, const char *url, const char *method)
{
	if (r->status == MHD_HTTP_TOO_MANY_REQUESTS)
		return reply_limited(s, c, r, r->limit_key, r->reason);
	if (r->status != 0)
		return reply_error(s, c, r, (unsigned)r->status, r->reason);
	if (r->route->beacon)
		return strcmp(method, "POST") == 0 ?
		    route_beacon(s, c, r, url) : route_preflight(s, c, r, url);
	return r->route->serve(s, c, r, url);
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *up,
    size_t *up_size, void **con_cls)
{
	struct http_server *s = cls;
	struct http_req *r = *con_cls;

	(void)version;
	if (r == NULL) {
		if ((r = req_begin(s, c, url, method)) == NULL)
			return MHD_NO;
		*con_cls = r;
		/* an announced oversized body is refused before it is read */
		if (r->status == MHD_HTTP_CONTENT_TOO_LARGE)
			return reply_error(s, c, r, (unsigned)r->status,
			    r->reason);
		return MHD_YES;
	}
	if (r->held) {		/* back from the tarpit */
		r->held = false;
		tarpit_release(s->tarpit);
		return reply_error(s, c, r, (unsigned)r->status, r->reason);
	}
	if (*up_size > 0) {
		size_t n = *up_size;
		*up_size = 0;
		/* once the verdict is known the rest is drained and dropped,
		 * up to a bound past which the connection is simply closed */
		r->drained += r->status != 0 ? n : 0;
		if (r->status != 0)
			return r->drained <= HTTP_DRAIN_MAX ? MHD_YES : MHD_NO;
		if (!req_body(s, r, up, n)) {
			r->status = MHD_HTTP_CONTENT_TOO_LARGE;
			r->reason = "body too large";
		}
		return MHD_YES;
	}
	return req_finish(s, c, r, url, method);
}

static void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	(void)c;
	(void)toe;
	if (r != NULL) {
		if (r->held)	/* closed while held: never handed back */
			tarpit_release(((struct http_server *)cls)->tarpit);
		if (r->body != r->inl)
			free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static void
http_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

/* ---- start and stop ---------------------------------------------------- */

static int
load_file(const char *path, size_t max, char **out, size_t *len,
    struct nudge_diag *d)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (f == NULL) {
		nudge_diag_set(d, 0, 0, "cannot open %s", path);
		return NUDGE_EIO;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(f);
		return NUDGE_ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	fclose(f);
	if (n > max) {
		free(buf);
		nudge_diag_set(d, 0, 0, "%s: over %zu bytes", path, max);
		return NUDGE_ETOOBIG;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int
tag_responses(struct http_server *s, struct nudge_diag *d)
{
	const void *js = web_tag_js;
	size_t len = web_tag_js_len;
	int rv;

	if (s->cfg->tag_path[0] != '\0') {
		/* an override is served as it is: no gzip form */
		if ((rv = load_file(s->cfg->tag_path, HTTP_TAG_FILE_MAX,
		    &s->tag_file, &len, d)) != 0)
			return rv;
		js = s->tag_file;
	} else {
		s->tag_gz = MHD_create_response_from_buffer(web_tag_js_gz_len,
		    (void *)web_tag_js_gz, MHD_RESPMEM_PERSISTENT);
	}
	s->tag_plain = MHD_create_response_from_buffer(len, (void *)js,
	    MHD_RESPMEM_PERSISTENT);
	if (s->tag_plain == NULL || (s->tag_file == NULL && s->tag_gz == NULL))
		return NUDGE_ENOMEM;
	snprintf(s->etag, sizeof(s->etag), "\"%016llx\"",
	    (unsigned long long)XXH64(js, len, 0));
	for (int i = 0; i < 2; i++) {
		struct MHD_Response *res = i ? s->tag_gz : s->tag_plain;
		if (res == NULL)
			continue;
		MHD_add_response_header(res, "Content-Type",
		    "application/javascript; charset=utf-8");
		MHD_add_response_header(res, "Cache-Control",
		    "public, max-age=3600");
		MHD_add_response_header(res, "ETag", s->etag);
		MHD_add_response_header(res, "Vary", "Accept-Encoding");
		MHD_add_response_header(res, "X-Content-Type-Options",
		    "nosniff");
		if (i)
			MHD_add_response_header(res, "Content-Encoding",
			    "gzip");
	}
	return 0;
}

static int
test_decision(struct http_decision *out, const json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	const char *sel = json_string_value(json_object_get(o, "sel"));
	const char *text = json_string_value(json_object_get(o, "text"));
	int kind = http_kind_from_name(json_string_value(json_object_get(o,
	    "kind")));

	if (!json_is_object(o) || kind < 0 || id == NULL ||
	    strlen(id) > HTTP_ID_MAX || (sel && strlen(sel) > HTTP_SEL_MAX) ||
	    (text && strlen(text) > HTTP_TEXT_MAX))
		return -1;
	memset(out, 0, sizeof(*out));
	out->kind = (uint8_t)kind;
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->sel, sizeof(out->sel), "%s", sel ? sel : "");
	snprintf(out->text, sizeof(out->text), "%s", text ? text : "");
	return 0;
}

/* [http] test_decisions: a JSON array of decisions sent to everyone. */
static int
load_test_decisions(struct http_server *s, struct nudge_diag *d)
{
	const char *path = s->cfg->test_decisions;
	json_error_t je;
	json_t *root;
	size_t i;

	if (path[0] == '\0')
		return 0;
	if ((root = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) ==
	    NULL) {
		nudge_diag_set(d, je.line, je.column, "test_decisions %s:%d: "
		    "%s", path, je.line, je.text);
		return NUDGE_ECONFIG;
	}
	if (!json_is_array(root) || json_array_size(root) > HTTP_DECISIONS_MAX)
		i = 0;
	else
		for (i = 0; i < json_array_size(root); i++)
			if (test_decision(&s->test.d[i],
			    json_array_get(root, i)) != 0)
				break;
	if (!json_is_array(root) || i != json_array_size(root)) {
		json_decref(root);
		nudge_diag_set(d, 0, 0, "test_decisions %s: want an array of "
		    "at most %d {id, kind, sel, text}", path,
		    HTTP_DECISIONS_MAX);
		return NUDGE_ECONFIG;
	}
	s->test.n = (unsigned)i;
	log_warn("http: test_decisions %s: %u decisions sent with every "
	    "beacon (a testing aid)", path, s->test.n);
	json_decref(root);
	return 0;
}

static void
parse_origins(struct http_server *s)
{
	const char *p = s->cfg->origins;

	while (*p != '\0' && s->n_origins < HTTP_ORIGINS_MAX) {
		size_t n;
		p += strspn(p, ", \t");
		if ((n = strcspn(p, ", \t")) == 0)
			break;
		snprintf(s->origins[s->n_origins++], CONF_URL_MAX + 1, "%.*s",
		    (int)n, p);
		p += n;
	}
}

static void
conn_suspend(void *c)
{
	MHD_suspend_connection(c);
}

static void
conn_resume(void *c)
{
	MHD_resume_connection(c);
}

static int
http_setup(struct http_server *s, struct nudge_diag *d)
{
	const struct conf_http *h = s->cfg;
	unsigned burst_addr = h->rate_per_address * 2;
	int rv;

	s->lim.max_body = h->max_body;
	s->lim.max_events = h->max_events;
	parse_origins(s);
	if ((rv = net_cidrs_parse(&s->trusted, h->trusted_proxies, d)) != 0)
		return NUDGE_ECONFIG;
	if ((rv = ratelim_new(&s->rl_visitor, HTTP_RATE_KEYS,
	    h->rate_per_visitor, h->rate_burst)) != 0 ||
	    (rv = ratelim_new(&s->rl_address, HTTP_RATE_KEYS,
	    h->rate_per_address, burst_addr ? burst_addr : 1)) != 0 ||
	    (rv = ratelim_new(&s->rl_bots, HTTP_RATE_KEYS,
	    h->bot_pageviews_per_s, h->bot_pageviews_per_s ?
	    h->bot_pageviews_per_s * HTTP_BOT_SECONDS : 1)) != 0 ||
	    (rv = ratelim_new(&s->rl_strikes, HTTP_RATE_KEYS,
	    h->tarpit_after >= 10 ? h->tarpit_after / 10 : 1,
	    h->tarpit_after)) != 0)
		return rv;
	if (h->tarpit_ms != 0 && (rv = tarpit_new(&s->tarpit, HTTP_TARPIT_MAX,
	    h->tarpit_ms, conn_suspend, conn_resume)) != 0)
		return rv;
	if (pthread_key_create(&s->scratch, scratch_free) != 0)
		return NUDGE_ENOMEM;
	s->scratch_ok = true;
	s->salt = XXH64(&s, sizeof(&s), clock_mono_ms() ^ clock_wall_ms());
	if (h->geoip_db[0] != '\0' &&
	    (rv = geoip_open(&s->geo, h->geoip_db, d)) != 0)
		return rv;
	if ((rv = http_reload_ranges(s, h->datacenter_ranges, d)) != 0)
		return NUDGE_ECONFIG;
	if ((rv = load_test_decisions(s, d)) != 0)
		return rv;
	return tag_responses(s, d);
}

/* "host:port" -> a socket address (numeric or resolvable host). */
static int
listen_addr(const char *listen, struct sockaddr_storage *ss,
    struct nudge_diag *d)
{
	char host[CONF_URL_MAX + 1];
	const char *colon = strrchr(listen, ':');
	struct addrinfo hints = {0}, *ai = NULL;
	size_t n = colon ? (size_t)(colon - listen) : 0;

	if (colon == NULL || n >= sizeof(host))
		return NUDGE_ECONFIG;
	if (listen[0] == '[' && n >= 2)
		snprintf(host, sizeof(host), "%.*s", (int)n - 2, listen + 1);
	else
		snprintf(host, sizeof(host), "%.*s", (int)n, listen);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai) != 0 ||
	    ai == NULL) {
		nudge_diag_set(d, 0, 0, "http listen %s: cannot resolve",
		    listen);
		return NUDGE_ECONFIG;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	return 0;
}

static int
http_listen(struct http_server *s, struct nudge_diag *d)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *di;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	int rv;

	if ((rv = listen_addr(s->cfg->listen, &ss, d)) != 0)
		return rv;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (s->tarpit != NULL)
		flags |= MHD_ALLOW_SUSPEND_RESUME;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, http_access, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg->threads,
	    MHD_OPTION_CONNECTION_TIMEOUT, 15u,
	    MHD_OPTION_CONNECTION_LIMIT, HTTP_CONN_LIMIT,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
	    MHD_OPTION_EXTERNAL_LOGGER, http_log, s,
	    MHD_OPTION_END);
	if (s->d == NULL) {
		nudge_diag_set(d, 0, 0, "http: cannot listen on %s (address "
		    "in use?)", s->cfg->listen);
		return NUDGE_ECONN;
	}
	di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	return 0;
}

void
http_stop(struct http_server *s)
{
	if (s == NULL)
		return;
	/* MHD must not be stopped with connections suspended */
	if (s->tarpit != NULL && tarpit_close(s->tarpit, 2000) != 0)
		log_warn("http: %zu connections still held by the tarpit",
		    tarpit_stats(s->tarpit).held);
	if (s->d != NULL)
		MHD_stop_daemon(s->d);
	tarpit_free(s->tarpit);
	if (s->tag_plain != NULL)
		MHD_destroy_response(s->tag_plain);
	if (s->tag_gz != NULL)
		MHD_destroy_response(s->tag_gz);
	free(s->tag_file);
	geoip_close(s->geo);
	netrange_ref_fini(&s->datacenter);
	ratelim_free(s->rl_visitor);
	ratelim_free(s->rl_address);
	ratelim_free(s->rl_bots);
	ratelim_free(s->rl_strikes);
	/* MHD_stop_daemon joined the workers: their scratch is freed */
	if (s->scratch_ok)
		pthread_key_delete(s->scratch);
	free(s);
}

int
http_start(struct http_server **out, struct agent *a, struct nudge_diag *d)
{
	const struct conf_http *h = &a->cfg->http;
	struct http_server *s;
	int rv;

	*out = NULL;
	if (h->listen[0] == '\0')
		return 0;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NUDGE_ENOMEM;
	s->a = a;
	s->cfg = h;
	netrange_ref_init(&s->datacenter);
	if ((rv = http_setup(s, d)) == 0 && (rv = http_listen(s, d)) != 0 &&
	    strcmp(h->listen, HTTP_DEFAULT_LISTEN) == 0) {
		log_warn("%s: no browser tag or beacons on this agent (set "
		    "[http] listen)", d->msg);
		http_stop(s);
		return 0;
	}
	if (rv != 0) {
		http_stop(s);
		return rv;
	}
	log_info("http: listening on %s (port %u)%s%s", h->listen, s->port,
	    h->shop_dir[0] ? ", demo shop at /shop/" : "",
	    s->geo ? ", geoip on" : "");
	*out = s;
	return 0;
}

int
http_reload_ranges(struct http_server *s, const char *path,
    struct nudge_diag *d)
{
	struct netrange *t = NULL;
	int rv;

	if (s == NULL)
		return 0;
	if (path[0] != '\0' && (rv = netrange_load(&t, path, d)) != 0)
		return rv;
	netrange_ref_swap(&s->datacenter, t);
	if (t != NULL)
		log_info("http: %zu datacenter ranges from %s",
		    netrange_count(t), path);
	return 0;
}

unsigned
http_port(const struct http_server *s)
{
	return s ? s->port : 0;
}
