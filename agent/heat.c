/*
 * heat.c - per-page click grids and scroll reach (see heat.h).
 *
 * Owns the page table: a fixed array of HEAT_SLOTS atomic pointers (open
 * addressing, never resized: the page count is bounded, so it never fills
 * past half), the pages by id, and the scroll page-view table.  Pages are
 * never removed before heat_free(), so a pointer read from a slot stays
 * valid; a new page is fully written before its slot is published with a
 * release store.  Counts are atomic adds (one locked instruction each on
 * x86, whatever the order asked).  An add then sets the page's dirty bit
 * unless it is already set; a consumer clears the bit, then reads the
 * pending counts.  All four are sequentially consistent, so either the
 * adder saw the bit after the clear and sets it again, or its add came
 * before the clear and the consumer reads it: no increment is missed, and
 * a hot page's dirty word is only read, not bounced between cores.  There
 * is no per-page click total for the same reason: heat_pages() sums.
 *
 * Any thread: heat_apply() on the ingest threads, heat_drain() on the
 * publisher, heat_take_dirty()/heat_save() on the archiver, heat_pages()
 * and heat_page_get() on control workers.  heat_drain() and
 * heat_take_dirty() each expect one caller at a time (their round-robin
 * cursors are theirs).
 */
#include "heat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

/* > 2 x (HEAT_PAGES_MAX + 1), a power of 2 */
#define HEAT_SLOTS 4096
#define HEAT_IDS (HEAT_PAGES_MAX + 1)
#define HEAT_DIRTY_ALL (HEAT_DIRTY_STORE | HEAT_DIRTY_PUB)

/* A scroll view slot: visitor tag (40 bits) | page id (19) | band (5). */
#define VIEW_TAG_SHIFT 24
#define VIEW_ID_SHIFT 5
#define VIEW_ID_MASK 0x7ffffu
#define VIEW_BAND_MASK 0x1fu

struct heat_page {
	char name[HEAT_PAGE_MAX];
	uint32_t len;
	uint32_t id;
	uint64_t hash;
	atomic_uint dirty;	/* enum heat_dirty bits */
	_Atomic uint32_t cells[HEAT_CELLS];
	_Atomic uint32_t reach[HEAT_BANDS];
	/* the publisher's increments since its last drain */
	_Atomic uint32_t pend_cells[HEAT_CELLS];
	_Atomic uint32_t pend_reach[HEAT_BANDS];
};

struct heat {
	pthread_mutex_t mu;	/* adding a page */
	_Atomic(struct heat_page *) slots[HEAT_SLOTS];
	struct heat_page *by_id[HEAT_IDS];	/* [i] set before n > i */
	atomic_uint n;
	atomic_uint drain_next;	/* the publisher's cursor */
	atomic_uint dirty_next;	/* the archiver's cursor */
	_Atomic uint64_t views[HEAT_VIEWS_SLOTS];
};

unsigned
heat_cell(unsigned x_permille, unsigned y_permille)
{
	unsigned col = x_permille * HEAT_COLS / 1000;
	unsigned row = y_permille * HEAT_ROWS / 1000;

	/* 1000 is the right or bottom edge itself: the last cell */
	if (col >= HEAT_COLS)
		col = HEAT_COLS - 1;
	if (row >= HEAT_ROWS)
		row = HEAT_ROWS - 1;
	return row * HEAT_COLS + col;
}

unsigned
heat_band(unsigned scroll_permille)
{
	unsigned b = scroll_permille / (1000 / HEAT_BANDS);

	return b >= HEAT_BANDS ? HEAT_BANDS - 1 : b;
}

/* The page's heatmap name: no query or fragment, "/" if empty, bounded. */
static struct nudge_strv
heat_normalize(struct nudge_strv page)
{
	uint32_t n = 0;

	while (n < page.len && page.ptr[n] != '?' && page.ptr[n] != '#')
		n++;
	if (n == 0)
		return STRV_LIT("/");
	if (n > HEAT_PAGE_MAX - 1)
		n = HEAT_PAGE_MAX - 1;
	return (struct nudge_strv){page.ptr, n};
}

