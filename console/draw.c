/*
 * draw.c - drawing helpers for the views (see draw.h).  Draws only into the
 * window it is given; main thread.
 */
#include "draw.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
	PAIR_TITLE = 1,
	PAIR_LABEL,
	PAIR_GOOD,
	PAIR_BAD,
	PAIR_BAR,
	PAIR_SELECTED
};

void
draw_init_colors(void)
{
	use_default_colors();
	init_pair(PAIR_TITLE, COLOR_BLACK, COLOR_CYAN);
	init_pair(PAIR_LABEL, COLOR_CYAN, -1);
	init_pair(PAIR_GOOD, COLOR_GREEN, -1);
	init_pair(PAIR_BAD, COLOR_RED, -1);
	init_pair(PAIR_BAR, COLOR_GREEN, -1);
	init_pair(PAIR_SELECTED, COLOR_BLACK, COLOR_GREEN);
}

attr_t
draw_attr(const struct ui *ui, int role)
{
	static const attr_t mono[] = {
	    [DRAW_NORMAL] = A_NORMAL,
	    [DRAW_TITLE] = A_REVERSE,
	    [DRAW_LABEL] = A_BOLD,
	    [DRAW_GOOD] = A_NORMAL,
	    [DRAW_BAD] = A_BOLD,
	    [DRAW_BAR] = A_NORMAL,
	    [DRAW_SELECTED] = A_REVERSE,
	};
	static const short pairs[] = {
	    [DRAW_NORMAL] = 0,
	    [DRAW_TITLE] = PAIR_TITLE,
	    [DRAW_LABEL] = PAIR_LABEL,
	    [DRAW_GOOD] = PAIR_GOOD,
	    [DRAW_BAD] = PAIR_BAD,
	    [DRAW_BAR] = PAIR_BAR,
	    [DRAW_SELECTED] = PAIR_SELECTED,
	};

	if (role < 0 || role > DRAW_SELECTED)
		return A_NORMAL;
	if (!ui->color)
		return mono[role];
	return role == DRAW_NORMAL
	           ? A_NORMAL
	           : (attr_t)COLOR_PAIR(pairs[role]) |
	                 (role == DRAW_BAD ? A_BOLD : A_NORMAL);
}

void
draw_bar(WINDOW *w, int y, int x, int width, double frac, const struct ui *ui)
{
	/* Eighth blocks give the bar 8x the resolution in UTF-8. */
	static const char *const eighths[] = {"", "\u258f", "\u258e", "\u258d",
	    "\u258c", "\u258b", "\u258a", "\u2589"};
	int cells8, full;

	if (width <= 0)
		return;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	cells8 = (int)(frac * width * 8 + 0.5);
	full = cells8 / 8;
	wattron(w, draw_attr(ui, DRAW_BAR));
	wmove(w, y, x);
	for (int i = 0; i < full; i++)
		waddstr(w, ui->utf8 ? "\u2588" : "#");
	if (ui->utf8 && full < width && cells8 % 8 != 0)
		waddstr(w, eighths[cells8 % 8]);
	else if (!ui->utf8 && full == 0 && frac > 0)
		waddch(w, '#'); /* a non-zero step never looks empty */
	wattroff(w, draw_attr(ui, DRAW_BAR));
}

void
draw_rule(WINDOW *w, int y, int x, int width, const struct ui *ui)
{
	wmove(w, y, x);
	for (int i = 0; i < width; i++)
		waddstr(w, ui->utf8 ? "\u2500" : "-");
}

void
draw_text(WINDOW *w, int y, int x, attr_t attr, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int room = getmaxx(w) - x;

	if (room <= 0 || y < 0 || y >= getmaxy(w))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	wattron(w, attr);
	mvwaddnstr(w, y, x, buf, room);
	wattroff(w, attr);
}

void
draw_count(char *buf, size_t cap, uint64_t v)
{
	if (v < 10000000u)
		snprintf(buf, cap, "%" PRIu64, v);
	else if (v < 10000000000u)
		snprintf(buf, cap, "%.1fM", (double)v / 1e6);
	else
		snprintf(buf, cap, "%.1fG", (double)v / 1e9);
}

void
draw_duration(char *buf, size_t cap, uint64_t ms)
{
	uint64_t s = ms / 1000;

	if (s < 60)
		snprintf(buf, cap, "%" PRIu64 "s", s);
	else if (s < 3600)
		snprintf(
		    buf, cap, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, cap, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
		    s / 60 % 60);
	else
		snprintf(buf, cap, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
		    s / 3600 % 24);
}

void
draw_money(char *buf, size_t cap, uint64_t cents)
{
	snprintf(buf, cap, "%" PRIu64 ".%02" PRIu64, cents / 100, cents % 100);
}
