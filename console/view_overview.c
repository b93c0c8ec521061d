/*
 * view_overview.c - view 1: the fleet at a glance.  Visitors now, events/s,
 * sessions, conversion and revenue today, each with a sparkline of the
 * last hour from the per-minute history; live gauges; agents up and down;
 * a small funnel; the running campaigns with their verdict lines (from
 * the TUI's book, campview.h; none in batch mode); the top pages (from the sampled events the console
 * heard) and the top sources (sessions by source, from the aggregates).
 *
 * "Today" is the local calendar day: the history's minutes since local
 * midnight, the current one included.  Sessions started stand in for
 * visitors in sparklines and "today" conversion (purchases / sessions).
 * Stateless; reads the model and the history.  Main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "campview.h"
#include "draw.h"
#include "hll.h"
#include "view.h"

#define OV_SPARK_MIN 60 /* the sparklines cover this many minutes */
#define OV_TOP 6        /* rows of top pages and sources */
#define OV_CAMPS 3      /* running campaigns listed */

static void *
overview_init(struct ui *ui)
{
	(void)ui;
	return (void *)&view_overview; /* no state: any non-NULL pointer */
}

static void
overview_fini(void *st)
{
	(void)st;
}

/* Local midnight of the day holding wall_ms, as ms since the epoch. */
static uint64_t
overview_midnight(uint64_t wall_ms)
{
	time_t t = (time_t)(wall_ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		return wall_ms - wall_ms % (86400u * 1000u);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	return t > 0 ? (uint64_t)t * 1000 : 0;
}

/*
 * The last hour of series s in cells: one minute a cell when there is
 * room for 60, else two minutes a cell (summed; the gauge takes the max).
 */
static void
overview_spark(WINDOW *w, int y, int x, const struct ui *ui, int s)
{
	uint64_t v[OV_SPARK_MIN], cells[OV_SPARK_MIN];
	int room = getmaxx(w) - x - 1;
	size_t n = room >= OV_SPARK_MIN ? OV_SPARK_MIN : OV_SPARK_MIN / 2;

	if (room < (int)n)
		return;
	hist_series(ui->hist, s, ui->wall_ms, v, OV_SPARK_MIN);
	if (n == OV_SPARK_MIN) {
		draw_spark(w, y, x, v, n, ui);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t a = v[2 * i], b = v[2 * i + 1];

		cells[i] = s == HIST_VISITORS ? (a > b ? a : b) : a + b;
	}
	draw_spark(w, y, x, cells, n, ui);
}

static void
overview_line(WINDOW *w, int y, const struct ui *ui, const char *label,
    const char *value, int series)
{
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "%-17s", label);
	draw_text(w, y, 18, A_BOLD, "%11s", value);
	overview_spark(w, y, 31, ui, series);
}

static void
overview_headline(WINDOW *w, struct ui *ui)
{
	struct model *m = ui->model;
	const struct agg *a = model_merged(m);
	uint64_t day = overview_midnight(ui->wall_ms), end = ui->wall_ms + 1;
	uint64_t sess = hist_sum(ui->hist, HIST_SESSIONS, day, end);
	uint64_t buys = hist_sum(ui->hist, HIST_PURCHASES, day, end);
	uint64_t rev = hist_sum(ui->hist, HIST_REVENUE, day, end);
	char b[32];

	draw_count(b, sizeof(b), a->g[AGG_VISITORS_ACTIVE]);
	overview_line(w, 0, ui, "Visitors now", b, HIST_VISITORS);
	snprintf(b, sizeof(b), "%.1f", model_events_rate(m));
	overview_line(w, 1, ui, "Events/s", b, HIST_EVENTS);
	draw_count(b, sizeof(b), sess);
	overview_line(w, 2, ui, "Sessions today", b, HIST_SESSIONS);
	snprintf(b, sizeof(b), "%.1f%%",
	    sess ? (double)buys * 100.0 / (double)sess : 0.0);
	overview_line(w, 3, ui, "Conversion today", b, HIST_PURCHASES);
	draw_money(b, sizeof(b), rev);
	overview_line(w, 4, ui, "Revenue today", b, HIST_REVENUE);
}

