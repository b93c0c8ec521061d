/*
 * view_funnel.c - view 2: the conversion funnel as horizontal bars, one per
 * step, with its count, step conversion and drop-off, optionally split by
 * traffic source or device (key s).  Labels come from the agents'
 * snapshots, counts from the merged aggregates.  Owns a small state (the
 * segmentation); main thread.
 */
#include <stdio.h>
#include <stdlib.h>

#include "draw.h"
#include "view.h"

enum funnel_seg { SEG_NONE = 0, SEG_SOURCE, SEG_DEVICE, SEG_COUNT };

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

static void
funnel_step(WINDOW *w, int y, struct ui *ui, const char *label, uint64_t c,
    uint64_t prev, uint64_t top, bool first)
{
	int width = getmaxx(w);
	double conv = first ? 1.0 : prev ? (double)c / (double)prev : 0.0;

	draw_text(w, y, 1, A_BOLD, "%-14.14s", label);
	draw_bar(
	    w, y, 16, width - 16 - 30, top ? (double)c / (double)top : 0, ui);
	draw_text(w, y, width - 29, A_NORMAL, "%9llu %8.1f%% %8.1f%%",
	    (unsigned long long)c, conv * 100.0, (1.0 - conv) * 100.0);
}

/* One line per step under it: the segment values that are non-zero. */
static void
funnel_segments(WINDOW *w, int y, struct ui *ui, const struct agg *a,
    unsigned step, int seg)
{
	char line[256];
	int n = 0, cap = getmaxx(w) - 17;
	int count = seg == SEG_SOURCE ? SOURCE_COUNT : DEVICE_COUNT;

	line[0] = '\0';
	for (int k = 0; k < count && n < cap; k++) {
		uint64_t c = seg == SEG_SOURCE
		                 ? a->c[AGG_FUNNEL_SOURCE(step, k)]
		                 : a->c[AGG_FUNNEL_DEVICE(step, k)];

		if (c == 0)
			continue;
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s %llu  ",
		    seg == SEG_SOURCE ? event_source_name(k)
		                      : event_device_name(k),
		    (unsigned long long)c);
		if (n >= (int)sizeof(line))
			break;
	}
	draw_text(w, y, 17, draw_attr(ui, DRAW_LABEL), "%s", line);
}

static void
funnel_draw(void *st, WINDOW *w, struct ui *ui)
{
	static const char *const seg_names[] = {"none", "source", "device"};
	struct funnel_state *fs = st;
	const struct wire_snapshot *f = model_funnel_source(ui->model);
	const struct agg *a = model_merged(ui->model);
	int y = 1, width = getmaxx(w);

	if (f == NULL || f->n_steps == 0) {
		draw_text(w, 1, 1, A_NORMAL, "waiting for a snapshot...");
		return;
	}
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "Funnel %s", f->funnel);
	draw_text(w, y, 24, A_NORMAL, "split by: %s", seg_names[fs->seg]);
	draw_text(w, y++, width - 29, draw_attr(ui, DRAW_LABEL), "%9s %9s %9s",
	    "count", "step conv", "drop-off");
	draw_rule(w, y++, 1, width - 2, ui);
	for (unsigned i = 0; i < f->n_steps && y < getmaxy(w); i++) {
		funnel_step(w, y++, ui, f->steps[i], a->c[AGG_FUNNEL(i)],
		    i ? a->c[AGG_FUNNEL(i - 1)] : 0, a->c[AGG_FUNNEL(0)],
		    i == 0);
		if (fs->seg != SEG_NONE && y < getmaxy(w))
			funnel_segments(w, y++, ui, a, i, fs->seg);
	}
	if (y + 1 < getmaxy(w))
		draw_text(w, y + 1, 1, A_NORMAL, "overall conversion %.1f%%",
		    model_conversion(ui->model) * 100.0);
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
    .help = "s      split steps by none / source / device\n",
    .init = funnel_init,
    .fini = funnel_fini,
    .update = NULL,
    .draw = funnel_draw,
    .key = funnel_key,
};
