/*
 * out.c - nudge-sim's outputs: emit requests over nng, JSON lines and
 * access-log lines on stdout.
 *
 * The nng outputs pack each event once, with wire_pack_event(), into a
 * body buffer that is reused for the whole run; a flush wraps the body in
 * an `emit` request (wire_request_begin / {ev: [...]} / wire_request_end)
 * built in a second reused buffer, so the hot path never allocates.  PUSH
 * is fire-and-forget and blocks only when the agent falls behind (large
 * send buffer, send timeout); REQ waits for every reply and fails loudly
 * on a non-zero status.  The text outputs format into a stack line buffer
 * and write it with one fwrite.  Single-threaded: the caller's loop.
 */
#include "out.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "fastpack.h"
#include "textbuf.h"
#include "wire.h"

#define SENDBUF_MSGS 1024 /* nng's maximum is 8192; 1024 x ~60 KB */
#define LINE_MAX_BYTES 4096
#define FASTPACK_CHECKS 10000 /* events compared with the reference */

static int fail(struct out *o, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct out *o, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->err, sizeof(o->err), fmt, ap);
	va_end(ap);
	return rc;
}

void
out_init(
    struct out *o, const struct out_ops *ops, const struct out_config *cfg)
{
	memset(o, 0, sizeof(*o));
	o->ops = ops;
	o->cfg = *cfg;
	msgpack_sbuffer_init(&o->body);
	msgpack_sbuffer_init(&o->msg);
	msgpack_packer_init(&o->bpk, &o->body, msgpack_sbuffer_write);
	msgpack_packer_init(&o->mpk, &o->msg, msgpack_sbuffer_write);
	msgpack_sbuffer_init(&o->check);
	msgpack_packer_init(&o->cpk, &o->check, msgpack_sbuffer_write);
	o->fast = !cfg->wire_pack;
	gen_rng_seed(&o->rng, cfg->gen ? cfg->gen->seed : 0, UINT64_MAX);
}

/* ---- emit requests ------------------------------------------------------ */

/* Wraps the pending body into one emit request in o->msg. */
static int
build_request(struct out *o)
{
	uint8_t id[WIRE_ID_LEN];

	msgpack_sbuffer_clear(&o->msg);
	wire_new_id(id);
	wire_request_begin(&o->mpk, "emit", id, clock_wall_ms());
	msgpack_pack_map(&o->mpk, 1);
	msgpack_pack_str_with_body(&o->mpk, "ev", 2);
	msgpack_pack_array(&o->mpk, o->pending);
	/* The events were packed once already: splice their bytes in. */
	if (msgpack_sbuffer_write(&o->msg, o->body.data, o->body.size) != 0 ||
	    wire_request_end(&o->mpk, &o->msg, NULL, NULL, 0) != 0)
		return fail(o, NUDGE_ENOMEM, "out of memory packing a batch");
	msgpack_sbuffer_clear(&o->body);
	o->pending = 0;
	o->messages++;
	return 0;
}

/*
 * fastpack's bytes for ev must be wire_pack_event's; checked on the first
 * events of the run, and on a difference the run falls back for good.
 */
static void
fastpack_checked(struct out *o, const struct nudge_event *ev)
{
	size_t at = o->body.size;

	if (!fastpack_event(&o->body, ev)) {
		wire_pack_event(&o->bpk, ev);
		return;
	}
	if (o->checked >= FASTPACK_CHECKS)
		return;
	o->checked++;
	msgpack_sbuffer_clear(&o->check);
	wire_pack_event(&o->cpk, ev);
	if (o->check.size == o->body.size - at &&
	    memcmp(o->check.data, o->body.data + at, o->check.size) == 0)
		return;
	fprintf(stderr, "nudge-sim: warning: fastpack differs from "
	                "wire_pack_event; using wire_pack_event\n");
	o->fast = false;
	o->body.size = at;
	wire_pack_event(&o->bpk, ev);
}

static int
pack_event(struct out *o, const struct gen_session *s, uint32_t i,
    const struct nudge_event *ev)
{
	(void)s;
	(void)i;
	if (o->fast)
		fastpack_checked(o, ev);
	else
		wire_pack_event(&o->bpk, ev);
	if (++o->pending >= o->cfg.batch)
		return o->ops->flush(o);
	return 0;
}

