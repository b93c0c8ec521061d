/*
 * relay.h - nudged --relay: one process that follows a group of agents (or
 * relays) and looks like ONE agent to a console.
 *
 * Upstream: one console link (console/link.c: SUB dialing the agent's PUB,
 * REQ to its control socket, liveness and re-open) per [relay] upstream,
 * all feeding one console model (console/model.c), which tracks every
 * agent's snapshot/delta chain and sums the agents that are up.
 *
 * Downstream, under [agent] name on [agent] pub, with the relay's own boot
 * id and per-kind seq (common/wire.h):
 *   DELTA     every delta_ms: merged - what was last published (counters),
 *             merged gauges.  When a merged counter goes down (an agent
 *             went down or restarted) a zero delta is published and a
 *             snapshot follows at once: the snapshot replaces what a
 *             console holds (wire.h's chaining rule, model.h invariant 2).
 *   SNAPSHOT  every snapshot_ms, right after a delta, with that delta's
 *             seq as dseq and the merged totals; ctl = [agent] advertise
 *             or control; rules and campaign counters summed by name; rv
 *             the lowest active rule set version among the agents up;
 *             forgot the union of the agents' lists (bounded).
 *   SESSION / EVENT  what the model sampled from upstream since the last
 *             tick, bounded by sample_sessions / sample_events.
 *   HEAT      the agents' increments merged per page (cells and bands
 *             added: HEAT is additive) and sent every RELAY_HEAT_MS; at
 *             most RELAY_HEAT_PAGES pages are held, a new page past that
 *             sends what is held at once (counted, and logged at the
 *             stop), so nothing is dropped but a failed send (counted in
 *             the snapshot's pub_dropped).  A console asks `heat`
 *             for the totals (forwarded).
 *
 * Control ([agent] control, REP): ping and state are answered by the relay
 * (state: the snapshot body it publishes); the commands in relay.c's
 * forward table are sent to every upstream with the request's bytes
 * unchanged (so the operator's signature verifies at each agent, which
 * enforce roles and replay protection) and the reply is status 0 with body
 *   {agents: [[name str, status int, message str, body]...]}
 * in upstream order (except `sessions`: one merged {total, items} answer
 * as an agent gives it, plus agents: [[name, status, message, nil]...]);
 * an upstream that did not answer within RELAY_CALL_MS
 * is NUDGE_ETIMEOUT / NUDGE_ECONN with body nil.  A relay behind a relay
 * nests the envelope in its entry's body.  Other commands (emit: an event
 * belongs to one agent) are refused with NUDGE_EINVAL.  One request is
 * forwarded at a time; the next waits in the REP socket.
 *
 * Why not nng_device(): a device forwards every agent's messages as they
 * are, under each agent's name and seq, so a console would still follow
 * every agent (and pay per agent); merging is what lets it follow one.
 * The relay is built from nng's SUB (dialing many PUBs), PUB, REQ and REP
 * sockets and nothing else.
 *
 * TLS: downstream the relay listens as an agent does ([agent] tls_cert,
 * tls_key, tls_ca, tls_verify_peer); upstream it dials tls+tcp:// as a
 * console does ([console] tls_ca, and tls_cert / tls_key for agents that
 * verify peers).
 *
 * The relay stores nothing: after a restart it rebuilds the totals from
 * the agents' next snapshots.  Single-threaded: relay_run's poll() loop
 * owns everything.
 */
#ifndef NUDGE_RELAY_H
#define NUDGE_RELAY_H

#include <signal.h>

#include "conf.h"
#include "err.h"

#define RELAY_CALL_MS 4000	/* per forwarded request, all upstreams */

/*
 * Runs the relay until *stop becomes non-zero (a signal handler sets it).
 * Returns 0 on a clean stop, NUDGE_ECONFIG (no upstream, bad spec) or
 * NUDGE_ECONN (a socket would not listen) with d filled.
 */
int relay_run(const struct nudge_config *cfg, volatile sig_atomic_t *stop,
    struct nudge_diag *d);

#endif
