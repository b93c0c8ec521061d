/*
 * fuzz_wire.c - libFuzzer harness for common/wire.c's decoders.
 *
 * Each input is one message as it would arrive from the network.  It is
 * fed to wire_precheck (and, when that passes, to msgpack-c, which must
 * then succeed: the precheck promises it), to wire_msg_open and every
 * wire_read_* reader, to the per-object unpackers on whatever body there
 * is, and to wire_request_parse / wire_reply_parse.  A decoded event is
 * packed again and must decode to the same event.  Seeds:
 * tests/fuzz/corpus/wire/ (written by test_wire, NUDGE_WRITE_CORPUS=dir).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static const uint8_t fuzz_key[] = "fuzz-key";

/* Reads every byte a view claims, so that ASan sees a dangling one. */
static unsigned
touch(struct nudge_strv v)
{
	unsigned sum = 0;

	for (uint32_t i = 0; i < v.len; i++)
		sum += (unsigned char)v.ptr[i];
	return sum;
}

static bool
strv_same(struct nudge_strv a, struct nudge_strv b)
{
	return a.len == b.len && (a.len == 0 ||
	    memcmp(a.ptr, b.ptr, a.len) == 0);
}

static bool
event_same(const struct nudge_event *a, const struct nudge_event *b)
{
	const struct nudge_strv *sa[] = {&a->name, &a->visitor, &a->page,
	    &a->referrer, &a->utm_source, &a->utm_medium, &a->utm_campaign,
	    &a->target, &a->sku};
	const struct nudge_strv *sb[] = {&b->name, &b->visitor, &b->page,
	    &b->referrer, &b->utm_source, &b->utm_medium, &b->utm_campaign,
	    &b->target, &b->sku};

	for (size_t i = 0; i < sizeof(sa) / sizeof(sa[0]); i++)
		if (!strv_same(*sa[i], *sb[i]))
			return false;
	for (int i = 0; i < a->n_fields; i++)
		if (!strv_same(a->fields[i].key, b->fields[i].key) ||
		    !strv_same(a->fields[i].val, b->fields[i].val))
			return false;
	return a->type == b->type && a->device == b->device &&
	    strcmp(a->country, b->country) == 0 && a->ts_ms == b->ts_ms &&
	    a->value_cents == b->value_cents && a->quantity == b->quantity &&
	    a->x_permille == b->x_permille && a->y_permille == b->y_permille &&
	    a->scroll_permille == b->scroll_permille &&
	    a->n_fields == b->n_fields;
}

/* A decoded event, packed again, decodes to itself. */
static void
event_round_trip(const struct nudge_event *ev)
{
	struct nudge_event again;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_event(&pk, ev);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) !=
	    MSGPACK_UNPACK_SUCCESS ||
	    wire_unpack_event(&up.data, &again, NULL) != 0 ||
	    !event_same(ev, &again))
		abort();
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

/* A decoded campaign or change, packed again, decodes again. */
static void
campaign_round_trip(const msgpack_object *o)
{
	static struct wire_campaign c, again;
	struct wire_camp_change ch, ch2;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	bool is_c = wire_unpack_campaign(o, &c) == 0;
	bool is_ch = wire_unpack_camp_change(o, &ch, NULL) == 0;

	if (!is_c && !is_ch)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (is_c)
		wire_pack_campaign(&pk, &c);
	else
		wire_pack_camp_change(&pk, &ch);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, sb.data, sb.size, NULL) !=
	    MSGPACK_UNPACK_SUCCESS)
		abort();
	if (is_c && (wire_unpack_campaign(&up.data, &again) != 0 ||
	    again.c.version != c.c.version || again.n_guard != c.n_guard))
		abort();
	if (!is_c && (wire_unpack_camp_change(&up.data, &ch2, NULL) != 0 ||
	    ch2.op != ch.op || ch2.expect != ch.expect))
		abort();
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