static int
sock_setup(struct out *o, int (*open)(nng_socket *), const char *what)
{
	nng_duration t = (nng_duration)o->cfg.timeout_ms;
	int rv;

	if ((rv = open(&o->sock)) != 0)
		return fail(
		    o, NUDGE_EIO, "%s socket: %s", what, nng_strerror(rv));
	o->sock_open = true;
	nng_socket_set_ms(o->sock, NNG_OPT_SENDTIMEO, t);
	nng_socket_set_ms(o->sock, NNG_OPT_RECVTIMEO, t);
	nng_socket_set_size(o->sock, NNG_OPT_RECVMAXSZ, 1 << 20);
	/* Non-blocking dial: the agent may still be starting; nng retries. */
	if ((rv = nng_dial(o->sock, o->cfg.url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		return fail(o, NUDGE_ECONN, "cannot dial %s: %s", o->cfg.url,
		    nng_strerror(rv));
	return 0;
}

static int
push_open(struct out *o)
{
	int rc = sock_setup(o, nng_push0_open, "push");

	if (rc == 0)
		nng_socket_set_int(o->sock, NNG_OPT_SENDBUF, SENDBUF_MSGS);
	return rc;
}

static int
null_open(struct out *o)
{
	(void)o;
	return 0;
}

static int
ingest_open(struct out *o)
{
	int rc = sock_setup(o, nng_req0_open, "req");

	/* A lost reply is resent under the same id: the agent dedups. */
	if (rc == 0)
		nng_socket_set_ms(o->sock, NNG_OPT_REQ_RESENDTIME,
		    (nng_duration)(o->cfg.timeout_ms / 2 + 1));
	return rc;
}

static int
send_msg(struct out *o)
{
	int rv = nng_send(o->sock, o->msg.data, o->msg.size, 0);

	if (rv != 0)
		return fail(o,
		    rv == NNG_ETIMEDOUT ? NUDGE_ETIMEOUT : NUDGE_EIO,
		    "cannot send to %s: %s", o->cfg.url, nng_strerror(rv));
	return 0;
}

static int
push_flush(struct out *o)
{
	int rc;

	if (o->pending == 0)
		return 0;
	if ((rc = build_request(o)) != 0)
		return rc;
	return send_msg(o);
}

static int
null_flush(struct out *o)
{
	return o->pending == 0 ? 0 : build_request(o);
}

/* Reads acc, rej and the first error of an emit reply. */
static int
ingest_reply(struct out *o, const void *buf, size_t len)
{
	struct wire_reply rp;
	struct nudge_diag d = {0};
	uint64_t acc = 0, rej = 0;
	int rc = wire_reply_parse(&rp, buf, len, &wire_limits_default, &d);

	if (rc != 0)
		return fail(o, rc, "bad reply from %s: %s (%s)", o->cfg.url,
		    nudge_strerror(rc), d.msg);
	if (rp.status != 0) {
		rc = fail(o, rp.status, "%s refused the batch: %s: %s",
		    o->cfg.url, nudge_strerror(rp.status), rp.message);
	} else if (wire_get_u64(rp.body, "acc", &acc) != 0 ||
	           wire_get_u64(rp.body, "rej", &rej) != 0) {
		rc = fail(o, NUDGE_EINVAL, "reply from %s lacks acc/rej",
		    o->cfg.url);
	}
	wire_reply_fini(&rp);
	o->acc += acc;
	o->rej += rej;
	return rc;
}

static int
ingest_flush(struct out *o)
{
	void *buf = NULL;
	size_t len = 0;
	int rc, rv;

	if (o->pending == 0)
		return 0;
	if ((rc = build_request(o)) != 0 || (rc = send_msg(o)) != 0)
		return rc;
	if ((rv = nng_recv(o->sock, &buf, &len, NNG_FLAG_ALLOC)) != 0)
		return fail(o,
		    rv == NNG_ETIMEDOUT ? NUDGE_ETIMEOUT : NUDGE_EIO,
		    "no reply from %s: %s", o->cfg.url, nng_strerror(rv));
	rc = ingest_reply(o, buf, len);
	nng_free(buf, len);
	return rc;
}

static int
nng_out_close(struct out *o)
{
	int rc = o->ops->flush(o);

	/*
	 * nng 1.x has no linger: closing drops what is still queued.  PUSH
	 * gets no acknowledgement, so give the queue time to drain.
	 */
	if (rc == 0 && o->ops == &out_push && o->messages > 0) {
		struct timespec ts = {o->cfg.linger_ms / 1000,
		    (long)(o->cfg.linger_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	if (o->sock_open)
		nng_close(o->sock);
	o->sock_open = false;
	msgpack_sbuffer_destroy(&o->body);
	msgpack_sbuffer_destroy(&o->msg);
	msgpack_sbuffer_destroy(&o->check);
	return rc;
}

const struct out_ops out_push = {
    .name = "push",
    .open = push_open,
    .event = pack_event,
    .flush = push_flush,
    .close = nng_out_close,
};

const struct out_ops out_ingest = {
    .name = "ingest",
    .open = ingest_open,
    .event = pack_event,
    .flush = ingest_flush,
    .close = nng_out_close,
};

const struct out_ops out_null = {
    .name = "null",
    .open = null_open,
    .event = pack_event,
    .flush = null_flush,
    .close = nng_out_close,
};

/* ---- text lines --------------------------------------------------------- */

/* A bounded line under construction; overflow is sticky and reported. */
struct line {
	char b[LINE_MAX_BYTES];
	struct textbuf t;
};

static struct textbuf *
line_start(struct line *l)
{
	tb_init(&l->t, l->b, sizeof(l->b));
	return &l->t;
}

static int
write_line(struct out *o, const struct textbuf *l)
{
	if (l->over)
		return fail(
		    o, NUDGE_ETOOBIG, "line over %d bytes", LINE_MAX_BYTES);
	if (fwrite(l->b, 1, l->n, o->cfg.fp) != l->n)
		return fail(o, NUDGE_EIO, "write error: %s", strerror(errno));
	return 0;
}

static int
jsonl_event(struct out *o, const struct gen_session *s, uint32_t i,
    const struct nudge_event *ev)
{
	struct line lb;
	struct textbuf *l = line_start(&lb);

	(void)s;
	(void)i;
	tb_puts(l, "{\"type\":");
	tb_jstr(l, strv_of(event_type_name(ev->type)));
	tb_jfield(l, "visitor", ev->visitor);
	tb_jnum(l, "ts", ev->ts_ms);
	tb_jfield(l, "page", ev->page);
	tb_jfield(l, "referrer", ev->referrer);
	tb_jfield(l, "utm_source", ev->utm_source);
	tb_jfield(l, "utm_medium", ev->utm_medium);
	tb_jfield(l, "utm_campaign", ev->utm_campaign);
	tb_jfield(l, "country", strv_of(ev->country));
	if (ev->device != DEVICE_UNKNOWN)
		tb_jfield(
		    l, "device", strv_of(event_device_name(ev->device)));
	tb_jfield(l, "sku", ev->sku);
	if (ev->quantity > 0)
		tb_jnum(l, "quantity", ev->quantity);
	if (ev->value_cents > 0)
		tb_putf(l, ",\"value\":%" PRId64 ".%02d", ev->value_cents / 100,
		    (int)(ev->value_cents % 100));
	tb_jfield(l, "target", ev->target);
	if (ev->type == EVENT_CLICK || ev->type == EVENT_HOVER) {
		tb_jnum(l, "x", ev->x_permille);
		tb_jnum(l, "y", ev->y_permille);
	}
	if (ev->type == EVENT_SCROLL)
		tb_jnum(l, "scroll", ev->scroll_permille);
	tb_put(l, "}\n", 2);
	return write_line(o, l);
}

static int
text_open(struct out *o)
{
	/* One big buffer: stdout lines go out in large writes. */
	setvbuf(o->cfg.fp, NULL, _IOFBF, 1 << 20);
	return 0;
}

static int
text_flush(struct out *o)
{
	if (fflush(o->cfg.fp) != 0)
		return fail(o, NUDGE_EIO, "write error: %s", strerror(errno));
	return 0;
}

static int
text_close(struct out *o)
{
	return text_flush(o);
}

const struct out_ops out_jsonl = {
    .name = "jsonl",
    .open = text_open,
    .event = jsonl_event,
    .flush = text_flush,
    .close = text_close,
};

/* ---- access log --------------------------------------------------------- */

#define SHOP "https://shop.example"

struct bot {
	const char *ip_prefix;
	const char *ua;
};

static const struct bot bots[] = {
    {"66.249.66.", "Mozilla/5.0 (compatible; Googlebot/2.1; "
                   "+http://www.google.com/bot.html)"},
    {"157.55.39.", "Mozilla/5.0 (compatible; bingbot/2.0; "
                   "+http://www.bing.com/bingbot.htm)"},
    {"54.36.148.", "Mozilla/5.0 (compatible; AhrefsBot/7.0; "
                   "+http://ahrefs.com/robot/)"},
    {"185.220.101.", "curl/7.88.1"}};

static const char *const bot_paths[] = {"/robots.txt", "/sitemap.xml",
    "/wp-login.php", "/.env", "/product/SH-1003", "/category/sale"};

/* "[01/Dec/2026:21:30:00 +0000]" for ts_ms. */
static void
put_time(struct textbuf *l, uint64_t ts_ms)
{
	char buf[40];
	time_t t = (time_t)(ts_ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "[%d/%b/%Y:%H:%M:%S +0000]", &tm);
	tb_puts(l, buf);
}

static int
log_line(struct out *o, const char *ip, uint64_t ts, const char *path,
    const struct nudge_strv *query, int status, const char *ref,
    struct nudge_strv refv, const char *ua)
{
	struct line lb;
	struct textbuf *l = line_start(&lb);

	tb_puts(l, ip);
	tb_puts(l, " - - ");
	put_time(l, ts);
	tb_put(l, " \"GET ", 6);
	tb_puts(l, path);
	if (query != NULL)
		for (int k = 0; k < 3; k++)
			tb_put(l, query[k].ptr, query[k].len);
	tb_putf(l, " HTTP/1.1\" %d %u \"", status,
	    (unsigned)(gen_rng_below(&o->rng, 40000) + 2000));
	tb_puts(l, ref);
	tb_put(l, refv.ptr, refv.len);
	if (ref[0] == '\0' && refv.len == 0)
		tb_put(l, "-", 1);
	tb_put(l, "\" \"", 3);
	tb_puts(l, ua);
	tb_put(l, "\"\n", 2);
	return write_line(o, l);
}

/* Assets a browser fetches after a page, and now and then a bot. */
static int
log_noise(struct out *o, const char *ip, uint64_t ts, const char *page,
    bool first, const char *ua)
{
	static const char *const assets[] = {
	    "/static/app.css", "/static/app.js", "/favicon.ico"};
	char ref[EVENT_PAGE_MAX + 32], img[EVENT_PAGE_MAX + 16], bip[32];
	int rc = 0;

	snprintf(ref, sizeof(ref), SHOP "%s", page);
	for (unsigned k = 0; first && rc == 0 && k < 3; k++, o->noise++)
		rc = log_line(o, ip, ts, assets[k], NULL, 200, ref,
		    (struct nudge_strv){"", 0}, ua);
	if (rc == 0 && strncmp(page, "/product/", 9) == 0) {
		snprintf(img, sizeof(img), "/img/p/%s.jpg", page + 9);
		rc = log_line(o, ip, ts, img, NULL, 200, ref,
		    (struct nudge_strv){"", 0}, ua);
		o->noise++;
	}
	if (rc == 0 && gen_rng_below(&o->rng, 100) < 5) {
		const struct bot *b = &bots[gen_rng_below(&o->rng, 4)];
		unsigned p = gen_rng_below(&o->rng, 6);

		snprintf(bip, sizeof(bip), "%s%u", b->ip_prefix,
		    1 + gen_rng_below(&o->rng, 250));
		rc = log_line(o, bip, ts, bot_paths[p], NULL,
		    p == 2 || p == 3 ? 404 : 200, "",
		    (struct nudge_strv){"", 0}, b->ua);
		o->noise++;
	}
	return rc;
}

static int
log_event(struct out *o, const struct gen_session *s, uint32_t i,
    const struct nudge_event *ev)
{
	char ip[GEN_IP_MAX], path[EVENT_PAGE_MAX + 1];
	const char *ua = gen_user_agent(s);
	struct nudge_strv q[3] = {{"", 0}, {"", 0}, {"", 0}};
	struct nudge_strv prev = gen_prev_page(s, i);
	bool landing = prev.len == 0;
	char qs[3][EVENT_TEXT_MAX + 16];
	int rc;

	gen_ip(o->cfg.gen, s->index, ip);
	strv_copy(path, sizeof(path), ev->page);
	if (landing && s->utm_source.len > 0) {
		/* utm_* travel in the landing URL, as in real logs. */
		const char *sep = strchr(path, '?') ? "&" : "?";

		snprintf(qs[0], sizeof(qs[0]), "%sutm_source=%.*s", sep,
		    (int)s->utm_source.len, s->utm_source.ptr);
		snprintf(qs[1], sizeof(qs[1]), "&utm_medium=%.*s",
		    (int)s->utm_medium.len, s->utm_medium.ptr);
		snprintf(qs[2], sizeof(qs[2]), "&utm_campaign=%.*s",
		    (int)s->utm_campaign.len, s->utm_campaign.ptr);
		for (int k = 0; k < 3; k++)
			q[k] = strv_of(qs[k]);
	}
	rc = log_line(o, ip, ev->ts_ms, path, q, 200, landing ? "" : SHOP,
	    landing ? s->referrer : prev, ua);
	if (rc == 0 && o->cfg.log_noise)
		rc = log_noise(o, ip, ev->ts_ms, path, landing, ua);
	return rc;
}

const struct out_ops out_log = {
    .name = "log",
    .pageviews_only = true,
    .open = text_open,
    .event = log_event,
    .flush = text_flush,
    .close = text_close,
};
