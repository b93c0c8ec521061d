/*
 * cmd_rules_fleet.c - `nudge rules push|show|rollback|stats`: the rule set
 * across every agent at once.
 *
 * push compiles the file locally first (an error pushes nothing anywhere,
 * exit 5), asks every agent for its version in force, and pushes the whole
 * text as version --version or (highest in force) + 1 to each, printing
 * every agent's acknowledgement.  show prints each agent's version and the
 * drift, then the text; rollback N pushes the text of version N as a new
 * version; stats sums the per-rule counters of all agents.
 *
 * Exit codes: 0 every agent acknowledged, 2 usage, 3 an agent unreachable,
 * 4 an agent refused the credential or role, 5 the rule text or the
 * version was rejected.  Main thread; owns its buffers for the command.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fleet.h"
#include "rules.h"
#include "rules_cli.h"

struct rf_opts {
	bool json, shadow;
	uint64_t version;	/* 0: not given */
	const char *dump;	/* --dump-request FILE (tests) */
	const char *file;
};

static const struct option rf_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"shadow", no_argument, NULL, 's'},
    {"version", required_argument, NULL, 'v'},
    {"agent", required_argument, NULL, 'a'},
    {"dump-request", required_argument, NULL, 'D'},
    {NULL, 0, NULL, 0},
};

/* Parses argv (argv[0] is the subcommand); wants = positional count. */
static int
rf_parse(struct cli_ctx *ctx, int argc, char **argv, struct rf_opts *o,
    int wants, const char *usage)
{
	char *end;
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 0;
	while ((ch = getopt_long(argc, argv, "", rf_longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': o->json = true; break;
		case 's': o->shadow = true; break;
		case 'D': o->dump = optarg; break;
		case 'a':
			if (cli_add_agent(ctx, optarg) != 0)
				return CLI_EUSAGE;
			break;
		case 'v':
			o->version = strtoull(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || o->version == 0 ||
			    o->version > INT64_MAX) {
				fprintf(stderr, "nudge: --version wants a "
				    "positive integer\n%s", usage);
				return CLI_EUSAGE;
			}
			break;
		default:
			fputs(usage, stderr);
			return CLI_EUSAGE;
		}
	}
	if (argc - optind != wants) {
		fprintf(stderr, "nudge: rules %s: %s\n%s", argv[0],
		    argc - optind < wants ? "missing argument" :
		    "unexpected argument", usage);
		return CLI_EUSAGE;
	}
	o->file = wants > 0 ? argv[optind] : NULL;
	return CLI_OK;
}

/* The worst outcome over the agents, as an exit code (see above). */
static int
rf_exit(const struct fleet *f)
{
	bool unreach = false, refused = false, rejected = false;

	for (unsigned i = 0; i < f->n; i++) {
		int e = cli_exit_for(f->a[i].err);
		unreach = unreach || e == CLI_EUNREACH;
		refused = refused || e == CLI_EREFUSED;
		rejected = rejected || e == CLI_EREJECTED ||
		    e == CLI_EINTERNAL;
	}
	return unreach ? CLI_EUNREACH : refused ? CLI_EREFUSED :
	    rejected ? CLI_EREJECTED : CLI_OK;
}

/* ---- asking every agent for its version -------------------------------- */

struct rf_current {
	uint64_t v[CONF_AGENTS_MAX];
};

static void
rf_pack_kind(msgpack_packer *pk, const void *arg)
{
	const bool *shadow = arg;

	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "shadow");
	if (*shadow)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void
rf_got_current(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct rf_current *c = arg;

	if (rp->status == 0)
		wire_get_u64(rp->body, "current", &c->v[idx]);
}

/* Fills cur->v with every reachable agent's version; returns the max. */
static uint64_t
rf_versions(struct fleet *f, bool shadow, struct rf_current *cur)
{
	uint64_t max = 0;

	memset(cur, 0, sizeof(*cur));
	for (unsigned i = 0; i < f->n; i++)
		if (fleet_call(f, i, "rules_list", rf_pack_kind, &shadow,
		    rf_got_current, cur, NULL) == 0 && cur->v[i] > max)
			max = cur->v[i];
	return max;
}

/* ---- push --------------------------------------------------------------- */

struct rf_put {
	uint64_t version;
	const char *text;
	size_t len;
	bool shadow;
	uint64_t acked[CONF_AGENTS_MAX];
	json_t *errors[CONF_AGENTS_MAX];
};

static void
rf_pack_put(msgpack_packer *pk, const void *arg)
{
	const struct rf_put *p = arg;

	msgpack_pack_map(pk, 3);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, p->version);
	wire_pack_cstr(pk, "text");
	msgpack_pack_str_with_body(pk, p->text, p->len);
	wire_pack_cstr(pk, "shadow");
	if (p->shadow)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* The agent's compile errors, [[line, col, message]...], as JSON. */
static json_t *
rf_errors(const msgpack_object *body)
{
	const msgpack_object *e = wire_map_get(body, "errors");
	json_t *arr = json_array();

	for (uint32_t i = 0; e != NULL && e->type == MSGPACK_OBJECT_ARRAY &&
	    i < e->via.array.size; i++) {
		const msgpack_object *t = &e->via.array.ptr[i];
		struct nudge_strv m = {"", 0};
		if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size != 3)
			continue;
		wire_obj_strv(&t->via.array.ptr[2], &m);
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s%}",
		    "line", (json_int_t)t->via.array.ptr[0].via.i64, "col",
		    (json_int_t)t->via.array.ptr[1].via.i64, "message", m.ptr,
		    (size_t)m.len));
	}
	return arr;
}

