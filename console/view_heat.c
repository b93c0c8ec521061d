/*
 * view_heat.c - view 5: click heatmaps and scroll depth.
 *
 * The list: every agent is asked for its pages (`heat_pages`), the answers
 * are merged by page name (counts added) and shown most clicked first.
 * Enter shows the chosen page: every agent is asked for the page's totals
 * (`heat`), the grids are added, and the click density is drawn as a
 * character ramp (" .:-=+*#%@", the densest cell always '@'), coloured
 * when colour is on, beside the scroll-depth histogram: for each 5% band
 * the share of page views that got at least that far.
 *
 * The grid is drawn as a page twice as tall as wide (the agents' grid is
 * 24 x 48 cells over the document's width and height; the document's real
 * size is not known here), scaled to the rows the window has: a terminal
 * cell is about twice as tall as wide, so the map is as many columns as
 * rows.  Each drawn cell shows the mean density of the grid cells it
 * covers.
 *
 * A relay (nudged --relay) answers for every agent behind it (relayenv.h):
 * their lists and grids are added into the relay's slot as they come.
 *
 * Agents are asked again when their HEAT messages say something changed
 * (model heat_gen), every HEAT_VIEW_REFRESH_MS otherwise, and on r.  Owns
 * its state and the copies of the replies; main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlreq.h"
#include "draw.h"
#include "relayenv.h"
#include "view.h"

#define HV_KEY_ESC 27
#define HV_PAGE_MAX 128		/* agents keep 128 bytes of a name */
#define HV_LIST_LIM 200		/* pages asked of each agent */
#define HV_LIST_CAP (HV_LIST_LIM * CONF_AGENTS_MAX) /* per link: a relay */
#define HEAT_VIEW_REFRESH_MS 5000
#define HV_HIST_W 36		/* columns of the histogram */
#define HV_PAIR_BASE 16		/* after draw.c's colour pairs */
#define HV_LEVELS 10

static const char hv_ramp[HV_LEVELS + 1] = " .:-=+*#%@";

struct hv_row {
	char page[HV_PAGE_MAX];
	uint64_t clicks, views;
};

/* What one agent (or every agent behind a relay, added up) said last. */
struct hv_agent {
	bool list_ok;
	struct hv_row *list;	/* owned, HV_LIST_LIM per agent behind */
	size_t n_list, cap_list;
	int grid_status;	/* 0, NUDGE_ENOTFOUND, or why not */
	bool grid_ok;
	uint64_t cells[WIRE_HEAT_CELLS];
	uint64_t reach[WIRE_HEAT_BANDS];
};

struct hv_state {
	struct ui *ui;
	struct hv_agent *agents;	/* n_links */
	struct hv_row *rows;		/* merged list, owned */
	size_t n_rows;
	bool asked;			/* a list answer came */
	int sel, top;
	bool detail;
	char page[HV_PAGE_MAX];		/* shown in detail */
	uint64_t cells[WIRE_HEAT_CELLS];	/* merged grid */
	uint64_t reach[WIRE_HEAT_BANDS];
	bool have_grid;
	uint64_t fetched_gen, fetched_ms;
	bool force;
	bool pairs_ready;
	msgpack_sbuffer sb;
};

static void *
hv_init(struct ui *ui)
{
	struct hv_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->ui = ui;
	st->agents = calloc(ui->n_links ? ui->n_links : 1,
	    sizeof(*st->agents));
	if (st->agents == NULL) {
		free(st);
		return NULL;
	}
	st->force = true;
	msgpack_sbuffer_init(&st->sb);
	return st;
}

static void
hv_fini(void *p)
{
	struct hv_state *st = p;

	for (unsigned i = 0; i < st->ui->n_links; i++)
		free(st->agents[i].list);
	free(st->agents);
	free(st->rows);
	msgpack_sbuffer_destroy(&st->sb);
	free(st);
}

