/*
 * out_beacon.c - nudge-sim's --beacon output: visits POSTed to the
 * agent's beacon endpoint (POST /nudge/e, agent/beacon.h) the way the
 * browser tag sends them, and the answers' decisions read back.
 *
 * A visit goes one page at a time: a request holds a page view and the
 * events on that page (the tag flushes when a page is left), with the
 * visitor's User-Agent (the agent derives the device from it), its
 * address in X-Forwarded-For (used only when the agent trusts us as a
 * proxy), "consent": true and ts = the wall clock, as a browser's
 * Date.now().  Every event sent passes through truth_add(); every
 * decision id of every answer through truth_decision().
 *
 * --rule-lift: a visit that was shown the rule (its decision id was in an
 * answer before the purchase point) buys with the lift's probability,
 * using the visitor's own purchase draw: the purchase and what follows
 * are cut, or a purchase is appended (gen_add_purchase), before they are
 * sent.  The purchase point is the purchase event, or the end of a visit
 * without one; what was sent up to there is flushed first, so the
 * decision is made on answers the visitor really got.
 *
 * A 429 answer (the agent's rate limits) waits its second and is sent
 * again, up to BEACON_RETRIES times, so the truth stays exact; any other
 * non-200 answer ends the run with the agent's reason.  Single-threaded.
 */
#include "out.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "clock.h"
#include "err.h"

#define BODY_MAX (64u * 1024u) /* = BEACON_MAX_BODY */
#define EVENTS_MAX 100u        /* = BEACON_MAX_EVENTS */
#define BEACON_RETRIES 30
#define SEEN_MAX 32 /* distinct decision ids remembered per visit */

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

/* What one visit was shown. */
struct seen {
	unsigned n;
	char id[SEEN_MAX][AB_NAME_MAX + 1];
	bool lift[AB_LIFTS_MAX];
};

/* ---- the JSON body -------------------------------------------------------
 */

/* A permille as the fraction the beacon wants: 512 -> 0.512. */
static void
put_frac(struct out *o, const char *key, unsigned permille)
{
	tb_putf(&o->json, ",\"%s\":%u.%03u", key, permille / 1000,
	    permille % 1000);
}

static void
begin_body(struct out *o, const struct gen_session *s)
{
	tb_init(&o->json, o->json.b, BODY_MAX);
	o->jevents = 0;
	tb_puts(&o->json, "{\"visitor\":");
	tb_jstr(&o->json, strv_of(s->visitor));
	tb_puts(&o->json, ",\"consent\":true,\"events\":[");
}

static void
put_event(struct out *o, const struct nudge_event *ev, uint64_t now_ms)
{
	if (o->jevents++ > 0)
		tb_put(&o->json, ",", 1);
	tb_puts(&o->json, "{\"type\":");
	tb_jstr(&o->json, strv_of(event_type_name(ev->type)));
	tb_putf(&o->json, ",\"ts\":%" PRIu64, now_ms);
	tb_jfield(&o->json, "page", ev->page);
	tb_jfield(&o->json, "referrer", ev->referrer);
	tb_jfield(&o->json, "utm_source", ev->utm_source);
	tb_jfield(&o->json, "utm_medium", ev->utm_medium);
	tb_jfield(&o->json, "utm_campaign", ev->utm_campaign);
	tb_jfield(&o->json, "sku", ev->sku);
	tb_jfield(&o->json, "target", ev->target);
	if (ev->quantity > 0)
		tb_putf(&o->json, ",\"quantity\":%u", (unsigned)ev->quantity);
	if (ev->value_cents > 0)
		tb_putf(&o->json, ",\"value\":%" PRId64 ".%02d", ev->value_cents / 100,
		    (int)(ev->value_cents % 100));
	if (ev->type == EVENT_CLICK || ev->type == EVENT_HOVER) {
		put_frac(o, "x", ev->x_permille);
		put_frac(o, "y", ev->y_permille);
	}
	if (ev->type == EVENT_SCROLL)
		put_frac(o, "scroll", ev->scroll_permille);
	tb_put(&o->json, "}", 1);
}

/* ---- answers -------------------------------------------------------------
 */

static void
saw(struct out *o, struct out_visit *v, struct seen *sn, const char *id,
    size_t len, uint64_t now_ms)
{
	bool first = true;
	int k;

	for (unsigned i = 0; i < sn->n && first; i++)
		first = !(strlen(sn->id[i]) == len &&
		          memcmp(sn->id[i], id, len) == 0);
	if (first && sn->n < SEEN_MAX && len <= AB_NAME_MAX) {
		memcpy(sn->id[sn->n], id, len);
		sn->id[sn->n++][len] = '\0';
	}
	truth_decision(v->truth, id, len, first, now_ms);
	if (o->cfg.ab != NULL && (k = ab_lift_find(o->cfg.ab, id, len)) >= 0)
		sn->lift[k] = true;
}

