/*
 * cmd_emit.c - `nudge emit`: one event from flags, or JSON lines from
 * stdin in acknowledged batches, sent as the `emit` control request to the
 * agent's ingest socket.
 *
 * Events borrow their strings (struct nudge_strv): from argv for a single
 * event, from the parsed JSON line until the event is packed.  Each event
 * is packed as soon as it is read, into a batch buffer that is spliced
 * into a request when full; so at most one JSON line is alive at a time.
 * Main thread of the CLI.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "ctlreq.h"
#include "emit_event.h"
#include "wire.h"

#define EMIT_BATCH 1000
#define EMIT_LINE_MAX (1u << 20)

struct emit_run {
	struct ctlreq_client client;
	msgpack_sbuffer evbuf; /* packed events of the batch */
	msgpack_packer evpk;
	unsigned n;                      /* events in evbuf */
	unsigned long lines[EMIT_BATCH]; /* input line of each */
	unsigned long accepted, rejected, bad;
	int fail; /* first nudge error that stops us */
	bool json;
};

/* Reports the agent's per-event errors against input lines. */
static void
emit_report_errs(const struct emit_run *r, const msgpack_object *errs)
{
	if (errs == NULL || errs->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (uint32_t i = 0; i < errs->via.array.size; i++) {
		const msgpack_object *e = &errs->via.array.ptr[i];
		struct nudge_strv msg = {"", 0};
		uint64_t idx;

		if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 2 ||
		    e->via.array.ptr[0].type !=
		        MSGPACK_OBJECT_POSITIVE_INTEGER)
			continue;
		idx = e->via.array.ptr[0].via.u64;
		wire_obj_strv(&e->via.array.ptr[1], &msg);
		if (idx < r->n && r->lines[idx] > 0)
			fprintf(stderr, "nudge: line %lu: rejected: %.*s\n",
			    r->lines[idx], (int)msg.len, msg.ptr);
		else
			fprintf(stderr, "nudge: event %llu rejected: %.*s\n",
			    (unsigned long long)idx, (int)msg.len, msg.ptr);
	}
}

static int
emit_take_reply(struct emit_run *r, const struct wire_reply *rp)
{
	uint64_t acc = 0, rej = 0;

	if (rp->status != 0) {
		fprintf(stderr, "nudge: agent refused the batch: %s (%s)\n",
		    rp->message[0] ? rp->message : nudge_strerror(rp->status),
		    nudge_errname(rp->status));
		return rp->status;
	}
	if (wire_get_u64(rp->body, "acc", &acc) != 0 ||
	    wire_get_u64(rp->body, "rej", &rej) != 0) {
		fputs("nudge: the agent's answer lacks acc/rej\n", stderr);
		return NUDGE_EINVAL;
	}
	r->accepted += acc;
	r->rejected += rej;
	emit_report_errs(r, wire_map_get(rp->body, "errs"));
	return 0;
}

/* args {ev: [...]}: the events already packed one by one in evbuf. */
static void
emit_pack_args(msgpack_packer *pk, const void *arg)
{
	const struct emit_run *r = arg;

	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "ev");
	msgpack_pack_array(pk, r->n);
	pk->callback(pk->data, r->evbuf.data, r->evbuf.size);
}

/*
 * Sends the batch as {ev: [...]} and waits for its acknowledgement;
 * ctlreq_build signs it when a key is configured.
 */
static int
emit_flush(struct emit_run *r)
{
	msgpack_sbuffer sb;
	uint8_t id[WIRE_ID_LEN];
	struct nudge_diag d = {0};
	struct wire_reply rp;
	nng_msg *msg;
	int rv;

	if (r->n == 0)
		return 0;
	msgpack_sbuffer_init(&sb);
	rv = ctlreq_build(&sb, "emit", emit_pack_args, r, id);
	if (rv == 0)
		rv = ctlreq_call(&r->client, &sb, &msg, &rp, &d);
	msgpack_sbuffer_destroy(&sb);
	if (rv != 0) {
		fprintf(stderr, "nudge: %s\n",
		    d.msg[0] ? d.msg : nudge_strerror(rv));
		return rv;
	}
	rv = emit_take_reply(r, &rp);
	wire_reply_fini(&rp);
	nng_msg_free(msg);
	msgpack_sbuffer_clear(&r->evbuf);
	r->n = 0;
	return rv;
}

static int
emit_add(struct emit_run *r, const struct nudge_event *ev, unsigned long line)
{
	wire_pack_event(&r->evpk, ev);
	r->lines[r->n++] = line;
	return r->n >= EMIT_BATCH ? emit_flush(r) : 0;
}