static void
rf_got_put(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct rf_put *p = arg;

	if (rp->status == 0)
		wire_get_u64(rp->body, "version", &p->acked[idx]);
	else if (rp->status == NUDGE_ESYNTAX)
		p->errors[idx] = rf_errors(rp->body);
}

static void
rf_print_acks(const struct fleet *f, const struct rf_put *p, bool json)
{
	json_t *arr = json_array(), *root;

	for (unsigned i = 0; i < f->n; i++) {
		const struct fleet_agent *a = &f->a[i];
		if (a->relay)
			continue;	/* its agents have lines of their own */
		if (json) {
			json_t *o = json_pack("{s:s, s:s, s:b, s:I, s:s, s:s}",
			    "name", a->name, "url", a->pub, "ok", a->err == 0,
			    "version", (json_int_t)p->acked[i], "status",
			    a->err ? nudge_errname(a->err) : "OK", "error",
			    a->msg);
			if (p->errors[i] != NULL)
				json_object_set(o, "errors", p->errors[i]);
			json_array_append_new(arr, o);
		} else if (a->err == 0) {
			printf("%-20s acknowledged version %" PRIu64 "\n",
			    fleet_label(a), p->acked[i]);
		} else {
			printf("%-20s %s: %s\n", fleet_label(a),
			    cli_exit_for(a->err) == CLI_EUNREACH ?
			    "unreachable" : "refused", a->msg);
		}
	}
	if (!json) {
		json_decref(arr);
		return;
	}
	root = json_pack("{s:I, s:b, s:o}", "version", (json_int_t)p->version,
	    "shadow", p->shadow, "agents", arr);
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

/* Pushes text to every agent; the version is o->version or max + 1. */
static int
rf_push_text(struct fleet *f, const struct rf_opts *o, const char *text,
    size_t len)
{
	struct rf_put *p = calloc(1, sizeof(*p));
	struct rf_current *cur = malloc(sizeof(*cur));
	uint64_t max;
	int rv;

	if (p == NULL || cur == NULL) {
		free(p);
		free(cur);
		return CLI_EINTERNAL;
	}
	max = rf_versions(f, o->shadow, cur);
	*p = (struct rf_put){o->version ? o->version : max + 1, text, len,
	    o->shadow, {0}, {0}};
	for (unsigned i = 0; i < f->n; i++)
		if (f->a[i].err == 0)
			fleet_call(f, i, "rules_put", rf_pack_put, p,
			    rf_got_put, p, o->dump);
	rf_print_acks(f, p, o->json);
	rv = rf_exit(f);
	for (unsigned i = 0; i < f->n; i++)
		json_decref(p->errors[i]);
	free(p);
	free(cur);
	return rv;
}

static const char push_usage[] =
    "usage: nudge rules push FILE [--version N] [--shadow] [--json] "
    "--agent URL...\n";

int
rules_push(struct cli_ctx *ctx, int argc, char **argv)
{
	struct rf_opts o;
	struct fleet *f;
	char *text = NULL;
	size_t len = 0;
	int rv;

	if ((rv = rf_parse(ctx, argc, argv, &o, 1, push_usage)) != CLI_OK)
		return rv;
	/* compile here first: a broken file reaches no agent */
	if ((rv = rules_load_checked(o.file, &text, &len)) != CLI_OK)
		return rv;
	if ((f = calloc(1, sizeof(*f))) == NULL ||
	    (rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) != CLI_OK) {
		free(f);
		free(text);
		return f == NULL ? CLI_EINTERNAL : rv;
	}
	rv = rf_push_text(f, &o, text, len);
	free(text);
	free(f);
	return rv;
}

/* ---- show --------------------------------------------------------------- */

struct rf_show {
	uint64_t version[CONF_AGENTS_MAX], current[CONF_AGENTS_MAX];
	char hash[CONF_AGENTS_MAX][17];
	char *text;		/* of the newest version seen */
	uint64_t text_version;
	char who[64];
};

static void
rf_pack_get(msgpack_packer *pk, const void *arg)
{
	const struct rf_opts *o = arg;

	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, o->version);
	wire_pack_cstr(pk, "shadow");
	if (o->shadow)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void
rf_got_show(void *arg, unsigned idx, const struct wire_reply *rp)
{
	struct rf_show *s = arg;
	struct nudge_strv t;
	uint64_t v = 0;

	if (rp->status != 0)
		return;
	wire_get_u64(rp->body, "version", &v);
	wire_get_u64(rp->body, "current", &s->current[idx]);
	wire_get_str(rp->body, "hash", s->hash[idx], sizeof(s->hash[idx]));
	s->version[idx] = v;
	if (v > s->text_version && wire_get_strv(rp->body, "text", &t) == 0 &&
	    (s->text == NULL || v > s->text_version)) {
		free(s->text);
		if ((s->text = malloc(t.len + 1)) != NULL) {
			memcpy(s->text, t.ptr, t.len);
			s->text[t.len] = '\0';
			s->text_version = v;
			wire_get_str(rp->body, "who", s->who, sizeof(s->who));
		}
	}
}

static void
rf_show_json(const struct fleet *f, const struct rf_show *s,
    uint64_t desired)
{
	json_t *arr = json_array(), *root;
	bool drift = false;

	for (unsigned i = 0; i < f->n; i++) {
		const struct fleet_agent *a = &f->a[i];
		bool behind = a->err == 0 && s->current[i] < desired;
		drift = drift || behind || a->err != 0;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:I, "
		    "s:s, s:b, s:s}", "name", a->name, "url", a->pub, "up",
		    a->err == 0, "current", (json_int_t)s->current[i], "hash",
		    s->hash[i], "behind", behind, "error", a->msg));
	}
	root = json_pack("{s:I, s:b, s:o, s:I, s:s}", "desired",
	    (json_int_t)desired, "drift", drift, "agents", arr, "version",
	    (json_int_t)s->text_version, "text", s->text ? s->text : "");
	json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(root);
}

