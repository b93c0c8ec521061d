/*
 * cmd_top.c - `nudge top --once`: one frame of a console view for scripts
 * and cron mail, like `top -b`; no terminal needed.
 *
 * Subscribes to every agent, waits for a snapshot from each (and a second
 * of samples, so that rates and the event tail mean something), back-fills
 * a memory-only history from the agents' `history` answers, then either
 * draws the view exactly as the TUI does into an off-screen ncurses pad
 * (opened on /dev/null with TERM=dumb, never a terminal) and prints its
 * lines, or prints the view's data as JSON (jansson) or CSV.
 *
 * Owns its links, model, history and pad for the command's duration;
 * single-threaded like the TUI.
 */
#include <getopt.h>
#include <inttypes.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include <curses.h>
#include <jansson.h>

#include "campview.h"
#include "cli.h"
#include "clock.h"
#include "ctlreq.h"
#include "draw.h"
#include "histfill.h"
#include "hll.h"
#include "qfilter.h"
#include "view.h"

#define TOP_TIMEOUT_MS 3000
#define TOP_SAMPLE_MS 1200 /* samples heard after the snapshots */
#define TOP_ROWS_MAX 500

enum top_format { TOP_TEXT = 0, TOP_JSON, TOP_CSV };

static const struct view_ops *const top_views[] = {
    &view_overview,
    &view_funnel,
    &view_sessions,
    &view_agents,
    &view_events,
    &view_campaigns,
};

struct top_opts {
	const struct view_ops *view;
	int format;
	int width, height;
	unsigned timeout_ms;
	int sort;
	const char *filter;
};

struct top_run {
	struct top_opts o;
	struct ui ui;
	struct model model;
	struct link *links;
	struct hist *hist;
	struct histfill *hf;
	struct campview *camps; /* the campaigns view's book */
	struct session_summary *rows; /* sessions JSON/CSV: merged pages */
	unsigned *row_agent;
	size_t n_rows;
	uint64_t total;
	msgpack_sbuffer sb;
};

/* ---- running the links ---------------------------------------------- */

static bool
top_snapshots(const struct top_run *r)
{
	for (unsigned i = 0; i < r->ui.n_links; i++)
		if (!r->model.agents[i].have_snapshot)
			return false;
	return true;
}

static bool
top_calls_pending(const struct top_run *r)
{
	for (unsigned i = 0; i < r->ui.n_links; i++)
		if (r->links[i].pending)
			return true;
	return false;
}

/* One poll() turn over every link, at most wait_ms. */
static void
top_turn(struct top_run *r, struct pollfd *fds, int wait_ms)
{
	int n = 0;

	for (unsigned i = 0; i < r->ui.n_links; i++)
		n += link_pollfds(&r->links[i], fds + n);
	poll(fds, (nfds_t)n, wait_ms);
	r->ui.now_ms = clock_mono_ms();
	r->ui.wall_ms = clock_wall_ms();
	for (unsigned i = 0; i < r->ui.n_links; i++) {
		link_service(&r->links[i], &r->model, r->ui.now_ms);
		link_tick(&r->links[i], &r->model, r->ui.now_ms);
	}
}

/* The history: back-fill from every agent, then one observation each. */
static void
top_history(struct top_run *r)
{
	for (unsigned i = 0; i < r->ui.n_links; i++) {
		const struct model_agent *a = &r->model.agents[i];

		if (a->have_snapshot && histfill_ready(r->hf, i))
			hist_observe(r->hist, i, a->boot_id, &a->snap.agg);
	}
	hist_advance(r->hist, r->ui.wall_ms,
	    model_merged(&r->model)->g[AGG_VISITORS_ACTIVE]);
}

/*
 * Snapshots (until the deadline), then TOP_SAMPLE_MS of samples with a
 * rate sample every 250 ms and the history back-fill, then the view's own
 * requests (update()) until answered.
 */
