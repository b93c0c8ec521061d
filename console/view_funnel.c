/*
 * view_funnel.c - view 2: the conversion funnel as horizontal bars, one per
 * step, with its count, step conversion and drop-off.  `s` cycles the
 * segment key (none, source, device, country, then one per campaign of the
 * book that runs or is paused and has counted sessions): each bar is then
 * split into one run per segment value, with a legend.  Countries come
 * from the agents' fixed country table (agg.h); the view shows the five
 * with most visits and folds the rest into "rest", so a bar never has more
 * runs than there are glyphs to tell them apart.  A campaign splits by its
 * variants, control first, from the agents' per-variant step counts
 * (camprt.h, summed by campstat): only the sessions counted in the
 * campaign, so its bars are scaled to its own first step and a line says
 * how many sessions they are.  The statistics stay in view 8.
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

#include "campview.h"
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
	SEG_CAMPAIGN,		/* the campaign named in funnel_state.camp */
	SEG_COUNT
};

static const char *const funnel_seg_names[SEG_COUNT] = {
    "none", "source", "device", "country", "campaign"};

/* The runs of a split bar: raw segment k goes into part[k]. */
struct funnel_plan {
	int n;
	uint8_t part[AGG_COUNTRIES];
	const char *label[FUNNEL_SEG_MAX];
};

/*
 * What the bars of one frame show: per step, each part's count; top
 * scales the bars.  Built once per frame from the aggregates or from a
 * campaign's merged arms.
 */
struct funnel_split {
	int n;			/* parts; 0: not split */
	const char *label[FUNNEL_SEG_MAX];
	uint64_t v[AGG_STEPS_MAX][FUNNEL_SEG_MAX];
	uint64_t top;
	const struct campview_camp *camp;	/* SEG_CAMPAIGN only */
};

struct funnel_state {
	int seg;
	char camp[CAMP_NAME_MAX + 1];	/* SEG_CAMPAIGN: which */
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

/* A campaign the `s` key offers: running or paused, sessions counted. */
static bool
funnel_camp_usable(const struct campview_camp *c)
{
	const struct wire_campaign *m = &c->cs.merged;
	uint64_t n = 0;

	if (c->state != CAMP_RUNNING && c->state != CAMP_PAUSED)
		return false;
	for (unsigned v = 0; v < m->c.n_variants; v++)
		n += m->arm[v].n;
	return n > 0;
}

/* The usable campaign after the one named after ("": the first). */
static const struct campview_camp *
funnel_camp_next(const struct campview *b, const char *after)
{
	bool past = after[0] == '\0';

	for (unsigned i = 0; b != NULL && i < b->n; i++) {
		const struct campview_camp *c = &b->camp[i];

		if (past && funnel_camp_usable(c))
			return c;
		if (strcmp(c->name, after) == 0)
			past = true;
	}
	return NULL;
}

static const struct campview_camp *
funnel_camp_find(const struct campview *b, const char *name)
{
	const struct campview_camp *c = b ? campview_find(b, name) : NULL;

	return c != NULL && funnel_camp_usable(c) ? c : NULL;
}

/* The variants' step counts of c, control first, on its own scale. */
static void
funnel_split_camp(const struct campview_camp *c, unsigned n_steps,
    struct funnel_split *sp)
{
	const struct wire_campaign *m = &c->cs.merged;

