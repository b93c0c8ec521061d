/*
 * test_wire.c - unit tests of common/wire.c: round trips of every message
 * kind, request signing, and the strict decoder's refusals (truncation at
 * every offset, limits, bombs, lies, wrong types at every position).
 *
 * With NUDGE_WRITE_CORPUS=dir set, also writes the valid messages it builds
 * into dir as seeds for tests/fuzz/fuzz_wire.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire.h"

static const uint8_t test_key[] = "0123456789abcdef-secret";

/* ---- fixtures ----------------------------------------------------------- */

static void
header(struct wire_header *h, uint64_t seq)
{
	memset(h, 0, sizeof(*h));
	snprintf(h->agent, sizeof(h->agent), "web-1.shop_eu");
	h->seq = seq;
	h->ts_ms = 1767225600123ull;
}

static void
full_agg(struct agg *a)
{
	char key[16];

	agg_init(a);
	for (int i = 0; i < AGG_COUNTERS; i++)
		a->c[i] = 1 + (uint64_t)i * 1000003u;
	a->c[AGG_REVENUE_CENTS] = UINT64_MAX;
	for (int i = 0; i < AGG_GAUGES; i++)
		a->g[i] = 7 + (uint64_t)i;
	for (int i = 0; i < 5000; i++) {
		int n = snprintf(key, sizeof(key), "v%d", i);
		hll_add(&a->visitors, key, (size_t)n);
	}
}

/*
 * A campaign as the runtime would publish it: declared with nv variants
 * (names of the longest length first), started, weights changed (so the
 * replay record has arguments), with guardrails and arms.
 */
static void
full_campaign(struct wire_campaign *w, const char *name, unsigned nv,
    unsigned ng)
{
	struct rule_campaign rc;
	char vn[CAMP_VARIANTS_MAX][CAMP_NAME_MAX + 1];
	uint8_t nw[CAMP_VARIANTS_MAX];
	uint8_t big = (uint8_t)(100 - 10 * (nv - 1));

	memset(&rc, 0, sizeof(rc));
	memset(w, 0, sizeof(*w));
	rc.name = name;
	rc.n_variants = (uint8_t)nv;
	for (unsigned i = 0; i < nv; i++) {
		if (i == 1) {
			memset(vn[i], 'v', CAMP_NAME_MAX);
			vn[i][CAMP_NAME_MAX] = '\0';
		} else
			snprintf(vn[i], sizeof(vn[i]), "variant_%u", i);
		rc.variant[i].name = vn[i];
		rc.variant[i].weight = i == 0 ? big : 10;
		nw[i] = i == 1 ? big : 10;
	}
	assert_int_equal(camp_init(&w->c, &rc, NULL), 0);
	assert_int_equal(camp_start(&w->c, 1, NULL), 0);
	assert_int_equal(camp_set_weights(&w->c, 2, nw, nv, NULL), 0);
	w->since_ms = 1767225600000ull;
	snprintf(w->goal, sizeof(w->goal), "purchase");
	w->n_guard = (uint8_t)ng;
	for (unsigned j = 0; j < ng; j++) {
		snprintf(w->guard[j], sizeof(w->guard[j]), "guard_%u", j);
		w->guard_drop_bp[j] = (uint16_t)(j == 0 ? 10000 : 500 * j);
	}
	for (unsigned i = 0; i < nv; i++) {
		struct wire_camp_arm *a = &w->arm[i];

		a->n = i == 0 ? UINT64_MAX : 1000 + i;
		a->x = i == 0 ? UINT64_MAX : 100 + i;
		a->rev_cents = i == 0 ? INT64_MIN : (int64_t)i * 12345;
		for (unsigned j = 0; j < ng; j++)
			a->g[j] = i == 0 ? UINT64_MAX : j;
		/* control: every step, at the bound; the others: a few */
		for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
			a->steps[k] = i == 0 ? UINT64_MAX - k :
			    k < 4 ? a->n - 10 * (k + 1) : 0;
	}
}

static void
assert_campaign_equal(const struct wire_campaign *a,
    const struct wire_campaign *b)
{
	char ta[CAMP_TEXT_MAX + 1], tb[CAMP_TEXT_MAX + 1];
	size_t la, lb;

	assert_int_equal(camp_format(&a->c, ta, sizeof(ta), &la), 0);
	assert_int_equal(camp_format(&b->c, tb, sizeof(tb), &lb), 0);
	assert_string_equal(ta, tb);
	assert_memory_equal(&a->c.plan, &b->c.plan, sizeof(a->c.plan));
	assert_int_equal(a->since_ms, b->since_ms);
	assert_string_equal(a->goal, b->goal);
	assert_int_equal(a->n_guard, b->n_guard);
	for (unsigned j = 0; j < a->n_guard; j++) {
		assert_string_equal(a->guard[j], b->guard[j]);
		assert_int_equal(a->guard_drop_bp[j], b->guard_drop_bp[j]);
	}
	for (unsigned i = 0; i < a->c.n_variants; i++) {
		assert_int_equal(a->arm[i].n, b->arm[i].n);
		assert_int_equal(a->arm[i].x, b->arm[i].x);
		assert_true(a->arm[i].rev_cents == b->arm[i].rev_cents);
		for (unsigned j = 0; j < a->n_guard; j++)
			assert_int_equal(a->arm[i].g[j], b->arm[i].g[j]);
		assert_memory_equal(a->arm[i].steps, b->arm[i].steps,
		    sizeof(a->arm[i].steps));
	}
}

static struct wire_snapshot *
full_snapshot(void)
{
	static struct wire_snapshot s;

	memset(&s, 0, sizeof(s));
	s.boot_id = 0xfeedfacecafebeefull;
	s.uptime_ms = 3600000;
	snprintf(s.version, sizeof(s.version), "0.1.0");
	snprintf(s.control, sizeof(s.control), "tls+tcp://10.0.0.1:7451");
	snprintf(s.funnel, sizeof(s.funnel), "shop");
	s.n_steps = AGG_STEPS_MAX;
	for (int i = 0; i < AGG_STEPS_MAX; i++)
		snprintf(s.steps[i], sizeof(s.steps[i]), "step %d", i);
	s.rules_version = 42;
	s.shadow_version = 7;
	s.n_rules = WIRE_RULES_MAX;
	for (int i = 0; i < WIRE_RULES_MAX; i++) {
		struct wire_rule_stat *r = &s.rules[i];
		/* the longest name, then short ones */
		if (i == 0)
			memset(r->name, 'n', WIRE_RULE_NAME_MAX);
		else
			snprintf(r->name, sizeof(r->name), "rule_%d", i);
		r->m = i == 1 ? UINT64_MAX : (uint64_t)i * 5;
		r->s = (uint64_t)i;
		r->c = (uint64_t)i % 3;
		r->sh = (uint64_t)i * 2;
		r->ho = (uint64_t)i % 2;
		r->shadow_set = i >= 60;
		r->sho = (uint64_t)i * 3;
		if (i % 4 == 1) {	/* a rule with a holdout */
			r->tn = 1000 + (uint64_t)i;
			r->tx = 10 + (uint64_t)i;
			r->hn = 100;
			r->hx = i == 1 ? 100 : 0;
		}
	}
	s.n_camps = WIRE_CAMPS_MAX;
	for (int i = 0; i < WIRE_CAMPS_MAX; i++) {
		char name[16];

		snprintf(name, sizeof(name), "camp_%d", i);
		full_campaign(&s.camps[i], name, i == 0 ? CAMP_VARIANTS_MAX :
		    2 + (unsigned)i % 3,
		    (unsigned)i % (RULE_GUARDRAILS_MAX + 1));
	}
	assert_int_equal(camp_trip(&s.camps[3].c, "variant_1 purchase -30%"),
	    0);
	s.store_errors = 1;
	s.pub_dropped = 2;
	snprintf(s.last_error, sizeof(s.last_error), "disk full");
	full_agg(&s.agg);
	return &s;
}

static void
full_session(struct session_summary *s, int i)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->visitor, sizeof(s->visitor), "visitor-%d", i);
	s->started_ms = 1000 + (uint64_t)i;
	s->last_ms = 2000 + (uint64_t)i;
	s->pages = 5;
	s->events = 17;
	s->step = 3;
	s->source = SOURCE_COUPON;
	s->device = DEVICE_TABLET;
	s->closed = i % 2;
	memcpy(s->country, "DE", 3);
	s->cart_items = 2;
	s->cart_cents = 12990;
	s->purchases = 1;
	s->revenue_cents = 4500;
	s->score = -12 - i;
	snprintf(s->last_page, sizeof(s->last_page), "/product/%d", i);
	snprintf(s->utm_campaign, sizeof(s->utm_campaign), "spring");
}

static void
full_event(struct nudge_event *ev)
{
	static const char *const kv[EVENT_FIELDS_MAX][2] = {
		{"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"},
		{"e", "5"}, {"f", "6"}, {"g", "7"}, {"h", ""},
	};

	event_init(ev);
	ev->type = EVENT_CUSTOM;
	ev->device = DEVICE_MOBILE;
	memcpy(ev->country, "FR", 3);
	ev->name = STRV_LIT("wishlist");
	ev->visitor = STRV_LIT("v-42");
	ev->ts_ms = 1767225600000ull;
	ev->page = STRV_LIT("/product/boots?color=red");
	ev->referrer = STRV_LIT("https://www.google.com/");
	ev->utm_source = STRV_LIT("google");
	ev->utm_medium = STRV_LIT("cpc");
	ev->utm_campaign = STRV_LIT("winter");
	ev->target = STRV_LIT("#add-to-cart");
	ev->sku = STRV_LIT("BOOT-42");
	ev->value_cents = -5990;	/* decoders keep the sign */
	ev->quantity = 3;
	ev->x_permille = 500;
	ev->y_permille = 250;
	ev->scroll_permille = 1000;
	ev->n_fields = EVENT_FIELDS_MAX;
	for (int i = 0; i < EVENT_FIELDS_MAX; i++) {
		ev->fields[i].key = strv_of(kv[i][0]);
		ev->fields[i].val = strv_of(kv[i][1]);
	}
}

static void
assert_strv(struct nudge_strv a, struct nudge_strv b)
{
	assert_int_equal(a.len, b.len);
	if (a.len > 0)
		assert_memory_equal(a.ptr, b.ptr, a.len);
}

static void
assert_event_equal(const struct nudge_event *a, const struct nudge_event *b)
{
	assert_int_equal(a->type, b->type);
	assert_int_equal(a->device, b->device);
	assert_string_equal(a->country, b->country);
	assert_strv(a->name, b->name);
	assert_strv(a->visitor, b->visitor);
	assert_int_equal(a->ts_ms, b->ts_ms);
	assert_strv(a->page, b->page);
	assert_strv(a->referrer, b->referrer);
	assert_strv(a->utm_source, b->utm_source);
	assert_strv(a->utm_medium, b->utm_medium);
	assert_strv(a->utm_campaign, b->utm_campaign);
	assert_strv(a->target, b->target);
	assert_strv(a->sku, b->sku);
	assert_true(a->value_cents == b->value_cents);
	assert_int_equal(a->quantity, b->quantity);
	assert_int_equal(a->x_permille, b->x_permille);
	assert_int_equal(a->y_permille, b->y_permille);
	assert_int_equal(a->scroll_permille, b->scroll_permille);
	assert_int_equal(a->n_fields, b->n_fields);
	for (int i = 0; i < a->n_fields; i++) {
		assert_strv(a->fields[i].key, b->fields[i].key);
		assert_strv(a->fields[i].val, b->fields[i].val);
	}
}

/* A copy of sb's bytes (the tests mutate them). */
struct bytes {
	uint8_t *p;
	size_t n;
};

static struct bytes
take(msgpack_sbuffer *sb)
{
	struct bytes b = {malloc(sb->size ? sb->size : 1), sb->size};

	assert_non_null(b.p);
	memcpy(b.p, sb->data, sb->size);
	return b;
}

/* The six kinds of valid message the decoders must accept. */
enum { M_SNAPSHOT, M_DELTA, M_SESSIONS, M_EVENTS, M_REQUEST, M_REPLY, M_N };
static const char *const msg_names[M_N] = {
	"snapshot", "delta", "sessions", "events", "request", "reply",
};

