/*
 * rules_push.c - push-to-acknowledge latency of a rule set across several
 * real agents, over their control URLs directly (no snapshot wait, no
 * control URL discovery).  Each push is one rules_put of the same text
 * under a version one higher than the last, sent to every agent at once
 * (as the console does) and timed from the first send to the last
 * acknowledgement; then again one agent after the other (as `nudge rules
 * push` does).  The reference is a bare `ping` round trip to the same
 * agents, one at a time and to all at once.
 *
 * usage: rules_push PUSHES RULES CTLURL...
 * Prints one line of key=value figures in microseconds.  Main thread only.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlreq.h"
#include "err.h"
#include "wire.h"

#define RP_AGENTS_MAX 16

struct rp_put {
	uint64_t version;
	const char *text;
	size_t len;
};

static uint64_t
rp_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void
rp_pack_put(msgpack_packer *pk, const void *arg)
{
	const struct rp_put *p = arg;

	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, p->version);
	wire_pack_cstr(pk, "text");
	msgpack_pack_str_with_body(pk, p->text, p->len);
}

static void
rp_pack_list(msgpack_packer *pk, const void *arg)
{
	(void)arg;
	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "shadow");
	msgpack_pack_false(pk);
}

static int
rp_send(struct ctlreq_client *c, const msgpack_sbuffer *sb)
{
	return nng_send(c->sock, sb->data, sb->size, 0) == 0 ? 0 :
	    NUDGE_ECONN;
}

/* Waits for c's reply; 0 when it says OK (with "key" read into *v). */
static int
rp_recv(struct ctlreq_client *c, const char *key, uint64_t *v)
{
	struct nudge_diag d = {0};
	struct wire_reply rp;
	nng_msg *m;
	int rv;

	if (nng_recvmsg(c->sock, &m, 0) != 0)
		return NUDGE_ETIMEOUT;
	rv = wire_reply_parse(&rp, nng_msg_body(m), nng_msg_len(m),
	    &wire_limits_default, &d);
	if (rv == 0) {
		rv = rp.status;
		if (rv != 0)
			fprintf(stderr, "rules_push: %s: %s\n", c->url,
			    rp.message);
		else if (key != NULL && v != NULL)
			wire_get_u64(rp.body, key, v);
		wire_reply_fini(&rp);
	}
	nng_msg_free(m);
	return rv;
}

/* One request to every agent at once (all = true) or in turn; µs. */
static int
rp_round(struct ctlreq_client *c, unsigned n, const msgpack_sbuffer *sb,
    bool all, uint64_t *us)
{
	uint64_t t0 = rp_now_us();
	int rv = 0;

	for (unsigned i = 0; i < n && rv == 0; i++) {
		rv = rp_send(&c[i], sb);
		if (rv == 0 && !all)
			rv = rp_recv(&c[i], NULL, NULL);
	}
	for (unsigned i = 0; i < n && rv == 0 && all; i++)
		rv = rp_recv(&c[i], NULL, NULL);
	*us = rp_now_us() - t0;
	return rv;
}

static int
rp_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of v[0..n), nearest rank; sorts v. */
static uint64_t
rp_quantile(uint64_t *v, unsigned n, double q)
{
	unsigned k = (unsigned)(q * n + 0.999999);

	qsort(v, n, sizeof(*v), rp_cmp);
	return v[k == 0 ? 0 : (k > n ? n : k) - 1];
}

/* A rule set of `rules` rules, the text a real operator might push. */
static char *
rp_text(unsigned rules, size_t *len)
{
	size_t cap = (size_t)rules * 160 + 1, at = 0;
	char *t = malloc(cap);

	for (unsigned i = 0; t != NULL && i < rules; i++)
		at += (size_t)snprintf(t + at, cap - at, "rule r%u:\n  when "
		    "event == \"pageview\" and page ~ \"/p%u\" and country == "
		    "\"FR\"\n  show banner \"offer %u\"\n", i, i, i);
	*len = at;
	return t;
}

/* The highest active version over the agents, so pushes go above it. */
static uint64_t
rp_base(struct ctlreq_client *c, unsigned n, msgpack_sbuffer *sb)
{
	uint8_t id[WIRE_ID_LEN];
	uint64_t max = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t v = 0;
		if (ctlreq_build(sb, "rules_list", rp_pack_list, NULL, id) ==
		    0 && rp_send(&c[i], sb) == 0 &&
		    rp_recv(&c[i], "current", &v) == 0 && v > max)
			max = v;
	}
	return max;
}

