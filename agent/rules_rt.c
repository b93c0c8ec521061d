/*
 * rules_rt.c - the live rules of the agent (see rules_rt.h for the
 * version diagram, the invariants and the cap clock).
 *
 * Owns: the two generation pointers (active, shadow) and the facts pointer,
 * swapped under ptr_mu; the visitor memory, sharded RRT_VSHARDS ways by the
 * visitor id's hash, each shard an open-addressed table under its own
 * mutex; the cap clock and the local hour/weekday, recomputed at most once
 * per second under clock_mu; the flusher thread.
 *
 * Threads: rrt_eval runs on every ingest thread (beacon workers, ingest
 * callbacks, the log tailer).  Per event it takes ptr_mu once (to acquire
 * the generations and facts) and the visitor's shard lock once (held while
 * the sets are evaluated, so two events of one visitor cannot both pass a
 * cap).  Writers (rrt_put, rrt_rollback, rrt_context_set) hold put_mu for
 * the whole compile-persist-swap and never take a shard lock.
 */
#include "rules_rt.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

#include "clock.h"
#include "facts.h"
#include "log.h"
#include "wire.h"

#define RRT_VSHARDS 64
#define RRT_FLUSH_BATCH 4096
#define RRT_LAST_SAVE_MS 60000 /* last_ms alone: written this often */
#define RRT_BLOB_VERSION 2
#define RRT_BLOB_V1 1		/* still read: entries without BLOB_SHOWN */
#define BLOB_SHOWN 0x80		/* in an entry's n_ts byte: hist.shown */
#define RRT_BLOB_MAX (1 + 8 + 1 + 1 + RRT_HIST_MAX * (4 + 2 + 1 + 4 * RRT_TS_MAX))
#define RRT_CLOCK_KEY "rules.cap_clock_ms"
#define RRT_RING 60

struct rrt_ctr {
	atomic_uint_fast64_t m, s, c, sh, ho, sho, nd;
};

struct rrt_ring {
	uint64_t m[RRT_RING], sh[RRT_RING], sho[RRT_RING];
};

/* One applied version of one kind: immutable but for its counters. */
struct rrt_gen {
	atomic_uint refs;
	int kind;
	struct rule_set *set;	/* NULL: stored but not runnable */
	uint64_t version;
	char hash[17];
	uint64_t ts_ms;
	char who[64];
	unsigned n_rules;
	struct rrt_ctr *ctr;	/* n_rules */
	struct rrt_ring *ring;	/* min(n_rules, RRT_RATE_RULES); flusher only */
	unsigned ring_at;
	size_t watch_len;	/* 0: nothing to watch */
	char watch[RRT_WATCH_JSON_MAX]; /* rrt_watch_json */
};

struct vhist {
	uint32_t key;		/* rule_info.key */
	uint16_t sess_n;	/* firings in the session of session_ms */
	uint8_t n_ts;
	uint8_t shown;		/* a visible action's, not a score's or holdout's */
	uint32_t ts[RRT_TS_MAX]; /* cap clock seconds, newest first */
};

struct vmem {
	uint64_t vhash;		/* 0: empty slot */
	uint64_t session_ms;	/* start of the session sess_n counts */
	uint64_t last_ms, prev_ms;
	uint64_t saved_ms;	/* last_ms as last written to the store */
	uint32_t orders, sessions;
	bool dirty;
	bool shown_session;	/* something was shown in this session */
	uint8_t n_hist;
	struct vhist h[RRT_HIST_MAX];
};

struct vshard {
	pthread_mutex_t mu;
	struct vmem *slots;
	uint32_t mask;
	uint32_t n, max;
} __attribute__((aligned(64)));

struct rrt {
	struct store *st;
	pthread_mutex_t put_mu;		/* writers */
	pthread_mutex_t ptr_mu;		/* the pointers below */
	struct rrt_gen *gen[RRT_KINDS];
	struct facts *facts;
	pthread_mutex_t flush_mu;	/* rrt_flush vs rrt_forget_visitor */
	pthread_mutex_t clock_mu;
	atomic_uint_fast64_t clock_sec;	/* mono second of the values below */
	atomic_uint_fast64_t cap_ms;	/* cap clock */
	atomic_uint hour, wday;
	uint64_t clock_mono;		/* clock_mu: mono ms of cap_ms */
	rrt_variant_fn variant;
	void *variant_arg;
	rrt_swap_fn swap;		/* put_mu */
	void *swap_arg;
	struct vshard vs[RRT_VSHARDS];
	pthread_t thread;
	bool running;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
};

/* ---- generations ------------------------------------------------------- */

static void
gen_free(struct rrt_gen *g)
{
	if (g == NULL)
		return;
	rule_set_free(g->set);
	free(g->ctr);
	free(g->ring);
	free(g);
}

static void
gen_release(struct rrt_gen *g)
{
	if (g != NULL && atomic_fetch_sub(&g->refs, 1) == 1)
		gen_free(g);
}

/* Takes a reference to both generations and the facts: invariant 3. */
static void
rrt_acquire(struct rrt *r, struct rrt_gen *g[RRT_KINDS],
    struct facts **f)
{
	pthread_mutex_lock(&r->ptr_mu);
	for (int k = 0; k < RRT_KINDS; k++)
		if ((g[k] = r->gen[k]) != NULL)
			atomic_fetch_add(&g[k]->refs, 1);
	if ((*f = r->facts) != NULL)
		facts_hold(*f);
	pthread_mutex_unlock(&r->ptr_mu);
}

static void
rrt_release(struct rrt_gen *g[RRT_KINDS], struct facts *f)
{
	for (int k = 0; k < RRT_KINDS; k++)
		gen_release(g[k]);
	facts_release(f);
}

static struct rrt_gen *
gen_get(struct rrt *r, int kind)
{
	struct rrt_gen *g;

	pthread_mutex_lock(&r->ptr_mu);
	if ((g = r->gen[kind]) != NULL)
		atomic_fetch_add(&g->refs, 1);
	pthread_mutex_unlock(&r->ptr_mu);
	return g;
}

static void
text_hash(const char *text, size_t len, char out[17])
{
	snprintf(out, 17, "%016llx",
	    (unsigned long long)XXH3_64bits(text, len));
}

