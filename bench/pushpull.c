/*
 * pushpull.c - the transport ceiling for batched ingest: nng PUSH -> PULL
 * over the same URL kind, messages of the same size as the simulator's
 * batches, no processing on the receiving side.  Prints messages/s and,
 * given the events per message, the events/s that transport alone allows.
 *
 * usage: pushpull URL MSG_BYTES EVENTS_PER_MSG SECONDS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include "clock.h"

struct sender {
	const char *url;
	size_t bytes;
	volatile int stop;
};

static void *
send_loop(void *arg)
{
	struct sender *s = arg;
	nng_socket push;

	if (nng_push0_open(&push) != 0 || nng_dial(push, s->url, NULL, 0) != 0)
		return NULL;
	nng_socket_set_int(push, NNG_OPT_SENDBUF, 1024);
	while (!s->stop) {
		nng_msg *m;
		if (nng_msg_alloc(&m, s->bytes) != 0)
			break;
		memset(nng_msg_body(m), 0x5a, s->bytes);
		nng_socket_set_ms(push, NNG_OPT_SENDTIMEO, 100);
		if (nng_sendmsg(push, m, 0) != 0)
			nng_msg_free(m);
	}
	nng_close(push);
	return NULL;
}

int
main(int argc, char **argv)
{
	struct sender s;
	nng_socket pull;
	pthread_t th;
	uint64_t n = 0, start, seconds;
	double per_msg;

	if (argc != 5) {
		fprintf(stderr, "usage: pushpull URL MSG_BYTES EVENTS_PER_MSG "
		    "SECONDS\n");
		return 2;
	}
	s.url = argv[1];
	s.bytes = strtoul(argv[2], NULL, 10);
	s.stop = 0;
	per_msg = strtod(argv[3], NULL);
	seconds = strtoul(argv[4], NULL, 10);
	if (nng_pull0_open(&pull) != 0 || nng_listen(pull, s.url, NULL, 0) != 0)
		return 1;
	nng_socket_set_int(pull, NNG_OPT_RECVBUF, 1024);
	nng_socket_set_ms(pull, NNG_OPT_RECVTIMEO, 1000);
	pthread_create(&th, NULL, send_loop, &s);
	start = clock_mono_ms();
	while (clock_mono_ms() - start < seconds * 1000) {
		nng_msg *m;
		if (nng_recvmsg(pull, &m, 0) == 0) {
			n++;
			nng_msg_free(m);
		}
	}
	double secs = (double)(clock_mono_ms() - start) / 1000.0;
	printf("messages_per_s=%.0f events_per_s=%.0f\n", (double)n / secs,
	    (double)n * per_msg / secs);
	fflush(stdout);
	/*
	 * No join and no close: nng 1.5.2 can deadlock in nng_close (#1543),
	 * which hung this tool once; the process exit releases everything.
	 */
	_exit(0);
}
