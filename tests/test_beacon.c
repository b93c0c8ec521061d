/*
 * test_beacon.c - the jscan beacon decoder against its jansson reference.
 *
 * The differential test generates beacons with a fixed-seed PRNG (valid
 * ones with every key, escapes, UTF-8, numbers in every spelling; hand-made
 * bad ones; random mutations of both) and decodes each with agent/beacon.c
 * and with the jansson decoder it replaced (tests/beacon_ref.c): both must
 * refuse, or both accept with the same events field by field.  The unit
 * tests pin what the differential test cannot see: views in place or in
 * the scratch, error offsets and reasons, the depth bound.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "beacon.h"
#include "jscan.h"

#include "beacon_ref.c"

#define NOW 1700000000000ull

static const struct beacon_limits lim = {BEACON_MAX_BODY, BEACON_MAX_EVENTS};

/* ---- a deterministic generator --------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static bool clean;	/* generate only what both decoders accept */

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? (uint32_t)(rng % n) : 0;
}

struct gbuf {
	char b[BEACON_MAX_BODY];
	size_t n;
};

static void
put(struct gbuf *g, const char *s)
{
	size_t n = strlen(s);

	if (g->n + n < sizeof(g->b)) {
		memcpy(g->b + g->n, s, n);
		g->n += n;
	}
}

static void
ws(struct gbuf *g)
{
	static const char *const w[] = {" ", "\n", "\t", "\r\n  "};

	if (rnd(6) == 0)
		put(g, w[rnd(4)]);
}

/* A string made of plain bytes, escapes and UTF-8 (valid and not). */
static void
gen_string(struct gbuf *g, unsigned maxlen)
{
	static const char *const atoms[] = {"a", "Z", "/", "?", "=", "-", ".",
	    "#", " ", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\b", "\\f", "\\r",
	    "\\u0041", "\\u00e9", "\\u20AC", "\\ud83d\\ude00", "\xc3\xa9",
	    "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\\u0000", "\\ud800",
	    "\\udc00x", "\xc0\xaf", "\xed\xa0\x80", "\x7f", "\x01", "%20"};
	unsigned n = rnd(4) == 0 ? rnd(maxlen + 4) : rnd(12);

	if (clean)
		n = rnd(4) == 0 ? rnd(maxlen / 4) : rnd(12);
	put(g, "\"");
	for (unsigned i = 0; i < n; i++) {
		unsigned a = clean ? rnd(24) : rnd(40);
		/* mostly the valid ones: the first 24 atoms */
		put(g, atoms[a < 32 && (a < 24 || rnd(8) == 0) ? a :
		    rnd(3)]);
	}
	put(g, "\"");
}

static void
gen_number(struct gbuf *g, int kind)
{
	static const char *const frac[] = {"0", "1", "0.5", "0.25", "5e-1",
	    "1.0", "1E0", "0.0001", "0.9999", "1.0001", "-0", "-0.0", "2",
	    "0.4125", "1e-400", "0.5000000000000000000000000000000000000000"
	    "000000000000000000000000000001"};
	static const char *const ints[] = {"0", "1", "2", "100", "1000000",
	    "1000001", "-1", "1.5", "1e3", "9223372036854775807",
	    "9223372036854775808", "-9223372036854775808", "1700000000123",
	    "1700000900000", "01", "1e400", "89.9", "59.90", "0.001",
	    "1000000000", "1000000000.01"};
	char buf[32];

	if (kind == 0)
		put(g, frac[rnd(clean ? 9 : sizeof(frac) / sizeof(frac[0]))]);
	else if (!clean && rnd(3) == 0)
		put(g, ints[rnd(sizeof(ints) / sizeof(ints[0]))]);
	else {
		snprintf(buf, sizeof(buf), "%u", rnd(100000));
		put(g, buf);
	}
}

static void
gen_fields(struct gbuf *g)
{
	unsigned n = clean ? rnd(9) : rnd(11);

	put(g, "{");
	for (unsigned i = 0; i < n; i++) {
		char k[16];
		snprintf(k, sizeof(k), "%s\"k%u\":", i ? "," : "",
		    clean ? i : rnd(12));
		put(g, k);
		if (!clean && rnd(10) == 0)
			put(g, rnd(2) ? "1" : "[]");
		else
			gen_string(g, 40);
	}
	put(g, "}");
}