static void
top_collect(struct top_run *r, struct pollfd *fds)
{
	uint64_t deadline = clock_mono_ms() + r->o.timeout_ms, until, tick = 0;

	while (!top_snapshots(r) && clock_mono_ms() < deadline)
		top_turn(r, fds, 50);
	until = clock_mono_ms() + TOP_SAMPLE_MS;
	while (r->ui.now_ms < until || top_calls_pending(r)) {
		if (r->ui.now_ms >= deadline + TOP_SAMPLE_MS)
			break;
		if (r->ui.now_ms >= tick) {
			model_tick(&r->model, r->ui.now_ms);
			histfill_tick(r->hf, &r->ui);
			tick = r->ui.now_ms + 250;
		}
		top_turn(r, fds, 50);
	}
	top_history(r);
	campview_update(r->camps, &r->model, r->ui.wall_ms);
}

/* The view's update() until its answers are in (sessions, heat...). */
static void
top_update_view(struct top_run *r, void *st, struct pollfd *fds)
{
	uint64_t deadline = clock_mono_ms() + r->o.timeout_ms;

	if (r->o.view->update == NULL)
		return;
	r->o.view->update(st, &r->ui);
	while (top_calls_pending(r) && clock_mono_ms() < deadline)
		top_turn(r, fds, 50);
}

/* ---- text: the view drawn into a pad -------------------------------- */

static void
top_print_line(WINDOW *pad, int y, int width)
{
	wchar_t *wbuf = calloc((size_t)width + 1, sizeof(*wbuf));
	char *mb = malloc((size_t)width * MB_CUR_MAX + 1);
	size_t n;

	if (wbuf == NULL || mb == NULL) {
		free(wbuf);
		free(mb);
		return;
	}
	if (mvwinnwstr(pad, y, 0, wbuf, width) == ERR)
		wbuf[0] = L'\0';
	n = wcstombs(mb, wbuf, (size_t)width * MB_CUR_MAX);
	if (n == (size_t)-1)
		n = 0;
	while (n > 0 && mb[n - 1] == ' ')
		n--;
	printf("%.*s\n", (int)n, mb);
	free(wbuf);
	free(mb);
}

static int
top_text(struct top_run *r, void *st, struct pollfd *fds)
{
	FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
	SCREEN *scr = out && in ? newterm("dumb", out, in) : NULL;
	WINDOW *pad;
	char hms[32] = "";
	time_t now = time(NULL);
	struct tm tm;

	if (scr == NULL) {
		fprintf(
		    stderr, "nudge: top: cannot start ncurses off-screen\n");
		if (out != NULL)
			fclose(out);
		if (in != NULL)
			fclose(in);
		return CLI_EINTERNAL;
	}
	pad = newpad(r->o.height - 2, r->o.width);
	r->ui.body_rows = r->o.height - 2;
	top_update_view(r, st, fds);
	if (localtime_r(&now, &tm) != NULL)
		strftime(hms, sizeof(hms), "%Y-%m-%d %H:%M:%S", &tm);
	printf("nudge  %u agents up  %s  %s\n", model_agents_up(&r->model),
	    hms, r->o.view->name);
	if (pad != NULL) {
		r->o.view->draw(st, pad, &r->ui);
		for (int y = 0; y < r->o.height - 2; y++)
			top_print_line(pad, y, r->o.width);
		delwin(pad);
	}
	printf("%u of %u agents up%s\n", model_agents_up(&r->model),
	    r->model.n_agents, r->ui.viewer ? "  (read-only)" : "");
	endwin();
	delscreen(scr);
	fclose(out);
	fclose(in);
	return CLI_OK;
}

/* ---- data: JSON, and CSV made from the same JSON rows ---------------- */

static json_t *
top_json_funnel_steps(struct top_run *r)
{
	const struct wire_snapshot *f = model_funnel_source(&r->model);
	const struct agg *a = model_merged(&r->model);
	uint64_t now = r->ui.wall_ms, day = 24ull * 3600 * 1000;
	json_t *steps = json_array();

	for (unsigned i = 0; f != NULL && i < f->n_steps; i++) {
		uint64_t c = a->c[AGG_FUNNEL(i)];
		uint64_t prev = i == 0 ? c : a->c[AGG_FUNNEL(i - 1)];
		double conv = i == 0 ? 1.0
		              : prev ? (double)c / (double)prev
		                     : 0;
		uint64_t h = hist_sum(
		    r->hist, HIST_FUNNEL0 + (int)i, now - 3600000, now + 1);
		uint64_t y = hist_sum(r->hist, HIST_FUNNEL0 + (int)i,
		    now - day - 3600000, now - day + 1);

		json_array_append_new(steps,
		    json_pack("{s:s, s:I, s:f, s:f, s:I, s:I}", "label",
		        f->steps[i], "count", (json_int_t)c, "step_conversion",
		        conv, "drop_off", 1.0 - conv, "last_hour",
		        (json_int_t)h, "same_hour_yesterday", (json_int_t)y));
	}
	return steps;
}

