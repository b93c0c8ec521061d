/*
 * sesstab.c - the sharded live session table.
 *
 * Owns every live session of the agent.  Each shard is guarded by its own
 * mutex; any thread may call any function, and no function holds two shard
 * locks at once, so there is no lock order to get wrong.
 *
 * Memory: a session is a fixed-size struct live in chunks of 1024 (indices
 * stay valid as the shard grows, and no realloc copies sessions; chunks of
 * 4096 left a shard up to 4095 unused sessions, a third more bytes per
 * live session at 100k sessions over 8 shards); the hash table holds
 * 32-bit indices with linear probing and backward-shift deletion (no
 * tombstones).  Page names and campaign names are interned per shard, so a
 * path entry costs 13 bytes (page, time, type, score) instead of a copy of
 * the URL.
 */
#include "sesstab.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "intern.h"
#include "qfilter.h"

#define CHUNK_SHIFT 10
#define CHUNK_SIZE (1u << CHUNK_SHIFT)
#define PATH_LEN 16
#define RECENT_MAX 64
#define CHANGED_MAX 256
#define ACTIVE_MS (5u * 60u * 1000u)
#define NO_INDEX UINT32_MAX

enum live_flag {
	LIVE_USED = 1,
	LIVE_CHANGED = 2,
	LIVE_EMAIL = 4		/* an email event was seen (session.email) */
};

struct live {
	uint64_t hash;
	uint64_t started_ms;
	uint64_t last_ms;
	uint64_t last_mono;
	uint32_t pages;
	uint32_t events;
	uint32_t cart_items;
	uint32_t purchases;
	int64_t cart_cents;
	int64_t revenue_cents;
	int32_t score;
	uint32_t last_page;	/* intern id */
	uint32_t campaign;	/* intern id */
	uint32_t utm_src;	/* intern id: rules test utm.source */
	uint32_t utm_med;	/* intern id: rules test utm.medium */
	uint32_t next_free;
	uint8_t step;
	uint8_t source;
	uint8_t device;
	uint8_t flags;
	char country[3];
	uint8_t path_n;		/* entries used, <= PATH_LEN */
	uint8_t path_head;	/* next entry to write */
	char visitor[EVENT_VISITOR_MAX + 1];
	uint16_t path_seq;	/* entries ever written, wrapping */
	uint32_t path_page[PATH_LEN];
	uint32_t path_dt[PATH_LEN]; /* ms after started_ms, saturating */
	/*
	 * The score once the entry's event and its rules were done: int32
	 * like the score itself, as an int16 would part from the session's
	 * score past 32767 (a rule may add up to 1000 per event).  64 bytes,
	 * well within the 512-byte budget per live session.
	 */
	int32_t path_score[PATH_LEN];
	uint8_t path_type[PATH_LEN];
	uint16_t xmarks[SESSION_XSLOTS]; /* experiment marks (camprt.h) */
};

struct shard {
	pthread_mutex_t lock;
	struct live **chunks;
	uint32_t n_chunks;
	uint32_t used;		/* high-water index */
	uint32_t free_head;
	uint32_t live;
	uint32_t *slots;	/* index + 1; 0 = empty */
	uint32_t slot_mask;
	struct intern names;
	struct agg counts;
	uint32_t changed[CHANGED_MAX];
	uint32_t n_changed;
	struct sesstab_event recent[RECENT_MAX];
	uint32_t recent_head;
	uint32_t recent_n;
} __attribute__((aligned(64)));

struct sesstab {
	struct sesstab_config cfg;
	unsigned n;
	atomic_uint_fast64_t rejected;
	unsigned changed_cursor;	/* shard to start sampling from */
	unsigned recent_cursor;
	struct shard *shards;
};

static uint64_t
visitor_hash(struct nudge_strv v)
{
	return XXH3_64bits(v.ptr, v.len);
}

static struct shard *
shard_of(struct sesstab *t, uint64_t hash)
{
	return &t->shards[(hash >> 40) % t->n];
}

static struct live *
live_at(struct shard *sh, uint32_t idx)
{
	return &sh->chunks[idx >> CHUNK_SHIFT][idx & (CHUNK_SIZE - 1)];
}

static int
shard_init(struct shard *sh)
{
	memset(sh, 0, sizeof(*sh));
	pthread_mutex_init(&sh->lock, NULL);
	sh->free_head = NO_INDEX;
	sh->slot_mask = 1023;
	sh->slots = calloc(sh->slot_mask + 1, sizeof(*sh->slots));
	agg_init(&sh->counts);
	if (sh->slots == NULL || intern_init(&sh->names) != 0)
		return NUDGE_ENOMEM;
	return 0;
}

static void
shard_fini(struct shard *sh)
{
	for (uint32_t i = 0; i < sh->n_chunks; i++)
		free(sh->chunks[i]);
	free(sh->chunks);
	free(sh->slots);
	intern_fini(&sh->names);
	pthread_mutex_destroy(&sh->lock);
}

