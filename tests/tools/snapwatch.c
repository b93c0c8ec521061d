/*
 * snapwatch.c - test tool: subscribes to an agent's PUB socket and prints
 * one line per message received, so that shell tests can see what the
 * agent published and when (crash, disk-full and clock tests).
 *
 *   snapwatch URL [SECONDS]
 *
 * Each line starts with the local monotonic and wall clocks in ms:
 *   MONO WALL snapshot SEQ boot=B up=U events=E serr=S rv=V ts=T lerr=TEXT
 *   MONO WALL KIND SEQ                   (delta, session, event, heat)
 *   MONO WALL bad ERROR                  (an undecodable message)
 * (ts: the agent's wall clock in the envelope; lerr: the rest of the line).
 * stdout is flushed after every line.  The tool redials by itself (nng
 * does) when the agent restarts; it stops after SECONDS (default: never)
 * or on SIGTERM/SIGINT.  Exit status: 0, 1 on a socket error, 2 usage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "wire.h"

static volatile sig_atomic_t snapwatch_stop;

static void
snapwatch_on_signal(int sig)
{
	(void)sig;
	snapwatch_stop = 1;
}

static long long
snapwatch_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct snapwatch_line {
	long long mono, wall;
	struct wire_snapshot *s;
};

static void
snapwatch_part(void *arg, const struct wire_msg *m)
{
	struct snapwatch_line *l = arg;
	struct wire_snapshot *s = l->s;

	if (m->h.kind != WIRE_SNAPSHOT) {
		printf("%lld %lld %s %llu\n", l->mono, l->wall,
		    wire_kind_name(m->h.kind), (unsigned long long)m->h.seq);
	} else if (wire_read_snapshot(m, s) != 0) {
		printf("%lld %lld bad snapshot\n", l->mono, l->wall);
	} else {
		printf("%lld %lld snapshot %llu boot=%llx up=%llu events=%llu "
		       "serr=%llu rv=%llu ts=%llu lerr=%s\n",
		    l->mono, l->wall, (unsigned long long)m->h.seq,
		    (unsigned long long)s->boot_id,
		    (unsigned long long)s->uptime_ms,
		    (unsigned long long)s->agg.c[AGG_EVENTS],
		    (unsigned long long)s->store_errors,
		    (unsigned long long)s->rules_version,
		    (unsigned long long)m->h.ts_ms, s->last_error);
	}
}

/* Prints one line per part of the message (wire_msg_each). */
static void
snapwatch_print(const void *buf, size_t len, struct wire_snapshot *s)
{
	struct snapwatch_line l = {snapwatch_ms(CLOCK_MONOTONIC),
	    snapwatch_ms(CLOCK_REALTIME), s};
	struct nudge_diag d = {0};

	if (wire_msg_each(buf, len, &wire_limits_default, &d, snapwatch_part,
	    &l, NULL) != 0)
		printf("%lld %lld bad %s\n", l.mono, l.wall, d.msg);
}

int
main(int argc, char **argv)
{
	nng_socket sock;
	struct wire_snapshot *s;
	long long until = 0;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: snapwatch URL [SECONDS]\n");
		return 2;
	}
	if (argc == 3)
		until = snapwatch_ms(CLOCK_MONOTONIC) +
		    (long long)(atof(argv[2]) * 1000);
	signal(SIGTERM, snapwatch_on_signal);
	signal(SIGINT, snapwatch_on_signal);
	if ((s = malloc(sizeof(*s))) == NULL)
		return 1;
	if (nng_sub0_open(&sock) != 0 ||
	    nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 100) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 50) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECONNMAXT, 200) != 0 ||
	    nng_dial(sock, argv[1], NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "snapwatch: cannot subscribe to %s\n", argv[1]);
		free(s);
		return 1;
	}
	while (!snapwatch_stop &&
	       (until == 0 || snapwatch_ms(CLOCK_MONOTONIC) < until)) {
		char *buf = NULL;
		size_t len = 0;
		int rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		snapwatch_print(buf, len, s);
		fflush(stdout);
		nng_free(buf, len);
	}
	free(s);
	/* like nngraw: exit without nng_close (it can deadlock in 1.5.2) */
	return 0;
}
