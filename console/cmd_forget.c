/*
 * cmd_forget.c - `nudge forget VISITOR [--json]`: a visitor's right to
 * erasure (PRIVACY.md), over every agent given: each one deletes the
 * visitor's live session, sampled events, archived sessions and rule
 * memory, audits it under a hash of the id, and tells its consoles to drop
 * the visitor (the agent's `forget` command, common/wire.h).
 * Exit codes: 0 every agent acknowledged (even holding nothing), 2 usage,
 * 3 an agent unreachable, 4 refused (credential, role).  Main thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fleet.h"

struct forget_run {
	const char *vid;
	bool json;
	const struct fleet *f;
	json_t *rows;		/* one object per agent, fleet order */
};

static void
forget_pack_args(msgpack_packer *pk, const void *arg)
{
	const struct forget_run *r = arg;

	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "vid");
	wire_pack_cstr(pk, r->vid);
}

static void
forget_got(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct forget_run *r = arg;
	json_t *row = json_array_get(r->rows, idx);
	bool live = false;
	uint64_t archived = 0, facts = 0;

	if (rp->status != 0 || row == NULL)
		return;
	wire_get_bool(rp->body, "live", &live);
	wire_get_u64(rp->body, "archived", &archived);
	wire_get_u64(rp->body, "facts", &facts);
	json_object_set_new(row, "live", json_boolean(live));
	json_object_set_new(row, "archived",
	    json_integer((json_int_t)archived));
	json_object_set_new(row, "facts", json_integer((json_int_t)facts));
}

static void
forget_print(const struct forget_run *r)
{
	size_t i;
	json_t *o;

	if (r->json) {
		json_dumpf(r->rows, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		return;
	}
	json_array_foreach(r->rows, i, o) {
		const char *err = json_string_value(json_object_get(o,
		    "error"));
		if (err != NULL) {
			printf("%-20s not forgotten: %s\n", json_string_value(
			    json_object_get(o, "agent")), err);
			continue;
		}
		printf("%-20s forgotten: live session %s, %lld archived "
		    "sessions, %lld memories\n",
		    json_string_value(json_object_get(o, "agent")),
		    json_is_true(json_object_get(o, "live")) ? "yes" : "no",
		    json_integer_value(json_object_get(o, "archived")),
		    json_integer_value(json_object_get(o, "facts")));
	}
}

static const struct option forget_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"agent", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

/* Asks every agent; each row says what it did or why it did not. */
static int
forget_all(struct forget_run *r, struct fleet *f)
{
	int rv = CLI_OK;

	for (unsigned i = 0; i < f->n; i++) {
		json_t *row = json_pack("{s:s}", "agent",
		    fleet_label(&f->a[i]));
		json_array_append_new(r->rows, row);
		if (fleet_call(f, i, "forget", forget_pack_args, r,
		    forget_got, r, NULL) != 0) {
			json_object_set_new(row, "error",
			    json_string(f->a[i].msg));
			fprintf(stderr, "nudge: %s: %s\n",
			    fleet_label(&f->a[i]), f->a[i].msg);
		}
		int e = cli_exit_for(f->a[i].err);
		if (e != CLI_OK && rv != CLI_EUNREACH)
			rv = e;
	}
	return rv;
}

int
cli_forget(struct cli_ctx *ctx, int argc, char **argv)
{
	const struct cli_cmd *me = cli_find(ctx, "forget");
	struct forget_run r = {NULL, false, NULL, NULL};
	struct fleet *f;
	int ch, rv;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", forget_longopts, NULL)) !=
	    -1) {
		if (ch == 'j')
			r.json = true;
		else if (ch != 'a' || cli_add_agent(ctx, optarg) != 0)
			return cli_usage(me, "bad flag");
	}
	if (optind + 1 != argc)
		return cli_usage(me, "one VISITOR id is required");
	r.vid = argv[optind];
	if (r.vid[0] == '\0' || strlen(r.vid) > EVENT_VISITOR_MAX)
		return cli_usage(me, "VISITOR: 1..%d bytes",
		    EVENT_VISITOR_MAX);
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return CLI_EINTERNAL;
	r.rows = json_array();
	r.f = f;
	if ((rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) == CLI_OK) {
		rv = forget_all(&r, f);
		forget_print(&r);
	}
	json_decref(r.rows);
	free(f);
	return rv;
}
