/*
 * view_agents.c - view 4: one row per agent (name, url, link state,
 * version, uptime, last seen, lost messages, rejected events, funnel) and
 * the selected agent's details.  Owns the selection; main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "draw.h"
#include "view.h"

struct agents_state {
	int sel;
	int top;
};

static void *
agents_init(struct ui *ui)
{
	(void)ui;
	return calloc(1, sizeof(struct agents_state));
}

static void
agents_fini(void *st)
{
	free(st);
}

/*
 * The address without its scheme, and its tail when still too long: the
 * port or socket name is what tells agents apart.
 */
static const char *
agents_url_tail(const char *url, size_t width)
{
	const char *host = strstr(url, "://");
	size_t n;

	url = host != NULL ? host + 3 : url;
	n = strlen(url);
	return n > width ? url + n - width : url;
}

static void
agents_row(WINDOW *w, int y, struct ui *ui, unsigned i, bool sel)
{
	const struct model_agent *a = &ui->model->agents[i];
	const struct link *l = &ui->links[i];
	char up[16] = "-", seen[16] = "never";
	attr_t attr = sel ? draw_attr(ui, DRAW_SELECTED) : A_NORMAL;

	if (a->have_snapshot)
		draw_duration(up, sizeof(up), a->snap.uptime_ms);
	if (a->last_msg_ms > 0)
		draw_duration(seen, sizeof(seen), ui->now_ms - a->last_msg_ms);
	if (sel)
		mvwchgat(w, y, 0, -1, attr, 0, NULL);
	draw_text(w, y, 1, attr, "%-8.8s %-18.18s ",
	    a->name[0] ? a->name : "?", agents_url_tail(l->pub_url, 18));
	draw_text(w, y, 29,
	    l->state == LINK_LIVE ? attr : attr | draw_attr(ui, DRAW_BAD),
	    "%-10s", link_state_name(l->state));
	draw_text(w, y, 40, attr, "%-7.7s %6s %5s %4llu %4llu %-8.8s",
	    a->snap.version, up, seen, (unsigned long long)a->lost,
	    (unsigned long long)a->snap.agg.c[AGG_REJECTED], a->snap.funnel);
}

static void
agents_detail(WINDOW *w, int y, struct ui *ui, unsigned i)
{
	const struct model_agent *a = &ui->model->agents[i];
	const struct link *l = &ui->links[i];

	draw_rule(w, y++, 1, getmaxx(w) - 2, ui);
	draw_text(w, y++, 1, A_NORMAL, "pub      %s", l->pub_url);
	draw_text(w, y++, 1, A_NORMAL, "control  %s",
	    l->ctl_url[0] ? l->ctl_url : "(not advertised)");
	draw_text(w, y++, 1, A_NORMAL, "funnel   %s (%u steps)",
	    a->snap.funnel, a->snap.n_steps);
	draw_text(w, y++, 1, A_NORMAL,
	    "boot %016llx  restarts %llu  reopens %llu  bad msgs %llu",
	    (unsigned long long)a->boot_id, (unsigned long long)a->restarts,
	    (unsigned long long)l->reopens, (unsigned long long)a->bad);
	draw_text(w, y++, 1, A_NORMAL,
	    "rules v%llu  store errors %llu  pub dropped %llu%s",
	    (unsigned long long)a->snap.rules_version,
	    (unsigned long long)a->snap.store_errors,
	    (unsigned long long)a->snap.pub_dropped,
	    a->resync ? "  (resyncing)" : "");
	if (a->snap.last_error[0])
		draw_text(w, y++, 1, draw_attr(ui, DRAW_BAD), "agent: %s",
		    a->snap.last_error);
	if (l->last_error[0])
		draw_text(w, y, 1, draw_attr(ui, DRAW_BAD), "link: %s",
		    l->last_error);
}

static void
agents_draw(void *st, WINDOW *w, struct ui *ui)
{
	struct agents_state *as = st;
	int rows = getmaxy(w) - 12; /* heads and the detail block */
	int y = 1;

	if (as->sel >= (int)ui->n_links)
		as->sel = (int)ui->n_links - 1;
	if (as->sel < as->top)
		as->top = as->sel;
	if (as->sel >= as->top + rows)
		as->top = as->sel - rows + 1;
	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL),
	    "%-8s %-18s %-10s %-7s %6s %5s %4s %4s %s", "NAME", "URL", "STATE",
	    "VERSION", "UPTIME", "SEEN", "LOST", "REJ", "FUNNEL");
	for (int i = as->top; i < (int)ui->n_links && i < as->top + rows; i++)
		agents_row(w, y++, ui, (unsigned)i, i == as->sel);
	agents_detail(w, y + 1, ui, (unsigned)as->sel);
}

static int
agents_key(void *st, struct ui *ui, int ch)
{
	struct agents_state *as = st;

	switch (ch) {
	case KEY_UP:
	case 'k':
		if (as->sel > 0)
			as->sel--;
		return VIEW_HANDLED | VIEW_REDRAW;
	case KEY_DOWN:
	case 'j':
		if (as->sel + 1 < (int)ui->n_links)
			as->sel++;
		return VIEW_HANDLED | VIEW_REDRAW;
	default:
		return VIEW_IGNORED;
	}
}

const struct view_ops view_agents = {
    .name = "agents",
    .help = "j/k, arrows  select an agent\n",
    .init = agents_init,
    .fini = agents_fini,
    .update = NULL,
    .draw = agents_draw,
    .key = agents_key,
};
