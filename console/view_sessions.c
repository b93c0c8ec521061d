/*
 * view_sessions.c - view 3: live sessions across the fleet, sortable and
 * filterable, with a detail page showing one visitor's path.
 *
 * Each refresh asks every agent for the first page of its sessions (the
 * `sessions` control request, lim = rows visible, the sort key, the filter
 * as q), then merges the pages with session_compare() and keeps the top
 * rows.  An agent that cannot be asked (no control URL yet, unreachable)
 * contributes the samples it publishes on SUB instead.  Enter asks the
 * owning agent for that visitor (`visitor`) and shows the path, each step
 * with the score after it, and that score history as a sparkline.  There an
 * operator may act on that one visitor: m types a banner, c reveals the
 * coupon field (a selector), and after a y the owning agent queues it for
 * the visitor's next beacon (the `message` command, agent/oneoff.h).
 *
 * Owns its state and the copies of the replies; replies arrive through
 * link_service() on the main thread, like everything else here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctlreq.h"
#include "draw.h"
#include "relayenv.h"
#include "qfilter.h"
#include "view.h"

#define SESS_KEY_ESC 27
#define SESS_EXTRA_MAX 2 /* actions, variants */
#define SESS_EXTRA_LEN 512

/* SM_SENDING: confirmed, waiting (up to LINK_CALL_TIMEOUT_MS) for the
 * agent's link, busy with the detail's own poll or still dialling. */
enum { SM_NONE = 0, SM_TYPING, SM_CONFIRM, SM_SENDING, SM_SENT };

struct sess_page {
	struct session_summary *v; /* owned, up to WIRE_PAGE_MAX */
	size_t n;
	uint64_t total;
	bool ok; /* else: use the SUB samples */
};

struct sess_row {
	struct session_summary s;
	unsigned agent;
	int sort; /* for the comparator */
};

struct sess_state {
	struct ui *ui;
	int sort;
	char q[64];
	struct qfilter qf; /* q parsed: the SUB samples are matched with it */
	bool editing;
	char edit[64];
	struct sess_page *pages; /* one per link */
	struct sess_row *rows;   /* merged, owned */
	size_t n_rows;
	uint64_t total;
	int sel, top;
	bool detail;
	unsigned d_agent;
	char d_vid[EVENT_VISITOR_MAX + 1];
	int d_status; /* 0, or why it is not shown */
	bool d_loaded;
	struct session_summary d_sess;
	struct session_step d_path[SESSION_PATH_MAX];
	int m_step;		/* SM_*: the one-off message being made */
	char m_kind[16];	/* "banner" or "coupon" */
	char m_text[128];	/* banner text or coupon selector */
	char m_note[160];	/* what became of the last one */
	uint64_t m_until_ms;	/* mono: SM_SENDING gives up then */
	size_t d_n;
	char d_extra[SESS_EXTRA_MAX][SESS_EXTRA_LEN]; /* "" when absent */
	msgpack_sbuffer sb;
};

static unsigned
sess_lim(const struct ui *ui)
{
	int lim = ui->body_rows - 3;

	return lim < 1               ? 1
	       : lim > WIRE_PAGE_MAX ? WIRE_PAGE_MAX
	                             : (unsigned)lim;
}

static void *
sess_init(struct ui *ui)
{
	struct sess_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		return NULL;
	st->ui = ui;
	qfilter_init(&st->qf);
	st->pages = calloc(ui->n_links, sizeof(*st->pages));
	if (st->pages == NULL) {
		free(st);
		return NULL;
	}
	msgpack_sbuffer_init(&st->sb);
	return st;
}

static void
sess_fini(void *p)
{
	struct sess_state *st = p;

	for (unsigned i = 0; i < st->ui->n_links; i++)
		free(st->pages[i].v);
	free(st->pages);
	free(st->rows);
	msgpack_sbuffer_destroy(&st->sb);
	free(st);
}

static int
sess_row_cmp(const void *a, const void *b)
{
	const struct sess_row *ra = a, *rb = b;

	return session_compare(&ra->s, &rb->s, ra->sort);
}

/* The same filter the agent applies to q (qfilter.h), for SUB samples. */
static bool
sess_matches(const struct sess_state *st, const struct session_summary *s)
{
	return qfilter_match_summary(&st->qf, s);
}

