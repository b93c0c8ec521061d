/*
 * evdec.h - a direct decoder of `emit` batches: events read from the raw
 * msgpack bytes with a cursor, no msgpack_object tree and no zone.
 *
 * The PUSH ingest path receives whole emit requests ([v, "emit", id, ts,
 * {ev: [event...]}, auth], wire.h) and only needs the events out of them.
 * evdec_emit_open() prechecks the buffer with wire_precheck() (the same
 * limits, so nothing unbounded is ever trusted), checks the envelope and
 * finds the ev array; evdec_next() then decodes one event at a time
 * straight into a struct nudge_event whose views point into the buffer.
 *
 * Equivalence (tests/test_evdec.c checks it differentially):
 *   - evdec_next() accepts exactly what wire_unpack_event() accepts for the
 *     same element, fills the same event, and fails with the same code and
 *     d->msg otherwise;
 *   - evdec_emit_open() then evdec_next() for every event then
 *     evdec_emit_close() all return 0 only for a buffer that
 *     wire_request_parse() accepts with cmd "emit", an args map whose first
 *     "ev" key holds an array of at most WIRE_EMIT_MAX elements.  Anything
 *     else (also valid requests it does not bother with) is NUDGE_EINVAL
 *     from one of the two: the caller then takes the msgpack-c path, which
 *     says precisely what is wrong.  What follows the ev array (the other
 *     args, auth) is checked only by evdec_emit_close(), so a caller
 *     decodes every event first and applies none before the close says 0.
 *
 * Pure functions over caller-owned memory; any thread.
 */
#ifndef NUDGE_EVDEC_H
#define NUDGE_EVDEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"
#include "wire.h"

/* Cursor over the elements of the ev array; views borrow the buffer. */
struct evdec {
	const uint8_t *p;	/* the next element */
	const uint8_t *end;	/* end of the buffer */
	uint32_t left;		/* elements not read yet */
	uint32_t n;		/* elements in the array */
	uint32_t tail;		/* emit: args pairs after ev */
	bool emit;		/* opened by evdec_emit_open, not closed */
};

/*
 * Opens an emit request held in buf (which must outlive the cursor and
 * every event decoded from it).  Returns 0 with *c at the first event, or
 * NUDGE_EINVAL (c untouched; see above: decode it the msgpack-c way).
 */
int evdec_emit_open(struct evdec *c, const void *buf, size_t len,
    const struct wire_limits *lim);

/*
 * After the last evdec_next() of an emit cursor: checks the rest of the
 * request.  Returns 0, or NUDGE_EINVAL (events left, or the request is
 * not one evdec reads: take the msgpack-c path).
 */
int evdec_emit_close(struct evdec *c);

/*
 * Opens a cursor over a buffer that holds exactly one msgpack array (the
 * ev array alone; tests and fuzzers).  Prechecks it under lim; returns 0,
 * a wire_precheck() error, or NUDGE_ETYPE when it is not an array.
 */
int evdec_array_open(struct evdec *c, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d);

/*
 * Decodes the next element into *ev (written only on success; as
 * event_init would leave it, except that fields[] past n_fields are left
 * as they were) and moves past it whatever the result.  Returns 0, the
 * error wire_unpack_event()
 * gives for that element (d->msg filled alike), or NUDGE_ENOTFOUND when no
 * element is left.
 */
int evdec_next(struct evdec *c, struct nudge_event *ev, struct nudge_diag *d);

#endif
