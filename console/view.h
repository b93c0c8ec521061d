/*
 * view.h - how the TUI's views plug in, and the UI state they share.
 *
 * A view is one file exporting one const struct view_ops.  The TUI (tui.c)
 * owns the terminal: it gives each view a window to draw into with
 * wnoutrefresh() (never refresh() or doupdate(): one doupdate() per frame
 * is the TUI's), offers every key to the current view first, and acts on
 * the flags the view returns.  Views keep their own state, allocated by
 * init() and released by fini(); the model and links are borrowed.
 *
 * Main thread only; views are called from the poll() loop, never from an
 * nng callback (control replies arrive through link_service()).
 */
#ifndef NUDGE_VIEW_H
#define NUDGE_VIEW_H

#include <stdbool.h>
#include <stdint.h>

#include <curses.h>

#include "conf.h"
#include "history.h"
#include "link.h"
#include "model.h"

struct reconcile; /* reconcile.h */
struct campview;  /* campview.h */

/* What the views share with the TUI. */
struct ui {
	const struct nudge_config *conf;
	struct model *model;
	struct link *links; /* n_links, same index as the model's agents */
	unsigned n_links;
	bool utf8; /* else ASCII: '#' bars, no box drawing */
	bool color;
	bool viewer; /* read-only console */
	bool paused;
	bool dirty;      /* a view's state changed: redraw */
	uint64_t now_ms; /* mono clock of this loop turn */
	unsigned refresh_ms;
	int body_rows;     /* rows of the body window */
	uint64_t wall_ms;  /* wall clock of this loop turn */
	struct hist *hist; /* per-minute history (history.h), never NULL */
	bool batch;        /* drawn once for `nudge top --once` */
	char message[128]; /* one line shown in the footer, "" if none */
	const struct reconcile *rec; /* automatic drift fixes, never NULL */
	struct campview *camps; /* the fleet's campaigns, also in batch */
};

/* Returned by key(): a bit set. */
enum view_flags {
	VIEW_IGNORED = 0,      /* not mine: the TUI's global keys apply */
	VIEW_HANDLED = 1 << 0, /* consumed */
	VIEW_REDRAW = 1 << 1,  /* state changed, draw again */
	VIEW_FETCH = 1 << 2    /* call update() now, not at the next tick */
};

struct view_ops {
	const char *name; /* shown in the header and the footer */
	const char *help; /* the view's own keys, "key  what" per line */
	/* Allocates the view's state (NULL is an error) / releases it. */
	void *(*init)(struct ui *ui);
	void (*fini)(void *st);
	/* Once per refresh while shown and not paused: ask agents for data. */
	void (*update)(void *st, struct ui *ui);
	void (*draw)(void *st, WINDOW *win, struct ui *ui);
	int (*key)(void *st, struct ui *ui, int ch);
};

extern const struct view_ops view_overview;
extern const struct view_ops view_funnel;
extern const struct view_ops view_sessions;
extern const struct view_ops view_agents;
extern const struct view_ops view_heat;
extern const struct view_ops view_events;
extern const struct view_ops view_rules; /* view_rules.c */
extern const struct view_ops view_campaigns; /* view_campaigns.c */

#endif
