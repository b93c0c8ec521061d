/*
 * emit_event.h - turning `nudge emit` input (flags or one JSON object) into
 * a struct nudge_event.
 *
 * The event borrows every string from its input: argv strings, or the
 * json_t (whose string values must outlive the event).  Only shapes are
 * checked here (types, known keys, numbers that parse); the agent runs
 * event_validate() and says which events it refused.
 */
#ifndef NUDGE_EMIT_EVENT_H
#define NUDGE_EMIT_EVENT_H

#include <stddef.h>

#include <jansson.h>

#include "event.h"

/*
 * Sets one field by its JSON name ("page", "utm_source", "value", "x",
 * ...; "type" sets the type and, for unknown names, the custom name) from
 * the text s of length len, which ev borrows.  Returns 0, or -1 with a
 * message in err.
 */
int emit_event_set(struct nudge_event *ev, const char *key, const char *s,
    size_t len, char *err, size_t errcap);

/* Adds "k=v" (borrowed) as an extra field: 0, or -1 with err. */
int emit_event_field(
    struct nudge_event *ev, const char *kv, char *err, size_t errcap);

/*
 * Fills ev (event_init first) from a JSON object with the keys listed in
 * `nudge help emit`; type and visitor are required.  Returns 0, or -1 with
 * the reason in err.
 */
int emit_event_from_json(
    const json_t *o, struct nudge_event *ev, char *err, size_t errcap);

#endif