int
sesstab_new(struct sesstab **out, const struct sesstab_config *cfg)
{
	struct sesstab *t;

	if (cfg->shards < 1 || cfg->shards > 256 || cfg->funnel == NULL)
		return NUDGE_EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NUDGE_ENOMEM;
	t->cfg = *cfg;
	t->n = cfg->shards;
	t->shards = aligned_alloc(64, sizeof(struct shard) * t->n);
	if (t->shards == NULL) {
		free(t);
		return NUDGE_ENOMEM;
	}
	for (unsigned i = 0; i < t->n; i++) {
		if (shard_init(&t->shards[i]) != 0) {
			for (unsigned j = 0; j <= i; j++)
				shard_fini(&t->shards[j]);
			free(t->shards);
			free(t);
			return NUDGE_ENOMEM;
		}
	}
	*out = t;
	return 0;
}

void
sesstab_free(struct sesstab *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < t->n; i++)
		shard_fini(&t->shards[i]);
	free(t->shards);
	free(t);
}

/* Finds the slot holding visitor v, or the empty slot where it would go. */
static uint32_t
slot_find(struct shard *sh, uint64_t hash, struct nudge_strv v, bool *found)
{
	uint32_t pos = (uint32_t)hash & sh->slot_mask;

	for (;;) {
		uint32_t e = sh->slots[pos];
		if (e == 0) {
			*found = false;
			return pos;
		}
		struct live *l = live_at(sh, e - 1);
		if (l->hash == hash && strncmp(l->visitor, v.ptr, v.len) == 0 &&
		    l->visitor[v.len] == '\0') {
			*found = true;
			return pos;
		}
		pos = (pos + 1) & sh->slot_mask;
	}
}

static int
slots_grow(struct shard *sh)
{
	uint32_t cap = (sh->slot_mask + 1) * 2;
	uint32_t *slots = calloc(cap, sizeof(*slots));

	if (slots == NULL)
		return NUDGE_ENOMEM;
	for (uint32_t i = 0; i <= sh->slot_mask; i++) {
		uint32_t e = sh->slots[i];
		if (e == 0)
			continue;
		uint32_t pos = (uint32_t)live_at(sh, e - 1)->hash & (cap - 1);
		while (slots[pos] != 0)
			pos = (pos + 1) & (cap - 1);
		slots[pos] = e;
	}
	free(sh->slots);
	sh->slots = slots;
	sh->slot_mask = cap - 1;
	return 0;
}

/* Removes the entry at pos, shifting later entries of its run back. */
static void
slot_delete(struct shard *sh, uint32_t pos)
{
	uint32_t mask = sh->slot_mask;
	uint32_t next = (pos + 1) & mask;

	while (sh->slots[next] != 0) {
		uint32_t home =
		    (uint32_t)live_at(sh, sh->slots[next] - 1)->hash & mask;
		/* next may move to pos if its home is not in (pos, next] */
		if (((next - home) & mask) >= ((next - pos) & mask)) {
			sh->slots[pos] = sh->slots[next];
			pos = next;
		}
		next = (next + 1) & mask;
	}
	sh->slots[pos] = 0;
}

static int
live_alloc(struct shard *sh, uint32_t *idx)
{
	if (sh->free_head != NO_INDEX) {
		*idx = sh->free_head;
		sh->free_head = live_at(sh, *idx)->next_free;
		return 0;
	}
	if ((sh->used >> CHUNK_SHIFT) == sh->n_chunks) {
		struct live **chunks = realloc(sh->chunks,
		    (sh->n_chunks + 1) * sizeof(*chunks));
		if (chunks == NULL)
			return NUDGE_ENOMEM;
		sh->chunks = chunks;
		chunks[sh->n_chunks] = malloc(CHUNK_SIZE * sizeof(struct live));
		if (chunks[sh->n_chunks] == NULL)
			return NUDGE_ENOMEM;
		sh->n_chunks++;
	}
	*idx = sh->used++;
	return 0;
}

static void
live_release(struct shard *sh, uint32_t idx)
{
	struct live *l = live_at(sh, idx);

	l->flags = 0;
	l->next_free = sh->free_head;
	sh->free_head = idx;
	sh->live--;
}

static struct live *
live_create(struct shard *sh, uint64_t hash, struct nudge_strv v,
    uint32_t slot)
{
	uint32_t idx;
	struct live *l;

	if ((sh->live + 1) * 10 > (sh->slot_mask + 1) * 7) {
		bool found;
		if (slots_grow(sh) != 0)
			return NULL;
		slot = slot_find(sh, hash, v, &found);
	}
	if (live_alloc(sh, &idx) != 0)
		return NULL;
	l = live_at(sh, idx);
	memset(l, 0, sizeof(*l));
	l->hash = hash;
	memcpy(l->visitor, v.ptr, v.len);
	l->visitor[v.len] = '\0';
	l->flags = LIVE_USED;
	sh->slots[slot] = idx + 1;
	sh->live++;
	return l;
}

