/*
 * cmd_query.c - the read-only control commands: ping, state, sessions,
 * visitor.  Each is one run() function of the command table; they read the
 * session table (which locks itself) and never change anything.
 */
#include <stdlib.h>
#include <string.h>

#include "camprt.h"
#include "clock.h"
#include "command.h"
#include "publish.h"
#include "qfilter.h"

static int
ping_run(struct agent *a, const struct wire_request *rq, msgpack_packer *pk,
    struct nudge_diag *d)
{
	(void)rq;
	(void)d;
	msgpack_pack_map(pk, 4);
	wire_pack_cstr(pk, "agent");
	wire_pack_cstr(pk, a->cfg->agent.name);
	wire_pack_cstr(pk, "ver");
	wire_pack_cstr(pk, NUDGE_VERSION);
	wire_pack_cstr(pk, "boot");
	msgpack_pack_uint64(pk, a->boot_id);
	wire_pack_cstr(pk, "up");
	msgpack_pack_uint64(pk, clock_mono_ms() - a->started_mono);
	return 0;
}

const struct cmd_ops cmd_ping = {
	.name = "ping",
	.role = ROLE_VIEWER,
	.run = ping_run,
};

static int
state_run(struct agent *a, const struct wire_request *rq, msgpack_packer *pk,
    struct nudge_diag *d)
{
	struct wire_snapshot *s = malloc(sizeof(*s));

	(void)rq;
	if (s == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	publish_fill_snapshot(a, s);
	wire_pack_snapshot(pk, s);
	free(s);
	return 0;
}

const struct cmd_ops cmd_state = {
	.name = "state",
	.role = ROLE_VIEWER,
	.run = state_run,
};

static int
sessions_args(const struct wire_request *rq, int *sort, char *q, size_t qcap,
    uint64_t *off, uint64_t *lim, struct nudge_diag *d)
{
	char sort_name[16] = "recent";
	int rv;

	*off = 0;
	*lim = 50;
	q[0] = '\0';
	if (rq->args == NULL)
		return 0;
	if ((rv = wire_get_str(rq->args, "sort", sort_name,
	    sizeof(sort_name))) != 0 && rv != NUDGE_ENOTFOUND) {
		nudge_diag_set(d, 0, 0, "sort: expected a short string");
		return rv;
	}
	if ((*sort = session_sort_from_name(sort_name)) < 0) {
		nudge_diag_set(d, 0, 0, "sort: unknown order '%s' (recent, "
		    "score, value, pages)", sort_name);
		return NUDGE_EINVAL;
	}
	if (((rv = wire_get_u64(rq->args, "off", off)) != 0 &&
	    rv != NUDGE_ENOTFOUND) ||
	    ((rv = wire_get_u64(rq->args, "lim", lim)) != 0 &&
	    rv != NUDGE_ENOTFOUND) ||
	    ((rv = wire_get_str(rq->args, "q", q, qcap)) != 0 &&
	    rv != NUDGE_ENOTFOUND)) {
		nudge_diag_set(d, 0, 0, "off, lim: integers; q: a string of "
		    "at most %zu bytes", qcap - 1);
		return rv;
	}
	if (*lim > WIRE_PAGE_MAX || *off > 10000) {
		nudge_diag_set(d, 0, 0, "lim must be <= %d and off <= 10000",
		    WIRE_PAGE_MAX);
		return NUDGE_ERANGE;
	}
	return 0;
}

static int
sessions_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct session_summary *items;
	char q[128];
	struct qfilter qf;
	uint64_t off, lim;
	size_t n, total;
	int sort = SESSION_SORT_RECENT, rv;

