/*
 * http.h - the agent's HTTP side: the browser tag, the beacon endpoint and
 * (for the demo) a static shop, on libmicrohttpd.
 *
 * Endpoints ([http] listen, default 127.0.0.1:7480; "" disables):
 *
 *	GET  /nudge/nudge.js   the tag, from memory; ETag + Cache-Control
 *	                       max-age=3600; the gzip form (precomputed at
 *	                       build time) when Accept-Encoding has gzip;
 *	                       304 on If-None-Match
 *	POST /nudge/e          a batch of events (agent/beacon.h); answers
 *	                       200 {"d": [DECISION, ...]} in the same round trip
 *	OPTIONS /nudge/e       CORS preflight for a configured origin
 *	GET  /nudge/health     {"ok": true, ...counters...}
 *	GET  /shop/...         files of [http] shop_dir, when set
 *
 * A bad request gets its 4xx with {"error": "short reason"} and costs no
 * session update: 404 unknown path, 405 wrong method, 403 an Origin that is
 * neither the page's own (Origin host == Host) nor in [http] origins, 415
 * a content type other than text/plain (what sendBeacon sends) or
 * application/json, 413 a body over max_body (refused from Content-Length
 * before it is read), 400 bad JSON, too many events or a bad field, 429
 * over the per-address or per-visitor token bucket (Retry-After: 1).  A
 * visitor or address refused more than [http] tarpit_after times (its
 * strikes refill at a tenth of that a second) has its next 429s held
 * [http] tarpit_ms (default 1 s) before they are sent (agent/tarpit.h;
 * health: tarpitted, tarpit_held, tarpit_full).
 *
 * DECISION, what the tag renders (always as text, never as HTML):
 *
 *	{"id": "rule name", "kind": KIND, "sel": "CSS selector", "text": "..."}
 *
 * KIND is one of banner, popup, message (text shown in an element the tag
 * makes), show, hide (the element at sel), shake (sel, a CSS animation),
 * coupon (reveals sel, default #promo-code), email (an email capture form;
 * text is its prompt).  sel and text may be "" or absent.  Holes in a
 * rule's text ({country}) are filled by the agent before it is sent.  An
 * answer also carries "w": [selectors] the tag should watch (hover,
 * visible), replacing its default [".price"], when the active rules have
 * any: rrt_watch_json, the strings they compare target with in conditions
 * on event "hover" or "visible" (not for audience-only beacons).
 *
 * Privacy: a beacon with DNT: 1 or Sec-GPC: 1, or without "consent": true
 * when [http] consent_required is on, is audience only: its events are
 * counted and applied, no decision is ever returned and no identifier is
 * set (the agent never sets cookies).  The client address (the TCP peer,
 * or X-Forwarded-For when the peer is in trusted_proxies) is used for rate
 * limiting and the country lookup, and is never stored.  Bots (User-Agent,
 * headless browsers, "wd": true from navigator.webdriver) are counted
 * apart: DEVICE_BOT, no session.  So is, by behaviour, a visitor id whose
 * page views come faster than [http] bot_pageviews_per_s (default 4) for
 * more than 3 seconds' worth at once (a token bucket of 3 x the rate): it
 * stays a bot for 10 minutes, every beacon of it (health: bot_fast).
 * So is every beacon whose client address is in one of the CIDR ranges of
 * the file [http] datacenter_ranges (agent/netrange.h; health:
 * bot_datacenter): cloud servers, not people's browsers.
 *
 * Threads: http_start/http_stop on the main thread; requests are served by
 * [http] threads worker threads which update the session table directly.
 */
#ifndef NUDGE_HTTP_H
#define NUDGE_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "err.h"
#include "event.h"
#include "rules_rt.h"

#define HTTP_DECISIONS_MAX 8
#define HTTP_ID_MAX 63
#define HTTP_SEL_MAX 255
#define HTTP_TEXT_MAX 512

enum http_kind {
	HTTP_KIND_BANNER = 0,
	HTTP_KIND_POPUP,
	HTTP_KIND_MESSAGE,
	HTTP_KIND_SHOW,
	HTTP_KIND_HIDE,
	HTTP_KIND_SHAKE,
	HTTP_KIND_COUPON,
	HTTP_KIND_EMAIL,
	HTTP_KIND_COUNT
};

/* "banner", ...; -1 for an unknown name. */
int http_kind_from_name(const char *name);
const char *http_kind_name(int kind);

struct http_decision {
	uint8_t kind;			/* enum http_kind */
	char id[HTTP_ID_MAX + 1];
	char sel[HTTP_SEL_MAX + 1];
	char text[HTTP_TEXT_MAX + 1];	/* holes already filled */
};

struct http_decisions {
	unsigned n;
	struct http_decision d[HTTP_DECISIONS_MAX];
};

/* One beacon's visitor as the decision hook sees it (all borrowed). */
struct http_visit {
	struct nudge_strv visitor;
	char country[3];
	uint8_t device;
	const struct nudge_event *ev;	/* the batch, already applied */
	unsigned n;
	const struct rrt_shown *shown;	/* what the rules fired for it */
};

/*
 * The decision hook: what visitor v should see now, after its batch was
 * applied.  Called on the beacon's worker thread, never for audience-only
 * beacons or bots.  The rules were evaluated once per event as the batch
 * went through agent_apply_ex (agent/rules_rt.h); their visible actions,
 * already recorded as shown for caps, are in v->shown and are mapped here
 * to decisions (rule name as id; popup: sel is the popup name).  Returns 0
 * or an error (the beacon still answers 200 with no decisions).
 */
int http_decide(struct agent *a, const struct http_visit *v,
    struct http_decisions *out);

struct http_server;

/*
 * Starts serving [http] (nothing when listen is ""; *out = NULL).  Loads
 * tag_path, test_decisions and geoip_db first.  When listen was left at its
 * default and the port is taken, logs a warning and serves nothing (several
 * test agents on one host); an explicit address that cannot be bound is an
 * error.  Returns 0, NUDGE_ECONFIG, NUDGE_EIO, NUDGE_ECONN or NUDGE_ENOMEM
 * with d->msg.
 */
int http_start(struct http_server **out, struct agent *a,
    struct nudge_diag *d);

/*
 * Replaces the datacenter ranges with those of the file at path ("": none).
 * On an error (d->msg: "path:line: why") the ranges in use are kept and
 * NUDGE_ESYNTAX, NUDGE_ETOOBIG, NUDGE_EIO or NUDGE_ENOMEM returned.  Any
 * thread (SIGHUP); s NULL is a no-op.
 */
int http_reload_ranges(struct http_server *s, const char *path,
    struct nudge_diag *d);

/* The port actually bound (listen port 0 picks one); 0 if none. */
unsigned http_port(const struct http_server *s);

/* Stops the workers (in-flight requests finish) and frees; NULL is fine. */
void http_stop(struct http_server *s);

#endif
