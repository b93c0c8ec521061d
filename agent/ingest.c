/*
 * ingest.c - batched local ingest: the `emit` command and the PULL socket.
 *
 * Runs on nng worker threads (REP and PULL callbacks).  Every event is
 * decoded strictly (PUSH batches straight from the bytes by evdec, emit
 * commands from the parsed request by wire_unpack_event: the same rules),
 * validated, and applied to the session table under its shard's lock;
 * nothing here waits for a disk.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#include "clock.h"
#include "command.h"
#include "evdec.h"
#include "log.h"
#include "rep.h"

/*
 * Where a batch's events come from: the msgpack-c objects of a parsed
 * request (the emit command), or evdec's cursor over the raw bytes (PUSH).
 * Both decode an element alike (tests/test_evdec.c).
 */
struct ev_source {
	const msgpack_object *arr;	/* NULL: cur */
	struct evdec *cur;
	uint32_t n;
};

static int
source_next(struct ev_source *s, uint32_t i, struct nudge_event *ev,
    struct nudge_diag *d)
{
	if (s->arr != NULL)
		return wire_unpack_event(&s->arr->via.array.ptr[i], ev, d);
	return evdec_next(s->cur, ev, d);
}

static void
ingest_one(struct agent *a, struct ev_source *src, uint32_t i, uint64_t mono,
    uint64_t wall, struct nudge_diag *d, int *rv)
{
	struct nudge_event ev;

	*rv = source_next(src, i, &ev, d);
	if (*rv == 0)
		*rv = event_validate(&ev, d);
	if (*rv == 0)
		*rv = agent_apply(a, &ev, mono, wall);
	if (*rv == NUDGE_ENOMEM)
		nudge_diag_set(d, 0, 0, "out of memory");
}

/* What a batch's refusals come to: counts, the first, the errs list. */
struct ingest_tally {
	size_t ok, bad, noted, rejected;
	struct nudge_diag *first_err;
	msgpack_packer *errs;
};

static void
tally_refusal(struct ingest_tally *t, uint32_t i, int rv,
    const struct nudge_diag *d)
{
	if (rv != NUDGE_ENOMEM)
		t->rejected++;
	if (t->bad++ == 0 && t->first_err != NULL)
		*t->first_err = *d;
	if (t->errs != NULL && t->noted < WIRE_ERRS_MAX) {
		msgpack_pack_array(t->errs, 2);
		msgpack_pack_uint32(t->errs, i);
		wire_pack_cstr(t->errs, d->msg);
		t->noted++;
	}
}

/* Event by event, decoded and applied in turn (when scratch fails). */
static void
ingest_each(struct agent *a, struct ev_source *src, struct ingest_tally *t)
{
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms();

	for (uint32_t i = 0; i < src->n; i++) {
		struct nudge_diag d = {0};
		int rv;
		ingest_one(a, src, i, mono, wall, &d, &rv);
		if (rv == 0)
			t->ok++;
		else
			tally_refusal(t, i, rv, &d);
	}
}

/*
 * A batch decoded and validated whole before any event is applied, then
 * applied at once (agent_apply_batch).  The messages of the first
 * WIRE_ERRS_MAX + 1 decoding refusals are kept: no later one can be among
 * the first WIRE_ERRS_MAX + 1 refusals of the batch, which is all the
 * reply reports.  Owned by one thread at a time.
 */
#define DIAG_KEEP (WIRE_ERRS_MAX + 1)

struct ingest_scratch {
	uint32_t cap;
	struct nudge_event *ev;
	const struct nudge_event **ok;
	uint32_t *ok_idx;
	int *rv, *ok_rv;
	uint32_t n, n_ok, n_kept;
	uint32_t kept_idx[DIAG_KEEP];
	struct nudge_diag kept[DIAG_KEEP];
};

static void
scratch_fini(struct ingest_scratch *s)
{
	free(s->ev);
	free(s->ok);
	free(s->ok_idx);
	free(s->rv);
	free(s->ok_rv);
	memset(s, 0, sizeof(*s));
}

static int
scratch_reserve(struct ingest_scratch *s, uint32_t n)
{
	if (n <= s->cap && s->ev != NULL)
		return 0;
	scratch_fini(s);
	n = n < 64 ? 64 : n;
	s->ev = malloc(n * sizeof(*s->ev));
	s->ok = malloc(n * sizeof(*s->ok));
	s->ok_idx = malloc(n * sizeof(*s->ok_idx));
	s->rv = malloc(n * sizeof(*s->rv));
	s->ok_rv = malloc(n * sizeof(*s->ok_rv));
	if (s->ev == NULL || s->ok == NULL || s->ok_idx == NULL ||
	    s->rv == NULL || s->ok_rv == NULL) {
		scratch_fini(s);
		return NUDGE_ENOMEM;
	}
	s->cap = n;
	return 0;
}