	sp->camp = c;
	sp->n = m->c.n_variants > FUNNEL_SEG_MAX ? FUNNEL_SEG_MAX :
	    m->c.n_variants;
	for (int k = 0; k < sp->n; k++) {
		sp->label[k] = m->c.variant[k];
		for (unsigned i = 0; i < n_steps; i++)
			sp->v[i][k] = m->arm[k].steps[i];
		sp->top += m->arm[k].steps[0];
	}
}

/* What the frame splits by (sp->n == 0: nothing). */
static void
funnel_split_make(const struct agg *a, const struct funnel_state *fs,
    const struct ui *ui, unsigned n_steps, struct funnel_split *sp)
{
	struct funnel_plan p;
	uint64_t parts[FUNNEL_SEG_MAX];

	memset(sp, 0, sizeof(*sp));
	if (fs->seg == SEG_CAMPAIGN) {
		const struct campview_camp *c = funnel_camp_find(ui->camps,
		    fs->camp);
		if (c != NULL)
			funnel_split_camp(c, n_steps, sp);
		return;
	}
	if (fs->seg == SEG_NONE)
		return;
	funnel_plan_make(a, fs->seg, &p);
	sp->n = p.n;
	memcpy(sp->label, p.label, sizeof(sp->label));
	sp->top = a->c[AGG_FUNNEL(0)];
	for (unsigned i = 0; i < n_steps; i++) {
		funnel_parts(a, fs->seg, &p, i, parts);
		memcpy(sp->v[i], parts, (size_t)p.n * sizeof(parts[0]));
	}
}

/* Step i's count: the whole funnel's, or the campaign's sessions'. */
static uint64_t
funnel_count(const struct agg *a, const struct funnel_split *sp, unsigned i)
{
	uint64_t c = 0;

	if (sp->camp == NULL)
		return a->c[AGG_FUNNEL(i)];
	for (int k = 0; k < sp->n; k++)
		c += sp->v[i][k];
	return c;
}

static void
funnel_step(WINDOW *w, int y, struct ui *ui, const struct agg *a,
    const struct funnel_split *sp, unsigned i, const char *label)
{
	int width = getmaxx(w), bar = width - 16 - 30;
	uint64_t c = funnel_count(a, sp, i);
	uint64_t top = sp->camp ? sp->top : a->c[AGG_FUNNEL(0)];
	uint64_t prev = i ? funnel_count(a, sp, i - 1) : c;
	double conv = i == 0 ? 1.0 : prev ? (double)c / (double)prev : 0.0;

	draw_text(w, y, 1, A_BOLD, "%-14.14s", label);
	if (sp->n == 0)
		draw_bar(w, y, 16, bar, top ? (double)c / (double)top : 0, ui);
	else
		draw_split_bar(w, y, 16, bar, sp->v[i], (size_t)sp->n, top,
		    ui);
	draw_text(w, y, width - 29, A_NORMAL, "%9llu %8.1f%% %8.1f%%",
	    (unsigned long long)c, conv * 100.0, (1.0 - conv) * 100.0);
}

/*
 * The legend of a split: "# direct 120  = search 80 ..." (step 0); for a
 * campaign each variant's first and last step and the share that went
 * through: "# control 612>45 7.4%".
 */
static void
funnel_legend(WINDOW *w, int y, struct ui *ui, const struct funnel_split *sp,
    unsigned n_steps)
{
	int x = 1;

	for (int k = 0; k < sp->n && x < getmaxx(w) - 12; k++) {
		uint64_t c = sp->v[0][k], e = sp->v[n_steps - 1][k];
		char buf[96];

		if (c == 0)
			continue;
		wattron(w, draw_seg_attr(ui, k));
		mvwaddstr(w, y, x, draw_seg_glyph(ui, k));
		wattroff(w, draw_seg_attr(ui, k));
		if (sp->camp != NULL)
			snprintf(buf, sizeof(buf), " %.24s %llu>%llu %.1f%%",
			    sp->label[k], (unsigned long long)c,
			    (unsigned long long)e,
			    100.0 * (double)e / (double)c);
		else
			snprintf(buf, sizeof(buf), " %s %llu", sp->label[k],
			    (unsigned long long)c);
		draw_text(w, y, x + 1, A_NORMAL, "%s", buf);
		x += (int)strlen(buf) + 3;
	}
}

/* Under a campaign's legend: whose sessions these are, and how many. */
static void
funnel_camp_note(WINDOW *w, int y, struct ui *ui,
    const struct campview_camp *c)
{
	const struct wire_campaign *m = &c->cs.merged;
	uint64_t n = 0;

	for (unsigned v = 0; v < m->c.n_variants; v++)
		n += m->arm[v].n;
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "campaign %s: %llu "
	    "sessions counted; the split covers only them", c->name,
	    (unsigned long long)n);
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
	struct funnel_split *sp;

	if (f == NULL || f->n_steps == 0) {
		draw_text(w, 1, 1, A_NORMAL, "waiting for a snapshot...");
		return;
	}
	if ((sp = malloc(sizeof(*sp))) == NULL)
		return;
	funnel_split_make(a, fs, ui, f->n_steps, sp);
	/* the campaign stopped or went away: back to the whole funnel */
	if (fs->seg == SEG_CAMPAIGN && sp->camp == NULL)
		fs->seg = SEG_NONE;
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "Funnel %s", f->funnel);
	draw_text(
	    w, y, 24, A_NORMAL, "split by: %s (s)", funnel_seg_names[fs->seg]);
	draw_text(w, y++, width - 29, draw_attr(ui, DRAW_LABEL), "%9s %9s %9s",
	    "count", "step conv", "drop-off");
	draw_rule(w, y++, 1, width - 2, ui);
	for (unsigned i = 0; i < f->n_steps && y < getmaxy(w); i++)
		funnel_step(w, y++, ui, a, sp, i, f->steps[i]);
	if (sp->n > 0)
		funnel_legend(w, y++, ui, sp, f->n_steps);
	if (sp->camp != NULL)
		funnel_camp_note(w, y++, ui, sp->camp);
	draw_text(w, ++y, 1, A_NORMAL, "overall conversion %.1f%%",
	    model_conversion(ui->model) * 100.0);
	funnel_compare(w, y + 3, ui, f);
	free(sp);
}

/* none -> source -> device -> country -> each usable campaign -> none */
static int
funnel_key(void *st, struct ui *ui, int ch)
{
	struct funnel_state *fs = st;
	const struct campview_camp *c = NULL;

	if (ch != 's')
		return VIEW_IGNORED;
	if (fs->seg < SEG_COUNTRY) {
		fs->seg++;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	c = funnel_camp_next(ui->camps, fs->seg == SEG_CAMPAIGN ? fs->camp :
	    "");
	fs->seg = c != NULL ? SEG_CAMPAIGN : SEG_NONE;
	snprintf(fs->camp, sizeof(fs->camp), "%s", c != NULL ? c->name : "");
	return VIEW_HANDLED | VIEW_REDRAW;
}

const struct view_ops view_funnel = {
    .name = "funnel",
    .help = "s      split the bars by none / source / device / country /\n"
            "       each running campaign's variants (its sessions only)\n"
            "       (below: last hour vs the same hour yesterday)\n",
    .init = funnel_init,
    .fini = funnel_fini,
    .update = NULL,
    .draw = funnel_draw,
    .key = funnel_key,
};