/* Probes for name; returns the page or NULL with *pos at the free slot. */
static struct heat_page *
heat_probe(struct heat *h, struct nudge_strv name, uint64_t hash,
    uint32_t *pos)
{
	uint32_t i = (uint32_t)hash & (HEAT_SLOTS - 1);

	for (;;) {
		struct heat_page *p = atomic_load_explicit(&h->slots[i],
		    memory_order_acquire);
		if (p == NULL) {
			*pos = i;
			return NULL;
		}
		if (p->hash == hash && p->len == name.len &&
		    memcmp(p->name, name.ptr, name.len) == 0)
			return p;
		i = (i + 1) & (HEAT_SLOTS - 1);
	}
}

/* Adds a page under h->mu; NULL when full or out of memory. */
static struct heat_page *
heat_add(struct heat *h, struct nudge_strv name, uint64_t hash,
    uint32_t pos)
{
	unsigned id = atomic_load_explicit(&h->n, memory_order_relaxed);
	struct heat_page *p;

	if (id >= HEAT_IDS || (p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	memcpy(p->name, name.ptr, name.len);
	p->len = name.len;
	p->id = id;
	p->hash = hash;
	h->by_id[id] = p;
	atomic_store_explicit(&h->slots[pos], p, memory_order_release);
	atomic_store_explicit(&h->n, id + 1, memory_order_release);
	return p;
}

/* The page of name, added if new; "(other)" when the table is full. */
static struct heat_page *
heat_page_of(struct heat *h, struct nudge_strv name)
{
	uint64_t hash = XXH3_64bits(name.ptr, name.len);
	struct heat_page *p;
	uint32_t pos;

	if ((p = heat_probe(h, name, hash, &pos)) != NULL)
		return p;
	/* a flood of new URLs must not queue on the mutex once full */
	if (atomic_load_explicit(&h->n, memory_order_acquire) >= HEAT_IDS)
		return h->by_id[HEAT_OTHER];
	pthread_mutex_lock(&h->mu);
	if ((p = heat_probe(h, name, hash, &pos)) == NULL)
		p = heat_add(h, name, hash, pos);
	pthread_mutex_unlock(&h->mu);
	return p != NULL ? p : h->by_id[HEAT_OTHER];
}

int
heat_new(struct heat **out)
{
	struct heat *h = calloc(1, sizeof(*h));
	struct nudge_strv other = STRV_LIT("(other)");
	uint32_t pos;

	if (h == NULL)
		return NUDGE_ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	uint64_t hash = XXH3_64bits(other.ptr, other.len);
	heat_probe(h, other, hash, &pos);
	if (heat_add(h, other, hash, pos) == NULL) {
		heat_free(h);
		return NUDGE_ENOMEM;
	}
	*out = h;
	return 0;
}

void
heat_free(struct heat *h)
{
	if (h == NULL)
		return;
	for (unsigned i = 0; i < atomic_load(&h->n); i++)
		free(h->by_id[i]);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* After the adds: see the file comment for why seq_cst and the test. */
static void
heat_touch(struct heat_page *p)
{
	if ((atomic_load(&p->dirty) & HEAT_DIRTY_ALL) != HEAT_DIRTY_ALL)
		atomic_fetch_or(&p->dirty, HEAT_DIRTY_ALL);
}

static void
heat_reach_add(struct heat_page *p, unsigned from, unsigned to)
{
	for (unsigned k = from; k <= to; k++) {
		atomic_fetch_add(&p->reach[k], 1);
		atomic_fetch_add(&p->pend_reach[k], 1);
	}
	heat_touch(p);
}

/*
 * A scroll: the visitor's view of this page deepens (reach the new bands
 * only) or a new view starts (reach bands 0..b).  See heat.h.
 */
static void
heat_scroll(struct heat *h, struct heat_page *p, struct nudge_strv visitor,
    unsigned b)
{
	uint64_t hv = XXH3_64bits(visitor.ptr, visitor.len);
	_Atomic uint64_t *slot = &h->views[hv & (HEAT_VIEWS_SLOTS - 1)];
	uint64_t tag = ((hv >> 24) & ((1ull << 40) - 1)) | (1ull << 39);
	uint64_t head = tag << VIEW_TAG_SHIFT |
	    (uint64_t)p->id << VIEW_ID_SHIFT;
	uint64_t old = atomic_load_explicit(slot, memory_order_relaxed);

	for (;;) {
		if ((old & ~(uint64_t)VIEW_BAND_MASK) == head) {
			unsigned ob = (unsigned)(old & VIEW_BAND_MASK);
			if (b <= ob)
				return;
			if (atomic_compare_exchange_weak(slot, &old,
			    head | b)) {
				heat_reach_add(p, ob + 1, b);
				return;
			}
			continue;
		}
		if (atomic_compare_exchange_weak(slot, &old, head | b)) {
			heat_reach_add(p, 0, b);
			return;
		}
	}
}

int
heat_apply(struct heat *h, const struct nudge_event *ev)
{
	struct heat_page *p;

	/* bots click nowhere a merchant cares about */
	if ((ev->type != EVENT_CLICK && ev->type != EVENT_SCROLL) ||
	    ev->device == DEVICE_BOT)
		return 0;
	p = heat_page_of(h, heat_normalize(ev->page));
	if (ev->type == EVENT_SCROLL) {
		heat_scroll(h, p, ev->visitor, heat_band(ev->scroll_permille));
		return 0;
	}
	unsigned c = heat_cell(ev->x_permille, ev->y_permille);
	atomic_fetch_add(&p->cells[c], 1);
	atomic_fetch_add(&p->pend_cells[c], 1);
	heat_touch(p);
	return 0;
}

uint32_t
heat_page_count(const struct heat *h)
{
	return atomic_load_explicit(&h->n, memory_order_acquire);
}

static struct heat_page *
heat_by_id(const struct heat *h, uint32_t id)
{
	return id < heat_page_count(h) ? h->by_id[id] : NULL;
}

int
heat_find(struct heat *h, struct nudge_strv page, uint32_t *id)
{
	struct nudge_strv name = heat_normalize(page);
	struct heat_page *p;
	uint32_t pos;

	p = heat_probe(h, name, XXH3_64bits(name.ptr, name.len), &pos);
	if (p == NULL)
		return NUDGE_ENOTFOUND;
	*id = p->id;
	return 0;
}

const char *
heat_page_name(const struct heat *h, uint32_t id)
{
	const struct heat_page *p = heat_by_id(h, id);

	return p != NULL ? p->name : "";
}

int
heat_page_get(struct heat *h, uint32_t id, struct heat_totals *out)
{
	struct heat_page *p = heat_by_id(h, id);
	uint64_t sum = 0;

	if (p == NULL)
		return NUDGE_ENOTFOUND;
	memcpy(out->page, p->name, sizeof(out->page));
	for (unsigned i = 0; i < HEAT_CELLS; i++) {
		out->cells[i] = atomic_load_explicit(&p->cells[i],
		    memory_order_relaxed);
		sum += out->cells[i];
	}
	for (unsigned k = 0; k < HEAT_BANDS; k++)
		out->reach[k] = atomic_load_explicit(&p->reach[k],
		    memory_order_relaxed);
	/* the sum of the copied cells, so that the copy agrees with itself */
	out->clicks = sum;
	return 0;
}

static int
heat_info_cmp(const void *a, const void *b)
{
	const struct heat_page_info *x = a, *y = b;

	if (x->clicks != y->clicks)
		return x->clicks > y->clicks ? -1 : 1;
	if (x->views != y->views)
		return x->views > y->views ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

int
heat_pages(struct heat *h, struct heat_page_info *out, size_t cap,
    size_t *n)
{
	uint32_t count = heat_page_count(h);
	struct heat_page_info *all = malloc(count * sizeof(*all));
	size_t k = 0;

	if (all == NULL)
		return NUDGE_ENOMEM;
	for (uint32_t i = 0; i < count; i++) {
		struct heat_page *p = h->by_id[i];
		uint64_t c = 0, v;
		/* ~1 us a page: bounded by HEAT_PAGES_MAX, off the hot path */
		for (unsigned j = 0; j < HEAT_CELLS; j++)
			c += atomic_load_explicit(&p->cells[j],
			    memory_order_relaxed);
		v = atomic_load_explicit(&p->reach[0], memory_order_relaxed);
		if (c != 0 || v != 0)
			all[k++] = (struct heat_page_info){i, c, v};
	}
	qsort(all, k, sizeof(*all), heat_info_cmp);
	if (k > cap)
		k = cap;
	memcpy(out, all, k * sizeof(*out));
	free(all);
	*n = k;
	return 0;
}

size_t
heat_take_dirty(struct heat *h, uint32_t *ids, size_t cap)
{
	uint32_t count = heat_page_count(h), start, k = 0;

	start = atomic_load(&h->dirty_next) % count;
	for (uint32_t j = 0; j < count && k < cap; j++) {
		uint32_t i = (start + j) % count;
		struct heat_page *p = h->by_id[i];
		if (atomic_load(&p->dirty) & HEAT_DIRTY_STORE &&
		    atomic_fetch_and(&p->dirty, ~HEAT_DIRTY_STORE) &
		    HEAT_DIRTY_STORE) {
			ids[k++] = i;
			atomic_store(&h->dirty_next, i + 1);
		}
	}
	return k;
}

void
heat_mark_dirty(struct heat *h, uint32_t id)
{
	struct heat_page *p = heat_by_id(h, id);

	if (p != NULL)
		atomic_fetch_or(&p->dirty, HEAT_DIRTY_STORE);
}

/* Moves page p's pending cells into out while the cell budget lasts. */
static bool
heat_drain_page(struct heat_page *p, struct wire_heat *out)
{
	struct wire_heat_page *wp = &out->pages[out->n_pages];
	bool complete = true;

	memset(wp, 0, sizeof(*wp));
	wp->page = (struct nudge_strv){p->name, p->len};
	wp->first = out->n_cells;
	for (unsigned c = 0; c < HEAT_CELLS; c++) {
		if (atomic_load(&p->pend_cells[c]) == 0)
			continue;
		if (out->n_cells == WIRE_HEAT_CELLS_MAX) {
			complete = false;
			break;
		}
		struct wire_heat_cell *wc = &out->cells[out->n_cells++];
		wc->cell = (uint16_t)c;
		wc->n = atomic_exchange(&p->pend_cells[c], 0);
		wp->n_cells++;
	}
	bool any = wp->n_cells > 0;
	for (unsigned k = 0; k < HEAT_BANDS; k++) {
		wp->reach[k] = atomic_exchange(&p->pend_reach[k], 0);
		any = any || wp->reach[k] != 0;
	}
	if (any)
		out->n_pages++;
	return complete;
}

int
heat_drain(struct heat *h, struct wire_heat *out)
{
	uint32_t count = heat_page_count(h), start, j;

	out->n_pages = 0;
	out->n_cells = 0;
	start = atomic_load(&h->drain_next) % count;
	for (j = 0; j < count; j++) {
		struct heat_page *p = h->by_id[(start + j) % count];
		if (out->n_pages == WIRE_HEAT_PAGES_MAX ||
		    out->n_cells == WIRE_HEAT_CELLS_MAX)
			break;
		if (!(atomic_load(&p->dirty) & HEAT_DIRTY_PUB))
			continue;
		/* cleared before reading: a later add sets it again */
		atomic_fetch_and(&p->dirty, ~HEAT_DIRTY_PUB);
		if (!heat_drain_page(p, out)) {
			atomic_fetch_or(&p->dirty, HEAT_DIRTY_PUB);
			break;
		}
	}
	/* the next drain starts where this one stopped: no page starves */
	atomic_store(&h->drain_next, (start + j) % count);
	return 0;
}

/* Appends page t's non-zero totals to rows (growing it). */
static int
heat_rows_add(struct store_heat_row **rows, size_t *n, size_t *cap,
    const char *page, const struct heat_totals *t)
{
	size_t need = *n + HEAT_CELLS + HEAT_BANDS;

	if (need > *cap) {
		size_t ncap = need * 2;
		void *grown = realloc(*rows, ncap * sizeof(**rows));
		if (grown == NULL)
			return NUDGE_ENOMEM;
		*rows = grown;
		*cap = ncap;
	}
	for (unsigned c = 0; c < HEAT_CELLS; c++)
		if (t->cells[c] != 0)
			(*rows)[(*n)++] = (struct store_heat_row){page,
			    STORE_HEAT_CLICK, c, t->cells[c]};
	for (unsigned k = 0; k < HEAT_BANDS; k++)
		if (t->reach[k] != 0)
			(*rows)[(*n)++] = (struct store_heat_row){page,
			    STORE_HEAT_SCROLL, k, t->reach[k]};
	return 0;
}

static int
heat_save_ids(struct heat *h, struct store *st, const uint32_t *ids,
    size_t k)
{
	struct heat_totals *t = malloc(sizeof(*t));
	struct store_heat_row *rows = NULL;
	size_t n = 0, cap = 0;
	int rv = t == NULL ? NUDGE_ENOMEM : 0;

	for (size_t i = 0; i < k && rv == 0; i++)
		if ((rv = heat_page_get(h, ids[i], t)) == 0)
			rv = heat_rows_add(&rows, &n, &cap,
			    heat_page_name(h, ids[i]), t);
	if (rv == 0)
		rv = store_save_heat(st, rows, n);
	free(rows);
	free(t);
	return rv;
}

int
heat_save(struct heat *h, struct store *st, size_t max_pages)
{
	uint32_t ids[256];
	int rv = 0;

	while (max_pages > 0 && rv == 0) {
		size_t want = max_pages < 256 ? max_pages : 256;
		size_t k = heat_take_dirty(h, ids, want);
		if (k == 0)
			break;
		if ((rv = heat_save_ids(h, st, ids, k)) != 0)
			for (size_t i = 0; i < k; i++)
				heat_mark_dirty(h, ids[i]);
		max_pages -= k;
	}
	return rv;
}

static uint32_t
heat_sat_add(uint32_t a, uint64_t b)
{
	return b >= UINT32_MAX - a ? UINT32_MAX : a + (uint32_t)b;
}

/* store_load_heat callback: adds a row to the totals, not to pending. */
static void
heat_load_row(void *arg, const struct store_heat_row *r)
{
	struct heat *h = arg;
	struct heat_page *p = heat_page_of(h,
	    heat_normalize(strv_of(r->page)));
	uint32_t v;

	if (r->kind == STORE_HEAT_CLICK && r->cell < HEAT_CELLS) {
		v = atomic_load(&p->cells[r->cell]);
		atomic_store(&p->cells[r->cell], heat_sat_add(v, r->count));
	} else if (r->kind == STORE_HEAT_SCROLL && r->cell < HEAT_BANDS) {
		v = atomic_load(&p->reach[r->cell]);
		atomic_store(&p->reach[r->cell], heat_sat_add(v, r->count));
	}
}

int
heat_load(struct heat *h, struct store *st)
{
	return store_load_heat(st, heat_load_row, h);
}