static void
rf_show_human(const struct fleet *f, const struct rf_show *s,
    uint64_t desired)
{
	printf("%-20s %8s  %-16s  %s\n", "AGENT", "VERSION", "HASH", "STATE");
	for (unsigned i = 0; i < f->n; i++) {
		const struct fleet_agent *a = &f->a[i];
		if (a->relay)
			continue;	/* its agents have lines of their own */
		if (a->err != 0) {
			printf("%-20s %8s  %-16s  unreachable: %s\n",
			    fleet_label(a), "-", "-", a->msg);
			continue;
		}
		printf("%-20s %8" PRIu64 "  %-16s  %s\n", fleet_label(a),
		    s->current[i], s->hash[i], s->current[i] < desired ?
		    "BEHIND (drift)" : "in force");
	}
	if (s->text != NULL)
		printf("--- version %" PRIu64 " (by %s)\n%s", s->text_version,
		    s->who, s->text);
}

static const char show_usage[] =
    "usage: nudge rules show [--version N] [--shadow] [--json] "
    "--agent URL...\n";

int
rules_show(struct cli_ctx *ctx, int argc, char **argv)
{
	struct rf_opts o;
	struct fleet *f = calloc(1, sizeof(*f));
	struct rf_show *s = calloc(1, sizeof(*s));
	uint64_t desired = 0;
	int rv;

	if (f == NULL || s == NULL)
		rv = CLI_EINTERNAL;
	else if ((rv = rf_parse(ctx, argc, argv, &o, 0, show_usage)) ==
	    CLI_OK && (rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) == CLI_OK) {
		for (unsigned i = 0; i < f->n; i++)
			fleet_call(f, i, "rules_get", rf_pack_get, &o,
			    rf_got_show, s, NULL);
		/* an agent without any set yet is not an error: version 0 */
		for (unsigned i = 0; i < f->n; i++)
			if (f->a[i].err == NUDGE_ENOTFOUND) {
				f->a[i].err = 0;
				f->a[i].msg[0] = '\0';
			}
		for (unsigned i = 0; i < f->n; i++)
			if (f->a[i].err == 0 && s->current[i] > desired)
				desired = s->current[i];
		if (o.json)
			rf_show_json(f, s, desired);
		else
			rf_show_human(f, s, desired);
		rv = rf_exit(f);
	}
	if (s != NULL)
		free(s->text);
	free(s);
	free(f);
	return rv;
}

