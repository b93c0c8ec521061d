/*
 * camprt.c - the agent's campaign runtime (see camprt.h for what is
 * counted, when, and how the breaker decides).
 *
 * Owns: the table of the active set's campaigns (struct crt_camp, in
 * declaration order) with their state, counters and breaker sequences;
 * the rules' holdout experiment counters (struct crt_rexp, by rule name,
 * kept across sets); the owner of every session mark slot; the thread
 * that runs the breaker and saves counters once a second.
 *
 * Locks: mu guards everything above and is what the hot path (crt_variant,
 * crt_observe) takes, for a few hundred nanoseconds; crt_observe holds it
 * across sesstab_mark, so the lock order is mu -> a session shard's lock
 * (sesstab never calls back).  chg_mu serializes everything that writes
 * state or disk (swaps, changes, ticks, flushes); it is taken before mu
 * and never while mu is held, and the store is never called with mu held.
 * The swap hook runs under rules_rt's put_mu, so the order there is
 * put_mu -> chg_mu -> mu; nothing here calls into rules_rt with chg_mu or
 * mu held.
 *
 * Mark words (sesstab_mark, one 16-bit word per slot and session):
 *	campaign: MK_COUNTED | variant (bits 0-2) | MK_GOAL | MK_GUARD(i)
 *	          (bits 4-7) | highest shop funnel step counted (bits 8-12)
 *	rule:     MK_COUNTED | MK_HELD | MK_CONV
 * The step is a number, not a flag: the session's step only grows, so
 * sesstab_mark keeps the larger of the word's and the event's (its high
 * mask), and two events of one session on two threads cannot count a step
 * twice.  Five bits hold 0..31, every step a funnel can have
 * (AGG_STEPS_MAX 16), so no step goes uncounted; bits 13-14 are free.
 */
#include "camprt.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "stats.h"

#define MK_COUNTED 0x8000u
#define MK_VARIANT 0x0007u
#define MK_GOAL 0x0008u
#define MK_GUARD(i) (0x0010u << (i))
#define MK_STEP_SHIFT 8
#define MK_STEP (0x1Fu << MK_STEP_SHIFT)
#define MK_HELD 0x0001u
#define MK_CONV 0x0002u

#define CRT_MARKS_MAX (2 * SESSION_XSLOTS + RRT_SHOWN_MAX)

_Static_assert(MK_GUARD(RULE_GUARDRAILS_MAX - 1) < (1u << MK_STEP_SHIFT),
    "the guardrail bits run into the step");
_Static_assert(AGG_STEPS_MAX <= (MK_STEP >> MK_STEP_SHIFT),
    "the step field cannot hold the funnel's last step");
_Static_assert((MK_STEP & MK_COUNTED) == 0, "the step runs into MK_COUNTED");

enum crt_owner_kind { OWN_NONE = 0, OWN_CAMP, OWN_RULE };

struct crt_owner {
	uint8_t kind;		/* enum crt_owner_kind */
	unsigned idx;		/* into camps[] or rexp[] */
	char name[RULE_NAME_MAX + 1];
};

struct crt_metric {
	uint8_t kind;		/* enum rule_goal */
	uint8_t step, event_type;
	uint16_t max_drop_bp;
	char name[RULE_NAME_MAX + 1];
};

struct crt_camp {
	struct camp c;
	bool valid;		/* camp_init accepted the declaration */
	uint64_t since_ms;
	struct crt_metric goal;
	uint8_t n_guard;
	struct crt_metric guard[RULE_GUARDRAILS_MAX];
	bool has_funnel;
	struct funnel funnel;
	int slot;		/* -1: none */
	bool dirty;		/* counters not saved yet */
	bool warned;		/* "no slot" logged */
	struct wire_camp_arm arm[CAMP_VARIANTS_MAX];
	struct stats_seq seq[CAMP_VARIANTS_MAX][RULE_GUARDRAILS_MAX];
	double tau2[CAMP_VARIANTS_MAX][RULE_GUARDRAILS_MAX];
};

struct crt_rexp {
	char rule[RULE_NAME_MAX + 1];
	uint64_t tn, tx, hn, hx;
	int slot;
	bool declared;		/* a holdout rule of the active set */
	bool dirty;
	bool warned;
};

struct crt {
	struct store *st;
	struct sesstab *t;
	struct rrt *rr;
	pthread_mutex_t mu;
	pthread_mutex_t chg_mu;
	struct crt_camp *camps;
	unsigned n_camps;
	struct crt_rexp *rexp;
	unsigned n_rexp, cap_rexp;
	unsigned *rorder;	/* declared rexp indices in rule file order */
	unsigned n_rorder;
	struct crt_owner owner[SESSION_XSLOTS];
	atomic_bool counting;	/* some slot has an owner: crt_observe works */
	bool fresh;		/* no slot assigned since loading */
	pthread_t thread;
	bool running;
	pthread_mutex_t stop_mu;
	pthread_cond_t stop_cv;
	bool stop;
};

/* ---- helpers ---------------------------------------------------------- */

static struct crt_camp *
camp_find(struct crt *c, const char *name)
{
	for (unsigned i = 0; i < c->n_camps; i++)
		if (strcmp(c->camps[i].c.name, name) == 0)
			return &c->camps[i];
	return NULL;
}

static int
rexp_find(const struct crt *c, const char *rule)
{
	for (unsigned i = 0; i < c->n_rexp; i++)
		if (strcmp(c->rexp[i].rule, rule) == 0)
			return (int)i;
	return -1;
}