static struct bytes
make_request(bool sign)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t id[WIRE_ID_LEN];
	struct bytes b;

	memset(id, 0xab, sizeof(id));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_request_begin(&pk, "sessions", id, 1767225600000ull);
	msgpack_pack_map(&pk, 2);
	wire_pack_cstr(&pk, "sort");
	wire_pack_cstr(&pk, "score");
	wire_pack_cstr(&pk, "lim");
	msgpack_pack_uint32(&pk, 50);
	assert_int_equal(wire_request_end(&pk, &sb, sign ? "ops" : NULL,
	    sign ? test_key : NULL, sizeof(test_key) - 1), 0);
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

static struct bytes
make_reply(int status, const char *message)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t id[WIRE_ID_LEN];
	struct bytes b;

	memset(id, 0x5a, sizeof(id));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_reply_begin(&pk, id, status, message);
	msgpack_pack_map(&pk, 1);
	wire_pack_cstr(&pk, "total");
	msgpack_pack_uint32(&pk, 3);
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

static struct bytes
make_msg(int which)
{
	static struct agg delta;
	struct session_summary ss[3];
	struct nudge_event ev[2];
	struct wire_header h;
	msgpack_sbuffer sb;
	struct bytes b;
	int rc = 0;

	if (which == M_REQUEST)
		return make_request(true);
	if (which == M_REPLY)
		return make_reply(0, "");
	header(&h, 7);
	msgpack_sbuffer_init(&sb);
	if (which == M_SNAPSHOT)
		rc = wire_write_snapshot(&sb, &h, full_snapshot());
	if (which == M_DELTA) {
		agg_init(&delta);
		delta.c[AGG_EVENTS] = 12;
		delta.c[AGG_FUNNEL_DEVICE(1, DEVICE_BOT)] = 1;
		delta.g[AGG_CARTS_OPEN] = 4;
		rc = wire_write_delta(&sb, &h, 99, &delta);
	}
	for (int i = 0; i < 3; i++)
		full_session(&ss[i], i);
	if (which == M_SESSIONS)
		rc = wire_write_sessions(&sb, &h, ss, 3);
	full_event(&ev[0]);
	event_init(&ev[1]);
	ev[1].visitor = STRV_LIT("v-1");
	if (which == M_EVENTS)
		rc = wire_write_events(&sb, &h, ev, 2);
	assert_int_equal(rc, 0);
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

/* Runs the decoder that fits the message kind. */
static int
decode(int which, const struct bytes *b, const struct wire_limits *lim,
    struct nudge_diag *d)
{
	struct wire_request rq;
	struct wire_reply rp;
	struct wire_msg m;
	int rc;

	if (which == M_REQUEST) {
		if ((rc = wire_request_parse(&rq, b->p, b->n, lim, d)) == 0)
			wire_request_fini(&rq);
		return rc;
	}
	if (which == M_REPLY) {
		if ((rc = wire_reply_parse(&rp, b->p, b->n, lim, d)) == 0)
			wire_reply_fini(&rp);
		return rc;
	}
	if ((rc = wire_msg_open(&m, b->p, b->n, lim, d)) == 0)
		wire_msg_fini(&m);
	return rc;
}

/* ---- round trips -------------------------------------------------------- */

static void
test_kind_names_prefix(void **state)
{
	unsigned char pre[3];

	(void)state;
	assert_string_equal(wire_kind_name(WIRE_SNAPSHOT), "snapshot");
	assert_string_equal(wire_kind_name(WIRE_DELTA), "delta");
	assert_string_equal(wire_kind_name(WIRE_SESSION), "session");
	assert_string_equal(wire_kind_name(WIRE_EVENT), "event");
	assert_string_equal(wire_kind_name(WIRE_HEAT), "heat");
	assert_string_equal(wire_kind_name(0), "unknown");
	assert_string_equal(wire_kind_name(WIRE_KIND_MAX + 1), "unknown");
	for (int which = M_SNAPSHOT; which <= M_EVENTS; which++) {
		struct bytes b = make_msg(which);

		wire_kind_prefix(which + 1, pre);
		assert_int_equal(pre[0], 0x96);
		assert_int_equal(pre[1], WIRE_VERSION);
		assert_int_equal(pre[2], which + 1);
		assert_true(b.n > 3);
		assert_memory_equal(b.p, pre, 3);
		free(b.p);
	}
}

static void
test_snapshot_round_trip(void **state)
{
	static struct wire_snapshot got;
	const struct wire_snapshot *want;
	struct bytes b = make_msg(M_SNAPSHOT);
	struct nudge_diag d;
	struct wire_msg m;
	uint64_t boot = 1;
	static struct agg dummy;

	(void)state;
	want = full_snapshot();
	assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, &d), 0);
	assert_int_equal(m.h.v, WIRE_VERSION);
	assert_int_equal(m.h.kind, WIRE_SNAPSHOT);
	assert_string_equal(m.h.agent, "web-1.shop_eu");
	assert_int_equal(m.h.seq, 7);
	assert_int_equal(m.h.ts_ms, 1767225600123ull);
	assert_int_equal(wire_read_snapshot(&m, &got), 0);
	assert_int_equal(got.boot_id, want->boot_id);
	assert_int_equal(got.uptime_ms, want->uptime_ms);
	assert_string_equal(got.version, want->version);
	assert_string_equal(got.control, want->control);
	assert_string_equal(got.funnel, want->funnel);
	assert_int_equal(got.n_steps, want->n_steps);
	for (int i = 0; i < AGG_STEPS_MAX; i++)
		assert_string_equal(got.steps[i], want->steps[i]);
	assert_int_equal(got.rules_version, 42);
	assert_int_equal(got.shadow_version, 7);
	assert_int_equal(got.n_rules, WIRE_RULES_MAX);
	for (int i = 0; i < WIRE_RULES_MAX; i++) {
		assert_string_equal(got.rules[i].name, want->rules[i].name);
		assert_int_equal(got.rules[i].m, want->rules[i].m);
		assert_int_equal(got.rules[i].s, want->rules[i].s);
		assert_int_equal(got.rules[i].c, want->rules[i].c);
		assert_int_equal(got.rules[i].sh, want->rules[i].sh);
		assert_int_equal(got.rules[i].ho, want->rules[i].ho);
		assert_int_equal(got.rules[i].shadow_set,
		    want->rules[i].shadow_set);
		assert_int_equal(got.rules[i].sho, want->rules[i].sho);
		assert_int_equal(got.rules[i].tn, want->rules[i].tn);
		assert_int_equal(got.rules[i].tx, want->rules[i].tx);
		assert_int_equal(got.rules[i].hn, want->rules[i].hn);
		assert_int_equal(got.rules[i].hx, want->rules[i].hx);
	}
	assert_int_equal(got.n_camps, WIRE_CAMPS_MAX);
	for (int i = 0; i < WIRE_CAMPS_MAX; i++)
		assert_campaign_equal(&got.camps[i], &want->camps[i]);
	assert_int_equal(got.store_errors, 1);
	assert_int_equal(got.pub_dropped, 2);
	assert_string_equal(got.last_error, "disk full");
	assert_memory_equal(got.agg.c, want->agg.c, sizeof(got.agg.c));
	assert_memory_equal(got.agg.g, want->agg.g, sizeof(got.agg.g));
	assert_memory_equal(got.agg.visitors.reg, want->agg.visitors.reg,
	    HLL_REGISTERS);
	/* Readers of another kind refuse and leave their outputs alone. */
	assert_int_equal(wire_read_delta(&m, &boot, &dummy), NUDGE_EKIND);
	assert_int_equal(boot, 1);
	wire_msg_fini(&m);
	free(b.p);
}

/* A snapshot body {boot, agg, rules: [n_rules x rule]} made by hand. */
static int
unpack_rules_body(unsigned n_rules, bool bad_type, size_t name_len)
{
	static struct wire_snapshot got;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	char name[128];
	int rc;

	memset(name, 'x', sizeof(name));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 3);
	wire_pack_cstr(&pk, "boot");
	msgpack_pack_uint64(&pk, 1);
	wire_pack_cstr(&pk, "agg");
	msgpack_pack_map(&pk, 0);
	wire_pack_cstr(&pk, "rules");
	msgpack_pack_array(&pk, n_rules);
	for (unsigned i = 0; i < n_rules; i++) {
		msgpack_pack_map(&pk, 2);
		wire_pack_cstr(&pk, "n");
		msgpack_pack_str_with_body(&pk, name, name_len);
		wire_pack_cstr(&pk, "m");
		if (bad_type)
			wire_pack_cstr(&pk, "many");
		else
			msgpack_pack_uint64(&pk, i);
	}
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	got.n_rules = 99;
	rc = wire_unpack_snapshot(&up.data, &got);
	if (rc == 0) {
		assert_int_equal(got.n_rules, n_rules);
		assert_int_equal(got.n_camps, 0);	/* absent: none */
		for (unsigned i = 0; i < n_rules; i++)
			assert_true((got.rules[i].sho | got.rules[i].tn |
			    got.rules[i].tx | got.rules[i].hn |
			    got.rules[i].hx) == 0);
	} else
		assert_int_equal(got.n_rules, 99);	/* untouched */
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
test_snapshot_rules_bounds(void **state)
{
	(void)state;
	assert_int_equal(unpack_rules_body(0, false, 4), 0);
	assert_int_equal(unpack_rules_body(WIRE_RULES_MAX, false, 4), 0);
	assert_int_equal(unpack_rules_body(WIRE_RULES_MAX + 1, false, 4),
	    NUDGE_ETOOBIG);
	assert_int_equal(unpack_rules_body(3, true, 4), NUDGE_ETYPE);
	assert_int_equal(unpack_rules_body(1, false, WIRE_RULE_NAME_MAX), 0);
	assert_int_equal(unpack_rules_body(1, false, WIRE_RULE_NAME_MAX + 1),
	    NUDGE_ETOOBIG);
}

/* "forgot": packed only when non-empty, read back, bounded and typed. */
static void
test_snapshot_forgot(void **state)
{
	static struct wire_snapshot in, out;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;

	(void)state;
	memset(&in, 0, sizeof(in));
	in.boot_id = 5;
	agg_init(&in.agg);
	for (int pass = 0; pass < 2; pass++) {
		in.n_forgot = pass ? 2 : 0;
		in.forgot[0] = wire_visitor_hash(STRV_LIT("v1"));
		in.forgot[1] = UINT64_MAX;
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		wire_pack_snapshot(&pk, &in);
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size,
		    NULL), MSGPACK_UNPACK_SUCCESS);
		assert_true((wire_map_get(&up.data, "forgot") != NULL) == pass);
		memset(&out, 0xff, sizeof(out));
		assert_int_equal(wire_unpack_snapshot(&up.data, &out), 0);
		assert_int_equal(out.n_forgot, in.n_forgot);
		if (pass) {
			assert_true(out.forgot[0] == in.forgot[0]);
			assert_true(out.forgot[1] == UINT64_MAX);
		}
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
	assert_true(wire_visitor_hash(STRV_LIT("v1")) !=
	    wire_visitor_hash(STRV_LIT("v2")));
	/* a string instead of a hash, and one too many */
	for (int bad = 0; bad < 2; bad++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 3);
		wire_pack_cstr(&pk, "boot");
		msgpack_pack_uint64(&pk, 1);
		wire_pack_cstr(&pk, "agg");
		wire_pack_agg(&pk, &in.agg, true, false);
		wire_pack_cstr(&pk, "forgot");
		msgpack_pack_array(&pk, bad ? WIRE_FORGOT_MAX + 1 : 1);
		for (int i = 0; i < (bad ? WIRE_FORGOT_MAX + 1 : 1); i++)
			if (bad)
				msgpack_pack_uint64(&pk, (uint64_t)i);
			else
				wire_pack_cstr(&pk, "v1");
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size,
		    NULL), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(wire_unpack_snapshot(&up.data, &out),
		    bad ? NUDGE_ETOOBIG : NUDGE_ETYPE);
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void
test_delta_sparse(void **state)
{
	static struct agg got;
	struct bytes b = make_msg(M_DELTA);
	struct wire_msg m;
	uint64_t boot = 0;

	(void)state;
	/* Three non-zero slots: far smaller than a full counter map. */
	assert_true(b.n < 120);
	assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, NULL), 0);
	assert_int_equal(m.h.kind, WIRE_DELTA);
	memset(&got, 0xff, sizeof(got));
	assert_int_equal(wire_read_delta(&m, &boot, &got), 0);
	assert_int_equal(boot, 99);
	for (int i = 0; i < AGG_COUNTERS; i++)
		assert_int_equal(got.c[i], i == AGG_EVENTS ? 12 :
		    i == AGG_FUNNEL_DEVICE(1, DEVICE_BOT) ? 1 : 0);
	for (int i = 0; i < AGG_GAUGES; i++)
		assert_int_equal(got.g[i], i == AGG_CARTS_OPEN ? 4 : 0);
	assert_int_equal(hll_count(&got.visitors), 0);
	wire_msg_fini(&m);
	free(b.p);
}