static int
hv_cmp_page(const void *a, const void *b)
{
	return strcmp(((const struct hv_row *)a)->page,
	    ((const struct hv_row *)b)->page);
}

static int
hv_cmp_clicks(const void *a, const void *b)
{
	const struct hv_row *x = a, *y = b;

	if (x->clicks != y->clicks)
		return x->clicks > y->clicks ? -1 : 1;
	if (x->views != y->views)
		return x->views > y->views ? -1 : 1;
	return strcmp(x->page, y->page);
}

/* Merges the agents' lists by page name into st->rows. */
static void
hv_merge_lists(struct hv_state *st)
{
	size_t cap = 0, k = 0, out = 0;
	struct hv_row *all;

	for (unsigned i = 0; i < st->ui->n_links; i++)
		cap += st->agents[i].list_ok ? st->agents[i].n_list : 0;
	if ((all = calloc(cap ? cap : 1, sizeof(*all))) == NULL)
		return;
	for (unsigned i = 0; i < st->ui->n_links; i++)
		for (size_t j = 0; st->agents[i].list_ok &&
		     j < st->agents[i].n_list; j++)
			all[k++] = st->agents[i].list[j];
	qsort(all, k, sizeof(*all), hv_cmp_page);
	for (size_t j = 0; j < k; j++) {
		if (out > 0 && strcmp(all[out - 1].page, all[j].page) == 0) {
			all[out - 1].clicks += all[j].clicks;
			all[out - 1].views += all[j].views;
		} else {
			all[out++] = all[j];
		}
	}
	qsort(all, out, sizeof(*all), hv_cmp_clicks);
	free(st->rows);
	st->rows = all;
	st->n_rows = out;
	st->ui->dirty = true;
}

/* Room for n more rows in a's list (bounded by HV_LIST_CAP). */
static int
hv_list_room(struct hv_agent *a, size_t n)
{
	size_t cap = a->n_list + n;
	struct hv_row *v;

	if (cap > HV_LIST_CAP)
		cap = HV_LIST_CAP;
	if (cap <= a->cap_list)
		return 0;
	if ((v = realloc(a->list, cap * sizeof(*v))) == NULL)
		return NUDGE_ENOMEM;
	a->list = v;
	a->cap_list = cap;
	return 0;
}

/* [[page, clicks, views]...] appended to a's list (merged later). */
static int
hv_read_list(struct hv_agent *a, const msgpack_object *body)
{
	size_t end;

	if (body->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (hv_list_room(a, HV_LIST_LIM) != 0)
		return NUDGE_ENOMEM;
	end = a->n_list + HV_LIST_LIM < a->cap_list ? a->n_list +
	    HV_LIST_LIM : a->cap_list;
	for (uint32_t i = 0; i < body->via.array.size &&
	     a->n_list < end; i++) {
		const msgpack_object *e = &body->via.array.ptr[i];
		struct hv_row *r = &a->list[a->n_list];
		struct nudge_strv page;

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 3 ||
		    wire_obj_strv(&e->via.array.ptr[0], &page) != 0 ||
		    e->via.array.ptr[1].type !=
		    MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    e->via.array.ptr[2].type !=
		    MSGPACK_OBJECT_POSITIVE_INTEGER)
			return NUDGE_ETYPE;
		strv_copy(r->page, sizeof(r->page), page);
		r->clicks = e->via.array.ptr[1].via.u64;
		r->views = e->via.array.ptr[2].via.u64;
		a->n_list++;
	}
	return 0;
}

/* One agent's reply being read into the link's slot (a relay: all). */
struct hv_walk {
	struct hv_state *st;
	struct hv_agent *a;
	bool ok;
	int why;		/* grids: the first failure, 0 if none */
	unsigned stale;		/* grids: answers about another page */
};

