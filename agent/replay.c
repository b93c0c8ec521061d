/*
 * replay.c - bounded request-id -> answer cache.  Any thread; one mutex.
 *
 * Entries live in a ring (FIFO eviction) indexed by an open-addressing
 * table of ring positions keyed by the id's first 8 bytes (ids are random).
 */
#include "replay.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TABLE_SIZE (REPLAY_SLOTS * 2)

struct replay_entry {
	uint8_t id[WIRE_ID_LEN];
	bool used;
	bool done;
	void *reply;
	size_t len;
};

struct replay {
	pthread_mutex_t lock;
	struct replay_entry ring[REPLAY_SLOTS];
	uint32_t head;			/* next ring slot to use */
	int32_t table[TABLE_SIZE];	/* ring index, -1 empty */
};

int
replay_new(struct replay **out)
{
	struct replay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NUDGE_ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	for (size_t i = 0; i < TABLE_SIZE; i++)
		r->table[i] = -1;
	*out = r;
	return 0;
}

void
replay_free(struct replay *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < REPLAY_SLOTS; i++)
		free(r->ring[i].reply);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static uint32_t
id_home(const uint8_t id[WIRE_ID_LEN])
{
	uint64_t h;

	memcpy(&h, id, sizeof(h));
	return (uint32_t)(h % TABLE_SIZE);
}

/* Table position holding id, or -1. */
static int64_t
table_find(struct replay *r, const uint8_t id[WIRE_ID_LEN])
{
	uint32_t pos = id_home(id);

	for (uint32_t probes = 0; probes < TABLE_SIZE; probes++) {
		int32_t e = r->table[pos];
		if (e < 0)
			return -1;
		if (memcmp(r->ring[e].id, id, WIRE_ID_LEN) == 0)
			return pos;
		pos = (pos + 1) % TABLE_SIZE;
	}
	return -1;
}

/* Backward-shift deletion keeps probe runs intact without tombstones. */
static void
table_delete(struct replay *r, uint32_t pos)
{
	uint32_t next = (pos + 1) % TABLE_SIZE;

	while (r->table[next] >= 0) {
		uint32_t home = id_home(r->ring[r->table[next]].id);
		uint32_t d_next = (next + TABLE_SIZE - home) % TABLE_SIZE;
		uint32_t d_pos = (next + TABLE_SIZE - pos) % TABLE_SIZE;
		if (d_next >= d_pos) {
			r->table[pos] = r->table[next];
			pos = next;
		}
		next = (next + 1) % TABLE_SIZE;
	}
	r->table[pos] = -1;
}

static void
ring_evict(struct replay *r, uint32_t slot)
{
	struct replay_entry *e = &r->ring[slot];

	if (!e->used)
		return;
	int64_t pos = table_find(r, e->id);
	if (pos >= 0)
		table_delete(r, (uint32_t)pos);
	free(e->reply);
	memset(e, 0, sizeof(*e));
}

int
replay_begin(struct replay *r, const uint8_t id[WIRE_ID_LEN], void **reply,
    size_t *len)
{
	int state = REPLAY_NEW;

	pthread_mutex_lock(&r->lock);
	int64_t pos = table_find(r, id);
	if (pos >= 0) {
		struct replay_entry *e = &r->ring[r->table[pos]];
		state = REPLAY_PENDING;
		if (e->done && (*reply = malloc(e->len ? e->len : 1)) != NULL) {
			memcpy(*reply, e->reply, e->len);
			*len = e->len;
			state = REPLAY_DONE;
		}
	} else {
		uint32_t slot = r->head;
		r->head = (r->head + 1) % REPLAY_SLOTS;
		ring_evict(r, slot);
		memcpy(r->ring[slot].id, id, WIRE_ID_LEN);
		r->ring[slot].used = true;
		uint32_t at = id_home(id);
		while (r->table[at] >= 0)
			at = (at + 1) % TABLE_SIZE;
		r->table[at] = (int32_t)slot;
	}
	pthread_mutex_unlock(&r->lock);
	return state;
}

void
replay_finish(struct replay *r, const uint8_t id[WIRE_ID_LEN],
    const void *reply, size_t len)
{
	pthread_mutex_lock(&r->lock);
	int64_t pos = table_find(r, id);
	if (pos >= 0) {
		struct replay_entry *e = &r->ring[r->table[pos]];
		void *copy = len <= REPLAY_REPLY_MAX ? malloc(len ? len : 1) : NULL;
		if (copy != NULL) {
			memcpy(copy, reply, len);
			e->reply = copy;
			e->len = len;
			e->done = true;
		} else {
			/* too large to keep: forget it rather than lie */
			ring_evict(r, (uint32_t)r->table[pos]);
		}
	}
	pthread_mutex_unlock(&r->lock);
}

void
replay_abandon(struct replay *r, const uint8_t id[WIRE_ID_LEN])
{
	pthread_mutex_lock(&r->lock);
	int64_t pos = table_find(r, id);
	if (pos >= 0)
		ring_evict(r, (uint32_t)r->table[pos]);
	pthread_mutex_unlock(&r->lock);
}
