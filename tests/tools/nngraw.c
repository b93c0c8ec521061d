/*
 * nngraw.c - test tool: puts raw bytes on an nng socket, to check what the
 * agent and console do with hostile input.
 *
 *   nngraw req URL FILE     send FILE as one request, print the reply's
 *                           status and message (decoded) or "undecodable"
 *   nngraw push URL FILE    send FILE as one message, fire and forget
 *   nngraw pub URL FILE MS  listen as a publisher and send FILE every
 *                           100 ms for MS milliseconds
 * Exit status: 0 sent (and, for req, a reply came), 1 failure, 2 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/req.h>

#include "wire.h"

static int
read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 16 << 20;

	if (f == NULL || (*buf = malloc(cap)) == NULL)
		return -1;
	*len = fread(*buf, 1, cap, f);
	fclose(f);
	return 0;
}

static int
do_req(const char *url, const char *buf, size_t len)
{
	nng_socket s;
	char *reply = NULL;
	size_t rlen = 0;
	struct wire_reply rp;
	struct nudge_diag d = {0};

	if (nng_req0_open(&s) != 0 || nng_dial(s, url, NULL, 0) != 0)
		return 1;
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	if (nng_send(s, (void *)buf, len, 0) != 0 ||
	    nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC) != 0) {
		fprintf(stderr, "no reply\n");
		return 1;
	}
	if (wire_reply_parse(&rp, reply, rlen, NULL, &d) != 0) {
		printf("undecodable reply: %s\n", d.msg);
	} else {
		printf("status %d %s: %s\n", rp.status, nudge_errname(rp.status),
		    rp.message);
		wire_reply_fini(&rp);
	}
	nng_free(reply, rlen);
	nng_close(s);
	return 0;
}

static int
do_push(const char *url, const char *buf, size_t len)
{
	nng_socket s;

	if (nng_push0_open(&s) != 0 || nng_dial(s, url, NULL, 0) != 0 ||
	    nng_send(s, (void *)buf, len, 0) != 0)
		return 1;
	usleep(300000); /* nng 1.x drops queued messages on close */
	nng_close(s);
	return 0;
}

static int
do_pub(const char *url, const char *buf, size_t len, long ms)
{
	nng_socket s;

	if (nng_pub0_open(&s) != 0 || nng_listen(s, url, NULL, 0) != 0)
		return 1;
	for (long t = 0; t < ms; t += 100) {
		nng_send(s, (void *)buf, len, 0);
		usleep(100000);
	}
	nng_close(s);
	return 0;
}

int
main(int argc, char **argv)
{
	char *buf;
	size_t len;

	if (argc < 4 || read_file(argv[3], &buf, &len) != 0) {
		fprintf(stderr, "usage: nngraw req|push|pub URL FILE [MS]\n");
		return 2;
	}
	int rv = 2;
	if (strcmp(argv[1], "req") == 0)
		rv = do_req(argv[2], buf, len);
	else if (strcmp(argv[1], "push") == 0)
		rv = do_push(argv[2], buf, len);
	else if (strcmp(argv[1], "pub") == 0 && argc == 5)
		rv = do_pub(argv[2], buf, len, strtol(argv[4], NULL, 10));
	else
		fprintf(stderr, "usage: nngraw req|push|pub URL FILE [MS]\n");
	free(buf);
	return rv;
}