static void
hv_list_leaf(void *arg, const struct relayenv_leaf *leaf)
{
	struct hv_walk *w = arg;

	if (leaf->status != 0)
		snprintf(w->st->ui->message, sizeof(w->st->ui->message),
		    "heat: %.40s%s%.70s", leaf->name, leaf->name[0] ? ": " : "",
		    leaf->message[0] ? leaf->message :
		    nudge_strerror(leaf->status));
	else if (hv_read_list(w->a, leaf->body) == 0)
		w->ok = true;
}

static void
hv_on_list(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct hv_state *st = arg;
	struct hv_walk w = {st, &st->agents[idx], false, 0, 0};

	st->agents[idx].n_list = 0;
	if (err == 0)
		relayenv_each(rp, hv_list_leaf, &w);
	st->agents[idx].list_ok = w.ok;
	st->asked = true;
	hv_merge_lists(st);
}

/* Reads an array of exactly n uints into v. */
static int
hv_read_uints(const msgpack_object *o, uint32_t *v, uint32_t n)
{
	if (o == NULL || o->type != MSGPACK_OBJECT_ARRAY ||
	    o->via.array.size != n)
		return NUDGE_ETYPE;
	for (uint32_t i = 0; i < n; i++) {
		const msgpack_object *e = &o->via.array.ptr[i];
		if (e->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    e->via.u64 > UINT32_MAX)
			return NUDGE_ETYPE;
		v[i] = (uint32_t)e->via.u64;
	}
	return 0;
}

/* Adds one agent's grid for st->page to a's (a relay's: every agent's). */
static int
hv_read_grid(struct hv_state *st, struct hv_agent *a,
    const msgpack_object *body)
{
	char page[HV_PAGE_MAX];
	uint64_t cols = 0, rows = 0;
	uint32_t cells[WIRE_HEAT_CELLS], reach[WIRE_HEAT_BANDS];

	if (wire_get_str(body, "page", page, sizeof(page)) != 0 ||
	    strcmp(page, st->page) != 0)
		return NUDGE_ESTALE; /* an answer about another page */
	if (wire_get_u64(body, "cols", &cols) != 0 ||
	    wire_get_u64(body, "rows", &rows) != 0 ||
	    cols != WIRE_HEAT_COLS || rows != WIRE_HEAT_ROWS)
		return NUDGE_EVERSION;
	if (hv_read_uints(wire_map_get(body, "clicks"), cells,
	    WIRE_HEAT_CELLS) != 0 ||
	    hv_read_uints(wire_map_get(body, "scroll"), reach,
	    WIRE_HEAT_BANDS) != 0)
		return NUDGE_ETYPE;
	for (unsigned c = 0; c < WIRE_HEAT_CELLS; c++)
		a->cells[c] += cells[c];
	for (unsigned k = 0; k < WIRE_HEAT_BANDS; k++)
		a->reach[k] += reach[k];
	return 0;
}

/* Adds up the grids of the agents that answered. */
static void
hv_merge_grids(struct hv_state *st)
{
	memset(st->cells, 0, sizeof(st->cells));
	memset(st->reach, 0, sizeof(st->reach));
	st->have_grid = false;
	for (unsigned i = 0; i < st->ui->n_links; i++) {
		const struct hv_agent *a = &st->agents[i];
		if (!a->grid_ok)
			continue;
		st->have_grid = true;
		for (unsigned c = 0; c < WIRE_HEAT_CELLS; c++)
			st->cells[c] += a->cells[c];
		for (unsigned k = 0; k < WIRE_HEAT_BANDS; k++)
			st->reach[k] += a->reach[k];
	}
	st->ui->dirty = true;
}

/* A page some agents behind a relay never saw is theirs ENOTFOUND. */
static void
hv_grid_leaf(void *arg, const struct relayenv_leaf *leaf)
{
	struct hv_walk *w = arg;
	int rv = leaf->status != 0 ? leaf->status :
	    hv_read_grid(w->st, w->a, leaf->body);

	if (rv == 0)
		w->ok = true;
	else if (rv == NUDGE_ESTALE)
		w->stale++;
	else if (w->why == 0)
		w->why = rv;
}

