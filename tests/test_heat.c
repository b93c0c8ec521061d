/*
 * test_heat.c - agent/heat.c: cells from permilles (the edges 0 and 1000),
 * scroll bands and page views counted once at their deepest, page names
 * normalized, the bounded page table spilling into "(other)", the page
 * list order, the publisher's drain and its bounds, the store round trip
 * (dirty pages only, totals replaced), a concurrency smoke test that
 * also prints what heat_apply() costs, and the console model's side: a
 * drained HEAT message fed to model_feed() moves heat_gen.
 */
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "heat.h"
#include "model.h"

static struct nudge_event
click(const char *page, unsigned x, unsigned y)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = EVENT_CLICK;
	ev.visitor = STRV_LIT("v1");
	ev.page = strv_of(page);
	ev.x_permille = (uint16_t)x;
	ev.y_permille = (uint16_t)y;
	return ev;
}

static struct nudge_event
scroll(const char *visitor, const char *page, unsigned depth)
{
	struct nudge_event ev;

	event_init(&ev);
	ev.type = EVENT_SCROLL;
	ev.visitor = strv_of(visitor);
	ev.page = strv_of(page);
	ev.scroll_permille = (uint16_t)depth;
	return ev;
}

static uint32_t
page_id(struct heat *h, const char *page)
{
	uint32_t id = UINT32_MAX;

	assert_int_equal(heat_find(h, strv_of(page), &id), 0);
	return id;
}

static void
test_cells(void **state)
{
	(void)state;
	assert_int_equal(heat_cell(0, 0), 0);
	assert_int_equal(heat_cell(1000, 0), HEAT_COLS - 1);
	assert_int_equal(heat_cell(0, 1000), (HEAT_ROWS - 1) * HEAT_COLS);
	assert_int_equal(heat_cell(1000, 1000), HEAT_CELLS - 1);
	assert_int_equal(heat_cell(5000, 5000), HEAT_CELLS - 1); /* clamps */
	/* 1000/24 = 41.67: 41 is still column 0, 42 column 1 */
	assert_int_equal(heat_cell(41, 0), 0);
	assert_int_equal(heat_cell(42, 0), 1);
	assert_int_equal(heat_cell(999, 999), HEAT_CELLS - 1);
	assert_int_equal(heat_cell(500, 500), 24 * HEAT_COLS + 12);
	/* 1000/48 = 20.8: y 20 is row 0, 21 row 1 */
	assert_int_equal(heat_cell(0, 20), 0);
	assert_int_equal(heat_cell(0, 21), HEAT_COLS);
}

static void
test_bands(void **state)
{
	(void)state;
	assert_int_equal(heat_band(0), 0);
	assert_int_equal(heat_band(49), 0);
	assert_int_equal(heat_band(50), 1);
	assert_int_equal(heat_band(500), 10);
	assert_int_equal(heat_band(999), 19);
	assert_int_equal(heat_band(1000), 19);
	assert_int_equal(heat_band(60000), 19);
}

static void
test_clicks_and_names(void **state)
{
	struct heat *h = NULL;
	struct heat_totals *t = malloc(sizeof(*t));
	struct nudge_event ev;
	uint32_t id;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	ev = click("/p?utm_source=x", 0, 0);
	heat_apply(h, &ev);
	ev = click("/p#top", 1000, 1000);
	heat_apply(h, &ev);
	ev = click("/p", 1000, 1000);
	heat_apply(h, &ev);
	ev = click("", 500, 500);
	heat_apply(h, &ev);
	/* other types and bots are not the heatmap's */
	ev = click("/p", 0, 0);
	ev.type = EVENT_PAGEVIEW;
	heat_apply(h, &ev);
	ev = click("/p", 0, 0);
	ev.device = DEVICE_BOT;
	heat_apply(h, &ev);
	assert_int_equal(heat_page_count(h), 3); /* (other), /p, / */
	assert_int_equal(heat_page_get(h, page_id(h, "/p?q"), t), 0);
	assert_string_equal(t->page, "/p");
	assert_int_equal(t->clicks, 3);
	assert_int_equal(t->cells[0], 1);
	assert_int_equal(t->cells[HEAT_CELLS - 1], 2);
	assert_int_equal(heat_page_get(h, page_id(h, "/"), t), 0);
	assert_int_equal(t->cells[24 * HEAT_COLS + 12], 1);
	assert_int_equal(heat_find(h, STRV_LIT("/nope"), &id),
	    NUDGE_ENOTFOUND);
	assert_int_equal(heat_page_get(h, 99, t), NUDGE_ENOTFOUND);
	assert_string_equal(heat_page_name(h, 99), "");
	heat_free(h);
	free(t);
}