/* Pushes `pushes` versions; lat[] gets each push's time in µs. */
static int
rp_pushes(struct ctlreq_client *c, unsigned n, unsigned pushes,
    struct rp_put *p, bool all, uint64_t *lat)
{
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	int rv = 0;

	msgpack_sbuffer_init(&sb);
	p->version = rp_base(c, n, &sb);
	for (unsigned k = 0; k < pushes && rv == 0; k++) {
		p->version++;
		if ((rv = ctlreq_build(&sb, "rules_put", rp_pack_put, p,
		    id)) == 0)
			rv = rp_round(c, n, &sb, all, &lat[k]);
	}
	msgpack_sbuffer_destroy(&sb);
	return rv;
}

static int
rp_pings(struct ctlreq_client *c, unsigned n, unsigned count, bool all,
    uint64_t *lat)
{
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	int rv = 0;

	msgpack_sbuffer_init(&sb);
	for (unsigned k = 0; k < count && rv == 0; k++)
		if ((rv = ctlreq_build(&sb, "ping", NULL, NULL, id)) == 0)
			rv = rp_round(c, all ? n : 1, &sb, all, &lat[k]);
	msgpack_sbuffer_destroy(&sb);
	return rv;
}

static int
rp_run(struct ctlreq_client *c, unsigned n, unsigned pushes,
    unsigned rules)
{
	uint64_t *lat = calloc(pushes, sizeof(*lat));
	struct rp_put p = {0};
	uint64_t par[2], seq[2], ping1, ping_all;
	int rv;

	p.text = rp_text(rules, &p.len);
	if (lat == NULL || p.text == NULL) {
		rv = NUDGE_ENOMEM;
		goto out;
	}
	if ((rv = rp_pings(c, n, pushes, false, lat)) != 0)
		goto out;
	ping1 = rp_quantile(lat, pushes, 0.5);
	if ((rv = rp_pings(c, n, pushes, true, lat)) != 0)
		goto out;
	ping_all = rp_quantile(lat, pushes, 0.5);
	if ((rv = rp_pushes(c, n, pushes, &p, true, lat)) != 0)
		goto out;
	par[0] = rp_quantile(lat, pushes, 0.5);
	par[1] = rp_quantile(lat, pushes, 0.99);
	if ((rv = rp_pushes(c, n, pushes, &p, false, lat)) != 0)
		goto out;
	seq[0] = rp_quantile(lat, pushes, 0.5);
	seq[1] = rp_quantile(lat, pushes, 0.99);
	printf("rules_push agents=%u pushes=%u rules=%u bytes=%zu "
	    "parallel_median_us=%" PRIu64 " parallel_p99_us=%" PRIu64
	    " sequential_median_us=%" PRIu64 " sequential_p99_us=%" PRIu64
	    " ping_us=%" PRIu64 " ping_all_us=%" PRIu64 "\n", n, pushes,
	    rules, p.len, par[0], par[1], seq[0], seq[1], ping1, ping_all);
out:
	free((char *)p.text);
	free(lat);
	return rv;
}

int
main(int argc, char **argv)
{
	struct ctlreq_client c[RP_AGENTS_MAX];
	struct nudge_diag d = {0};
	unsigned n = 0;
	int pushes, rules, rv = 0;

	if (argc < 4 || (pushes = atoi(argv[1])) < 1 ||
	    (rules = atoi(argv[2])) < 1 || argc - 3 > RP_AGENTS_MAX) {
		fprintf(stderr, "usage: rules_push PUSHES RULES CTLURL...\n");
		return 2;
	}
	for (int i = 3; i < argc && rv == 0; i++)
		if ((rv = ctlreq_open(&c[n], argv[i], 5000, &d)) == 0)
			n++;
		else
			fprintf(stderr, "rules_push: %s\n", d.msg);
	if (rv == 0 && (rv = rp_run(c, n, (unsigned)pushes,
	    (unsigned)rules)) != 0)
		fprintf(stderr, "rules_push: %s\n", nudge_strerror(rv));
	for (unsigned i = 0; i < n; i++)
		ctlreq_close(&c[i]);
	return rv == 0 ? 0 : 1;
}