static void
hv_on_grid(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct hv_state *st = arg;
	struct hv_agent *a = &st->agents[idx];
	struct hv_agent keep = *a;
	struct hv_walk w = {st, a, false, err, 0};

	if (!st->detail)
		return;
	memset(a->cells, 0, sizeof(a->cells));
	memset(a->reach, 0, sizeof(a->reach));
	if (err == 0 && relayenv_each(rp, hv_grid_leaf, &w) == w.stale) {
		*a = keep; /* only answers about another page */
		return;
	}
	a->grid_status = w.ok ? 0 : w.why;
	a->grid_ok = w.ok;
	hv_merge_grids(st);
}

static void
hv_pack_list(msgpack_packer *pk, const void *arg)
{
	(void)arg;
	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "lim");
	msgpack_pack_uint64(pk, HV_LIST_LIM);
}

static void
hv_pack_page(msgpack_packer *pk, const void *arg)
{
	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "page");
	wire_pack_cstr(pk, arg);
}

static void
hv_update(void *p, struct ui *ui)
{
	struct hv_state *st = p;
	uint8_t id[WIRE_ID_LEN];
	int rv;

	if (!st->force && st->fetched_gen == ui->model->heat_gen &&
	    ui->now_ms - st->fetched_ms < HEAT_VIEW_REFRESH_MS)
		return;
	rv = st->detail ? ctlreq_build(&st->sb, "heat", hv_pack_page,
	    st->page, id) : ctlreq_build(&st->sb, "heat_pages", hv_pack_list,
	    NULL, id);
	if (rv != 0)
		return;
	st->force = false;
	st->fetched_gen = ui->model->heat_gen;
	st->fetched_ms = ui->now_ms;
	for (unsigned i = 0; i < ui->n_links; i++) {
		rv = link_call(&ui->links[i], &st->sb, id,
		    st->detail ? hv_on_grid : hv_on_list, st, ui->now_ms);
		if (rv == NUDGE_ECONN && st->detail)
			st->agents[i].grid_ok = false;
		else if (rv == NUDGE_ECONN)
			st->agents[i].list_ok = false;
		/* not asked (busy, or no control URL yet): at the next tick */
		if (rv != 0)
			st->force = true;
	}
}

/* ---- drawing ------------------------------------------------------------ */

static void
hv_init_pairs(struct hv_state *st, const struct ui *ui)
{
	static const short fg[] = {COLOR_BLUE, COLOR_CYAN, COLOR_GREEN,
	    COLOR_YELLOW, COLOR_RED};

	if (st->pairs_ready || !ui->color)
		return;
	st->pairs_ready = true;
	if (COLOR_PAIRS <= HV_PAIR_BASE + 5)
		return;
	for (short i = 0; i < 5; i++)
		init_pair((short)(HV_PAIR_BASE + i), fg[i], -1);
}

/* The attribute of ramp level 1..9: colour pairs, else plain. */
static attr_t
hv_level_attr(const struct ui *ui, int level)
{
	static const short pair_of[HV_LEVELS] = {0, 0, 0, 1, 1, 2, 2, 3, 4, 4};

	if (!ui->color || COLOR_PAIRS <= HV_PAIR_BASE + 5 || level <= 0)
		return A_NORMAL;
	return (attr_t)COLOR_PAIR(HV_PAIR_BASE + pair_of[level]) |
	    (level == HV_LEVELS - 1 ? A_BOLD : A_NORMAL);
}