static void
objects(const msgpack_object *o)
{
	static struct wire_snapshot snap;
	static struct agg agg;
	struct session_summary ss;
	struct session_step st;
	struct nudge_event ev;
	unsigned sum = 0;

	wire_unpack_snapshot(o, &snap);
	wire_unpack_agg(o, &agg);
	campaign_round_trip(o);
	if (o->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (uint32_t i = 0; i < o->via.array.size; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];

		campaign_round_trip(e);
		wire_unpack_session(e, &ss);
		wire_unpack_step(e, &st);
		if (wire_unpack_event(e, &ev, NULL) == 0) {
			sum += touch(ev.visitor) + touch(ev.page) +
			    touch(ev.name);
			for (int f = 0; f < ev.n_fields; f++)
				sum += touch(ev.fields[f].key) +
				    touch(ev.fields[f].val);
			event_round_trip(&ev);
		}
	}
	(void)sum;
}

static void
published(const uint8_t *data, size_t size)
{
	static struct wire_snapshot snap;
	static struct agg delta;
	static struct session_summary ss[8];
	static struct nudge_event ev[8];
	struct nudge_diag d;
	struct wire_msg m;
	uint64_t boot;
	size_t n;

	size_t off = 0, was;
	int rc;

	/* as the console reads an agent's batch: part after part */
	do {
		was = off;
		rc = wire_msg_next(&m, data, size, &off, NULL, &d);
		if (off < was || off > size || (rc == 0 && off == was))
			abort();
		if (rc == NUDGE_EKIND || rc == NUDGE_EVERSION)
			continue;
		if (rc != 0)
			return;
		if (m.h.kind < 1 || m.h.kind > WIRE_KIND_MAX ||
		    m.h.agent[0] == '\0')
			abort();
		wire_read_snapshot(&m, &snap);
		wire_read_delta(&m, &boot, &delta);
		if (wire_read_sessions(&m, ss, 8, &n) == 0 && n > 8)
			abort();
		if (wire_read_events(&m, ev, 8, &n) == 0 && n > 8)
			abort();
		objects(m.body);
		wire_msg_fini(&m);
	} while (off < size);
	/* one whole message opens alone too, and only then */
	if (wire_msg_open(&m, data, size, NULL, &d) == 0) {
		if (was != 0)
			abort();
		wire_msg_fini(&m);
	}
}

static void
control(const uint8_t *data, size_t size)
{
	struct wire_request rq;
	struct wire_reply rp;
	struct nudge_diag d;

	if (wire_request_parse(&rq, data, size, NULL, &d) == 0) {
		if (rq.signed_ &&
		    (rq.signed_len == 0 || rq.signed_len >= size))
			abort();
		wire_request_verify(&rq, data, fuzz_key, sizeof(fuzz_key) - 1);
		if (rq.args != NULL)
			objects(rq.args);
		wire_request_fini(&rq);
	}
	if (wire_reply_parse(&rp, data, size, NULL, &d) == 0) {
		if (rp.body == NULL || rp.status > 0)
			abort();
		objects(rp.body);
		wire_reply_fini(&rp);
	}
}

/* What the precheck passes, msgpack-c must unpack whole. */
static void
precheck_promise(const uint8_t *data, size_t size,
    const struct wire_limits *lim)
{
	msgpack_unpacked up;
	size_t off = 0;

	if (wire_precheck(data, size, lim, NULL) != 0)
		return;
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, (const char *)data, size, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != size)
		abort();
	msgpack_unpacked_destroy(&up);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* No count or string limit: only the bytes bound the walk. */
	static const struct wire_limits open_lim = {
		.max_bytes = SIZE_MAX, .max_depth = 1000,
		.max_count = UINT32_MAX, .max_str = UINT32_MAX,
	};

	precheck_promise(data, size, &wire_limits_default);
	precheck_promise(data, size, &open_lim);
	published(data, size);
	control(data, size);
	return 0;
}
