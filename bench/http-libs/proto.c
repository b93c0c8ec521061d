/*
 * proto.c - the measurement behind the beacon server's HTTP library: the
 * same handler (beacon_decode + sesstab_apply for every event + a JSON
 * answer) on nng's HTTP server (-DUSE_NNG) or libmicrohttpd (-DUSE_MHD).
 * Built and run by bench/http-libs/run.sh; not part of the product.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beacon.h"
#include "clock.h"
#include "funnel.h"
#include "sesstab.h"

static struct sesstab *tab;
static const struct beacon_limits lim = {BEACON_MAX_BODY, BEACON_MAX_EVENTS};

/* The real work: returns the status; answer in out. */
static int
work(const char *body, size_t len, char *out, size_t cap)
{
	struct beacon *b = malloc(sizeof(*b));
	struct nudge_diag d = {0};
	uint64_t mono = clock_mono_ms(), wall = clock_wall_ms();
	int st = 200;

	if (b == NULL || beacon_decode(b, body, len, &lim, wall, NULL, &d)) {
		snprintf(out, cap, "{\"error\":\"%s\"}", d.msg);
		st = 400;
	} else {
		for (unsigned i = 0; i < b->n; i++)
			sesstab_apply(tab, &b->ev[i], mono, wall);
		beacon_fini(b);
		snprintf(out, cap, "{\"d\":[]}");
	}
	free(b);
	return st;
}

#ifdef USE_NNG
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

static void
cb(nng_aio *aio)
{
	nng_http_req *req = nng_aio_get_input(aio, 0);
	nng_http_res *res;
	void *body;
	size_t len;
	char out[256];
	int st;

	nng_http_req_get_data(req, &body, &len);
	st = work(body, len, out, sizeof(out));
	nng_http_res_alloc(&res);
	nng_http_res_set_status(res, (uint16_t)st);
	nng_http_res_set_header(res, "Content-Type", "application/json");
	nng_http_res_copy_data(res, out, strlen(out));
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
serve(int port)
{
	char u[64];
	nng_url *url;
	nng_http_server *srv;
	nng_http_handler *h;

	snprintf(u, sizeof(u), "http://127.0.0.1:%d", port);
	nng_url_parse(&url, u);
	nng_http_server_hold(&srv, url);
	nng_http_handler_alloc(&h, "/nudge/e", cb);
	nng_http_handler_set_method(h, "POST");
	nng_http_handler_collect_body(h, true, 65536);
	nng_http_server_add_handler(srv, h);
	if (nng_http_server_start(srv) != 0)
		exit(1);
}
#else
#include <microhttpd.h>

struct req {
	size_t len;
	char buf[65536];
};

static enum MHD_Result
ahc(void *cls, struct MHD_Connection *c, const char *url, const char *meth,
    const char *ver, const char *up, size_t *up_size, void **con_cls)
{
	struct req *r = *con_cls;
	struct MHD_Response *res;
	char out[256];
	int st;
	enum MHD_Result ret;

	(void)cls; (void)url; (void)meth; (void)ver;
	if (r == NULL) {
		*con_cls = r = malloc(sizeof(*r));
		r->len = 0;
		return MHD_YES;
	}
	if (*up_size > 0) {
		if (r->len + *up_size <= sizeof(r->buf)) {
			memcpy(r->buf + r->len, up, *up_size);
			r->len += *up_size;
		}
		*up_size = 0;
		return MHD_YES;
	}
	st = work(r->buf, r->len, out, sizeof(out));
	res = MHD_create_response_from_buffer(strlen(out), out,
	    MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(res, "Content-Type", "application/json");
	ret = MHD_queue_response(c, (unsigned)st, res);
	MHD_destroy_response(res);
	return ret;
}

static void
done(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode t)
{
	(void)cls; (void)c; (void)t;
	free(*con_cls);
	*con_cls = NULL;
}

static void
serve(int port)
{
	if (MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD, (uint16_t)port,
	    NULL, NULL, ahc, NULL, MHD_OPTION_THREAD_POOL_SIZE, 2,
	    MHD_OPTION_NOTIFY_COMPLETED, done, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30, MHD_OPTION_END) == NULL)
		exit(1);
}
#endif

int
main(int argc, char **argv)
{
	struct funnel f;
	struct sesstab_config sc = {8, 30 * 60 * 1000, &f};

	funnel_default(&f);
	if (sesstab_new(&tab, &sc) != 0)
		return 1;
	serve(argc > 1 ? atoi(argv[1]) : 7490);
	pause();
	return 0;
}
