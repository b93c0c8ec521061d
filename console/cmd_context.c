/*
 * cmd_context.c - `nudge context set k=v ... | get`: the context facts
 * rules test (context.KEY, context.KEY[INDEX]) on every agent at once.
 *
 * set: each argument is KEY=VALUE or KEY[INDEX]=VALUE; a VALUE that reads
 * as a number is sent as one, else as a string; KEY= (empty) removes the
 * fact.  get prints every agent's facts.  Exit codes as for `nudge rules
 * push`.  Main thread.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fleet.h"

#define CTX_FACTS_MAX 64


static const char context_usage[] =
    "usage: nudge context set KEY[INDEX]=VALUE... [--json] --agent URL...\n"
    "       nudge context get [--json] --agent URL...\n";

struct ctx_set {
	unsigned n;
	char *const *kv;	/* borrowed from argv */
};

static void
ctx_pack_value(msgpack_packer *pk, const char *v)
{
	char *end;
	double d;

	if (*v == '\0') {
		msgpack_pack_nil(pk);
		return;
	}
	d = strtod(v, &end);
	if (*end == '\0')
		msgpack_pack_double(pk, d);
	else
		wire_pack_cstr(pk, v);
}

static void
ctx_pack_set(msgpack_packer *pk, const void *arg)
{
	const struct ctx_set *s = arg;

	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "facts");
	msgpack_pack_map(pk, s->n);
	for (unsigned i = 0; i < s->n; i++) {
		const char *eq = strchr(s->kv[i], '=');
		wire_pack_strv(pk, (struct nudge_strv){s->kv[i],
		    (uint32_t)(eq - s->kv[i])});
		ctx_pack_value(pk, eq + 1);
	}
}

struct ctx_got {
	json_t *agents;
	const struct fleet *f;
};

static json_t *
ctx_value_json(const msgpack_object *v)
{
	switch (v->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(v->via.f64);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_integer((json_int_t)v->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)v->via.i64);
	case MSGPACK_OBJECT_STR:
		return json_stringn(v->via.str.ptr, v->via.str.size);
	default:
		return json_null();
	}
}

static void
ctx_got_facts(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct ctx_got *g = arg;
	const msgpack_object *m = wire_map_get(rp->body, "facts");
	json_t *facts = json_object();

	for (uint32_t i = 0; m != NULL && m->type == MSGPACK_OBJECT_MAP &&
	    i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		char key[160];
		if (kv->key.type != MSGPACK_OBJECT_STR ||
		    kv->key.via.str.size >= sizeof(key))
			continue;
		memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
		key[kv->key.via.str.size] = '\0';
		json_object_set_new(facts, key, ctx_value_json(&kv->val));
	}
	json_array_append_new(g->agents, json_pack("{s:s, s:s, s:o}", "name",
	    g->f->a[idx].name, "url", g->f->a[idx].pub, "facts", facts));
}

static int
ctx_exit(const struct fleet *f, bool json, const char *what)
{
	int worst = CLI_OK;

	for (unsigned i = 0; i < f->n; i++) {
		int e = cli_exit_for(f->a[i].err);
		if (!json)
			printf("%-20s %s\n", fleet_label(&f->a[i]),
			    f->a[i].err ? f->a[i].msg : what);
		if (e == CLI_EUNREACH || (e != CLI_OK && worst == CLI_OK) ||
		    (e == CLI_EREFUSED && worst == CLI_EREJECTED))
			worst = e;
	}
	return worst;
}

static int
ctx_check_args(int n, char *const *kv)
{
	if (n == 0 || n > CTX_FACTS_MAX) {
		fprintf(stderr, "nudge: context set: 1..%d KEY=VALUE\n%s",
		    CTX_FACTS_MAX, context_usage);
		return CLI_EUSAGE;
	}
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(kv[i], '=');
		if (eq == NULL || eq == kv[i]) {
			fprintf(stderr, "nudge: context set: '%s' is not "
			    "KEY=VALUE\n%s", kv[i], context_usage);
			return CLI_EUSAGE;
		}
	}
	return CLI_OK;
}

static const struct option ctx_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"agent", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

static int
ctx_parse(struct cli_ctx *ctx, int argc, char **argv, bool *json)
{
	int ch;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "", ctx_longopts, NULL)) != -1) {
		if (ch == 'j')
			*json = true;
		else if (ch != 'a' || cli_add_agent(ctx, optarg) != 0) {
			fputs(context_usage, stderr);
			return CLI_EUSAGE;
		}
	}
	return CLI_OK;
}

static int
ctx_run(struct fleet *f, bool set, const struct ctx_set *s, bool json)
{
	struct ctx_got g = {json_array(), f};
	int rv;

	for (unsigned i = 0; i < f->n; i++)
		fleet_call(f, i, set ? "context_set" : "context_get",
		    set ? ctx_pack_set : NULL, s, set ? NULL : ctx_got_facts,
		    &g, NULL);
	if (!set && !json) {
		size_t i;
		json_t *a;
		json_array_foreach(g.agents, i, a) {
			const char *k;
			json_t *v;
			printf("%s:\n", json_string_value(json_object_get(a,
			    "name")));
			json_object_foreach(json_object_get(a, "facts"), k, v) {
				char *t = json_dumps(v, JSON_ENCODE_ANY);
				printf("  %s = %s\n", k, t ? t : "?");
				free(t);
			}
		}
	}
	rv = ctx_exit(f, json || !set, set ? "set" : "");
	if (json) {
		json_t *root = json_pack("{s:o}", "agents", g.agents);
		json_dumpf(root, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(root);
	} else {
		json_decref(g.agents);
	}
	return rv;
}

int
cli_context(struct cli_ctx *ctx, int argc, char **argv)
{
	struct fleet *f;
	struct ctx_set s;
	bool json = false, set;
	int rv;

	if (argc < 2 || (strcmp(argv[1], "set") && strcmp(argv[1], "get"))) {
		fputs(context_usage, stderr);
		return CLI_EUSAGE;
	}
	set = strcmp(argv[1], "set") == 0;
	if ((rv = ctx_parse(ctx, argc - 1, argv + 1, &json)) != CLI_OK)
		return rv;
	s = (struct ctx_set){(unsigned)(argc - 1 - optind),
	    argv + 1 + optind};
	if (set && (rv = ctx_check_args((int)s.n, s.kv)) != CLI_OK)
		return rv;
	if (!set && s.n > 0)
		return cli_usage(cli_find(ctx, "context"), "get takes no "
		    "argument");
	if ((f = calloc(1, sizeof(*f))) == NULL)
		return CLI_EINTERNAL;
	if ((rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) == CLI_OK)
		rv = ctx_run(f, set, &s, json);
	free(f);
	return rv;
}
