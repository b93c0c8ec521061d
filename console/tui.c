/*
 * tui.c - the interactive console: one poll() over every link's sockets,
 * stdin and a refresh timer; keys offered to the current view first, then
 * to the global bindings; a frame drawn into three windows (header, body,
 * footer) plus the help overlay, with one doupdate(), only when something
 * changed.
 *
 * Owns the terminal, the links, the model and the views' states for the
 * life of the TUI.  Single-threaded: nng is only ever polled, so no nng
 * callback can reach ncurses.  No SIGWINCH handler is installed: ncurses
 * turns a resize into KEY_RESIZE, and the signal interrupts poll().
 */
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curses.h>

#include "campview.h"
#include "cli.h"
#include "clock.h"
#include "draw.h"
#include "histfill.h"
#include "history.h"
#include "reconcile.h"
#include "tui.h"
#include "view.h"

#define TUI_MIN_COLS 80
#define TUI_MIN_ROWS 24
#define TUI_KEY_ESC 27
/*
 * Published messages are drained at most this often.  16 agents send ~500
 * messages/s (delta, sessions, events per 100 ms each); waking for every
 * one cost more than the messages (context switches of the console and of
 * nng's threads).  It adds at most this to what is shown, against the
 * agents' 100 ms delta period.
 */
#define TUI_DRAIN_MS 20

static const struct view_ops *const tui_views[] = {
    &view_overview,
    &view_funnel,
    &view_sessions,
    &view_agents,
    &view_heat,
    &view_events,
    &view_rules,
    &view_campaigns,
};

#define TUI_NVIEWS ((int)(sizeof(tui_views) / sizeof(tui_views[0])))

struct tui {
	struct ui ui;
	struct model model;
	struct link *links;
	void *state[TUI_NVIEWS];
	int cur;
	bool help;
	bool quit;
	bool too_small;
	WINDOW *head, *body, *foot;
	uint64_t next_tick;
	uint64_t next_drain; /* mono ms: when the SUB fds are polled again */
	uint64_t drawn_gen;
	struct hist *hist;
	struct histfill *hf;
	struct reconcile rec;
	struct campview *camps; /* kept for the whole run: sequential tests */
	int tab_x[TUI_NVIEWS + 1]; /* footer columns of the tabs, for clicks */
};

static void
tui_layout(struct tui *t)
{
	if (t->head != NULL) {
		delwin(t->head);
		delwin(t->body);
		delwin(t->foot);
		t->head = t->body = t->foot = NULL;
	}
	t->too_small = COLS < TUI_MIN_COLS || LINES < TUI_MIN_ROWS;
	if (t->too_small)
		return;
	t->head = newwin(1, COLS, 0, 0);
	t->body = newwin(LINES - 2, COLS, 1, 0);
	t->foot = newwin(1, COLS, LINES - 1, 0);
	t->ui.body_rows = LINES - 2;
	clearok(curscr, TRUE);
}

static void
tui_draw_head(struct tui *t)
{
	struct ui *ui = &t->ui;
	attr_t title = draw_attr(ui, DRAW_TITLE);
	time_t now = time(NULL);
	struct tm tm;
	char hms[16] = "";

	if (localtime_r(&now, &tm) != NULL)
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	werase(t->head);
	wbkgd(t->head, title);
	draw_text(t->head, 0, 0, title, "nudge  %u agents up  %s",
	    model_agents_up(&t->model), hms);
	draw_text(t->head, 0, COLS - 30, title, "%18s%s%s",
	    tui_views[t->cur]->name, ui->paused ? " [paused]" : "",
	    ui->viewer ? " [viewer]" : "");
	wnoutrefresh(t->head);
}

/* The footer's width of the tabs, long ("1 overview") or short ("1"). */
static int
tui_tabs_width(const struct tui *t, bool longer)
{
	int x = 0;

	for (int i = 0; i < TUI_NVIEWS; i++)
		x += longer || i == t->cur
		         ? (int)strlen(tui_views[i]->name) + 3
		         : 2;
	return x;
}