/* The index of rule's entry, created with zero counters if new; -1 OOM. */
static int
rexp_get(struct crt *c, const char *rule)
{
	int i = rexp_find(c, rule);

	if (i >= 0)
		return i;
	if (c->n_rexp == c->cap_rexp) {
		unsigned cap = c->cap_rexp ? 2 * c->cap_rexp : 16;
		void *p = realloc(c->rexp, cap * sizeof(*c->rexp));
		if (p == NULL)
			return -1;
		c->rexp = p;
		c->cap_rexp = cap;
	}
	memset(&c->rexp[c->n_rexp], 0, sizeof(c->rexp[0]));
	snprintf(c->rexp[c->n_rexp].rule, sizeof(c->rexp[0].rule), "%s",
	    rule);
	c->rexp[c->n_rexp].slot = -1;
	return (int)c->n_rexp++;
}

static bool
same_variants(const struct camp *a, const struct rule_campaign *rc)
{
	if (a->n_variants != rc->n_variants)
		return false;
	for (unsigned i = 0; i < a->n_variants; i++)
		if (strcmp(a->variant[i], rc->variant[i].name) != 0)
			return false;
	return true;
}

static void
metric_copy(struct crt_metric *m, const struct rule_metric *rm)
{
	m->kind = rm->kind;
	m->step = rm->step;
	m->event_type = rm->event_type;
	m->max_drop_bp = rm->max_drop_bp;
	snprintf(m->name, sizeof(m->name), "%s", rm->name ? rm->name : "");
}

/* Does ev meet the goal or guardrail m (camprt.h: counting)? */
static bool
metric_met(const struct crt_camp *cc, const struct crt_metric *m,
    const struct nudge_event *ev)
{
	switch (m->kind) {
	case RULE_GOAL_STEP:
		return cc->has_funnel && m->step < cc->funnel.n &&
		    funnel_step_matches(&cc->funnel.step[m->step], ev);
	case RULE_GOAL_EVENT:
		return ev->type == m->event_type &&
		    (ev->type != EVENT_CUSTOM || strv_eq(ev->name, m->name));
	case RULE_GOAL_REVENUE:
		return ev->type == EVENT_PURCHASE;
	default:
		return false;
	}
}

static void
seqs_init(struct crt_camp *cc)
{
	for (unsigned v = 0; v < CAMP_VARIANTS_MAX; v++)
		for (unsigned g = 0; g < RULE_GUARDRAILS_MAX; g++) {
			stats_seq_init(&cc->seq[v][g]);
			cc->tau2[v][g] = 0;
		}
}

/* "start", "stop 1", "weights 50,50", "holdout 500" for the history. */
static void
op_text(const struct wire_camp_change *ch, char *buf, size_t cap)
{
	const char *name = camp_op_name(ch->op);
	size_t n = (size_t)snprintf(buf, cap, "%s", name ? name : "?");

	if (ch->op == CAMP_OP_STOP)
		snprintf(buf + n, cap - n, " %d", ch->winner);
	else if (ch->op == CAMP_OP_HOLDOUT)
		snprintf(buf + n, cap - n, " %u", (unsigned)ch->holdout_bp);
	else if (ch->op == CAMP_OP_WEIGHTS)
		for (unsigned i = 0; i < ch->n_weights && n + 5 < cap; i++)
			n += (size_t)snprintf(buf + n, cap - n, "%c%u",
			    i ? ',' : ' ', (unsigned)ch->weights[i]);
}

/* Persists cc's state (FULL), with a history row when op is not NULL. */
static int
camp_persist(struct crt *c, const struct camp *cm, uint64_t since_ms,
    int slot, bool reset, const char *who, const char *op)
{
	char text[CAMP_TEXT_MAX + 1];
	size_t len;
	int rv;

	if ((rv = camp_format(cm, text, sizeof(text), &len)) != 0)
		return rv;
	struct store_camp_hist h = {cm->version, clock_wall_ms(), who, op,
	    text};
	return store_put_camp(c->st, cm->name, text, len, since_ms, slot,
	    reset, op != NULL ? &h : NULL);
}

/* ---- slots ------------------------------------------------------------ */

struct crt_want {
	uint8_t kind;
	unsigned idx;
	int *slot;
	const char *name;
	bool *warned;
};

static bool
owner_is(const struct crt_owner *o, const struct crt_want *w)
{
	return o->kind == w->kind && strcmp(o->name, w->name) == 0;
}

/* What wants a slot, in priority order (camprt.h: session marks). */
static unsigned
slots_wanted(struct crt *c, struct crt_want *w, unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->n_camps && n < cap; i++) {
		struct crt_camp *cc = &c->camps[i];
		if (cc->valid && (cc->c.state == CAMP_RUNNING ||
		    cc->c.state == CAMP_PAUSED))
			w[n++] = (struct crt_want){OWN_CAMP, i, &cc->slot,
			    cc->c.name, &cc->warned};
		else
			cc->slot = -1;
	}
	for (unsigned k = 0; k < c->n_rorder && n < cap; k++) {
		struct crt_rexp *r = &c->rexp[c->rorder[k]];
		w[n++] = (struct crt_want){OWN_RULE, c->rorder[k], &r->slot,
		    r->rule, &r->warned};
	}
	return n;
}

static void
owner_set(struct crt_owner *o, const struct crt_want *w)
{
	o->kind = w->kind;
	o->idx = w->idx;
	snprintf(o->name, sizeof(o->name), "%s", w->name);
	*w->warned = false;
}

/* Pass one: the winners w[0..n-1] keep the slot they hold (mu held). */
static void
slots_keep(struct crt *c, struct crt_want *w, unsigned n,
    struct crt_owner *now)
{
	for (unsigned k = 0; k < n; k++) {
		int s = *w[k].slot;
		bool ok = s >= 0 && s < SESSION_XSLOTS &&
		    now[s].kind == OWN_NONE &&
		    (owner_is(&c->owner[s], &w[k]) ||
		    (c->fresh && c->owner[s].kind == OWN_NONE));
		if (ok)
			owner_set(&now[s], &w[k]);
		else
			*w[k].slot = -1;
	}
}