static void
test_sessions_round_trip(void **state)
{
	struct session_summary want[3], got[4];
	struct bytes b = make_msg(M_SESSIONS);
	struct wire_msg m;
	size_t n = 99;

	(void)state;
	for (int i = 0; i < 3; i++)
		full_session(&want[i], i);
	assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, NULL), 0);
	assert_int_equal(wire_read_sessions(&m, got, 2, &n), 0);
	assert_int_equal(n, 2);
	memset(got, 0x55, sizeof(got));
	assert_int_equal(wire_read_sessions(&m, got, 4, &n), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(got[i].visitor, want[i].visitor);
		assert_int_equal(got[i].started_ms, want[i].started_ms);
		assert_int_equal(got[i].last_ms, want[i].last_ms);
		assert_int_equal(got[i].pages, want[i].pages);
		assert_int_equal(got[i].events, want[i].events);
		assert_int_equal(got[i].step, want[i].step);
		assert_int_equal(got[i].source, want[i].source);
		assert_int_equal(got[i].device, want[i].device);
		assert_int_equal(got[i].closed, want[i].closed);
		assert_string_equal(got[i].country, want[i].country);
		assert_int_equal(got[i].cart_items, want[i].cart_items);
		assert_true(got[i].cart_cents == want[i].cart_cents);
		assert_int_equal(got[i].purchases, want[i].purchases);
		assert_true(got[i].revenue_cents == want[i].revenue_cents);
		assert_int_equal(got[i].score, want[i].score);
		assert_string_equal(got[i].last_page, want[i].last_page);
		assert_string_equal(got[i].utm_campaign, want[i].utm_campaign);
	}
	wire_msg_fini(&m);
	free(b.p);
}

static void
test_events_round_trip(void **state)
{
	struct nudge_event want, got[2];
	struct bytes b = make_msg(M_EVENTS);
	struct wire_msg m;
	size_t n = 0;

	(void)state;
	full_event(&want);
	assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, NULL), 0);
	assert_int_equal(wire_read_events(&m, got, 2, &n), 0);
	assert_int_equal(n, 2);
	assert_event_equal(&got[0], &want);
	/* Views point into the message buffer, not into a copy. */
	assert_true((const uint8_t *)got[0].page.ptr > b.p);
	assert_true((const uint8_t *)got[0].page.ptr + got[0].page.len <=
	    b.p + b.n);
	assert_true((const uint8_t *)got[0].fields[7].key.ptr > b.p);
	assert_true((const uint8_t *)got[0].fields[7].key.ptr < b.p + b.n);
	/* The sparse second event: only t and vid travel. */
	assert_int_equal(got[1].type, EVENT_PAGEVIEW);
	assert_true(strv_eq(got[1].visitor, "v-1"));
	assert_int_equal(got[1].page.len, 0);
	assert_int_equal(got[1].n_fields, 0);
	wire_msg_fini(&m);
	free(b.p);
}

/* Packs st and unpacks it into *got (zeroed first); returns the status. */
static int
step_round_trip(const struct session_step *st, struct session_step *got,
    bool *has_sc_key)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_step(&pk, st);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	memset(got, 0, sizeof(*got));
	rc = wire_unpack_step(&up.data, got);
	*has_sc_key = wire_map_get(&up.data, "sc") != NULL;
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
test_step_round_trip(void **state)
{
	struct session_step st = {.ts_ms = 1234, .type = EVENT_ADD_TO_CART,
	    .page = "/cart"}, got;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	struct nudge_strv name;
	bool sc;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_step(&pk, &st);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	memset(&got, 0, sizeof(got));
	assert_int_equal(wire_unpack_step(&up.data, &got), 0);
	assert_int_equal(got.ts_ms, 1234);
	assert_int_equal(got.type, EVENT_ADD_TO_CART);
	assert_string_equal(got.page, "/cart");
	/* The type travels as its name, not its number. */
	assert_int_equal(wire_get_strv(&up.data, "t", &name), 0);
	assert_true(strv_eq(name, "add_to_cart"));
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	/* No score known: no "sc" key, read back as no score (not 0). */
	assert_int_equal(step_round_trip(&st, &got, &sc), 0);
	assert_false(sc);
	assert_false(got.has_score);
	/* A score, negative, zero or the extremes, travels as "sc". */
	static const int32_t scores[] = {-7, 0, 1000, INT32_MIN, INT32_MAX};
	for (size_t i = 0; i < sizeof(scores) / sizeof(scores[0]); i++) {
		st.has_score = true;
		st.score = scores[i];
		assert_int_equal(step_round_trip(&st, &got, &sc), 0);
		assert_true(sc);
		assert_true(got.has_score);
		assert_int_equal(got.score, scores[i]);
		assert_string_equal(got.page, "/cart");
	}
}

/* An old agent's step has no "sc"; a bad one is refused, not guessed. */
static void
test_step_score_decode(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	struct session_step got;

	(void)state;
	for (int variant = 0; variant < 3; variant++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, variant == 0 ? 3 : 4);
		wire_pack_cstr(&pk, "ts");
		msgpack_pack_uint64(&pk, 5);
		wire_pack_cstr(&pk, "t");
		wire_pack_cstr(&pk, "pageview");
		wire_pack_cstr(&pk, "p");
		wire_pack_cstr(&pk, "/old");
		if (variant == 1) {
			wire_pack_cstr(&pk, "sc");
			wire_pack_cstr(&pk, "12");	/* not an int */
		} else if (variant == 2) {
			wire_pack_cstr(&pk, "sc");
			msgpack_pack_int64(&pk, (int64_t)INT32_MAX + 1);
		}
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size,
		    NULL), MSGPACK_UNPACK_SUCCESS);
		memset(&got, 0x5a, sizeof(got));
		int rc = wire_unpack_step(&up.data, &got);
		if (variant == 0) {
			assert_int_equal(rc, 0);
			assert_false(got.has_score);
			assert_int_equal(got.score, 0);
			assert_string_equal(got.page, "/old");
		} else {
			assert_int_not_equal(rc, 0);
		}
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void
test_request_unsigned(void **state)
{
	struct bytes b = make_request(false);
	struct wire_request rq;
	uint64_t lim = 0;

	(void)state;
	assert_int_equal(wire_request_parse(&rq, b.p, b.n, NULL, NULL), 0);
	assert_string_equal(rq.cmd, "sessions");
	assert_int_equal(rq.id[0], 0xab);
	assert_int_equal(rq.id[WIRE_ID_LEN - 1], 0xab);
	assert_int_equal(rq.ts_ms, 1767225600000ull);
	assert_non_null(rq.args);
	assert_int_equal(wire_get_u64(rq.args, "lim", &lim), 0);
	assert_int_equal(lim, 50);
	assert_false(rq.signed_);
	assert_int_equal(wire_request_verify(&rq, b.p, test_key,
	    sizeof(test_key) - 1), NUDGE_EAUTH);
	wire_request_fini(&rq);
	free(b.p);
}

static void
test_request_signed(void **state)
{
	struct bytes u = make_request(false), b = make_request(true);
	struct wire_request rq;

	(void)state;
	assert_int_equal(wire_request_parse(&rq, b.p, b.n, NULL, NULL), 0);
	assert_true(rq.signed_);
	assert_string_equal(rq.key_id, "ops");
	/* The mac covers what the unsigned request has before its nil. */
	assert_int_equal(rq.signed_len, u.n - 1);
	assert_memory_equal(b.p, u.p, u.n - 1);
	assert_int_equal(wire_request_verify(&rq, b.p, test_key,
	    sizeof(test_key) - 1), 0);
	assert_int_equal(wire_request_verify(&rq, b.p, test_key,
	    sizeof(test_key) - 2), NUDGE_EAUTH);
	assert_int_equal(wire_request_verify(&rq, b.p, (const uint8_t *)"k",
	    1), NUDGE_EAUTH);
	wire_request_fini(&rq);
	free(u.p);
	free(b.p);
}

static void
test_request_flipped_byte(void **state)
{
	struct bytes b = make_request(true);

	(void)state;
	/*
	 * Flip every bit of every byte: the result never both parses and
	 * verifies under the same key id (the key id itself selects the key,
	 * so a changed id fails at the key lookup instead).
	 */
	for (size_t i = 0; i < b.n; i++) {
		for (int bit = 0; bit < 8; bit++) {
			struct wire_request rq;
			int rc;

			b.p[i] ^= (uint8_t)(1u << bit);
			rc = wire_request_parse(&rq, b.p, b.n, NULL, NULL);
			if (rc == 0) {
				if (strcmp(rq.key_id, "ops") == 0 &&
				    wire_request_verify(&rq, b.p, test_key,
				    sizeof(test_key) - 1) == 0)
					fail_msg("flip byte %zu bit %d "
					    "verifies", i, bit);
				wire_request_fini(&rq);
			}
			b.p[i] ^= (uint8_t)(1u << bit);
		}
	}
	free(b.p);
}

static void
test_reply_round_trip(void **state)
{
	struct bytes b = make_reply(NUDGE_ENOTFOUND, "no such visitor");
	struct bytes ok = make_reply(0, NULL);
	struct wire_reply rp;
	uint64_t total = 0;

	(void)state;
	assert_int_equal(wire_reply_parse(&rp, b.p, b.n, NULL, NULL), 0);
	assert_int_equal(rp.id[0], 0x5a);
	assert_int_equal(rp.status, NUDGE_ENOTFOUND);
	assert_string_equal(rp.message, "no such visitor");
	assert_non_null(rp.body);
	assert_int_equal(wire_get_u64(rp.body, "total", &total), 0);
	assert_int_equal(total, 3);
	wire_reply_fini(&rp);
	assert_int_equal(wire_reply_parse(&rp, ok.p, ok.n, NULL, NULL), 0);
	assert_int_equal(rp.status, 0);
	assert_string_equal(rp.message, "");
	wire_reply_fini(&rp);
	free(b.p);
	free(ok.p);
}

/* ---- refusals ----------------------------------------------------------- */

static void
test_truncated_everywhere(void **state)
{
	(void)state;
	for (int which = 0; which < M_N; which++) {
		struct bytes b = make_msg(which);
		struct nudge_diag d;
		size_t full = b.n;

		assert_int_equal(decode(which, &b, NULL, NULL), 0);
		for (b.n = 0; b.n < full; b.n++) {
			int rc;

			memset(&d, 0, sizeof(d));
			rc = decode(which, &b, NULL, &d);
			if (rc != NUDGE_ETRUNC)
				fail_msg("%s cut at %zu/%zu: rc %d",
				    msg_names[which], b.n, full, rc);
			assert_true(d.col >= 1 && (size_t)d.col <= b.n + 1);
		}
		free(b.p);
	}
}