static void
tui_draw_foot(struct tui *t)
{
	struct ui *ui = &t->ui;
	const char *keys = ui->viewer ? "? help  p pause  q quit  (read-only)"
	                              : "? help  p pause  q quit";
	/* long tabs only when the status message still fits beside them */
	int msg = ui->message[0] != '\0' ? (int)strlen(ui->message) + 3 : 0;
	bool longer = tui_tabs_width(t, true) + (int)strlen(keys) + msg <=
	    COLS;
	int x = 0;

	werase(t->foot);
	wbkgd(t->foot, draw_attr(ui, DRAW_TITLE));
	for (int i = 0; i < TUI_NVIEWS; i++) {
		attr_t a = i == t->cur ? A_BOLD | draw_attr(ui, DRAW_NORMAL)
		                       : draw_attr(ui, DRAW_TITLE);

		t->tab_x[i] = x;
		if (longer || i == t->cur) {
			draw_text(t->foot, 0, x, a, "%d %s", i + 1,
			    tui_views[i]->name);
			x += (int)strlen(tui_views[i]->name) + 3;
		} else {
			draw_text(t->foot, 0, x, a, "%d", i + 1);
			x += 2;
		}
	}
	t->tab_x[TUI_NVIEWS] = x;
	draw_text(t->foot, 0, x, draw_attr(ui, DRAW_TITLE), "%s", keys);
	if (ui->message[0] != '\0')
		draw_text(t->foot, 0, x + (int)strlen(keys) + 1,
		    draw_attr(ui, DRAW_TITLE), "| %s", ui->message);
	wnoutrefresh(t->foot);
}

static void
tui_draw_help(struct tui *t)
{
	const struct view_ops *v = tui_views[t->cur];
	const char *p = v->help;
	int h = 14, w = 76, y = 2;
	char names[128];
	size_t nn = 0;
	WINDOW *win;

	for (const char *c = p; *c != '\0'; c++)
		h += *c == '\n';
	if (h > LINES - 2)
		h = LINES - 2;
	win = newwin(h, w, (LINES - h) / 2, (COLS - w) / 2);
	if (win == NULL)
		return;
	if (t->ui.utf8)
		box(win, 0, 0);
	else
		wborder(win, '|', '|', '-', '-', '+', '+', '+', '+');
	draw_text(win, 0, 2, A_BOLD, " help: %s ", v->name);
	names[0] = '\0';
	for (int i = 0; i < TUI_NVIEWS && nn < sizeof(names); i++)
		nn += (size_t)snprintf(names + nn, sizeof(names) - nn, "%s%s",
		    i ? " " : "", tui_views[i]->name);
	draw_text(win, y++, 2, A_BOLD, "Global keys");
	draw_text(win, y++, 2, A_NORMAL, "1-%d, Tab     switch view:",
	    TUI_NVIEWS);
	draw_text(win, y++, 4, A_NORMAL, "%.*s", w - 6, names);
	draw_text(win, y++, 2, A_NORMAL,
	    "arrows, hjkl move          "
	    "Esc  back");
	draw_text(win, y++, 2, A_NORMAL,
	    "p            pause / resume "
	    "updates");
	draw_text(win, y++, 2, A_NORMAL, "?            this help");
	draw_text(win, y++, 2, A_NORMAL,
	    "q, F10       quit          ^L  repaint     click a tab: switch");
	y++;
	draw_text(win, y++, 2, A_BOLD, "Keys of the %s view", v->name);
	while (*p != '\0' && y < h - 3) {
		const char *nl = strchr(p, '\n');
		int len = nl != NULL ? (int)(nl - p) : (int)strlen(p);

		draw_text(win, y++, 2, A_NORMAL, "%.*s", len, p);
		p += len + (nl != NULL);
	}
	draw_text(win, h - 2, 2, A_NORMAL, "any key closes this help");
	wnoutrefresh(win);
	delwin(win);
}

