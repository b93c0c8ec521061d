/*
 * publish.h - the agent's PUB socket: deltas every delta_ms, a snapshot
 * every snapshot_ms, and bounded samples of changed sessions and accepted
 * events, each kind with its own sequence number (see common/wire.h for
 * how deltas and snapshots chain).
 *
 * One publisher thread owns the socket and the sequence numbers.
 */
#ifndef NUDGE_PUBLISH_H
#define NUDGE_PUBLISH_H

#include "agent.h"
#include "wire.h"

struct publisher;

int publish_start(struct publisher **out, struct agent *a,
    struct nudge_diag *d);
/* Publishes a last delta and snapshot, then closes the socket. */
void publish_stop(struct publisher *p);

/* Fills s with the agent's current snapshot (also the `state` reply). */
void publish_fill_snapshot(struct agent *a, struct wire_snapshot *s);

#endif