/* Pass two: the other winners get a free slot, cleared first (mu held). */
static void
slots_give(struct crt *c, struct crt_want *w, unsigned n,
    struct crt_owner *now)
{
	for (unsigned k = 0; k < n; k++) {
		unsigned s = 0;
		if (*w[k].slot >= 0)
			continue;
		while (now[s].kind != OWN_NONE)
			s++;
		owner_set(&now[s], &w[k]);
		*w[k].slot = (int)s;
		sesstab_clear_slot(c->t, s);
	}
}

/*
 * Gives the first SESSION_XSLOTS wanting ones a slot, each keeping the one
 * it holds; a slot changing owner is cleared in every live session.  Right
 * after loading, the stored slots are trusted (the live sessions restored
 * carry their marks).  What gets no slot is logged once.  mu held.
 */
static void
slots_assign(struct crt *c)
{
	unsigned cap = c->n_camps + c->n_rorder + 1, n, won;
	struct crt_want *w = calloc(cap, sizeof(*w));
	int *rold = calloc(c->n_rexp + 1, sizeof(*rold));
	struct crt_owner now[SESSION_XSLOTS];

	if (w == NULL || rold == NULL) {
		free(w);
		free(rold);
		return;
	}
	for (unsigned i = 0; i < c->n_rexp; i++)
		rold[i] = c->rexp[i].slot;
	memset(now, 0, sizeof(now));
	n = slots_wanted(c, w, cap);
	won = n < SESSION_XSLOTS ? n : SESSION_XSLOTS;
	slots_keep(c, w, won, now);
	slots_give(c, w, won, now);
	for (unsigned k = won; k < n; k++) {
		*w[k].slot = -1;
		if (!*w[k].warned)
			log_warn("campaigns: %s %s gets no session slot (more "
			    "than %d experiments): not counted",
			    w[k].kind == OWN_CAMP ? "campaign" : "rule",
			    w[k].name, SESSION_XSLOTS);
		*w[k].warned = true;
	}
	memcpy(c->owner, now, sizeof(now));
	atomic_store(&c->counting, won > 0);
	c->fresh = false;
	for (unsigned i = 0; i < c->n_rexp; i++) {
		if (!c->rexp[i].declared)
			c->rexp[i].slot = -1;
		if (c->rexp[i].slot != rold[i])
			c->rexp[i].dirty = true; /* saved with counters */
	}
	free(rold);
	free(w);
}

/* ---- the swap hook ---------------------------------------------------- */

static int flush_locked(struct crt *c);

static void
load_ctr(void *arg, const struct store_camp_ctr *sc)
{
	struct crt_camp *cc = arg;

	if (sc->variant >= cc->c.n_variants)
		return;
	struct wire_camp_arm *a = &cc->arm[sc->variant];
	a->n = sc->n;
	a->x = sc->x;
	a->rev_cents = sc->rev_cents;
	for (int g = 0; g < RULE_GUARDRAILS_MAX; g++)
		a->g[g] = sc->g[g];
	memcpy(a->steps, sc->steps, sizeof(a->steps));
}

/* The stored state of rc's campaign into cc if its variants match. */
static bool
camp_from_store(struct crt *c, struct crt_camp *cc,
    const struct rule_campaign *rc, uint64_t *stored_version)
{
	struct store_camp sc;
	struct camp cm;
	struct nudge_diag d = {0};
	bool ok = false;

	if (store_get_camp(c->st, rc->name, &sc) != 0)
		return false;
	if (camp_parse(sc.text, sc.len, &cm, &d) == 0) {
		*stored_version = cm.version;
		if (same_variants(&cm, rc)) {
			cc->c = cm;
			cc->since_ms = sc.since_ms;
			cc->slot = sc.slot;
			ok = true;
		}
	} else {
		log_warn("campaigns: stored state of %s unreadable (%s): "
		    "starting over", rc->name, d.msg);
	}
	free(sc.text);
	if (ok && store_load_camp_counters(c->st, rc->name, load_ctr, cc) != 0)
		log_warn("campaigns: could not load the counters of %s: %s",
		    rc->name, store_last_error(c->st));
	return ok;
}

