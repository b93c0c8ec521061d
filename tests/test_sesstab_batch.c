/*
 * test_sesstab_batch.c - sesstab_apply_batch against sesstab_apply_view:
 * the same random events (visitors seen again and again, bots, every type,
 * pages, campaigns, timestamps) applied one by one to one table and in
 * batches of every size to another must leave the same views, counters,
 * sessions, paths and recent events.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "funnel.h"
#include "sesstab.h"

#define N_EVENTS 20000
#define N_VISITORS 300

static uint64_t rng = 88172645463325252ull;

static unsigned
rn(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static char vids[N_VISITORS][16];
static const char *const pages[] = {"/", "/p/1", "/p/2", "/cart",
    "/checkout", "/thanks", "/blog/a", ""};
static const char *const camps[] = {"", "spring", "black-friday"};
static const char *const refs[] = {"", "https://www.google.com/",
    "https://facebook.com/x", "https://example.org/"};

static void
random_event(struct nudge_event *ev, uint64_t i)
{
	event_init(ev);
	ev->visitor = strv_of(vids[rn(N_VISITORS)]);
	ev->type = (uint8_t)rn(EVENT_CUSTOM);
	ev->device = (uint8_t)(rn(20) == 0 ? DEVICE_BOT : rn(4));
	ev->page = strv_of(pages[rn(8)]);
	ev->referrer = strv_of(refs[rn(4)]);
	ev->utm_campaign = strv_of(camps[rn(3)]);
	ev->utm_source = strv_of(rn(2) ? "news" : "");
	ev->value_cents = rn(5000);
	ev->quantity = rn(3);
	ev->scroll_permille = (uint16_t)rn(1001);
	if (rn(3))
		memcpy(ev->country, rn(2) ? "DE" : "FR", 3);
	ev->ts_ms = rn(10) == 0 ? 0 : 1700000000000ull + i * 10 + rn(50);
}

static struct sesstab *
table(const struct funnel *fn, unsigned shards)
{
	struct sesstab_config c = {.shards = shards,
	    .timeout_ms = 30 * 60 * 1000, .funnel = fn};
	struct sesstab *t;

	assert_int_equal(sesstab_new(&t, &c), 0);
	return t;
}

static void
same_views(const struct sesstab_view *a, const struct sesstab_view *b)
{
	assert_int_equal(a->live, b->live);
	if (!a->live)
		return;
	assert_int_equal(a->created, b->created);
	assert_int_equal(a->email, b->email);
	assert_int_equal(a->step, b->step);
	assert_int_equal(a->source, b->source);
	assert_int_equal(a->device, b->device);
	assert_memory_equal(a->country, b->country, sizeof(a->country));
	assert_int_equal(a->started_ms, b->started_ms);
	assert_int_equal(a->last_ms, b->last_ms);
	assert_int_equal(a->pages, b->pages);
	assert_int_equal(a->events, b->events);
	assert_int_equal(a->cart_items, b->cart_items);
	assert_int_equal(a->cart_cents, b->cart_cents);
	assert_int_equal(a->score, b->score);
	assert_string_equal(a->utm_campaign, b->utm_campaign);
	assert_string_equal(a->utm_source, b->utm_source);
	assert_string_equal(a->utm_medium, b->utm_medium);
}

static void
same_tables(struct sesstab *a, struct sesstab *b)
{
	static struct agg sa, sb;
	static struct session_step pa[64], pb[64];
	static struct sesstab_event ra[512], rb[512];
	struct session_summary xa, xb;
	size_t na, nb;

	sesstab_sum(a, &sa);
	sesstab_sum(b, &sb);
	assert_memory_equal(sa.c, sb.c, sizeof(sa.c));
	for (int v = 0; v < N_VISITORS; v++) {
		struct nudge_strv id = strv_of(vids[v]);
		int r1 = sesstab_visitor(a, id, &xa, pa, 64, &na);
		int r2 = sesstab_visitor(b, id, &xb, pb, 64, &nb);
		assert_int_equal(r1, r2);
		if (r1 != 0)
			continue;
		assert_memory_equal(&xa, &xb, sizeof(xa));
		assert_int_equal(na, nb);
		assert_memory_equal(pa, pb, na * sizeof(pa[0]));
	}
	na = sesstab_recent_events(a, ra, 512);
	nb = sesstab_recent_events(b, rb, 512);
	assert_int_equal(na, nb);
	assert_memory_equal(ra, rb, na * sizeof(ra[0]));
}

static void
run(unsigned shards, unsigned max_batch)
{
	static struct nudge_event ev[N_EVENTS];
	static const struct nudge_event *evp[N_EVENTS];
	static struct sesstab_view va[N_EVENTS], vb[N_EVENTS];
	static int ra[N_EVENTS], rb[N_EVENTS];
	struct funnel fn;
	struct sesstab *a, *b;

	funnel_default(&fn);
	a = table(&fn, shards);
	b = table(&fn, shards);
	for (int i = 0; i < N_VISITORS; i++)
		snprintf(vids[i], sizeof(vids[i]), "v%03d-%u", i, rn(1000));
	for (uint64_t i = 0; i < N_EVENTS; i++) {
		random_event(&ev[i], i);
		evp[i] = &ev[i];
	}
	memset(va, 0, sizeof(va));
	memset(vb, 0, sizeof(vb));
	for (size_t i = 0; i < N_EVENTS; i++)
		ra[i] = sesstab_apply_view(a, &ev[i], 1000,
		    1700000000000ull + i, &va[i]);
	for (size_t i = 0; i < N_EVENTS;) {
		size_t n = 1 + rn(max_batch);
		if (n > N_EVENTS - i)
			n = N_EVENTS - i;
		/* one clock reading per batch, as the ingest path does */
		for (size_t k = 0; k < n; k++)
			ev[i + k].ts_ms = ev[i + k].ts_ms ? ev[i + k].ts_ms :
			    1700000000000ull + i + k;
		assert_int_equal(sesstab_apply_batch(b, evp + i, n,
		    1000, 1700000000000ull + i, vb + i, rb + i), 0);
		i += n;
	}
	(void)ra;
	for (size_t i = 0; i < N_EVENTS; i++) {
		assert_int_equal(ra[i], rb[i]);
		same_views(&va[i], &vb[i]);
	}
	same_tables(a, b);
	sesstab_free(a);
	sesstab_free(b);
}

static void
test_batch_equals_one_by_one(void **state)
{
	static const unsigned shards[] = {1, 3, 8};
	static const unsigned batch[] = {1, 7, 100, 1000, 10000};

	(void)state;
	for (size_t s = 0; s < sizeof(shards) / sizeof(shards[0]); s++)
		for (size_t k = 0; k < sizeof(batch) / sizeof(batch[0]); k++)
			run(shards[s], batch[k]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_batch_equals_one_by_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
