/*
 * test_evdec.c - unit tests of common/evdec.c, the cursor decoder of emit
 * batches, mostly differential: random batches (every msgpack encoding of
 * every value class, keys known, unknown and repeated, limits +-1, wrong
 * types) and mutated ones (bytes changed, inserted, removed, truncated)
 * are decoded by evdec and by the msgpack-c path (wire_unpack_event,
 * wire_request_parse), which must agree on every element: same code, same
 * message, same event.  NUDGE_EVDEC_SEED=n changes the seed,
 * NUDGE_EVDEC_CASES=n the number of cases of each kind.
 *
 * With NUDGE_WRITE_CORPUS=dir set, also writes some valid batches and
 * requests into dir as seeds for tests/fuzz/fuzz_evdec.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "evdec_diff.h"

/* ---- a random source and a byte writer ---------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static unsigned
rn(unsigned n)
{
	return n ? (unsigned)(rnd() % n) : 0;
}

struct gb {
	uint8_t *p;
	size_t n, cap;
};

static void
put(struct gb *g, const void *b, size_t n)
{
	if (g->n + n > g->cap) {
		g->cap = (g->n + n) * 2 + 256;
		g->p = realloc(g->p, g->cap);
		assert_non_null(g->p);
	}
	memcpy(g->p + g->n, b, n);
	g->n += n;
}

static void
put1(struct gb *g, uint8_t b)
{
	put(g, &b, 1);
}

static void
put_be(struct gb *g, uint64_t v, unsigned n)
{
	for (int k = (int)n - 1; k >= 0; k--)
		put1(g, (uint8_t)(v >> (8 * k)));
}

/* An unsigned number in its smallest encoding, or a wider one. */
static void
w_uint(struct gb *g, uint64_t v)
{
	unsigned w = v < 128 ? 0 : v < 256 ? 1 : v < 65536 ? 2 :
	    v < (1ull << 32) ? 3 : 4;

	if (w < 4 && rn(4) == 0)
		w += 1 + rn(4 - w);
	if (w == 0) {
		put1(g, (uint8_t)v);
		return;
	}
	if (v <= INT64_MAX && rn(3) == 0) {	/* a signed encoding */
		unsigned s = w < 4 && (v >> (8 * (1u << (w - 1)) - 1)) == 0 ?
		    w : (w < 4 ? w + 1 : 4);
		if (s <= 4) {
			put1(g, (uint8_t)(0xd0 + s - 1));
			put_be(g, v, 1u << (s - 1));
			return;
		}
	}
	put1(g, (uint8_t)(0xcc + w - 1));
	put_be(g, v, 1u << (w - 1));
}

static void
w_nint(struct gb *g, int64_t v)
{
	unsigned s;

	if (v >= -32 && rn(3) != 0) {
		put1(g, (uint8_t)(int8_t)v);
		return;
	}
	s = v >= INT8_MIN ? 1 : v >= INT16_MIN ? 2 : v >= INT32_MIN ? 3 : 4;
	if (s < 4 && rn(4) == 0)
		s++;
	put1(g, (uint8_t)(0xd0 + s - 1));
	put_be(g, (uint64_t)v, 1u << (s - 1));
}

/* A str (or bin, ext) header of a random class that holds n. */
static void
w_str_hdr(struct gb *g, uint32_t n)
{
	unsigned c = n < 32 ? 0 : n < 256 ? 1 : n < 65536 ? 2 : 3;

	if (c < 3 && rn(5) == 0)
		c += 1 + rn(3 - c);
	if (c == 0)
		put1(g, (uint8_t)(0xa0 | n));
	else
		put1(g, (uint8_t)(0xd9 + c - 1)), put_be(g, n, 1u << (c - 1));
}

static void
w_str(struct gb *g, const char *s, uint32_t n)
{
	w_str_hdr(g, n);
	put(g, s, n);
}

static void
w_cstr(struct gb *g, const char *s)
{
	w_str(g, s, (uint32_t)strlen(s));
}

static void
w_container(struct gb *g, bool map, uint32_t n)
{
	unsigned c = n < 16 ? 0 : n < 65536 ? 1 : 2;

	if (c < 2 && rn(6) == 0)
		c++;
	if (c == 0)
		put1(g, (uint8_t)((map ? 0x80 : 0x90) | n));
	else
		put1(g, (uint8_t)((map ? 0xde : 0xdc) + c - 1)),
		    put_be(g, n, c == 1 ? 2 : 4);
}