/* Reads JSON lines; a bad line is reported and counted, the rest goes on. */
static int
emit_stdin(struct emit_run *r)
{
	char *line = NULL, err[160];
	size_t cap = 0;
	ssize_t len;
	unsigned long no = 0;
	int rv = 0;

	while (rv == 0 && (len = getline(&line, &cap, stdin)) >= 0) {
		struct nudge_event ev;
		json_error_t je;
		json_t *o;

		no++;
		if (len == 0 || strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if ((size_t)len > EMIT_LINE_MAX) {
			fprintf(stderr, "nudge: line %lu: too long\n", no);
			r->bad++;
			continue;
		}
		o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
		if (o == NULL) {
			fprintf(stderr, "nudge: line %lu: %s\n", no, je.text);
			r->bad++;
			continue;
		}
		if (emit_event_from_json(o, &ev, err, sizeof(err)) != 0) {
			fprintf(stderr, "nudge: line %lu: %s\n", no, err);
			r->bad++;
		} else {
			rv = emit_add(r, &ev, no);
		}
		json_decref(o);
	}
	free(line);
	return rv != 0 ? rv : emit_flush(r);
}

enum {
	EO_VISITOR = 256,
	EO_VALUE,
	EO_PAGE,
	EO_REFERRER,
	EO_UTM_SOURCE,
	EO_UTM_MEDIUM,
	EO_UTM_CAMPAIGN,
	EO_COUNTRY,
	EO_DEVICE,
	EO_SKU,
	EO_QUANTITY,
	EO_TARGET,
	EO_FIELD,
	EO_INGEST,
	EO_STDIN,
	EO_JSON
};

static const struct option emit_longopts[] = {
    {"visitor", required_argument, NULL, EO_VISITOR},
    {"value", required_argument, NULL, EO_VALUE},
    {"page", required_argument, NULL, EO_PAGE},
    {"referrer", required_argument, NULL, EO_REFERRER},
    {"utm-source", required_argument, NULL, EO_UTM_SOURCE},
    {"utm-medium", required_argument, NULL, EO_UTM_MEDIUM},
    {"utm-campaign", required_argument, NULL, EO_UTM_CAMPAIGN},
    {"country", required_argument, NULL, EO_COUNTRY},
    {"device", required_argument, NULL, EO_DEVICE},
    {"sku", required_argument, NULL, EO_SKU},
    {"quantity", required_argument, NULL, EO_QUANTITY},
    {"target", required_argument, NULL, EO_TARGET},
    {"field", required_argument, NULL, EO_FIELD},
    {"ingest", required_argument, NULL, EO_INGEST},
    {"stdin", no_argument, NULL, EO_STDIN},
    {"json", no_argument, NULL, EO_JSON},
    {NULL, 0, NULL, 0},
};

struct emit_args {
	struct nudge_event ev;
	const char *ingest;
	bool from_stdin;
	bool json;
};

/* The flag's name is the JSON key with '-' for '_'. */
static int
emit_flag(
    struct emit_args *a, int idx, const char *val, char *err, size_t errcap)
{
	char key[32];

	snprintf(key, sizeof(key), "%s", emit_longopts[idx].name);
	for (char *p = key; *p != '\0'; p++)
		if (*p == '-')
			*p = '_';
	return emit_event_set(&a->ev, key, val, strlen(val), err, errcap);
}

static int
emit_parse(struct cli_ctx *ctx, int argc, char **argv, struct emit_args *a)
{
	const struct cli_cmd *me = cli_find(ctx, "emit");
	char err[160];
	int ch, idx;

	event_init(&a->ev);
	while ((ch = getopt_long(argc, argv, "", emit_longopts, &idx)) != -1) {
		int rv = 0;

		if (ch == EO_INGEST)
			a->ingest = optarg;
		else if (ch == EO_STDIN)
			a->from_stdin = true;
		else if (ch == EO_JSON)
			a->json = true;
		else if (ch == EO_FIELD)
			rv =
			    emit_event_field(&a->ev, optarg, err, sizeof(err));
		else if (ch >= EO_VISITOR && ch < EO_FIELD)
			rv = emit_flag(a, idx, optarg, err, sizeof(err));
		else
			return cli_usage(me, "bad flag");
		if (rv != 0)
			return cli_usage(me, "%s", err);
	}
	if (a->from_stdin)
		return optind == argc ? CLI_OK
		                      : cli_usage(me, "--stdin takes no TYPE");
	if (optind + 1 != argc)
		return cli_usage(me, "want one event TYPE");
	emit_event_set(&a->ev, "type", argv[optind], strlen(argv[optind]), err,
	    sizeof(err));
	if (a->ev.visitor.len == 0)
		return cli_usage(me, "--visitor is required");
	return CLI_OK;
}

static const char *
emit_ingest_url(const struct cli_ctx *ctx, const struct emit_args *a)
{
	const char *env = getenv("NUDGE_INGEST");

	if (a->ingest != NULL)
		return a->ingest;
	if (env != NULL && env[0] != '\0')
		return env;
	return ctx->conf->agent.ingest;
}

static void
emit_print(const struct emit_run *r)
{
	unsigned long rej = r->rejected + r->bad;

	if (r->json)
		printf("{\"accepted\": %lu, \"rejected\": %lu, "
		       "\"bad_lines\": %lu}\n",
		    r->accepted, rej, r->bad);
	else
		printf("accepted %lu, rejected %lu\n", r->accepted, rej);
}

int
cli_emit(struct cli_ctx *ctx, int argc, char **argv)
{
	struct emit_args a = {0};
	struct nudge_diag d = {0};
	struct emit_run *r;
	int rv;

	if ((rv = emit_parse(ctx, argc, argv, &a)) != CLI_OK)
		return rv;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return CLI_EINTERNAL;
	r->json = a.json;
	if ((rv = ctlreq_open(&r->client, emit_ingest_url(ctx, &a),
	         CTLREQ_TIMEOUT_MS, &d)) != 0) {
		fprintf(stderr, "nudge: %s\n", d.msg);
		free(r);
		return CLI_EUNREACH;
	}
	msgpack_sbuffer_init(&r->evbuf);
	msgpack_packer_init(&r->evpk, &r->evbuf, msgpack_sbuffer_write);
	if (a.from_stdin)
		rv = emit_stdin(r);
	else if ((rv = emit_add(r, &a.ev, 0)) == 0)
		rv = emit_flush(r);
	if (rv == 0 || cli_exit_for(rv) == CLI_EREJECTED)
		emit_print(r);
	if (rv == 0 && r->rejected + r->bad > 0)
		rv = NUDGE_EINVAL;
	ctlreq_close(&r->client);
	msgpack_sbuffer_destroy(&r->evbuf);
	free(r);
	return cli_exit_for(rv);
}