static void
gen_value(struct gbuf *g, const char *key, const char *vid)
{
	static const char *const types[] = {"pageview", "click", "scroll",
	    "hover", "visible", "exit_intent", "add_to_cart", "purchase",
	    "refund", "login", "email", "error", "sign_up", "no spaces", "",
	    "checkout", "remove_from_cart"};

	if (strcmp(key, "type") == 0) {
		put(g, "\"");
		put(g, types[rnd(clean ? 13 :
		    sizeof(types) / sizeof(types[0]))]);
		put(g, "\"");
	} else if (strcmp(key, "visitor") == 0) {
		put(g, "\"");
		put(g, clean || rnd(8) ? vid : "other");
		put(g, "\"");
	} else if (strcmp(key, "fields") == 0) {
		gen_fields(g);
	} else if (strchr("xys", key[0]) != NULL && key[1] != 'k') {
		gen_number(g, 0);
	} else if (strcmp(key, "value") == 0 && rnd(2)) {
		put(g, clean || rnd(2) ? "\"59.90\"" : "\"1.234\"");
	} else if (strcmp(key, "value") == 0 || strcmp(key, "quantity") == 0 ||
	    strcmp(key, "ts") == 0) {
		gen_number(g, 1);
	} else {
		gen_string(g, strcmp(key, "page") == 0 ? 520 : 260);
	}
}

static void
gen_event(struct gbuf *g, const char *vid)
{
	static const char *const keys[] = {"page", "referrer", "utm_source",
	    "utm_medium", "utm_campaign", "target", "sku", "value",
	    "quantity", "x", "y", "scroll", "ts", "fields", "visitor",
	    "country", "type"};
	unsigned n = rnd(7), used = 0;

	put(g, "{");
	ws(g);
	if (clean || rnd(30) != 0) {
		put(g, "\"type\":");
		gen_value(g, "type", vid);
		used = 1;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned k = rnd(sizeof(keys) / sizeof(keys[0]) - 1);
		if (!clean && rnd(40) == 0)
			k = 15 + rnd(2); /* refused key, or a duplicate */
		else if (used & 1u << (k + 1))
			continue;
		used |= 1u << (k + 1);
		put(g, used > 1 || i ? "," : "");
		ws(g);
		put(g, "\"");
		put(g, keys[k]);
		put(g, "\":");
		ws(g);
		gen_value(g, keys[k], vid);
	}
	put(g, "}");
}

static void
gen_batch(struct gbuf *g)
{
	char vid[80];
	unsigned n = !clean && rnd(20) == 0 ? 95 + rnd(10) : 1 + rnd(8);
	unsigned vl = !clean && rnd(10) == 0 ? rnd(70) : 16;
	bool ev_first = rnd(10) == 0;

	for (unsigned i = 0; i < vl; i++)
		vid[i] = "0123456789abcdef"[rnd(16)];
	vid[vl] = '\0';
	g->n = 0;
	ws(g);
	put(g, "{");
	if (!ev_first) {
		put(g, "\"visitor\":\"");
		put(g, vid);
		put(g, "\",");
	}
	if (rnd(3) == 0)
		put(g, rnd(2) ? "\"consent\":true," : "\"consent\":false,");
	if (rnd(5) == 0)
		put(g, rnd(8) ? "\"wd\":true," : "\"wd\":null,");
	put(g, "\"events\":[");
	for (unsigned i = 0; i < n; i++) {
		put(g, i ? "," : "");
		ws(g);
		gen_event(g, vid);
	}
	put(g, "]");
	if (ev_first) {
		put(g, ",\"visitor\":\"");
		put(g, vid);
		put(g, "\"");
	}
	put(g, "}");
	ws(g);
}

