/*
 * truth.h - what nudge-sim really sent, counted by the agent's definitions.
 *
 * Every event that leaves the simulator passes through truth_add(), so the
 * counts are exactly what was sent, however the run ended.  The funnel is
 * evaluated with funnel_advance() on funnel_default(), and the source with
 * event_classify_source() on a session's first event: the same code the
 * agent runs, so a test compares like with like.  One struct truth per run,
 * one struct truth_session per visitor session; single-threaded.
 */
#ifndef NUDGE_SIM_TRUTH_H
#define NUDGE_SIM_TRUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "ab.h"
#include "event.h"
#include "funnel.h"

#define TRUTH_CACHE 1024
#define TRUTH_DECISIONS_MAX 64 /* distinct decision ids remembered */

/* A remembered source class, keyed by the addresses of the strings. */
struct truth_memo {
	const char *ptr[5];
	uint32_t len[5];
	int source;
};

/* Visitors (sessions) and purchases sent, of one arm of a campaign. */
struct truth_arm {
	uint64_t visitors;
	uint64_t purchases;
	uint64_t dropped; /* --drop-variant: never sent, not in visitors */
};

struct truth_camp {
	struct truth_arm arm[ASSIGN_VARIANTS_MAX];
	struct truth_arm holdout;
};

/* One --rule-lift rule: visits shown it (in an answer) or not. */
struct truth_lift {
	struct truth_arm shown, not_shown;
};

/* A decision id seen in beacon answers (--beacon). */
struct truth_decision {
	char id[AB_NAME_MAX + 1];
	uint64_t answers;           /* answers that carried it */
	uint64_t visitors;          /* visits shown it at least once */
	uint64_t first_ms, last_ms; /* wall clock of the first and last */
};

struct truth {
	struct funnel funnel;
	const struct ab *ab; /* campaigns and lifts counted; may be NULL */
	struct truth_memo memo[TRUTH_CACHE];
	uint64_t visitors;
	uint64_t events;
	uint64_t purchases;
	int64_t revenue_cents;
	uint64_t by_type[EVENT_TYPE_COUNT];
	uint64_t steps[AGG_STEPS_MAX];    /* sessions that reached step k */
	uint64_t by_source[SOURCE_COUNT]; /* sessions */
	uint64_t by_device[DEVICE_COUNT]; /* sessions */
	struct truth_camp camp[AB_CAMPAIGNS_MAX]; /* ab->camp[k] */
	struct truth_lift lift[AB_LIFTS_MAX];     /* ab->lift[k] */
	bool beacon;                              /* --beacon output */
	uint64_t beacons;                         /* POSTs answered 200 */
	uint64_t retries;                         /* after a 429 */
	unsigned n_decisions;
	bool decisions_full; /* more distinct ids than remembered */
	struct truth_decision decision[TRUTH_DECISIONS_MAX];
};

/* Per-session state; zero it when the session starts. */
struct truth_session {
	bool started;
	bool bought;                  /* a purchase was sent */
	uint8_t reached;              /* funnel steps reached so far */
	const struct ab_visitor *abv; /* its campaigns, or NULL */
};

/* Zeroes t and loads the default funnel; ab (borrowed) may be NULL. */
void truth_init(struct truth *t, const struct ab *ab);

/* Counts a visit --drop-variant kept from being sent. */
void truth_dropped(struct truth *t, const struct ab_visitor *abv);

/*
 * A beacon answer carried decision id (len bytes) at wall time now_ms;
 * first says whether it is the first time in this visit.
 */
void truth_decision(
    struct truth *t, const char *id, size_t len, bool first, uint64_t now_ms);

/* At the end of a visit: whether it was shown --rule-lift rule k. */
void truth_lift_visit(
    struct truth *t, unsigned k, bool shown, const struct truth_session *ts);

/*
 * Counts one sent event of the session ts.  The source class of a first
 * event is remembered by the addresses and lengths of its page, referrer
 * and utm_* strings (classifying costs more than packing): those strings
 * must not change while t is in use, as nudge-sim's read-only tables
 * don't.
 */
void truth_add(
    struct truth *t, struct truth_session *ts, const struct nudge_event *ev);

/*
 * Writes t as one JSON object (see nudge-sim --help) to path.  Returns 0,
 * or NUDGE_EIO (errno set) when the file cannot be written.
 */
int truth_write(const struct truth *t, const char *path);

#endif
