/*
 * view_events.c - view 6: a live tail of the sampled events every agent
 * publishes, newest at the top, filterable with `/` (a substring of the
 * type, visitor, page, country or agent name) and pausable with `p`.
 *
 * While paused (the TUI's global pause) the view keeps showing the copy
 * of the ring it took when the pause began, so redraws (help, resize) show
 * the same lines.  Owns that copy and the filter; main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "draw.h"
#include "view.h"

#define EV_KEY_ESC 27

struct ev_state {
	char q[64];
	bool editing;
	char edit[64];
	int top; /* first line shown (scroll) */
	bool frozen;
	struct model_event *copy; /* MODEL_EVENTS_MAX, newest first */
	unsigned n_copy;
};

static void *
ev_init(struct ui *ui)
{
	struct ev_state *st = calloc(1, sizeof(*st));

	(void)ui;
	if (st == NULL)
		return NULL;
	st->copy = calloc(MODEL_EVENTS_MAX, sizeof(*st->copy));
	if (st->copy == NULL) {
		free(st);
		return NULL;
	}
	return st;
}

static void
ev_fini(void *p)
{
	struct ev_state *st = p;

	free(st->copy);
	free(st);
}

static const char *
ev_name(const struct model_event *e)
{
	return e->type == EVENT_CUSTOM ? e->name : event_type_name(e->type);
}

static bool
ev_matches(const struct ev_state *st, const struct ui *ui,
    const struct model_event *e)
{
	const char *agent = e->agent < ui->model->n_agents
	                        ? ui->model->agents[e->agent].name
	                        : "";

	return st->q[0] == '\0' || strstr(ev_name(e), st->q) != NULL ||
	       strstr(e->visitor, st->q) != NULL ||
	       strstr(e->page, st->q) != NULL ||
	       strstr(e->country, st->q) != NULL ||
	       strstr(agent, st->q) != NULL;
}

/* The events to show, newest first: the frozen copy or the live ring. */
static void
ev_snapshot(struct ev_state *st, const struct ui *ui)
{
	const struct model_event *e;
	unsigned n = 0;

	for (unsigned i = 0; (e = model_event_at(ui->model, i)) != NULL; i++)
		st->copy[n++] = *e;
	st->n_copy = n;
}

static void
ev_draw_line(
    WINDOW *w, int y, const struct ui *ui, const struct model_event *e)
{
	time_t t = (time_t)(e->ts_ms / 1000);
	struct tm tm;
	char hms[16] = "--:--:--", val[24] = "";
	const char *agent = e->agent < ui->model->n_agents
	                        ? ui->model->agents[e->agent].name
	                        : "?";

	if (t > 0 && localtime_r(&t, &tm) != NULL)
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	if (e->value_cents != 0)
		draw_money(val, sizeof(val),
		    e->value_cents > 0 ? (uint64_t)e->value_cents : 0);
	draw_text(w, y, 1, A_NORMAL,
	    "%s %-8.8s %-12.12s %-16.16s %-2.2s %9s %s", hms, agent,
	    ev_name(e), e->visitor, e->country[0] ? e->country : "--", val,
	    e->page);
}

static void
ev_draw(void *p, WINDOW *w, struct ui *ui)
{
	struct ev_state *st = p;
	int y = 2, shown = 0, skip = st->top;

	if (ui->paused && !st->frozen) {
		ev_snapshot(st, ui);
		st->frozen = true;
	} else if (!ui->paused) {
		st->frozen = false;
		ev_snapshot(st, ui);
	}
	draw_text(w, 0, 1, draw_attr(ui, DRAW_LABEL), "Events (sampled)%s",
	    ui->paused ? "  PAUSED (p resumes)" : "");
	if (st->editing)
		draw_text(w, 0, 44, A_BOLD, "/%s_", st->edit);
	else if (st->q[0] != '\0')
		draw_text(w, 0, 44, A_NORMAL, "filter: %s", st->q);
	draw_text(w, 1, 1, draw_attr(ui, DRAW_LABEL),
	    "%-8s %-8s %-12s %-16s %-2s %9s %s", "TIME", "AGENT", "EVENT",
	    "VISITOR", "CC", "VALUE", "PAGE");
	for (unsigned i = 0; i < st->n_copy && y < getmaxy(w); i++) {
		if (!ev_matches(st, ui, &st->copy[i]))
			continue;
		if (skip > 0) {
			skip--;
			continue;
		}
		ev_draw_line(w, y++, ui, &st->copy[i]);
		shown++;
	}
	if (shown == 0)
		draw_text(w, y, 1, A_NORMAL, "%s",
		    st->q[0] ? "no sampled event matches the filter"
		             : "no events sampled yet");
}

static int
ev_key_edit(struct ev_state *st, int ch)
{
	size_t len = strlen(st->edit);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		snprintf(st->q, sizeof(st->q), "%s", st->edit);
		st->editing = false;
		st->top = 0;
	} else if (ch == EV_KEY_ESC) {
		st->editing = false;
	} else if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len > 0) {
		st->edit[len - 1] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(st->edit)) {
		st->edit[len] = (char)ch;
		st->edit[len + 1] = '\0';
	}
	return VIEW_HANDLED | VIEW_REDRAW;
}

static int
ev_key(void *p, struct ui *ui, int ch)
{
	struct ev_state *st = p;

	if (st->editing)
		return ev_key_edit(st, ch);
	switch (ch) {
	case '/':
		st->editing = true;
		snprintf(st->edit, sizeof(st->edit), "%s", st->q);
		break;
	case EV_KEY_ESC:
		if (st->q[0] == '\0' && st->top == 0)
			return VIEW_IGNORED;
		st->q[0] = '\0';
		st->top = 0;
		break;
	case KEY_DOWN:
	case 'j':
		if (st->top + 1 < (int)st->n_copy)
			st->top++;
		break;
	case KEY_UP:
	case 'k':
		if (st->top > 0)
			st->top--;
		break;
	case KEY_HOME:
	case 'g':
		st->top = 0;
		break;
	default:
		(void)ui;
		return VIEW_IGNORED;
	}
	return VIEW_HANDLED | VIEW_REDRAW;
}

const struct view_ops view_events = {
    .name = "events",
    .help = "/      filter (event, visitor, page, country, agent)\n"
            "p      pause / resume the tail (the screen holds still)\n"
            "j/k, arrows  scroll   g  back to the newest   Esc  clear\n",
    .init = ev_init,
    .fini = ev_fini,
    .update = NULL,
    .draw = ev_draw,
    .key = ev_key,
};