/* ---- rollback ----------------------------------------------------------- */

static const char rollback_usage[] =
    "usage: nudge rules rollback N [--json] --agent URL...\n";

int
rules_rollback(struct cli_ctx *ctx, int argc, char **argv)
{
	struct rf_opts o;
	struct fleet *f = calloc(1, sizeof(*f));
	struct rf_show *s = calloc(1, sizeof(*s));
	char *end;
	int rv;

	if (f == NULL || s == NULL)
		rv = CLI_EINTERNAL;
	else if ((rv = rf_parse(ctx, argc, argv, &o, 1, rollback_usage)) ==
	    CLI_OK) {
		o.version = strtoull(o.file, &end, 10);
		if (*o.file == '\0' || *end != '\0' || o.version == 0) {
			fprintf(stderr, "nudge: rollback wants a version\n%s",
			    rollback_usage);
			rv = CLI_EUSAGE;
		} else if ((rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) ==
		    CLI_OK) {
			/* the text of N from whichever agent has it ... */
			for (unsigned i = 0; i < f->n && s->text == NULL; i++)
				fleet_call(f, i, "rules_get", rf_pack_get, &o,
				    rf_got_show, s, NULL);
			if (s->text == NULL) {
				fprintf(stderr, "nudge: no agent has version "
				    "%" PRIu64 "\n", o.version);
				rv = CLI_EREJECTED;
			} else {
				/* ... pushed everywhere as one new version */
				for (unsigned i = 0; i < f->n; i++)
					f->a[i].err = f->a[i].ctl[0] ? 0 :
					    NUDGE_ECONN;
				o.version = 0;
				rv = rf_push_text(f, &o, s->text,
				    strlen(s->text));
			}
		}
	}
	if (s != NULL)
		free(s->text);
	free(s);
	free(f);
	return rv;
}

/* ---- stats -------------------------------------------------------------- */

#define RF_STAT_KEYS 10
static const char *const rf_stat_keys[RF_STAT_KEYS] = {"m", "s", "c", "sh",
	"ho", "sho", "nd", "m_min", "sh_min", "sho_min"};

