/*
 * fastpack.c - the byte-exact fast event encoder (see fastpack.h).
 *
 * Reserves the worst case once per event in the sbuffer (whose storage is
 * plain realloc/free, as msgpack-c's own sbuffer_write does), then writes
 * keys as precomputed fixstr bytes and values in msgpack-c's smallest
 * encodings.  The key order is wire.c's event_fields table: n, vid, ts, p,
 * r, us, um, uc, tg, sku, cc, dv, val, q, x, y, sd, then t.  Pure; any
 * thread with its own buffer.
 */
#include "fastpack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Every string of an event is bounded (event.h): 4 KiB always fits. */
#define EVENT_WORST 4096

static bool
reserve(msgpack_sbuffer *sb, size_t need)
{
	size_t cap;
	char *p;

	if (sb->alloc - sb->size >= need)
		return true;
	cap = sb->alloc ? sb->alloc : 8192;
	while (cap - sb->size < need)
		cap *= 2;
	if ((p = realloc(sb->data, cap)) == NULL)
		return false;
	sb->data = p;
	sb->alloc = cap;
	return true;
}

static uint8_t *
be(uint8_t *p, uint64_t v, int bytes)
{
	for (int k = bytes - 1; k >= 0; k--)
		*p++ = (uint8_t)(v >> (8 * k));
	return p;
}

static uint8_t *
put_uint(uint8_t *p, uint64_t v)
{
	if (v < 128) {
		*p++ = (uint8_t)v;
		return p;
	}
	if (v < 256) {
		*p++ = 0xcc;
		return be(p, v, 1);
	}
	if (v < 65536) {
		*p++ = 0xcd;
		return be(p, v, 2);
	}
	if (v < (1ULL << 32)) {
		*p++ = 0xce;
		return be(p, v, 4);
	}
	*p++ = 0xcf;
	return be(p, v, 8);
}

static uint8_t *
put_str(uint8_t *p, const char *s, uint32_t n)
{
	if (n < 32) {
		*p++ = (uint8_t)(0xa0 | n);
	} else if (n < 256) {
		*p++ = 0xd9;
		p = be(p, n, 1);
	} else if (n < 65536) {
		*p++ = 0xda;
		p = be(p, n, 2);
	} else {
		*p++ = 0xdb;
		p = be(p, n, 4);
	}
	memcpy(p, s, n);
	return p + n;
}

/* A key: fixstr header and bytes, as one literal. */
#define KEY(p, lit)                                                           \
	(memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static uint8_t *
put_sv(uint8_t *p, const char *key, size_t klen, struct nudge_strv v)
{
	memcpy(p, key, klen);
	return put_str(p + klen, v.ptr, v.len);
}

#define SV(p, lit, v)                                                         \
	((v).len ? put_sv((p), (lit), sizeof(lit) - 1, (v)) : (p))

static unsigned
count_pairs(const struct nudge_event *ev)
{
	return 1u + (ev->visitor.len > 0) + (ev->ts_ms != 0) +
	       (ev->page.len > 0) + (ev->referrer.len > 0) +
	       (ev->utm_source.len > 0) + (ev->utm_medium.len > 0) +
	       (ev->utm_campaign.len > 0) + (ev->target.len > 0) +
	       (ev->sku.len > 0) + (ev->country[0] != '\0') +
	       (ev->device != 0) + (ev->value_cents != 0) +
	       (ev->quantity != 0) + (ev->x_permille != 0) +
	       (ev->y_permille != 0) + (ev->scroll_permille != 0);
}

static uint8_t *
put_numbers(uint8_t *p, const struct nudge_event *ev)
{
	if (ev->value_cents != 0)
		p = put_uint(KEY(p, "\xa3val"), (uint64_t)ev->value_cents);
	if (ev->quantity != 0)
		p = put_uint(KEY(p, "\xa1q"), ev->quantity);
	if (ev->x_permille != 0)
		p = put_uint(KEY(p, "\xa1x"), ev->x_permille);
	if (ev->y_permille != 0)
		p = put_uint(KEY(p, "\xa1y"), ev->y_permille);
	if (ev->scroll_permille != 0)
		p = put_uint(KEY(p, "\xa2sd"), ev->scroll_permille);
	return p;
}

bool
fastpack_event(msgpack_sbuffer *sb, const struct nudge_event *ev)
{
	unsigned n = count_pairs(ev);
	const char *name;
	uint8_t *p;

	if (ev->name.len != 0 || ev->n_fields != 0 || ev->value_cents < 0 ||
	    ev->type >= EVENT_CUSTOM || ev->device >= DEVICE_COUNT ||
	    !reserve(sb, EVENT_WORST))
		return false;
	p = (uint8_t *)sb->data + sb->size;
	if (n < 16) {
		*p++ = (uint8_t)(0x80 | n);
	} else {
		*p++ = 0xde;
		p = be(p, n, 2);
	}
	p = SV(p, "\xa3vid", ev->visitor);
	if (ev->ts_ms != 0)
		p = put_uint(KEY(p, "\xa2ts"), ev->ts_ms);
	p = SV(p, "\xa1p", ev->page);
	p = SV(p, "\xa1r", ev->referrer);
	p = SV(p, "\xa2us", ev->utm_source);
	p = SV(p, "\xa2um", ev->utm_medium);
	p = SV(p, "\xa2uc", ev->utm_campaign);
	p = SV(p, "\xa2tg", ev->target);
	p = SV(p, "\xa3sku", ev->sku);
	if (ev->country[0] != '\0')
		p = put_str(KEY(p, "\xa2"
		                   "cc"),
		    ev->country, ev->country[1] != '\0' ? 2 : 1);
	if (ev->device != 0) {
		name = event_device_name(ev->device);
		p = put_str(KEY(p, "\xa2"
		                   "dv"),
		    name, (uint32_t)strlen(name));
	}
	p = put_numbers(p, ev);
	name = event_type_name(ev->type);
	p = put_str(KEY(p, "\xa1t"), name, (uint32_t)strlen(name));
	sb->size = (size_t)((char *)p - sb->data);
	return true;
}