static json_t *
top_json_overview(struct top_run *r)
{
	const struct agg *a = model_merged(&r->model);
	const struct wire_snapshot *f = model_funnel_source(&r->model);
	unsigned up = model_agents_up(&r->model);
	json_t *root;

	root = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "visitors", (json_int_t)hll_count(&a->visitors), "sessions_live",
	    (json_int_t)a->g[AGG_SESSIONS_LIVE], "visitors_active",
	    (json_int_t)a->g[AGG_VISITORS_ACTIVE], "carts_open",
	    (json_int_t)a->g[AGG_CARTS_OPEN], "events",
	    (json_int_t)a->c[AGG_EVENTS], "rejected",
	    (json_int_t)a->c[AGG_REJECTED], "bots", (json_int_t)a->c[AGG_BOTS],
	    "purchases", (json_int_t)a->c[AGG_PURCHASES], "revenue",
	    (double)a->c[AGG_REVENUE_CENTS] / 100.0);
	json_object_set_new(
	    root, "events_per_s", json_real(model_events_rate(&r->model)));
	json_object_set_new(
	    root, "conversion", json_real(model_conversion(&r->model)));
	json_object_set_new(root, "agents_up", json_integer(up));
	json_object_set_new(
	    root, "agents_down", json_integer(r->model.n_agents - up));
	json_object_set_new(root, "funnel",
	    json_pack("{s:s, s:o}", "name", f != NULL ? f->funnel : "",
	        "steps", top_json_funnel_steps(r)));
	return root;
}

static json_t *
top_json_agents(struct top_run *r)
{
	json_t *v = json_array();

	for (unsigned i = 0; i < r->ui.n_links; i++) {
		const struct model_agent *a = &r->model.agents[i];

		json_array_append_new(v,
		    json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:I, s:I, "
		              "s:s}",
		        "name", a->name, "url", r->links[i].pub_url, "state",
		        link_state_name(r->links[i].state), "up",
		        a->have_snapshot, "version", a->snap.version,
		        "uptime_ms", (json_int_t)a->snap.uptime_ms, "lost",
		        (json_int_t)a->lost, "rejected",
		        (json_int_t)a->snap.agg.c[AGG_REJECTED], "store_errors",
		        (json_int_t)a->snap.store_errors, "last_error",
		        a->snap.last_error));
	}
	return v;
}

static json_t *
top_json_events(struct top_run *r)
{
	const struct model_event *e;
	json_t *v = json_array();

	for (unsigned i = 0; (e = model_event_at(&r->model, i)) != NULL; i++)
		json_array_append_new(
		    v, json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:s}",
		           "ts_ms", (json_int_t)e->ts_ms, "agent",
		           e->agent < r->model.n_agents
		               ? r->model.agents[e->agent].name
		               : "",
		           "event",
		           e->type == EVENT_CUSTOM ? e->name
		                                   : event_type_name(e->type),
		           "visitor", e->visitor, "country", e->country,
		           "device", event_device_name(e->device), "value",
		           (double)e->value_cents / 100.0, "page", e->page));
	return v;
}

struct top_sess_args {
	int sort;
	const char *q;
};

static void
top_pack_sessions(msgpack_packer *pk, const void *arg)
{
	const struct top_sess_args *a = arg;

	msgpack_pack_map(pk, 4);
	wire_pack_cstr(pk, "sort");
	wire_pack_cstr(pk, session_sort_name(a->sort));
	wire_pack_cstr(pk, "off");
	msgpack_pack_uint64(pk, 0);
	wire_pack_cstr(pk, "lim");
	msgpack_pack_uint64(pk, TOP_ROWS_MAX);
	wire_pack_cstr(pk, "q");
	wire_pack_cstr(pk, a->q);
}

