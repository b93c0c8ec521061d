/*
 * cmd_status.c - `nudge status`: subscribe to every agent, wait for one
 * snapshot from each (or the timeout), print the merged state as a short
 * table or as JSON (jansson) for monitoring scripts.
 *
 * Owns its links and model for the duration of the command; main thread.
 */
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "clock.h"
#include "hll.h"
#include "link.h"
#include "model.h"

#define STATUS_TIMEOUT_MS 3000

struct status_run {
	struct link *links;
	unsigned n;
	struct model model;
};

static bool
status_all_answered(const struct status_run *r)
{
	for (unsigned i = 0; i < r->n; i++)
		if (!r->model.agents[i].have_snapshot)
			return false;
	return true;
}

/* One poll() over every SUB fd until all answered or the deadline. */
static void
status_wait(struct status_run *r, unsigned timeout_ms)
{
	uint64_t deadline = clock_mono_ms() + timeout_ms;
	struct pollfd *fds = calloc(r->n * 2, sizeof(*fds));

	if (fds == NULL)
		return;
	while (!status_all_answered(r)) {
		uint64_t now = clock_mono_ms();
		int nfds = 0;

		if (now >= deadline)
			break;
		for (unsigned i = 0; i < r->n; i++)
			nfds += link_pollfds(&r->links[i], fds + nfds);
		poll(fds, (nfds_t)nfds,
		    (int)(deadline - now < 100 ? deadline - now : 100));
		now = clock_mono_ms();
		for (unsigned i = 0; i < r->n; i++) {
			link_service(&r->links[i], &r->model, now);
			link_tick(&r->links[i], &r->model, now);
		}
	}
	free(fds);
}

static double
status_ratio(uint64_t num, uint64_t den)
{
	return den == 0 ? 0.0 : (double)num / (double)den;
}

static json_t *
status_json_agent(const struct link *l, const struct model_agent *a)
{
	char boot[17];

	snprintf(boot, sizeof(boot), "%016" PRIx64, a->boot_id);
	return json_pack("{s:s, s:s, s:b, s:s, s:I, s:s, s:I, s:s, s:I, s:I, "
	                 "s:I, s:s}",
	    "name", a->name, "url", l->pub_url, "up", a->have_snapshot,
	    "version", a->snap.version, "uptime_ms",
	    (json_int_t)a->snap.uptime_ms, "boot_id",
	    a->have_snapshot ? boot : "", "lost", (json_int_t)a->lost,
	    "funnel", a->snap.funnel, "rules_version",
	    (json_int_t)a->snap.rules_version, "shadow_rules_version",
	    (json_int_t)a->snap.shadow_version, "store_errors",
	    (json_int_t)a->snap.store_errors, "last_error",
	    a->snap.last_error);
}

static json_t *
status_json_funnel(struct model *m)
{
	const struct wire_snapshot *f = model_funnel_source(m);
	const struct agg *a = model_merged(m);
	json_t *steps = json_array();

	for (unsigned i = 0; f != NULL && i < f->n_steps; i++) {
		uint64_t c = a->c[AGG_FUNNEL(i)];
		uint64_t prev = i == 0 ? c : a->c[AGG_FUNNEL(i - 1)];
		double conv = i == 0 ? 1.0 : status_ratio(c, prev);

		json_array_append_new(steps,
		    json_pack("{s:s, s:I, s:f, s:f}", "label", f->steps[i],
		        "count", (json_int_t)c, "step_conversion", conv,
		        "drop_off", 1.0 - conv));
	}
	return json_pack(
	    "{s:s, s:o}", "name", f != NULL ? f->funnel : "", "steps", steps);
}

static json_t *
status_json_slots(const struct agg *a)
{
	json_t *c = json_object(), *g = json_object();

	for (int i = 0; i < AGG_COUNTERS; i++)
		if (a->c[i] != 0 && agg_counter_name(i) != NULL)
			json_object_set_new(c, agg_counter_name(i),
			    json_integer((json_int_t)a->c[i]));
	for (int i = 0; i < AGG_GAUGES; i++)
		if (agg_gauge_name(i) != NULL)
			json_object_set_new(g, agg_gauge_name(i),
			    json_integer((json_int_t)a->g[i]));
	return json_pack("{s:o, s:o}", "counters", c, "gauges", g);
}