/* cc for rc: kept from memory or the store, else a new draft. */
static void
camp_build(struct crt *c, struct crt_camp *cc, const struct rule_set *set,
    const struct rule_campaign *rc)
{
	struct crt_camp *old;
	uint64_t stored = 0;
	struct nudge_diag d = {0};

	memset(cc, 0, sizeof(*cc));
	cc->slot = -1;
	metric_copy(&cc->goal, &rc->goal);
	cc->n_guard = rc->n_guardrails;
	for (unsigned g = 0; g < rc->n_guardrails; g++)
		metric_copy(&cc->guard[g], &rc->guardrail[g]);
	const struct funnel *f = rc->funnel >= 0 ?
	    rule_set_funnel(set, (unsigned)rc->funnel) : NULL;
	if ((cc->has_funnel = f != NULL))
		cc->funnel = *f;
	seqs_init(cc);
	pthread_mutex_lock(&c->mu);
	old = camp_find(c, rc->name);
	if (old != NULL && old->valid && same_variants(&old->c, rc)) {
		cc->c = old->c;
		cc->since_ms = old->since_ms;
		cc->slot = old->slot;
		cc->dirty = old->dirty;
		memcpy(cc->arm, old->arm, sizeof(cc->arm));
		memcpy(cc->seq, old->seq, sizeof(cc->seq));
		memcpy(cc->tau2, old->tau2, sizeof(cc->tau2));
		cc->valid = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (cc->valid)
		return;
	if (old != NULL && old->valid)
		stored = old->c.version;
	if (camp_from_store(c, cc, rc, &stored)) {
		cc->valid = true;
		return;
	}
	if (camp_init(&cc->c, rc, &d) != 0) {
		log_warn("campaigns: %s not run: %s", rc->name, d.msg);
		return;
	}
	/*
	 * A draft after a stored version: campaign.h wants a replay record
	 * for every version but 1.  "reset" on the stored version says what
	 * happened (the campaign starts over), and a retried reset decided
	 * on the old version is answered as the replay it is.
	 */
	if (stored > 0) {
		cc->c.version = stored + 1;
		cc->c.last = (struct camp_change){.op = CAMP_OP_RESET,
		    .base = stored};
	}
	cc->valid = true;
	if (camp_persist(c, &cc->c, 0, -1, true, "rules", "declare") != 0)
		log_warn("campaigns: could not save the new draft of %s: %s",
		    rc->name, store_last_error(c->st));
}

/* The holdout rules of set, in file order, as rexp indices. */
static void
rules_build(struct crt *c, const struct rule_set *set)
{
	unsigned n = set ? rule_set_count(set) : 0, k = 0;
	unsigned *order = calloc(n + 1, sizeof(*order));

	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; i < c->n_rexp; i++)
		c->rexp[i].declared = false;
	for (unsigned i = 0; order != NULL && i < n; i++) {
		const struct rule_info *ri = rule_set_rule(set, i);
		int x;
		if (ri == NULL || ri->holdout_bp == 0 || ri->shadow ||
		    (x = rexp_get(c, ri->name)) < 0 || c->rexp[x].declared)
			continue;
		c->rexp[x].declared = true;
		order[k++] = (unsigned)x;
	}
	free(c->rorder);
	c->rorder = order;
	c->n_rorder = order ? k : 0;
	pthread_mutex_unlock(&c->mu);
}

/* Saves the slot of every campaign whose slot differs from was[]. */
static void
slots_persist(struct crt *c, const int *was)
{
	for (unsigned i = 0; i < c->n_camps; i++) {
		struct crt_camp *cc = &c->camps[i];
		struct camp cm;
		uint64_t since;
		int slot;
		pthread_mutex_lock(&c->mu);
		cm = cc->c;
		since = cc->since_ms;
		slot = cc->slot;
		pthread_mutex_unlock(&c->mu);
		if (cc->valid && slot != was[i] &&
		    camp_persist(c, &cm, since, slot, false, NULL, NULL) != 0)
			log_warn("campaigns: could not save the slot of "
			    "%s: %s", cm.name, store_last_error(c->st));
	}
}

/* Reassigns slots after a change of state and saves them (chg_mu held). */
static void
slots_update(struct crt *c)
{
	int *was = calloc(c->n_camps + 1, sizeof(*was));

	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; was != NULL && i < c->n_camps; i++)
		was[i] = c->camps[i].slot;
	slots_assign(c);
	pthread_mutex_unlock(&c->mu);
	if (was != NULL)
		slots_persist(c, was);
	free(was);
}

static void
crt_swap(void *arg, const struct rule_set *set)
{
	struct crt *c = arg;
	unsigned n = set ? rule_set_campaigns(set) : 0;
	struct crt_camp *camps = calloc(n + 1, sizeof(*camps)), *old;
	int *was = calloc(n + 1, sizeof(*was));

	if (camps == NULL || was == NULL) {
		log_error("campaigns: out of memory: the new rule set's "
		    "campaigns are not run");
		free(camps);
		free(was);
		return;
	}
	pthread_mutex_lock(&c->chg_mu);
	flush_locked(c);
	for (unsigned i = 0; i < n; i++) {
		camp_build(c, &camps[i], set, rule_set_campaign(set, i));
		was[i] = camps[i].slot;
	}
	rules_build(c, set);
	pthread_mutex_lock(&c->mu);
	old = c->camps;
	c->camps = camps;
	c->n_camps = n;
	slots_assign(c);
	pthread_mutex_unlock(&c->mu);
	slots_persist(c, was);
	pthread_mutex_unlock(&c->chg_mu);
	free(old);
	free(was);
}

/* ---- assignment ------------------------------------------------------- */

int
crt_variant(void *arg, const struct rule_set *set, unsigned campaign,
    struct nudge_strv visitor)
{
	struct crt *c = arg;
	const struct rule_campaign *rc = rule_set_campaign(set, campaign);
	struct crt_camp *cc;
	int v = CAMP_NONE;

	if (rc == NULL)
		return -1;
	pthread_mutex_lock(&c->mu);
	cc = camp_find(c, rc->name);
	if (cc == NULL || !cc->valid ||
	    camp_effective_variant(&cc->c, visitor, &v) != 0)
		v = CAMP_NONE;
	/* a set being replaced may declare other variants under the name */
	if (v >= 0 && (v >= rc->n_variants ||
	    strcmp(cc->c.variant[v], rc->variant[v].name) != 0))
		v = CAMP_NONE;
	pthread_mutex_unlock(&c->mu);
	return v < 0 ? -1 : v;
}

/* ---- counting --------------------------------------------------------- */

struct obs {
	struct sesstab_mark m[CRT_MARKS_MAX];
	int who[CRT_MARKS_MAX];	/* camps[] or rexp[] index */
	unsigned n, n_camp;
};

/* The session's shop funnel step as the mark word holds it. */
static uint16_t
step_bits(const struct sesstab_view *sv)
{
	unsigned step = sv->step < AGG_STEPS_MAX ? sv->step : AGG_STEPS_MAX;

	return (uint16_t)(step << MK_STEP_SHIFT);
}

