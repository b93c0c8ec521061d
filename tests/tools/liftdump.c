/*
 * liftdump.c - test tool: subscribes to an agent's PUB socket, waits for
 * one snapshot and prints the experiment counters it carries, for the A/B
 * integration tests (tests/integration/campaigns.sh).  No CLI command
 * prints a rule's holdout lift counters yet (they are drawn by the
 * console's rules view only), so the tests read the snapshot here.
 *
 *   liftdump URL [SECONDS]     (default: wait up to 5 s)
 *
 * One line per rule of the snapshot with a holdout lift, then one per
 * campaign:
 *   rule NAME TN TX HN HX        treated sessions, treated that purchased,
 *                                held-out sessions, held out that purchased
 *   camp NAME STATE TRIPPED N0 X0 N1 X1 ...   per-variant sessions and
 *                                goal conversions, control first
 * Exit status: 0 a snapshot was printed, 1 none in time or failure,
 * 2 usage.  One thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "campaign.h"
#include "wire.h"

static long long
liftdump_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
liftdump_print(const struct wire_snapshot *s)
{
	for (unsigned i = 0; i < s->n_rules; i++) {
		const struct wire_rule_stat *r = &s->rules[i];

		if (r->tn + r->hn == 0)
			continue;
		printf("rule %s %llu %llu %llu %llu\n", r->name,
		    (unsigned long long)r->tn, (unsigned long long)r->tx,
		    (unsigned long long)r->hn, (unsigned long long)r->hx);
	}
	for (unsigned i = 0; i < s->n_camps; i++) {
		const struct wire_campaign *c = &s->camps[i];

		printf("camp %s %s %d", c->c.name, camp_state_name(c->c.state),
		    c->c.tripped ? 1 : 0);
		for (unsigned v = 0; v < c->c.n_variants; v++)
			printf(" %llu %llu", (unsigned long long)c->arm[v].n,
			    (unsigned long long)c->arm[v].x);
		printf("\n");
	}
}

struct liftdump_seen {
	struct wire_snapshot *s;
	int printed;
};

static void
liftdump_part(void *arg, const struct wire_msg *m)
{
	struct liftdump_seen *seen = arg;

	if (m->h.kind == WIRE_SNAPSHOT && wire_read_snapshot(m, seen->s) == 0) {
		liftdump_print(seen->s);
		seen->printed = 1;
	}
}

/* 1 when buf held a snapshot and it was printed. */
static int
liftdump_one(const void *buf, size_t len, struct wire_snapshot *s)
{
	struct liftdump_seen seen = {s, 0};

	wire_msg_each(buf, len, &wire_limits_default, NULL, liftdump_part,
	    &seen, NULL);
	return seen.printed;
}

int
main(int argc, char **argv)
{
	nng_socket sock;
	struct wire_snapshot *s;
	long long until;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: liftdump URL [SECONDS]\n");
		return 2;
	}
	until = liftdump_ms() +
	        (long long)((argc == 3 ? atof(argv[2]) : 5) * 1000);
	if ((s = malloc(sizeof(*s))) == NULL)
		return 1;
	if (nng_sub0_open(&sock) != 0 ||
	    nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 100) != 0 ||
	    nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 16u << 20) != 0 ||
	    nng_dial(sock, argv[1], NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "liftdump: cannot subscribe to %s\n", argv[1]);
		free(s);
		return 1;
	}
	while (liftdump_ms() < until) {
		char *buf = NULL;
		size_t len = 0;
		int rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		rv = liftdump_one(buf, len, s);
		nng_free(buf, len);
		if (rv) {
			fflush(stdout);
			free(s);
			/* like nngraw: no nng_close (it can deadlock in 1.5.2)
			 */
			return 0;
		}
	}
	fprintf(stderr, "liftdump: no snapshot from %s\n", argv[1]);
	free(s);
	return 1;
}
