/* textbuf.c - see textbuf.h. */
#include "textbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
tb_init(struct textbuf *t, char *buf, size_t cap)
{
	t->b = buf;
	t->cap = cap;
	t->n = 0;
	t->over = false;
}

void
tb_put(struct textbuf *t, const char *s, size_t n)
{
	if (t->over || n > t->cap - t->n) {
		t->over = true;
		return;
	}
	memcpy(t->b + t->n, s, n);
	t->n += n;
}

void
tb_puts(struct textbuf *t, const char *s)
{
	tb_put(t, s, strlen(s));
}

void
tb_putf(struct textbuf *t, const char *fmt, ...)
{
	va_list ap;
	int k;

	if (t->over)
		return;
	va_start(ap, fmt);
	k = vsnprintf(t->b + t->n, t->cap - t->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= t->cap - t->n)
		t->over = true;
	else
		t->n += (size_t)k;
}

void
tb_u64(struct textbuf *t, uint64_t v)
{
	char d[20];
	int k = 20;

	do {
		d[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	tb_put(t, d + k, (size_t)(20 - k));
}

void
tb_jstr(struct textbuf *t, struct nudge_strv v)
{
	static const char hex[] = "0123456789abcdef";

	tb_put(t, "\"", 1);
	for (uint32_t k = 0; k < v.len; k++) {
		unsigned char c = (unsigned char)v.ptr[k];
		char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			tb_put(t, esc, 2);
		} else if (c < 0x20) {
			tb_put(t, esc, 6);
		} else {
			tb_put(t, (const char *)&v.ptr[k], 1);
		}
	}
	tb_put(t, "\"", 1);
}

void
tb_jfield(struct textbuf *t, const char *key, struct nudge_strv v)
{
	if (v.len == 0)
		return;
	tb_put(t, ",\"", 2);
	tb_puts(t, key);
	tb_put(t, "\":", 2);
	tb_jstr(t, v);
}

void
tb_jnum(struct textbuf *t, const char *key, uint64_t v)
{
	tb_put(t, ",\"", 2);
	tb_puts(t, key);
	tb_put(t, "\":", 2);
	tb_u64(t, v);
}