static void
top_on_sessions(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct top_run *r = arg;
	const msgpack_object *items;
	uint64_t total = 0;

	if (err != 0 || rp->status != 0) {
		fprintf(stderr, "nudge: %s: sessions: %s\n",
		    r->links[idx].pub_url,
		    err              ? nudge_strerror(err)
		    : rp->message[0] ? rp->message
		                     : nudge_strerror(rp->status));
		return;
	}
	items = wire_map_get(rp->body, "items");
	wire_get_u64(rp->body, "total", &total);
	r->total += total;
	for (uint32_t i = 0;
	     items != NULL && items->type == MSGPACK_OBJECT_ARRAY &&
	     i < items->via.array.size &&
	     r->n_rows < (size_t)TOP_ROWS_MAX * r->ui.n_links;
	     i++)
		if (wire_unpack_session(
		        &items->via.array.ptr[i], &r->rows[r->n_rows]) == 0)
			r->row_agent[r->n_rows++] = idx;
}

static int top_sort_key;

static int
top_sess_cmp(const void *a, const void *b)
{
	return session_compare(a, b, top_sort_key);
}

static json_t *
top_json_sessions(struct top_run *r, struct pollfd *fds)
{
	struct top_sess_args args = {
	    r->o.sort, r->o.filter ? r->o.filter : ""};
	uint64_t deadline = clock_mono_ms() + r->o.timeout_ms;
	uint8_t id[WIRE_ID_LEN];
	json_t *v = json_array();

	r->rows =
	    calloc((size_t)TOP_ROWS_MAX * r->ui.n_links, sizeof(*r->rows));
	r->row_agent = calloc(
	    (size_t)TOP_ROWS_MAX * r->ui.n_links, sizeof(*r->row_agent));
	if (r->rows == NULL || r->row_agent == NULL ||
	    ctlreq_build(&r->sb, "sessions", top_pack_sessions, &args, id) !=
	        0)
		return v;
	for (unsigned i = 0; i < r->ui.n_links; i++)
		link_call(&r->links[i], &r->sb, id, top_on_sessions, r,
		    r->ui.now_ms);
	while (top_calls_pending(r) && clock_mono_ms() < deadline)
		top_turn(r, fds, 50);
	top_sort_key = r->o.sort; /* qsort has no context argument */
	qsort(r->rows, r->n_rows, sizeof(*r->rows), top_sess_cmp);
	for (size_t i = 0; i < r->n_rows && i < TOP_ROWS_MAX; i++) {
		const struct session_summary *s = &r->rows[i];

		json_array_append_new(v,
		    json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:f, "
		              "s:I, s:s, s:s, s:I}",
		        "visitor", s->visitor, "country", s->country, "device",
		        event_device_name(s->device), "source",
		        event_source_name(s->source), "pages",
		        (json_int_t)s->pages, "events", (json_int_t)s->events,
		        "step", (json_int_t)s->step, "cart",
		        (double)s->cart_cents / 100.0, "revenue",
		        (double)s->revenue_cents / 100.0, "score",
		        (json_int_t)s->score, "last_page", s->last_page,
		        "campaign", s->utm_campaign, "last_ms",
		        (json_int_t)s->last_ms));
	}
	return v;
}

/* The token `nudge campaign show --json` uses for a call. */
static const char *
top_call_token(enum stats_call call)
{
	switch (call) {
	case STATS_CALL_BETTER:
		return "better";
	case STATS_CALL_WORSE:
		return "worse";
	case STATS_CALL_NO_DIFF:
		return "no_diff";
	default:
		return "not_enough";
	}
}

/* A number, or null where the statistic is undefined (stats.h flags). */
static json_t *
top_jnum(double v, bool defined)
{
	return defined ? json_real(v) : json_null();
}

/* One variant as the campaigns view shows it; control has no comparison. */
static json_t *
top_json_arm(const struct campstat *cs, unsigned v)
{
	const struct campstat_arm *a = &cs->arm[v];
	const struct camp *c = &cs->merged.c;
	bool var = v > 0;
	bool up = var && !(a->cmp.flags & (STATS_F_NODATA | STATS_F_NO_UPLIFT));

	return json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o, s:o}", "variant",
	    c->variant[v], "weight", c->weight[v], "visitors",
	    (json_int_t)a->counts.visitors, "conversions",
	    (json_int_t)a->counts.conversions, "conversion",
	    top_jnum(a->rate.p, a->counts.visitors > 0), "uplift",
	    top_jnum(a->cmp.uplift, up), "beat", top_jnum(a->beat, var),
	    "call",
	    var ? json_string(top_call_token(a->verdict.call)) : json_null());
}