/* The JSON array of the set's watched selectors, once per generation. */
static void
watch_build(struct rrt_gen *g)
{
	char sel[RULE_WATCH_MAX][RULE_WATCH_SEL_MAX + 1];
	unsigned n = rule_set_watch(g->set, sel, RULE_WATCH_MAX);
	size_t at = 0;

	g->watch[0] = '\0';
	for (unsigned i = 0; i < n; i++)
		at += (size_t)snprintf(g->watch + at, sizeof(g->watch) - at,
		    "%s\"%s\"", i ? "," : "[", sel[i]);
	if (n > 0)
		at += (size_t)snprintf(g->watch + at, sizeof(g->watch) - at,
		    "]");
	g->watch_len = at;
}

/* A generation for set (taken over) and its metadata; NULL if no memory. */
static struct rrt_gen *
gen_new(const struct store_rules *meta, struct rule_set *set)
{
	struct rrt_gen *g = calloc(1, sizeof(*g));
	unsigned n = set ? rule_set_count(set) : 0;
	unsigned nr = n < RRT_RATE_RULES ? n : RRT_RATE_RULES;

	if (g == NULL)
		return NULL;
	atomic_init(&g->refs, 1);
	g->kind = meta->kind;
	g->set = set;
	g->version = meta->version;
	memcpy(g->hash, meta->hash, sizeof(g->hash));
	g->ts_ms = meta->ts_ms;
	snprintf(g->who, sizeof(g->who), "%s", meta->who);
	g->n_rules = n;
	watch_build(g);
	g->ctr = calloc(n ? n : 1, sizeof(*g->ctr));
	g->ring = calloc(nr ? nr : 1, sizeof(*g->ring));
	if (g->ctr == NULL || g->ring == NULL) {
		g->set = NULL;	/* not taken over on failure */
		gen_free(g);
		return NULL;
	}
	return g;
}

/* Swaps g in for its kind; the old one goes when its last reader does. */
static void
gen_swap(struct rrt *r, struct rrt_gen *g)
{
	struct rrt_gen *old;

	pthread_mutex_lock(&r->ptr_mu);
	old = r->gen[g->kind];
	r->gen[g->kind] = g;
	pthread_mutex_unlock(&r->ptr_mu);
	gen_release(old);
}

/* ---- the clocks -------------------------------------------------------- */

/*
 * The cap clock follows the monotonic clock and slews towards the wall
 * clock by at most 1% of the time elapsed (see rules_rt.h).
 */
static void
clock_update(struct rrt *r, uint64_t mono, uint64_t wall)
{
	uint64_t cap = atomic_load(&r->cap_ms), dt, lo, hi, next;
	struct tm tm;
	time_t t;

	dt = mono > r->clock_mono ? mono - r->clock_mono : 0;
	lo = cap + dt - dt / 100;
	hi = cap + dt + dt / 100;
	next = wall < lo ? lo : wall > hi ? hi : wall;
	if (r->clock_mono == 0)
		next = wall > cap ? wall : cap;	/* first tick after start */
	r->clock_mono = mono;
	atomic_store(&r->cap_ms, next);
	t = (time_t)(wall / 1000);
	if (localtime_r(&t, &tm) != NULL) {
		atomic_store(&r->hour, (unsigned)tm.tm_hour);
		atomic_store(&r->wday, (unsigned)((tm.tm_wday + 6) % 7));
	}
}

/* Refreshes the clocks once per monotonic second; cheap otherwise. */
static void
clock_tick(struct rrt *r, uint64_t mono, uint64_t wall)
{
	uint64_t sec = mono / 1000 + 1;

	if (atomic_load_explicit(&r->clock_sec, memory_order_acquire) == sec)
		return;
	pthread_mutex_lock(&r->clock_mu);
	if (atomic_load(&r->clock_sec) != sec) {
		clock_update(r, mono, wall);
		atomic_store_explicit(&r->clock_sec, sec, memory_order_release);
	}
	pthread_mutex_unlock(&r->clock_mu);
}

/* ---- visitor memory ---------------------------------------------------- */

static uint64_t
vhash_of(struct nudge_strv v)
{
	uint64_t h = XXH3_64bits(v.ptr, v.len);

	return h ? h : 1;	/* 0 marks an empty slot */
}

static struct vshard *
vshard_of(struct rrt *r, uint64_t h)
{
	return &r->vs[(h >> 52) % RRT_VSHARDS];
}

static uint32_t
vslot(const struct vshard *s, uint64_t h, bool *found)
{
	uint32_t i = (uint32_t)h & s->mask;

	while (s->slots[i].vhash != 0) {
		if (s->slots[i].vhash == h) {
			*found = true;
			return i;
		}
		i = (i + 1) & s->mask;
	}
	*found = false;
	return i;
}

/* Backward-shift deletion: linear probing stays valid without tombstones. */
static void
vdelete(struct vshard *s, uint32_t i)
{
	uint32_t j = i;

	s->slots[i].vhash = 0;
	for (;;) {
		j = (j + 1) & s->mask;
		if (s->slots[j].vhash == 0)
			break;
		uint32_t home = (uint32_t)s->slots[j].vhash & s->mask;
		if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
			s->slots[i] = s->slots[j];
			s->slots[j].vhash = 0;
			i = j;
		}
	}
	s->n--;
}

/*
 * Forgets the least recently seen of a sample of 16 neighbouring slots
 * (bounded memory).  A sample, like Redis's approximated LRU: scanning 256
 * slots cost a quarter of the agent's CPU once the memory was full and
 * every new visitor evicted one (bench/ingest.sh, 2026-12-02).
 */
static void
vevict(struct vshard *s, uint32_t from)
{
	uint32_t best = UINT32_MAX;
	uint64_t oldest = UINT64_MAX;

	for (uint32_t k = 0, i = from; k <= s->mask && k < 16; k++,
	    i = (i + 1) & s->mask)
		if (s->slots[i].vhash != 0 && s->slots[i].last_ms < oldest) {
			oldest = s->slots[i].last_ms;
			best = i;
		}
	if (best != UINT32_MAX)
		vdelete(s, best);
}

static struct vmem *
vget(struct vshard *s, uint64_t h)
{
	bool found;
	uint32_t i = vslot(s, h, &found);

	if (found)
		return &s->slots[i];
	if (s->n >= s->max) {
		vevict(s, i);
		i = vslot(s, h, &found);
	}
	memset(&s->slots[i], 0, sizeof(s->slots[i]));
	s->slots[i].vhash = h;
	s->n++;
	return &s->slots[i];
}

