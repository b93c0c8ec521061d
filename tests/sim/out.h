/*
 * out.h - where nudge-sim sends events: one const ops table per output.
 *
 *   push    nng PUSH of `emit` requests, fire-and-forget (no replies)
 *   ingest  nng REQ of `emit` requests, each acknowledged and counted
 *   null    builds the `emit` messages and drops them (a packing benchmark)
 *   jsonl   one JSON object per event on stdout (`nudge emit --stdin`)
 *   log     nginx combined access-log lines on stdout, page views only
 *   beacon  POST /nudge/e as the browser tag does, one page's events per
 *           request, reading each answer's decisions (out_beacon.c)
 *
 * Batching outputs keep events packed in a reused buffer until `batch`
 * events are waiting or flush() is called; nothing is allocated per event.
 * Every function returns 0 or a negative enum nudge_err and then leaves a
 * human message in out->err.  Single-threaded.
 */
#ifndef NUDGE_SIM_OUT_H
#define NUDGE_SIM_OUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <msgpack.h>
#include <nng/nng.h>

#include "ab.h"
#include "event.h"
#include "gen.h"
#include "hclient.h"
#include "textbuf.h"
#include "truth.h"

struct out_config {
	const char *url;       /* push and ingest */
	uint32_t batch;        /* events per emit request, 1..WIRE_EMIT_MAX */
	uint32_t timeout_ms;   /* send and reply timeout */
	uint32_t linger_ms;    /* push: time for queued messages to leave */
	bool log_noise;        /* log: asset requests and bots too */
	bool wire_pack;        /* always wire_pack_event, never fastpack */
	const struct gen *gen; /* log: seed for the noise; beacon */
	const struct ab *ab;   /* beacon: --rule-lift rules, may be NULL */
	FILE *fp;              /* jsonl and log: usually stdout */
};

/*
 * One whole visit, for outputs that send visits rather than events.  The
 * output fills ev from s, counts every event it sends in truth/ts, and
 * may cut s short or extend it (a --rule-lift purchase decision).
 */
struct out_visit {
	struct gen_session *s;
	const struct ab_visitor *abv; /* NULL without campaigns or lifts */
	struct truth *truth;
	struct truth_session *ts;
	struct nudge_event *ev; /* scratch */
};

struct out;

struct out_ops {
	const char *name;
	bool pageviews_only; /* other events are not sent at all */
	int (*open)(struct out *o);
	/* Sends (or queues) ev, which is event i of session s. */
	int (*event)(struct out *o, const struct gen_session *s, uint32_t i,
	    const struct nudge_event *ev);
	/*
	 * Sends a whole visit (beacon); NULL for event outputs.  When set,
	 * event is NULL and the caller calls visit once per session.
	 */
	int (*visit)(struct out *o, struct out_visit *v);
	/* Sends whatever is queued. */
	int (*flush)(struct out *o);
	/* Flushes, then releases everything; always safe after open. */
	int (*close)(struct out *o);
};

extern const struct out_ops out_push;
extern const struct out_ops out_ingest;
extern const struct out_ops out_null;
extern const struct out_ops out_jsonl;
extern const struct out_ops out_log;
extern const struct out_ops out_beacon;

struct out {
	const struct out_ops *ops;
	struct out_config cfg;
	nng_socket sock;
	bool sock_open;
	msgpack_sbuffer body; /* packed events of the pending batch */
	msgpack_packer bpk;
	msgpack_sbuffer msg; /* the whole emit request */
	msgpack_packer mpk;
	msgpack_sbuffer check; /* reference bytes while fastpack is checked */
	msgpack_packer cpk;
	bool fast;          /* fastpack in use (see fastpack.h) */
	uint32_t checked;   /* events fastpack was compared on */
	uint32_t pending;   /* events in body */
	uint64_t messages;  /* requests sent */
	uint64_t acc, rej;  /* ingest: what the agent said */
	uint64_t noise;     /* log: extra lines written */
	struct gen_rng rng; /* log: noise decisions */
	struct hc hc;       /* beacon: the connection */
	struct textbuf json; /* beacon: the JSON body being built */
	uint32_t jevents;    /* beacon: events in json */
	uint64_t retries; /* beacon: requests retried after a 429 */
	char err[256];
};

/* Prepares o for ops (not yet open); cfg is copied. */
void out_init(
    struct out *o, const struct out_ops *ops, const struct out_config *cfg);

#endif
