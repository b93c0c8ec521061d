/*
 * relayenv.h - reading a relay's envelope (agent/relay.h, common/wire.h):
 * a relay answers a forwarded command with status 0 and body
 *   {agents: [[name str, status int, message str, body]...]}
 * one entry per agent behind it, each that agent's own reply; a relay
 * behind a relay has its own envelope as its entry's body.
 *
 * The console's views ask "what did each agent say?"; relayenv_each()
 * answers it the same way for a plain agent's reply (one leaf: the reply
 * itself) and for a relay's (every agent behind it, nested relays
 * walked), so a view adds one unwrap step before its own parsing.  The
 * scripting CLI (fleet.c) expands one level at a time and uses only
 * relayenv_agents().
 *
 * Pure functions over decoded msgpack; any thread.
 */
#ifndef NUDGE_RELAYENV_H
#define NUDGE_RELAYENV_H

#include <stdbool.h>

#include <msgpack.h>

#include "wire.h"

#define RELAYENV_DEPTH_MAX 4	/* relays behind relays walked */

/* One agent's own reply: borrowed from the reply, valid during the call. */
struct relayenv_leaf {
	char name[WIRE_AGENT_MAX + 1];	/* "" for a plain agent's reply */
	int status;
	char message[256];
	const msgpack_object *body;	/* never NULL; may be nil */
	unsigned depth;			/* 0: the reply itself */
};

typedef void (*relayenv_fn)(void *arg, const struct relayenv_leaf *leaf);

/*
 * The agents array of an envelope (status 0, body a map holding only
 * "agents", every entry [str, int, str, any]), or NULL when status/body
 * are a plain reply.  Borrowed from body.
 */
const msgpack_object *relayenv_agents(int status, const msgpack_object *body);

/* Whether rp is a relay's envelope. */
bool relayenv_is(const struct wire_reply *rp);

/*
 * Calls fn once per agent's own reply in rp, in order: rp itself when it
 * is not an envelope, else every entry, an entry that is an envelope in
 * turn replaced by its entries (down to RELAYENV_DEPTH_MAX; deeper ones
 * are passed as they are).  Returns how many times fn was called.
 */
unsigned relayenv_each(const struct wire_reply *rp, relayenv_fn fn,
    void *arg);

/*
 * The one answer that matters when a single agent holds the thing asked
 * about (a visitor): the first leaf with status 0, else the first leaf.
 * Writes *out and returns true, or false when rp has no leaf at all (an
 * empty envelope: *out untouched).
 */
bool relayenv_pick(const struct wire_reply *rp, struct relayenv_leaf *out);

/*
 * The answer with the newest "version" (a rule set asked of every agent
 * behind a relay): among the leaves with status 0 the one whose body's
 * version is highest (the first of equals), else the first leaf.  *out
 * is untouched when rp has no leaf.
 */
void relayenv_pick_newest(const struct wire_reply *rp,
    struct relayenv_leaf *out);

#endif
