/*
 * replay.h - the answer cache that makes control requests idempotent.
 *
 * nng's REQ resends a request on timeout and on reconnect, and a script may
 * retry by itself: a request id seen before is answered with the reply
 * already given, never applied twice.  A request still being handled is
 * marked, so a duplicate arriving meanwhile gets NUDGE_EBUSY ("retry")
 * instead of a second application.  Bounded: REPLAY_SLOTS answers, oldest
 * evicted first.  Thread-safe (one mutex).
 */
#ifndef NUDGE_REPLAY_H
#define NUDGE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define REPLAY_SLOTS 8192
#define REPLAY_REPLY_MAX 4096	/* larger replies are not cached */

struct replay;

int replay_new(struct replay **out);
void replay_free(struct replay *r);

enum replay_state {
	REPLAY_NEW = 0,		/* not seen: now marked in progress */
	REPLAY_PENDING,		/* seen, still being handled */
	REPLAY_DONE		/* seen, answer copied out */
};

/*
 * Looks id up.  REPLAY_DONE: a malloc'ed copy of the answer is in *reply /
 * *len (the caller frees it).  REPLAY_NEW: id is now marked in progress and
 * the caller must call replay_finish() (or replay_abandon()).
 */
int replay_begin(struct replay *r, const uint8_t id[WIRE_ID_LEN],
    void **reply, size_t *len);
void replay_finish(struct replay *r, const uint8_t id[WIRE_ID_LEN],
    const void *reply, size_t len);
void replay_abandon(struct replay *r, const uint8_t id[WIRE_ID_LEN]);

#endif