static void
overview_gauges(WINDOW *w, struct ui *ui)
{
	struct model *m = ui->model;
	const struct agg *a = model_merged(m);
	unsigned up = model_agents_up(m);
	char rev[32];

	draw_money(rev, sizeof(rev), a->c[AGG_REVENUE_CENTS]);
	draw_text(w, 5, 1, A_NORMAL,
	    "live %llu  carts %llu  distinct visitors %llu  conversion %.1f%%",
	    (unsigned long long)a->g[AGG_SESSIONS_LIVE],
	    (unsigned long long)a->g[AGG_CARTS_OPEN],
	    (unsigned long long)hll_count(&a->visitors),
	    model_conversion(m) * 100.0);
	draw_text(w, 6, 1, A_NORMAL,
	    "events %llu  purchases %llu  revenue %s  rejected %llu  bots "
	    "%llu",
	    (unsigned long long)a->c[AGG_EVENTS],
	    (unsigned long long)a->c[AGG_PURCHASES], rev,
	    (unsigned long long)a->c[AGG_REJECTED],
	    (unsigned long long)a->c[AGG_BOTS]);
	draw_text(w, 7, 1,
	    up < m->n_agents ? draw_attr(ui, DRAW_BAD) : A_NORMAL,
	    "agents %u up / %u down", up, m->n_agents - up);
}

/* Returns the next free row. */
static int
overview_funnel(WINDOW *w, int y, struct ui *ui)
{
	const struct wire_snapshot *f = model_funnel_source(ui->model);
	const struct agg *a = model_merged(ui->model);
	int width = getmaxx(w);
	uint64_t top;

	if (f == NULL || f->n_steps == 0)
		return y;
	top = a->c[AGG_FUNNEL(0)];
	draw_text(
	    w, y++, 1, draw_attr(ui, DRAW_LABEL), "Funnel %s", f->funnel);
	for (unsigned i = 0; i < f->n_steps && y < getmaxy(w) - 4; i++) {
		uint64_t c = a->c[AGG_FUNNEL(i)];

		draw_text(w, y, 2, A_NORMAL, "%-14.14s %9llu", f->steps[i],
		    (unsigned long long)c);
		draw_bar(w, y, 28, width - 30,
		    top ? (double)c / (double)top : 0, ui);
		y++;
	}
	return y;
}

/*
 * The running campaigns, one line each: name, agents agreeing, the
 * verdict (campstat's line); nothing at all when none is declared.
 * Returns the next free row.
 */
static int
overview_campaigns(WINDOW *w, int y, struct ui *ui)
{
	const struct campview *b = ui->camps;
	unsigned n_state[CAMP_STATE_COUNT] = {0}, shown = 0;

	if (b == NULL || b->n == 0 || y >= getmaxy(w) - 2)
		return y;
	for (unsigned i = 0; i < b->n; i++)
		if (b->camp[i].state < CAMP_STATE_COUNT)
			n_state[b->camp[i].state]++;
	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL),
	    "Campaigns  %u running, %u paused, %u draft, %u stopped",
	    n_state[CAMP_RUNNING], n_state[CAMP_PAUSED], n_state[CAMP_DRAFT],
	    n_state[CAMP_STOPPED]);
	for (unsigned i = 0; i < b->n && y < getmaxy(w) - 1; i++) {
		const struct campview_camp *c = &b->camp[i];
		bool alarm = c->cs.tripped || c->cs.srm.warn;

		if (c->state != CAMP_RUNNING)
			continue;
		if (shown++ == OV_CAMPS) {
			draw_text(w, y++, 2, A_NORMAL, "(more in view 8)");
			break;
		}
		draw_text(w, y, 2, A_NORMAL, "%-16.16s", c->name);
		draw_text(w, y, 19, campview_settled(c, ui->n_links) ?
		    A_NORMAL : draw_attr(ui, DRAW_BAD), "%u/%u", c->n_agree,
		    ui->n_links);
		draw_text(w, y++, 27, alarm ? draw_attr(ui, DRAW_BAD) :
		    c->cs.call == STATS_CALL_BETTER ? draw_attr(ui, DRAW_GOOD) :
		    A_NORMAL, "%s", c->cs.line);
	}
	return y;
}