/* Campaign marks: every running campaign with a slot (mu held). */
static void
obs_camps(struct crt *c, const struct nudge_event *ev,
    const struct sesstab_view *sv, struct obs *o)
{
	for (unsigned i = 0; i < c->n_camps; i++) {
		struct crt_camp *cc = &c->camps[i];
		uint16_t set = step_bits(sv);
		int v;
		if (!cc->valid || cc->slot < 0 ||
		    cc->c.state != CAMP_RUNNING || cc->c.tripped ||
		    camp_assigned(&cc->c, ev->visitor, &v) != 0 || v < 0)
			continue;
		if (metric_met(cc, &cc->goal, ev))
			set |= MK_GOAL;
		for (unsigned g = 0; g < cc->n_guard; g++)
			if (metric_met(cc, &cc->guard[g], ev))
				set |= (uint16_t)MK_GUARD(g);
		o->who[o->n] = (int)i;
		o->m[o->n++] = (struct sesstab_mark){.slot = (uint8_t)cc->slot,
		    .init = (uint16_t)(MK_COUNTED | (unsigned)v), .set = set,
		    .high = MK_STEP};
	}
	o->n_camp = o->n;
}

/* Steps the mark's step field passed over in this event, in arm a. */
static void
count_steps(struct wire_camp_arm *a, const struct sesstab_mark *m)
{
	unsigned from = (m->had & MK_STEP) >> MK_STEP_SHIFT;
	unsigned to = (m->now & MK_STEP) >> MK_STEP_SHIFT;

	for (unsigned k = from; k < to && k < AGG_STEPS_MAX; k++)
		a->steps[k]++;
}

static void
obs_count_camps(struct crt *c, const struct nudge_event *ev,
    const struct obs *o)
{
	for (unsigned k = 0; k < o->n_camp; k++) {
		struct crt_camp *cc = &c->camps[o->who[k]];
		const struct sesstab_mark *m = &o->m[k];
		unsigned v = m->now & MK_VARIANT;
		struct wire_camp_arm *a;
		if (v >= cc->c.n_variants)
			continue;
		a = &cc->arm[v];
		if (m->had == 0)
			a->n++;
		if ((m->now & MK_GOAL) && !(m->had & MK_GOAL))
			a->x++;
		for (unsigned g = 0; g < cc->n_guard; g++)
			if ((m->now & MK_GUARD(g)) && !(m->had & MK_GUARD(g)))
				a->g[g]++;
		count_steps(a, m);
		if (ev->type == EVENT_PURCHASE)
			a->rev_cents += ev->value_cents;
		cc->dirty = true;
	}
}

/* Reads of every rule slot: is the session counted there (mu held)? */
static void
obs_rule_reads(struct crt *c, struct obs *rd)
{
	for (unsigned s = 0; s < SESSION_XSLOTS; s++)
		if (c->owner[s].kind == OWN_RULE) {
			rd->who[rd->n] = (int)c->owner[s].idx;
			rd->m[rd->n++] = (struct sesstab_mark){
			    .slot = (uint8_t)s};
		}
}

static void
obs_trials(struct crt *c, const struct rrt_shown *shown, struct obs *o)
{
	for (unsigned i = 0; shown != NULL && i < shown->n_trials &&
	    o->n < CRT_MARKS_MAX; i++) {
		int x = rexp_find(c, shown->trial[i].rule);
		if (x < 0 || c->rexp[x].slot < 0)
			continue;
		o->who[o->n] = x;
		o->m[o->n++] = (struct sesstab_mark){
		    .slot = (uint8_t)c->rexp[x].slot,
		    .init = (uint16_t)(MK_COUNTED |
		    (shown->trial[i].held ? MK_HELD : 0))};
	}
}

/* The rules' part: conversions of a purchase, then this event's trials. */
static void
obs_rules(struct crt *c, const struct nudge_event *ev,
    const struct rrt_shown *shown)
{
	struct obs rd = {0}, o = {0};
	unsigned n_conv = 0;

	if (ev->type == EVENT_PURCHASE) {
		/* read first: a session not counted in a rule is not
		 * converted in it (init 0 leaves its word alone) */
		obs_rule_reads(c, &rd);
		if (rd.n > 0 && sesstab_mark(c->t, ev->visitor, rd.m,
		    rd.n) != 0)
			return;
		for (unsigned k = 0; k < rd.n; k++)
			if ((rd.m[k].now & MK_COUNTED) &&
			    !(rd.m[k].now & MK_CONV)) {
				o.who[o.n] = rd.who[k];
				o.m[o.n++] = (struct sesstab_mark){
				    .slot = rd.m[k].slot, .set = MK_CONV};
			}
	}
	n_conv = o.n;
	obs_trials(c, shown, &o);
	if (o.n == 0 || sesstab_mark(c->t, ev->visitor, o.m, o.n) != 0)
		return;
	for (unsigned k = 0; k < o.n; k++) {
		struct crt_rexp *r = &c->rexp[o.who[k]];
		const struct sesstab_mark *m = &o.m[k];
		if (k < n_conv) {
			if ((m->had & MK_CONV) || !(m->now & MK_CONV))
				continue;
			if (m->had & MK_HELD)
				r->hx++;
			else
				r->tx++;
		} else if (m->had == 0) {
			if (m->now & MK_HELD)
				r->hn++;
			else
				r->tn++;
		} else {
			continue;
		}
		r->dirty = true;
	}
}

