/*
 * cmd_message.c - `nudge message VISITOR TEXT [--kind K] [--sel S]`: an
 * operator's one-off banner (message, popup, coupon field, ...) for one
 * visitor who is on the site now.  Every agent given is asked; the one
 * holding the visitor's live session queues it for their next beacon
 * (agent/oneoff.h), the others answer that they do not know the visitor.
 * Exit 0 when one agent queued it, 5 when none holds the visitor, else as
 * for `nudge rules push`.  Main thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fleet.h"

static const char message_usage[] =
    "usage: nudge message VISITOR [TEXT] [--kind banner|message|popup|"
    "coupon|shake|show|hide]\n"
    "                     [--sel SELECTOR] [--json] --agent URL...\n";

struct msg_args {
	const char *vid, *kind, *text, *sel;
};

static void
msg_pack(msgpack_packer *pk, const void *arg)
{
	const struct msg_args *m = arg;

	msgpack_pack_map(pk, 2 + (m->text != NULL) + (m->sel != NULL));
	wire_pack_cstr(pk, "vid");
	wire_pack_cstr(pk, m->vid);
	wire_pack_cstr(pk, "kind");
	wire_pack_cstr(pk, m->kind);
	if (m->text != NULL) {
		wire_pack_cstr(pk, "text");
		wire_pack_cstr(pk, m->text);
	}
	if (m->sel != NULL) {
		wire_pack_cstr(pk, "sel");
		wire_pack_cstr(pk, m->sel);
	}
}

static const struct option msg_longopts[] = {
    {"kind", required_argument, NULL, 'k'},
    {"sel", required_argument, NULL, 's'},
    {"json", no_argument, NULL, 'j'},
    {"agent", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

static int
msg_parse(struct cli_ctx *ctx, int argc, char **argv, struct msg_args *m,
    bool *json)
{
	int ch;

	optind = 0;
	m->kind = "banner";
	while ((ch = getopt_long(argc, argv, "", msg_longopts, NULL)) != -1) {
		if (ch == 'k')
			m->kind = optarg;
		else if (ch == 's')
			m->sel = optarg;
		else if (ch == 'j')
			*json = true;
		else if (ch != 'a' || cli_add_agent(ctx, optarg) != 0) {
			fputs(message_usage, stderr);
			return CLI_EUSAGE;
		}
	}
	if (argc - optind < 1 || argc - optind > 2) {
		fputs(message_usage, stderr);
		return CLI_EUSAGE;
	}
	m->vid = argv[optind];
	m->text = argc - optind == 2 ? argv[optind + 1] : NULL;
	return CLI_OK;
}

/* Queued by one agent: done.  Else the worst failure that is not "unknown". */
static int
msg_exit(const struct fleet *f, bool json)
{
	json_t *agents = json_array();
	unsigned queued = 0;
	int worst = CLI_OK;

	for (unsigned i = 0; i < f->n; i++) {
		int err = f->a[i].err;
		queued += err == 0;
		if (!json)
			printf("%-20s %s\n", fleet_label(&f->a[i]), err == 0 ?
			    "queued for the visitor's next page event" :
			    f->a[i].msg);
		json_array_append_new(agents, json_pack("{s:s, s:s, s:b, s:s}",
		    "name", f->a[i].name, "url", f->a[i].pub, "queued",
		    err == 0, "message", err == 0 ? "" : f->a[i].msg));
		if (err != 0 && err != NUDGE_ENOTFOUND &&
		    (worst == CLI_OK || cli_exit_for(err) == CLI_EUNREACH))
			worst = cli_exit_for(err);
	}
	if (json) {
		json_t *root = json_pack("{s:b, s:o}", "queued", queued > 0,
		    "agents", agents);
		json_dumpf(root, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(root);
	} else {
		json_decref(agents);
	}
	if (queued > 0)
		return CLI_OK;
	if (worst == CLI_OK) {
		fprintf(stderr, "nudge: no agent holds a live session of that "
		    "visitor\n");
		return CLI_EREJECTED;
	}
	return worst;
}

int
cli_message(struct cli_ctx *ctx, int argc, char **argv)
{
	struct msg_args m = {0};
	struct fleet *f;
	bool json = false;
	int rv;

	if ((rv = msg_parse(ctx, argc, argv, &m, &json)) != CLI_OK)
		return rv;
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return CLI_EINTERNAL;
	if ((rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) == CLI_OK) {
		for (unsigned i = 0; i < f->n; i++)
			fleet_call(f, i, "message", msg_pack, &m, NULL, NULL,
			    NULL);
		rv = msg_exit(f, json);
	}
	free(f);
	return rv;
}