static size_t
sess_add_samples(
    struct sess_state *st, unsigned agent, struct sess_row *out, size_t cap)
{
	const struct model *m = st->ui->model;
	size_t k = 0;

	for (size_t i = 0; i < m->n_sessions && k < cap; i++) {
		if (m->sessions[i].agent != agent ||
		    !sess_matches(st, &m->sessions[i].s))
			continue;
		out[k].s = m->sessions[i].s;
		out[k].agent = agent;
		out[k++].sort = st->sort;
	}
	return k;
}

/* Merges the agents' pages (or samples) into the sorted top rows. */
static void
sess_rebuild(struct sess_state *st)
{
	unsigned lim = sess_lim(st->ui);
	size_t cap = (size_t)lim * st->ui->n_links, k = 0;
	struct sess_row *rows = calloc(cap ? cap : 1, sizeof(*rows));

	if (rows == NULL)
		return;
	st->total = 0;
	for (unsigned a = 0; a < st->ui->n_links; a++) {
		const struct sess_page *p = &st->pages[a];

		if (!p->ok) {
			size_t n = sess_add_samples(st, a, rows + k, lim);

			k += n;
			st->total += n;
			continue;
		}
		for (size_t i = 0; i < p->n && i < lim; i++) {
			rows[k].s = p->v[i];
			rows[k].agent = a;
			rows[k++].sort = st->sort;
		}
		st->total += p->total;
	}
	qsort(rows, k, sizeof(*rows), sess_row_cmp);
	free(st->rows);
	st->rows = rows;
	st->n_rows = k < lim ? k : lim;
	st->ui->dirty = true;
}

static int
sess_read_page(struct sess_page *p, const msgpack_object *body)
{
	const msgpack_object *items = wire_map_get(body, "items");
	uint64_t total = 0;
	size_t n = 0;

	if (items == NULL || items->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	wire_get_u64(body, "total", &total);
	if (p->v == NULL &&
	    (p->v = calloc(WIRE_PAGE_MAX, sizeof(*p->v))) == NULL)
		return NUDGE_ENOMEM;
	for (uint32_t i = 0; i < items->via.array.size && n < WIRE_PAGE_MAX;
	     i++)
		if (wire_unpack_session(&items->via.array.ptr[i], &p->v[n]) ==
		    0)
			n++;
	p->n = n;
	p->total = total;
	return 0;
}

static void
sess_on_list(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct sess_state *st = arg;
	struct sess_page *p = &st->pages[idx];

	p->ok =
	    err == 0 && rp->status == 0 && sess_read_page(p, rp->body) == 0;
	if (err == 0 && rp->status != 0)
		snprintf(st->ui->message, sizeof(st->ui->message),
		    "sessions: %.100s",
		    rp->message[0] ? rp->message : nudge_strerror(rp->status));
	sess_rebuild(st);
}

/*
 * What the rules runtime may add to a visitor's answer: actions shown,
 * campaign variants.  Shown as compact text when present; absent keys
 * leave the line empty.  (The score history is the path's own: each step
 * carries the score after it.)
 */
static void
sess_read_extras(struct sess_state *st, const msgpack_object *body)
{
	static const char *const keys[SESS_EXTRA_MAX] = {
	    "actions", "variants"};

	for (int i = 0; i < SESS_EXTRA_MAX; i++) {
		const msgpack_object *o = wire_map_get(body, keys[i]);
		int n;

		st->d_extra[i][0] = '\0';
		if (o == NULL || o->type == MSGPACK_OBJECT_NIL)
			continue;
		n = msgpack_object_print_buffer(
		    st->d_extra[i], SESS_EXTRA_LEN - 1, *o);
		st->d_extra[i][n > 0 && n < SESS_EXTRA_LEN ? n : 0] = '\0';
	}
}

static void
sess_on_visitor(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct sess_state *st = arg;
	const msgpack_object *path;
	struct relayenv_leaf leaf = {.status = NUDGE_ENOTFOUND};

	if (!st->detail || idx != st->d_agent)
		return;
	st->ui->dirty = true;
	/* through a relay: the one agent behind it that has the visitor */
	if (err == 0)
		relayenv_pick(rp, &leaf);
	st->d_status = err != 0 ? err : leaf.status;
	if (st->d_status == NUDGE_ENOTFOUND) {	/* closed, or forgotten */
		st->d_loaded = false;
		st->d_n = 0;
		memset(&st->d_sess, 0, sizeof(st->d_sess));
	}
	if (st->d_status != 0)
		return;
	if (wire_unpack_session(
	        wire_map_get(leaf.body, "session"), &st->d_sess) != 0) {
		st->d_status = NUDGE_ETYPE;
		return;
	}
	st->d_n = 0;
	path = wire_map_get(leaf.body, "path");
	for (uint32_t i = 0;
	     path != NULL && path->type == MSGPACK_OBJECT_ARRAY &&
	     i < path->via.array.size && st->d_n < SESSION_PATH_MAX;
	     i++)
		if (wire_unpack_step(
		        &path->via.array.ptr[i], &st->d_path[st->d_n]) == 0)
			st->d_n++;
	sess_read_extras(st, leaf.body);
	st->d_loaded = true;
}

struct sess_args {
	const struct sess_state *st;
	unsigned lim;
};

static void
sess_pack_list(msgpack_packer *pk, const void *arg)
{
	const struct sess_args *a = arg;

	msgpack_pack_map(pk, 4);
	wire_pack_cstr(pk, "sort");
	wire_pack_cstr(pk, session_sort_name(a->st->sort));
	wire_pack_cstr(pk, "off");
	msgpack_pack_uint64(pk, 0);
	wire_pack_cstr(pk, "lim");
	msgpack_pack_uint64(pk, a->lim);
	wire_pack_cstr(pk, "q");
	wire_pack_cstr(pk, a->st->q);
}

static void
sess_pack_visitor(msgpack_packer *pk, const void *arg)
{
	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "vid");
	wire_pack_cstr(pk, arg);
}

