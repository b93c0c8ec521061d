/*
 * heatsum.c - test tool: subscribes to a PUB socket (an agent's or a
 * relay's) and adds up the heatmap increments of the HEAT messages it
 * hears, so that a shell test can check a relay's merged stream against
 * the clicks it scripted.
 *
 *   heatsum URL SECONDS [PAGE]
 *
 * Prints, after SECONDS (or SIGTERM/SIGINT), one line
 *   messages=M clicks=C views=V cells=K bad=B
 * for PAGE (every page when not given): C the clicks, V the page views
 * (scroll band 0: every measured view reaches it), K the distinct cells
 * with a click.  Exit status: 0, 1 on a socket error, 2 usage.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>

#include "wire.h"

static volatile sig_atomic_t heatsum_stop;

static void
heatsum_on_signal(int sig)
{
	(void)sig;
	heatsum_stop = 1;
}

static long long
heatsum_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct heatsum {
	const char *page;
	unsigned long long messages, clicks, views, bad;
	unsigned char lit[WIRE_HEAT_CELLS];
	struct wire_heat v;
};

static void
heatsum_part(void *arg, const struct wire_msg *m)
{
	struct heatsum *t = arg;

	if (m->h.kind != WIRE_HEAT)
		return;
	if (wire_read_heat(m, &t->v) != 0) {
		t->bad++;
		return;
	}
	t->messages++;
	for (uint32_t i = 0; i < t->v.n_pages; i++) {
		const struct wire_heat_page *p = &t->v.pages[i];
		if (t->page != NULL && (p->page.len != strlen(t->page) ||
		    memcmp(p->page.ptr, t->page, p->page.len) != 0))
			continue;
		t->views += p->reach[0];
		for (uint32_t k = 0; k < p->n_cells; k++) {
			const struct wire_heat_cell *c =
			    &t->v.cells[p->first + k];
			t->clicks += c->n;
			t->lit[c->cell] = 1;
		}
	}
}

/* Every part of the message (wire_msg_each). */
static void
heatsum_add(struct heatsum *t, const void *buf, size_t len)
{
	if (wire_msg_each(buf, len, &wire_limits_default, NULL, heatsum_part,
	    t, NULL) != 0)
		t->bad++;
}

int
main(int argc, char **argv)
{
	static struct heatsum t;
	nng_socket sock;
	long long until;
	unsigned cells = 0;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: heatsum URL SECONDS [PAGE]\n");
		return 2;
	}
	until = heatsum_ms() + (long long)(atof(argv[2]) * 1000);
	t.page = argc == 4 ? argv[3] : NULL;
	signal(SIGTERM, heatsum_on_signal);
	signal(SIGINT, heatsum_on_signal);
	if (nng_sub0_open(&sock) != 0 ||
	    nng_socket_set(sock, NNG_OPT_SUB_SUBSCRIBE, "", 0) != 0 ||
	    nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 100) != 0 ||
	    nng_dial(sock, argv[1], NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "heatsum: cannot subscribe to %s\n", argv[1]);
		return 1;
	}
	while (!heatsum_stop && heatsum_ms() < until) {
		char *buf = NULL;
		size_t len = 0;
		int rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC);

		if (rv == NNG_ETIMEDOUT)
			continue;
		if (rv != 0)
			break;
		heatsum_add(&t, buf, len);
		nng_free(buf, len);
	}
	for (unsigned c = 0; c < WIRE_HEAT_CELLS; c++)
		cells += t.lit[c];
	printf("messages=%llu clicks=%llu views=%llu cells=%u bad=%llu\n",
	    t.messages, t.clicks, t.views, cells, t.bad);
	/* like snapwatch: exit without nng_close (it can deadlock in 1.5.2) */
	return 0;
}