void
crt_observe(struct crt *c, const struct nudge_event *ev,
    const struct sesstab_view *sv, const struct rrt_shown *shown)
{
	struct obs o;

	/* nothing runs (the common case): not even the lock */
	if (c == NULL || !atomic_load(&c->counting) || ev == NULL ||
	    sv == NULL || !sv->live ||
	    ev->device == DEVICE_BOT || !assign_visitor_ok(ev->visitor))
		return;
	o.n = 0;
	pthread_mutex_lock(&c->mu);
	obs_camps(c, ev, sv, &o);
	if (o.n > 0 && sesstab_mark(c->t, ev->visitor, o.m, o.n) == 0)
		obs_count_camps(c, ev, &o);
	obs_rules(c, ev, shown);
	pthread_mutex_unlock(&c->mu);
}

/* ---- what is published and listed ------------------------------------- */

static void
camp_to_wire(const struct crt_camp *cc, struct wire_campaign *w)
{
	bool unslotted = cc->slot < 0 && (cc->c.state == CAMP_RUNNING ||
	    cc->c.state == CAMP_PAUSED);

	memset(w, 0, sizeof(*w));
	w->c = cc->c;
	w->since_ms = cc->since_ms;
	snprintf(w->goal, sizeof(w->goal), "%s", cc->goal.name);
	w->n_guard = cc->n_guard;
	for (unsigned g = 0; g < cc->n_guard; g++) {
		snprintf(w->guard[g], sizeof(w->guard[g]), "%s",
		    cc->guard[g].name);
		w->guard_drop_bp[g] = cc->guard[g].max_drop_bp;
	}
	/* no slot: not counted, so no figures rather than wrong ones */
	if (!unslotted)
		memcpy(w->arm, cc->arm, sizeof(w->arm));
}

size_t
crt_list(struct crt *c, struct wire_campaign *out, size_t cap)
{
	size_t n = 0;

	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; i < c->n_camps && n < cap; i++)
		if (c->camps[i].valid)
			camp_to_wire(&c->camps[i], &out[n++]);
	pthread_mutex_unlock(&c->mu);
	return n;
}

void
crt_fill_snapshot(struct crt *c, struct wire_snapshot *s)
{
	s->n_camps = (uint8_t)crt_list(c, s->camps, WIRE_CAMPS_MAX);
	pthread_mutex_lock(&c->mu);
	for (unsigned i = 0; i < s->n_rules; i++) {
		struct wire_rule_stat *w = &s->rules[i];
		int x = w->shadow_set ? -1 : rexp_find(c, w->name);
		const struct crt_rexp *r = x >= 0 ? &c->rexp[x] : NULL;
		if (r == NULL || !r->declared || r->slot < 0) {
			w->tn = w->tx = w->hn = w->hx = 0;
			continue;
		}
		w->tn = r->tn;
		w->tx = r->tx;
		w->hn = r->hn;
		w->hx = r->hx;
	}
	pthread_mutex_unlock(&c->mu);
}

/* ---- operator changes ------------------------------------------------- */

static int
change_apply(struct camp *cm, const struct wire_camp_change *ch,
    struct nudge_diag *d)
{
	switch (ch->op) {
	case CAMP_OP_START:
		return camp_start(cm, ch->expect, d);
	case CAMP_OP_PAUSE:
		return camp_pause(cm, ch->expect, d);
	case CAMP_OP_RESUME:
		return camp_resume(cm, ch->expect, d);
	case CAMP_OP_STOP:
		return camp_stop(cm, ch->expect, ch->winner, d);
	case CAMP_OP_WEIGHTS:
		return camp_set_weights(cm, ch->expect, ch->weights,
		    ch->n_weights, d);
	case CAMP_OP_HOLDOUT:
		return camp_set_holdout(cm, ch->expect, ch->holdout_bp, d);
	case CAMP_OP_RESHUFFLE:
		return camp_reshuffle(cm, ch->expect, d);
	case CAMP_OP_RESET:
		return camp_reset_breaker(cm, ch->expect, d);
	default:
		nudge_diag_set(d, 0, 0, "unknown campaign operation %u",
		    (unsigned)ch->op);
		return NUDGE_EINVAL;
	}
}

/* Persists the changed copy, then swaps it in (chg_mu held). */
static int
change_commit(struct crt *c, const char *name, const struct camp *cm,
    uint64_t since, const struct wire_camp_change *ch, const char *who,
    struct nudge_diag *d)
{
	struct crt_camp *cc;
	char op[128];
	int slot, rv;

	pthread_mutex_lock(&c->mu);
	cc = camp_find(c, name);
	slot = cc ? cc->slot : -1;
	pthread_mutex_unlock(&c->mu);
	op_text(ch, op, sizeof(op));
	if ((rv = camp_persist(c, cm, since, slot, false, who ? who : "",
	    op)) != 0) {
		nudge_diag_set(d, 0, 0, "campaign %s not changed: store: %s",
		    name, store_last_error(c->st));
		return rv;
	}
	pthread_mutex_lock(&c->mu);
	if ((cc = camp_find(c, name)) != NULL) {
		if (cc->c.tripped && !cm->tripped)
			seqs_init(cc); /* the breaker watches afresh */
		cc->c = *cm;
		cc->since_ms = since;
	}
	pthread_mutex_unlock(&c->mu);
	slots_update(c);
	return 0;
}

