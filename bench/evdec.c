/*
 * evdec.c - ns per event decoding a PUSH emit batch: the msgpack-c path
 * (wire_request_parse, wire_map_get, wire_unpack_event per element: what
 * the ingest path did) and the cursor decoder (common/evdec.c: what it
 * does now) on the same bytes, side by side with the ratio.
 *
 * The batch: 1000 simulator-like events (visitor, ts, page, referrer,
 * utm, device, country, type; clicks with x/y, scrolls with a depth), as
 * one emit request.  Each decoder is timed alternately in rounds and the
 * best round is kept, because the machine is shared: compare the ratio,
 * not the absolute figures.  Single-threaded.
 *
 * usage: evdec [ROUNDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "evdec.h"
#include "wire.h"

#define N_EVENTS 1000

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void
make_batch(msgpack_sbuffer *sb, char (*vid)[24])
{
	static const char *const pages[] = {"/", "/shop/product/boots.html",
	    "/shop/cart", "/shop/checkout", "/blog/how-to-choose-boots"};
	static const uint8_t types[] = {EVENT_PAGEVIEW, EVENT_PAGEVIEW,
	    EVENT_CLICK, EVENT_SCROLL, EVENT_ADD_TO_CART, EVENT_HOVER};
	uint8_t id[WIRE_ID_LEN] = {7};
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_request_begin(&pk, "emit", id, 1767225600000ull);
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "ev");
	msgpack_pack_array(&pk, N_EVENTS);
	for (int i = 0; i < N_EVENTS; i++) {
		struct nudge_event ev;

		event_init(&ev);
		snprintf(vid[i], sizeof(vid[i]), "v%08x%04x", i * 2654435761u,
		    i % 97);
		ev.visitor = strv_of(vid[i]);
		ev.type = types[i % 6];
		ev.ts_ms = 1767225600000ull + (uint64_t)i * 37;
		ev.page = strv_of(pages[i % 5]);
		if (i % 4 == 0)
			ev.referrer = strv_of("https://www.google.com/");
		if (i % 7 == 0) {
			ev.utm_source = strv_of("newsletter");
			ev.utm_medium = strv_of("email");
			ev.utm_campaign = strv_of("spring-sale");
		}
		ev.device = (uint8_t)(1 + i % 3);
		memcpy(ev.country, i % 2 ? "DE" : "FR", 3);
		if (ev.type == EVENT_CLICK) {
			ev.x_permille = (uint16_t)(i % 1000);
			ev.y_permille = (uint16_t)(i * 7 % 1000);
			ev.target = strv_of("#add-to-cart");
		}
		if (ev.type == EVENT_SCROLL)
			ev.scroll_permille = (uint16_t)(i * 13 % 1000);
		if (ev.type == EVENT_ADD_TO_CART) {
			ev.sku = strv_of("BOOT-42");
			ev.value_cents = 12900;
			ev.quantity = 1;
		}
		wire_pack_event(&pk, &ev);
	}
	msgpack_pack_nil(&pk);		/* auth */
}

/* The msgpack-c path; returns the events decoded. */
static unsigned
decode_wire(const msgpack_sbuffer *sb, struct nudge_event *out)
{
	struct wire_request rq;
	struct nudge_diag d;
	const msgpack_object *ev;
	unsigned ok = 0;

	if (wire_request_parse(&rq, sb->data, sb->size, &wire_limits_default,
	    &d) != 0)
		return 0;
	ev = wire_map_get(rq.args, "ev");
	for (uint32_t i = 0; ev != NULL && i < ev->via.array.size; i++)
		ok += wire_unpack_event(&ev->via.array.ptr[i], &out[i], &d) == 0;
	wire_request_fini(&rq);
	return ok;
}

static unsigned
decode_evdec(const msgpack_sbuffer *sb, struct nudge_event *out)
{
	struct nudge_diag d;
	struct evdec c;
	unsigned ok = 0;

	if (evdec_emit_open(&c, sb->data, sb->size, &wire_limits_default) != 0)
		return 0;
	for (uint32_t i = 0; i < c.n; i++)
		ok += evdec_next(&c, &out[i], &d) == 0;
	return evdec_emit_close(&c) == 0 ? ok : 0;
}

int
main(int argc, char **argv)
{
	static char vid[N_EVENTS][24];
	static struct nudge_event out[N_EVENTS];
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	double best[2] = {1e30, 1e30};
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	make_batch(&sb, vid);
	if (decode_wire(&sb, out) != N_EVENTS ||
	    decode_evdec(&sb, out) != N_EVENTS) {
		fprintf(stderr, "evdec: the batch does not decode\n");
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 2; k++) {
			double t0 = now_ns();
			for (int j = 0; j < 20; j++)
				if ((k ? decode_evdec : decode_wire)(&sb, out) !=
				    N_EVENTS)
					return 1;
			double ns = (now_ns() - t0) / (20.0 * N_EVENTS);
			if (ns < best[k])
				best[k] = ns;
		}
	}
	printf("evdec batch of %d events (%zu B): msgpack-c %.1f ns/event, "
	    "evdec %.1f ns/event, ratio %.2f\n", N_EVENTS, sb.size, best[0],
	    best[1], best[1] / best[0]);
	msgpack_sbuffer_destroy(&sb);
	return 0;
}
