/*
 * rules_rt.h - the agent's live rules: the versioned rule sets in force
 * (active and shadow), the context facts rules test, the visitor memory
 * (orders, sessions, cap history) and per-rule counters.
 *
 * Versions and pushes (rrt_put, rrt_rollback), per kind (active, shadow):
 *
 *	         rrt_put(v > current): compile -> persist (FULL) -> swap
 *	current ------------------------------------------------------> v
 *	   |  rrt_put(v == current, same text): acknowledged, nothing done
 *	   |  rrt_put(v <= current otherwise):  NUDGE_ESTALE, nothing done
 *	   |  rrt_put(text does not compile):   NUDGE_ESYNTAX + errors
 *	   |  rrt_rollback(n): text of n re-applied as max + 1
 *
 * Invariants:
 *  1. Versions only increase; the store holds every version applied.
 *  2. A set is on disk (synchronous=FULL) before it is swapped in, and it
 *     is swapped in before rrt_put returns: an acknowledged push survives a
 *     crash, and the next event is evaluated with it.
 *  3. Readers never see a half-applied set: a set is immutable, reached
 *     through a refcounted generation pointer that a writer replaces under
 *     a mutex held for a few instructions (acquire = lock, load, increment,
 *     unlock); the old generation is freed by its last reader.
 *
 * Caps: a per-visitor history (rule key -> session count and the newest
 * RRT_TS_MAX firing times, at most RRT_HIST_MAX rules per visitor; a new
 * rule's entry replaces the stalest score or holdout entry, a shown
 * action's only when there are none, see hist_victim) held in memory (at
 * most visitors_max visitors; a new one replaces the least recently seen
 * of 16 neighbouring entries, see vevict) and written to the store about
 * once a second and at a graceful stop, so `at most N per 7 days` holds
 * across sessions and restarts.  A cap count above RRT_TS_MAX is enforced
 * as RRT_TS_MAX (the safe side).  Day windows run on a "cap clock" that follows the monotonic
 * clock, slewing towards the wall clock by at most 1% (a wall-clock step
 * backwards or forwards is followed over time, never at once) and never
 * goes back across restarts (its last value is saved); a step of the wall
 * clock while the agent was down is taken as it is.
 *
 * Delivery: rrt_eval records as shown only what the caller will deliver
 * (shown != NULL, the beacon path); on other paths (emit, push, access
 * log) visible actions are counted as not delivered and recorded nowhere,
 * so they cannot use up a cap the browser never saw.  Score-only rules
 * are recorded on every path.
 *
 * Campaigns (the campaign runtime) plug in through rrt_set_variant_fn.
 *
 * Threads: rrt_eval, rrt_stats and the getters on any thread at once;
 * rrt_put, rrt_rollback and rrt_context_set serialize among themselves.
 * rrt_new/rrt_free with no other thread using the runtime.
 */
#ifndef NUDGE_RULES_RT_H
#define NUDGE_RULES_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"
#include "facts.h"
#include "rules.h"
#include "sesstab.h"
#include "store.h"

#define RRT_HIST_MAX 8		/* rules remembered per visitor */
#define RRT_TS_MAX 4		/* firing times remembered per rule */
#define RRT_VISITORS_DEFAULT 65536
#define RRT_SHOWN_MAX 8		/* decisions collected per beacon */
#define RRT_RATE_RULES 256	/* rules with a per-minute rate */
#define RRT_LIST_MAX 100	/* versions listed by rules_list */

enum rrt_kind { RRT_ACTIVE = 0, RRT_SHADOW = 1, RRT_KINDS = 2 };

struct rrt;

/*
 * Creates the runtime on st (borrowed, must outlive it): loads the newest
 * active and shadow sets, the context facts, the cap clock and the
 * visitor_max most recently seen visitors.  A stored set that no longer
 * compiles is logged and not run (its version still counts).  Returns 0
 * and *out, or NUDGE_ENOMEM / a store error with d->msg.
 */