static void
live_to_summary(struct shard *sh, const struct live *l,
    struct session_summary *s)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->visitor, l->visitor, sizeof(s->visitor));
	s->started_ms = l->started_ms;
	s->last_ms = l->last_ms;
	s->pages = l->pages;
	s->events = l->events;
	s->step = l->step;
	s->source = l->source;
	s->device = l->device;
	memcpy(s->country, l->country, sizeof(s->country));
	s->cart_items = l->cart_items;
	s->cart_cents = l->cart_cents;
	s->purchases = l->purchases;
	s->revenue_cents = l->revenue_cents;
	s->score = l->score;
	snprintf(s->last_page, sizeof(s->last_page), "%s",
	    intern_str(&sh->names, l->last_page));
	snprintf(s->utm_campaign, sizeof(s->utm_campaign), "%s",
	    intern_str(&sh->names, l->campaign));
	memcpy(s->xmarks, l->xmarks, sizeof(s->xmarks));
}

/* First event of a session: where it came from, who it is. */
static void
live_start(struct shard *sh, struct live *l, const struct nudge_event *ev,
    uint64_t wall)
{
	l->started_ms = wall;
	l->source = (uint8_t)event_classify_source(ev);
	l->device = ev->device;
	memcpy(l->country, ev->country, sizeof(l->country));
	if (ev->utm_campaign.len > 0)
		l->campaign = intern_id(&sh->names, ev->utm_campaign);
	if (ev->utm_source.len > 0)
		l->utm_src = intern_id(&sh->names, ev->utm_source);
	if (ev->utm_medium.len > 0)
		l->utm_med = intern_id(&sh->names, ev->utm_medium);
	sh->counts.c[AGG_SESSIONS_STARTED]++;
	hll_add_hash(&sh->counts.visitors, l->hash);
}

static void
live_path_push(struct shard *sh, struct live *l, const struct nudge_event *ev,
    uint64_t wall, uint32_t page_id)	/* NO_INDEX: not interned yet */
{
	uint64_t dt = wall > l->started_ms ? wall - l->started_ms : 0;
	uint8_t h = l->path_head;

	if (ev->type != EVENT_PAGEVIEW && ev->type != EVENT_ADD_TO_CART &&
	    ev->type != EVENT_CHECKOUT && ev->type != EVENT_PURCHASE &&
	    ev->type != EVENT_EXIT_INTENT && ev->type != EVENT_LOGIN &&
	    ev->type != EVENT_EMAIL && ev->type != EVENT_REFUND)
		return;
	if (page_id == NO_INDEX)
		page_id = ev->page.len ? intern_id(&sh->names, ev->page) : 0;
	l->path_page[h] = page_id;
	l->path_dt[h] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
	l->path_type[h] = ev->type;
	l->path_score[h] = l->score;	/* the rules add theirs afterwards */
	l->path_head = (uint8_t)((h + 1) % PATH_LEN);
	l->path_seq++;
	if (l->path_n < PATH_LEN)
		l->path_n++;
}

static void
live_count_money(struct shard *sh, struct live *l,
    const struct nudge_event *ev)
{
	int64_t qty = ev->quantity ? ev->quantity : 1;

	switch (ev->type) {
	case EVENT_ADD_TO_CART:
		l->cart_items += (uint32_t)qty;
		l->cart_cents += ev->value_cents * qty;
		break;
	case EVENT_REMOVE_FROM_CART:
		l->cart_items = l->cart_items > qty ? l->cart_items - qty : 0;
		l->cart_cents -= ev->value_cents * qty;
		if (l->cart_cents < 0 || l->cart_items == 0)
			l->cart_cents = 0;
		break;
	case EVENT_PURCHASE:
		l->purchases++;
		l->revenue_cents += ev->value_cents;
		l->cart_items = 0;
		l->cart_cents = 0;
		sh->counts.c[AGG_PURCHASES]++;
		sh->counts.c[AGG_REVENUE_CENTS] += (uint64_t)ev->value_cents;
		break;
	case EVENT_REFUND:
		sh->counts.c[AGG_REFUNDS]++;
		sh->counts.c[AGG_REFUNDED_CENTS] += (uint64_t)ev->value_cents;
		break;
	default:
		break;
	}
}

static void
live_advance_funnel(struct sesstab *t, struct shard *sh, struct live *l,
    const struct nudge_event *ev)
{
	uint8_t now = funnel_advance(t->cfg.funnel, l->step, ev);

	for (uint8_t k = l->step; k < now; k++) {
		sh->counts.c[AGG_FUNNEL(k)]++;
		sh->counts.c[AGG_FUNNEL_SOURCE(k, l->source)]++;
		sh->counts.c[AGG_FUNNEL_DEVICE(k, l->device)]++;
		sh->counts.c[AGG_FUNNEL_COUNTRY(k,
		    agg_country_index(l->country))]++;
	}
	l->step = now;
}