static struct vhist *
hist_find(struct vmem *vm, uint32_t key)
{
	for (unsigned i = 0; i < vm->n_hist; i++)
		if (vm->h[i].key == key)
			return &vm->h[i];
	return NULL;
}

/*
 * The entry that makes room for a new one: the stalest of the scores' and
 * holdouts' entries, and only when there are none the stalest of the
 * shown actions'.  Forgetting a score's history lets it score again;
 * forgetting an action's shows the visitor the same thing again, which
 * the caps are there to prevent.
 */
static unsigned
hist_victim(const struct vmem *vm)
{
	unsigned victim = RRT_HIST_MAX;

	for (int pass = 0; pass < 2 && victim == RRT_HIST_MAX; pass++)
		for (unsigned i = 0; i < RRT_HIST_MAX; i++)
			if ((pass == 1 || !vm->h[i].shown) &&
			    (victim == RRT_HIST_MAX ||
			    vm->h[i].ts[0] < vm->h[victim].ts[0]))
				victim = i;
	return victim;
}

/* The rule's entry, made if needed (hist_victim makes room). */
static struct vhist *
hist_take(struct vmem *vm, uint32_t key, bool shown)
{
	struct vhist *h = hist_find(vm, key);
	unsigned victim;

	if (h == NULL) {
		victim = vm->n_hist < RRT_HIST_MAX ? vm->n_hist++ :
		    hist_victim(vm);
		h = &vm->h[victim];
		memset(h, 0, sizeof(*h));
		h->key = key;
	}
	h->shown |= shown;
	return h;
}

static void
hist_record(struct vmem *vm, uint32_t key, uint32_t now_sec, bool shown)
{
	struct vhist *h = hist_take(vm, key, shown);

	memmove(&h->ts[1], &h->ts[0], (RRT_TS_MAX - 1) * sizeof(h->ts[0]));
	h->ts[0] = now_sec;
	if (h->n_ts < RRT_TS_MAX)
		h->n_ts++;
	if (h->sess_n < UINT16_MAX)
		h->sess_n++;
	vm->dirty = true;
}

/* A new session for this visitor: session caps restart. */
static void
vmem_session(struct vmem *vm, const struct sesstab_view *sv)
{
	if (vm->session_ms == sv->started_ms)
		return;
	if (vm->session_ms != 0 || vm->last_ms != 0)
		vm->prev_ms = vm->last_ms;
	vm->session_ms = sv->started_ms;
	vm->sessions++;
	vm->shown_session = false;
	for (unsigned i = 0; i < vm->n_hist; i++)
		vm->h[i].sess_n = 0;
	vm->dirty = true;
}

/* ---- the cap history's blob (table visitors, column caps) -------------- */

static size_t
blob_put(const struct vmem *vm, uint8_t *b)
{
	size_t n = 0;

	b[n++] = RRT_BLOB_VERSION;
	for (int i = 0; i < 8; i++)
		b[n++] = (uint8_t)(vm->session_ms >> (8 * i));
	b[n++] = vm->shown_session;
	b[n++] = vm->n_hist;
	for (unsigned i = 0; i < vm->n_hist; i++) {
		const struct vhist *h = &vm->h[i];
		for (int k = 0; k < 4; k++)
			b[n++] = (uint8_t)(h->key >> (8 * k));
		b[n++] = (uint8_t)h->sess_n;
		b[n++] = (uint8_t)(h->sess_n >> 8);
		b[n++] = (uint8_t)(h->n_ts | (h->shown ? BLOB_SHOWN : 0));
		for (unsigned t = 0; t < h->n_ts; t++)
			for (int k = 0; k < 4; k++)
				b[n++] = (uint8_t)(h->ts[t] >> (8 * k));
	}
	return n;
}

static uint64_t
le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/*
 * Decodes what blob_put wrote, or version 1 (before entries said whether
 * they were a shown action's: taken as shown, the side that protects the
 * visitor); a blob it cannot read leaves no history.
 */
static void
blob_get(struct vmem *vm, const uint8_t *b, size_t len)
{
	size_t n = 11;
	unsigned count;

	if (len < 11 || (b[0] != RRT_BLOB_VERSION && b[0] != RRT_BLOB_V1) ||
	    b[10] > RRT_HIST_MAX)
		return;
	vm->session_ms = le(b + 1, 8);
	vm->shown_session = b[9] != 0;
	count = b[10];
	for (unsigned i = 0; i < count; i++) {
		struct vhist h = {0};
		if (n + 7 > len)
			return;
		h.key = (uint32_t)le(b + n, 4);
		h.sess_n = (uint16_t)le(b + n + 4, 2);
		h.n_ts = b[n + 6] & (uint8_t)~BLOB_SHOWN;
		h.shown = b[0] == RRT_BLOB_V1 || (b[n + 6] & BLOB_SHOWN) != 0;
		n += 7;
		if (h.n_ts > RRT_TS_MAX || n + 4u * h.n_ts > len)
			return;
		for (unsigned t = 0; t < h.n_ts; t++, n += 4)
			h.ts[t] = (uint32_t)le(b + n, 4);
		vm->h[vm->n_hist++] = h;
	}
}

static void
load_visitor(void *arg, const struct store_visitor *v)
{
	struct rrt *r = arg;
	struct vshard *s = vshard_of(r, v->vhash ? v->vhash : 1);
	struct vmem *vm;

	if (v->vhash == 0 || s->n >= s->max)
		return;	/* newest first: the rest are the least recent */
	vm = vget(s, v->vhash);
	vm->orders = v->orders;
	vm->sessions = v->sessions;
	vm->last_ms = vm->saved_ms = v->last_ms;
	vm->prev_ms = v->prev_ms;
	blob_get(vm, v->caps, v->caps_len);
}

/* ---- evaluation -------------------------------------------------------- */

struct eval_arg {
	struct rrt *r;
	const struct rrt_gen *g;
	const struct facts *facts;
	struct vmem *vm;
	uint32_t now_sec;
	struct nudge_strv visitor;
};

static bool
eval_fact(void *arg, struct nudge_strv key, struct nudge_strv index,
    struct rule_value *out)
{
	const struct eval_arg *ea = arg;

	return facts_get(ea->facts, key, index, out);
}

static int
eval_variant(void *arg, unsigned campaign)
{
	const struct eval_arg *ea = arg;

	if (ea->r->variant == NULL)
		return -1;
	return ea->r->variant(ea->r->variant_arg, ea->g->set, campaign,
	    ea->visitor);
}