static void
tui_draw(struct tui *t)
{
	t->ui.dirty = false;
	t->drawn_gen = t->model.gen;
	if (t->too_small) {
		char msg[96];

		erase();
		snprintf(msg, sizeof(msg),
		    "terminal too small: %dx%d, need 80x24", COLS, LINES);
		mvaddnstr(LINES / 2, 0, msg, COLS);
		wnoutrefresh(stdscr);
		doupdate();
		return;
	}
	tui_draw_head(t);
	werase(t->body);
	tui_views[t->cur]->draw(t->state[t->cur], t->body, &t->ui);
	wnoutrefresh(t->body);
	tui_draw_foot(t);
	if (t->help)
		tui_draw_help(t);
	doupdate();
}

static void
tui_update_view(struct tui *t)
{
	const struct view_ops *v = tui_views[t->cur];

	if (v->update != NULL && !t->ui.paused && !t->too_small)
		v->update(t->state[t->cur], &t->ui);
}

static void
tui_switch(struct tui *t, int to)
{
	t->cur = (to + TUI_NVIEWS) % TUI_NVIEWS;
	t->ui.message[0] = '\0';
	t->ui.dirty = true;
	tui_update_view(t);
}

/* The global bindings, for keys the current view did not take. */
static void
tui_global_key(struct tui *t, int ch)
{
	if (ch == 'q' || ch == KEY_F(10))
		t->quit = true;
	else if (ch == '\t')
		tui_switch(t, t->cur + 1);
	else if (ch == KEY_BTAB)
		tui_switch(t, t->cur - 1);
	else if (ch >= '1' && ch < '1' + TUI_NVIEWS)
		tui_switch(t, ch - '1');
	else if (ch == '?')
		t->help = true;
	else if (ch == 'p')
		t->ui.paused = !t->ui.paused;
	else if (ch == 'L' - '@') /* ^L: repaint everything */
		clearok(curscr, TRUE);
	else
		return;
	t->ui.dirty = true;
}

/* A click on the footer's tab bar switches views; other clicks do nothing. */
static void
tui_mouse(struct tui *t)
{
	MEVENT ev;

	if (getmouse(&ev) != OK || t->too_small || ev.y != LINES - 1 ||
	    !(ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)))
		return;
	for (int i = 0; i < TUI_NVIEWS; i++)
		if (ev.x >= t->tab_x[i] && ev.x < t->tab_x[i + 1] - 1) {
			t->help = false;
			tui_switch(t, i);
			return;
		}
}

static void
tui_key(struct tui *t, int ch)
{
	int flags;

	if (ch == KEY_MOUSE) {
		tui_mouse(t);
		return;
	}
	if (ch == KEY_RESIZE) {
		tui_layout(t);
		t->ui.dirty = true;
		return;
	}
	if (t->help) {
		t->help = false;
		t->ui.dirty = true;
		if (ch != 'q' && ch != KEY_F(10))
			return;
	}
	flags = tui_views[t->cur]->key(t->state[t->cur], &t->ui, ch);
	if (!(flags & VIEW_HANDLED)) {
		tui_global_key(t, ch);
		return;
	}
	if (flags & VIEW_REDRAW)
		t->ui.dirty = true;
	if (flags & VIEW_FETCH)
		tui_update_view(t);
}

/*
 * The history: every agent that is up and settled adds its growth; a down
 * agent's baseline is forgotten (it rebases when it returns).
 */
static void
tui_history_tick(struct tui *t)
{
	struct model *m = &t->model;

	histfill_tick(t->hf, &t->ui);
	for (unsigned i = 0; i < m->n_agents; i++) {
		const struct model_agent *a = &m->agents[i];

		if (!a->up || !a->have_snapshot)
			hist_forget(t->hist, i);
		else if (histfill_ready(t->hf, i))
			hist_observe(t->hist, i, a->boot_id, &a->snap.agg);
	}
	hist_advance(
	    t->hist, t->ui.wall_ms, model_merged(m)->g[AGG_VISITORS_ACTIVE]);
}