static void
shard_note_changed(struct shard *sh, struct live *l, uint32_t slot)
{
	if (l->flags & LIVE_CHANGED || sh->n_changed == CHANGED_MAX)
		return;
	l->flags |= LIVE_CHANGED;
	sh->changed[sh->n_changed++] = sh->slots[slot] - 1;
}

static void
shard_note_event(struct shard *sh, const struct nudge_event *ev,
    uint64_t wall)
{
	struct sesstab_event *e = &sh->recent[sh->recent_head];

	e->ts_ms = wall;
	e->type = ev->type;
	e->device = ev->device;
	memcpy(e->country, ev->country, sizeof(e->country));
	strv_copy(e->visitor, sizeof(e->visitor), ev->visitor);
	strv_copy(e->page, sizeof(e->page), ev->page);
	strv_copy(e->name, sizeof(e->name), ev->name);
	e->value_cents = ev->value_cents;
	sh->recent_head = (sh->recent_head + 1) % RECENT_MAX;
	if (sh->recent_n < RECENT_MAX)
		sh->recent_n++;
}

/* Copies src, cut to cap - 1 bytes (snprintf's "%s" cost ~15 vfprintf
 * calls per beacon on the hot path). */
static void
copy_cut(char *dst, size_t cap, const char *src)
{
	size_t n = strnlen(src, cap - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* What the rule engine sees of l, copied under the shard's lock. */
static void
live_view(struct shard *sh, const struct live *l, bool created,
    struct sesstab_view *out)
{
	out->live = true;
	out->created = created;
	out->started_ms = l->started_ms;
	out->last_ms = l->last_ms;
	out->pages = l->pages;
	out->events = l->events;
	out->step = l->step;
	out->source = l->source;
	out->device = l->device;
	memcpy(out->country, l->country, sizeof(out->country));
	out->email = (l->flags & LIVE_EMAIL) != 0;
	out->cart_items = l->cart_items;
	out->cart_cents = l->cart_cents;
	out->score = l->score;
	out->path_seq = l->path_seq;
	copy_cut(out->utm_campaign, sizeof(out->utm_campaign),
	    intern_str(&sh->names, l->campaign));
	copy_cut(out->utm_source, sizeof(out->utm_source),
	    intern_str(&sh->names, l->utm_src));
	copy_cut(out->utm_medium, sizeof(out->utm_medium),
	    intern_str(&sh->names, l->utm_med));
}

int
sesstab_apply(struct sesstab *t, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms)
{
	return sesstab_apply_view(t, ev, now_ms, now_wall_ms, NULL);
}

/*
 * One event on its shard, whose lock the caller holds (sesstab_apply_view
 * and sesstab_apply_batch share it, so both apply an event alike).
 */
static int
shard_apply(struct sesstab *t, struct shard *sh, const struct nudge_event *ev,
    uint64_t hash, uint64_t now_ms, uint64_t now_wall_ms,
    struct sesstab_view *view)
{
	uint64_t wall = ev->ts_ms ? ev->ts_ms : now_wall_ms;
	struct live *l;
	uint32_t slot, mask, page_id = NO_INDEX;
	bool found;

	sh->counts.c[AGG_EVENTS]++;
	sh->counts.c[AGG_TYPE(ev->type)]++;
	if (view != NULL)
		view->live = false;
	if (ev->device == DEVICE_BOT) {
		sh->counts.c[AGG_BOTS]++;
		return 0;
	}
	slot = slot_find(sh, hash, ev->visitor, &found);
	if (found) {
		l = live_at(sh, sh->slots[slot] - 1);
	} else {
		mask = sh->slot_mask;
		l = live_create(sh, hash, ev->visitor, slot);
		if (l == NULL) {
			sh->counts.c[AGG_EVENTS]--;
			sh->counts.c[AGG_TYPE(ev->type)]--;
			sh->counts.c[AGG_REJECTED]++;
			return NUDGE_ENOMEM;
		}
		if (sh->slot_mask != mask)	/* grown: it moved */
			slot = slot_find(sh, hash, ev->visitor, &found);
		live_start(sh, l, ev, wall);
		found = false;	/* remembered for the view: created */
	}
	l->events++;
	l->last_mono = now_ms;
	if (wall > l->last_ms)
		l->last_ms = wall;
	if (ev->type == EVENT_PAGEVIEW) {
		l->pages++;
		l->last_page = page_id = intern_id(&sh->names, ev->page);
	}
	if (l->country[0] == '\0' && ev->country[0] != '\0')
		memcpy(l->country, ev->country, sizeof(l->country));
	live_count_money(sh, l, ev);
	live_advance_funnel(t, sh, l, ev);
	live_path_push(sh, l, ev, wall, page_id);
	if (ev->type == EVENT_EMAIL)
		l->flags |= LIVE_EMAIL;
	shard_note_changed(sh, l, slot);
	shard_note_event(sh, ev, wall);
	if (view != NULL)
		live_view(sh, l, !found, view);
	return 0;
}

int
sesstab_apply_view(struct sesstab *t, const struct nudge_event *ev,
    uint64_t now_ms, uint64_t now_wall_ms, struct sesstab_view *view)
{
	uint64_t hash = visitor_hash(ev->visitor);
	struct shard *sh = shard_of(t, hash);
	int rv;

	pthread_mutex_lock(&sh->lock);
	rv = shard_apply(t, sh, ev, hash, now_ms, now_wall_ms, view);
	pthread_mutex_unlock(&sh->lock);
	return rv;
}

/* Starts loading the hash slot of a visitor, and a little later its
 * session, so that a batch's cache misses overlap. */
static void
batch_prefetch(struct shard *sh, uint64_t hash, bool deref)
{
	const uint32_t *slot = &sh->slots[(uint32_t)hash & sh->slot_mask];

	if (!deref) {
		__builtin_prefetch(slot);
		return;
	}
	if (*slot != 0)
		__builtin_prefetch(live_at(sh, *slot - 1));
}

#define BATCH_AHEAD 6

/* The events order[from, to) of one shard, whose lock the caller holds. */
static void
batch_group(struct sesstab *t, struct shard *sh,
    const struct nudge_event *const *ev, const uint64_t *hash,
    const uint32_t *order, uint32_t from, uint32_t to, uint64_t now_ms,
    uint64_t now_wall_ms, struct sesstab_view *views, int *rv)
{
	for (uint32_t k = from; k < to && k < from + BATCH_AHEAD; k++)
		batch_prefetch(sh, hash[order[k]], false);
	for (uint32_t k = from; k < to; k++) {
		uint32_t i = order[k];
		if (k + BATCH_AHEAD < to)
			batch_prefetch(sh, hash[order[k + BATCH_AHEAD]],
			    false);
		if (k + BATCH_AHEAD / 2 < to)
			batch_prefetch(sh, hash[order[k + BATCH_AHEAD / 2]],
			    true);
		rv[i] = shard_apply(t, sh, ev[i], hash[i], now_ms, now_wall_ms,
		    views ? &views[i] : NULL);
	}
}

int
sesstab_apply_batch(struct sesstab *t, const struct nudge_event *const *ev,
    size_t n, uint64_t now_ms, uint64_t now_wall_ms,
    struct sesstab_view *views, int *rv)
{
	uint64_t *hash = malloc(n * (sizeof(*hash) + sizeof(uint32_t)));
	uint32_t *order, start[257] = {0};
	bool busy[256] = {false};

	if (hash == NULL)
		return NUDGE_ENOMEM;
	order = (uint32_t *)(hash + n);
	/* a stable counting sort by shard: a visitor's events keep order */
	for (size_t i = 0; i < n; i++) {
		hash[i] = visitor_hash(ev[i]->visitor);
		start[shard_of(t, hash[i]) - t->shards + 1]++;
	}
	for (unsigned s = 0; s < t->n; s++)
		start[s + 1] += start[s];
	for (size_t i = 0; i < n; i++)
		order[start[shard_of(t, hash[i]) - t->shards]++] = (uint32_t)i;
	/*
	 * Shards another thread holds are put off to a second, blocking
	 * pass instead of waited for (a shard's group is applied whole, in
	 * order, either way).
	 */
	for (int pass = 0; pass < 2; pass++) {
		bool put_off = false;
		for (unsigned s = 0, from = 0; s < t->n; from = start[s++]) {
			struct shard *sh = &t->shards[s];

			if (from == start[s] || (pass == 1 && !busy[s]))
				continue;
			if (pass == 0 &&
			    pthread_mutex_trylock(&sh->lock) != 0) {
				busy[s] = put_off = true;
				continue;
			}
			if (pass == 1)
				pthread_mutex_lock(&sh->lock);
			batch_group(t, sh, ev, hash, order, from, start[s],
			    now_ms, now_wall_ms, views, rv);
			pthread_mutex_unlock(&sh->lock);
		}
		if (!put_off)
			break;
	}
	free(hash);
	return 0;
}

/* w | set, but the number in the bits of high only ever grows. */
static uint16_t
mark_merge(uint16_t w, uint16_t set, uint16_t high)
{
	uint16_t a = w & high, b = set & high;

	return (uint16_t)(((w | set) & ~high) | (a > b ? a : b));
}

int
sesstab_mark(struct sesstab *t, struct nudge_strv visitor,
    struct sesstab_mark *m, size_t n)
{
	uint64_t hash = visitor_hash(visitor);
	struct shard *sh = shard_of(t, hash);
	struct live *l;
	uint32_t slot;
	bool found;

	pthread_mutex_lock(&sh->lock);
	slot = slot_find(sh, hash, visitor, &found);
	if (!found) {
		pthread_mutex_unlock(&sh->lock);
		return NUDGE_ENOTFOUND;
	}
	l = live_at(sh, sh->slots[slot] - 1);
	for (size_t i = 0; i < n; i++) {
		uint16_t *w;
		if (m[i].slot >= SESSION_XSLOTS)
			continue;
		w = &l->xmarks[m[i].slot];
		m[i].had = *w;
		if (*w == 0)
			*w = m[i].init;
		*w = mark_merge(*w, m[i].set, m[i].high);
		m[i].now = *w;
	}
	pthread_mutex_unlock(&sh->lock);
	return 0;
}

void
sesstab_clear_slot(struct sesstab *t, unsigned slot)
{
	if (slot >= SESSION_XSLOTS)
		return;
	for (unsigned i = 0; i < t->n; i++) {
		struct shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		for (uint32_t k = 0; k < sh->used; k++) {
			struct live *l = live_at(sh, k);
			if (l->flags & LIVE_USED)
				l->xmarks[slot] = 0;
		}
		pthread_mutex_unlock(&sh->lock);
	}
}

static int32_t
score_plus(int32_t score, int32_t delta)
{
	int64_t v = (int64_t)score + delta;

	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN :
	    (int32_t)v;
}

/*
 * Adds delta to the session's score and to its path entries numbered
 * from_seq (mod 2^16, as path_seq counts them) up to the newest, or to the
 * newest alone when at_newest.
 */
static int
shard_add_score(struct sesstab *t, struct nudge_strv visitor, int32_t delta,
    bool at_newest, uint16_t from_seq)
{
	uint64_t hash = visitor_hash(visitor);
	struct shard *sh = shard_of(t, hash);
	uint32_t slot;
	bool found;

	pthread_mutex_lock(&sh->lock);
	slot = slot_find(sh, hash, visitor, &found);
	if (found) {
		struct live *l = live_at(sh, sh->slots[slot] - 1);
		uint32_t entries = at_newest ? 1 :
		    (uint16_t)(l->path_seq - from_seq);
		l->score = score_plus(l->score, delta);
		for (uint32_t k = 0; k < entries && k < l->path_n; k++) {
			uint32_t at = (l->path_head + PATH_LEN - 1 - k) %
			    PATH_LEN;
			l->path_score[at] = score_plus(l->path_score[at],
			    delta);
		}
		shard_note_changed(sh, l, slot);
	}
	pthread_mutex_unlock(&sh->lock);
	return found ? 0 : NUDGE_ENOTFOUND;
}

int
sesstab_add_score(struct sesstab *t, struct nudge_strv visitor,
    int32_t delta)
{
	return shard_add_score(t, visitor, delta, true, 0);
}

int
sesstab_add_score_at(struct sesstab *t, struct nudge_strv visitor,
    int32_t delta, uint16_t path_seq)
{
	/* the entry that was newest in the view: seq path_seq - 1 */
	return shard_add_score(t, visitor, delta, false,
	    (uint16_t)(path_seq - 1u));
}

void
sesstab_count_rejected(struct sesstab *t, uint64_t n)
{
	atomic_fetch_add(&t->rejected, n);
}

void
sesstab_sum(struct sesstab *t, struct agg *out)
{
	agg_init(out);
	for (unsigned i = 0; i < t->n; i++) {
		struct shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		agg_add(out, &sh->counts);
		pthread_mutex_unlock(&sh->lock);
	}
	out->c[AGG_REJECTED] += atomic_load(&t->rejected);
}

/* Sweeps one shard; returns sessions closed.  Called with the lock held. */
static size_t
shard_expire(struct shard *sh, uint64_t now_ms, uint32_t timeout,
    struct session_summary *batch, size_t cap, size_t *n, uint32_t *from)
{
	size_t closed = 0;
	uint64_t active = 0, carts = 0;

	for (uint32_t i = *from; i < sh->used; i++) {
		struct live *l = live_at(sh, i);
		/*
		 * An event applied since the caller read its clock is newer
		 * than now_ms: idle 0, not 2^64 - a little (that closed busy
		 * sessions mid-visit, splitting them in two).
		 */
		uint64_t idle = now_ms > l->last_mono ?
		    now_ms - l->last_mono : 0;
		if (!(l->flags & LIVE_USED))
			continue;
		if (now_ms == UINT64_MAX || idle >= timeout) {
			if (*n == cap) {
				*from = i;
				return closed;
			}
			bool found;
			struct nudge_strv v = strv_of(l->visitor);
			uint32_t slot = slot_find(sh, l->hash, v, &found);
			live_to_summary(sh, l, &batch[*n]);
			batch[(*n)++].closed = true;
			slot_delete(sh, slot);
			live_release(sh, i);
			sh->counts.c[AGG_SESSIONS_CLOSED]++;
			closed++;
			continue;
		}
		if (idle < ACTIVE_MS)
			active++;
		if (l->cart_items > 0)
			carts++;
	}
	*from = sh->used;
	sh->counts.g[AGG_SESSIONS_LIVE] = sh->live;
	sh->counts.g[AGG_VISITORS_ACTIVE] = active;
	sh->counts.g[AGG_CARTS_OPEN] = carts;
	return closed;
}

size_t
sesstab_expire(struct sesstab *t, uint64_t now_ms, sesstab_sink sink,
    void *arg)
{
	enum { BATCH = 256 };
	struct session_summary *batch = malloc(BATCH * sizeof(*batch));
	size_t closed = 0;

	if (batch == NULL)
		return 0;
	for (unsigned i = 0; i < t->n; i++) {
		struct shard *sh = &t->shards[i];
		uint32_t from = 0;
		for (;;) {
			size_t n = 0;
			pthread_mutex_lock(&sh->lock);
			closed += shard_expire(sh, now_ms, t->cfg.timeout_ms,
			    batch, BATCH, &n, &from);
			bool done = from >= sh->used;
			pthread_mutex_unlock(&sh->lock);
			if (n > 0 && sink != NULL)
				sink(arg, batch, n);
			if (done)
				break;
		}
	}
	free(batch);
	return closed;
}

int
sesstab_restore(struct sesstab *t, const struct session_summary *s,
    uint64_t now_ms)
{
	struct nudge_strv v = strv_of(s->visitor);
	uint64_t hash = visitor_hash(v);
	struct shard *sh = shard_of(t, hash);
	struct live *l;
	bool found;
	int rv = 0;

	pthread_mutex_lock(&sh->lock);
	uint32_t slot = slot_find(sh, hash, v, &found);
	if (found) {
		rv = NUDGE_EEXIST;
	} else if ((l = live_create(sh, hash, v, slot)) == NULL) {
		rv = NUDGE_ENOMEM;
	} else {
		l->started_ms = s->started_ms;
		l->last_ms = s->last_ms;
		l->last_mono = now_ms;
		l->pages = s->pages;
		l->events = s->events;
		l->step = s->step;
		l->source = s->source;
		l->device = s->device;
		memcpy(l->country, s->country, sizeof(l->country));
		l->cart_items = s->cart_items;
		l->cart_cents = s->cart_cents;
		l->purchases = s->purchases;
		l->revenue_cents = s->revenue_cents;
		l->score = s->score;
		l->last_page = intern_id(&sh->names, strv_of(s->last_page));
		l->campaign = intern_id(&sh->names, strv_of(s->utm_campaign));
		memcpy(l->xmarks, s->xmarks, sizeof(l->xmarks));
	}
	pthread_mutex_unlock(&sh->lock);
	return rv;
}

size_t
sesstab_changed(struct sesstab *t, struct session_summary *out, size_t cap)
{
	size_t n = 0;

	for (unsigned k = 0; k < t->n && n < cap; k++) {
		unsigned i = (t->changed_cursor + k) % t->n;
		struct shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		while (sh->n_changed > 0 && n < cap) {
			uint32_t idx = sh->changed[--sh->n_changed];
			struct live *l = live_at(sh, idx);
			if (!(l->flags & LIVE_USED) || !(l->flags & LIVE_CHANGED))
				continue;
			l->flags &= (uint8_t)~LIVE_CHANGED;
			live_to_summary(sh, l, &out[n++]);
		}
		pthread_mutex_unlock(&sh->lock);
	}
	t->changed_cursor = (t->changed_cursor + 1) % t->n;
	return n;
}

size_t
sesstab_recent_events(struct sesstab *t, struct sesstab_event *out,
    size_t cap)
{
	size_t n = 0;

	for (unsigned k = 0; k < t->n && n < cap; k++) {
		unsigned i = (t->recent_cursor + k) % t->n;
		struct shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		/*
		 * The newest that fit, oldest of them first; the older ones
		 * are dropped: a sample shown late is worse than one not
		 * shown (at low rates everything fits and nothing drops).
		 */
		uint32_t take = sh->recent_n < cap - n ? sh->recent_n :
		    (uint32_t)(cap - n);
		for (uint32_t j = 0; j < take; j++) {
			uint32_t at = (sh->recent_head + RECENT_MAX - take + j) %
			    RECENT_MAX;
			if (sh->recent[at].visitor[0] != '\0') /* forgotten */
				out[n++] = sh->recent[at];
		}
		sh->recent_n = 0;
		pthread_mutex_unlock(&sh->lock);
	}
	t->recent_cursor = (t->recent_cursor + 1) % t->n;
	return n;
}

/* The query's filter (qfilter.h); NULL matches everything. */
static bool
live_matches(struct shard *sh, const struct live *l, const struct qfilter *f)
{
	struct qfilter_subject s;

	if (f == NULL)
		return true;
	s.visitor = l->visitor;
	s.country = l->country;
	s.page = intern_str(&sh->names, l->last_page);
	s.campaign = intern_str(&sh->names, l->campaign);
	s.source = l->source;
	s.device = l->device;
	s.score = l->score;
	return qfilter_match(f, &s);
}

/*
 * Keeps the best k summaries seen so far in top[0..*n), sorted.  Insertion
 * is a binary search and a memmove: k is bounded by the page size limits.
 */
static void
top_insert(struct session_summary *top, size_t k, size_t *n,
    const struct session_summary *s, int sort)
{
	size_t lo = 0, hi = *n;

	if (*n == k && session_compare(s, &top[k - 1], sort) >= 0)
		return;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (session_compare(s, &top[mid], sort) < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	size_t keep = (*n == k ? k - 1 : *n) - lo;
	memmove(&top[lo + 1], &top[lo], keep * sizeof(*top));
	top[lo] = *s;
	if (*n < k)
		(*n)++;
}

int
sesstab_query(struct sesstab *t, int sort, const char *q, size_t off,
    size_t lim, struct session_summary *out, size_t *n, size_t *total)
{
	size_t k = off + lim, have = 0, matching = 0;
	struct session_summary *top, cur;
	struct qfilter qf, *f = NULL;
	struct nudge_diag d = {0};

	if (sort < 0 || sort >= SESSION_SORT_COUNT || k > 20000)
		return NUDGE_EINVAL;
	if (q != NULL && q[0] != '\0') {
		if (qfilter_parse(&qf, q, &d) != 0)
			return NUDGE_EINVAL;
		f = &qf;
	}
	if (k == 0) {
		*n = 0;
		*total = 0;
		return 0;
	}
	top = malloc(k * sizeof(*top));
	if (top == NULL)
		return NUDGE_ENOMEM;
	for (unsigned i = 0; i < t->n; i++) {
		struct shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		for (uint32_t j = 0; j < sh->used; j++) {
			struct live *l = live_at(sh, j);
			if (!(l->flags & LIVE_USED) || !live_matches(sh, l, f))
				continue;
			matching++;
			live_to_summary(sh, l, &cur);
			top_insert(top, k, &have, &cur, sort);
		}
		pthread_mutex_unlock(&sh->lock);
	}
	*n = have > off ? have - off : 0;
	if (*n > 0)
		memcpy(out, top + off, *n * sizeof(*out));
	*total = matching;
	free(top);
	return 0;
}

int
sesstab_visitor(struct sesstab *t, struct nudge_strv visitor,
    struct session_summary *s, struct session_step *path, size_t cap,
    size_t *n)
{
	uint64_t hash = visitor_hash(visitor);
	struct shard *sh = shard_of(t, hash);
	bool found;
	size_t got = 0;

	if (visitor.len == 0 || visitor.len > EVENT_VISITOR_MAX)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&sh->lock);
	uint32_t slot = slot_find(sh, hash, visitor, &found);
	if (!found) {
		pthread_mutex_unlock(&sh->lock);
		return NUDGE_ENOTFOUND;
	}
	struct live *l = live_at(sh, sh->slots[slot] - 1);
	live_to_summary(sh, l, s);
	uint32_t first = (l->path_head + PATH_LEN - l->path_n) % PATH_LEN;
	for (uint32_t i = 0; i < l->path_n && got < cap; i++) {
		uint32_t at = (first + i) % PATH_LEN;
		struct session_step *st = &path[got++];
		st->ts_ms = l->started_ms + l->path_dt[at];
		st->type = l->path_type[at];
		st->has_score = true;
		st->score = l->path_score[at];
		snprintf(st->page, sizeof(st->page), "%s",
		    intern_str(&sh->names, l->path_page[at]));
	}
	pthread_mutex_unlock(&sh->lock);
	*n = got;
	return 0;
}

int
sesstab_forget(struct sesstab *t, struct nudge_strv visitor)
{
	uint64_t hash = visitor_hash(visitor);
	struct shard *sh = shard_of(t, hash);
	bool found;

	if (visitor.len == 0 || visitor.len > EVENT_VISITOR_MAX)
		return NUDGE_EINVAL;
	pthread_mutex_lock(&sh->lock);
	uint32_t slot = slot_find(sh, hash, visitor, &found);
	if (found) {
		uint32_t idx = sh->slots[slot] - 1;
		slot_delete(sh, slot);
		live_release(sh, idx);
	}
	/* sampled events outlive a closed session: always wiped */
	for (uint32_t i = 0; i < RECENT_MAX; i++)
		if (strv_eq(visitor, sh->recent[i].visitor))
			memset(&sh->recent[i], 0, sizeof(sh->recent[i]));
	pthread_mutex_unlock(&sh->lock);
	return found ? 0 : NUDGE_ENOTFOUND;
}

void
sesstab_memory(struct sesstab *t, size_t *sessions, size_t *bytes)
{
	size_t live = 0, total = sizeof(*t) + t->n * sizeof(struct shard);

	for (unsigned i = 0; i < t->n; i++) {
		struct shard *sh = &t->shards[i];
		pthread_mutex_lock(&sh->lock);
		live += sh->live;
		total += (size_t)sh->n_chunks * CHUNK_SIZE * sizeof(struct live);
		total += (size_t)sh->n_chunks * sizeof(struct live *);
		total += (size_t)(sh->slot_mask + 1) * sizeof(uint32_t);
		total += intern_bytes(&sh->names);
		pthread_mutex_unlock(&sh->lock);
	}
	*sessions = live;
	*bytes = total;
}

size_t
sesstab_struct_size(void)
{
	return sizeof(struct live);
}
