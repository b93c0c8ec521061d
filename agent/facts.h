/*
 * facts.h - the context facts rules read (`context.weather["north"]`):
 * an immutable, sorted, refcounted set of (key, index) -> number or string,
 * set from outside (`nudge context set`, agent/cmd_rules.c) and kept in the
 * store (store_put_facts).
 *
 * A set never changes once made: a change makes a new set (facts_merge)
 * that the rules runtime swaps in (agent/rules_rt.c), and readers hold a
 * reference (facts_hold) for as long as they read.  Lookups are a binary
 * search over the sorted entries.
 *
 * Names: a key is 1..RULE_NAME_MAX of [A-Za-z0-9_.-], an index the same or
 * empty; a string value is at most FACTS_STR_MAX bytes; a set holds at
 * most FACTS_MAX facts.
 *
 * Threads: a set is read-only, so any thread may read one it holds a
 * reference to; facts_hold and facts_release are atomic.
 */
#ifndef NUDGE_FACTS_H
#define NUDGE_FACTS_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "rules.h"
#include "store.h"

#define FACTS_MAX 1024
#define FACTS_STR_MAX 255

struct facts;

/*
 * Checks a change before it is applied: 0, NUDGE_EINVAL (a bad key or
 * index) or NUDGE_ETOOBIG (a string too long), with d->msg.
 */
int facts_check(const struct store_fact *v, size_t n, struct nudge_diag *d);

/*
 * A new set: cur (may be NULL) with the n changes of v applied in order (a
 * STORE_FACT_DEL removes; of two changes of one fact the last wins), one
 * reference held by the caller.  It may hold more than FACTS_MAX: the
 * caller refuses it then (facts_count).  NULL when out of memory.
 */
struct facts *facts_merge(const struct facts *cur, const struct store_fact *v,
    size_t n);

/*
 * The set the store holds (the valid ones of its first FACTS_MAX rows), one
 * reference held by the caller.  *bad: the store could not be read (the
 * set is then what was read before the error).  NULL when out of memory.
 */
struct facts *facts_load(struct store *st, bool *bad);

void facts_hold(struct facts *f);
/* Drops a reference; the last frees the set.  NULL is fine. */
void facts_release(struct facts *f);

size_t facts_count(const struct facts *f);

/* The value of (key, index) into *out (strings point into f): true if set. */
bool facts_get(const struct facts *f, struct nudge_strv key,
    struct nudge_strv index, struct rule_value *out);

/* Calls fn for each fact, in (key, index) order; returns how many. */
size_t facts_each(const struct facts *f,
    void (*fn)(void *arg, const struct store_fact *sf), void *arg);

#endif