/* Byte-level damage: flips, inserts, deletes, copies, truncations. */
static void
mutate(struct gbuf *g)
{
	static const char pick[] =
	    "{}[]\",:\\u0-.eE1 a\x80\xff\xc3\xed\x00tfn";
	unsigned n = 1 + rnd(4);

	for (unsigned k = 0; k < n && g->n > 0; k++) {
		size_t at = rnd((uint32_t)g->n), len;
		switch (rnd(5)) {
		case 0:
			g->b[at] = pick[rnd(sizeof(pick) - 1)];
			break;
		case 1:
			if (g->n + 1 >= sizeof(g->b))
				break;
			memmove(g->b + at + 1, g->b + at, g->n - at);
			g->b[at] = pick[rnd(sizeof(pick) - 1)];
			g->n++;
			break;
		case 2:
			memmove(g->b + at, g->b + at + 1, g->n - at - 1);
			g->n--;
			break;
		case 3:
			len = rnd(16);
			if (at + len > g->n || g->n + len >= sizeof(g->b))
				break;
			memmove(g->b + at + len, g->b + at, g->n - at);
			g->n += len;
			break;
		default:
			g->n = at;
			break;
		}
	}
}

struct tally {
	unsigned n, accepted, refused, same_code, class_only, lax;
};

static void
check_one(const char *buf, size_t len, const struct beacon_limits *l,
    struct tally *t)
{
	char why[600];
	int rr, rn;
	enum ref_verdict v = ref_compare(buf, len, l, NOW, &rr, &rn, why,
	    sizeof(why));

	t->n++;
	if (v == REF_DIFFER)
		fail_msg("decoders differ on %.*s: %s", (int)(len > 400 ? 400 :
		    len), buf, why);
	if (rr == 0)
		t->accepted++;
	else
		t->refused++;
	if (v == REF_CLASS)
		t->class_only++;
	else if (v == REF_LAX)
		t->lax++;
	else
		t->same_code++;
}

static const char *const handmade[] = {
	"", " ", "{", "}", "[", "[]", "{}", "null", "true", "1", "\"x\"",
	"[1,2", "[1,]", "{\"a\":1,}", "{\"a\"}", "{\"a\":}", "{1:2}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\"}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\"}]} x",
	"{\"visitor\":\"v\",\"visitor\":\"w\",\"events\":[]}",
	"{\"events\":[{\"type\":\"click\"}],\"visitor\":\"v\"}",
	"{\"events\":[{\"type\":\"click\",\"visitor\":\"v\"}],"
	    "\"visitor\":\"v\"}",
	"{\"events\":[{\"type\":\"click\",\"visitor\":\"w\"}],"
	    "\"visitor\":\"v\"}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"type\":\"a\"}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"fields\":"
	    "{\"a\":\"1\",\"a\":\"2\"}}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"fields\":"
	    "{\"a\":\"1\",\"\\u0061\":\"2\"}}]}",
	"{\"visitor\":\"v\",\"events\":[{\"t\\u0079pe\":\"click\"}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"x\":1e400}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"click\",\"x\":-0}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"ts\":-0}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"quantity\":"
	    "99999999999999999999}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"evil\":[[[{}]]]}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"page\":"
	    "\"\\ud83d\"}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"page\":"
	    "\"\\uDE00\"}]}",
	"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"page\":"
	    "\"\xf4\x90\x80\x80\"}]}",
	"{\"visitor\":\"v\",\"consent\":null,\"events\":[{\"type\":\"a\"}]}",
	"{\"visitor\":\"v\",\"wd\":false,\"events\":[{\"type\":\"a\"}],"
	    "\"x\":{\"y\":[1,{\"z\":null}]}}",
};

static const char nul_tail[] =
    "{\"visitor\":\"v\",\"events\":[{\"type\":\"click\"}]}";

static const char nul_lit[] =
    "{\"visitor\":\"v\",\"wd\":false\0,\"events\":[{\"type\":\"a\"}]}";