int rrt_new(struct rrt **out, struct store *st, size_t visitors_max,
    struct nudge_diag *d);
/* Stops the flusher if running, saves what is dirty, frees. */
void rrt_free(struct rrt *r);

/* Starts / stops the thread that saves visitors and rates each second. */
int rrt_start(struct rrt *r);
void rrt_stop(struct rrt *r);
/* Saves every dirty visitor and the cap clock now. */
int rrt_flush(struct rrt *r);

/*
 * Erases one visitor's memory (orders, sessions, cap history) from memory
 * and from the store (privacy: `forget`).  *found (may be NULL): whether
 * it was held in memory.  Returns 0 or a store error.  Serialized with
 * rrt_flush, so a flush in progress cannot write the visitor back.
 */
int rrt_forget_visitor(struct rrt *r, struct nudge_strv visitor,
    bool *found);

/*
 * Retention: drops from memory every visitor last seen (wall clock) before
 * before_ms; the store's rows are store_purge()'s.  Returns how many.
 */
size_t rrt_purge(struct rrt *r, uint64_t before_ms);

/* ---- pushes ------------------------------------------------------------ */

struct rrt_put {
	uint64_t version;	/* 0: current + 1 */
	const char *text;	/* len bytes, need not be NUL-terminated */
	size_t len;
	int kind;		/* enum rrt_kind */
	const char *who;	/* for the store and the audit */
};

/*
 * Compiles, persists and swaps in a set (see the diagram).  Returns 0 with
 * *applied (the version now in force), NUDGE_ESTALE, NUDGE_ESYNTAX with
 * errs filled, NUDGE_ETOOBIG, or a store error; d->msg says why.
 */
int rrt_put(struct rrt *r, const struct rrt_put *p, uint64_t *applied,
    struct rule_errors *errs, struct nudge_diag *d);

/* Re-applies the text of active version `version` as a new version. */
int rrt_rollback(struct rrt *r, uint64_t version, const char *who,
    uint64_t *applied, struct nudge_diag *d);

/* Version in force for kind (0: none yet), and its hash ("" if none). */
uint64_t rrt_version(struct rrt *r, int kind);
void rrt_hash(struct rrt *r, int kind, char out[17]);

/* ---- evaluation -------------------------------------------------------- */

/* A visible action for the beacon's answer (agent/http.c maps it). */
struct rrt_decision {
	uint8_t kind;			/* enum rule_act */
	char id[RULE_NAME_MAX + 1];	/* rule name */
	char sel[256];
	char text[RULE_TEXT_MAX + 1];
};

/*
 * A rule with a holdout that fired on the beacon path: shown (delivered
 * in d[]) or held out.  The campaign runtime counts these (camprt.h).
 */
struct rrt_trial {
	char rule[RULE_NAME_MAX + 1];
	bool held;
};

struct rrt_shown {
	unsigned n;
	struct rrt_decision d[RRT_SHOWN_MAX];
	unsigned n_trials;
	struct rrt_trial trial[RRT_SHOWN_MAX];
};

/*
 * Evaluates both sets for one event of the session sv (after the session
 * table applied it), records what fires in the visitor's memory and the
 * counters, and appends the visible actions to be delivered to *shown
 * (NULL: not delivered, see above).  *score gets the score delta to add to
 * the session.  Bots and views without a session do nothing.
 */
int rrt_eval(struct rrt *r, const struct nudge_event *ev,
    const struct sesstab_view *sv, uint64_t now_mono_ms,
    uint64_t now_wall_ms, struct rrt_shown *shown, int32_t *score);

/*
 * The selectors the active set's hover/visible rules test (rule_set_watch),
 * computed once when the set is swapped in, as the JSON array the beacon
 * answer carries as "w": ["...", ...] (no escaping needed: rule_set_watch
 * keeps plain selectors only).  Copies it NUL-terminated into out and
 * returns its length; 0 (out = "") when the set watches nothing or it does
 * not fit in cap.  RRT_WATCH_JSON_MAX always fits.
 */