int
crt_change(struct crt *c, const struct wire_camp_change *ch,
    const char *who, struct wire_campaign *now, struct nudge_diag *d)
{
	struct crt_camp *cc;
	struct camp cm;
	uint64_t since;
	int rv;

	pthread_mutex_lock(&c->chg_mu);
	pthread_mutex_lock(&c->mu);
	cc = camp_find(c, ch->name);
	if (cc == NULL || !cc->valid) {
		pthread_mutex_unlock(&c->mu);
		pthread_mutex_unlock(&c->chg_mu);
		nudge_diag_set(d, 0, 0, "the active rule set declares no "
		    "campaign %.64s", ch->name);
		return NUDGE_ENOTFOUND;
	}
	cm = cc->c;
	since = cc->since_ms;
	pthread_mutex_unlock(&c->mu);
	uint64_t before = cm.version;
	rv = change_apply(&cm, ch, d);
	if (rv == 0 && cm.version != before) {
		if (since == 0 && cm.state == CAMP_RUNNING)
			since = clock_wall_ms();
		rv = change_commit(c, ch->name, &cm, since, ch, who, d);
	}
	if (now != NULL) {
		pthread_mutex_lock(&c->mu);
		if ((cc = camp_find(c, ch->name)) != NULL)
			camp_to_wire(cc, now);
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_unlock(&c->chg_mu);
	return rv;
}

/* ---- the breaker ------------------------------------------------------ */

/* A prior spread of true differences: a tenth of the control rate. */
static double
breaker_tau2(double p_ctl, unsigned drop_bp)
{
	double rel = drop_bp > 1000 ? drop_bp / 10000.0 : 0.1;
	double tau = fmax(p_ctl, 0.001) * rel;

	return tau * tau;
}

/* Updates the sequence of (variant v, guardrail g); true: trip (mu held). */
static bool
breaker_check(struct crt_camp *cc, unsigned v, unsigned g, char *why,
    size_t cap)
{
	const struct wire_camp_arm *a0 = &cc->arm[0], *av = &cc->arm[v];
	struct stats_counts ctl = {a0->n, a0->g[g], 0, 0};
	struct stats_counts var = {av->n, av->g[g], 0, 0};
	struct stats_seq next;
	double p0, pv, drop = cc->guard[g].max_drop_bp / 10000.0;
	int rv;

	if (a0->n < CRT_BREAKER_MIN_N || av->n < CRT_BREAKER_MIN_N ||
	    a0->g[g] == 0)
		return false;
	p0 = (double)a0->g[g] / (double)a0->n;
	pv = (double)av->g[g] / (double)av->n;
	if (cc->tau2[v][g] == 0)
		cc->tau2[v][g] = breaker_tau2(p0, cc->guard[g].max_drop_bp);
	rv = stats_seq_update(&cc->seq[v][g], &ctl, &var, CRT_BREAKER_ALPHA,
	    cc->tau2[v][g], &next);
	if (rv == NUDGE_ESTALE) {
		stats_seq_init(&cc->seq[v][g]);
		rv = stats_seq_update(&cc->seq[v][g], &ctl, &var,
		    CRT_BREAKER_ALPHA, cc->tau2[v][g], &next);
	}
	if (rv != 0)
		return false;
	cc->seq[v][g] = next;
	if (next.flags & STATS_F_DEGENERATE || !(next.hi < -drop * p0))
		return false;
	snprintf(why, cap, "variant %s: %s %.1f%% vs control %.1f%% "
	    "(drop > %g%% with %g%% confidence)", cc->c.variant[v],
	    cc->guard[g].name, 100.0 * pv, 100.0 * p0, 100.0 * drop,
	    100.0 * (1.0 - CRT_BREAKER_ALPHA));
	return true;
}

/* Runs every breaker of cc; true if it tripped now (mu held). */
static bool
breaker_run(struct crt_camp *cc)
{
	char why[CAMP_REASON_MAX + 1];

	if (!cc->valid || cc->c.state != CAMP_RUNNING || cc->c.tripped)
		return false;
	for (unsigned v = 1; v < cc->c.n_variants; v++)
		for (unsigned g = 0; g < cc->n_guard; g++)
			if (breaker_check(cc, v, g, why, sizeof(why)) &&
			    camp_trip(&cc->c, why) == 0)
				return true;
	return false;
}

void
crt_tick(struct crt *c, uint64_t now_wall_ms)
{
	pthread_mutex_lock(&c->chg_mu);
	for (unsigned i = 0; i < c->n_camps; i++) {
		struct camp cm;
		uint64_t since;
		int slot;
		bool tripped;
		pthread_mutex_lock(&c->mu);
		tripped = breaker_run(&c->camps[i]);
		cm = c->camps[i].c;
		since = c->camps[i].since_ms;
		slot = c->camps[i].slot;
		pthread_mutex_unlock(&c->mu);
		if (!tripped)
			continue;
		log_warn("campaign %s: breaker tripped at %" PRIu64
		    ": %s; everyone sees control", cm.name, now_wall_ms,
		    cm.reason);
		if (camp_persist(c, &cm, since, slot, false, "breaker",
		    "trip") != 0)
			log_error("campaign %s: could not save the trip: %s",
			    cm.name, store_last_error(c->st));
	}
	pthread_mutex_unlock(&c->chg_mu);
}

/* ---- saving ----------------------------------------------------------- */

/* Copies the dirty counters (mu held); names point into the table. */
static void
flush_collect(struct crt *c, struct store_camp_ctr *cv, size_t *nc,
    struct store_rule_exp *rv, size_t *nr)
{
	*nc = *nr = 0;
	for (unsigned i = 0; i < c->n_camps; i++) {
		struct crt_camp *cc = &c->camps[i];
		if (!cc->valid || !cc->dirty)
			continue;
		for (unsigned v = 0; v < cc->c.n_variants; v++) {
			struct store_camp_ctr *s = &cv[(*nc)++];
			const struct wire_camp_arm *a = &cc->arm[v];
			*s = (struct store_camp_ctr){.name = cc->c.name,
			    .variant = (uint8_t)v, .n = a->n, .x = a->x,
			    .rev_cents = a->rev_cents};
			for (int g = 0; g < RULE_GUARDRAILS_MAX; g++)
				s->g[g] = a->g[g];
			memcpy(s->steps, a->steps, sizeof(s->steps));
		}
		cc->dirty = false;
	}
	for (unsigned i = 0; i < c->n_rexp; i++) {
		struct crt_rexp *r = &c->rexp[i];
		if (!r->dirty)
			continue;
		rv[(*nr)++] = (struct store_rule_exp){r->rule, r->tn, r->tx,
		    r->hn, r->hx, r->slot};
		r->dirty = false;
	}
}

/* Saving failed: what was collected is dirty again (mu held). */
static void
flush_redirty(struct crt *c, const struct store_camp_ctr *cv, size_t nc,
    const struct store_rule_exp *rv, size_t nr)
{
	for (size_t i = 0; i < nc; i++) {
		struct crt_camp *cc = camp_find(c, cv[i].name);
		if (cc != NULL)
			cc->dirty = true;
	}
	for (size_t i = 0; i < nr; i++) {
		int x = rexp_find(c, rv[i].rule);
		if (x >= 0)
			c->rexp[x].dirty = true;
	}
}

/* crt_flush with chg_mu held (or from crt_swap, which holds it). */
static int
flush_locked(struct crt *c)
{
	struct store_camp_ctr *cv;
	struct store_rule_exp *rv;
	size_t nc, nr;
	int rc;

	pthread_mutex_lock(&c->mu);
	cv = calloc((size_t)c->n_camps * CAMP_VARIANTS_MAX + 1, sizeof(*cv));
	rv = calloc((size_t)c->n_rexp + 1, sizeof(*rv));
	if (cv == NULL || rv == NULL) {
		pthread_mutex_unlock(&c->mu);
		free(cv);
		free(rv);
		return NUDGE_ENOMEM;
	}
	flush_collect(c, cv, &nc, rv, &nr);
	pthread_mutex_unlock(&c->mu);
	/* names stay valid: the table only changes under chg_mu */
	rc = store_save_camp_counters(c->st, cv, nc, rv, nr);
	if (rc != 0) {
		pthread_mutex_lock(&c->mu);
		flush_redirty(c, cv, nc, rv, nr);
		pthread_mutex_unlock(&c->mu);
	}
	free(cv);
	free(rv);
	return rc;
}

int
crt_flush(struct crt *c)
{
	int rc;

	pthread_mutex_lock(&c->chg_mu);
	rc = flush_locked(c);
	pthread_mutex_unlock(&c->chg_mu);
	return rc;
}

/* ---- the thread ------------------------------------------------------- */

static void *
crt_thread(void *arg)
{
	struct crt *c = arg;
	struct timespec ts;

	pthread_mutex_lock(&c->stop_mu);
	while (!c->stop) {
		/* monotonic: a wall clock set back 1 h must not stall it 1 h */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&c->stop_cv, &c->stop_mu, &ts);
		if (c->stop)
			break;
		pthread_mutex_unlock(&c->stop_mu);
		crt_tick(c, clock_wall_ms());
		if (crt_flush(c) != 0)
			log_warn("campaigns: could not save counters: %s",
			    store_last_error(c->st));
		pthread_mutex_lock(&c->stop_mu);
	}
	pthread_mutex_unlock(&c->stop_mu);
	return NULL;
}

