/*
 * latency.c - event -> console latency: how long an event emitted to a
 * real agent takes to show in a console's model.
 *
 * The console side is the console's own code: a struct link (SUB to the
 * agent's PUB, console/link.c) feeding a struct model (console/model.c),
 * driven from one poll() loop as `nudge top` drives them.  The emitting
 * side sends acknowledged `emit` batches over the agent's ingest socket
 * (the message `nudge emit` sends), paced to RATE events/s; each event
 * carries its index in its page ("/lat/N") and its emit time in ts.
 *
 * Two delays per event, from the moment its batch is sent:
 *  - sample: until the event appears in the model's ring of sampled
 *    events (an EVENT message; the agent samples at most sample_events/s,
 *    so only some events are seen this way);
 *  - counted: until the agent's aggregates in the model count it (the
 *    DELTA or SNAPSHOT that carries the increment of "events").
 * Reference in the same run: a round trip of a bare message over nng
 * pub/sub on the same transport (PUB -> SUB, echoed by a second thread
 * PUB -> SUB back), one at a time.
 *
 * The pub/sub sockets of the reference are dialed with a 200 ms receive
 * timeout; lost reference messages are skipped, not waited for.
 *
 * usage: latency PUBURL INGESTURL REFURL1 REFURL2 [RATE [COUNT]]
 * Prints one line of key=value figures in microseconds.  Main thread plus
 * one echo thread for the reference.
 */
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/supplemental/util/platform.h>

#include "clock.h"
#include "ctlreq.h"
#include "err.h"
#include "event.h"
#include "link.h"
#include "model.h"
#include "reaper.h"
#include "wire.h"

#define LAT_BATCH_MS 5	/* one emit batch every 5 ms */
#define LAT_VISITORS 500
#define LAT_REF_N 2000
#define LAT_SETTLE_MS 3000 /* wait after the last emit */

struct lat_batch {
	struct nudge_event ev[64];
	char page[64][24];
	char visitor[64][16];
	unsigned n;
};

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts v in place; the q-quantile (0..1) of n values, 0 if none. */
static uint64_t
quantile(uint64_t *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void
lat_pack_args(msgpack_packer *pk, const void *arg)
{
	const struct lat_batch *b = arg;

	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, b->n);
	for (unsigned i = 0; i < b->n; i++)
		wire_pack_event(pk, &b->ev[i]);
}

/* Builds events first..first+n-1 and sends them as one acknowledged emit. */
static int
lat_emit(struct ctlreq_client *c, struct lat_batch *b, uint64_t first,
    unsigned n)
{
	uint64_t wall = clock_wall_ms();
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	struct nudge_diag d = {0};
	struct wire_reply rp;
	nng_msg *msg;
	int rv;

	b->n = n;
	for (unsigned i = 0; i < n; i++) {
		uint64_t k = first + i;
		struct nudge_event *ev = &b->ev[i];
		event_init(ev);
		ev->type = EVENT_PAGEVIEW;
		snprintf(b->page[i], sizeof(b->page[i]), "/lat/%" PRIu64, k);
		snprintf(b->visitor[i], sizeof(b->visitor[i]), "lat%u",
		    (unsigned)(k % LAT_VISITORS));
		ev->page = strv_of(b->page[i]);
		ev->visitor = strv_of(b->visitor[i]);
		ev->ts_ms = wall;
	}
	msgpack_sbuffer_init(&sb);
	rv = ctlreq_build(&sb, "emit", lat_pack_args, b, id);
	if (rv == 0)
		rv = ctlreq_call(c, &sb, &msg, &rp, &d);
	msgpack_sbuffer_destroy(&sb);
	if (rv != 0) {
		fprintf(stderr, "latency: emit: %s\n",
		    d.msg[0] ? d.msg : nudge_strerror(rv));
		return rv;
	}
	rv = rp.status;
	wire_reply_fini(&rp);
	nng_msg_free(msg);
	return rv;
}

struct lat_run {
	struct link link;
	struct model model;
	uint64_t count;
	uint64_t *sent_us;    /* per event: when its batch was sent */
	uint64_t *sample_us;  /* delays of events seen as samples */
	size_t n_sample;
	uint64_t *counted_us; /* per event: delay until counted */
	uint64_t n_counted;   /* events counted so far */
	uint64_t base;        /* agent's "events" before the first emit */
	uint8_t *seen;
};

