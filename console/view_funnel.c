/*
 * view_funnel.c - view 2: the conversion funnel as horizontal bars, one per
 * step, with its count, step conversion and drop-off.  `s` cycles the
 * segment key (none, source, device, country): each bar is then split into
 * one run per segment value, with a legend.  Countries come from the
 * agents' fixed country table (agg.h); the view shows the five with most
 * visits and folds the rest into "rest", so a bar never has more runs than
 * there are glyphs to tell them apart.  Campaign variants are compared in
 * the campaigns view (view 8), which has the statistics for it.
 *
 * Below the bars: the last hour's step counts against the same hour
 * yesterday, from the per-minute history (history.h).
 *
 * Labels come from the agents' snapshots, counts from the merged
 * aggregates.  Owns a small state (the segment key); main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "view.h"

#define FUNNEL_DAY_MS (24ull * 3600 * 1000)
#define FUNNEL_HOUR_MS 3600000ull
#define FUNNEL_SEG_MAX 16 /* >= SOURCE_COUNT and DEVICE_COUNT */
#define FUNNEL_TOP_COUNTRIES 5

enum funnel_seg {
	SEG_NONE = 0,
	SEG_SOURCE,
	SEG_DEVICE,
	SEG_COUNTRY,
	SEG_COUNT
};

static const char *const funnel_seg_names[SEG_COUNT] = {
    "none", "source", "device", "country"};

/* The runs of a split bar: raw segment k goes into part[k]. */
struct funnel_plan {
	int n;
	uint8_t part[AGG_COUNTRIES];
	const char *label[FUNNEL_SEG_MAX];
};

struct funnel_state {
	int seg;
};

static void *
funnel_init(struct ui *ui)
{
	(void)ui;
	return calloc(1, sizeof(struct funnel_state));
}

static void
funnel_fini(void *st)
{
	free(st);
}

static int
funnel_raw_count(int seg)
{
	return seg == SEG_SOURCE ? SOURCE_COUNT : seg == SEG_DEVICE ?
	    DEVICE_COUNT : AGG_COUNTRIES;
}

static uint64_t
funnel_raw_value(const struct agg *a, int seg, unsigned step, int k)
{
	return seg == SEG_SOURCE ? a->c[AGG_FUNNEL_SOURCE(step, k)] :
	    seg == SEG_DEVICE ? a->c[AGG_FUNNEL_DEVICE(step, k)] :
	    a->c[AGG_FUNNEL_COUNTRY(step, k)];
}

/* Source and device as they are; countries: the top five, then the rest. */
static void
funnel_plan_make(const struct agg *a, int seg, struct funnel_plan *p)
{
	int n = funnel_raw_count(seg);

	if (seg != SEG_COUNTRY) {
		p->n = n > FUNNEL_SEG_MAX ? FUNNEL_SEG_MAX : n;
		for (int k = 0; k < p->n; k++) {
			p->part[k] = (uint8_t)k;
			p->label[k] = seg == SEG_SOURCE ? event_source_name(k) :
			    event_device_name(k);
		}
		return;
	}
	bool taken[AGG_COUNTRIES] = {false};
	p->n = 0;
	for (int t = 0; t < FUNNEL_TOP_COUNTRIES; t++) {
		int best = -1;
		for (int k = 0; k < AGG_COUNTRY_OTHER; k++)
			if (!taken[k] && funnel_raw_value(a, seg, 0, k) > 0 &&
			    (best < 0 || funnel_raw_value(a, seg, 0, k) >
			    funnel_raw_value(a, seg, 0, best)))
				best = k;
		if (best < 0)
			break;
		taken[best] = true;
		p->part[best] = (uint8_t)p->n;
		p->label[p->n++] = agg_country_code((unsigned)best);
	}
	for (int k = 0; k < AGG_COUNTRIES; k++)
		if (!taken[k])
			p->part[k] = (uint8_t)p->n;
	p->label[p->n++] = "rest";
}

static void
funnel_parts(const struct agg *a, int seg, const struct funnel_plan *p,
    unsigned step, uint64_t *parts)
{
	memset(parts, 0, (size_t)p->n * sizeof(*parts));
	for (int k = 0; k < funnel_raw_count(seg); k++)
		parts[p->part[k]] += funnel_raw_value(a, seg, step, k);
}

static void
funnel_step(WINDOW *w, int y, struct ui *ui, const struct agg *a,
    const struct funnel_state *fs, unsigned i, const char *label)
{
	int width = getmaxx(w), bar = width - 16 - 30;
	uint64_t c = a->c[AGG_FUNNEL(i)], top = a->c[AGG_FUNNEL(0)];
	uint64_t prev = i ? a->c[AGG_FUNNEL(i - 1)] : c;
	double conv = i == 0 ? 1.0 : prev ? (double)c / (double)prev : 0.0;
	uint64_t parts[FUNNEL_SEG_MAX];

	draw_text(w, y, 1, A_BOLD, "%-14.14s", label);
	if (fs->seg == SEG_NONE) {
		draw_bar(w, y, 16, bar, top ? (double)c / (double)top : 0, ui);
	} else {
		struct funnel_plan p;

		funnel_plan_make(a, fs->seg, &p);
		funnel_parts(a, fs->seg, &p, i, parts);
		draw_split_bar(w, y, 16, bar, parts, (size_t)p.n, top, ui);
	}
	draw_text(w, y, width - 29, A_NORMAL, "%9llu %8.1f%% %8.1f%%",
	    (unsigned long long)c, conv * 100.0, (1.0 - conv) * 100.0);
}

