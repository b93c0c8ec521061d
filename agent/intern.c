/*
 * intern.c - bounded string interning for the session table's shards.
 * Owned and locked by one shard; see intern.h.
 */
#include "intern.h"

#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "session.h"

int
intern_init(struct intern *in)
{
	memset(in, 0, sizeof(*in));
	in->cap = 64;
	in->names = calloc(in->cap, sizeof(*in->names));
	in->mask = 127;
	in->slots = calloc(in->mask + 1, sizeof(*in->slots));
	if (in->names == NULL || in->slots == NULL) {
		intern_fini(in);
		return -1;
	}
	in->names[0] = strdup("");
	in->names[1] = strdup("(other)");
	if (in->names[0] == NULL || in->names[1] == NULL) {
		intern_fini(in);
		return -1;
	}
	in->n = 2;
	return 0;
}

void
intern_fini(struct intern *in)
{
	if (in->names != NULL)
		for (uint32_t i = 0; i < in->n; i++)
			free(in->names[i]);
	free(in->names);
	free(in->slots);
	memset(in, 0, sizeof(*in));
}

static int
intern_grow(struct intern *in)
{
	uint32_t mask = in->mask * 2 + 1;
	uint32_t *slots = calloc(mask + 1, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (uint32_t id = 2; id < in->n; id++) {
		const char *s = in->names[id];
		uint32_t pos = (uint32_t)XXH3_64bits(s, strlen(s)) & mask;
		while (slots[pos] != 0)
			pos = (pos + 1) & mask;
		slots[pos] = id + 1;
	}
	free(in->slots);
	in->slots = slots;
	in->mask = mask;
	return 0;
}

static uint32_t
intern_add(struct intern *in, struct nudge_strv s, uint32_t pos)
{
	if (in->n == in->cap) {
		char **names = realloc(in->names, in->cap * 2 * sizeof(*names));
		if (names == NULL)
			return INTERN_OTHER;
		in->names = names;
		in->cap *= 2;
	}
	char *copy = malloc(s.len + 1);
	if (copy == NULL)
		return INTERN_OTHER;
	memcpy(copy, s.ptr, s.len);
	copy[s.len] = '\0';
	in->names[in->n] = copy;
	in->slots[pos] = in->n + 1;
	in->bytes += s.len + 1;
	return in->n++;
}

uint32_t
intern_id(struct intern *in, struct nudge_strv s)
{
	if (s.len == 0)
		return 0;
	if (s.len >= SESSION_PAGE_MAX)
		s.len = SESSION_PAGE_MAX - 1;
	if ((in->n + 1) * 4 > (in->mask + 1) * 3 && in->n < INTERN_MAX &&
	    intern_grow(in) != 0)
		return INTERN_OTHER;
	uint32_t pos = (uint32_t)XXH3_64bits(s.ptr, s.len) & in->mask;
	for (;;) {
		uint32_t e = in->slots[pos];
		if (e == 0)
			break;
		const char *name = in->names[e - 1];
		if (strncmp(name, s.ptr, s.len) == 0 && name[s.len] == '\0')
			return e - 1;
		pos = (pos + 1) & in->mask;
	}
	if (in->n >= INTERN_MAX)
		return INTERN_OTHER;
	return intern_add(in, s, pos);
}

const char *
intern_str(const struct intern *in, uint32_t id)
{
	return id < in->n ? in->names[id] : "";
}

size_t
intern_bytes(const struct intern *in)
{
	return in->bytes + (size_t)in->cap * sizeof(char *) +
	    (size_t)(in->mask + 1) * sizeof(uint32_t);
}