struct ov_count {
	char key[SESSION_PAGE_MAX];
	unsigned n;
};

static int
ov_count_cmp(const void *pa, const void *pb)
{
	const struct ov_count *a = pa, *b = pb;

	if (a->n != b->n)
		return a->n < b->n ? 1 : -1;
	return strcmp(a->key, b->key);
}

static void
ov_count_add(struct ov_count *v, size_t *n, size_t cap, const char *key)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i].key, key) == 0) {
			v[i].n++;
			return;
		}
	if (*n < cap) {
		snprintf(v[*n].key, sizeof(v[*n].key), "%s", key);
		v[(*n)++].n = 1;
	}
}

/* Page views among the sampled events, most viewed first. */
static size_t
overview_top_pages(struct model *m, struct ov_count *v, size_t cap)
{
	const struct model_event *e;
	size_t n = 0;

	for (unsigned i = 0; (e = model_event_at(m, i)) != NULL; i++)
		if (e->type == EVENT_PAGEVIEW && e->page[0] != '\0')
			ov_count_add(v, &n, cap, e->page);
	qsort(v, n, sizeof(*v), ov_count_cmp);
	return n;
}

/* Sessions by traffic source: the funnel's first step split by source
 * (exact and additive across agents, unlike the samples). */
static size_t
overview_top_sources(struct model *m, struct ov_count *v, size_t cap)
{
	const struct agg *a = model_merged(m);
	size_t n = 0;

	for (int k = 0; k < SOURCE_COUNT && n < cap; k++) {
		uint64_t c = a->c[AGG_FUNNEL_SOURCE(0, k)];

		if (c == 0)
			continue;
		snprintf(
		    v[n].key, sizeof(v[n].key), "%s", event_source_name(k));
		v[n++].n = c > UINT32_MAX ? UINT32_MAX : (unsigned)c;
	}
	qsort(v, n, sizeof(*v), ov_count_cmp);
	return n;
}

static void
overview_tops(WINDOW *w, int y, struct ui *ui)
{
	struct ov_count *pages = calloc(MODEL_EVENTS_MAX, sizeof(*pages));
	struct ov_count src[SOURCE_COUNT];
	size_t np, ns;
	int half = getmaxx(w) / 2;

	if (pages == NULL || y >= getmaxy(w) - 1) {
		free(pages);
		return;
	}
	np = overview_top_pages(ui->model, pages, MODEL_EVENTS_MAX);
	ns = overview_top_sources(ui->model, src, SOURCE_COUNT);
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "Top pages (sampled)");
	draw_text(w, y++, half + 1, draw_attr(ui, DRAW_LABEL),
	    "Top sources (sessions)");
	for (size_t i = 0; i < OV_TOP && y < getmaxy(w); i++, y++) {
		if (i < np)
			draw_text(w, y, 2, A_NORMAL, "%-*.*s %5u", half - 9,
			    half - 9, pages[i].key, pages[i].n);
		if (i < ns)
			draw_text(w, y, half + 2, A_NORMAL, "%-12s %6u",
			    src[i].key, src[i].n);
	}
	free(pages);
}

static void
overview_draw(void *st, WINDOW *w, struct ui *ui)
{
	(void)st;
	overview_headline(w, ui);
	overview_gauges(w, ui);
	overview_tops(w,
	    overview_campaigns(w, overview_funnel(w, 9, ui) + 1, ui), ui);
}

static int
overview_key(void *st, struct ui *ui, int ch)
{
	(void)st;
	(void)ui;
	(void)ch;
	return VIEW_IGNORED;
}

const struct view_ops view_overview = {
    .name = "overview",
    .help = "(no keys of its own; sparklines: the last hour, per minute)\n",
    .init = overview_init,
    .fini = overview_fini,
    .update = NULL,
    .draw = overview_draw,
    .key = overview_key,
};
