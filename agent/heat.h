/*
 * heat.h - click heatmaps and scroll depth, per page, in the agent.
 *
 * For every page (its path, query and fragment stripped: a heatmap is about
 * the page's layout, and utm_* tails would make every visit a new page) the
 * agent keeps
 *   - a click density grid of HEAT_COLS x HEAT_ROWS cells over the page's
 *     proportions: a click at (x, y) permille of the document's width and
 *     height counts in cell heat_cell(x, y);
 *   - a scroll-depth "reach" histogram of HEAT_BANDS bands of 5%: reach[k]
 *     is the number of page views whose deepest scroll got to at least
 *     5k% of the page, so reach[0] is the page views measured and
 *     reach[k] / reach[0] the share of them that got that far.
 *
 * Page views for the scroll histogram: a visitor's scroll events on one
 * page count once, at their deepest, until the visitor scrolls on another
 * page.  The last (visitor, page, deepest band) is remembered in a fixed
 * direct-mapped table of HEAT_VIEWS_SLOTS slots keyed by a hash of the
 * visitor id; two visitors sharing a slot while both scroll evict each
 * other, which counts a view twice (the error goes towards counting scroll
 * events), and a reload of the same page with no scroll elsewhere in
 * between merges into the previous view.  Both are rare and cost no lock.
 *
 * Bounded: at most HEAT_PAGES_MAX named pages; after that new pages are
 * counted into the page "(other)" (id HEAT_OTHER), as the session table's
 * intern table does.  A page costs about 9.5 KB, allocated when first seen.
 *
 * Thread-safety: heat_apply() is on the ingest path and takes no lock for
 * a page it has seen: the page table never moves or shrinks, so a lookup
 * is a hash and atomic loads, and every count is a relaxed atomic add.  A
 * new page takes the table's one mutex.  Every other function may be
 * called from any thread too.  Each page keeps two sets of pending
 * increments besides its totals: the publisher's (drained by heat_drain())
 * and a dirty bit for the archiver (heat_take_dirty()).
 */
#ifndef NUDGE_HEAT_H
#define NUDGE_HEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "store.h"
#include "wire.h"

/*
 * The grid is the protocol's (wire.h).  Changing it needs a store
 * migration that drops or rescales the saved click cells.
 */
#define HEAT_COLS WIRE_HEAT_COLS
#define HEAT_ROWS WIRE_HEAT_ROWS
#define HEAT_CELLS (HEAT_COLS * HEAT_ROWS)
#define HEAT_BANDS WIRE_HEAT_BANDS
#define HEAT_PAGES_MAX 2000	/* named pages; "(other)" comes on top */
#define HEAT_OTHER 0		/* the id of "(other)" */
#define HEAT_PAGE_MAX 128	/* page names are kept truncated to this */
#define HEAT_VIEWS_SLOTS 65536	/* scroll page views, 8 bytes each */

/* Pending-increment sets: who consumes them. */
enum heat_dirty {
	HEAT_DIRTY_STORE = 1 << 0,	/* the archiver's */
	HEAT_DIRTY_PUB = 1 << 1		/* the publisher's */
};

struct heat;

/* Full totals of one page, as heat_page_get() copies them. */
struct heat_totals {
	char page[HEAT_PAGE_MAX];
	uint64_t clicks;		/* sum of cells */
	uint32_t cells[HEAT_CELLS];
	uint32_t reach[HEAT_BANDS];	/* reach[0] = page views measured */
};

/* One row of heat_pages(): a page and how much it holds. */
struct heat_page_info {
	uint32_t id;
	uint64_t clicks;
	uint64_t views;	/* reach[0] */
};

int heat_new(struct heat **out);
void heat_free(struct heat *h);

/* The cell of a click at (x, y) permille (values over 1000 clamp). */
unsigned heat_cell(unsigned x_permille, unsigned y_permille);
/* The band of a scroll depth in permille: 0..HEAT_BANDS-1. */
unsigned heat_band(unsigned scroll_permille);

/*
 * Counts a validated event: clicks in their cell, scrolls in the page's
 * reach histogram; other types, and bots' events, are ignored.  Returns 0.
 * An event without a page counts under "/".
 */
int heat_apply(struct heat *h, const struct nudge_event *ev);

/* Number of page ids in use (ids are 0..n-1; 0 is "(other)"). */
uint32_t heat_page_count(const struct heat *h);

/*
 * The id of a page name (normalized as heat_apply() does), or
 * NUDGE_ENOTFOUND; never adds a page.
 */
int heat_find(struct heat *h, struct nudge_strv page, uint32_t *id);

/* The name of page id ("" for an unknown id); borrowed for h's life. */
const char *heat_page_name(const struct heat *h, uint32_t id);

/*
 * Copies page id's totals into *out.  Returns 0 or NUDGE_ENOTFOUND.  Counts
 * still being added concurrently may or may not be included.
 */
int heat_page_get(struct heat *h, uint32_t id, struct heat_totals *out);

/*
 * Fills out (cap rows) with the pages that hold anything, most clicks
 * first (then most views, then name); *n is how many were written.
 */
int heat_pages(struct heat *h, struct heat_page_info *out, size_t cap,
    size_t *n);

/*
 * Takes the ids of at most cap pages changed since the last take
 * (HEAT_DIRTY_STORE), clearing their bit; *n is how many.  A consumer that
 * then fails to use them gives them back with heat_mark_dirty().
 */
size_t heat_take_dirty(struct heat *h, uint32_t *ids, size_t cap);
void heat_mark_dirty(struct heat *h, uint32_t id);

/*
 * The publisher's increments: moves what was added since the last drain
 * into out (at most WIRE_HEAT_PAGES_MAX pages and WIRE_HEAT_CELLS_MAX
 * cells); what does not fit stays pending for the next drain.  Page names
 * in out are borrowed from h.  Returns 0.
 */
int heat_drain(struct heat *h, struct wire_heat *out);

/*
 * Persistence.  heat_save() writes the totals of at most max_pages pages
 * changed since the last save, replacing the rows saved before (one
 * transaction); on failure the pages stay dirty for the next call.
 * heat_load() adds every saved row to the totals (call it once, before
 * events arrive); loaded totals are not published as increments.
 */
int heat_save(struct heat *h, struct store *st, size_t max_pages);
int heat_load(struct heat *h, struct store *st);

#endif
