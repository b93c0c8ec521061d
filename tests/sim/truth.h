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

#include "event.h"
#include "funnel.h"

#define TRUTH_CACHE 1024

/* A remembered source class, keyed by the addresses of the strings. */
struct truth_memo {
	const char *ptr[5];
	uint32_t len[5];
	int source;
};

struct truth {
	struct funnel funnel;
	struct truth_memo memo[TRUTH_CACHE];
	uint64_t visitors;
	uint64_t events;
	uint64_t purchases;
	int64_t revenue_cents;
	uint64_t by_type[EVENT_TYPE_COUNT];
	uint64_t steps[AGG_STEPS_MAX];    /* sessions that reached step k */
	uint64_t by_source[SOURCE_COUNT]; /* sessions */
	uint64_t by_device[DEVICE_COUNT]; /* sessions */
};

/* Per-session state; zero it when the session starts. */
struct truth_session {
	bool started;
	uint8_t reached; /* funnel steps reached so far */
};

/* Zeroes t and loads the default funnel. */
void truth_init(struct truth *t);

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