int
crt_start(struct crt *c)
{
	if (c->running)
		return 0;
	c->stop = false;
	if (pthread_create(&c->thread, NULL, crt_thread, c) != 0)
		return NUDGE_ENOMEM;
	c->running = true;
	return 0;
}

void
crt_stop(struct crt *c)
{
	if (c == NULL || !c->running)
		return;
	pthread_mutex_lock(&c->stop_mu);
	c->stop = true;
	pthread_cond_signal(&c->stop_cv);
	pthread_mutex_unlock(&c->stop_mu);
	pthread_join(c->thread, NULL);
	c->running = false;
}

/* ---- lifecycle -------------------------------------------------------- */

static void
load_rexp(void *arg, const struct store_rule_exp *sr)
{
	struct crt *c = arg;
	int x = rexp_get(c, sr->rule);

	if (x < 0)
		return;
	c->rexp[x].tn = sr->tn;
	c->rexp[x].tx = sr->tx;
	c->rexp[x].hn = sr->hn;
	c->rexp[x].hx = sr->hx;
	c->rexp[x].slot = sr->slot;
}

int
crt_new(struct crt **out, struct store *st, struct sesstab *t,
    struct rrt *rr, struct nudge_diag *d)
{
	struct crt *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	c->st = st;
	c->t = t;
	c->rr = rr;
	c->fresh = true;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->chg_mu, NULL);
	pthread_mutex_init(&c->stop_mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->stop_cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = store_load_rule_exps(st, load_rexp, c)) != 0) {
		nudge_diag_set(d, 0, 0, "cannot load the rules' experiments: "
		    "%s", store_last_error(st));
		crt_free(c);
		return rv;
	}
	if (rr != NULL) {
		rrt_set_swap_fn(rr, crt_swap, c);
		rrt_set_variant_fn(rr, crt_variant, c);
	}
	*out = c;
	return 0;
}

void
crt_free(struct crt *c)
{
	if (c == NULL)
		return;
	crt_stop(c);
	if (c->rr != NULL) {
		rrt_set_variant_fn(c->rr, NULL, NULL);
		rrt_set_swap_fn(c->rr, NULL, NULL);
	}
	if (crt_flush(c) != 0)
		log_warn("campaigns: could not save counters: %s",
		    store_last_error(c->st));
	free(c->camps);
	free(c->rexp);
	free(c->rorder);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->chg_mu);
	pthread_mutex_destroy(&c->stop_mu);
	pthread_cond_destroy(&c->stop_cv);
	free(c);
}