static void
test_scroll_views(void **state)
{
	struct heat *h = NULL;
	struct heat_totals *t = malloc(sizeof(*t));
	struct nudge_event ev;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	/* one view of /a, deepest 30% (band 6), however many events */
	ev = scroll("v1", "/a", 100);
	heat_apply(h, &ev);
	ev = scroll("v1", "/a", 300);
	heat_apply(h, &ev);
	ev = scroll("v1", "/a", 200);
	heat_apply(h, &ev);
	assert_int_equal(heat_page_get(h, page_id(h, "/a"), t), 0);
	for (unsigned k = 0; k < HEAT_BANDS; k++)
		assert_int_equal(t->reach[k], k <= 6 ? 1 : 0);
	/* v1 moves to /b, then back to /a: a second view of /a */
	ev = scroll("v1", "/b", 50);
	heat_apply(h, &ev);
	ev = scroll("v1", "/a", 100);
	heat_apply(h, &ev);
	/* v2 reads /a to the bottom */
	ev = scroll("v2", "/a", 1000);
	heat_apply(h, &ev);
	assert_int_equal(heat_page_get(h, page_id(h, "/a"), t), 0);
	assert_int_equal(t->reach[0], 3);
	assert_int_equal(t->reach[2], 3);
	assert_int_equal(t->reach[3], 2);
	assert_int_equal(t->reach[6], 2);
	assert_int_equal(t->reach[7], 1);
	assert_int_equal(t->reach[19], 1);
	assert_int_equal(t->clicks, 0);
	assert_int_equal(heat_page_get(h, page_id(h, "/b"), t), 0);
	assert_int_equal(t->reach[0], 1);
	assert_int_equal(t->reach[1], 1);
	assert_int_equal(t->reach[2], 0);
	heat_free(h);
	free(t);
}

