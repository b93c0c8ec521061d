/*
 * cmd_audit.c - `nudge audit [--lim N] [--json]`: the newest rows of
 * every agent's audit trail (who changed or was refused what, when).
 * Exit codes: 0, 2 usage, 3 an agent unreachable, 4 refused.  Main thread.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "fleet.h"


struct audit_run {
	uint64_t lim;
	bool json;
	json_t *rows;
	const struct fleet *f;
};

static void
audit_pack_args(msgpack_packer *pk, const void *arg)
{
	const struct audit_run *r = arg;

	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "lim");
	msgpack_pack_uint64(pk, r->lim);
}

static json_t *
audit_str(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_STR ?
	    json_stringn(o->via.str.ptr, o->via.str.size) : json_string("");
}

static void
audit_got(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct audit_run *r = arg;
	const msgpack_object *b = rp->body;

	for (uint32_t i = 0; rp->status == 0 &&
	    b->type == MSGPACK_OBJECT_ARRAY && i < b->via.array.size; i++) {
		const msgpack_object *row = &b->via.array.ptr[i];
		const msgpack_object *c;
		if (row->type != MSGPACK_OBJECT_ARRAY ||
		    row->via.array.size != 6)
			continue;
		c = row->via.array.ptr;
		json_array_append_new(r->rows, json_pack("{s:s, s:I, s:I, "
		    "s:o, s:o, s:o, s:I}", "agent", fleet_label(&r->f->a[idx]),
		    "id", (json_int_t)c[0].via.u64, "ts",
		    (json_int_t)c[1].via.u64, "who", audit_str(&c[2]), "what",
		    audit_str(&c[3]), "detail", audit_str(&c[4]), "status",
		    (json_int_t)c[5].via.i64));
	}
}

static void
audit_print(json_t *rows)
{
	size_t i;
	json_t *o;

	printf("%-12s %-20s %-12s %-16s %-6s %s\n", "AGENT", "TIME (UTC)",
	    "WHO", "WHAT", "STATUS", "DETAIL");
	json_array_foreach(rows, i, o) {
		time_t t = (time_t)(json_integer_value(json_object_get(o,
		    "ts")) / 1000);
		struct tm tm;
		char when[32] = "?";
		if (gmtime_r(&t, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-12.12s %-20s %-12.12s %-16.16s %-6lld %s\n",
		    json_string_value(json_object_get(o, "agent")), when,
		    json_string_value(json_object_get(o, "who")),
		    json_string_value(json_object_get(o, "what")),
		    json_integer_value(json_object_get(o, "status")),
		    json_string_value(json_object_get(o, "detail")));
	}
}

static const struct option audit_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"lim", required_argument, NULL, 'l'},
    {"agent", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

int
cli_audit(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_cmd *me = cli_find(ctx, "audit");
	struct audit_run r = {20, false, NULL, NULL};
	struct fleet *f;
	char *end;
	int ch, rv = CLI_OK;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", audit_longopts, NULL)) != -1) {
		if (ch == 'j') {
			r.json = true;
		} else if (ch == 'l') {
			r.lim = strtoull(optarg, &end, 10);
			if (*end != '\0' || r.lim == 0 || r.lim > 1000)
				return cli_usage(me, "--lim wants 1..1000");
		} else if (ch != 'a' || cli_add_agent(ctx, optarg) != 0) {
			return cli_usage(me, "bad flag");
		}
	}
	if (optind < argc)
		return cli_usage(me, "unexpected '%s'", argv[optind]);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return CLI_EINTERNAL;
	r.rows = json_array();
	r.f = f;
	if ((rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) == CLI_OK) {
		for (unsigned i = 0; i < f->n; i++)
			if (fleet_call(f, i, "audit_tail", audit_pack_args, &r,
			    audit_got, &r, NULL) != 0)
				fprintf(stderr, "nudge: %s: %s\n",
				    fleet_label(&f->a[i]), f->a[i].msg);
		if (r.json) {
			json_dumpf(r.rows, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
		} else {
			audit_print(r.rows);
		}
		for (unsigned i = 0; i < f->n; i++) {
			int e = cli_exit_for(f->a[i].err);
			if (e != CLI_OK && rv != CLI_EUNREACH)
				rv = e;
		}
	}
	json_decref(r.rows);
	free(f);
	return rv;
}