static void
status_print_json(struct status_run *r)
{
	const struct agg *a = model_merged(&r->model);
	json_t *agents = json_array(), *root, *slots;

	for (unsigned i = 0; i < r->n; i++)
		json_array_append_new(agents,
		    status_json_agent(&r->links[i], &r->model.agents[i]));
	root = json_pack("{s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "agents", agents, "visitors", (json_int_t)hll_count(&a->visitors),
	    "sessions_live", (json_int_t)a->g[AGG_SESSIONS_LIVE],
	    "visitors_active", (json_int_t)a->g[AGG_VISITORS_ACTIVE],
	    "carts_open", (json_int_t)a->g[AGG_CARTS_OPEN], "events",
	    (json_int_t)a->c[AGG_EVENTS], "rejected",
	    (json_int_t)a->c[AGG_REJECTED], "bots", (json_int_t)a->c[AGG_BOTS],
	    "purchases", (json_int_t)a->c[AGG_PURCHASES], "revenue",
	    (double)a->c[AGG_REVENUE_CENTS] / 100.0);
	json_object_set_new(root, "funnel", status_json_funnel(&r->model));
	slots = status_json_slots(a);
	json_object_update(root, slots);
	json_decref(slots);
	json_dumpf(root, stdout,
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
	fputc('\n', stdout);
	json_decref(root);
}

static void
status_print_agents(const struct status_run *r)
{
	printf("%-16s %-28s %-5s %-8s %10s %6s\n", "AGENT", "URL", "STATE",
	    "VERSION", "UPTIME_S", "LOST");
	for (unsigned i = 0; i < r->n; i++) {
		const struct model_agent *a = &r->model.agents[i];

		printf("%-16.16s %-28.28s %-5s %-8.8s %10" PRIu64 " %6" PRIu64
		       "\n",
		    a->name[0] != '\0' ? a->name : "?", r->links[i].pub_url,
		    a->have_snapshot ? "up" : "down", a->snap.version,
		    a->snap.uptime_ms / 1000, a->lost);
		if (a->snap.store_errors > 0 || a->snap.last_error[0])
			printf("  store errors %" PRIu64 ", last: %s\n",
			    a->snap.store_errors,
			    a->snap.last_error[0] ? a->snap.last_error : "-");
	}
}

static void
status_print_human(struct status_run *r)
{
	const struct agg *a = model_merged(&r->model);
	const struct wire_snapshot *f = model_funnel_source(&r->model);

	status_print_agents(r);
	printf("\nvisitors %" PRIu64 "  live sessions %" PRIu64
	       "  active %" PRIu64 "  carts open %" PRIu64 "\n",
	    hll_count(&a->visitors), a->g[AGG_SESSIONS_LIVE],
	    a->g[AGG_VISITORS_ACTIVE], a->g[AGG_CARTS_OPEN]);
	printf("events %" PRIu64 "  rejected %" PRIu64 "  bots %" PRIu64
	       "  purchases %" PRIu64 "  revenue %.2f\n",
	    a->c[AGG_EVENTS], a->c[AGG_REJECTED], a->c[AGG_BOTS],
	    a->c[AGG_PURCHASES], (double)a->c[AGG_REVENUE_CENTS] / 100.0);
	if (f == NULL)
		return;
	printf("\nfunnel %s\n  %-20s %10s %8s %8s\n", f->funnel, "STEP",
	    "COUNT", "CONV", "DROP");
	for (unsigned i = 0; i < f->n_steps; i++) {
		uint64_t c = a->c[AGG_FUNNEL(i)];
		double conv =
		    i == 0 ? 1.0 : status_ratio(c, a->c[AGG_FUNNEL(i - 1)]);

		printf("  %-20.20s %10" PRIu64 " %7.1f%% %7.1f%%\n",
		    f->steps[i], c, conv * 100.0, (1.0 - conv) * 100.0);
	}
}

static const struct option status_longopts[] = {
    {"json", no_argument, NULL, 'j'},
    {"timeout", required_argument, NULL, 't'},
    {"agent", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

static int
status_parse(struct cli_ctx *ctx, int argc, char **argv, bool *json,
    unsigned *timeout_ms)
{
	const struct cli_cmd *me = cli_find(ctx, "status");
	char *end;
	long v;
	int ch;

	while (
	    (ch = getopt_long(argc, argv, "", status_longopts, NULL)) != -1) {
		switch (ch) {
		case 'j':
			*json = true;
			break;
		case 't':
			v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 1 || v > 600000)
				return cli_usage(me, "bad --timeout");
			*timeout_ms = (unsigned)v;
			break;
		case 'a':
			if (cli_add_agent(ctx, optarg) != 0)
				return CLI_EUSAGE;
			break;
		default:
			return cli_usage(me, "bad flag");
		}
	}
	if (optind < argc)
		return cli_usage(me, "unexpected '%s'", argv[optind]);
	return CLI_OK;
}

static int
status_open(struct status_run *r, const char **specs)
{
	struct nudge_diag d = {0};
	uint64_t now = clock_mono_ms();

	r->links = calloc(r->n, sizeof(*r->links));
	if (r->links == NULL || model_init(&r->model, r->n) != 0)
		return CLI_EINTERNAL;
	for (unsigned i = 0; i < r->n; i++) {
		if (link_open(&r->links[i], i, specs[i], now, &d) != 0) {
			fprintf(stderr, "nudge: %s\n", d.msg);
			return CLI_EUSAGE;
		}
	}
	return CLI_OK;
}

int
cli_status(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *specs[CONF_AGENTS_MAX];
	struct status_run r = {0};
	unsigned timeout_ms = STATUS_TIMEOUT_MS;
	bool json = false;
	int rv;

	if ((rv = status_parse(ctx, argc, argv, &json, &timeout_ms)) != 0)
		return rv;
	r.n = cli_agents(ctx, specs);
	if (r.n == 0)
		return cli_usage(cli_find(ctx, "status"), "no agent given");
	if ((rv = status_open(&r, specs)) == CLI_OK) {
		status_wait(&r, timeout_ms);
		if (json)
			status_print_json(&r);
		else
			status_print_human(&r);
		rv = status_all_answered(&r) ? CLI_OK : CLI_EUNREACH;
		for (unsigned i = 0; i < r.n; i++)
			if (!r.model.agents[i].have_snapshot)
				fprintf(stderr, "nudge: %s: no snapshot\n",
				    r.links[i].pub_url);
	}
	for (unsigned i = 0; r.links != NULL && i < r.n; i++)
		link_close(&r.links[i]);
	free(r.links);
	model_fini(&r.model);
	return rv;
}