static void sess_send_message(struct sess_state *st, struct ui *ui);

static void
sess_update(void *p, struct ui *ui)
{
	struct sess_state *st = p;
	struct sess_args args = {st, sess_lim(ui)};
	uint8_t id[WIRE_ID_LEN];
	bool changed = false;

	if (st->detail) {
		if (st->m_step == SM_SENDING) {	/* before the poll takes the link */
			sess_send_message(st, ui);
			return;
		}
		if (ctlreq_build(&st->sb, "visitor", sess_pack_visitor,
		        st->d_vid, id) == 0 &&
		    link_call(&ui->links[st->d_agent], &st->sb, id,
		        sess_on_visitor, st, ui->now_ms) == NUDGE_ECONN &&
		    !st->d_loaded)
			st->d_status = NUDGE_ECONN;
		return;
	}
	if (ctlreq_build(&st->sb, "sessions", sess_pack_list, &args, id) != 0)
		return;
	for (unsigned i = 0; i < ui->n_links; i++) {
		int rv = link_call(
		    &ui->links[i], &st->sb, id, sess_on_list, st, ui->now_ms);

		if (rv == NUDGE_ECONN && st->pages[i].ok) {
			st->pages[i].ok = false;
			changed = true;
		}
		changed = changed || !st->pages[i].ok;
	}
	if (changed)
		sess_rebuild(st);
}

static void
sess_draw_row(
    WINDOW *w, int y, struct ui *ui, const struct sess_row *r, bool sel)
{
	const struct session_summary *s = &r->s;
	attr_t attr = sel ? draw_attr(ui, DRAW_SELECTED) : A_NORMAL;
	char cart[24];

	/* value: what the sort "value" orders by, cart plus revenue */
	draw_money(cart, sizeof(cart),
	    (s->cart_cents > 0 ? (uint64_t)s->cart_cents : 0) +
	        (s->revenue_cents > 0 ? (uint64_t)s->revenue_cents : 0));
	if (sel)
		mvwchgat(w, y, 0, -1, attr, 0, NULL);
	draw_text(w, y, 1, attr,
	    "%-14.14s %-2.2s %-7.7s %-8.8s %5u %4u %9s %5d %s", s->visitor,
	    s->country[0] ? s->country : "--", event_device_name(s->device),
	    event_source_name(s->source), s->pages, s->step, cart, s->score,
	    s->last_page);
}