static void
hv_draw_list(struct hv_state *st, WINDOW *w, struct ui *ui)
{
	int rows = getmaxy(w) - 3, width = getmaxx(w), y = 2;

	draw_text(w, 0, 1, draw_attr(ui, DRAW_LABEL),
	    "Heatmaps: %zu pages   Enter shows a page, r refreshes",
	    st->n_rows);
	draw_text(w, 1, 1, draw_attr(ui, DRAW_LABEL), "%-*s %10s %10s",
	    width - 25, "page", "clicks", "views");
	if (st->n_rows == 0) {
		draw_text(w, y, 1, A_NORMAL, "%s", st->asked ?
		    "no clicks or scroll depths recorded yet" :
		    "asking the agents...");
		return;
	}
	if (st->sel >= (int)st->n_rows)
		st->sel = (int)st->n_rows - 1;
	if (st->sel < st->top)
		st->top = st->sel;
	if (st->sel >= st->top + rows)
		st->top = st->sel - rows + 1;
	for (int i = st->top; i < (int)st->n_rows && y < getmaxy(w); i++) {
		const struct hv_row *r = &st->rows[i];
		attr_t a = i == st->sel ? draw_attr(ui, DRAW_SELECTED) :
		    A_NORMAL;

		if (i == st->sel)
			mvwchgat(w, y, 0, -1, a, 0, NULL);
		draw_text(w, y++, 1, a, "%-*.*s %10llu %10llu", width - 25,
		    width - 25, r->page, (unsigned long long)r->clicks,
		    (unsigned long long)r->views);
	}
}

/* Mean density of the grid cells under drawn cell (r, c) of R x C. */
static double
hv_density(const struct hv_state *st, int r, int c, int R, int C)
{
	int r0 = r * WIRE_HEAT_ROWS / R, r1 = (r + 1) * WIRE_HEAT_ROWS / R;
	int c0 = c * WIRE_HEAT_COLS / C, c1 = (c + 1) * WIRE_HEAT_COLS / C;
	uint64_t sum = 0;

	/* a window larger than the grid shows one grid cell several times */
	if (r1 <= r0)
		r1 = r0 + 1;
	if (c1 <= c0)
		c1 = c0 + 1;
	for (int y = r0; y < r1; y++)
		for (int x = c0; x < c1; x++)
			sum += st->cells[y * WIRE_HEAT_COLS + x];
	return (double)sum / ((r1 - r0) * (c1 - c0));
}

/* The map, R rows x C columns at (y0, x0), framed left and right. */
static void
hv_draw_map(struct hv_state *st, WINDOW *w, struct ui *ui, int y0, int x0,
    int R, int C)
{
	const char *side = ui->utf8 ? "\u2502" : "|";
	double max = 0;

	for (int r = 0; r < R; r++)
		for (int c = 0; c < C; c++) {
			double d = hv_density(st, r, c, R, C);
			max = d > max ? d : max;
		}
	for (int r = 0; r < R; r++) {
		mvwaddstr(w, y0 + r, x0, side);
		for (int c = 0; c < C; c++) {
			double d = hv_density(st, r, c, R, C);
			/* any click shows; the densest is the ramp's top */
			int level = d <= 0 || max <= 0 ? 0 :
			    1 + (int)(d * (HV_LEVELS - 2) / max);
			if (level > HV_LEVELS - 1)
				level = HV_LEVELS - 1;
			attr_t a = hv_level_attr(ui, level);
			wattron(w, a);
			mvwaddch(w, y0 + r, x0 + 1 + c,
			    (chtype)hv_ramp[level]);
			wattroff(w, a);
		}
		mvwaddstr(w, y0 + r, x0 + 1 + C, side);
	}
}

/* Per band, the share of measured page views that reached it. */
static void
hv_draw_scroll(struct hv_state *st, WINDOW *w, struct ui *ui, int y0,
    int x0)
{
	int width = getmaxx(w) - x0 - 13;

	if (st->reach[0] == 0) {
		draw_text(w, y0, x0, A_NORMAL, "no scroll depth measured");
		return;
	}
	for (int k = 0; k < WIRE_HEAT_BANDS && y0 + k < getmaxy(w); k++) {
		double share = (double)st->reach[k] / (double)st->reach[0];
		draw_text(w, y0 + k, x0, A_NORMAL, "%3d%% %5.1f%%",
		    k * (100 / WIRE_HEAT_BANDS), share * 100.0);
		draw_bar(w, y0 + k, x0 + 12, width, share, ui);
	}
}