/* The refresh timer: liveness, the rate sample, the view's fetch. */
static void
tui_tick(struct tui *t)
{
	for (unsigned i = 0; i < t->ui.n_links; i++)
		link_tick(&t->links[i], &t->model, t->ui.now_ms);
	model_tick(&t->model, t->ui.now_ms);
	tui_history_tick(t);
	reconcile_tick(&t->rec, &t->model, t->links, t->ui.n_links,
	    t->ui.now_ms);
	if (t->rec.status[0] != '\0') {
		/* the status line is the log of what was done automatically */
		snprintf(t->ui.message, sizeof(t->ui.message), "%s",
		    t->rec.status);
		t->rec.status[0] = '\0';
	}
	campview_update(t->camps, &t->model, t->ui.wall_ms);
	tui_update_view(t);
	if (!t->ui.paused)
		t->ui.dirty = true; /* the clock moved, and maybe the model */
	t->next_tick = t->ui.now_ms + t->ui.refresh_ms;
}

/*
 * Waits for a key, a control reply, the tick or, once TUI_DRAIN_MS have
 * passed since the last drain, a published message; then services the
 * links.
 */
static void
tui_poll(struct tui *t, struct pollfd *fds)
{
	uint64_t now = clock_mono_ms(), until = t->next_tick;
	bool drain = now >= t->next_drain;
	int n = 0;

	fds[n++] = (struct pollfd){.fd = 0, .events = POLLIN};
	for (unsigned i = 0; i < t->ui.n_links; i++)
		n += drain ? link_pollfds(&t->links[i], fds + n)
		           : link_pollfds_calls(&t->links[i], fds + n);
	if (!drain && t->next_drain < until)
		until = t->next_drain;
	poll(fds, (nfds_t)n, until > now ? (int)(until - now) : 0);
	t->ui.now_ms = clock_mono_ms();
	t->ui.wall_ms = clock_wall_ms();
	drain = t->ui.now_ms >= t->next_drain;
	for (unsigned i = 0; i < t->ui.n_links; i++)
		if (link_service(&t->links[i], &t->model, t->ui.now_ms) &&
		    drain)
			t->next_drain = t->ui.now_ms + TUI_DRAIN_MS;
}

static void
tui_loop(struct tui *t, struct pollfd *fds)
{
	while (!t->quit) {
		int ch;

		tui_poll(t, fds);
		while (!t->quit && (ch = getch()) != ERR)
			tui_key(t, ch);
		if (t->ui.now_ms >= t->next_tick)
			tui_tick(t);
		if (t->ui.dirty && !t->quit)
			tui_draw(t);
	}
}

static void
tui_curses_start(struct tui *t)
{
	initscr();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	set_escdelay(25); /* Esc is a key here, not only a prefix */
	curs_set(0);
	mousemask(BUTTON1_CLICKED | BUTTON1_PRESSED, NULL);
	mouseinterval(0);
	if (t->ui.color && has_colors()) {
		start_color();
		draw_init_colors();
	} else {
		t->ui.color = false;
	}
	tui_layout(t);
}

/*
 * The history file (--history, else the XDG default; --history "" or
 * "none" keeps it in memory); one that cannot be opened is said in the
 * footer and the history stays in memory.
 */
static int
tui_history_open(struct tui *t, struct cli_ctx *ctx)
{
	struct nudge_diag d = {0};
	char path[1024];
	const char *p = ctx->history;
	int rv;

	if (p == NULL)
		p = hist_default_path(path, sizeof(path)) == 0 ? path : NULL;
	else if (p[0] == '\0' || strcmp(p, "none") == 0)
		p = NULL;
	rv = hist_open(&t->hist, p, t->ui.n_links, t->ui.wall_ms, &d);
	if (rv != 0 && p != NULL) {
		snprintf(
		    t->ui.message, sizeof(t->ui.message), "%.120s", d.msg);
		rv = hist_open(
		    &t->hist, NULL, t->ui.n_links, t->ui.wall_ms, &d);
	}
	if (rv != 0)
		return CLI_EINTERNAL;
	t->ui.hist = t->hist;
	t->hf = histfill_new(&t->ui);
	return t->hf != NULL ? CLI_OK : CLI_EINTERNAL;
}