static void
sess_draw_list(struct sess_state *st, WINDOW *w, struct ui *ui)
{
	int rows = getmaxy(w) - 3, y = 0;

	if (st->sel >= (int)st->n_rows)
		st->sel = st->n_rows > 0 ? (int)st->n_rows - 1 : 0;
	if (st->sel < st->top)
		st->top = st->sel;
	if (st->sel >= st->top + rows)
		st->top = st->sel - rows + 1;
	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL),
	    "Sessions  %zu shown of %llu  sort: %s", st->n_rows,
	    (unsigned long long)st->total, session_sort_name(st->sort));
	if (st->editing)
		draw_text(w, y, 50, A_BOLD, "/%s_", st->edit);
	else if (st->q[0] != '\0')
		draw_text(w, y, 50, A_NORMAL, "filter: %s", st->q);
	y += 2;
	draw_text(w, y - 1, 1, draw_attr(ui, DRAW_LABEL),
	    "%-14s %-2s %-7s %-8s %5s %4s %9s %5s %s", "VISITOR", "CC",
	    "DEVICE", "SOURCE", "PAGES", "STEP", "VALUE", "SCORE",
	    "LAST PAGE");
	for (int i = st->top; i < (int)st->n_rows && y < getmaxy(w); i++)
		sess_draw_row(w, y++, ui, &st->rows[i], i == st->sel);
	if (st->n_rows == 0)
		draw_text(w, y, 1, A_NORMAL, "no live sessions%s",
		    st->q[0] ? " match the filter" : "");
}

static void
sess_fmt_time(char *buf, size_t cap, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || localtime_r(&t, &tm) == NULL)
		snprintf(buf, cap, "--:--:--");
	else
		strftime(buf, cap, "%H:%M:%S", &tm);
}

/*
 * The path from row y down to the row above the message line, one step a
 * row with the score after it ("-" from an agent that does not say).  When
 * the rows are fewer than the steps, the newest steps are shown and the
 * heading says how many earlier ones are not.
 */
static void
sess_draw_path(struct sess_state *st, WINDOW *w, int y, struct ui *ui)
{
	uint64_t t0 = st->d_n > 0 ? st->d_path[0].ts_ms : 0;
	int rows = getmaxy(w) - 1 - (y + 1);
	size_t from = rows > 0 && st->d_n > (size_t)rows ?
	    st->d_n - (size_t)rows : 0;

	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL),
	    "%-9s %-8s %-8s %6s  %s", "AT", "+TOTAL", "+STEP", "SCORE",
	    "EVENT / PAGE");
	if (from > 0)
		draw_text(w, y - 1, 52, draw_attr(ui, DRAW_LABEL),
		    "(%zu earlier not shown)", from);
	for (size_t i = from; i < st->d_n && y < getmaxy(w) - 1; i++) {
		const struct session_step *p = &st->d_path[i];
		uint64_t prev = i > 0 ? st->d_path[i - 1].ts_ms : p->ts_ms;
		char at[16], score[16];

		sess_fmt_time(at, sizeof(at), p->ts_ms);
		if (p->has_score)
			snprintf(score, sizeof(score), "%d", p->score);
		else
			snprintf(score, sizeof(score), "-");
		draw_text(w, y++, 1, A_NORMAL,
		    "%-9s %7.1fs %7.1fs %6s  %-12s %s", at,
		    (double)(p->ts_ms - t0) / 1000.0,
		    (double)(p->ts_ms >= prev ? p->ts_ms - prev : 0) / 1000.0,
		    score, event_type_name(p->type), p->page);
	}
}

/*
 * The score history on row y: a sparkline of the score after each step
 * that has one (draw_spark, as the overview's), then its range as text.
 * draw_spark scales counts from 0, so the scores go in raised above the
 * lowest by one: the lowest is the first level, not a blank (in ASCII a
 * blank cell would hide a flat history).
 */
static void
sess_draw_scores(struct sess_state *st, WINDOW *w, int y, struct ui *ui)
{
	uint64_t v[SESSION_PATH_MAX];
	int32_t lo = INT32_MAX, hi = INT32_MIN;
	size_t n = 0;

	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL), "%-14s",
	    "score history");
	for (size_t i = 0; i < st->d_n; i++)
		if (st->d_path[i].has_score) {
			lo = st->d_path[i].score < lo ? st->d_path[i].score : lo;
			hi = st->d_path[i].score > hi ? st->d_path[i].score : hi;
		}
	for (size_t i = 0; i < st->d_n; i++)
		if (st->d_path[i].has_score)
			v[n++] = (uint64_t)((int64_t)st->d_path[i].score - lo) +
			    1;
	if (n == 0) {
		draw_text(w, y, 16, A_NORMAL, "%s", st->d_n == 0 ?
		    "(no steps yet)" : "(not reported by this agent)");
		return;
	}
	draw_spark(w, y, 16, v, n, ui);
	draw_text(w, y, 16 + (int)n + 2, A_NORMAL, "%d..%d over %zu steps",
	    lo, hi, n);
}

