/*
 * draw.h - small drawing helpers shared by the views: colour roles that
 * degrade to attributes without colour, bars and rules that degrade to
 * ASCII when the locale is not UTF-8, and number formatting.
 */
#ifndef NUDGE_DRAW_H
#define NUDGE_DRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curses.h>

#include "view.h"

enum draw_role {
	DRAW_NORMAL = 0,
	DRAW_TITLE, /* header and footer bars */
	DRAW_LABEL, /* field names, column heads */
	DRAW_GOOD,
	DRAW_BAD,
	DRAW_BAR,
	DRAW_SELECTED
};

/* Sets up the colour pairs when colour is on (after start_color()). */
void draw_init_colors(void);

/* The attributes for a role under the UI's colour setting. */
attr_t draw_attr(const struct ui *ui, int role);

/* A bar of width cells filled to frac (0..1): blocks, or '#' in ASCII. */
void draw_bar(
    WINDOW *w, int y, int x, int width, double frac, const struct ui *ui);

/*
 * A sparkline of n values, one cell each, scaled to the largest: the eighth
 * blocks U+2581..U+2588 in UTF-8 (a zero is the lowest block), else the
 * ramp " .:-=+*#" (a zero is a blank).
 */
void draw_spark(
    WINDOW *w, int y, int x, const uint64_t *v, size_t n, const struct ui *ui);

/* Segments of split bars: DRAW_SEGS distinct glyph/colour pairs. */
#define DRAW_SEGS 6

/* The glyph of segment k (blocks in colour, else distinct characters). */
const char *draw_seg_glyph(const struct ui *ui, int k);
attr_t draw_seg_attr(const struct ui *ui, int k);

/*
 * A bar of width cells for total = sum(parts[0..n)), scaled to top, split
 * into one run per part in the part's glyph (every non-zero part gets at
 * least one cell when the bar has room).
 */
void draw_split_bar(WINDOW *w, int y, int x, int width, const uint64_t *parts,
    size_t n, uint64_t top, const struct ui *ui);

/*
 * Whether the terminal can show the UTF-8 glyphs: the locale's codeset is
 * UTF-8 and TERM is not one known to lack them (dumb, vt100, vt220, ansi,
 * linux's 8-bit console does have them).
 */
bool draw_term_utf8(const char *codeset, const char *term);

/* A horizontal rule: box drawing, or '-' in ASCII. */
void draw_rule(WINDOW *w, int y, int x, int width, const struct ui *ui);

/* printf at (y, x), clipped to the window's width. */
void draw_text(WINDOW *w, int y, int x, attr_t attr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* 1234567 -> "1234567" below 10M, then "12.3M", "4.5G". */
void draw_count(char *buf, size_t cap, uint64_t v);

/* Milliseconds as "45s", "12m05s", "3h20m", "5d02h". */
void draw_duration(char *buf, size_t cap, uint64_t ms);

/* Cents as "1234.50". */
void draw_money(char *buf, size_t cap, uint64_t cents);

#endif