static void
test_bounded_pages(void **state)
{
	struct heat *h = NULL;
	struct heat_totals *t = malloc(sizeof(*t));
	struct heat_page_info *v = calloc(HEAT_PAGES_MAX + 1, sizeof(*v));
	char page[32];
	uint32_t id;
	size_t n = 0;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	for (int i = 0; i < HEAT_PAGES_MAX + 100; i++) {
		snprintf(page, sizeof(page), "/p%d", i);
		struct nudge_event ev = click(page, 10, 10);
		heat_apply(h, &ev);
	}
	/* a known page still lands in its own map once the table is full */
	struct nudge_event ev = click("/p0", 10, 10);
	heat_apply(h, &ev);
	assert_int_equal(heat_page_count(h), HEAT_PAGES_MAX + 1);
	assert_int_equal(heat_find(h, STRV_LIT("/p2050"), &id),
	    NUDGE_ENOTFOUND);
	assert_int_equal(heat_page_get(h, HEAT_OTHER, t), 0);
	assert_string_equal(t->page, "(other)");
	assert_int_equal(t->clicks, 100);
	assert_int_equal(heat_page_get(h, page_id(h, "/p0"), t), 0);
	assert_int_equal(t->clicks, 2);
	/* the list: most clicks first, then by id */
	assert_int_equal(heat_pages(h, v, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(heat_page_name(h, v[0].id), "(other)");
	assert_string_equal(heat_page_name(h, v[1].id), "/p0");
	assert_string_equal(heat_page_name(h, v[2].id), "/p1");
	assert_int_equal(heat_pages(h, v, HEAT_PAGES_MAX + 1, &n), 0);
	assert_int_equal(n, HEAT_PAGES_MAX + 1);
	heat_free(h);
	free(t);
	free(v);
}

static void
test_drain(void **state)
{
	struct heat *h = NULL;
	struct wire_heat *w = malloc(sizeof(*w));
	char page[32];
	uint64_t cells = 0;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	struct nudge_event ev = click("/a", 0, 0);
	heat_apply(h, &ev);
	heat_apply(h, &ev);
	ev = scroll("v1", "/a", 120);
	heat_apply(h, &ev);
	assert_int_equal(heat_drain(h, w), 0);
	assert_int_equal(w->n_pages, 1);
	assert_true(strv_eq(w->pages[0].page, "/a"));
	assert_int_equal(w->pages[0].n_cells, 1);
	assert_int_equal(w->cells[0].cell, 0);
	assert_int_equal(w->cells[0].n, 2);
	assert_int_equal(w->pages[0].reach[2], 1);
	assert_int_equal(w->pages[0].reach[3], 0);
	/* drained: nothing more until something new */
	assert_int_equal(heat_drain(h, w), 0);
	assert_int_equal(w->n_pages, 0);
	/* 60 pages: 50 now, 10 next time */
	for (int i = 0; i < 60; i++) {
		snprintf(page, sizeof(page), "/p%d", i);
		ev = click(page, 500, 500);
		heat_apply(h, &ev);
	}
	assert_int_equal(heat_drain(h, w), 0);
	assert_int_equal(w->n_pages, WIRE_HEAT_PAGES_MAX);
	assert_int_equal(heat_drain(h, w), 0);
	assert_int_equal(w->n_pages, 10);
	/* 3 pages of 1000 distinct cells: the cell budget splits them */
	for (int p = 0; p < 3; p++)
		for (unsigned c = 0; c < 1000; c++) {
			snprintf(page, sizeof(page), "/big%d", p);
			unsigned x = (c % HEAT_COLS) * 1000 / HEAT_COLS + 1;
			unsigned y = (c / HEAT_COLS) * 1000 / HEAT_ROWS + 1;
			ev = click(page, x, y);
			heat_apply(h, &ev);
		}
	for (int round = 0; round < 3; round++) {
		assert_int_equal(heat_drain(h, w), 0);
		assert_true(w->n_cells <= WIRE_HEAT_CELLS_MAX);
		for (uint32_t i = 0; i < w->n_cells; i++)
			cells += w->cells[i].n;
	}
	assert_int_equal(cells, 3000);
	heat_free(h);
	free(w);
}

/* A store in a fresh temp dir. */
static struct store *
temp_store(char *dir, size_t cap)
{
	struct store *st = NULL;
	struct nudge_diag d = {0};
	char path[128];

	snprintf(dir, cap, "/tmp/nudge-heat-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(store_open(&st, path, &d), 0);
	return st;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
count_row(void *arg, const struct store_heat_row *r)
{
	(void)r;
	(*(int *)arg)++;
}

static void
test_store_round_trip(void **state)
{
	struct heat *h = NULL, *back = NULL;
	struct heat_totals *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	struct wire_heat *w = malloc(sizeof(*w));
	char dir[64];
	struct store *st = temp_store(dir, sizeof(dir));
	int rows = 0;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	struct nudge_event ev = click("/a", 0, 0);
	heat_apply(h, &ev);
	ev = click("/a", 1000, 1000);
	heat_apply(h, &ev);
	ev = scroll("v1", "/a", 500);
	heat_apply(h, &ev);
	ev = click("/b", 300, 300);
	heat_apply(h, &ev);
	assert_int_equal(heat_save(h, st, 1), 0); /* one page this time */
	assert_int_equal(heat_save(h, st, 100), 0);
	assert_int_equal(store_load_heat(st, count_row, &rows), 0);
	assert_int_equal(rows, 2 + 11 + 1);
	/* nothing changed: nothing written */
	rows = 0;
	assert_int_equal(heat_save(h, st, 100), 0);
	/* totals replace: /a cell 0 goes to 3 */
	ev = click("/a", 0, 0);
	heat_apply(h, &ev);
	heat_apply(h, &ev);
	assert_int_equal(heat_save(h, st, 100), 0);
	assert_int_equal(heat_new(&back), 0);
	assert_int_equal(heat_load(back, st), 0);
	assert_int_equal(heat_page_count(back), 3);
	for (const char *const *p = (const char *const[]){"/a", "/b", NULL};
	     *p != NULL; p++) {
		assert_int_equal(heat_page_get(h, page_id(h, *p), a), 0);
		assert_int_equal(heat_page_get(back, page_id(back, *p), b), 0);
		assert_memory_equal(a, b, sizeof(*a));
	}
	assert_int_equal(b->clicks, 1);
	/* loaded totals are not increments to publish, nor dirty */
	assert_int_equal(heat_drain(back, w), 0);
	assert_int_equal(w->n_pages, 0);
	uint32_t ids[4];
	assert_int_equal(heat_take_dirty(back, ids, 4), 0);
	heat_free(back);
	heat_free(h);
	store_close(st);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(a);
	free(b);
	free(w);
}

#define SMOKE_THREADS 2
#define SMOKE_EVENTS 200000

struct smoke {
	struct heat *h;
	int seed;
};

static const char *const smoke_pages[8] = {"/p0", "/p1", "/p2", "/p3",
    "/p4", "/p5", "/product/boots-41", "/checkout"};
static const char *const smoke_vids[8] = {"v-aa", "v-bb", "v-cc", "v-dd",
    "v-ee", "v-ff", "v-gg", "v-hh"};

/* Clicks on 8 pages, one event in ten a scroll: no formatting in the loop. */
static void *
smoke_ingest(void *arg)
{
	struct smoke *s = arg;

	for (int i = 0; i < SMOKE_EVENTS; i++) {
		unsigned r = (unsigned)(i * 2654435761u + (unsigned)s->seed);
		const char *page = smoke_pages[r % 8];
		struct nudge_event ev = click(page, r % 1001,
		    (r >> 10) % 1001);
		if (i % 10 == 0)
			ev = scroll(smoke_vids[(r >> 3) % 8], page, r % 1001);
		heat_apply(s->h, &ev);
	}
	return NULL;
}

static double mono_s(void);

/* What one event costs on one thread, for the record (no assert). */
static void
test_apply_cost(void **state)
{
	struct heat *h = NULL;
	struct smoke s;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	s = (struct smoke){h, 1};
	double t0 = mono_s();
	smoke_ingest(&s);
	double dt = mono_s() - t0;
	print_message("1 thread: %.0f ns per event\n",
	    dt * 1e9 / SMOKE_EVENTS);
	heat_free(h);
}

static uint64_t
drain_clicks(struct heat *h, struct wire_heat *w)
{
	uint64_t n = 0;

	heat_drain(h, w);
	for (uint32_t i = 0; i < w->n_cells; i++)
		n += w->cells[i].n;
	return n;
}

static double
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_concurrency_smoke(void **state)
{
	struct heat *h = NULL;
	struct wire_heat *w = malloc(sizeof(*w));
	struct heat_page_info v[16];
	struct smoke s[SMOKE_THREADS];
	pthread_t th[SMOKE_THREADS];
	uint64_t drained = 0, total = 0;
	size_t n = 0;
	double t0;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	t0 = mono_s();
	for (int i = 0; i < SMOKE_THREADS; i++) {
		s[i] = (struct smoke){h, i + 1};
		assert_int_equal(pthread_create(&th[i], NULL, smoke_ingest,
		    &s[i]), 0);
	}
	/* the publisher drains while the ingest threads add */
	for (int i = 0; i < 50; i++) {
		drained += drain_clicks(h, w);
		usleep(1000);
	}
	for (int i = 0; i < SMOKE_THREADS; i++)
		pthread_join(th[i], NULL);
	double dt = mono_s() - t0;
	while (w->n_pages > 0 || drained == 0)
		drained += drain_clicks(h, w);
	drained += drain_clicks(h, w);
	assert_int_equal(heat_pages(h, v, 16, &n), 0);
	for (size_t i = 0; i < n; i++)
		total += v[i].clicks;
	assert_int_equal(total, SMOKE_THREADS * SMOKE_EVENTS * 9 / 10);
	assert_int_equal(drained, total);
	print_message("%d threads x %d events in %.1f ms: %.0f ns per "
	    "event per thread\n", SMOKE_THREADS, SMOKE_EVENTS, dt * 1e3,
	    dt * 1e9 / SMOKE_EVENTS);
	heat_free(h);
	free(w);
}

static void
test_model_heat(void **state)
{
	struct heat *h = NULL;
	struct wire_heat *w = malloc(sizeof(*w));
	struct wire_header hd = {.v = WIRE_VERSION, .kind = WIRE_HEAT,
	    .agent = "a1", .seq = 0, .ts_ms = 1};
	struct model m;
	msgpack_sbuffer sb;

	(void)state;
	assert_int_equal(heat_new(&h), 0);
	assert_int_equal(model_init(&m, 1), 0);
	msgpack_sbuffer_init(&sb);
	struct nudge_event ev = click("/a", 10, 10);
	heat_apply(h, &ev);
	heat_apply(h, &ev);
	heat_drain(h, w);
	assert_int_equal(wire_write_heat(&sb, &hd, w), 0);
	assert_true(model_feed(&m, 0, sb.data, sb.size, 1) & MODEL_F_HEAT);
	assert_int_equal(m.heat_gen, 1);
	assert_int_equal(m.heat_clicks, 2);
	/* a heat body that lies is counted bad, and moves nothing */
	hd.seq = 1;
	assert_int_equal(wire_write_heat(&sb, &hd, w), 0);
	((unsigned char *)sb.data)[sb.size - 1] = 0xc0; /* s: [] -> s: nil */
	assert_true(model_feed(&m, 0, sb.data, sb.size, 2) & MODEL_F_BAD);
	assert_int_equal(m.heat_gen, 1);
	assert_int_equal(m.agents[0].bad, 1);
	msgpack_sbuffer_destroy(&sb);
	model_fini(&m);
	heat_free(h);
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cells),
		cmocka_unit_test(test_bands),
		cmocka_unit_test(test_clicks_and_names),
		cmocka_unit_test(test_scroll_views),
		cmocka_unit_test(test_bounded_pages),
		cmocka_unit_test(test_drain),
		cmocka_unit_test(test_store_round_trip),
		cmocka_unit_test(test_apply_cost),
		cmocka_unit_test(test_concurrency_smoke),
		cmocka_unit_test(test_model_heat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