/* Adds one agent's rules of one kind into the merged JSON object. */
static void
rf_merge_rules(json_t *merged, const msgpack_object *kind)
{
	const msgpack_object *rules = wire_map_get(kind, "rules");

	for (uint32_t i = 0; rules != NULL &&
	    rules->type == MSGPACK_OBJECT_ARRAY && i < rules->via.array.size;
	    i++) {
		const msgpack_object *r = &rules->via.array.ptr[i];
		char name[RULE_NAME_MAX + 1];
		bool shadow = false;
		json_t *o;

		if (wire_get_str(r, "name", name, sizeof(name)) != 0)
			continue;
		if ((o = json_object_get(merged, name)) == NULL) {
			o = json_object();
			json_object_set_new(merged, name, o);
		}
		for (int k = 0; k < RF_STAT_KEYS; k++) {
			uint64_t v = 0;
			json_t *have = json_object_get(o, rf_stat_keys[k]);
			wire_get_u64(r, rf_stat_keys[k], &v);
			json_object_set_new(o, rf_stat_keys[k], json_integer(
			    (json_int_t)v + (have ? json_integer_value(have) :
			    0)));
		}
		wire_get_bool(r, "shadow", &shadow);
		json_object_set_new(o, "shadow", json_boolean(shadow));
	}
}

static void
rf_got_stats(void *arg, unsigned idx, const struct wire_reply *rp)
{
	json_t **merged = arg;

	(void)idx;
	if (rp->status != 0)
		return;
	rf_merge_rules(merged[0], wire_map_get(rp->body, "active"));
	rf_merge_rules(merged[1], wire_map_get(rp->body, "shadow"));
}

static void
rf_stats_print(json_t *merged[2])
{
	static const char *const title[2] = {"active", "shadow set"};
	const char *name;
	json_t *o;

	for (int k = 0; k < 2; k++) {
		if (json_object_size(merged[k]) == 0)
			continue;
		printf("%s%-24s %8s %8s %8s %8s %8s %8s %8s\n", k ? "\n" : "",
		    title[k], "MATCH/m", "SHOWN", "CAPPED", "SHADOW", "SH/m",
		    "SH-SEEN", "HOLDOUT");
		json_object_foreach(merged[k], name, o) {
			printf("%-24.24s %8lld %8lld %8lld %8lld %8lld %8lld "
			    "%8lld%s\n", name,
			    json_integer_value(json_object_get(o, "m_min")),
			    json_integer_value(json_object_get(o, "s")),
			    json_integer_value(json_object_get(o, "c")),
			    json_integer_value(json_object_get(o, "sh")),
			    json_integer_value(json_object_get(o, "sh_min")),
			    json_integer_value(json_object_get(o, "sho")),
			    json_integer_value(json_object_get(o, "ho")),
			    json_is_true(json_object_get(o, "shadow")) ?
			    "  (shadow)" : "");
		}
	}
}

static const char stats_usage[] =
    "usage: nudge rules stats [--json] --agent URL...\n";

int
rules_stats(struct cli_ctx *ctx, int argc, char **argv)
{
	json_t *merged[2] = {json_object(), json_object()};
	struct rf_opts o;
	struct fleet *f = calloc(1, sizeof(*f));
	int rv;

	if (f == NULL)
		rv = CLI_EINTERNAL;
	else if ((rv = rf_parse(ctx, argc, argv, &o, 0, stats_usage)) ==
	    CLI_OK && (rv = fleet_resolve(ctx, f, FLEET_WAIT_MS)) == CLI_OK) {
		for (unsigned i = 0; i < f->n; i++)
			fleet_call(f, i, "rules_stats", NULL, NULL,
			    rf_got_stats, merged, NULL);
		if (o.json) {
			json_t *root = json_pack("{s:O, s:O}", "rules",
			    merged[0], "shadow_rules", merged[1]);
			json_dumpf(root, stdout, JSON_INDENT(2));
			fputc('\n', stdout);
			json_decref(root);
		} else {
			rf_stats_print(merged);
		}
		rv = rf_exit(f);
	}
	json_decref(merged[0]);
	json_decref(merged[1]);
	free(f);
	return rv;
}
