/*
 * textbuf.h - a bounded text buffer for the simulator's outputs (JSON
 * lines, access-log lines, beacon bodies): appends never write past cap,
 * and an append that does not fit makes the buffer "over" for good, so a
 * caller checks once at the end instead of after every append.
 *
 * Nothing is allocated: the caller owns the bytes.  Single-threaded.
 */
#ifndef NUDGE_SIM_TEXTBUF_H
#define NUDGE_SIM_TEXTBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

struct textbuf {
	char *b;
	size_t cap, n;
	bool over;
};

/* Starts an empty text in buf[0..cap). */
void tb_init(struct textbuf *t, char *buf, size_t cap);
void tb_put(struct textbuf *t, const char *s, size_t n);
void tb_puts(struct textbuf *t, const char *s);
void tb_putf(struct textbuf *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Decimal without printf: the log output calls it several times a line. */
void tb_u64(struct textbuf *t, uint64_t v);
/* v as a JSON string, quoted and escaped. */
void tb_jstr(struct textbuf *t, struct nudge_strv v);
/* ,"key":"v" -- nothing when v is empty. */
void tb_jfield(struct textbuf *t, const char *key, struct nudge_strv v);
/* ,"key":v */
void tb_jnum(struct textbuf *t, const char *key, uint64_t v);

#endif