static void
test_differential(void **state)
{
	static struct gbuf g;
	struct beacon_limits small = {4096, 3};
	struct tally t = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(handmade) / sizeof(handmade[0]); i++) {
		check_one(handmade[i], strlen(handmade[i]), &lim, &t);
	}
	/* a NUL byte after the value; after a literal (jansson drops it) */
	check_one(nul_tail, sizeof(nul_tail), &lim, &t);
	check_one(nul_lit, sizeof(nul_lit) - 1, &lim, &t);
	assert_int_equal(t.lax, 1);
	for (unsigned i = 0; i < 4000; i++) {
		clean = i % 2 == 0;
		gen_batch(&g);
		check_one(g.b, g.n, i % 8 ? &lim : &small, &t);
		for (unsigned m = 0; m < 6; m++) {
			static struct gbuf h;
			memcpy(h.b, g.b, g.n);
			h.n = g.n;
			mutate(&h);
			check_one(h.b, h.n, &lim, &t);
		}
	}
	print_message("differential: %u inputs, %u accepted, %u refused; "
	    "%u with the same code, %u refused with another code (duplicate "
	    "key in a refused value), %u where only jansson skips a NUL byte "
	    "after a token)\n", t.n, t.accepted, t.refused, t.same_code,
	    t.class_only, t.lax);
	assert_true(t.accepted > 500 && t.refused > 5000);
}

/* ---- what the differential test cannot see ----------------------------- */

static int
decode(struct beacon *b, const char *json, struct nudge_diag *d)
{
	return beacon_decode(b, json, strlen(json), &lim, NOW, NULL, d);
}

static void
test_views(void **state)
{
	static struct beacon b;
	struct nudge_diag d = {0};
	const char *j = "{\"visitor\":\"v1\",\"events\":[{\"type\":\"click\","
	    "\"page\":\"/plain\",\"target\":\"a\\\"b\\u00e9\\ud83d\\ude00\","
	    "\"fields\":{\"k\\n\":\"\\/v\"}}]}";

	(void)state;
	assert_int_equal(decode(&b, j, &d), 0);
	/* no escape: a view into the body itself */
	assert_ptr_equal(b.ev[0].page.ptr, strstr(j, "/plain"));
	assert_true(b.visitor.ptr > j && b.visitor.ptr < j + strlen(j));
	/* escapes: decoded into the batch's scratch */
	assert_true(strv_eq(b.ev[0].target, "a\"b\xc3\xa9\xf0\x9f\x98\x80"));
	assert_true(b.ev[0].target.ptr >= b.scratch &&
	    b.ev[0].target.ptr < b.scratch + sizeof(b.scratch));
	assert_true(strv_eq(b.ev[0].fields[0].key, "k\n"));
	assert_true(strv_eq(b.ev[0].fields[0].val, "/v"));
	assert_true(strv_eq(b.ev[0].visitor, "v1"));
	beacon_fini(&b);
}