/* The campaign's columns that every one of its variant rows repeats. */
static json_t *
top_json_camp_head(const struct campview_camp *e, unsigned n_agents)
{
	const struct campstat *cs = &e->cs;

	return json_pack("{s:s, s:s, s:I, s:i, s:i, s:b}", "campaign",
	    e->name, "state", camp_state_name(e->state), "version",
	    (json_int_t)e->version, "agents", e->n_report, "agree",
	    e->n_agree, "settled", campview_settled(e, n_agents) && !cs->tripped);
}

/*
 * The campaigns view's data: one object per campaign with its variants
 * (JSON), or flat, one object per variant with its campaign's columns
 * first and the verdict last (CSV).
 */
static json_t *
top_json_campaigns(struct top_run *r, bool flat)
{
	json_t *out = json_array();

	for (unsigned i = 0; i < r->camps->n; i++) {
		const struct campview_camp *e = &r->camps->camp[i];
		const struct campstat *cs = &e->cs;
		json_t *head = top_json_camp_head(e, r->model.n_agents);
		json_t *arms = json_array();

		for (unsigned v = 0; v < cs->merged.c.n_variants; v++) {
			json_t *arm = top_json_arm(cs, v);

			if (flat) {
				json_t *row = json_deep_copy(head);

				json_object_update(row, arm);
				json_object_set_new(
				    row, "verdict", json_string(cs->line));
				json_array_append_new(out, row);
				json_decref(arm);
			} else {
				json_array_append_new(arms, arm);
			}
		}
		if (flat) {
			json_decref(head);
			json_decref(arms);
			continue;
		}
		json_object_set_new(head, "verdict", json_string(cs->line));
		json_object_set_new(
		    head, "call", json_string(top_call_token(cs->call)));
		json_object_set_new(head, "best", cs->best > 0
		        ? json_string(cs->merged.c.variant[cs->best])
		        : json_null());
		json_object_set_new(head, "srm_warn", json_boolean(cs->srm.warn));
		json_object_set_new(head, "tripped", json_boolean(cs->tripped));
		json_object_set_new(head, "variants", arms);
		json_array_append_new(out, head);
	}
	return out;
}

/* One CSV field: quoted when it holds a comma, a quote or a newline. */
static void
top_csv_field(const json_t *v)
{
	const char *s;

	if (json_is_integer(v)) {
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return;
	}
	if (json_is_real(v)) {
		printf("%.6g", json_real_value(v));
		return;
	}
	if (json_is_true(v) || json_is_false(v)) {
		fputs(json_is_true(v) ? "true" : "false", stdout);
		return;
	}
	s = json_is_string(v) ? json_string_value(v) : "";
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, stdout);
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"')
			putchar('"');
		putchar(*s);
	}
	putchar('"');
}

/* An array of flat objects: a header from the first, one line each. */
static void
top_csv_rows(const json_t *rows)
{
	const json_t *first = json_array_get(rows, 0), *row;
	const char *key;
	json_t *v;
	size_t i;

	if (first == NULL)
		return;
	i = 0;
	json_object_foreach((json_t *)first, key, v)
	    printf("%s%s", i++ ? "," : "", key);
	putchar('\n');
	json_array_foreach(rows, i, row)
	{
		size_t k = 0;

		json_object_foreach((json_t *)first, key, v)
		{
			if (k++)
				putchar(',');
			top_csv_field(json_object_get(row, key));
		}
		putchar('\n');
	}
}

/* The overview's scalars as key,value lines; the funnel as rows. */
static void
top_csv(json_t *data)
{
	const char *key;
	json_t *v;

	if (json_is_array(data)) {
		top_csv_rows(data);
		return;
	}
	if (json_object_get(data, "steps") != NULL &&
	    json_object_get(data, "events") == NULL) {
		top_csv_rows(json_object_get(data, "steps"));
		return;
	}
	printf("key,value\n");
	json_object_foreach(data, key, v)
	{
		if (json_is_object(v) || json_is_array(v))
			continue;
		printf("%s,", key);
		top_csv_field(v);
		putchar('\n');
	}
}

