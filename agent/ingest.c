/*
 * ingest.c - batched local ingest: the `emit` command and the PULL socket.
 *
 * Runs on nng worker threads (REP and PULL callbacks).  Every event is
 * decoded with the strict wire decoder, validated, and applied to the
 * session table under its shard's lock; nothing here waits for a disk.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include "clock.h"
#include "command.h"
#include "log.h"
#include "rep.h"

static void
ingest_one(struct agent *a, const msgpack_object *o, uint64_t mono,
    uint64_t wall, struct nudge_diag *d, int *rv)
{
	struct nudge_event ev;

	*rv = wire_unpack_event(o, &ev, d);
	if (*rv == 0)
		*rv = event_validate(&ev, d);
	if (*rv == 0)
		*rv = agent_apply(a, &ev, mono, wall);
	if (*rv == NUDGE_ENOMEM)
		nudge_diag_set(d, 0, 0, "out of memory");
}

int
ingest_events(struct agent *a, const msgpack_object *ev, size_t *acc,
    size_t *rej, struct nudge_diag *first_err, msgpack_packer *errs,
    size_t *n_errs)
{
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms();
	size_t ok = 0, bad = 0, noted = 0;

	if (ev == NULL || ev->type != MSGPACK_OBJECT_ARRAY) {
		nudge_diag_set(first_err, 0, 0, "ev: expected an array of "
		    "events");
		return NUDGE_ETYPE;
	}
	if (ev->via.array.size > WIRE_EMIT_MAX) {
		nudge_diag_set(first_err, 0, 0, "ev: %u events, at most %d "
		    "per batch", ev->via.array.size, WIRE_EMIT_MAX);
		return NUDGE_ETOOBIG;
	}
	for (uint32_t i = 0; i < ev->via.array.size; i++) {
		struct nudge_diag d = {0};
		int rv;
		ingest_one(a, &ev->via.array.ptr[i], mono, wall, &d, &rv);
		if (rv == 0) {
			ok++;
			continue;
		}
		if (rv != NUDGE_ENOMEM)
			sesstab_count_rejected(a->sessions, 1);
		if (bad++ == 0 && first_err != NULL)
			*first_err = d;
		if (errs != NULL && noted < WIRE_ERRS_MAX) {
			msgpack_pack_array(errs, 2);
			msgpack_pack_uint32(errs, i);
			wire_pack_cstr(errs, d.msg);
			noted++;
		}
	}
	*acc = ok;
	*rej = bad;
	if (n_errs != NULL)
		*n_errs = noted;
	return 0;
}

static int
emit_run(struct agent *a, const struct wire_request *rq, msgpack_packer *pk,
    struct nudge_diag *d)
{
	msgpack_sbuffer errs;
	msgpack_packer epk;
	size_t acc = 0, rej = 0, n_errs = 0;
	int rv;

	if ((rv = agent_accepting(a)) != 0) {
		nudge_diag_set(d, 0, 0, "the agent is stopping; retry");
		return rv;
	}
	msgpack_sbuffer_init(&errs);
	msgpack_packer_init(&epk, &errs, msgpack_sbuffer_write);
	rv = ingest_events(a, rq->args ? wire_map_get(rq->args, "ev") : NULL,
	    &acc, &rej, d, &epk, &n_errs);
	if (rv == 0) {
		msgpack_pack_map(pk, 3);
		wire_pack_cstr(pk, "acc");
		msgpack_pack_uint64(pk, acc);
		wire_pack_cstr(pk, "rej");
		msgpack_pack_uint64(pk, rej);
		wire_pack_cstr(pk, "errs");
		msgpack_pack_array(pk, n_errs);
		msgpack_sbuffer_write(pk->data, errs.data, errs.size);
	}
	msgpack_sbuffer_destroy(&errs);
	return rv;
}

const struct cmd_ops cmd_emit = {
	.name = "emit",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = emit_run,
};

/* ---- PULL ------------------------------------------------------------- */

#define PULL_AIOS 2

struct pull_slot {
	struct ingest_pull *pull;
	nng_aio *aio;
};

struct ingest_pull {
	struct agent *a;
	nng_socket sock;
	struct pull_slot slot[PULL_AIOS];
};

static void
pull_handle(struct agent *a, const void *buf, size_t len)
{
	struct wire_request rq;
	struct nudge_diag d = {0};
	size_t acc, rej;

	if (wire_request_parse(&rq, buf, len, &wire_limits_default, &d) != 0) {
		sesstab_count_rejected(a->sessions, 1);
		log_debug("push: bad message: %s", d.msg);
		return;
	}
	if (strcmp(rq.cmd, "emit") != 0 || rq.args == NULL ||
	    ingest_events(a, wire_map_get(rq.args, "ev"), &acc, &rej, &d,
	    NULL, NULL) != 0) {
		sesstab_count_rejected(a->sessions, 1);
		log_debug("push: refused message: %s", d.msg);
	}
	wire_request_fini(&rq);
}

static void
pull_callback(void *arg)
{
	struct pull_slot *slot = arg;
	int rv = nng_aio_result(slot->aio);

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv == 0) {
		nng_msg *msg = nng_aio_get_msg(slot->aio);
		pull_handle(slot->pull->a, nng_msg_body(msg),
		    nng_msg_len(msg));
		nng_msg_free(msg);
	}
	nng_recv_aio(slot->pull->sock, slot->aio);
}

void
ingest_pull_stop(struct ingest_pull *p)
{
	if (p == NULL)
		return;
	nng_close(p->sock);
	for (int i = 0; i < PULL_AIOS; i++) {
		if (p->slot[i].aio != NULL) {
			nng_aio_stop(p->slot[i].aio);
			nng_aio_free(p->slot[i].aio);
		}
	}
	free(p);
}

int
ingest_pull_start(struct ingest_pull **out, struct agent *a, const char *url,
    struct nudge_diag *d)
{
	struct ingest_pull *p = calloc(1, sizeof(*p));
	int rv;

	if (p == NULL)
		return NUDGE_ENOMEM;
	p->a = a;
	if ((rv = nng_pull0_open(&p->sock)) != 0) {
		nudge_diag_set(d, 0, 0, "pull socket: %s", nng_strerror(rv));
		free(p);
		return NUDGE_ECONN;
	}
	nng_socket_set_size(p->sock, NNG_OPT_RECVMAXSZ,
	    wire_limits_default.max_bytes);
	nng_socket_set_int(p->sock, NNG_OPT_RECVBUF, 1024);
	for (int i = 0; i < PULL_AIOS; i++) {
		p->slot[i].pull = p;
		if (nng_aio_alloc(&p->slot[i].aio, pull_callback,
		    &p->slot[i]) != 0) {
			ingest_pull_stop(p);
			return NUDGE_ENOMEM;
		}
	}
	if ((rv = rep_listen(p->sock, url, d)) != 0) {
		ingest_pull_stop(p);
		return rv;
	}
	for (int i = 0; i < PULL_AIOS; i++)
		nng_recv_aio(p->sock, p->slot[i].aio);
	*out = p;
	return 0;
}