static bool
eval_cap_ok(void *arg, unsigned rule, const struct rule_cap *cap)
{
	const struct eval_arg *ea = arg;
	const struct rule_info *ri = rule_set_rule(ea->g->set, rule);
	const struct vhist *h = ri ? hist_find(ea->vm, ri->key) : NULL;
	unsigned limit = cap->count, in = 0;
	uint32_t window;

	if (h == NULL)
		return cap->count > 0;
	if (cap->window == RULE_PER_SESSION)
		return h->sess_n < cap->count;
	if (limit > RRT_TS_MAX)
		limit = RRT_TS_MAX;	/* enforced on the safe side */
	window = (uint32_t)cap->days * 86400u;
	for (unsigned t = 0; t < h->n_ts; t++)
		/* a time in the future (clock stepped back) still counts */
		if (h->ts[t] > ea->now_sec || ea->now_sec - h->ts[t] < window)
			in++;
	return in < limit;
}

static void
subject_fill(struct rule_subject *s, const struct nudge_event *ev,
    const struct sesstab_view *sv, const struct vmem *vm, uint64_t wall)
{
	memset(s, 0, sizeof(*s));
	s->visitor = ev->visitor;
	memcpy(s->country, sv->country, sizeof(s->country));
	s->device = sv->device;
	s->source = sv->source;
	s->source_campaign = strv_of(sv->utm_campaign);
	s->utm_source = strv_of(sv->utm_source);
	s->utm_medium = strv_of(sv->utm_medium);
	s->utm_campaign = strv_of(sv->utm_campaign);
	s->region = strv_of(sv->country);
	for (unsigned i = 0; i < ev->n_fields; i++)
		if (strv_eq(ev->fields[i].key, "region"))
			s->region = ev->fields[i].val;
	s->steps = sv->step;
	s->pages = sv->pages;
	s->events = sv->events;
	s->seconds = sv->last_ms > sv->started_ms ?
	    (uint32_t)((sv->last_ms - sv->started_ms) / 1000) : 0;
	s->email_known = sv->email;
	s->cart_items = sv->cart_items;
	s->cart_cents = sv->cart_cents;
	s->score = sv->score;
	s->orders = vm->orders;
	s->sessions = vm->sessions;
	s->days_since_last_visit = vm->prev_ms == 0 || wall < vm->prev_ms ? -1 :
	    (int32_t)((wall - vm->prev_ms) / 86400000u);
}

static void
shown_add(struct rrt_shown *sh, const struct rule_set *set,
    const struct rule_action *a)
{
	struct rrt_decision *d = &sh->d[sh->n++];
	const struct rule_info *ri = rule_set_rule(set, a->rule);

	d->kind = a->kind;
	snprintf(d->id, sizeof(d->id), "%s", ri ? ri->name : "");
	snprintf(d->sel, sizeof(d->sel), "%s", a->arg ? a->arg : "");
	memcpy(d->text, a->text, sizeof(d->text));
}

/* A holdout rule fired on the beacon path: the campaign runtime counts it. */
static void
trial_add(struct rrt_shown *sh, const struct rule_info *ri, bool held)
{
	struct rrt_trial *t;

	if (sh == NULL || ri == NULL || ri->holdout_bp == 0 ||
	    sh->n_trials >= RRT_SHOWN_MAX)
		return;
	t = &sh->trial[sh->n_trials++];
	snprintf(t->rule, sizeof(t->rule), "%s", ri->name);
	t->held = held;
}

/* Records and counts the active set's result (see rules_rt.h: delivery). */
static void
record_active(struct eval_arg *ea, const struct rule_out *o,
    struct rrt_shown *shown)
{
	const struct rrt_gen *g = ea->g;

	for (unsigned i = 0; i < o->n_scored; i++) {
		const struct rule_info *ri = rule_set_rule(g->set, o->scored[i]);
		atomic_fetch_add(&g->ctr[o->scored[i]].m, 1);
		hist_record(ea->vm, ri->key, ea->now_sec, false);
	}
	for (unsigned i = 0; i < o->n; i++) {
		const struct rule_action *a = &o->act[i];
		struct rrt_ctr *c = &g->ctr[a->rule];
		uint32_t key = rule_set_rule(g->set, a->rule)->key;

		atomic_fetch_add(&c->m, 1);
		if (a->shadow) {
			atomic_fetch_add(&c->sh, 1);
			if (ea->vm->shown_session)
				atomic_fetch_add(&c->sho, 1);
		} else if (a->holdout) {
			atomic_fetch_add(&c->ho, 1);
			hist_record(ea->vm, key, ea->now_sec, false);
			trial_add(shown, rule_set_rule(g->set, a->rule), true);
		} else if (shown != NULL && shown->n < RRT_SHOWN_MAX) {
			shown_add(shown, g->set, a);
			trial_add(shown, rule_set_rule(g->set, a->rule), false);
			atomic_fetch_add(&c->s, 1);
			hist_record(ea->vm, key, ea->now_sec, true);
			ea->vm->shown_session = true;
		} else {
			atomic_fetch_add(&c->nd, 1);
		}
	}
	for (unsigned i = 0; i < o->n_capped && i < RULE_OUT_MAX; i++) {
		atomic_fetch_add(&g->ctr[o->capped[i]].m, 1);
		atomic_fetch_add(&g->ctr[o->capped[i]].c, 1);
	}
}

/* The shadow set: counted only, never recorded, never shown. */
static void
record_shadow(struct eval_arg *ea, const struct rule_out *o)
{
	const struct rrt_gen *g = ea->g;

	for (unsigned i = 0; i < o->n_scored; i++) {
		atomic_fetch_add(&g->ctr[o->scored[i]].m, 1);
		atomic_fetch_add(&g->ctr[o->scored[i]].sh, 1);
	}
	for (unsigned i = 0; i < o->n; i++) {
		struct rrt_ctr *c = &g->ctr[o->act[i].rule];
		atomic_fetch_add(&c->m, 1);
		atomic_fetch_add(&c->sh, 1);
		if (ea->vm->shown_session)
			atomic_fetch_add(&c->sho, 1);
	}
	for (unsigned i = 0; i < o->n_capped && i < RULE_OUT_MAX; i++) {
		atomic_fetch_add(&g->ctr[o->capped[i]].m, 1);
		atomic_fetch_add(&g->ctr[o->capped[i]].c, 1);
	}
}

static void
eval_one(struct eval_arg *ea, const struct rule_ctx *base, bool shadow,
    struct rrt_shown *shown, int32_t *score)
{
	struct rule_out o;
	struct rule_ctx ctx = *base;

