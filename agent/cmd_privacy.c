/*
 * cmd_privacy.c - the control command of a visitor's right to erasure:
 * forget (args and body in common/wire.h; PRIVACY.md says what it
 * covers).
 *
 * One run() over the parts of the agent that hold a visitor: the live
 * session and its sampled events (sesstab), an operator's pending message
 * (oneoff), the rules' visitor memory (rules_rt), the archived and saved
 * live sessions (store), and the consoles (the snapshot's "forgot", via
 * agent/forgot.h).  Operator role; replayable (a resent request id is
 * answered from the replay cache); audited with the visitor as a hash,
 * never the id itself.  Runs on nng worker threads; keeps no state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "command.h"
#include "forgot.h"
#include "oneoff.h"
#include "rules_rt.h"

struct forget_res {
	bool live;		/* a live session was closed */
	bool memory;		/* the rules held a memory of them */
	bool message;		/* an operator message was pending */
	uint64_t archived;	/* archived sessions deleted */
	uint64_t saved;		/* sessions saved at a graceful stop deleted */
};

/*
 * Order matters (forgot.h): recorded first, so that the archiver drops
 * any session of theirs it closes from now on; the barrier waits for a
 * batch being written; then memory, then the store.
 */
static int
forget_all(struct agent *a, struct nudge_strv vid, struct forget_res *r,
    struct nudge_diag *d)
{
	struct rrt_decision msg;
	int rv = 0;

	forgot_add(a->forgot, vid, clock_mono_ms());
	forgot_barrier_lock(a->forgot);
	forgot_barrier_unlock(a->forgot);
	r->live = sesstab_forget(a->sessions, vid) == 0;
	r->message = a->oneoff != NULL &&
	    oneoff_take(a->oneoff, vid, clock_mono_ms(), &msg);
	if (a->rules != NULL &&
	    (rv = rrt_forget_visitor(a->rules, vid, &r->memory)) != 0) {
		nudge_diag_set(d, 0, 0, "store: %s",
		    store_last_error(a->store));
		return rv;
	}
	rv = store_forget_sessions(a->store, vid.ptr, vid.len, &r->archived,
	    &r->saved);
	if (rv != 0)
		nudge_diag_set(d, 0, 0, "store: %s",
		    store_last_error(a->store));
	return rv;
}

static int
forget_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct forget_res r = {0};
	struct nudge_strv vid = {0};
	uint64_t h;
	int rv = NUDGE_EINVAL;

	if (rq->args == NULL || wire_get_strv(rq->args, "vid", &vid) != 0 ||
	    vid.len == 0 || vid.len > EVENT_VISITOR_MAX) {
		nudge_diag_set(d, 0, 0, "vid: the visitor id (1..%d bytes) is "
		    "required", EVENT_VISITOR_MAX);
		cmd_audit(a, rq, rv, "refused: %s", d->msg);
		return rv;
	}
	h = wire_visitor_hash(vid);
	if ((rv = forget_all(a, vid, &r, d)) != 0) {
		cmd_audit(a, rq, rv, "visitor #%016" PRIx64 ": %s", h, d->msg);
		return rv;
	}
	cmd_audit(a, rq, 0, "visitor #%016" PRIx64 ": live %s, %" PRIu64
	    " archived and %" PRIu64 " saved sessions, memory %s, message %s",
	    h, r.live ? "yes" : "no", r.archived, r.saved,
	    r.memory ? "yes" : "no", r.message ? "yes" : "no");
	msgpack_pack_map(pk, 3);
	wire_pack_cstr(pk, "live");
	if (r.live)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	wire_pack_cstr(pk, "archived");
	msgpack_pack_uint64(pk, r.archived + r.saved);
	wire_pack_cstr(pk, "facts");
	msgpack_pack_uint64(pk, (uint64_t)r.memory + r.message);
	return 0;
}

const struct cmd_ops cmd_forget = {
	.name = "forget",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = forget_run,
};