static void
test_oversized(void **state)
{
	struct bytes b = make_msg(M_SNAPSHOT);
	struct wire_limits lim = wire_limits_default;
	struct nudge_diag d;

	(void)state;
	lim.max_bytes = b.n;
	assert_int_equal(decode(M_SNAPSHOT, &b, &lim, NULL), 0);
	lim.max_bytes = b.n - 1;
	assert_int_equal(decode(M_SNAPSHOT, &b, &lim, &d), NUDGE_ETOOBIG);
	assert_int_equal(wire_precheck(b.p, b.n, &lim, NULL), NUDGE_ETOOBIG);
	/* The hll bin is 4096 bytes: a smaller string limit refuses it. */
	lim = wire_limits_default;
	lim.max_str = HLL_REGISTERS - 1;
	assert_int_equal(decode(M_SNAPSHOT, &b, &lim, NULL), NUDGE_ETOOBIG);
	/* The snapshot has AGG_COUNTERS counters in one map. */
	lim = wire_limits_default;
	lim.max_count = AGG_COUNTERS - 1;
	assert_int_equal(decode(M_SNAPSHOT, &b, &lim, NULL), NUDGE_ETOOBIG);
	free(b.p);
}

static void
test_too_deep(void **state)
{
	uint8_t buf[40];
	struct nudge_diag d;

	(void)state;
	memset(buf, 0x91, sizeof(buf));	/* [[[[...]]]] */
	buf[8] = 0x01;
	assert_int_equal(wire_precheck(buf, 9, NULL, NULL), 0);
	buf[8] = 0x91;
	buf[9] = 0x01;
	memset(&d, 0, sizeof(d));
	assert_int_equal(wire_precheck(buf, 10, NULL, &d), NUDGE_EDEPTH);
	assert_int_equal(d.col, 9);	/* the ninth array, offset 8 */
	buf[39] = 0x80;
	assert_int_equal(wire_precheck(buf, 40, NULL, NULL), NUDGE_EDEPTH);
}

static void
test_bombs(void **state)
{
	static const uint8_t array_bomb[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t map_bomb[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t map16[] = {0xde, 0x00, 0x02, 0x01, 0x02, 0x03};
	static const uint8_t map_half[] = {0x81, 0x01};
	struct wire_limits wide = wire_limits_default;
	struct wire_msg m;
	struct wire_request rq;
	struct wire_reply rp;
	struct nudge_diag d;

	(void)state;
	assert_int_equal(wire_precheck(array_bomb, 5, NULL, &d),
	    NUDGE_ETOOBIG);
	assert_int_equal(d.col, 1);
	assert_int_equal(wire_msg_open(&m, array_bomb, 5, NULL, NULL),
	    NUDGE_ETOOBIG);
	assert_int_equal(wire_request_parse(&rq, array_bomb, 5, NULL, NULL),
	    NUDGE_ETOOBIG);
	assert_int_equal(wire_reply_parse(&rp, map_bomb, 5, NULL, NULL),
	    NUDGE_ETOOBIG);
	/* Even with no count limit, the bytes remaining bound the count. */
	wide.max_count = UINT32_MAX;
	memset(&d, 0, sizeof(d));
	assert_int_equal(wire_precheck(array_bomb, 5, &wide, &d),
	    NUDGE_ETRUNC);
	/* Refused at the count itself, before walking any element. */
	assert_int_equal(d.col, 1);
	assert_true(strstr(d.msg, "count") != NULL);
	assert_int_equal(wire_precheck(map_bomb, 5, &wide, NULL),
	    NUDGE_ETRUNC);
	/* A pair takes two bytes at least. */
	assert_int_equal(wire_precheck(map16, 6, NULL, NULL), NUDGE_ETRUNC);
	assert_int_equal(wire_precheck(map_half, 2, NULL, NULL),
	    NUDGE_ETRUNC);
}

static void
test_lies_and_junk(void **state)
{
	uint8_t str_lie[16] = {0xdb, 0x00, 0x00, 0x01, 0x00};
	uint8_t str_huge[16] = {0xdb, 0xff, 0xff, 0xff, 0xff};
	uint8_t bin_lie[16] = {0xc5, 0x01, 0x00};
	uint8_t ext_lie[16] = {0xc8, 0x00, 0x0f, 0x01};
	static const uint8_t fixext[] = {0xd8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t reserved[] = {0x92, 0x01, 0xc1};
	static const uint8_t trailing[] = {0x91, 0x01, 0x02};
	struct nudge_diag d;

	(void)state;
	assert_int_equal(wire_precheck(str_lie, 15, NULL, NULL), NUDGE_ETRUNC);
	assert_int_equal(wire_precheck(str_huge, 15, NULL, NULL),
	    NUDGE_ETOOBIG);
	assert_int_equal(wire_precheck(bin_lie, 15, NULL, NULL), NUDGE_ETRUNC);
	assert_int_equal(wire_precheck(ext_lie, 15, NULL, NULL), NUDGE_ETRUNC);
	ext_lie[2] = 0x0b;	/* 11 data bytes + the type byte: exact */
	assert_int_equal(wire_precheck(ext_lie, 15, NULL, NULL), 0);
	assert_int_equal(wire_precheck(fixext, sizeof(fixext), NULL, NULL), 0);
	assert_int_equal(wire_precheck(fixext, sizeof(fixext) - 1, NULL,
	    NULL), NUDGE_ETRUNC);
	memset(&d, 0, sizeof(d));
	assert_int_equal(wire_precheck(reserved, 3, NULL, &d), NUDGE_EINVAL);
	assert_int_equal(d.col, 3);
	assert_int_equal(wire_precheck(trailing, 3, NULL, &d), NUDGE_EINVAL);
	assert_int_equal(d.col, 3);
	assert_true(strstr(d.msg, "trailing") != NULL);
	assert_int_equal(wire_precheck(trailing, 0, NULL, NULL),
	    NUDGE_ETRUNC);
}

/*
 * Builds an envelope whose position bad holds a wrong-typed value; pos -1
 * builds a valid one.  v/kind/agent override the defaults when bad is -1.
 */
static struct bytes
envelope(int bad, uint64_t v, uint64_t kind, const char *agent)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct bytes b;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	for (int pos = 0; pos < 6; pos++) {
		if (pos == bad) {
			if (pos == 2)
				msgpack_pack_int(&pk, -1);
			else
				wire_pack_cstr(&pk, "x");
			continue;
		}
		switch (pos) {
		case 0: msgpack_pack_uint64(&pk, v); break;
		case 1: msgpack_pack_uint64(&pk, kind); break;
		case 2: wire_pack_cstr(&pk, agent); break;
		case 5: msgpack_pack_nil(&pk); break;
		default: msgpack_pack_uint64(&pk, 5); break;
		}
	}
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

/* Concatenates the parts' bytes into one buffer (an agent's batch). */
static struct bytes
concat(const struct bytes *parts, size_t n)
{
	struct bytes all = {NULL, 0};

	for (size_t i = 0; i < n; i++)
		all.n += parts[i].n;
	all.p = malloc(all.n);
	assert_non_null(all.p);
	all.n = 0;
	for (size_t i = 0; i < n; i++) {
		memcpy(all.p + all.n, parts[i].p, parts[i].n);
		all.n += parts[i].n;
	}
	return all;
}

/* wire_msg_each's fn: the kinds seen, as bits. */
static void
count_part(void *arg, const struct wire_msg *m)
{
	*(unsigned *)arg |= 1u << m->h.kind;
}

/*
 * A batch: delta, a part of an unknown kind (skipped, the next still
 * read), snapshot; then the same with its last part cut short: the parts
 * before it are read, the cut one fails and the offset stays.  A whole
 * batch over max_bytes is refused before any part.
 */
static void
test_msg_next_parts(void **state)
{
	struct bytes parts[3] = {make_msg(M_DELTA),
	    envelope(-1, WIRE_VERSION, WIRE_KIND_MAX + 1, "a"),
	    make_msg(M_SNAPSHOT)};
	struct bytes all = concat(parts, 3);
	struct wire_limits small = wire_limits_default;
	struct nudge_diag d;
	struct wire_msg m;
	size_t off = 0;

	(void)state;
	assert_int_equal(wire_msg_next(&m, all.p, all.n, &off, NULL, &d), 0);
	assert_int_equal(m.h.kind, WIRE_DELTA);
	assert_int_equal(off, parts[0].n);
	wire_msg_fini(&m);
	assert_int_equal(wire_msg_next(&m, all.p, all.n, &off, NULL, &d),
	    NUDGE_EKIND);
	assert_int_equal(off, parts[0].n + parts[1].n);
	assert_int_equal(wire_msg_next(&m, all.p, all.n, &off, NULL, &d), 0);
	assert_int_equal(m.h.kind, WIRE_SNAPSHOT);
	assert_int_equal(off, all.n);
	wire_msg_fini(&m);
	/* wire_msg_open still wants exactly one message */
	assert_int_equal(wire_msg_open(&m, all.p, all.n, NULL, &d),
	    NUDGE_EINVAL);

	off = parts[0].n + parts[1].n;
	assert_int_equal(wire_msg_next(&m, all.p, all.n - 1, &off, NULL, &d),
	    NUDGE_ETRUNC);
	assert_int_equal(off, parts[0].n + parts[1].n);
	off = 0;
	small.max_bytes = all.n - 1;
	assert_int_equal(wire_msg_next(&m, all.p, all.n, &off, &small, &d),
	    NUDGE_ETOOBIG);
	assert_int_equal(off, 0);
	off = all.n + 1;
	assert_int_equal(wire_msg_next(&m, all.p, all.n, &off, NULL, &d),
	    NUDGE_EINVAL);
	/* wire_msg_each: the same walk, with a count of the skipped */
	unsigned kinds = 0, skipped = 0;
	assert_int_equal(wire_msg_each(all.p, all.n, NULL, &d, count_part,
	    &kinds, &skipped), 0);
	assert_int_equal(kinds, 1u << WIRE_DELTA | 1u << WIRE_SNAPSHOT);
	assert_int_equal(skipped, 1);
	kinds = skipped = 0;
	assert_int_equal(wire_msg_each(all.p, all.n - 1, NULL, &d, count_part,
	    &kinds, NULL), NUDGE_ETRUNC);
	assert_int_equal(kinds, 1u << WIRE_DELTA);
	for (int i = 0; i < 3; i++)
		free(parts[i].p);
	free(all.p);
}


static int
open_rc(struct bytes b, struct nudge_diag *d)
{
	struct wire_msg m;
	int rc = wire_msg_open(&m, b.p, b.n, NULL, d);

	if (rc == 0)
		wire_msg_fini(&m);
	free(b.p);
	return rc;
}

static void
test_envelope_types(void **state)
{
	char name[WIRE_AGENT_MAX + 2];
	struct nudge_diag d;

	(void)state;
	assert_int_equal(open_rc(envelope(-1, 1, 3, "a"), NULL), 0);
	for (int pos = 0; pos < 5; pos++) {
		memset(&d, 0, sizeof(d));
		if (open_rc(envelope(pos, 1, 3, "a"), &d) != NUDGE_ETYPE)
			fail_msg("wrong type at position %d accepted", pos);
		assert_true(d.col > 1);
	}
	assert_int_equal(open_rc(envelope(-1, 2, 3, "a"), NULL),
	    NUDGE_EVERSION);
	assert_int_equal(open_rc(envelope(-1, 0, 3, "a"), NULL),
	    NUDGE_EVERSION);
	assert_int_equal(open_rc(envelope(-1, 1, 0, "a"), NULL), NUDGE_EKIND);
	assert_int_equal(open_rc(envelope(-1, 1, WIRE_KIND_MAX + 1, "a"),
	    NULL), NUDGE_EKIND);
	assert_int_equal(open_rc(envelope(-1, 1, WIRE_HEAT, "a"), NULL), 0);
	assert_int_equal(open_rc(envelope(-1, 1, 1, ""), NULL), NUDGE_EINVAL);
	assert_int_equal(open_rc(envelope(-1, 1, 1, "a b"), NULL),
	    NUDGE_EINVAL);
	memset(name, 'n', sizeof(name) - 1);
	name[WIRE_AGENT_MAX + 1] = '\0';	/* 64 bytes: one too many */
	assert_int_equal(open_rc(envelope(-1, 1, 1, name), NULL),
	    NUDGE_EINVAL);
	name[WIRE_AGENT_MAX] = '\0';
	assert_int_equal(open_rc(envelope(-1, 1, 1, name), NULL), 0);
}

static void
test_envelope_shape(void **state)
{
	static const uint8_t five[] = {0x95, 0x01, 0x01, 0xa1, 'a', 0x00,
	    0x00};
	static const uint8_t seven[] = {0x97, 0x01, 0x01, 0xa1, 'a', 0x00,
	    0x00, 0xc0, 0xc0};
	static const uint8_t scalar[] = {0x01};
	static const uint8_t v2[] = {0x93, 0x02, 0x01, 0x01};
	struct wire_msg m;
	struct wire_snapshot *s = full_snapshot();
	struct bytes b = envelope(-1, 1, WIRE_SNAPSHOT, "a");

	(void)state;
	assert_int_equal(wire_msg_open(&m, five, sizeof(five), NULL, NULL),
	    NUDGE_EINVAL);
	assert_int_equal(wire_msg_open(&m, seven, sizeof(seven), NULL, NULL),
	    NUDGE_EINVAL);
	assert_int_equal(wire_msg_open(&m, scalar, 1, NULL, NULL),
	    NUDGE_ETYPE);
	/* A later version may change the layout: only v is looked at. */
	assert_int_equal(wire_msg_open(&m, v2, 4, NULL, NULL),
	    NUDGE_EVERSION);
	/* The body is nil: readers refuse it. */
	assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, NULL), 0);
	s->boot_id = 77;
	assert_int_equal(wire_read_snapshot(&m, s), NUDGE_ETYPE);
	assert_int_equal(s->boot_id, 77);
	wire_msg_fini(&m);
	free(b.p);
}

/* Packs a request with a wrong-typed value at position bad. */
static struct bytes
bad_request(int bad)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint8_t id[WIRE_ID_LEN] = {0};
	struct bytes b;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	for (int pos = 0; pos < 6; pos++) {
		if (pos == bad) {
			msgpack_pack_double(&pk, 1.5);
			continue;
		}
		switch (pos) {
		case 0: msgpack_pack_uint8(&pk, WIRE_VERSION); break;
		case 1: wire_pack_cstr(&pk, "ping"); break;
		case 2: msgpack_pack_bin_with_body(&pk, id, sizeof(id)); break;
		case 3: msgpack_pack_uint8(&pk, 1); break;
		default: msgpack_pack_nil(&pk); break;
		}
	}
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

static void
test_request_reply_types(void **state)
{
	struct wire_request rq;
	struct wire_reply rp;
	struct bytes b;

	(void)state;
	for (int pos = -1; pos < 6; pos++) {
		b = bad_request(pos);
		if (wire_request_parse(&rq, b.p, b.n, NULL, NULL) !=
		    (pos < 0 ? 0 : NUDGE_ETYPE))
			fail_msg("request, bad position %d", pos);
		if (pos < 0)
			wire_request_fini(&rq);
		free(b.p);
	}
	/* A reply is not a request and vice versa. */
	b = make_reply(0, "");
	assert_int_equal(wire_request_parse(&rq, b.p, b.n, NULL, NULL),
	    NUDGE_EINVAL);
	free(b.p);
	b = make_request(false);
	assert_int_equal(wire_reply_parse(&rp, b.p, b.n, NULL, NULL),
	    NUDGE_EINVAL);
	b.p[1] = 0x02;	/* version */
	assert_int_equal(wire_request_parse(&rq, b.p, b.n, NULL, NULL),
	    NUDGE_EVERSION);
	free(b.p);
	for (int pos = 1; pos < 4; pos++) {
		/* reply positions: id, status, message */
		msgpack_sbuffer sb;
		msgpack_packer pk;
		uint8_t id[WIRE_ID_LEN] = {0};

		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_array(&pk, 5);
		msgpack_pack_uint8(&pk, WIRE_VERSION);
		if (pos == 1) msgpack_pack_true(&pk);
		else msgpack_pack_bin_with_body(&pk, id, sizeof(id));
		if (pos == 2) wire_pack_cstr(&pk, "0");
		else msgpack_pack_int(&pk, 0);
		if (pos == 3) msgpack_pack_int(&pk, 0);
		else wire_pack_cstr(&pk, "");
		msgpack_pack_nil(&pk);
		assert_int_equal(wire_reply_parse(&rp, sb.data, sb.size, NULL,
		    NULL), NUDGE_ETYPE);
		msgpack_sbuffer_destroy(&sb);
	}
}

/*
 * Unpacks one hand-built event map and decodes it.  The bytes stay alive
 * (ev's views point into them) until the next call or event_rc_done().
 */
static msgpack_sbuffer event_sb;

static void
event_rc_done(void)
{
	msgpack_sbuffer_destroy(&event_sb);
	msgpack_sbuffer_init(&event_sb);
}

static int
event_rc(void (*build)(msgpack_packer *), struct nudge_event *ev,
    struct nudge_diag *d)
{
	msgpack_sbuffer *sb = &event_sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	int rc;

	event_rc_done();
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	build(&pk);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb->data, sb->size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	memset(d, 0, sizeof(*d));
	rc = wire_unpack_event(&up.data, ev, d);
	msgpack_unpacked_destroy(&up);
	return rc;
}

static void
kv(msgpack_packer *pk, const char *k, const char *v)
{
	wire_pack_cstr(pk, k);
	wire_pack_cstr(pk, v);
}

static void
ev_short_custom(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	kv(pk, "t", "wishlist");
	kv(pk, "vid", "v");
	wire_pack_cstr(pk, "val");
	msgpack_pack_int(pk, -5);
}

static void
ev_long_page(msgpack_packer *pk)
{
	static char page[EVENT_PAGE_MAX + 2];

	memset(page, 'p', EVENT_PAGE_MAX + 1);
	msgpack_pack_map(pk, 2);
	kv(pk, "t", "pageview");
	kv(pk, "p", page);
}

static void
ev_vid_int(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	kv(pk, "t", "click");
	wire_pack_cstr(pk, "vid");
	msgpack_pack_int(pk, 7);
}

static void
ev_many_fields(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	kv(pk, "t", "click");
	wire_pack_cstr(pk, "f");
	msgpack_pack_map(pk, EVENT_FIELDS_MAX + 1);
	for (int i = 0; i < EVENT_FIELDS_MAX + 1; i++) {
		char k[4] = {'k', (char)('a' + i), 0, 0};
		kv(pk, k, "v");
	}
}

static void
ev_neg_quantity(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	kv(pk, "t", "add_to_cart");
	wire_pack_cstr(pk, "q");
	msgpack_pack_int(pk, -1);
}

static void
ev_big_x(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	kv(pk, "t", "click");
	wire_pack_cstr(pk, "x");
	msgpack_pack_uint32(pk, 70000);
}

static void
ev_no_type(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	kv(pk, "vid", "v");
}

static void
ev_bad_type(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 1);
	kv(pk, "t", "not a name");
}

