/*
 * wire_int.h - what the wire format's own files share (wire.c owns the
 * precheck and the envelope; wire_camp.c and wire_ctl.c build on them).
 * Not for use outside common/wire*.c.
 */
#ifndef NUDGE_WIRE_INT_H
#define NUDGE_WIRE_INT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "wire.h"

/*
 * Offset at which element i of the top-level array of a prechecked buffer
 * starts (the end of the buffer if it has fewer elements).
 */
size_t wire_elem_offset(const void *buf, size_t len, size_t i);

/* Prechecks buf and unpacks its one object into up (init'ed here). */
int wire_unpack_top(msgpack_unpacked *up, const void *buf, size_t len,
    const struct wire_limits *lim, struct nudge_diag *d);

/* Sets d to "envelope element pos: what" at that element; returns rc. */
int wire_envelope_fail(struct nudge_diag *d, const void *buf, size_t len,
    size_t pos, int rc, const char *what);

/* Checks position 0 (the version) and the element count of an envelope. */
int wire_check_version(const msgpack_object *root, uint32_t size,
    const void *buf, size_t len, struct nudge_diag *d);

#endif