/* Phase one: every event decoded and validated into s. */
static void
scratch_decode(struct ingest_scratch *s, struct ev_source *src)
{
	s->n = src->n;
	s->n_ok = s->n_kept = 0;
	for (uint32_t i = 0; i < src->n; i++) {
		struct nudge_diag d = {0};
		int rv = source_next(src, i, &s->ev[i], &d);

		if (rv == 0)
			rv = event_validate(&s->ev[i], &d);
		if ((s->rv[i] = rv) == 0) {
			s->ok_idx[s->n_ok] = i;
			s->ok[s->n_ok++] = &s->ev[i];
			continue;
		}
		if (rv == NUDGE_ENOMEM)
			nudge_diag_set(&d, 0, 0, "out of memory");
		if (s->n_kept < DIAG_KEEP) {
			s->kept_idx[s->n_kept] = i;
			s->kept[s->n_kept++] = d;
		}
	}
}

/* Phase two: the valid events applied, every result tallied in order. */
static void
scratch_apply(struct agent *a, struct ingest_scratch *s,
    struct ingest_tally *t)
{
	uint32_t k = 0;

	if (s->n_ok > 0)
		agent_apply_batch(a, s->ok, s->n_ok, clock_mono_ms(),
		    clock_wall_ms(), s->ok_rv);
	for (uint32_t j = 0; j < s->n_ok; j++)
		s->rv[s->ok_idx[j]] = s->ok_rv[j];
	for (uint32_t i = 0; i < s->n; i++) {
		struct nudge_diag d = {0};

		if (s->rv[i] == 0) {
			t->ok++;
			continue;
		}
		if (k < s->n_kept && s->kept_idx[k] == i)
			d = s->kept[k++];
		else if (s->rv[i] == NUDGE_ENOMEM)
			nudge_diag_set(&d, 0, 0, "out of memory");
		tally_refusal(t, i, s->rv[i], &d);
	}
}

static void
tally_end(struct agent *a, struct ingest_tally *t, size_t *acc, size_t *rej,
    size_t *n_errs)
{
	if (t->rejected > 0)
		sesstab_count_rejected(a->sessions, t->rejected);
	*acc = t->ok;
	*rej = t->bad;
	if (n_errs != NULL)
		*n_errs = t->noted;
}

int
ingest_events(struct agent *a, const msgpack_object *ev, size_t *acc,
    size_t *rej, struct nudge_diag *first_err, msgpack_packer *errs,
    size_t *n_errs)
{
	struct ingest_scratch *s = NULL;
	struct ingest_tally t;
	struct ev_source src;

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
	src = (struct ev_source){ev, NULL, ev->via.array.size};
	t = (struct ingest_tally){0, 0, 0, 0, first_err, errs};
	if ((s = calloc(1, sizeof(*s))) != NULL &&
	    scratch_reserve(s, src.n) == 0) {
		scratch_decode(s, &src);
		scratch_apply(a, s, &t);
		scratch_fini(s);
	} else {
		ingest_each(a, &src, &t);
	}
	free(s);
	tally_end(a, &t, acc, rej, n_errs);
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
	struct ingest_scratch scratch;	/* the callback's own */
};

struct ingest_pull {
	struct agent *a;
	nng_socket sock;
	struct pull_slot slot[PULL_AIOS];
};

/*
 * A PUSH message is an emit request.  The common case (a well-formed emit
 * with an ev array) is decoded straight from the bytes; anything else goes
 * the msgpack-c way, which says exactly what is wrong.
 */
/*
 * The common case, a well-formed emit with an ev array, decoded straight
 * from the bytes; false (nothing applied) for anything else.
 */
static bool
pull_fast(struct agent *a, struct ingest_scratch *s, const void *buf,
    size_t len)
{
	struct ingest_tally t = {0};
	struct evdec cur;
	struct ev_source src = {NULL, &cur, 0};
	size_t acc, rej;

	if (evdec_emit_open(&cur, buf, len, &wire_limits_default) != 0 ||
	    scratch_reserve(s, cur.n) != 0)
		return false;
	src.n = cur.n;
	scratch_decode(s, &src);
	if (evdec_emit_close(&cur) != 0)
		return false;
	scratch_apply(a, s, &t);
	tally_end(a, &t, &acc, &rej, NULL);
	return true;
}

/*
 * A PUSH message is an emit request.  What pull_fast() does not take goes
 * the msgpack-c way, which says exactly what is wrong.
 */
static void
pull_handle(struct agent *a, struct ingest_scratch *s, const void *buf,
    size_t len)
{
	struct wire_request rq;
	struct nudge_diag d = {0};
	size_t acc, rej;

	if (pull_fast(a, s, buf, len))
		return;
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
		pull_handle(slot->pull->a, &slot->scratch,
		    nng_msg_body(msg), nng_msg_len(msg));
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
		scratch_fini(&p->slot[i].scratch);
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