static int
tui_open(struct tui *t, struct cli_ctx *ctx)
{
	const char *specs[CONF_AGENTS_MAX];
	struct nudge_diag d = {0};
	unsigned n = cli_agents(ctx, specs);
	uint64_t now = clock_mono_ms();

	if (n == 0)
		return cli_usage(NULL, "no agent given (--agent URL)");
	t->links = calloc(n, sizeof(*t->links));
	if (t->links == NULL || model_init(&t->model, n) != 0)
		return CLI_EINTERNAL;
	for (unsigned i = 0; i < n; i++) {
		if (link_open(&t->links[i], i, specs[i], now, &d) != 0) {
			fprintf(stderr, "nudge: %s\n", d.msg);
			return CLI_EUSAGE;
		}
		t->ui.n_links = i + 1;
	}
	t->ui.conf = ctx->conf;
	t->ui.model = &t->model;
	t->ui.links = t->links;
	t->ui.viewer = ctx->viewer;
	/* a read-only console never pushes: it only shows the drift */
	reconcile_init(&t->rec, ctx->conf->console.reconcile_auto &&
	    !ctx->viewer);
	t->ui.rec = &t->rec;
	if ((t->camps = campview_new(n, NULL)) == NULL)
		return CLI_EINTERNAL;
	t->ui.camps = t->camps;
	t->ui.color = !ctx->no_color;
	t->ui.refresh_ms = ctx->refresh_ms;
	t->ui.dirty = true;
	t->ui.now_ms = now;
	t->ui.wall_ms = clock_wall_ms();
	if (tui_history_open(t, ctx) != CLI_OK)
		return CLI_EINTERNAL;
	for (int i = 0; i < TUI_NVIEWS; i++)
		if ((t->state[i] = tui_views[i]->init(&t->ui)) == NULL)
			return CLI_EINTERNAL;
	return CLI_OK;
}

static void
tui_close(struct tui *t)
{
	for (int i = 0; i < TUI_NVIEWS; i++)
		if (t->state[i] != NULL)
			tui_views[i]->fini(t->state[i]);
	for (unsigned i = 0; i < t->ui.n_links; i++)
		link_close(&t->links[i]);
	free(t->links);
	model_fini(&t->model);
	reconcile_fini(&t->rec);
	campview_free(t->camps);
	histfill_free(t->hf);
	hist_close(t->hist);
}

int
cli_tui(struct cli_ctx *ctx, int argc, char **argv)
{
	struct tui *t;
	struct pollfd *fds;
	char why[128];
	const char *cs;
	int rv;

	(void)argc;
	(void)argv;
	setlocale(LC_ALL, "");
	if (!tui_term_usable(why, sizeof(why))) {
		fprintf(stderr,
		    "nudge: the console needs a terminal (%s).\n"
		    "For scripts try: nudge status [--json]\n",
		    why);
		return CLI_EUSAGE;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return CLI_EINTERNAL;
	cs = nl_langinfo(CODESET);
	t->ui.utf8 = draw_term_utf8(cs, getenv("TERM"));
	if ((rv = tui_open(t, ctx)) == CLI_OK) {
		fds = calloc(1 + 2 * (size_t)t->ui.n_links, sizeof(*fds));
		if (fds == NULL) {
			rv = CLI_EINTERNAL;
		} else {
			tui_curses_start(t);
			tui_loop(t, fds);
			endwin();
			free(fds);
		}
	}
	tui_close(t);
	free(t);
	return rv;
}
