/*
 * tarpit.h - holds the answers of clients that will not slow down.
 *
 * A 429 costs the agent as much CPU as any cheap request, and a flooder
 * on keep-alive connections asks again the moment it is answered: tens of
 * thousands of refusals a second take a core from the ordinary visitors.
 * So once a visitor or address has been refused often (agent/http.c
 * decides who), its next refusals wait hold_ms before they are sent: its
 * connection is suspended, not its worker thread, and a flooder on K
 * connections gets K answers per hold_ms instead of as many as the CPU
 * can make.  (HAProxy's `http-request tarpit` is the model.)
 *
 * Bounded: at most `max` connections are held at once; past that a
 * refusal is answered at once, as without a tarpit, so a flooder with
 * many connections cannot fill the server's connection limit with held
 * ones.  Every hold lasts the same time, so the held connections form a
 * FIFO ring and the releasing thread only ever looks at its head.
 *
 * The module knows no HTTP library: it calls the suspend and resume
 * functions it was given (MHD_suspend_connection, MHD_resume_connection).
 *
 *   hold:  tarpit_hold -> suspend(conn) ... hold_ms ... resume(conn)
 *          -> (the server calls its handler again) -> tarpit_release
 *   close: tarpit_close resumes every held connection now, refuses new
 *          holds and waits (bounded) until each was released.
 *
 * Threads: tarpit_hold and tarpit_release on any thread (the server's
 * workers); one thread of its own resumes; tarpit_close and tarpit_free
 * on the thread that owns the server, before it stops the server.
 */
#ifndef NUDGE_TARPIT_H
#define NUDGE_TARPIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct tarpit;

typedef void (*tarpit_conn_fn)(void *conn);

/*
 * max: connections held at once (>= 1); hold_ms: how long each is held
 * (>= 1); suspend is called by tarpit_hold under the tarpit's lock (so
 * that the resume can never come first), resume on the tarpit's thread
 * without it.  Starts the thread.  Returns 0 and *out, NUDGE_EINVAL or
 * NUDGE_ENOMEM.
 */
int tarpit_new(struct tarpit **out, size_t max, uint64_t hold_ms,
    tarpit_conn_fn suspend, tarpit_conn_fn resume);

/*
 * Suspends conn and resumes it hold_ms later: true.  False, and conn is
 * left alone, when `max` are held already or the tarpit is closed; the
 * caller answers at once then.
 */
bool tarpit_hold(struct tarpit *t, void *conn);

/* The server took back a connection tarpit_hold suspended. */
void tarpit_release(struct tarpit *t);

struct tarpit_stats {
	size_t held;		/* now: suspended and not yet released */
	uint64_t holds;		/* so far */
	uint64_t overflows;	/* refusals answered at once: `max` held */
};

struct tarpit_stats tarpit_stats(struct tarpit *t);

/*
 * Resumes every held connection now, refuses later holds and waits up to
 * wait_ms until every one was released.  Returns 0, or NUDGE_ETIMEOUT
 * with connections still unreleased.  Idempotent.
 */
int tarpit_close(struct tarpit *t, uint64_t wait_ms);

/* Closes (waiting 1 s at most), joins the thread and frees; NULL is fine. */
void tarpit_free(struct tarpit *t);

#endif
