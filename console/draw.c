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
	PAIR_SELECTED,
	PAIR_SEG0 /* .. PAIR_SEG0 + DRAW_SEGS - 1 */
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
	init_pair(PAIR_SEG0 + 0, COLOR_GREEN, -1);
	init_pair(PAIR_SEG0 + 1, COLOR_CYAN, -1);
	init_pair(PAIR_SEG0 + 2, COLOR_YELLOW, -1);
	init_pair(PAIR_SEG0 + 3, COLOR_MAGENTA, -1);
	init_pair(PAIR_SEG0 + 4, COLOR_BLUE, -1);
	init_pair(PAIR_SEG0 + 5, COLOR_RED, -1);
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
draw_spark(
    WINDOW *w, int y, int x, const uint64_t *v, size_t n, const struct ui *ui)
{
	static const char *const blocks[] = {"\u2581", "\u2582", "\u2583",
	    "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
	static const char ramp[] = " .:-=+*#";
	uint64_t max = 0;

	for (size_t i = 0; i < n; i++)
		max = v[i] > max ? v[i] : max;
	wmove(w, y, x);
	wattron(w, draw_attr(ui, DRAW_BAR));
	for (size_t i = 0; i < n && x + (int)i < getmaxx(w); i++) {
		/* zero is level 0, anything else one of levels 1..7 */
		int lvl = v[i] == 0 || max == 0
		              ? 0
		              : 1 + (int)((v[i] - 1) * 7 / max);

		if (lvl > 7)
			lvl = 7;
		if (ui->utf8)
			waddstr(w, blocks[lvl]);
		else
			waddch(w, (chtype)(unsigned char)ramp[lvl]);
	}
	wattroff(w, draw_attr(ui, DRAW_BAR));
}

const char *
draw_seg_glyph(const struct ui *ui, int k)
{
	static const char *const shades[DRAW_SEGS] = {
	    "\u2588", "\u2593", "\u2592", "\u2591", "\u259a", "\u2580"};
	static const char *const ascii[DRAW_SEGS] = {
	    "#", "=", "+", "%", "*", "o"};

	k = ((k % DRAW_SEGS) + DRAW_SEGS) % DRAW_SEGS;
	if (!ui->utf8)
		return ascii[k];
	return ui->color ? "\u2588" : shades[k];
}

attr_t
draw_seg_attr(const struct ui *ui, int k)
{
	k = ((k % DRAW_SEGS) + DRAW_SEGS) % DRAW_SEGS;
	return ui->color ? (attr_t)COLOR_PAIR(PAIR_SEG0 + k) : A_NORMAL;
}

void
draw_split_bar(WINDOW *w, int y, int x, int width, const uint64_t *parts,
    size_t n, uint64_t top, const struct ui *ui)
{
	int used = 0;
	uint64_t acc = 0;

	if (width <= 0 || top == 0)
		return;
	wmove(w, y, x);
	for (size_t k = 0; k < n && used < width; k++) {
		int end, cells;

		if (parts[k] == 0)
			continue;
		acc += parts[k];
		/* cumulative rounding keeps the total bar exact */
		end = (int)((double)acc / (double)top * width + 0.5);
		end = end > width ? width : end;
		cells = end - used > 0 ? end - used : 1;
		if (used + cells > width)
			cells = width - used;
		wattron(w, draw_seg_attr(ui, (int)k));
		for (int i = 0; i < cells; i++)
			waddstr(w, draw_seg_glyph(ui, (int)k));
		wattroff(w, draw_seg_attr(ui, (int)k));
		used += cells;
	}
}

bool
draw_term_utf8(const char *codeset, const char *term)
{
	static const char *const plain[] = {
	    "dumb", "vt100", "vt102", "vt220", "ansi", "vt52"};

	if (codeset == NULL || strcmp(codeset, "UTF-8") != 0)
		return false;
	for (size_t i = 0; term != NULL && i < sizeof(plain) / sizeof(*plain);
	     i++)
		if (strcmp(term, plain[i]) == 0)
			return false;
	return true;
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