static void
ev_long_country(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	kv(pk, "t", "click");
	kv(pk, "cc", "FRA");
}

static void
test_event_decode_errors(void **state)
{
	struct nudge_event ev;
	struct nudge_diag d;

	(void)state;
	assert_int_equal(event_rc(ev_short_custom, &ev, &d), 0);
	assert_int_equal(ev.type, EVENT_CUSTOM);
	assert_true(strv_eq(ev.name, "wishlist"));
	assert_true(ev.value_cents == -5);
	assert_int_equal(event_rc(ev_long_page, &ev, &d), NUDGE_ETOOBIG);
	assert_true(strncmp(d.msg, "p:", 2) == 0);
	assert_int_equal(event_rc(ev_vid_int, &ev, &d), NUDGE_ETYPE);
	assert_true(strncmp(d.msg, "vid:", 4) == 0);
	assert_int_equal(event_rc(ev_many_fields, &ev, &d), NUDGE_ETOOBIG);
	assert_true(strncmp(d.msg, "f:", 2) == 0);
	assert_int_equal(event_rc(ev_neg_quantity, &ev, &d), NUDGE_ETYPE);
	assert_true(strncmp(d.msg, "q:", 2) == 0);
	assert_int_equal(event_rc(ev_big_x, &ev, &d), NUDGE_ERANGE);
	assert_int_equal(event_rc(ev_no_type, &ev, &d), NUDGE_EINVAL);
	assert_true(strncmp(d.msg, "t:", 2) == 0);
	assert_int_equal(event_rc(ev_bad_type, &ev, &d), NUDGE_EINVAL);
	assert_int_equal(event_rc(ev_long_country, &ev, &d), NUDGE_ETOOBIG);
	assert_true(strncmp(d.msg, "cc:", 3) == 0);
	event_rc_done();
}

/* Unpacks a hand-built object into a zone the caller destroys. */
static const msgpack_object *
unpack(msgpack_sbuffer *sb, msgpack_unpacked *up)
{
	msgpack_unpacked_init(up);
	assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	return &up->data;
}

