/*
 * intern.h - string interning: a short string <-> a small integer id.
 *
 * Session paths and last pages store 4-byte ids instead of URL copies.
 * Id 0 is the empty string.  The table is bounded (INTERN_MAX names); once
 * full, new names map to INTERN_OTHER ("(other)") instead of growing, so a
 * flood of distinct URLs costs bounded memory.  Not thread-safe: the owner
 * (a session-table shard) holds its lock.
 */
#ifndef NUDGE_INTERN_H
#define NUDGE_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define INTERN_MAX 65536
#define INTERN_OTHER 1

struct intern {
	char **names;		/* id -> NUL-terminated copy */
	uint32_t n;
	uint32_t cap;
	uint32_t *slots;	/* open addressing: id + 1; 0 empty */
	uint32_t mask;
	size_t bytes;		/* bytes held by the name copies */
};

int intern_init(struct intern *in);
void intern_fini(struct intern *in);
/* Returns the id of s (adding it if new); 0 for the empty string. */
uint32_t intern_id(struct intern *in, struct nudge_strv s);
/* Returns the name of id; "" for unknown ids. */
const char *intern_str(const struct intern *in, uint32_t id);
size_t intern_bytes(const struct intern *in);

#endif