/* {"d": [{"id": ..., ...}, ...], ...}: every id into sn and the truth. */
static int
read_decisions(struct out *o, struct out_visit *v, struct seen *sn)
{
	json_error_t je;
	json_t *root = json_loadb(o->hc.body, o->hc.body_len, 0, &je);
	json_t *d = json_is_object(root) ? json_object_get(root, "d") : NULL;
	uint64_t now = clock_wall_ms();
	size_t k;
	json_t *x;

	if (!json_is_array(d)) {
		json_decref(root);
		return fail(o, NUDGE_EINVAL, "answer without \"d\": %.100s",
		    o->hc.body);
	}
	json_array_foreach(d, k, x)
	{
		json_t *id = json_object_get(x, "id");

		if (json_is_string(id))
			saw(o, v, sn, json_string_value(id),
			    json_string_length(id), now);
	}
	json_decref(root);
	return 0;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* POSTs the pending body; reads the answer's decisions. */
static int
flush_page(struct out *o, struct out_visit *v, struct seen *sn)
{
	char headers[1024], ip[GEN_IP_MAX];
	int rc;

	if (o->jevents == 0)
		return 0;
	tb_put(&o->json, "]}", 2);
	if (o->json.over)
		return fail(
		    o, NUDGE_ETOOBIG, "beacon over %u bytes", BODY_MAX);
	gen_ip(o->cfg.gen, v->s->index, ip);
	snprintf(headers, sizeof(headers),
	    "User-Agent: %s\r\nX-Forwarded-For: %s\r\n", gen_user_agent(v->s),
	    ip);
	for (int attempt = 0;; attempt++) {
		if ((rc = hc_post(&o->hc, "text/plain", headers, o->json.b,
		         o->json.n)) != 0)
			return fail(o, rc, "%s", o->hc.err);
		if (o->hc.status != 429 || attempt == BEACON_RETRIES)
			break;
		o->retries++;
		v->truth->retries++;
		sleep_ms(1000);
	}
	o->messages++;
	if (o->hc.status != 200)
		return fail(o, NUDGE_EIO,
		    "%s refused a beacon: HTTP %d %.120s", o->cfg.url,
		    o->hc.status, o->hc.body);
	v->truth->beacons++;
	o->jevents = 0;
	return read_decisions(o, v, sn);
}

/*
 * The purchase point of a visit shown a --rule-lift rule: whether it
 * buys is now the lift's draw.  *p is the purchase index (s->n: none).
 */
static void
apply_lift(
    struct out *o, struct out_visit *v, const struct seen *sn, uint32_t p)
{
	const struct ab *ab = o->cfg.ab;
	struct gen_session *s = v->s;
	bool buy;

	for (unsigned k = 0; k < ab->n_lift; k++) {
		if (!sn->lift[k])
			continue;
		buy = v->abv != NULL && v->abv->u < ab->lift[k].rate;
		if (buy && p == s->n)
			gen_add_purchase(o->cfg.gen, s);
		else if (!buy && p < s->n)
			s->n = p;
		return;
	}
}

static int
beacon_visit(struct out *o, struct out_visit *v)
{
	struct gen_session *s = v->s;
	struct seen sn;
	bool decide = o->cfg.ab != NULL && o->cfg.ab->n_lift > 0;
	uint32_t p = gen_purchase_index(s);
	uint64_t now = clock_wall_ms();
	int rc = 0;

	memset(&sn, 0, sizeof(sn));
	begin_body(o, s);
	for (uint32_t i = 0; rc == 0; i++) {
		if (decide && i == p) {
			decide = false;
			if ((rc = flush_page(o, v, &sn)) != 0)
				break;
			begin_body(o, s);
			apply_lift(o, v, &sn, p);
		}
		if (i >= s->n)
			break;
		if (o->jevents > 0 && (s->ev[i].type == EVENT_PAGEVIEW ||
		                          o->jevents == EVENTS_MAX)) {
			if ((rc = flush_page(o, v, &sn)) != 0)
				break;
			begin_body(o, s);
			now = clock_wall_ms();
		}
		gen_event_fill(s, i, v->ev);
		truth_add(v->truth, v->ts, v->ev);
		put_event(o, v->ev, now);
	}
	if (rc == 0)
		rc = flush_page(o, v, &sn);
	for (unsigned k = 0;
	     rc == 0 && o->cfg.ab != NULL && k < o->cfg.ab->n_lift; k++)
		truth_lift_visit(v->truth, k, sn.lift[k], v->ts);
	return rc;
}

static int
beacon_open(struct out *o)
{
	int rc = hc_init(&o->hc, o->cfg.url, o->cfg.timeout_ms);

	if (rc != 0)
		return fail(o, rc, "%s", o->hc.err);
	if ((o->json.b = malloc(BODY_MAX)) == NULL)
		return fail(o, NUDGE_ENOMEM, "out of memory");
	return 0;
}

static int
beacon_flush(struct out *o)
{
	(void)o;
	return 0; /* a visit is sent whole by beacon_visit */
}

static int
beacon_close(struct out *o)
{
	hc_fini(&o->hc);
	free(o->json.b);
	o->json.b = NULL;
	/* out_init's buffers, unused here. */
	msgpack_sbuffer_destroy(&o->body);
	msgpack_sbuffer_destroy(&o->msg);
	msgpack_sbuffer_destroy(&o->check);
	return 0;
}

const struct out_ops out_beacon = {
    .name = "beacon",
    .open = beacon_open,
    .visit = beacon_visit,
    .flush = beacon_flush,
    .close = beacon_close,
};