	ctx.arg = ea;
	if (rule_eval(ea->g->set, &ctx, &o) != 0)
		return;
	if (shadow) {
		record_shadow(ea, &o);
		return;
	}
	record_active(ea, &o, shown);
	*score = o.score;
}

int
rrt_eval(struct rrt *r, const struct nudge_event *ev,
    const struct sesstab_view *sv, uint64_t now_mono_ms,
    uint64_t now_wall_ms, struct rrt_shown *shown, int32_t *score)
{
	struct rrt_gen *g[RRT_KINDS];
	struct facts *facts;
	struct rule_subject subj;
	uint64_t h;
	struct vshard *vs;
	struct eval_arg ea;
	int32_t delta = 0;

	if (r == NULL || ev == NULL || sv == NULL || !sv->live)
		return 0;
	clock_tick(r, now_mono_ms, now_wall_ms);
	rrt_acquire(r, g, &facts);
	h = vhash_of(ev->visitor);
	vs = vshard_of(r, h);
	pthread_mutex_lock(&vs->mu);
	ea = (struct eval_arg){r, NULL, facts, vget(vs, h),
	    (uint32_t)(atomic_load(&r->cap_ms) / 1000), ev->visitor};
	vmem_session(ea.vm, sv);
	subject_fill(&subj, ev, sv, ea.vm, now_wall_ms);
	struct rule_ctx ctx = {
		.ev = ev, .subj = &subj,
		.hour = (uint8_t)atomic_load(&r->hour),
		.weekday = (uint8_t)atomic_load(&r->wday),
		.fact = eval_fact, .variant = eval_variant,
		.cap_ok = eval_cap_ok,
	};
	for (int k = 0; k < RRT_KINDS; k++)
		if (g[k] != NULL && g[k]->set != NULL) {
			ea.g = g[k];
			eval_one(&ea, &ctx, k == RRT_SHADOW, shown, &delta);
		}
	if (ev->type == EVENT_PURCHASE) {
		ea.vm->orders++;
		ea.vm->dirty = true;
	}
	/*
	 * The time of the latest event alone is written at most every
	 * RRT_LAST_SAVE_MS (and at a stop): it only serves days since the
	 * last visit and retention, both counted in days, so that the
	 * store's writes follow sessions and firings, not events.
	 */
	ea.vm->last_ms = now_wall_ms;
	if (now_wall_ms - ea.vm->saved_ms >= RRT_LAST_SAVE_MS)
		ea.vm->dirty = true;
	pthread_mutex_unlock(&vs->mu);
	rrt_release(g, facts);
	if (score != NULL)
		*score = delta;
	return 0;
}

void
rrt_set_variant_fn(struct rrt *r, rrt_variant_fn fn, void *arg)
{
	r->variant = fn;
	r->variant_arg = arg;
}

/* Tells the swap hook about the active set in force (put_mu held). */
static void
swap_notify(struct rrt *r)
{
	struct rrt_gen *g;

	if (r->swap == NULL)
		return;
	g = gen_get(r, RRT_ACTIVE);
	r->swap(r->swap_arg, g != NULL ? g->set : NULL);
	gen_release(g);
}

void
rrt_set_swap_fn(struct rrt *r, rrt_swap_fn fn, void *arg)
{
	pthread_mutex_lock(&r->put_mu);
	r->swap = fn;
	r->swap_arg = arg;
	swap_notify(r);
	pthread_mutex_unlock(&r->put_mu);
}

/* ---- pushes ------------------------------------------------------------ */

static int
put_locked(struct rrt *r, const struct rrt_put *p, uint64_t *applied,
    struct rule_errors *errs, struct nudge_diag *d)
{
	struct rrt_gen *cur = gen_get(r, p->kind), *g;
	struct store_rules meta = {.kind = (uint8_t)p->kind};
	uint64_t now = cur ? cur->version : 0;
	struct rule_set *set = NULL;
	int rv;

	text_hash(p->text, p->len, meta.hash);
	meta.version = p->version ? p->version : now + 1;
	if (meta.version <= now) {
		bool same = meta.version == now &&
		    strcmp(meta.hash, cur->hash) == 0;
		gen_release(cur);
		if (same) {
			*applied = now;
			return 0;
		}
		nudge_diag_set(d, 0, 0, "version %llu is not newer than the "
		    "version in force (%llu)", (unsigned long long)meta.version,
		    (unsigned long long)now);
		return NUDGE_ESTALE;
	}
	gen_release(cur);
	if ((rv = rule_compile(p->text, p->len, &set, errs)) != 0) {
		nudge_diag_set(d, 0, 0, "the rule set does not compile "
		    "(%u errors); nothing changed", errs ? errs->n : 0);
		return rv;
	}
	meta.ts_ms = clock_wall_ms();
	snprintf(meta.who, sizeof(meta.who), "%s", p->who ? p->who : "");
	meta.text = (char *)p->text;
	meta.len = p->len;
	if ((rv = store_put_rules(r->st, &meta)) != 0) {
		nudge_diag_set(d, 0, 0, "%s", rv == NUDGE_EEXIST ?
		    "that version was applied before" :
		    store_last_error(r->st));
		rule_set_free(set);
		return rv == NUDGE_EEXIST ? NUDGE_ESTALE : rv;
	}
	if ((g = gen_new(&meta, set)) == NULL) {
		rule_set_free(set);
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	gen_swap(r, g);
	if (p->kind == RRT_ACTIVE)
		swap_notify(r);
	*applied = meta.version;
	return 0;
}

int
rrt_put(struct rrt *r, const struct rrt_put *p, uint64_t *applied,
    struct rule_errors *errs, struct nudge_diag *d)
{
	uint64_t v = 0;
	int rv;

