/*
 * view_overview.c - view 1: the fleet at a glance (visitors, sessions,
 * events/s, purchases, revenue, conversion, rejects, bots, agents), a
 * small funnel and the latest sampled events.  Stateless; reads the model.
 * Main thread.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "draw.h"
#include "hll.h"
#include "view.h"

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

static void
overview_pair(WINDOW *w, int y, int x, const struct ui *ui, const char *label,
    const char *value)
{
	draw_text(w, y, x, draw_attr(ui, DRAW_LABEL), "%-18s", label);
	draw_text(w, y, x + 18, A_BOLD, "%12s", value);
}

static void
overview_numbers(WINDOW *w, struct ui *ui)
{
	struct model *m = ui->model;
	const struct agg *a = model_merged(m);
	char b[32];
	unsigned up = model_agents_up(m);

	draw_count(b, sizeof(b), a->g[AGG_VISITORS_ACTIVE]);
	overview_pair(w, 1, 1, ui, "Visitors active", b);
	snprintf(b, sizeof(b), "%.1f", model_events_rate(m));
	overview_pair(w, 1, 41, ui, "Events/s", b);
	draw_count(b, sizeof(b), a->g[AGG_SESSIONS_LIVE]);
	overview_pair(w, 2, 1, ui, "Live sessions", b);
	draw_count(b, sizeof(b), hll_count(&a->visitors));
	overview_pair(w, 2, 41, ui, "Distinct visitors", b);
	draw_count(b, sizeof(b), a->g[AGG_CARTS_OPEN]);
	overview_pair(w, 3, 1, ui, "Carts open", b);
	draw_count(b, sizeof(b), a->c[AGG_PURCHASES]);
	overview_pair(w, 3, 41, ui, "Purchases", b);
	draw_money(b, sizeof(b), a->c[AGG_REVENUE_CENTS]);
	overview_pair(w, 4, 1, ui, "Revenue", b);
	snprintf(b, sizeof(b), "%.1f%%", model_conversion(m) * 100.0);
	overview_pair(w, 4, 41, ui, "Conversion", b);
	draw_count(b, sizeof(b), a->c[AGG_REJECTED]);
	overview_pair(w, 5, 1, ui, "Rejected", b);
	draw_count(b, sizeof(b), a->c[AGG_BOTS]);
	overview_pair(w, 5, 41, ui, "Bots", b);
	snprintf(b, sizeof(b), "%u / %u", up, m->n_agents - up);
	overview_pair(w, 6, 1, ui, "Agents up / down", b);
	draw_count(b, sizeof(b), a->c[AGG_EVENTS]);
	overview_pair(w, 6, 41, ui, "Events", b);
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
	for (unsigned i = 0; i < f->n_steps && y < getmaxy(w) - 3; i++) {
		uint64_t c = a->c[AGG_FUNNEL(i)];

		draw_text(w, y, 2, A_NORMAL, "%-14.14s %8llu", f->steps[i],
		    (unsigned long long)c);
		draw_bar(w, y, 27, width - 29,
		    top ? (double)c / (double)top : 0, ui);
		y++;
	}
	return y;
}

static void
overview_events(WINDOW *w, int y, struct ui *ui)
{
	const struct model_event *e;

	if (y >= getmaxy(w) - 1)
		return;
	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL), "Recent events");
	for (unsigned i = 0;
	     y < getmaxy(w) && (e = model_event_at(ui->model, i)) != NULL;
	     i++) {
		time_t t = (time_t)(e->ts_ms / 1000);
		struct tm tm;
		char hms[16] = "--:--:--";

		if (t > 0 && localtime_r(&t, &tm) != NULL)
			strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		draw_text(w, y++, 2, A_NORMAL, "%s %-12.12s %-16.16s %s", hms,
		    e->type == EVENT_CUSTOM ? e->name
		                            : event_type_name(e->type),
		    e->visitor, e->page);
	}
}

static void
overview_draw(void *st, WINDOW *w, struct ui *ui)
{
	(void)st;
	overview_numbers(w, ui);
	overview_events(w, overview_funnel(w, 8, ui) + 1, ui);
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
    .help = "(no keys of its own)\n",
    .init = overview_init,
    .fini = overview_fini,
    .update = NULL,
    .draw = overview_draw,
    .key = overview_key,
};