/* The legend of a split: "# direct 120  = search 80 ..." (step 0). */
static void
funnel_legend(WINDOW *w, int y, struct ui *ui, const struct agg *a, int seg)
{
	struct funnel_plan p;
	uint64_t parts[FUNNEL_SEG_MAX];
	int x = 1;

	funnel_plan_make(a, seg, &p);
	funnel_parts(a, seg, &p, 0, parts);
	for (int k = 0; k < p.n && x < getmaxx(w) - 12; k++) {
		uint64_t c = parts[k];
		char buf[48];

		if (c == 0)
			continue;
		wattron(w, draw_seg_attr(ui, k));
		mvwaddstr(w, y, x, draw_seg_glyph(ui, k));
		wattroff(w, draw_seg_attr(ui, k));
		snprintf(buf, sizeof(buf), " %s %llu", p.label[k],
		    (unsigned long long)c);
		draw_text(w, y, x + 1, A_NORMAL, "%s", buf);
		x += (int)strlen(buf) + 3;
	}
}

/* Last hour against the same hour yesterday, one column per step. */
static void
funnel_compare(WINDOW *w, int y, struct ui *ui, const struct wire_snapshot *f)
{
	uint64_t now = ui->wall_ms + 1;
	int x = 16;

	if (y + 2 >= getmaxy(w))
		return;
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "%-14s", "last hour");
	draw_text(
	    w, y + 1, 1, draw_attr(ui, DRAW_LABEL), "%-14s", "same hr yday");
	draw_text(w, y + 2, 1, draw_attr(ui, DRAW_LABEL), "%-14s", "change");
	for (unsigned i = 0; i < f->n_steps && x + 12 <= getmaxx(w); i++) {
		int s = HIST_FUNNEL0 + (int)i;
		uint64_t h = hist_sum(ui->hist, s, now - FUNNEL_HOUR_MS, now);
		uint64_t d = hist_sum(ui->hist, s,
		    now - FUNNEL_DAY_MS - FUNNEL_HOUR_MS, now - FUNNEL_DAY_MS);
		bool known = hist_known(ui->hist, now - FUNNEL_DAY_MS);

		draw_text(w, y - 1, x, draw_attr(ui, DRAW_LABEL), "%10.10s",
		    f->steps[i]);
		draw_text(w, y, x, A_NORMAL, "%10llu", (unsigned long long)h);
		if (known) {
			draw_text(w, y + 1, x, A_NORMAL, "%10llu",
			    (unsigned long long)d);
			draw_text(w, y + 2, x, A_NORMAL, "%+9.0f%%",
			    d ? ((double)h - (double)d) * 100.0 / (double)d
			      : 0.0);
		} else {
			draw_text(w, y + 1, x, A_NORMAL, "%10s", "-");
		}
		x += 12;
	}
}

static void
funnel_draw(void *st, WINDOW *w, struct ui *ui)
{
	struct funnel_state *fs = st;
	const struct wire_snapshot *f = model_funnel_source(ui->model);
	const struct agg *a = model_merged(ui->model);
	int y = 1, width = getmaxx(w);

	if (f == NULL || f->n_steps == 0) {
		draw_text(w, 1, 1, A_NORMAL, "waiting for a snapshot...");
		return;
	}
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "Funnel %s", f->funnel);
	draw_text(
	    w, y, 24, A_NORMAL, "split by: %s (s)", funnel_seg_names[fs->seg]);
	draw_text(w, y++, width - 29, draw_attr(ui, DRAW_LABEL), "%9s %9s %9s",
	    "count", "step conv", "drop-off");
	draw_rule(w, y++, 1, width - 2, ui);
	for (unsigned i = 0; i < f->n_steps && y < getmaxy(w); i++)
		funnel_step(w, y++, ui, a, fs, i, f->steps[i]);
	if (fs->seg != SEG_NONE)
		funnel_legend(w, y++, ui, a, fs->seg);
	draw_text(w, ++y, 1, A_NORMAL, "overall conversion %.1f%%",
	    model_conversion(ui->model) * 100.0);
	funnel_compare(w, y + 3, ui, f);
}

static int
funnel_key(void *st, struct ui *ui, int ch)
{
	struct funnel_state *fs = st;

	(void)ui;
	if (ch != 's')
		return VIEW_IGNORED;
	fs->seg = (fs->seg + 1) % SEG_COUNT;
	return VIEW_HANDLED | VIEW_REDRAW;
}

const struct view_ops view_funnel = {
    .name = "funnel",
    .help = "s      split the bars by none / source / device / country\n"
            "       (below: last hour vs the same hour yesterday)\n",
    .init = funnel_init,
    .fini = funnel_fini,
    .update = NULL,
    .draw = funnel_draw,
    .key = funnel_key,
};
