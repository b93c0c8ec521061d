/*
 * funnel.h - conversion funnels: ordered steps, each a predicate on events.
 *
 * A funnel is written as steps separated by "->":
 *
 *	visit -> page ~ "/product/" -> event == "add_to_cart"
 *	      -> page == "/checkout" -> event == "purchase"
 *
 * Predicates: `visit` (any event: the session exists), `page == "s"`,
 * `page ~ "pattern"` (glob with * and ? when the pattern has one, else
 * substring; linear time, no backtracking blow-up), `event == "name"`.
 * A label may precede a step: `product: page ~ "/product/"`; without one the
 * label is derived (visit, the event name, or the page pattern).
 *
 * A session reaches steps in order only: an event advances a session past
 * step k+1 only when it has already reached k; one event may pass several
 * consecutive steps.  A funnel is immutable once parsed; any thread may
 * evaluate it.
 */
#ifndef NUDGE_FUNNEL_H
#define NUDGE_FUNNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "agg.h"
#include "err.h"
#include "event.h"

#define FUNNEL_NAME_MAX 31
#define FUNNEL_LABEL_MAX 47
#define FUNNEL_ARG_MAX 127

enum funnel_op {
	FUNNEL_VISIT = 0,
	FUNNEL_PAGE_EQ,
	FUNNEL_PAGE_MATCH,
	FUNNEL_EVENT_EQ
};

struct funnel_step {
	char label[FUNNEL_LABEL_MAX + 1];
	uint8_t op;		/* enum funnel_op */
	uint8_t event_type;	/* FUNNEL_EVENT_EQ: enum event_type */
	bool glob;		/* FUNNEL_PAGE_MATCH: pattern has * or ? */
	char arg[FUNNEL_ARG_MAX + 1];
};

struct funnel {
	char name[FUNNEL_NAME_MAX + 1];
	uint8_t n;		/* 1..AGG_STEPS_MAX */
	struct funnel_step step[AGG_STEPS_MAX];
};

/*
 * Parses text into out.  On error returns NUDGE_ESYNTAX / NUDGE_ETOOBIG and
 * sets d->line (1-based line within text) and d->col (1-based column);
 * out is written only on success.
 */
int funnel_parse(struct funnel *out, const char *name, const char *text,
    struct nudge_diag *d);

/* The demo shop's five steps: visit, product, cart, checkout, purchase. */
void funnel_default(struct funnel *out);

bool funnel_step_matches(const struct funnel_step *st,
    const struct nudge_event *ev);

/* Given steps already reached (0..n), returns the steps reached after ev. */
uint8_t funnel_advance(const struct funnel *f, uint8_t reached,
    const struct nudge_event *ev);

/* Glob match with * and ?, linear in practice, bounded O(n*m) worst case. */
bool funnel_glob(const char *pat, const char *s, size_t slen);

#endif