static int
top_data(struct top_run *r, struct pollfd *fds)
{
	json_t *data;
	const char *name = r->o.view->name;

	if (strcmp(name, "funnel") == 0)
		data = json_pack("{s:s, s:o}", "name",
		    model_funnel_source(&r->model) != NULL
		        ? model_funnel_source(&r->model)->funnel
		        : "",
		    "steps", top_json_funnel_steps(r));
	else if (strcmp(name, "sessions") == 0)
		data = top_json_sessions(r, fds);
	else if (strcmp(name, "agents") == 0)
		data = top_json_agents(r);
	else if (strcmp(name, "events") == 0)
		data = top_json_events(r);
	else if (strcmp(name, "campaigns") == 0)
		data = top_json_campaigns(r, r->o.format == TOP_CSV);
	else
		data = top_json_overview(r);
	if (data == NULL)
		return CLI_EINTERNAL;
	if (r->o.format == TOP_CSV) {
		top_csv(data);
	} else {
		json_dumpf(data, stdout,
		    JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		        JSON_REAL_PRECISION(15));
		fputc('\n', stdout);
	}
	json_decref(data);
	return CLI_OK;
}

/* ---- the command ------------------------------------------------------ */

static const struct option top_longopts[] = {
    {"once", no_argument, NULL, 'o'},
    {"batch", no_argument, NULL, 'o'},
    {"view", required_argument, NULL, 'v'},
    {"json", no_argument, NULL, 'j'},
    {"csv", no_argument, NULL, 'c'},
    {"width", required_argument, NULL, 'W'},
    {"height", required_argument, NULL, 'H'},
    {"timeout", required_argument, NULL, 't'},
    {"sort", required_argument, NULL, 's'},
    {"filter", required_argument, NULL, 'f'},
    {"agent", required_argument, NULL, 'a'},
    {NULL, 0, NULL, 0},
};