#define RRT_WATCH_JSON_MAX (RULE_WATCH_MAX * (RULE_WATCH_SEL_MAX + 3) + 3)
size_t rrt_watch_json(struct rrt *r, char *out, size_t cap);

/* The campaign runtime's seam: variant of visitor in campaign c, or -1. */
typedef int (*rrt_variant_fn)(void *arg, const struct rule_set *set,
    unsigned campaign, struct nudge_strv visitor);
void rrt_set_variant_fn(struct rrt *r, rrt_variant_fn fn, void *arg);

/*
 * Called with the active set after every swap (rrt_put, rrt_rollback),
 * and at once, from rrt_set_swap_fn itself, with the set in force (NULL
 * if none).  Calls are serialized with pushes, so none is missed and they
 * come in version order; set is valid during the call only.  fn NULL
 * unhooks.
 */
typedef void (*rrt_swap_fn)(void *arg, const struct rule_set *set);
void rrt_set_swap_fn(struct rrt *r, rrt_swap_fn fn, void *arg);

/*
 * What the visitor's memory says the active set's rules did to them (the
 * cap history: rules fired or shown, recorded for caps), for the console's
 * visitor detail: name, firings in the current session, and the newest
 * firing on the cap clock (about wall-clock seconds).  Rules of an older
 * set that the active one no longer has are left out.  Returns how many
 * were written, at most cap (RRT_HIST_MAX are kept per visitor).
 */
struct rrt_visitor_rule {
	char name[RULE_NAME_MAX + 1];
	uint16_t session_n;
	uint32_t last_sec;
};
size_t rrt_visitor_rules(struct rrt *r, struct nudge_strv visitor,
    struct rrt_visitor_rule *out, size_t cap);

/* ---- context facts ----------------------------------------------------- */

/*
 * Sets (or, type STORE_FACT_DEL, removes) n facts at once: persisted with
 * synchronous=FULL, then swapped in like a rule set.  Keys and indexes are
 * [A-Za-z0-9_.-], 1..RULE_NAME_MAX (index may be ""); strings at most
 * FACTS_STR_MAX bytes.  NUDGE_EINVAL / NUDGE_EFULL with d->msg.
 */
int rrt_context_set(struct rrt *r, const struct store_fact *v, size_t n,
    struct nudge_diag *d);
/* Calls fn for each fact in force, in (key, index) order. */
size_t rrt_context_each(struct rrt *r,
    void (*fn)(void *arg, const struct store_fact *f), void *arg);

/* ---- counters ---------------------------------------------------------- */

struct rrt_rule_stat {
	char name[RULE_NAME_MAX + 1];
	uint64_t m;	/* matched: fired or refused by a cap */
	uint64_t s;	/* shown: delivered to the browser */
	uint64_t c;	/* capped */
	uint64_t sh;	/* shadow matches (never shown) */
	uint64_t ho;	/* held out (matched, not shown, recorded) */
	uint64_t sho;	/* shadow matches whose visitor already saw an offer
			 * in this session */
	uint64_t nd;	/* fired on a path that cannot deliver */
	uint64_t m_min, sh_min, sho_min; /* over the last 60 s */
	bool shadow;	/* the rule says `shadow` or is in the shadow set */
};

/* Copies the counters of up to cap rules of kind's set; returns count. */
size_t rrt_stats(struct rrt *r, int kind, struct rrt_rule_stat *out,
    size_t cap);

/*
 * Fills the snapshot's rules_version, shadow_version and rules[] (active
 * rules first, then the shadow set's, at most WIRE_RULES_MAX).
 */
struct wire_snapshot;
void rrt_fill_snapshot(struct rrt *r, struct wire_snapshot *s);

/* Nanoseconds of one acquire+release of the set pointer (benchmark). */
double rrt_bench_acquire(struct rrt *r, unsigned iterations);

#endif