static void
sess_draw_extras(struct sess_state *st, WINDOW *w, struct ui *ui)
{
	static const char *const labels[SESS_EXTRA_MAX] = {
	    "actions shown", "variants"};

	for (int i = 0; i < SESS_EXTRA_MAX; i++) {
		draw_text(w, 4 + i, 1, draw_attr(ui, DRAW_LABEL), "%-14s",
		    labels[i]);
		draw_text(w, 4 + i, 16, A_NORMAL, "%s",
		    st->d_extra[i][0] ? st->d_extra[i] : "(none reported)");
	}
}

/* The bottom line of the detail: the one-off message being made. */
static void
sess_draw_message(struct sess_state *st, WINDOW *w, struct ui *ui)
{
	int y = getmaxy(w) - 1;
	attr_t hot = draw_attr(ui, DRAW_LABEL);

	switch (st->m_step) {
	case SM_TYPING:
		draw_text(w, y, 1, hot, "%s: %s_", strcmp(st->m_kind,
		    "coupon") == 0 ? "coupon field selector" : "banner text",
		    st->m_text);
		break;
	case SM_CONFIRM:
		draw_text(w, y, 1, hot, "send %s \"%.60s\" to %s via %s?  y/n",
		    st->m_kind, st->m_text, st->d_vid,
		    ui->model->agents[st->d_agent].name);
		break;
	default:
		draw_text(w, y, 1, A_NORMAL, "%s", st->m_note[0] ? st->m_note :
		    ui->viewer ? "read-only console" :
		    "m  send this visitor a banner    c  reveal the coupon "
		    "field");
	}
}

static void
sess_draw_detail(struct sess_state *st, WINDOW *w, struct ui *ui)
{
	const struct session_summary *s = &st->d_sess;
	const char *agent = ui->model->agents[st->d_agent].name;
	char cart[24], rev[24], t0[16], t1[16];

	draw_text(w, 0, 1, draw_attr(ui, DRAW_LABEL), "Visitor %s on %s",
	    st->d_vid, agent[0] ? agent : "?");
	if (!st->d_loaded) {
		draw_text(w, 2, 1, A_NORMAL, "%s",
		    st->d_status == 0 ? "asking the agent..."
		    : st->d_status == NUDGE_ENOTFOUND
		        ? "no such live session (closed?)"
		        : nudge_strerror(st->d_status));
		return;
	}
	draw_money(cart, sizeof(cart),
	    s->cart_cents > 0 ? (uint64_t)s->cart_cents : 0);
	draw_money(rev, sizeof(rev),
	    s->revenue_cents > 0 ? (uint64_t)s->revenue_cents : 0);
	sess_fmt_time(t0, sizeof(t0), s->started_ms);
	sess_fmt_time(t1, sizeof(t1), s->last_ms);
	draw_text(w, 1, 1, A_NORMAL,
	    "country %s  device %s  source %s  campaign %s",
	    s->country[0] ? s->country : "--", event_device_name(s->device),
	    event_source_name(s->source),
	    s->utm_campaign[0] ? s->utm_campaign : "-");
	draw_text(w, 2, 1, A_NORMAL,
	    "pages %u  events %u  step %u  score %d  started %s  last %s",
	    s->pages, s->events, s->step, s->score, t0, t1);
	draw_text(w, 3, 1, A_NORMAL,
	    "cart %u items %s  purchases %u revenue %s%s", s->cart_items, cart,
	    s->purchases, rev, s->closed ? "  (closed)" : "");
	sess_draw_extras(st, w, ui);
	sess_draw_scores(st, w, 4 + SESS_EXTRA_MAX, ui);
	draw_rule(w, 7, 1, getmaxx(w) - 2, ui);
	sess_draw_path(st, w, 8, ui);
	sess_draw_message(st, w, ui);
}