static int
top_number(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static const struct view_ops *
top_find_view(const char *name)
{
	for (size_t i = 0; i < sizeof(top_views) / sizeof(*top_views); i++)
		if (strcmp(top_views[i]->name, name) == 0)
			return top_views[i];
	return NULL;
}

static int
top_opt(struct cli_ctx *ctx, struct top_opts *o, int ch)
{
	const struct cli_cmd *me = cli_find(ctx, "top");
	struct nudge_diag d = {0};
	struct qfilter qf;
	long v;

	switch (ch) {
	case 'o':
		return CLI_OK;
	case 'v':
		if ((o->view = top_find_view(optarg)) == NULL)
			return cli_usage(me, "no view '%s'", optarg);
		return CLI_OK;
	case 'j':
	case 'c':
		o->format = ch == 'j' ? TOP_JSON : TOP_CSV;
		return CLI_OK;
	case 'W':
	case 'H':
		if (top_number(optarg, ch == 'W' ? 80 : 24, 1000, &v) != 0)
			return cli_usage(me, "--width >= 80, --height >= 24");
		*(ch == 'W' ? &o->width : &o->height) = (int)v;
		return CLI_OK;
	case 't':
		if (top_number(optarg, 1, 600000, &v) != 0)
			return cli_usage(me, "bad --timeout");
		o->timeout_ms = (unsigned)v;
		return CLI_OK;
	case 's':
		if ((o->sort = session_sort_from_name(optarg)) < 0)
			return cli_usage(
			    me, "--sort recent|score|value|pages");
		return CLI_OK;
	case 'f':
		if (qfilter_parse(&qf, optarg, &d) != 0)
			return cli_usage(me, "--filter: %s", d.msg);
		o->filter = optarg;
		return CLI_OK;
	case 'a':
		return cli_add_agent(ctx, optarg) == 0 ? CLI_OK : CLI_EUSAGE;
	default:
		return cli_usage(me, "bad flag");
	}
}

static int
top_parse(struct cli_ctx *ctx, int argc, char **argv, struct top_opts *o)
{
	int ch, rv;

	*o = (struct top_opts){.view = &view_overview,
	    .width = 80,
	    .height = 24,
	    .timeout_ms = TOP_TIMEOUT_MS};
	while ((ch = getopt_long(argc, argv, "", top_longopts, NULL)) != -1)
		if ((rv = top_opt(ctx, o, ch)) != CLI_OK)
			return rv;
	if (optind < argc)
		return cli_usage(
		    cli_find(ctx, "top"), "unexpected '%s'", argv[optind]);
	return CLI_OK;
}

static int
top_open(struct top_run *r, struct cli_ctx *ctx)
{
	const char *specs[CONF_AGENTS_MAX];
	struct nudge_diag d = {0};
	unsigned n = cli_agents(ctx, specs);
	const char *cs;

	if (n == 0)
		return cli_usage(cli_find(ctx, "top"), "no agent given");
	r->links = calloc(n, sizeof(*r->links));
	if (r->links == NULL || model_init(&r->model, n) != 0)
		return CLI_EINTERNAL;
	r->ui.now_ms = clock_mono_ms();
	r->ui.wall_ms = clock_wall_ms();
	for (unsigned i = 0; i < n; i++) {
		if (link_open(&r->links[i], i, specs[i], r->ui.now_ms, &d) !=
		    0) {
			fprintf(stderr, "nudge: %s\n", d.msg);
			return CLI_EUSAGE;
		}
		r->ui.n_links = i + 1;
	}
	if (hist_open(&r->hist, NULL, n, r->ui.wall_ms, &d) != 0)
		return CLI_EINTERNAL;
	cs = nl_langinfo(CODESET);
	r->ui.conf = ctx->conf;
	r->ui.model = &r->model;
	r->ui.links = r->links;
	r->ui.hist = r->hist;
	r->ui.viewer = ctx->viewer;
	r->ui.utf8 = draw_term_utf8(cs, "xterm");
	r->ui.refresh_ms = 1000;
	r->ui.batch = true;
	if ((r->camps = campview_new(n, NULL)) == NULL)
		return CLI_EINTERNAL;
	r->ui.camps = r->camps;
	r->ui.body_rows = r->o.height - 2;
	msgpack_sbuffer_init(&r->sb);
	return (r->hf = histfill_new(&r->ui)) != NULL ? CLI_OK : CLI_EINTERNAL;
}

static void
top_close(struct top_run *r)
{
	for (unsigned i = 0; i < r->ui.n_links; i++)
		link_close(&r->links[i]);
	free(r->links);
	if (r->model.agents != NULL)
		model_fini(&r->model);
	histfill_free(r->hf);
	hist_close(r->hist);
	campview_free(r->camps);
	free(r->rows);
	free(r->row_agent);
	msgpack_sbuffer_destroy(&r->sb);
}

static int
top_run_view(struct top_run *r, struct pollfd *fds)
{
	void *st;
	int rv;

	top_collect(r, fds);
	if (r->o.format != TOP_TEXT)
		return top_data(r, fds);
	if ((st = r->o.view->init(&r->ui)) == NULL)
		return CLI_EINTERNAL;
	rv = top_text(r, st, fds);
	r->o.view->fini(st);
	return rv;
}

int
cli_top(struct cli_ctx *ctx, int argc, char **argv)
{
	struct top_run *r = calloc(1, sizeof(*r));
	struct pollfd *fds = NULL;
	int rv;

	if (r == NULL)
		return CLI_EINTERNAL;
	setlocale(LC_ALL, "");
	if ((rv = top_parse(ctx, argc, argv, &r->o)) == CLI_OK &&
	    (rv = top_open(r, ctx)) == CLI_OK) {
		fds = calloc(2 * (size_t)r->ui.n_links, sizeof(*fds));
		rv = fds == NULL ? CLI_EINTERNAL : top_run_view(r, fds);
		if (rv == CLI_OK && !top_snapshots(r)) {
			for (unsigned i = 0; i < r->ui.n_links; i++)
				if (!r->model.agents[i].have_snapshot)
					fprintf(stderr,
					    "nudge: %s: no snapshot\n",
					    r->links[i].pub_url);
			rv = CLI_EUNREACH;
		}
	}
	free(fds);
	top_close(r);
	free(r);
	return rv;
}