	if ((rv = sessions_args(rq, &sort, q, sizeof(q), &off, &lim, d)) != 0)
		return rv;
	if ((rv = qfilter_parse(&qf, q, d)) != 0)
		return rv; /* d says which word */
	items = malloc((lim ? lim : 1) * sizeof(*items));
	if (items == NULL)
		return NUDGE_ENOMEM;
	rv = sesstab_query(a->sessions, sort, q, off, lim, items, &n, &total);
	if (rv != 0) {
		nudge_diag_set(d, 0, 0, "query failed: %s", nudge_strerror(rv));
		free(items);
		return rv;
	}
	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "total");
	msgpack_pack_uint64(pk, total);
	wire_pack_cstr(pk, "items");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		wire_pack_session(pk, &items[i]);
	free(items);
	return 0;
}

const struct cmd_ops cmd_sessions = {
	.name = "sessions",
	.role = ROLE_VIEWER,
	.run = sessions_run,
};

/* "actions": what the rules did to the visitor, as short lines of text. */
static void
visitor_pack_actions(struct agent *a, struct nudge_strv vid,
    msgpack_packer *pk)
{
	struct rrt_visitor_rule v[RRT_HIST_MAX];
	size_t n = a->rules ? rrt_visitor_rules(a->rules, vid, v,
	    RRT_HIST_MAX) : 0;
	char line[RULE_NAME_MAX + 48];

	wire_pack_cstr(pk, "actions");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(line, sizeof(line), "%.63s (%u this session)", v[i].name,
		    v[i].session_n);
		wire_pack_cstr(pk, line);
	}
}

/* "variants": "campaign: variant" for every campaign that shows them one. */
static void
visitor_pack_variants(struct agent *a, struct nudge_strv vid,
    msgpack_packer *pk)
{
	struct wire_campaign *c = calloc(WIRE_CAMPS_MAX, sizeof(*c));
	size_t n = c && a->camps ? crt_list(a->camps, c, WIRE_CAMPS_MAX) : 0;
	char line[WIRE_CAMPS_MAX][2 * CAMP_NAME_MAX + 40];
	unsigned k = 0;

	for (size_t i = 0; i < n; i++) {
		int v;
		if (camp_assigned(&c[i].c, vid, &v) != 0 ||
		    c[i].c.state == CAMP_DRAFT)
			continue;
		if (v == ASSIGN_HOLDOUT)
			snprintf(line[k++], sizeof(line[0]), "%.63s: held out",
			    c[i].c.name);
		else if (camp_effective_variant(&c[i].c, vid, &v) == 0 &&
		    v >= 0)
			snprintf(line[k++], sizeof(line[0]), "%.63s: %.63s%s",
			    c[i].c.name, c[i].c.variant[v],
			    c[i].c.state == CAMP_RUNNING && !c[i].c.tripped ?
			    "" : " (campaign not running)");
	}
	wire_pack_cstr(pk, "variants");
	msgpack_pack_array(pk, k);
	for (unsigned i = 0; i < k; i++)
		wire_pack_cstr(pk, line[i]);
	free(c);
}

static int
visitor_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct session_summary s;
	struct session_step path[SESSION_PATH_MAX];
	struct nudge_strv vid;
	size_t n;
	int rv;

	if (rq->args == NULL || wire_get_strv(rq->args, "vid", &vid) != 0) {
		nudge_diag_set(d, 0, 0, "vid: the visitor id is required");
		return NUDGE_EINVAL;
	}
	rv = sesstab_visitor(a->sessions, vid, &s, path, SESSION_PATH_MAX, &n);
	if (rv != 0) {
		nudge_diag_set(d, 0, 0, "%s: %s", rv == NUDGE_ENOTFOUND ?
		    "no live session for this visitor" : "bad visitor id",
		    nudge_strerror(rv));
		return rv;
	}
	msgpack_pack_map(pk, 4);
	wire_pack_cstr(pk, "session");
	wire_pack_session(pk, &s);
	wire_pack_cstr(pk, "path");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++)
		wire_pack_step(pk, &path[i]);
	visitor_pack_actions(a, vid, pk);
	visitor_pack_variants(a, vid, pk);
	return 0;
}

const struct cmd_ops cmd_visitor = {
	.name = "visitor",
	.role = ROLE_VIEWER,
	.run = visitor_run,
};