static void
sess_draw(void *p, WINDOW *w, struct ui *ui)
{
	struct sess_state *st = p;

	if (st->detail)
		sess_draw_detail(st, w, ui);
	else
		sess_draw_list(st, w, ui);
}

/* Typing a filter: every key is the view's until Enter or Esc. */
static int
sess_key_edit(struct sess_state *st, int ch)
{
	size_t len = strlen(st->edit);

	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		struct nudge_diag d = {0};
		struct qfilter qf;

		if (qfilter_parse(&qf, st->edit, &d) != 0) {
			snprintf(st->ui->message, sizeof(st->ui->message),
			    "filter: %.100s", d.msg);
			return VIEW_HANDLED | VIEW_REDRAW;
		}
		snprintf(st->q, sizeof(st->q), "%s", st->edit);
		st->qf = qf;
		st->ui->message[0] = '\0';
		st->editing = false;
		st->sel = st->top = 0;
		return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
	}
	if (ch == SESS_KEY_ESC)
		st->editing = false;
	else if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len > 0)
		st->edit[len - 1] = '\0';
	else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(st->edit)) {
		st->edit[len] = (char)ch;
		st->edit[len + 1] = '\0';
	}
	return VIEW_HANDLED | VIEW_REDRAW;
}

static int
sess_open_detail(struct sess_state *st)
{
	const struct sess_row *r;

	if (st->sel < 0 || (size_t)st->sel >= st->n_rows)
		return VIEW_HANDLED;
	r = &st->rows[st->sel];
	st->detail = true;
	st->d_loaded = false;
	st->d_status = 0;
	st->d_n = 0;
	st->d_agent = r->agent;
	snprintf(st->d_vid, sizeof(st->d_vid), "%s", r->s.visitor);
	return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
}

static int
sess_key_list(struct sess_state *st, int ch)
{
	int page = st->ui->body_rows - 3;

	switch (ch) {
	case KEY_UP:
	case 'k':
		st->sel--;
		break;
	case KEY_DOWN:
	case 'j':
		st->sel++;
		break;
	case KEY_PPAGE:
		st->sel -= page;
		break;
	case KEY_NPAGE:
	case ' ':
		st->sel += page;
		break;
	case KEY_HOME:
	case 'g':
		st->sel = 0;
		break;
	case KEY_END:
	case 'G':
		st->sel = (int)st->n_rows - 1;
		break;
	case 's':
		st->sort = (st->sort + 1) % SESSION_SORT_COUNT;
		sess_rebuild(st);
		return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
	case '/':
		st->editing = true;
		snprintf(st->edit, sizeof(st->edit), "%s", st->q);
		return VIEW_HANDLED | VIEW_REDRAW;
	case '\n':
	case '\r':
	case KEY_ENTER:
	case KEY_RIGHT:
	case 'l':
		return sess_open_detail(st);
	case SESS_KEY_ESC:
		if (st->q[0] == '\0')
			return VIEW_IGNORED;
		st->q[0] = '\0';
		qfilter_init(&st->qf);
		return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
	default:
		return VIEW_IGNORED;
	}
	if (st->sel < 0)
		st->sel = 0;
	return VIEW_HANDLED | VIEW_REDRAW;
}

static void
sess_on_message(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct sess_state *st = arg;
	struct relayenv_leaf leaf = {.status = NUDGE_ENOTFOUND};
	int status;

	(void)idx;
	/* through a relay: the agent behind it that holds the visitor */
	if (err == 0)
		relayenv_pick(rp, &leaf);
	status = err != 0 ? err : leaf.status;
	st->ui->dirty = true;
	if (status == 0)
		snprintf(st->m_note, sizeof(st->m_note), "%s queued: the "
		    "visitor sees it with their next page event", st->m_kind);
	else
		snprintf(st->m_note, sizeof(st->m_note), "not sent: %.120s",
		    err == 0 && leaf.message[0] ? leaf.message :
		    nudge_strerror(status));
}

static void
sess_pack_message(msgpack_packer *pk, const void *arg)
{
	const struct sess_state *st = arg;
	bool coupon = strcmp(st->m_kind, "coupon") == 0;

	msgpack_pack_map(pk, 3);
	wire_pack_cstr(pk, "vid");
	wire_pack_cstr(pk, st->d_vid);
	wire_pack_cstr(pk, "kind");
	wire_pack_cstr(pk, st->m_kind);
	wire_pack_cstr(pk, coupon ? "sel" : "text");
	wire_pack_cstr(pk, st->m_text);
}