static void
test_agg_decode(void **state)
{
	static struct agg a;
	uint8_t regs[HLL_REGISTERS] = {0};
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;

	(void)state;
	for (int variant = 0; variant < 4; variant++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_map(&pk, 2);
		wire_pack_cstr(&pk, "c");
		msgpack_pack_map(&pk, 2);
		wire_pack_cstr(&pk, "from.the.future");	/* skipped */
		msgpack_pack_uint8(&pk, 1);
		wire_pack_cstr(&pk, variant == 1 ? "events" : "bots");
		if (variant == 1)
			wire_pack_cstr(&pk, "7");
		else
			msgpack_pack_uint8(&pk, 7);
		wire_pack_cstr(&pk, "hll");
		regs[0] = variant == 3 ? 64 : 3;
		msgpack_pack_bin_with_body(&pk, regs,
		    variant == 2 ? 100 : HLL_REGISTERS);
		a.c[AGG_BOTS] = 1234;
		switch (variant) {
		case 0:
			assert_int_equal(wire_unpack_agg(unpack(&sb, &up),
			    &a), 0);
			assert_int_equal(a.c[AGG_BOTS], 7);
			assert_int_equal(a.visitors.reg[0], 3);
			break;
		case 1:
			/* A known name with an unknown-typed value. */
			assert_int_equal(wire_unpack_agg(unpack(&sb, &up),
			    &a), NUDGE_ETYPE);
			assert_int_equal(a.c[AGG_BOTS], 1234);
			break;
		default:
			assert_int_equal(wire_unpack_agg(unpack(&sb, &up),
			    &a), NUDGE_EINVAL);
			break;
		}
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void
test_get_helpers(void **state)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	const msgpack_object *o;
	struct nudge_strv v;
	char small[4] = "old";
	uint64_t u = 9;
	int64_t i = 9;
	bool b = false;

	(void)state;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 5);
	wire_pack_cstr(&pk, "u");
	msgpack_pack_uint64(&pk, UINT64_MAX);
	wire_pack_cstr(&pk, "n");
	msgpack_pack_int(&pk, -3);
	wire_pack_cstr(&pk, "b");
	msgpack_pack_true(&pk);
	kv(&pk, "s", "four");
	msgpack_pack_int(&pk, 1);	/* a non-str key is skipped */
	msgpack_pack_int(&pk, 2);
	o = unpack(&sb, &up);
	assert_int_equal(wire_get_u64(o, "u", &u), 0);
	assert_true(u == UINT64_MAX);
	assert_int_equal(wire_get_u64(o, "n", &u), NUDGE_ETYPE);
	assert_int_equal(wire_get_u64(o, "zz", &u), NUDGE_ENOTFOUND);
	assert_true(u == UINT64_MAX);
	assert_int_equal(wire_get_i64(o, "n", &i), 0);
	assert_int_equal(i, -3);
	assert_int_equal(wire_get_i64(o, "u", &i), NUDGE_ERANGE);
	assert_int_equal(wire_get_bool(o, "b", &b), 0);
	assert_true(b);
	assert_int_equal(wire_get_bool(o, "s", &b), NUDGE_ETYPE);
	assert_int_equal(wire_get_str(o, "s", small, sizeof(small)),
	    NUDGE_ETOOBIG);
	assert_string_equal(small, "old");
	assert_int_equal(wire_get_strv(o, "s", &v), 0);
	assert_true(strv_eq(v, "four"));
	assert_int_equal(wire_get_strv(o, "u", &v), NUDGE_ETYPE);
	assert_null(wire_map_get(o, "missing"));
	assert_null(wire_map_get(&o->via.map.ptr[0].val, "u"));
	assert_int_equal(wire_obj_strv(&o->via.map.ptr[0].val, &v),
	    NUDGE_ETYPE);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

static void
test_new_id(void **state)
{
	uint8_t a[WIRE_ID_LEN], b[WIRE_ID_LEN], zero[WIRE_ID_LEN] = {0};

	(void)state;
	wire_new_id(a);
	wire_new_id(b);
	assert_memory_not_equal(a, b, WIRE_ID_LEN);
	assert_memory_not_equal(a, zero, WIRE_ID_LEN);
}

/* ---- heatmaps ---------------------------------------------------------- */

static struct wire_heat *
sample_heat(void)
{
	struct wire_heat *v = calloc(1, sizeof(*v));

	assert_non_null(v);
	v->n_pages = 2;
	v->pages[0].page = STRV_LIT("/product/boots?utm=x");
	v->pages[0].first = 0;
	v->pages[0].n_cells = 3;
	v->cells[0] = (struct wire_heat_cell){0, 4};
	v->cells[1] = (struct wire_heat_cell){WIRE_HEAT_CELLS - 1, 70000};
	v->cells[2] = (struct wire_heat_cell){17, 0}; /* zero: not sent */
	v->pages[0].reach[0] = 9;
	v->pages[0].reach[WIRE_HEAT_BANDS - 1] = UINT32_MAX;
	v->pages[1].page = STRV_LIT("(other)");
	v->pages[1].first = 3;
	v->pages[1].n_cells = 1;
	v->cells[3] = (struct wire_heat_cell){600, 1};
	v->n_cells = 4;
	return v;
}

static void
test_heat_round_trip(void **state)
{
	struct wire_heat *v = sample_heat(), *got = malloc(sizeof(*got));
	struct wire_header h;
	struct wire_msg m;
	msgpack_sbuffer sb;
	struct bytes b;

	(void)state;
	header(&h, 3);
	msgpack_sbuffer_init(&sb);
	assert_int_equal(wire_write_heat(&sb, &h, v), 0);
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, NULL), 0);
	assert_int_equal(m.h.kind, WIRE_HEAT);
	assert_int_equal(wire_read_heat(&m, got), 0);
	assert_int_equal(got->n_pages, 2);
	assert_int_equal(got->n_cells, 3);
	assert_strv(got->pages[0].page, v->pages[0].page);
	assert_int_equal(got->pages[0].n_cells, 2);
	assert_int_equal(got->cells[0].cell, 0);
	assert_int_equal(got->cells[0].n, 4);
	assert_int_equal(got->cells[1].cell, WIRE_HEAT_CELLS - 1);
	assert_int_equal(got->cells[1].n, 70000);
	assert_memory_equal(got->pages[0].reach, v->pages[0].reach,
	    sizeof(v->pages[0].reach));
	assert_true(strv_eq(got->pages[1].page, "(other)"));
	assert_int_equal(got->pages[1].first, 2);
	assert_int_equal(got->cells[2].cell, 600);
	assert_int_equal(got->pages[1].reach[0], 0);
	wire_msg_fini(&m);
	/* cut anywhere: refused by the envelope */
	for (size_t n = 0; n < b.n; n++)
		assert_int_not_equal(wire_msg_open(&m, b.p, n, NULL, NULL), 0);
	free(b.p);
	free(got);
	free(v);
}

static void
test_heat_encoder_refuses(void **state)
{
	struct wire_heat *v = sample_heat();
	struct wire_header h;
	msgpack_sbuffer sb;

	(void)state;
	header(&h, 0);
	msgpack_sbuffer_init(&sb);
	v->n_pages = WIRE_HEAT_PAGES_MAX + 1;
	assert_int_equal(wire_write_heat(&sb, &h, v), NUDGE_ETOOBIG);
	v->n_pages = 2;
	v->cells[3].cell = WIRE_HEAT_CELLS;
	assert_int_equal(wire_write_heat(&sb, &h, v), NUDGE_ERANGE);
	v->cells[3].cell = 1;
	v->pages[1].n_cells = 2; /* past n_cells */
	assert_int_equal(wire_write_heat(&sb, &h, v), NUDGE_EINVAL);
	v->pages[1].n_cells = 1;
	v->pages[1].page.len = 0;
	assert_int_equal(wire_write_heat(&sb, &h, v), NUDGE_EINVAL);
	assert_int_equal(sb.size, 0);
	msgpack_sbuffer_destroy(&sb);
	free(v);
}

enum heat_lie {
	HL_CELL_RANGE, HL_BAND_RANGE, HL_COUNT_RANGE, HL_PAGES, HL_CELLS,
	HL_NO_PAGE, HL_EMPTY_PAGE, HL_PAGE_TYPE, HL_CELLS_TYPE, HL_PAIR3,
	HL_PAIR_NEG, HL_BODY_MAP, HL_BANDS, HL_LONG_PAGE, HL_N
};

/* A HEAT message whose body tells one lie. */
static struct bytes
heat_lie_msg(int lie)
{
	static char long_page[WIRE_HEAT_PAGE_MAX + 2];
	msgpack_sbuffer sb;
	msgpack_packer pk;
	struct bytes b;
	uint32_t pages = lie == HL_PAGES ? WIRE_HEAT_PAGES_MAX + 1 :
	    lie == HL_CELLS ? 3 : 1;

	memset(long_page, 'a', sizeof(long_page) - 1);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint8(&pk, WIRE_VERSION);
	msgpack_pack_uint8(&pk, WIRE_HEAT);
	wire_pack_cstr(&pk, "a1");
	msgpack_pack_uint64(&pk, 1);
	msgpack_pack_uint64(&pk, 1);
	if (lie == HL_BODY_MAP) {
		msgpack_pack_map(&pk, 0);
		goto done;
	}
	msgpack_pack_array(&pk, pages);
	for (uint32_t i = 0; i < pages; i++) {
		uint32_t cells = lie == HL_CELLS ? 700 : 1;
		msgpack_pack_map(&pk, lie == HL_NO_PAGE ? 2 : 3);
		if (lie != HL_NO_PAGE) {
			wire_pack_cstr(&pk, "p");
			if (lie == HL_PAGE_TYPE)
				msgpack_pack_uint8(&pk, 1);
			else
				wire_pack_cstr(&pk, lie == HL_EMPTY_PAGE ? "" :
				    lie == HL_LONG_PAGE ? long_page : "/x");
		}
		wire_pack_cstr(&pk, "c");
		if (lie == HL_CELLS_TYPE) {
			msgpack_pack_map(&pk, 0);
		} else {
			msgpack_pack_array(&pk, cells);
			for (uint32_t k = 0; k < cells; k++) {
				msgpack_pack_array(&pk,
				    lie == HL_PAIR3 ? 3 : 2);
				if (lie == HL_PAIR_NEG)
					msgpack_pack_int8(&pk, -1);
				else
					msgpack_pack_uint32(&pk,
					    lie == HL_CELL_RANGE ?
					    WIRE_HEAT_CELLS : k);
				msgpack_pack_uint64(&pk,
				    lie == HL_COUNT_RANGE ?
				    (uint64_t)UINT32_MAX + 1 : 1);
				if (lie == HL_PAIR3)
					msgpack_pack_uint8(&pk, 0);
			}
		}
		wire_pack_cstr(&pk, "s");
		uint32_t bands = lie == HL_BANDS ? WIRE_HEAT_BANDS + 1 : 1;
		msgpack_pack_array(&pk, bands);
		for (uint32_t k = 0; k < bands; k++) {
			msgpack_pack_array(&pk, 2);
			msgpack_pack_uint8(&pk, lie == HL_BAND_RANGE ?
			    WIRE_HEAT_BANDS : 0);
			msgpack_pack_uint8(&pk, 1);
		}
	}
done:
	b = take(&sb);
	msgpack_sbuffer_destroy(&sb);
	return b;
}

static void
test_heat_decoder_refuses(void **state)
{
	static const int want[HL_N] = {
		[HL_CELL_RANGE] = NUDGE_ERANGE, [HL_BAND_RANGE] = NUDGE_ERANGE,
		[HL_COUNT_RANGE] = NUDGE_ERANGE, [HL_PAGES] = NUDGE_ETOOBIG,
		[HL_CELLS] = NUDGE_ETOOBIG, [HL_NO_PAGE] = NUDGE_ETYPE,
		[HL_EMPTY_PAGE] = NUDGE_EINVAL, [HL_PAGE_TYPE] = NUDGE_ETYPE,
		[HL_CELLS_TYPE] = NUDGE_ETYPE, [HL_PAIR3] = NUDGE_ETYPE,
		[HL_PAIR_NEG] = NUDGE_ETYPE, [HL_BODY_MAP] = NUDGE_ETYPE,
		[HL_BANDS] = NUDGE_ETOOBIG, [HL_LONG_PAGE] = NUDGE_ETOOBIG,
	};
	struct wire_heat *out = malloc(sizeof(*out));
	struct wire_msg m;

	(void)state;
	for (int lie = 0; lie < HL_N; lie++) {
		struct bytes b = heat_lie_msg(lie);
		assert_int_equal(wire_msg_open(&m, b.p, b.n, NULL, NULL), 0);
		memset(out, 0x5a, sizeof(*out));
		int rc = wire_read_heat(&m, out);
		if (rc != want[lie])
			fail_msg("lie %d: got %d, want %d", lie, rc,
			    want[lie]);
		/* out is written only on success */
		assert_int_equal(out->n_pages, 0x5a5a5a5a);
		wire_msg_fini(&m);
		free(b.p);
	}
	/* another kind is not a heat message */
	struct bytes e = make_msg(M_EVENTS);
	assert_int_equal(wire_msg_open(&m, e.p, e.n, NULL, NULL), 0);
	assert_int_equal(wire_read_heat(&m, out), NUDGE_EKIND);
	wire_msg_fini(&m);
	free(e.p);
	free(out);
}

/* Seeds for the fuzzer; a no-op unless NUDGE_WRITE_CORPUS names a dir. */

/* ---- campaigns ---------------------------------------------------------- */