	if (errs != NULL)
		errs->n = 0;
	if (p == NULL || p->text == NULL || p->kind < 0 ||
	    p->kind >= RRT_KINDS || p->version > INT64_MAX) {
		nudge_diag_set(d, 0, 0, "bad arguments");
		return NUDGE_EINVAL;
	}
	if (p->len > RULE_SOURCE_MAX) {
		nudge_diag_set(d, 0, 0, "rule text over %u bytes",
		    RULE_SOURCE_MAX);
		return NUDGE_ETOOBIG;
	}
	pthread_mutex_lock(&r->put_mu);
	rv = put_locked(r, p, &v, errs, d);
	pthread_mutex_unlock(&r->put_mu);
	if (rv == 0 && applied != NULL)
		*applied = v;
	return rv;
}

int
rrt_rollback(struct rrt *r, uint64_t version, const char *who,
    uint64_t *applied, struct nudge_diag *d)
{
	struct store_rules old;
	struct rule_errors *errs;
	char by[64];
	int rv;

	if (version == 0 || version > INT64_MAX) {
		nudge_diag_set(d, 0, 0, "version: a positive integer");
		return NUDGE_EINVAL;
	}
	if ((rv = store_get_rules(r->st, RRT_ACTIVE, version, &old)) != 0) {
		if (rv == NUDGE_ENOTFOUND)
			nudge_diag_set(d, 0, 0, "version %llu was never "
			    "applied here", (unsigned long long)version);
		else
			nudge_diag_set(d, 0, 0, "store: %s",
			    store_last_error(r->st));
		return rv;
	}
	snprintf(by, sizeof(by), "%s (rollback to %llu)", who ? who : "",
	    (unsigned long long)version);
	errs = malloc(sizeof(*errs));
	struct rrt_put p = {0, old.text, old.len, RRT_ACTIVE, by};
	rv = errs ? rrt_put(r, &p, applied, errs, d) : NUDGE_ENOMEM;
	free(errs);
	free(old.text);
	return rv;
}

uint64_t
rrt_version(struct rrt *r, int kind)
{
	struct rrt_gen *g = kind >= 0 && kind < RRT_KINDS ? gen_get(r, kind) :
	    NULL;
	uint64_t v = g ? g->version : 0;

	gen_release(g);
	return v;
}

size_t
rrt_watch_json(struct rrt *r, char *out, size_t cap)
{
	struct rrt_gen *g = gen_get(r, RRT_ACTIVE);
	size_t n = g != NULL && g->watch_len < cap ? g->watch_len : 0;

	if (cap > 0) {
		memcpy(out, n ? g->watch : "", n);
		out[n] = '\0';
	}
	gen_release(g);
	return n;
}

void
rrt_hash(struct rrt *r, int kind, char out[17])
{
	struct rrt_gen *g = kind >= 0 && kind < RRT_KINDS ? gen_get(r, kind) :
	    NULL;

	snprintf(out, 17, "%s", g ? g->hash : "");
	gen_release(g);
}

/* ---- context facts ----------------------------------------------------- */

int
rrt_context_set(struct rrt *r, const struct store_fact *v, size_t n,
    struct nudge_diag *d)
{
	struct facts *cur, *next = NULL, *old;
	int rv;