/* Sends the confirmed message once the agent's link is free. */
static void
sess_send_message(struct sess_state *st, struct ui *ui)
{
	int rv = ctlreq_send(&ui->links[st->d_agent], &st->sb, "message",
	    sess_pack_message, st, sess_on_message, st, ui->now_ms);

	if (rv == 0) {
		st->m_step = SM_SENT;
	} else if (ui->now_ms >= st->m_until_ms) {
		st->m_step = SM_SENT;
		snprintf(st->m_note, sizeof(st->m_note), "not sent: the agent "
		    "cannot be asked now (%s)", nudge_strerror(rv));
		ui->dirty = true;
	}
}

/* m / c in the detail, then typing, then y or n. */
static int
sess_key_message(struct sess_state *st, struct ui *ui, int ch)
{
	size_t len = strlen(st->m_text);

	if (st->m_step == SM_CONFIRM) {
		st->m_step = SM_SENT;
		if (ch != 'y' && ch != 'Y') {
			snprintf(st->m_note, sizeof(st->m_note), "nothing sent");
			return VIEW_HANDLED | VIEW_REDRAW;
		}
		st->m_step = SM_SENDING;
		st->m_until_ms = ui->now_ms + LINK_CALL_TIMEOUT_MS;
		snprintf(st->m_note, sizeof(st->m_note), "sending...");
		sess_send_message(st, ui);
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
		st->m_step = len > 0 ? SM_CONFIRM : SM_NONE;
	else if (ch == SESS_KEY_ESC)
		st->m_step = SM_NONE;
	else if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && len > 0)
		st->m_text[len - 1] = '\0';
	else if (ch >= 0x20 && ch < 0x7f && len + 1 < sizeof(st->m_text)) {
		st->m_text[len] = (char)ch;
		st->m_text[len + 1] = '\0';
	}
	return VIEW_HANDLED | VIEW_REDRAW;
}

static int
sess_start_message(struct sess_state *st, struct ui *ui, int ch)
{
	if (ui->viewer) {
		snprintf(st->m_note, sizeof(st->m_note), "read-only: viewers "
		    "cannot send messages");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	st->m_step = SM_TYPING;
	snprintf(st->m_kind, sizeof(st->m_kind), "%s",
	    ch == 'c' ? "coupon" : "banner");
	snprintf(st->m_text, sizeof(st->m_text), "%s",
	    ch == 'c' ? "#coupon" : "");
	return VIEW_HANDLED | VIEW_REDRAW;
}

static int
sess_key(void *p, struct ui *ui, int ch)
{
	struct sess_state *st = p;

	if (st->editing)
		return sess_key_edit(st, ch);
	if (st->detail && (st->m_step == SM_TYPING ||
	    st->m_step == SM_CONFIRM))
		return sess_key_message(st, ui, ch);
	if (st->detail && st->d_loaded && (ch == 'm' || ch == 'c'))
		return sess_start_message(st, ui, ch);
	if (st->detail) {
		if (ch != SESS_KEY_ESC && ch != KEY_LEFT && ch != 'h' &&
		    ch != KEY_BACKSPACE)
			return VIEW_IGNORED;
		st->detail = false;
		st->m_step = SM_NONE;
		st->m_note[0] = '\0';
		return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
	}
	return sess_key_list(st, ch);
}

const struct view_ops view_sessions = {
    .name = "sessions",
    .help = "j/k, arrows  move     PgUp/PgDn, g/G  page, top/bottom\n"
            "s      cycle the sort: recent, score, value, pages\n"
            "/      filter: words match visitor, country, page, campaign,\n"
            "       source; country:FR source:email device:mobile\n"
            "       page:/product score>N score<N narrow it\n"
            "Enter  open the visitor's path    Esc  back / clear filter\n"
            "in a visitor's path (operators): m  send them a banner,\n"
            "       c  reveal the coupon field; y confirms\n",
    .init = sess_init,
    .fini = sess_fini,
    .update = sess_update,
    .draw = sess_draw,
    .key = sess_key,
};