/* Packs w, unpacks the bytes into up (the caller destroys it). */
static const msgpack_object *
campaign_object(const struct wire_campaign *w, msgpack_sbuffer *sb,
    msgpack_unpacked *up)
{
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	wire_pack_campaign(&pk, w);
	msgpack_unpacked_init(up);
	assert_int_equal(msgpack_unpack_next(up, sb->data, sb->size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	return &up->data;
}

static msgpack_object *
obj_key(const msgpack_object *map, const char *key)
{
	msgpack_object *v = (msgpack_object *)wire_map_get(map, key);

	assert_non_null(v);
	return v;
}

static void
test_campaign_round_trip(void **state)
{
	static struct wire_campaign want, got, stopped;
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	const msgpack_object *o;

	(void)state;
	for (unsigned nv = 2; nv <= CAMP_VARIANTS_MAX; nv++)
		for (unsigned ng = 0; ng <= RULE_GUARDRAILS_MAX; ng++) {
			full_campaign(&want, "checkout_banner", nv, ng);
			o = campaign_object(&want, &sb, &up);
			memset(&got, 0xa5, sizeof(got));
			assert_int_equal(wire_unpack_campaign(o, &got), 0);
			assert_campaign_equal(&got, &want);
			msgpack_unpacked_destroy(&up);
			msgpack_sbuffer_destroy(&sb);
		}
	/* A stopped, tripped-then-reset campaign with zero counters. */
	full_campaign(&stopped, "c", 3, 1);
	assert_int_equal(camp_trip(&stopped.c, "why\tnot"), 0);
	assert_int_equal(camp_reset_breaker(&stopped.c, 3, NULL), 0);
	assert_int_equal(camp_stop(&stopped.c, 4, 2, NULL), 0);
	memset(stopped.arm, 0, sizeof(stopped.arm));
	stopped.since_ms = 0;
	o = campaign_object(&stopped, &sb, &up);
	assert_int_equal(wire_unpack_campaign(o, &got), 0);
	assert_campaign_equal(&got, &stopped);
	assert_int_equal(got.c.state, CAMP_STOPPED);
	assert_int_equal(got.c.winner, 2);
	assert_int_equal(got.c.version, 5);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

/* Fewer arms than variants (a campaign given no slot): the rest zero. */
static void
test_campaign_missing_keys(void **state)
{
	static struct wire_campaign want, got;
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	msgpack_object *o;

	(void)state;
	full_campaign(&want, "camp", 4, 2);
	o = (msgpack_object *)campaign_object(&want, &sb, &up);
	obj_key(o, "arms")->via.array.size = 0;
	/* no arms, so no step lists either (steps over an arm's n refused) */
	obj_key(o, "steps")->via.array.size = 0;
	assert_int_equal(wire_unpack_campaign(o, &got), 0);
	assert_int_equal(got.arm[0].n, 0);
	assert_int_equal(got.arm[3].g[1], 0);
	/* Only t is needed; since, goal, gr and arms may be absent. */
	o->via.map.size = 1;
	assert_int_equal(o->via.map.ptr[0].key.via.str.size, 1);
	assert_int_equal(o->via.map.ptr[0].key.via.str.ptr[0], 't');
	assert_int_equal(wire_unpack_campaign(o, &got), 0);
	assert_int_equal(got.since_ms, 0);
	assert_string_equal(got.goal, "");
	assert_int_equal(got.n_guard, 0);
	assert_int_equal(got.c.version, want.c.version);
	assert_int_equal(got.arm[1].steps[0], 0);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

/*
 * Steps ride in their own key: an older agent (no "steps") decodes with
 * its arms and zero steps, and an older console, which wants arms of
 * exactly four, still gets arms of four.
 */
static void
test_campaign_steps_compat(void **state)
{
	static struct wire_campaign want, got;
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	msgpack_object *o, *arms;

	(void)state;
	full_campaign(&want, "camp", 3, 1);
	o = (msgpack_object *)campaign_object(&want, &sb, &up);
	arms = obj_key(o, "arms");
	for (uint32_t i = 0; i < arms->via.array.size; i++)
		assert_int_equal(arms->via.array.ptr[i].via.array.size, 4);
	assert_int_equal(obj_key(o, "steps")->via.array.size, 3);
	/* trailing zeros are not sent */
	assert_int_equal(obj_key(o, "steps")->via.array.ptr[1].via.array.size,
	    4);
	assert_int_equal(wire_unpack_campaign(o, &got), 0);
	assert_int_equal(got.arm[1].steps[3], want.arm[1].n - 40);
	/* an older agent: the key is not there (renamed: unknown, skipped) */
	for (uint32_t i = 0; i < o->via.map.size; i++)
		if (o->via.map.ptr[i].key.via.str.size == 5 &&
		    memcmp(o->via.map.ptr[i].key.via.str.ptr, "steps", 5) == 0)
			o->via.map.ptr[i].key.via.str.ptr = "stepz";
	assert_int_equal(wire_unpack_campaign(o, &got), 0);
	assert_int_equal(got.arm[1].n, want.arm[1].n);
	for (unsigned i = 0; i < 3; i++)
		for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
			assert_int_equal(got.arm[i].steps[k], 0);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

enum camp_bad {
	CB_NOT_MAP, CB_NO_TEXT, CB_TEXT_INT, CB_TEXT_BAD, CB_TEXT_VERSION,
	CB_TEXT_HUGE, CB_SINCE_STR, CB_GOAL_LONG, CB_GR_MAP, CB_GR_MANY,
	CB_GR_SHAPE, CB_GR_BP, CB_ARMS_MAP, CB_ARMS_MORE, CB_ARMS_MAX,
	CB_ARM_SHAPE, CB_ARM_N_NEG, CB_ARM_REV_STR, CB_ARM_X_OVER,
	CB_ARM_G_OVER, CB_ARM_G_MORE, CB_ARM_G_MAX, CB_KEY_INT,
	CB_STEPS_MAP, CB_STEPS_MORE, CB_STEPS_MAX, CB_STEP_LONG, CB_STEP_STR,
	CB_STEP_OVER_N, CB_STEP_GROWS, CB_N
};

/* Spoils one thing of a packed 8-variant campaign with 2 guardrails. */
static int
unpack_spoiled(enum camp_bad bad)
{
	static struct wire_campaign want, got, before;
	static char huge[CAMP_TEXT_MAX + 2];
	static const char two[] = "nudge-campaign 1\nname=x\nversion=1\n"
	    "state=draft\ngeneration=0\nholdout=0\nvariants=a:50,b:50\n"
	    "winner=-1\ntripped=0\nreason=\nlast=-\n";
	msgpack_object many[AGG_STEPS_MAX + 1];
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	msgpack_object *o, *t, *gr, *arms, *arm0, *steps, *st1;
	int rc;

	full_campaign(&want, "camp", CAMP_VARIANTS_MAX, 2);
	o = (msgpack_object *)campaign_object(&want, &sb, &up);
	t = obj_key(o, "t");
	gr = obj_key(o, "gr");
	arms = obj_key(o, "arms");
	arm0 = &arms->via.array.ptr[0];
	steps = obj_key(o, "steps");
	st1 = &steps->via.array.ptr[1];
	switch (bad) {
	case CB_NOT_MAP: o->type = MSGPACK_OBJECT_ARRAY; break;
	case CB_NO_TEXT: o->via.map.ptr[0].key.via.str.ptr = "T"; break;
	case CB_TEXT_INT: t->type = MSGPACK_OBJECT_POSITIVE_INTEGER; break;
	case CB_TEXT_BAD: t->via.str.size -= 2; break;	/* cut "-\n" */
	case CB_TEXT_VERSION: t->via.str.ptr = "nudge-campaign 2\n";
		t->via.str.size = 17; break;
	case CB_TEXT_HUGE: memset(huge, 'x', sizeof(huge));
		t->via.str.ptr = huge; t->via.str.size = sizeof(huge); break;
	case CB_SINCE_STR: obj_key(o, "since")->type = MSGPACK_OBJECT_STR;
		obj_key(o, "since")->via.str.size = 0; break;
	case CB_GOAL_LONG: obj_key(o, "goal")->via.str.ptr = huge;
		obj_key(o, "goal")->via.str.size = WIRE_RULE_NAME_MAX + 1;
		break;
	case CB_GR_MAP: gr->type = MSGPACK_OBJECT_MAP; gr->via.map.size = 0;
		break;
	case CB_GR_MANY: for (int i = 0; i <= RULE_GUARDRAILS_MAX; i++)
			many[i] = gr->via.array.ptr[0];
		gr->via.array.ptr = many;
		gr->via.array.size = RULE_GUARDRAILS_MAX + 1; break;
	case CB_GR_SHAPE: gr->via.array.ptr[1].via.array.size = 1; break;
	case CB_GR_BP: gr->via.array.ptr[1].via.array.ptr[1].via.u64 = 10001;
		break;
	case CB_ARMS_MAP: arms->type = MSGPACK_OBJECT_STR; break;
	case CB_ARMS_MORE: t->via.str.ptr = two; t->via.str.size =
		sizeof(two) - 1; break;
	case CB_ARMS_MAX: for (int i = 0; i <= CAMP_VARIANTS_MAX; i++)
			many[i] = *arm0;
		arms->via.array.ptr = many;
		arms->via.array.size = CAMP_VARIANTS_MAX + 1; break;
	case CB_ARM_SHAPE: arm0->via.array.size = 3; break;
	case CB_ARM_N_NEG: arm0->via.array.ptr[0].type =
		MSGPACK_OBJECT_NEGATIVE_INTEGER;
		arm0->via.array.ptr[0].via.i64 = -1; break;
	case CB_ARM_REV_STR: arm0->via.array.ptr[2].type = MSGPACK_OBJECT_STR;
		arm0->via.array.ptr[2].via.str.size = 0; break;
	case CB_ARM_X_OVER: arms->via.array.ptr[1].via.array.ptr[1].via.u64 =
		want.arm[1].n + 1; break;
	case CB_ARM_G_OVER: arms->via.array.ptr[1].via.array.ptr[3].via.array
		.ptr[0].via.u64 = want.arm[1].n + 1; break;
	case CB_ARM_G_MORE: gr->via.array.size = 1; break;
	case CB_ARM_G_MAX: for (int i = 0; i <= RULE_GUARDRAILS_MAX; i++)
			many[i] = arm0->via.array.ptr[3].via.array.ptr[0];
		arm0->via.array.ptr[3].via.array.ptr = many;
		arm0->via.array.ptr[3].via.array.size =
		    RULE_GUARDRAILS_MAX + 1; break;
	case CB_KEY_INT: o->via.map.ptr[2].key.type =
		MSGPACK_OBJECT_POSITIVE_INTEGER; break;
	case CB_STEPS_MAP: steps->type = MSGPACK_OBJECT_MAP;
		steps->via.map.size = 0; break;
	case CB_STEPS_MORE: arms->via.array.size = 1; break;
	case CB_STEPS_MAX: for (int i = 0; i <= CAMP_VARIANTS_MAX; i++)
			many[i] = *st1;
		steps->via.array.ptr = many;
		steps->via.array.size = CAMP_VARIANTS_MAX + 1; break;
	case CB_STEP_LONG: for (int k = 0; k <= AGG_STEPS_MAX; k++)
			many[k] = st1->via.array.ptr[3];
		st1->via.array.ptr = many;
		st1->via.array.size = AGG_STEPS_MAX + 1; break;
	case CB_STEP_STR: st1->via.array.ptr[0].type = MSGPACK_OBJECT_STR;
		st1->via.array.ptr[0].via.str.size = 0; break;
	case CB_STEP_OVER_N: st1->via.array.ptr[0].via.u64 =
		want.arm[1].n + 1; break;
	case CB_STEP_GROWS: st1->via.array.ptr[1].via.u64 =
		st1->via.array.ptr[0].via.u64 + 1; break;
	default: break;
	}
	memset(&got, 0x5a, sizeof(got));
	before = got;
	rc = wire_unpack_campaign(o, &got);
	if (rc != 0)	/* refusals leave the output alone */
		assert_memory_equal(&got, &before, sizeof(got));
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
test_campaign_refusals(void **state)
{
	static const int want[CB_N] = {
		[CB_NOT_MAP] = NUDGE_ETYPE, [CB_NO_TEXT] = NUDGE_EINVAL,
		[CB_TEXT_INT] = NUDGE_ETYPE, [CB_TEXT_BAD] = NUDGE_ESYNTAX,
		[CB_TEXT_VERSION] = NUDGE_EVERSION,
		[CB_TEXT_HUGE] = NUDGE_ETOOBIG, [CB_SINCE_STR] = NUDGE_ETYPE,
		[CB_GOAL_LONG] = NUDGE_ETOOBIG, [CB_GR_MAP] = NUDGE_ETYPE,
		[CB_GR_MANY] = NUDGE_ETOOBIG, [CB_GR_SHAPE] = NUDGE_EINVAL,
		[CB_GR_BP] = NUDGE_ERANGE, [CB_ARMS_MAP] = NUDGE_ETYPE,
		[CB_ARMS_MORE] = NUDGE_EINVAL, [CB_ARMS_MAX] = NUDGE_ETOOBIG,
		[CB_ARM_SHAPE] = NUDGE_EINVAL, [CB_ARM_N_NEG] = NUDGE_ETYPE,
		[CB_ARM_REV_STR] = NUDGE_ETYPE, [CB_ARM_X_OVER] = NUDGE_EINVAL,
		[CB_ARM_G_OVER] = NUDGE_EINVAL, [CB_ARM_G_MORE] = NUDGE_EINVAL,
		[CB_ARM_G_MAX] = NUDGE_ETOOBIG, [CB_KEY_INT] = NUDGE_ETYPE,
		[CB_STEPS_MAP] = NUDGE_ETYPE, [CB_STEPS_MORE] = NUDGE_EINVAL,
		[CB_STEPS_MAX] = NUDGE_ETOOBIG, [CB_STEP_LONG] = NUDGE_ETOOBIG,
		[CB_STEP_STR] = NUDGE_ETYPE, [CB_STEP_OVER_N] = NUDGE_EINVAL,
		[CB_STEP_GROWS] = NUDGE_EINVAL,
	};

	(void)state;
	assert_int_equal(wire_unpack_campaign(NULL, NULL), NUDGE_ETYPE);
	for (int b = 0; b < CB_N; b++) {
		int rc = unpack_spoiled((enum camp_bad)b);

		if (rc != want[b])
			fail_msg("case %d: %d, want %d", b, rc, want[b]);
	}
}

/* A snapshot with a spoiled campaign is refused whole. */
static void
test_snapshot_camps_bounds(void **state)
{
	static struct wire_snapshot got;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	struct wire_snapshot *s = full_snapshot();

	(void)state;
	for (int round = 0; round < 3; round++) {
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		s->n_camps = round == 0 ? 0 : WIRE_CAMPS_MAX;
		wire_pack_snapshot(&pk, s);
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size,
		    NULL), MSGPACK_UNPACK_SUCCESS);
		got.n_camps = 99;
		if (round < 2) {
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    0);
			assert_int_equal(got.n_camps, s->n_camps);
			/* no campaigns: no "camps" key at all */
			assert_true((wire_map_get(&up.data, "camps") == NULL) ==
			    (round == 0));
		} else {
			msgpack_object *c = (msgpack_object *)wire_map_get(
			    &up.data, "camps");
			const msgpack_object *rules;
			msgpack_object *lift;

			c->via.array.ptr[5].type = MSGPACK_OBJECT_NIL;
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    NUDGE_ETYPE);
			assert_int_equal(got.n_camps, 99);
			c->via.array.ptr[5] = c->via.array.ptr[4];
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    0);
			c->via.array.size = WIRE_CAMPS_MAX + 1;
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    NUDGE_ETOOBIG);
			c->via.array.size = WIRE_CAMPS_MAX;
			/* rule 1 has a lift; spoil its shape, then x > n */
			rules = wire_map_get(&up.data, "rules");
			lift = (msgpack_object *)wire_map_get(
			    &rules->via.array.ptr[1], "lift");
			assert_non_null(lift);
			lift->via.array.size = 3;
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    NUDGE_EINVAL);
			lift->via.array.size = 4;
			lift->via.array.ptr[3].via.u64 = 101;
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    NUDGE_EINVAL);
			lift->via.array.ptr[3].type = MSGPACK_OBJECT_STR;
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    NUDGE_ETYPE);
			lift->type = MSGPACK_OBJECT_MAP;
			assert_int_equal(wire_unpack_snapshot(&up.data, &got),
			    NUDGE_ETYPE);
		}
		msgpack_unpacked_destroy(&up);
		msgpack_sbuffer_destroy(&sb);
	}
	s->n_camps = WIRE_CAMPS_MAX;
}