/* Lengths around every limit of event.h. */
static uint32_t
some_len(void)
{
	static const uint32_t at[] = {0, 1, 2, 3, 4, 31, 32, 33, 63, 64, 65,
	    255, 256, 257, 511, 512, 513};

	if (rn(3) == 0)
		return rn(600);
	return rn(2) ? at[rn(sizeof(at) / sizeof(at[0]))] : 1 + rn(12);
}

static void
w_text(struct gb *g, uint32_t n)
{
	static const char abc[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_./?=&";
	char buf[700];

	for (uint32_t i = 0; i < n && i < sizeof(buf); i++) {
		unsigned r = rn(40);
		buf[i] = r == 0 ? ' ' : r == 1 ? (char)rn(256) :
		    abc[rn(sizeof(abc) - 1)];
	}
	w_str(g, buf, n < sizeof(buf) ? n : (uint32_t)sizeof(buf));
}

static void w_any(struct gb *g, int depth);

/* Any value of any class (containers while depth lasts). */
static void
w_any(struct gb *g, int depth)
{
	uint32_t n;

	switch (rn(depth > 0 ? 13 : 11)) {
	case 0: put1(g, 0xc0); break;
	case 1: put1(g, rn(2) ? 0xc2 : 0xc3); break;
	case 2: w_uint(g, rnd() >> rn(64)); break;
	case 3: w_nint(g, -(int64_t)(1 + (rnd() >> (1 + rn(63))))); break;
	case 4: put1(g, 0xca); put_be(g, rnd(), 4); break;
	case 5: put1(g, 0xcb); put_be(g, rnd(), 8); break;
	case 6: w_text(g, some_len()); break;
	case 7:
		n = rn(40);
		put1(g, 0xc4);		/* bin 8 */
		put1(g, (uint8_t)n);
		for (uint32_t i = 0; i < n; i++)
			put1(g, (uint8_t)rnd());
		break;
	case 8:			/* fixext 1..16 */
		n = 1u << rn(5);
		put1(g, (uint8_t)(0xd4 + __builtin_ctz(n)));
		put1(g, (uint8_t)rn(256));
		for (uint32_t i = 0; i < n; i++)
			put1(g, (uint8_t)rnd());
		break;
	case 9:			/* ext 8 */
		n = rn(20);
		put1(g, 0xc7);
		put1(g, (uint8_t)n);
		put1(g, (uint8_t)rn(256));
		for (uint32_t i = 0; i < n; i++)
			put1(g, (uint8_t)rnd());
		break;
	case 10: w_uint(g, rn(2000)); break;
	case 11:
		n = rn(5);
		w_container(g, false, n);
		for (uint32_t i = 0; i < n; i++)
			w_any(g, depth - 1);
		break;
	default:
		n = rn(4);
		w_container(g, true, n);
		for (uint32_t i = 0; i < 2 * n; i++)
			w_any(g, depth - 1);
		break;
	}
}

/* ---- events ------------------------------------------------------------- */

static const char *const keys[] = {"n", "vid", "ts", "p", "r", "us", "um",
    "uc", "tg", "sku", "cc", "dv", "val", "q", "x", "y", "sd", "t", "f",
    "zz", "vi", "vidd", "T", "", "ev", "tt", "ff"};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const types[] = {"pageview", "click", "scroll", "hover",
    "visible", "exit_intent", "add_to_cart", "remove_from_cart", "checkout",
    "purchase", "refund", "login", "email", "custom", "wishlist", "",
    "bad name", "Pageview", "a-very-long-custom-event-name-over-32-bytes",
    "x", "signup.done", "caf\xc3\xa9"};
static const char *const devices[] = {"desktop", "mobile", "tablet", "bot",
    "unknown", "", "phone", "DESKTOP"};

static void
w_unsigned_around(struct gb *g)
{
	static const uint64_t at[] = {0, 1, 999, 1000, 1001, 65535, 65536,
	    UINT32_MAX, 1ull << 32, INT64_MAX, (uint64_t)INT64_MAX + 1,
	    UINT64_MAX, 1767225600123ull};

	w_uint(g, rn(3) ? at[rn(sizeof(at) / sizeof(at[0]))] :
	    rnd() >> rn(64));
}

static void
w_extra(struct gb *g)
{
	uint32_t n = rn(4) == 0 ? rn(12) : rn(5);

	if (rn(8) == 0) {
		put1(g, 0xc0);
		return;
	}
	if (rn(12) == 0) {
		w_any(g, 1);
		return;
	}
	w_container(g, true, n);
	for (uint32_t i = 0; i < n; i++) {
		if (rn(20) == 0)
			w_any(g, 0);
		else
			w_text(g, rn(6) == 0 ? some_len() : 1 + rn(8));
		if (rn(20) == 0)
			w_any(g, 0);
		else
			w_text(g, rn(6) == 0 ? some_len() : rn(16));
	}
}

/* The value for key k: mostly of the right type, sometimes anything. */
static void
w_value(struct gb *g, const char *k)
{
	if (rn(8) == 0) {
		w_any(g, 2);
		return;
	}
	if (strcmp(k, "t") == 0)
		w_cstr(g, types[rn(sizeof(types) / sizeof(types[0]))]);
	else if (strcmp(k, "dv") == 0)
		w_cstr(g, devices[rn(sizeof(devices) / sizeof(devices[0]))]);
	else if (strcmp(k, "f") == 0)
		w_extra(g);
	else if (strcmp(k, "cc") == 0)
		w_text(g, rn(5));
	else if (strcmp(k, "val") == 0 && rn(3) == 0)
		w_nint(g, -(int64_t)(1 + rn(100000)));
	else if (!strcmp(k, "ts") || !strcmp(k, "val") || !strcmp(k, "q") ||
	    !strcmp(k, "x") || !strcmp(k, "y") || !strcmp(k, "sd"))
		w_unsigned_around(g);
	else if (strcmp(k, "vid") == 0 && rn(2))
		w_text(g, 1 + rn(20));
	else
		w_text(g, some_len());
}

static void
w_event(struct gb *g)
{
	uint32_t n = rn(5) == 0 ? rn(24) : 3 + rn(8);
	bool has_t = false;

	if (rn(40) == 0) {		/* not a map */
		w_any(g, 1);
		return;
	}
	w_container(g, true, n);
	for (uint32_t i = 0; i < n; i++) {
		const char *k = keys[rn(NKEYS)];

		if (i + 1 == n && !has_t && rn(10) != 0)
			k = "t";
		has_t |= strcmp(k, "t") == 0;
		if (rn(60) == 0)
			w_any(g, 1);	/* a key of another type */
		else
			w_cstr(g, k);
		w_value(g, k);
	}
}

/* A plausible event, as the simulator sends them. */
static void
w_good_event(struct gb *g)
{
	w_container(g, true, 5);
	w_cstr(g, "vid");
	w_text(g, 8 + rn(10));
	w_cstr(g, "ts");
	w_uint(g, 1767225600000ull + rn(100000));
	w_cstr(g, "p");
	w_cstr(g, "/product/42");
	w_cstr(g, "dv");
	w_cstr(g, "mobile");
	w_cstr(g, "t");
	w_cstr(g, types[rn(14)]);
}

static void
w_batch(struct gb *g, uint32_t n, bool good)
{
	w_container(g, false, n);
	for (uint32_t i = 0; i < n; i++)
		if (good)
			w_good_event(g);
		else
			w_event(g);
}

static void
mutate(struct gb *g)
{
	unsigned k = 1 + rn(3);

	for (unsigned j = 0; j < k && g->n > 0; j++) {
		size_t at = rn((unsigned)g->n);

		switch (rn(6)) {
		case 0: g->p[at] = (uint8_t)rnd(); break;
		case 1: g->p[at] ^= (uint8_t)(1u << rn(8)); break;
		case 2: g->n = at; break;
		case 3:
			if (at + 1 < g->n)
				memmove(g->p + at, g->p + at + 1,
				    g->n - at - 1);
			g->n--;
			break;
		case 4: {
			static const uint8_t b[] = {0xc0, 0xc1, 0xc2, 0xa1,
			    0x81, 0x91, 0xcc, 0xd0, 0xd9, 0xdc, 0xde, 0xc4,
			    0xd4, 0xff, 0x00, 0x7f};
			g->p[at] = b[rn(sizeof(b))];
			break;
		}
		default: {
			uint8_t x = (uint8_t)rnd();
			put1(g, 0);	/* grow by one */
			memmove(g->p + at + 1, g->p + at, g->n - at - 1);
			g->p[at] = x;
			break;
		}
		}
	}
}

/* ---- emit requests ------------------------------------------------------ */

static void
w_request(struct gb *g, bool good)
{
	unsigned elems = good || rn(20) ? 6 : 5 + 2 * rn(2);
	uint32_t nargs = good ? 1 : rn(4);
	bool ev_done = false;
	uint8_t id[WIRE_ID_LEN] = {1, 2, 3};

	w_container(g, false, elems);
	w_uint(g, good || rn(30) ? WIRE_VERSION : rn(3));
	if (good || rn(15))
		w_cstr(g, "emit");
	else if (rn(3) == 0)
		w_str(g, "emit\0x", 6);	/* strcmp's "emit" */
	else
		w_cstr(g, rn(2) ? "ping" : "emitt");
	if (!good && rn(30) == 0)
		put(g, "\xc4\x0f", 2), put(g, id, 15);
	else
		put(g, "\xc4\x10", 2), put(g, id, 16);
	if (!good && rn(20) == 0)
		w_any(g, 0);
	else
		w_uint(g, 1767225600000ull);
	if (!good && rn(20) == 0) {
		put1(g, 0xc0);		/* args nil */
	} else {
		nargs += !good && rn(2);
		w_container(g, true, nargs);
		for (uint32_t i = 0; i < nargs; i++) {
			if (!ev_done && (good || rn(3))) {
				w_cstr(g, "ev");
				if (!good && rn(20) == 0)
					w_any(g, 1);
				else
					w_batch(g, rn(12), good);
				ev_done = true;
				continue;
			}
			if (rn(3) == 0)
				w_any(g, 1);	/* any key */
			else
				w_cstr(g, rn(2) ? "ev" : "xx");
			w_any(g, 2);
		}
	}
	if (elems < 6)
		return;
	if (good || rn(3)) {
		put1(g, 0xc0);
	} else {
		w_container(g, false, 2);
		w_text(g, rn(70));
		put(g, "\xc4", 1);
		put1(g, (uint8_t)(rn(8) ? 32 : 31));
		for (int i = 0; i < 32; i++)
			put1(g, (uint8_t)i);
		if (g->p[g->n - 33] == 31)
			g->n--;
	}
	for (unsigned i = 6; i < elems; i++)
		w_any(g, 0);
}

/* ---- the tests ---------------------------------------------------------- */

static unsigned
cases(void)
{
	const char *s = getenv("NUDGE_EVDEC_CASES");

	return s ? (unsigned)strtoul(s, NULL, 10) : 60000;
}

static void
seed(uint64_t salt)
{
	const char *s = getenv("NUDGE_EVDEC_SEED");

	rng_state = (s ? strtoull(s, NULL, 10) : 20261202) * 2654435761u +
	    salt;
	if (rng_state == 0)
		rng_state = 1;
}

static void
check_array(struct gb *g, unsigned i)
{
	const char *why = evdiff_array(g->p, g->n);

	if (why != NULL) {
		fprintf(stderr, "case %u (%zu bytes): %s\n", i, g->n, why);
		for (size_t k = 0; k < g->n && k < 256; k++)
			fprintf(stderr, "%02x", g->p[k]);
		fprintf(stderr, "\n");
	}
	assert_null(why);
}

static void
check_emit(struct gb *g, unsigned i)
{
	const char *why = evdiff_emit(g->p, g->n);

	if (why != NULL) {
		fprintf(stderr, "request %u (%zu bytes): %s\n", i, g->n, why);
		for (size_t k = 0; k < g->n && k < 256; k++)
			fprintf(stderr, "%02x", g->p[k]);
		fprintf(stderr, "\n");
	}
	assert_null(why);
}

static void
test_random_batches(void **state)
{
	struct gb g = {0};
	unsigned n = cases();

	(void)state;
	seed(1);
	for (unsigned i = 0; i < n; i++) {
		g.n = 0;
		w_batch(&g, rn(16), false);
		check_array(&g, i);
	}
	free(g.p);
}

static void
test_mutated_batches(void **state)
{
	struct gb g = {0};
	unsigned n = cases(), opened = 0;

	(void)state;
	seed(2);
	for (unsigned i = 0; i < n; i++) {
		g.n = 0;
		w_batch(&g, 1 + rn(6), rn(2));
		mutate(&g);
		if (wire_precheck(g.p, g.n, NULL, NULL) == 0)
			opened++;
		check_array(&g, i);
	}
	/* the mutations must leave plenty that still decode */
	assert_true(opened > n / 10);
	free(g.p);
}

static void
test_requests(void **state)
{
	struct gb g = {0};
	struct evdec c;
	unsigned n = cases() / 2;

	(void)state;
	seed(3);
	for (unsigned i = 0; i < n; i++) {
		g.n = 0;
		w_request(&g, i % 4 == 0);
		if (i % 4 == 0) { /* a well-formed emit takes the fast way */
			struct nudge_event e;
			assert_int_equal(evdec_emit_open(&c, g.p, g.n,
			    &wire_limits_default), 0);
			while (evdec_next(&c, &e, NULL) != NUDGE_ENOTFOUND)
				;
			assert_int_equal(evdec_emit_close(&c), 0);
		}
		check_emit(&g, i);
		if (rn(2)) {
			mutate(&g);
			check_emit(&g, i);
		}
	}
	free(g.p);
}

/* Cases written by hand: the limits and the odd rules, one by one. */
static void
test_edges(void **state)
{
	static const char *const hex[] = {
		"90", "91c0", "9180", "9181a174a5636c69636b",
		"9182a174a5636c69636ba174a6736372726f6c6c", /* first t wins */
		"9181a174a6637573746f6d",		/* plain custom */
		"9182a16ea3666f6fa174a8776973686c697374", /* n wins */
		"9181a174c4057363726f6c",		/* t as bin */
		"9182a174a5636c69636b01c0",		/* non-str key */
		"9182a174a5636c69636ba166c0",		/* f nil */
		"9182a174a5636c69636ba16680",		/* f empty */
		"9182a174a5636c69636ba16690",		/* f array */
		"9183a174a5636c69636ba166c0a16601",	/* first f wins */
		"9182a174a5636c69636ba178cd03e9",	/* x 1001 */
		"9182a174a5636c69636ba178ce00010000",	/* x 65536: range */
		"9182a174a5636c69636ba376616cd3ffffffffffffffff", /* val -1 */
		"9182a174a5636c69636ba376616ccf8000000000000000", /* > max */
		"9182a174a5636c69636ba3766964a0",	/* vid "" */
		"9182a174a5636c69636ba26363a3414243",	/* cc 3 bytes */
		"9182a174a5636c69636ba2747301",		/* ts 1 */
		"9182a174a5636c69636ba27473d0ff",	/* ts -1 */
		"9182a174a5636c69636ba27473d07f",	/* ts int8 127 */
		"9182a174a5636c69636ba27473ca3f800000",	/* ts float */
		"9181a174d90570616765",			/* str8 t */
	};
	uint8_t buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(hex) / sizeof(hex[0]); i++) {
		size_t n = strlen(hex[i]) / 2;
		for (size_t k = 0; k < n; k++)
			sscanf(hex[i] + 2 * k, "%2hhx", &buf[k]);
		const char *why = evdiff_array(buf, n);
		if (why != NULL)
			fprintf(stderr, "edge %zu (%s): %s\n", i, hex[i], why);
		assert_null(why);
	}
}