static void
hv_draw_detail(struct hv_state *st, WINDOW *w, struct ui *ui)
{
	int R = getmaxy(w) - 2, C, hx;
	uint64_t clicks = 0;

	for (unsigned c = 0; c < WIRE_HEAT_CELLS; c++)
		clicks += st->cells[c];
	draw_text(w, 0, 1, draw_attr(ui, DRAW_LABEL),
	    "%.50s  clicks %llu  views %llu", st->page,
	    (unsigned long long)clicks, (unsigned long long)st->reach[0]);
	draw_text(w, 0, getmaxx(w) - 20, A_NORMAL, "Esc back  j/k page");
	if (!st->have_grid) {
		draw_text(w, 2, 1, A_NORMAL, "%s", "asking the agents...");
		return;
	}
	/* as many columns as rows: a page twice as tall as wide */
	C = R;
	if (C > getmaxx(w) - HV_HIST_W - 4)
		C = getmaxx(w) - HV_HIST_W - 4;
	hx = C + 4;
	draw_text(w, 1, 1, draw_attr(ui, DRAW_LABEL), "%-*s", C + 2,
	    C + 2 >= 20 ? "clicks (top of page)" : "clicks");
	draw_text(w, 1, hx, draw_attr(ui, DRAW_LABEL),
	    "scroll depth: share of views reaching");
	hv_init_pairs(st, ui);
	hv_draw_map(st, w, ui, 2, 0, R, C);
	hv_draw_scroll(st, w, ui, 2, hx);
}

static void
hv_draw(void *p, WINDOW *w, struct ui *ui)
{
	struct hv_state *st = p;

	if (st->detail)
		hv_draw_detail(st, w, ui);
	else
		hv_draw_list(st, w, ui);
}

/* Shows page sel: asks the agents for its grid at once. */
static int
hv_open(struct hv_state *st, int sel)
{
	if (sel < 0 || sel >= (int)st->n_rows)
		return VIEW_HANDLED;
	st->sel = sel;
	st->detail = true;
	snprintf(st->page, sizeof(st->page), "%s", st->rows[sel].page);
	for (unsigned i = 0; i < st->ui->n_links; i++)
		st->agents[i].grid_ok = false;
	hv_merge_grids(st);
	st->force = true;
	return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
}

static int
hv_key(void *p, struct ui *ui, int ch)
{
	struct hv_state *st = p;
	int step = ch == KEY_DOWN || ch == 'j' ? 1 :
	    ch == KEY_UP || ch == 'k' ? -1 : 0;

	(void)ui;
	if (ch == 'r') {
		st->force = true;
		return VIEW_HANDLED | VIEW_FETCH;
	}
	if (st->detail) {
		if (ch == HV_KEY_ESC || ch == KEY_BACKSPACE) {
			st->detail = false;
			st->force = true;
			return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
		}
		return step != 0 ? hv_open(st, st->sel + step) : VIEW_IGNORED;
	}
	if (step != 0) {
		int sel = st->sel + step;
		if (sel >= 0 && sel < (int)st->n_rows)
			st->sel = sel;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
		return hv_open(st, st->sel);
	return VIEW_IGNORED;
}

const struct view_ops view_heat = {
    .name = "heat",
    .help = "j/k, Up/Down  choose a page (in a map: the next page)\n"
            "Enter         show the page's click map and scroll depth\n"
            "Esc           back to the pages\n"
            "r             ask the agents again now\n",
    .init = hv_init,
    .fini = hv_fini,
    .update = hv_update,
    .draw = hv_draw,
    .key = hv_key,
};