static int
change_round_trip(const struct wire_camp_change *in,
    struct wire_camp_change *out, struct nudge_diag *d)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	wire_pack_camp_change(&pk, in);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	/* keys not used by the op are not packed */
	assert_int_equal(up.data.via.map.size,
	    in->op == CAMP_OP_STOP || in->op == CAMP_OP_WEIGHTS ||
	    in->op == CAMP_OP_HOLDOUT ? 4 : 3);
	rc = wire_unpack_camp_change(&up.data, out, d);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
test_camp_change_round_trip(void **state)
{
	struct wire_camp_change in, out;
	struct nudge_diag d;

	(void)state;
	for (int op = CAMP_OP_NONE + 1; op < CAMP_OP_COUNT; op++) {
		memset(&in, 0, sizeof(in));
		memset(in.name, 'c', CAMP_NAME_MAX);
		in.op = (uint8_t)op;
		in.expect = op == CAMP_OP_START ? UINT64_MAX : (uint64_t)op;
		in.winner = op == CAMP_OP_STOP ? CAMP_VARIANTS_MAX - 1 : -1;
		if (op == CAMP_OP_WEIGHTS) {
			in.n_weights = CAMP_VARIANTS_MAX;
			for (int i = 0; i < CAMP_VARIANTS_MAX; i++)
				in.weights[i] = (uint8_t)(i == 0 ? 100 : 0);
		}
		in.holdout_bp = op == CAMP_OP_HOLDOUT ? 9999 : 0;
		memset(&out, 0xee, sizeof(out));
		assert_int_equal(change_round_trip(&in, &out, &d), 0);
		assert_string_equal(out.name, in.name);
		assert_int_equal(out.op, op);
		assert_int_equal(out.expect, in.expect);
		assert_int_equal(out.winner, in.winner);
		assert_int_equal(out.n_weights, in.n_weights);
		assert_memory_equal(out.weights, in.weights,
		    sizeof(in.weights));
		assert_int_equal(out.holdout_bp, in.holdout_bp);
	}
	/* a stop for control */
	memset(&in, 0, sizeof(in));
	snprintf(in.name, sizeof(in.name), "x");
	in.op = CAMP_OP_STOP;
	assert_int_equal(change_round_trip(&in, &out, &d), 0);
	assert_int_equal(out.winner, 0);
}

/* {name, op, expect, <extra key>: <extra value>} by hand. */
static int
change_body(const char *name, const char *op, int expect,
    const char *key, int kind, int value, struct nudge_diag *d)
{
	struct wire_camp_change out, before;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	int rc;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, (name != NULL) + (op != NULL) + (expect >= 0) +
	    (key != NULL));
	if (name != NULL) {
		wire_pack_cstr(&pk, "name");
		wire_pack_cstr(&pk, name);
	}
	if (op != NULL) {
		wire_pack_cstr(&pk, "op");
		wire_pack_cstr(&pk, op);
	}
	if (expect >= 0) {
		wire_pack_cstr(&pk, "expect");
		msgpack_pack_int(&pk, expect);
	}
	if (key != NULL) {
		wire_pack_cstr(&pk, key);
		if (kind == 0)
			msgpack_pack_int(&pk, value);
		else if (kind == 1)
			wire_pack_cstr(&pk, "x");
		else {		/* an array of `value` weights of 100/value */
			msgpack_pack_array(&pk, (size_t)value);
			for (int i = 0; i < value; i++)
				msgpack_pack_int(&pk, kind == 3 ? 101 :
				    100 / value);
		}
	}
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, NULL),
	    MSGPACK_UNPACK_SUCCESS);
	memset(&out, 0x77, sizeof(out));
	before = out;
	rc = wire_unpack_camp_change(&up.data, &out, d);
	if (rc != 0)
		assert_memory_equal(&out, &before, sizeof(out));
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void
test_camp_change_refusals(void **state)
{
	struct nudge_diag d;

	(void)state;
	assert_int_equal(change_body("c", "start", 1, NULL, 0, 0, &d), 0);
	assert_int_equal(change_body("c", "start", 1, "junk", 1, 0, &d), 0);
	assert_int_equal(change_body("c", "stop", 3, "winner", 0, 1, &d), 0);
	assert_int_equal(change_body("c", "weights", 3, "weights", 2, 4, &d),
	    0);
	assert_int_equal(change_body("c", "holdout", 3, "holdout", 0, 0, &d),
	    0);
	/* what is refused, each with a message */
	assert_int_equal(change_body(NULL, "start", 1, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_non_null(strstr(d.msg, "name"));
	assert_int_equal(change_body("", "start", 1, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "launch", 1, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_non_null(strstr(d.msg, "op"));
	assert_int_equal(change_body("c", NULL, 1, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "start", -1, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_non_null(strstr(d.msg, "expect"));
	/* a repeated key: the first one counts, as everywhere */
	assert_int_equal(change_body("c", "start", 1, "expect", 1, 0, &d), 0);
	assert_int_equal(change_body("c", "stop", 3, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_non_null(strstr(d.msg, "winner"));
	assert_int_equal(change_body("c", "stop", 3, "winner", 0, -1, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "stop", 3, "winner", 0,
	    CAMP_VARIANTS_MAX, &d), NUDGE_EINVAL);
	assert_int_equal(change_body("c", "stop", 3, "winner", 1, 0, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "weights", 3, NULL, 0, 0, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "weights", 3, "weights", 0, 50, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "weights", 3, "weights", 2, 1, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "weights", 3, "weights", 2,
	    CAMP_VARIANTS_MAX + 1, &d), NUDGE_EINVAL);
	assert_int_equal(change_body("c", "weights", 3, "weights", 3, 2, &d),
	    NUDGE_EINVAL);
	assert_int_equal(change_body("c", "holdout", 3, "holdout", 0, 10000,
	    &d), NUDGE_EINVAL);
	assert_int_equal(change_body("c", "holdout", 3, "holdout", 1, 0, &d),
	    NUDGE_EINVAL);
	assert_int_equal(wire_unpack_camp_change(NULL, NULL, &d),
	    NUDGE_EINVAL);
}

static void
test_write_corpus(void **state)
{
	const char *dir = getenv("NUDGE_WRITE_CORPUS");
	char path[4096];

	(void)state;
	if (dir == NULL || dir[0] == '\0')
		skip();
	for (int which = 0; which < M_N + 1; which++) {
		struct bytes b = which < M_N ? make_msg(which) :
		    make_request(false);
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s%s.msgpack", dir,
		    which < M_N ? msg_names[which] : "request",
		    which < M_N ? "" : "-unsigned");
		f = fopen(path, "wb");
		if (f == NULL)
			fail_msg("cannot write %s", path);
		assert_int_equal(fwrite(b.p, 1, b.n, f), b.n);
		assert_int_equal(fclose(f), 0);
		free(b.p);
	}
	/* an agent's period in one message: delta, sessions, events */
	struct bytes parts[3] = {make_msg(M_DELTA), make_msg(M_SESSIONS),
	    make_msg(M_EVENTS)};
	struct bytes all = concat(parts, 3);
	FILE *f;

	snprintf(path, sizeof(path), "%s/batch.msgpack", dir);
	if ((f = fopen(path, "wb")) == NULL)
		fail_msg("cannot write %s", path);
	assert_int_equal(fwrite(all.p, 1, all.n, f), all.n);
	assert_int_equal(fclose(f), 0);
	for (int i = 0; i < 3; i++)
		free(parts[i].p);
	free(all.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names_prefix),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_rules_bounds),
		cmocka_unit_test(test_snapshot_forgot),
		cmocka_unit_test(test_delta_sparse),
		cmocka_unit_test(test_sessions_round_trip),
		cmocka_unit_test(test_events_round_trip),
		cmocka_unit_test(test_step_round_trip),
		cmocka_unit_test(test_step_score_decode),
		cmocka_unit_test(test_request_unsigned),
		cmocka_unit_test(test_request_signed),
		cmocka_unit_test(test_request_flipped_byte),
		cmocka_unit_test(test_reply_round_trip),
		cmocka_unit_test(test_truncated_everywhere),
		cmocka_unit_test(test_oversized),
		cmocka_unit_test(test_too_deep),
		cmocka_unit_test(test_bombs),
		cmocka_unit_test(test_lies_and_junk),
		cmocka_unit_test(test_envelope_types),
		cmocka_unit_test(test_envelope_shape),
		cmocka_unit_test(test_request_reply_types),
		cmocka_unit_test(test_event_decode_errors),
		cmocka_unit_test(test_agg_decode),
		cmocka_unit_test(test_get_helpers),
		cmocka_unit_test(test_new_id),
		cmocka_unit_test(test_heat_round_trip),
		cmocka_unit_test(test_heat_encoder_refuses),
		cmocka_unit_test(test_heat_decoder_refuses),
		cmocka_unit_test(test_campaign_round_trip),
		cmocka_unit_test(test_campaign_missing_keys),
		cmocka_unit_test(test_campaign_steps_compat),
		cmocka_unit_test(test_campaign_refusals),
		cmocka_unit_test(test_snapshot_camps_bounds),
		cmocka_unit_test(test_camp_change_round_trip),
		cmocka_unit_test(test_camp_change_refusals),
		cmocka_unit_test(test_msg_next_parts),
		cmocka_unit_test(test_write_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