/* A good batch decodes to the events it was made of. */
static void
test_decodes_fields(void **state)
{
	struct gb g = {0};
	struct evdec c;
	struct nudge_event ev;
	struct nudge_diag d = {0};

	(void)state;
	w_container(&g, false, 1);
	w_container(&g, true, 6);
	w_cstr(&g, "vid");
	w_cstr(&g, "v-1");
	w_cstr(&g, "t");
	w_cstr(&g, "wishlist");
	w_cstr(&g, "val");
	w_uint(&g, 1299);
	w_cstr(&g, "cc");
	w_cstr(&g, "DE");
	w_cstr(&g, "f");
	w_container(&g, true, 1);
	w_cstr(&g, "k");
	w_cstr(&g, "v");
	w_cstr(&g, "sd");
	w_uint(&g, 500);
	assert_int_equal(evdec_array_open(&c, g.p, g.n, NULL, &d), 0);
	assert_int_equal(evdec_next(&c, &ev, &d), 0);
	assert_int_equal(ev.type, EVENT_CUSTOM);
	assert_true(strv_eq(ev.name, "wishlist"));
	assert_true(strv_eq(ev.visitor, "v-1"));
	assert_int_equal(ev.value_cents, 1299);
	assert_string_equal(ev.country, "DE");
	assert_int_equal(ev.n_fields, 1);
	assert_true(strv_eq(ev.fields[0].val, "v"));
	assert_int_equal(ev.scroll_permille, 500);
	assert_int_equal(evdec_next(&c, &ev, &d), NUDGE_ENOTFOUND);
	free(g.p);
}

static void
write_corpus(void)
{
	const char *dir = getenv("NUDGE_WRITE_CORPUS");
	struct gb g = {0};
	char path[512];

	if (dir == NULL)
		return;
	seed(4);
	for (int i = 0; i < 16; i++) {
		FILE *f;
		g.n = 0;
		if (i < 8)
			w_batch(&g, 1 + rn(4), i % 2 == 0);
		else
			w_request(&g, i % 2 == 0);
		snprintf(path, sizeof(path), "%s/seed-%02d", dir, i);
		if ((f = fopen(path, "wb")) != NULL) {
			fwrite(g.p, 1, g.n, f);
			fclose(f);
		}
	}
	free(g.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_decodes_fields),
		cmocka_unit_test(test_random_batches),
		cmocka_unit_test(test_mutated_batches),
		cmocka_unit_test(test_requests),
	};

	write_corpus();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