	if ((rv = facts_check(v, n, d)) != 0)
		return rv;
	pthread_mutex_lock(&r->put_mu);
	pthread_mutex_lock(&r->ptr_mu);
	cur = r->facts;
	pthread_mutex_unlock(&r->ptr_mu);	/* put_mu keeps cur alive */
	if ((next = facts_merge(cur, v, n)) == NULL) {
		rv = NUDGE_ENOMEM;
		nudge_diag_set(d, 0, 0, "out of memory");
	} else if (facts_count(next) > FACTS_MAX) {
		rv = NUDGE_EFULL;
		nudge_diag_set(d, 0, 0, "at most %d facts", FACTS_MAX);
	} else if ((rv = store_put_facts(r->st, v, n)) != 0) {
		nudge_diag_set(d, 0, 0, "store: %s", store_last_error(r->st));
	}
	if (rv != 0) {
		facts_release(next);
		pthread_mutex_unlock(&r->put_mu);
		return rv;
	}
	pthread_mutex_lock(&r->ptr_mu);
	old = r->facts;
	r->facts = next;
	pthread_mutex_unlock(&r->ptr_mu);
	facts_release(old);
	pthread_mutex_unlock(&r->put_mu);
	return 0;
}

size_t
rrt_context_each(struct rrt *r,
    void (*fn)(void *arg, const struct store_fact *f), void *arg)
{
	struct facts *f;
	size_t n;

	pthread_mutex_lock(&r->ptr_mu);
	if ((f = r->facts) != NULL)
		facts_hold(f);
	pthread_mutex_unlock(&r->ptr_mu);
	n = facts_each(f, fn, arg);
	facts_release(f);
	return n;
}

/* ---- counters ---------------------------------------------------------- */

static uint64_t
ring_rate(const uint64_t *ring, unsigned at, uint64_t now)
{
	/* ring[at] is the oldest sample: 60 s ago once the ring is full */
	return now >= ring[at] ? now - ring[at] : 0;
}

size_t
rrt_stats(struct rrt *r, int kind, struct rrt_rule_stat *out, size_t cap)
{
	struct rrt_gen *g = kind >= 0 && kind < RRT_KINDS ? gen_get(r, kind) :
	    NULL;
	size_t n = 0;

	for (unsigned i = 0; g != NULL && g->set != NULL && i < g->n_rules &&
	    n < cap; i++, n++) {
		const struct rule_info *ri = rule_set_rule(g->set, i);
		const struct rrt_ctr *c = &g->ctr[i];
		struct rrt_rule_stat *s = &out[n];

		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", ri->name);
		s->m = atomic_load(&c->m);
		s->s = atomic_load(&c->s);
		s->c = atomic_load(&c->c);
		s->sh = atomic_load(&c->sh);
		s->ho = atomic_load(&c->ho);
		s->sho = atomic_load(&c->sho);
		s->nd = atomic_load(&c->nd);
		s->shadow = ri->shadow || kind == RRT_SHADOW;
		if (i < RRT_RATE_RULES) {
			const struct rrt_ring *rg = &g->ring[i];
			s->m_min = ring_rate(rg->m, g->ring_at, s->m);
			s->sh_min = ring_rate(rg->sh, g->ring_at, s->sh);
			s->sho_min = ring_rate(rg->sho, g->ring_at, s->sho);
		}
	}
	gen_release(g);
	return n;
}

/* Once a second (flusher): the samples the per-minute rates come from. */
static void
rates_sample(struct rrt *r)
{
	for (int k = 0; k < RRT_KINDS; k++) {
		struct rrt_gen *g = gen_get(r, k);
		unsigned nr;

		if (g == NULL)
			continue;
		nr = g->n_rules < RRT_RATE_RULES ? g->n_rules : RRT_RATE_RULES;
		for (unsigned i = 0; i < nr; i++) {
			g->ring[i].m[g->ring_at] = atomic_load(&g->ctr[i].m);
			g->ring[i].sh[g->ring_at] = atomic_load(&g->ctr[i].sh);
			g->ring[i].sho[g->ring_at] =
			    atomic_load(&g->ctr[i].sho);
		}
		g->ring_at = (g->ring_at + 1) % RRT_RING;
		gen_release(g);
	}
}

void
rrt_fill_snapshot(struct rrt *r, struct wire_snapshot *s)
{
	struct rrt_rule_stat *v;
	size_t n;

	s->rules_version = rrt_version(r, RRT_ACTIVE);
	s->shadow_version = rrt_version(r, RRT_SHADOW);
	s->n_rules = 0;
	if ((v = malloc(WIRE_RULES_MAX * sizeof(*v))) == NULL)
		return;
	for (int k = 0; k < RRT_KINDS; k++) {
		n = rrt_stats(r, k, v, WIRE_RULES_MAX - s->n_rules);
		for (size_t i = 0; i < n; i++) {
			struct wire_rule_stat *w = &s->rules[s->n_rules++];
			snprintf(w->name, sizeof(w->name), "%s", v[i].name);
			w->m = v[i].m;
			w->s = v[i].s;
			w->c = v[i].c;
			w->sh = v[i].sh;
			w->ho = v[i].ho;
			w->sho = v[i].sho;
			w->shadow_set = k == RRT_SHADOW;
		}
	}
	free(v);
}

double
rrt_bench_acquire(struct rrt *r, unsigned iterations)
{
	struct rrt_gen *g[RRT_KINDS];
	struct facts *f;
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (unsigned i = 0; i < iterations; i++) {
		rrt_acquire(r, g, &f);
		rrt_release(g, f);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	return iterations ? ((double)(b.tv_sec - a.tv_sec) * 1e9 +
	    (double)(b.tv_nsec - a.tv_nsec)) / iterations : 0;
}

/* ---- persistence and the flusher --------------------------------------- */

size_t
rrt_purge(struct rrt *r, uint64_t before_ms)
{
	size_t n = 0;

	for (unsigned k = 0; k < RRT_VSHARDS; k++) {
		struct vshard *vs = &r->vs[k];
		pthread_mutex_lock(&vs->mu);
		for (uint32_t i = 0; i <= vs->mask;) {
			/* a deletion shifts a later entry into i: look again */
			if (vs->slots[i].vhash != 0 &&
			    vs->slots[i].last_ms < before_ms) {
				vdelete(vs, i);
				n++;
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&vs->mu);
	}
	return n;
}

size_t
rrt_visitor_rules(struct rrt *r, struct nudge_strv visitor,
    struct rrt_visitor_rule *out, size_t cap)
{
	uint64_t h = vhash_of(visitor);
	struct vshard *vs = vshard_of(r, h);
	struct vhist hist[RRT_HIST_MAX];
	unsigned n_hist = 0;
	bool here;
	size_t n = 0;

	pthread_mutex_lock(&vs->mu);
	uint32_t i = vslot(vs, h, &here);
	if (here) {
		n_hist = vs->slots[i].n_hist;
		memcpy(hist, vs->slots[i].h, n_hist * sizeof(hist[0]));
	}
	pthread_mutex_unlock(&vs->mu);
	struct rrt_gen *g = gen_get(r, RRT_ACTIVE);
	unsigned rules = g != NULL && g->set != NULL ?
	    rule_set_count(g->set) : 0;
	for (unsigned k = 0; k < n_hist && n < cap; k++)
		for (unsigned id = 0; id < rules; id++) {
			const struct rule_info *ri = rule_set_rule(g->set, id);
			if (ri->key != hist[k].key)
				continue;
			snprintf(out[n].name, sizeof(out[n].name), "%s",
			    ri->name);
			out[n].session_n = hist[k].sess_n;
			out[n].last_sec = hist[k].n_ts ? hist[k].ts[0] : 0;
			n++;
			break;
		}
	gen_release(g);
	return n;
}

/*
 * Under flush_mu, so that a flush that copied the visitor before the
 * delete cannot write them back after it.
 */
int
rrt_forget_visitor(struct rrt *r, struct nudge_strv visitor, bool *found)
{
	uint64_t h = vhash_of(visitor);
	struct vshard *vs = vshard_of(r, h);
	bool here;
	int rv;

	pthread_mutex_lock(&r->flush_mu);
	pthread_mutex_lock(&vs->mu);
	uint32_t i = vslot(vs, h, &here);
	if (here)
		vdelete(vs, i);
	pthread_mutex_unlock(&vs->mu);
	rv = store_forget_visitor(r->st, h);
	pthread_mutex_unlock(&r->flush_mu);
	if (rv == 0 && found != NULL)
		*found = here;
	return rv;
}

/*
 * Copies up to cap dirty visitors of shard s into v/blobs; clears dirty.
 * all (at a stop): also those whose last_ms moved since it was saved.
 */
static size_t
flush_collect(struct vshard *s, struct store_visitor *v,
    uint8_t (*blobs)[RRT_BLOB_MAX], size_t cap, bool all)
{
	size_t n = 0;

	pthread_mutex_lock(&s->mu);
	for (uint32_t i = 0; i <= s->mask && n < cap; i++) {
		struct vmem *vm = &s->slots[i];
		if (vm->vhash == 0 || !(vm->dirty ||
		    (all && vm->last_ms != vm->saved_ms)))
			continue;
		v[n] = (struct store_visitor){vm->vhash, vm->orders,
		    vm->sessions, vm->last_ms, vm->prev_ms, blobs[n], 0};
		v[n].caps_len = blob_put(vm, blobs[n]);
		vm->dirty = false;
		vm->saved_ms = vm->last_ms;
		n++;
	}
	pthread_mutex_unlock(&s->mu);
	return n;
}

int
rrt_flush(struct rrt *r)
{
	struct store_visitor *v = malloc(RRT_FLUSH_BATCH * sizeof(*v));
	uint8_t (*blobs)[RRT_BLOB_MAX] = malloc(RRT_FLUSH_BATCH *
	    sizeof(*blobs));
	char clk[24];
	int rv = 0;

	if (v == NULL || blobs == NULL) {
		free(v);
		free(blobs);
		return NUDGE_ENOMEM;
	}
	pthread_mutex_lock(&r->flush_mu);
	for (unsigned k = 0; k < RRT_VSHARDS; k++) {
		size_t n;
		do {
			n = flush_collect(&r->vs[k], v, blobs, RRT_FLUSH_BATCH,
			    !r->running);
			if (n > 0 && store_save_visitors(r->st, v, n) != 0)
				rv = NUDGE_ESTORE;
		} while (n == RRT_FLUSH_BATCH);
	}
	pthread_mutex_unlock(&r->flush_mu);
	snprintf(clk, sizeof(clk), "%llu",
	    (unsigned long long)atomic_load(&r->cap_ms));
	if (store_meta_put(r->st, RRT_CLOCK_KEY, clk) != 0)
		rv = NUDGE_ESTORE;
	free(v);
	free(blobs);
	return rv;
}

static void *
flusher(void *arg)
{
	struct rrt *r = arg;
	struct timespec ts;

	pthread_mutex_lock(&r->stop_mu);
	while (!r->stop) {
		/* monotonic: a wall clock set back 1 h must not stall it 1 h */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&r->stop_cv, &r->stop_mu, &ts);
		if (r->stop)
			break;
		pthread_mutex_unlock(&r->stop_mu);
		clock_tick(r, clock_mono_ms(), clock_wall_ms());
		rates_sample(r);
		if (rrt_flush(r) != 0)
			log_warn("rules: could not save visitors: %s",
			    store_last_error(r->st));
		pthread_mutex_lock(&r->stop_mu);
	}
	pthread_mutex_unlock(&r->stop_mu);
	return NULL;
}

int
rrt_start(struct rrt *r)
{
	if (r->running)
		return 0;
	r->stop = false;
	if (pthread_create(&r->thread, NULL, flusher, r) != 0)
		return NUDGE_ENOMEM;
	r->running = true;
	return 0;
}

void
rrt_stop(struct rrt *r)
{
	if (r == NULL || !r->running)
		return;
	pthread_mutex_lock(&r->stop_mu);
	r->stop = true;
	pthread_cond_signal(&r->stop_cv);
	pthread_mutex_unlock(&r->stop_mu);
	pthread_join(r->thread, NULL);
	r->running = false;
}

/* ---- start and end ----------------------------------------------------- */

static void
load_gen(struct rrt *r, int kind)
{
	struct store_rules sr;
	struct rule_errors *errs = malloc(sizeof(*errs));
	struct rule_set *set = NULL;
	struct rrt_gen *g;

	if (errs == NULL || store_get_rules(r->st, kind, 0, &sr) != 0) {
		free(errs);
		return;
	}
	if (rule_compile(sr.text, sr.len, &set, errs) != 0)
		log_error("rules: stored %s version %llu does not compile "
		    "here (%u errors); running none until the next push",
		    kind == RRT_SHADOW ? "shadow" : "active",
		    (unsigned long long)sr.version, errs->n);
	if ((g = gen_new(&sr, set)) == NULL)
		rule_set_free(set);
	else
		r->gen[kind] = g;
	if (g != NULL)
		log_info("rules: %s version %llu (%s) in force",
		    kind == RRT_SHADOW ? "shadow" : "active",
		    (unsigned long long)sr.version, sr.hash);
	free(sr.text);
	free(errs);
}

static int
load_state(struct rrt *r, size_t visitors_max)
{
	char clk[24];
	bool bad;

	if ((r->facts = facts_load(r->st, &bad)) == NULL)
		return NUDGE_ENOMEM;
	if (bad)
		log_warn("rules: could not load facts: %s",
		    store_last_error(r->st));
	for (int k = 0; k < RRT_KINDS; k++)
		load_gen(r, k);
	if (store_meta_get(r->st, RRT_CLOCK_KEY, clk, sizeof(clk)) == 0)
		atomic_store(&r->cap_ms, strtoull(clk, NULL, 10));
	if (store_load_visitors(r->st, visitors_max, load_visitor, r) != 0)
		log_warn("rules: could not load visitors: %s",
		    store_last_error(r->st));
	return 0;
}

static int
vshards_init(struct rrt *r, size_t visitors_max)
{
	size_t per = visitors_max / RRT_VSHARDS + 1;
	uint32_t cap = 16;

	while (cap < per * 2)
		cap *= 2;
	for (unsigned k = 0; k < RRT_VSHARDS; k++) {
		struct vshard *s = &r->vs[k];
		pthread_mutex_init(&s->mu, NULL);
		s->slots = calloc(cap, sizeof(*s->slots));
		s->mask = cap - 1;
		s->max = (uint32_t)per;
		if (s->slots == NULL)
			return NUDGE_ENOMEM;
	}
	return 0;
}

int
rrt_new(struct rrt **out, struct store *st, size_t visitors_max,
    struct nudge_diag *d)
{
	struct rrt *r = calloc(1, sizeof(*r));

	if (r == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	r->st = st;
	pthread_mutex_init(&r->put_mu, NULL);
	pthread_mutex_init(&r->ptr_mu, NULL);
	pthread_mutex_init(&r->flush_mu, NULL);
	pthread_mutex_init(&r->clock_mu, NULL);
	pthread_mutex_init(&r->stop_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (visitors_max == 0)
		visitors_max = RRT_VISITORS_DEFAULT;
	if (vshards_init(r, visitors_max) != 0 ||
	    load_state(r, visitors_max) != 0) {
		nudge_diag_set(d, 0, 0, "out of memory");
		rrt_free(r);
		return NUDGE_ENOMEM;
	}
	/* the clocks start at the first event or flusher tick: the cap clock
	 * then takes max(wall clock, value saved by the previous run) */
	*out = r;
	return 0;
}

void
rrt_free(struct rrt *r)
{
	if (r == NULL)
		return;
	rrt_stop(r);
	if (r->vs[0].slots != NULL && rrt_flush(r) != 0)
		log_warn("rules: could not save visitors: %s",
		    store_last_error(r->st));
	for (int k = 0; k < RRT_KINDS; k++)
		gen_release(r->gen[k]);
	facts_release(r->facts);
	for (unsigned k = 0; k < RRT_VSHARDS; k++) {
		free(r->vs[k].slots);
		pthread_mutex_destroy(&r->vs[k].mu);
	}
	pthread_mutex_destroy(&r->put_mu);
	pthread_mutex_destroy(&r->ptr_mu);
	pthread_mutex_destroy(&r->flush_mu);
	pthread_mutex_destroy(&r->clock_mu);
	pthread_mutex_destroy(&r->stop_mu);
	pthread_cond_destroy(&r->stop_cv);
	free(r);
}