/* Notes sampled events and counts that arrived with the last messages. */
static void
lat_observe(struct lat_run *r, uint64_t now_us)
{
	const struct model_agent *ag = &r->model.agents[0];
	const struct model_event *e;
	uint64_t k, total;

	for (unsigned i = 0; (e = model_event_at(&r->model, i)) != NULL;
	    i++) {
		if (strncmp(e->page, "/lat/", 5) != 0)
			continue;
		k = strtoull(e->page + 5, NULL, 10);
		if (k >= r->count || r->seen[k] || r->sent_us[k] == 0)
			continue;
		r->seen[k] = 1;
		r->sample_us[r->n_sample++] = now_us - r->sent_us[k];
	}
	if (!ag->have_snapshot)
		return;
	total = ag->snap.agg.c[AGG_EVENTS] - r->base;
	while (r->n_counted < total && r->n_counted < r->count &&
	    r->sent_us[r->n_counted] != 0) {
		r->counted_us[r->n_counted] =
		    now_us - r->sent_us[r->n_counted];
		r->n_counted++;
	}
}

/* Polls the link for up to wait_ms and feeds the model. */
static void
lat_service(struct lat_run *r, int wait_ms)
{
	struct pollfd fds[2];
	int n = link_pollfds(&r->link, fds);
	uint64_t now;

	if (poll(fds, (nfds_t)n, wait_ms) < 0)
		return;
	now = clock_mono_ms();
	if (link_service(&r->link, &r->model, now))
		lat_observe(r, clock_mono_us());
	link_tick(&r->link, &r->model, now);
}

static int
lat_run_events(struct lat_run *r, const char *ingest, unsigned rate)
{
	struct ctlreq_client c;
	struct nudge_diag d = {0};
	struct lat_batch *b = calloc(1, sizeof(*b));
	unsigned per = rate * LAT_BATCH_MS / 1000;
	uint64_t start, next, k = 0, deadline;

	if (b == NULL || per == 0 || per > 64)
		return NUDGE_EINVAL;
	if (ctlreq_open(&c, ingest, 5000, &d) != 0) {
		fprintf(stderr, "latency: %s\n", d.msg);
		return NUDGE_ECONN;
	}
	/* wait for the first snapshot: the base count */
	deadline = clock_mono_ms() + 10000;
	while (!r->model.agents[0].have_snapshot &&
	    clock_mono_ms() < deadline)
		lat_service(r, 50);
	if (!r->model.agents[0].have_snapshot) {
		fprintf(stderr, "latency: no snapshot from the agent\n");
		ctlreq_close(&c);
		return NUDGE_ETIMEOUT;
	}
	r->base = r->model.agents[0].snap.agg.c[AGG_EVENTS];
	start = next = clock_mono_us();
	while (k < r->count) {
		uint64_t now = clock_mono_us();
		if (now >= next) {
			unsigned n = (unsigned)(r->count - k < per ?
			    r->count - k : per);
			uint64_t t = clock_mono_us();
			for (unsigned i = 0; i < n; i++)
				r->sent_us[k + i] = t;
			if (lat_emit(&c, b, k, n) != 0)
				break;
			k += n;
			next = start + k * 1000000u / rate;
			continue;
		}
		lat_service(r, (int)((next - now) / 1000));
	}
	deadline = clock_mono_ms() + LAT_SETTLE_MS;
	while (clock_mono_ms() < deadline && r->n_counted < k)
		lat_service(r, 50);
	ctlreq_close(&c);
	free(b);
	return k == r->count ? 0 : NUDGE_ECONN;
}

/* ---- reference: bare pub/sub round trip ----------------------------- */

struct lat_echo {
	nng_socket sub, pub;
	atomic_bool stop;
};

static void *
lat_echo_thread(void *arg)
{
	struct lat_echo *e = arg;
	nng_msg *m;

	while (!atomic_load(&e->stop)) {
		if (nng_recvmsg(e->sub, &m, 0) != 0)
			continue; /* a receive timeout: look at stop */
		if (nng_sendmsg(e->pub, m, 0) != 0)
			nng_msg_free(m);
	}
	return NULL;
}

static int
lat_sub(nng_socket *s, const char *url)
{
	int rv = nng_sub0_open(s);

	if (rv == 0)
		rv = nng_socket_set(*s, NNG_OPT_SUB_SUBSCRIBE, "", 0);
	if (rv == 0)
		rv = nng_socket_set_ms(*s, NNG_OPT_RECVTIMEO, 200);
	if (rv == 0)
		rv = nng_dial(*s, url, NULL, 0);
	return rv;
}

static int
lat_pub(nng_socket *s, const char *url)
{
	int rv = nng_pub0_open(s);

	return rv == 0 ? nng_listen(*s, url, NULL, 0) : rv;
}

