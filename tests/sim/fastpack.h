/*
 * fastpack.h - a straight-line encoder for the events nudge-sim sends.
 *
 * wire_pack_event() is the reference encoder of an event and stays the
 * only definition of the format; it is table-driven and makes ~30 small
 * msgpack-c calls per event, which caps the load generator near 2.5M
 * events/s.  fastpack_event() writes the very same bytes (same keys, same
 * order, same smallest encodings as msgpack-c) directly into the buffer.
 * It is checked byte for byte against wire_pack_event(): by tests/test_sim
 * on 100k sessions, and by out.c on the first events of every run (a
 * mismatch switches the run back to wire_pack_event with a warning).
 */
#ifndef NUDGE_SIM_FASTPACK_H
#define NUDGE_SIM_FASTPACK_H

#include <stdbool.h>

#include <msgpack.h>

#include "event.h"

/*
 * Appends ev to sb as wire_pack_event() would.  Returns false, writing
 * nothing, for what it does not handle (custom names, extra fields,
 * negative values) or when memory runs out; the caller then uses
 * wire_pack_event().
 */
bool fastpack_event(msgpack_sbuffer *sb, const struct nudge_event *ev);

#endif
