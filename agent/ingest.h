/*
 * ingest.h - events in from local processes: the acknowledged `emit`
 * command (on the ingest and control sockets) and a fire-and-forget nng
 * PULL socket for PUSH clients (same message: an emit request), both
 * feeding the session table directly.
 */
#ifndef NUDGE_INGEST_H
#define NUDGE_INGEST_H

#include <stddef.h>

#include <msgpack.h>

#include "agent.h"

/*
 * Validates and applies every event of an `ev` array.  Refused events are
 * counted as bad rows (AGG_REJECTED), never silently dropped; when errs is
 * not NULL their index and reason are packed there, at most WIRE_ERRS_MAX
 * ([index, message] pairs, as an array the caller opened with *n_errs
 * returned).  Returns 0, or NUDGE_ETYPE / NUDGE_ETOOBIG if ev is not an
 * array of at most WIRE_EMIT_MAX elements (nothing applied then).
 */
int ingest_events(struct agent *a, const msgpack_object *ev, size_t *acc,
    size_t *rej, struct nudge_diag *first_err, msgpack_packer *errs,
    size_t *n_errs);

struct ingest_pull;

/* Listens on url (PULL) with two receive aios.  Returns 0 or NUDGE_ECONN. */
int ingest_pull_start(struct ingest_pull **out, struct agent *a,
    const char *url, struct nudge_diag *d);
void ingest_pull_stop(struct ingest_pull *p);

#endif