static void
test_errors(void **state)
{
	static struct beacon b;
	static const struct {
		const char *json;
		int rv;
		int col;	/* byte offset + 1 */
		const char *why;
	} e[] = {
		{"{\"visitor\":\"v\",\"events\":[1,]}", NUDGE_ESYNTAX, 28,
		    "unexpected byte"},
		{"{\"visitor\":\"v\x01\"}", NUDGE_ESYNTAX, 14, "control"},
		{"{\"visitor\":\"\\u0000\"}", NUDGE_ESYNTAX, 19, "\\u0000"},
		{"{\"visitor\":\"\\ud800x\"}", NUDGE_ESYNTAX, 19, "surrogate"},
		{"{\"visitor\":\"\xc3\"}", NUDGE_ESYNTAX, 13, "UTF-8"},
		{"{\"visitor\":01}", NUDGE_ESYNTAX, 12, "leading zero"},
		{"{\"visitor\":\"v\",\"events\":[]} x", NUDGE_ESYNTAX, 29,
		    "trailing"},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\","
		    "\"type\":\"b\"}]}",
		    NUDGE_ESYNTAX, 38, "duplicate key"},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"x\":2}]}",
		    NUDGE_EINVAL, 42, "events[0].x: bad value"},
		{"{\"visitor\":\"v\",\"events\":[{\"type\":\"a\",\"zz\":2}]}",
		    NUDGE_EINVAL, 38, "events[0].zz: unknown key"},
	};
	struct nudge_diag d;

	unsigned bad = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		memset(&d, 0, sizeof(d));
		int rv = decode(&b, e[i].json, &d);
		if (rv != e[i].rv || d.col != e[i].col ||
		    strstr(d.msg, e[i].why) == NULL) {
			print_message("case %zu: rv %d col %d msg %s\n", i, rv,
			    d.col, d.msg);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* jansson's bound, 2048 containers, to the container. */
static void
test_depth(void **state)
{
	static char j[8192];
	static struct beacon b;
	struct nudge_diag d = {0};
	size_t n;

	(void)state;
	for (unsigned depth = 2047; depth <= 2049; depth++) {
		n = (size_t)snprintf(j, sizeof(j),
		    "{\"visitor\":\"v\",\"x\":");
		for (unsigned i = 1; i < depth; i++)
			j[n++] = '[';
		for (unsigned i = 1; i < depth; i++)
			j[n++] = ']';
		j[n++] = '}';
		int want = depth <= 2048 ? NUDGE_EINVAL : NUDGE_ESYNTAX;
		assert_int_equal(beacon_decode(&b, j, n, &lim, NOW, NULL, &d),
		    want);
		int r, w;
		char why[600];
		assert_int_equal(ref_compare(j, n, &lim, NOW, &r, &w, why,
		    sizeof(why)), REF_SAME);
	}
}

/* Numbers: the int64 edge, reals, and -0 as jansson reads them. */
static void
test_numbers(void **state)
{
	static const struct {
		const char *text;
		int rv;
		enum jscan_kind kind;
		int64_t i;
	} t[] = {
		{"9223372036854775807", 0, JK_INT, INT64_MAX},
		{"-9223372036854775808", 0, JK_INT, INT64_MIN},
		{"9223372036854775808", -1, JK_INT, 0},
		{"-9223372036854775809", -1, JK_INT, 0},
		{"-0", 0, JK_INT, 0},
		{"1.5e3", 0, JK_REAL, 0},
		{"1e309", -1, JK_REAL, 0},
		{"1e-400", 0, JK_REAL, 0},
		{"-", -1, JK_INT, 0},
		{"1.", -1, JK_INT, 0},
		{".5", -1, JK_INT, 0},
		{"1e+", -1, JK_INT, 0},
	};
	struct jscan s;
	struct jscan_val v;
	char scratch[64];

	(void)state;
	for (size_t k = 0; k < sizeof(t) / sizeof(t[0]); k++) {
		jscan_init(&s, t[k].text, strlen(t[k].text), scratch,
		    sizeof(scratch));
		int rv = jscan_scalar(&s, &v);
		if (rv == 0)
			rv = jscan_end(&s);
		if (rv != t[k].rv)
			fail_msg("%s: rv %d", t[k].text, rv);
		if (rv == 0 && (v.kind != t[k].kind ||
		    (v.kind == JK_INT && v.i != t[k].i)))
			fail_msg("%s: kind %d", t[k].text, (int)v.kind);
	}
}

/* The short-decimal fast path gives the very double strtod gives. */
static void
test_reals(void **state)
{
	char text[40], scratch[64];
	struct jscan s;
	struct jscan_val v;

	(void)state;
	for (unsigned k = 0; k < 200000; k++) {
		unsigned ni = rnd(8), nf = 1 + rnd(15 - ni), n = 0;
		if (rnd(4) == 0)
			text[n++] = '-';
		text[n++] = ni ? (char)('1' + rnd(9)) : '0';
		for (unsigned i = 1; i < ni; i++)
			text[n++] = (char)('0' + rnd(10));
		text[n++] = '.';
		for (unsigned i = 0; i < nf; i++)
			text[n++] = (char)('0' + rnd(10));
		text[n] = '\0';
		jscan_init(&s, text, n, scratch, sizeof(scratch));
		assert_int_equal(jscan_scalar(&s, &v), 0);
		double want = strtod(text, NULL);
		if (memcmp(&v.d, &want, sizeof(want)) != 0)
			fail_msg("%s: %.17g, strtod %.17g", text, v.d, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_views),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_reals),
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