/* Median and p99 of LAT_REF_N round trips, PUB a -> echo -> PUB b. */
static int
lat_reference(const char *url_a, const char *url_b, uint64_t *p50,
    uint64_t *p99)
{
	struct lat_echo e = {.stop = false};
	nng_socket pa, sb;
	uint64_t *rt = calloc(LAT_REF_N, sizeof(*rt));
	pthread_t th;
	size_t n = 0;
	int rv;

	if (rt == NULL)
		return NUDGE_ENOMEM;
	if ((rv = lat_pub(&pa, url_a)) != 0 || (rv = lat_pub(&e.pub, url_b)) ||
	    (rv = lat_sub(&e.sub, url_a)) || (rv = lat_sub(&sb, url_b))) {
		fprintf(stderr, "latency: reference: %s\n", nng_strerror(rv));
		free(rt);
		return NUDGE_ECONN;
	}
	nng_msleep(300); /* both dials connected */
	pthread_create(&th, NULL, lat_echo_thread, &e);
	for (int i = 0; i < LAT_REF_N + 100 && n < LAT_REF_N; i++) {
		uint64_t t0 = clock_mono_us();
		nng_msg *m;
		if (nng_msg_alloc(&m, 0) != 0 ||
		    nng_msg_append(m, &t0, sizeof(t0)) != 0)
			break;
		if (nng_sendmsg(pa, m, 0) != 0) {
			nng_msg_free(m);
			break;
		}
		if (nng_recvmsg(sb, &m, 0) != 0)
			continue; /* lost (not yet subscribed): next one */
		if (i >= 100) /* the first ones warm up */
			rt[n++] = clock_mono_us() - t0;
		nng_msg_free(m);
	}
	atomic_store(&e.stop, true);
	pthread_join(th, NULL);
	/*
	 * nng 1.5.2 can hang closing a dialer's socket (common/reaper.h),
	 * and a listener's close then waits behind it: all four go to the
	 * reaper, the figures are printed, and exit takes what is left.
	 */
	reaper_close(e.sub);
	reaper_close(sb);
	reaper_close(e.pub);
	reaper_close(pa);
	*p50 = quantile(rt, n, 0.5);
	*p99 = quantile(rt, n, 0.99);
	free(rt);
	return n > 0 ? 0 : NUDGE_ETIMEOUT;
}

int
main(int argc, char **argv)
{
	struct lat_run r = {0};
	struct nudge_diag d = {0};
	unsigned rate = argc > 5 ? (unsigned)strtoul(argv[5], NULL, 10) : 2000;
	uint64_t ref50 = 0, ref99 = 0, c50, c99, s50, s99, cmax;
	int rv;

	if (argc < 5) {
		fprintf(stderr, "usage: latency PUBURL INGESTURL REFURL1 "
		    "REFURL2 [RATE [COUNT]]\n");
		return 2;
	}
	r.count = argc > 6 ? strtoull(argv[6], NULL, 10) : 20000;
	r.sent_us = calloc(r.count, sizeof(*r.sent_us));
	r.sample_us = calloc(r.count, sizeof(*r.sample_us));
	r.counted_us = calloc(r.count, sizeof(*r.counted_us));
	r.seen = calloc(r.count, 1);
	if (r.sent_us == NULL || r.sample_us == NULL || r.counted_us == NULL ||
	    r.seen == NULL || model_init(&r.model, 1) != 0)
		return 1;
	if (link_open(&r.link, 0, argv[1], clock_mono_ms(), &d) != 0) {
		fprintf(stderr, "latency: %s\n", d.msg);
		return 1;
	}
	rv = lat_run_events(&r, argv[2], rate);
	link_close(&r.link);
	if (rv != 0)
		return 1;
	if (lat_reference(argv[3], argv[4], &ref50, &ref99) != 0)
		fprintf(stderr, "latency: reference failed\n");
	c50 = quantile(r.counted_us, r.n_counted, 0.5);
	c99 = quantile(r.counted_us, r.n_counted, 0.99);
	cmax = r.n_counted ? r.counted_us[r.n_counted - 1] : 0;
	s50 = quantile(r.sample_us, r.n_sample, 0.5);
	s99 = quantile(r.sample_us, r.n_sample, 0.99);
	printf("latency rate=%u events=%" PRIu64 " counted=%" PRIu64
	    " counted_p50_us=%" PRIu64 " counted_p99_us=%" PRIu64
	    " counted_max_us=%" PRIu64 " sampled=%zu sample_p50_us=%" PRIu64
	    " sample_p99_us=%" PRIu64 " lost=%" PRIu64 " ref_p50_us=%" PRIu64
	    " ref_p99_us=%" PRIu64 "\n",
	    rate, r.count, r.n_counted, c50, c99, cmax, r.n_sample, s50, s99,
	    r.model.agents[0].lost, ref50, ref99);
	model_fini(&r.model);
	return 0;
}
