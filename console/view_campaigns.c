/*
 * view_campaigns.c - view 8: the fleet's A/B campaigns.  On top the list
 * of campaigns (merged over the agents by the TUI's book, campview.h:
 * state, version, how many agents agree), below the selected campaign's
 * verdict line, its alarms (sample ratio mismatch, breaker) in the alarm
 * colour, the per-variant table (visitors, conversions, rate with its 95%
 * interval, uplift with its interval, fixed-horizon p, always-valid p,
 * chance to beat control, revenue) and each agent's version, state and
 * answer to the last change.
 *
 * Keys on the selected campaign (none on a read-only console): s start,
 * p pause, r resume, x stop (then a winner, control by default), w
 * weights, h holdout; each asks for confirmation naming the agents it
 * will touch, then sends every agent its own wire_camp_change (expect =
 * the version that agent reported) and shows each agent's answer.
 *
 * Change lifecycle (cv_* functions make the transitions):
 *
 *	IDLE --s p r--> CONFIRM          IDLE --x--> WINNER --Enter--> CONFIRM
 *	IDLE --w h--> INPUT --Enter, valid--> CONFIRM
 *	WINNER, INPUT, CONFIRM --Esc (n)--> IDLE
 *	CONFIRM --y--> SEND (campaign_change to each agent, cv_send_due)
 *	SEND --every agent answered or gave up--> SETTLE
 *	SETTLE --snapshots agree at the new versions, or CV_SETTLE_MS--> IDLE
 *
 * A new change can start from IDLE or SETTLE, never while answers are
 * awaited (SEND), so an answer always belongs to the change on screen.
 *
 * Owns its state; the book, model and links are the TUI's.  Main thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campview.h"
#include "ctlreq.h"
#include "draw.h"
#include "relayenv.h"
#include "view.h"

#define CV_KEY_ESC 27
#define CV_LIST_ROWS 4     /* campaigns listed at once */
#define CV_SEND_MS 3000    /* retry an agent not connected yet */
#define CV_SETTLE_MS 10000 /* wait for the snapshots to agree */
#define CV_ACK_MAX 80

enum cv_mode {
	CV_IDLE = 0,
	CV_WINNER,
	CV_INPUT,
	CV_CONFIRM,
	CV_SEND,
	CV_SETTLE
};

struct cv_state {
	int mode;                    /* enum cv_mode */
	char sel[CAMP_NAME_MAX + 1]; /* selected campaign, by name */
	int top;                     /* first campaign listed */
	/* the change being made */
	char camp[CAMP_NAME_MAX + 1];
	struct campview_req rq;
	char input[48];
	unsigned in_len;
	char question[320];
	uint64_t send_until, settle_until; /* mono */
	bool target[CONF_AGENTS_MAX];      /* in the plan */
	bool want[CONF_AGENTS_MAX];        /* still to be sent */
	bool awaiting[CONF_AGENTS_MAX];    /* sent, no answer yet */
	bool ok[CONF_AGENTS_MAX];          /* answered status 0 */
	struct wire_camp_change chg[CONF_AGENTS_MAX];
	char ack[CONF_AGENTS_MAX][CV_ACK_MAX];
	char note[320];
	msgpack_sbuffer sb;
};

static void *
cv_init(struct ui *ui)
{
	struct cv_state *st = calloc(1, sizeof(*st));

	(void)ui;
	if (st != NULL)
		msgpack_sbuffer_init(&st->sb);
	return st;
}

static void
cv_fini(void *p)
{
	struct cv_state *st = p;

	msgpack_sbuffer_destroy(&st->sb);
	free(st);
}

/* The selected campaign's index in the book (selecting the first when the
 * selected one is gone), or -1 when there is none. */
static int
cv_selected(struct cv_state *st, const struct ui *ui)
{
	const struct campview *b = ui->camps;

	if (b == NULL || b->n == 0)
		return -1;
	for (unsigned i = 0; i < b->n; i++)
		if (strcmp(b->camp[i].name, st->sel) == 0)
			return (int)i;
	snprintf(st->sel, sizeof(st->sel), "%s", b->camp[0].name);
	return 0;
}

/* ---- sending and answers ------------------------------------------------ */

static void
cv_pack_change(msgpack_packer *pk, const void *arg)
{
	wire_pack_camp_change(pk, arg);
}

/* A relay's answer: how many agents behind it took the change. */
struct cv_tally {
	unsigned n, ok;
	struct relayenv_leaf first_ok, first_bad;
};

static void
cv_tally_leaf(void *arg, const struct relayenv_leaf *leaf)
{
	struct cv_tally *t = arg;

	if (leaf->status == 0 && t->ok++ == 0)
		t->first_ok = *leaf;
	if (leaf->status != 0 && t->first_bad.body == NULL)
		t->first_bad = *leaf; /* a leaf's body is never NULL */
	t->n++;
}

static void
cv_on_ack(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct cv_state *st = arg;
	struct wire_campaign *now = NULL, *wc;
	struct cv_tally t = {0};
	const struct relayenv_leaf *show = NULL;
	char one[CV_ACK_MAX];

	if (idx >= CONF_AGENTS_MAX || !st->awaiting[idx])
		return;
	st->awaiting[idx] = false;
	if (err == 0 && relayenv_is(rp)) {
		/* through a relay: each agent behind it answered for itself */
		relayenv_each(rp, cv_tally_leaf, &t);
		show = t.ok < t.n ? &t.first_bad : t.n ? &t.first_ok : NULL;
	}
	wc = malloc(sizeof(*wc));
	if (show != NULL) {
		if (show->status == 0 && wc != NULL &&
		    wire_unpack_campaign(show->body, wc) == 0)
			now = wc;
		campview_ack(0, show->status, show->message, now, one,
		    sizeof(one));
		/* bounded to the column: 10 + 4 + 10 + 1 + 20 + 2 + 30 < 80 */
		snprintf(st->ack[idx], sizeof(st->ack[idx]),
		    "%u of %u %.20s%s%.30s", t.ok, t.n,
		    t.ok < t.n ? show->name : "", t.ok < t.n ? ": " : "", one);
		st->ok[idx] = t.ok == t.n;
		free(wc);
		return;
	}
	if (err == 0 && rp->status == 0 && wc != NULL &&
	    wire_unpack_campaign(rp->body, wc) == 0)
		now = wc;
	campview_ack(err, err == 0 ? rp->status : 0,
	    err == 0 ? rp->message : NULL, now, st->ack[idx],
	    sizeof(st->ack[idx]));
	st->ok[idx] = err == 0 && rp->status == 0;
	free(wc);
}

/* Sends what is due; an agent busy with another call waits a turn, one
 * not connected yet is tried again until CV_SEND_MS. */
static void
cv_send_due(struct cv_state *st, struct ui *ui)
{
	bool left = false;

	for (unsigned i = 0; i < ui->n_links && i < CONF_AGENTS_MAX; i++) {
		uint8_t id[WIRE_ID_LEN];
		int rv;

		if (st->want[i]) {
			if (ctlreq_build(&st->sb, "campaign_change",
			        cv_pack_change, &st->chg[i], id) != 0)
				rv = NUDGE_ENOMEM;
			else
				rv = link_call(&ui->links[i], &st->sb, id,
				    cv_on_ack, st, ui->now_ms);
			if (rv == 0) {
				st->want[i] = false;
				st->awaiting[i] = true;
				snprintf(
				    st->ack[i], sizeof(st->ack[i]), "sent...");
			} else if (rv != NUDGE_EBUSY &&
			           (rv != NUDGE_ECONN ||
			               ui->now_ms >= st->send_until)) {
				st->want[i] = false;
				campview_ack(rv, 0, NULL, NULL, st->ack[i],
				    sizeof(st->ack[i]));
			}
		}
		left = left || st->want[i] || st->awaiting[i];
	}
	if (!left) {
		st->mode = CV_SETTLE;
		st->settle_until = ui->now_ms + CV_SETTLE_MS;
	}
}

/*
 * Whether the snapshots show every agent that took the change past the
 * version it was asked against, and all agreeing.  The note then says
 * "done", or "not applied" when no agent took it (all stale or refused:
 * their answers stay on screen).
 */
static void
cv_check_settled(struct cv_state *st, struct ui *ui)
{
	const struct campview_camp *c = campview_find(ui->camps, st->camp);
	char drift[160] = "";
	bool moved = c != NULL;
	unsigned n_ok = 0;

	for (unsigned i = 0;
	     c != NULL && i < ui->n_links && i < CONF_AGENTS_MAX; i++) {
		if (!st->target[i] || !st->ok[i])
			continue;
		n_ok++;
		if (!c->agent[i].reports ||
		    c->agent[i].version <= st->chg[i].expect)
			moved = false;
	}
	if (c != NULL)
		campview_drift(c, ui->model, drift, sizeof(drift));
	if (moved && campview_settled(c, ui->n_links)) {
		snprintf(st->note, sizeof(st->note), "%s: %s %s v%llu on %s",
		    n_ok > 0 ? "done" : "not applied", st->camp,
		    camp_state_name(c->state), (unsigned long long)c->version,
		    drift);
		st->mode = CV_IDLE;
	} else if (ui->now_ms >= st->settle_until) {
		snprintf(st->note, sizeof(st->note),
		    "not in agreement after %d s: %s", CV_SETTLE_MS / 1000,
		    c != NULL ? drift : "campaign gone");
		st->mode = CV_IDLE;
	}
}

static void
cv_update(void *p, struct ui *ui)
{
	struct cv_state *st = p;

	if (ui->camps == NULL)
		return;
	if (st->mode == CV_SEND)
		cv_send_due(st, ui);
	if (st->mode == CV_SETTLE)
		cv_check_settled(st, ui);
	ui->dirty = true;
}

/* ---- starting a change -------------------------------------------------- */

/* Plans st->rq on the selected campaign and asks for confirmation. */
static int
cv_plan(struct cv_state *st, struct ui *ui)
{
	int k = cv_selected(st, ui);
	const struct campview_camp *c;

	if (k < 0)
		return VIEW_HANDLED | VIEW_REDRAW;
	c = &ui->camps->camp[k];
	snprintf(st->camp, sizeof(st->camp), "%s", c->name);
	if (campview_plan(c, ui->n_links, &st->rq, st->chg, st->target) == 0) {
		snprintf(st->note, sizeof(st->note),
		    "%s: no agent has %s in "
		    "a state where it applies (%s)",
		    camp_op_name(st->rq.op), c->name,
		    camp_state_name(c->state));
		st->mode = CV_IDLE;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	campview_confirm(c, ui->model, &st->rq, st->target, st->question,
	    sizeof(st->question));
	st->mode = CV_CONFIRM;
	return VIEW_HANDLED | VIEW_REDRAW;
}

static int
cv_confirmed(struct cv_state *st, struct ui *ui)
{
	for (unsigned i = 0; i < CONF_AGENTS_MAX; i++) {
		st->want[i] = i < ui->n_links && st->target[i];
		st->awaiting[i] = st->ok[i] = false;
		st->ack[i][0] = '\0';
	}
	st->note[0] = '\0';
	st->send_until = ui->now_ms + CV_SEND_MS;
	st->mode = CV_SEND;
	return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
}

/* Enter in INPUT: weights or holdout parsed, then planned. */
static int
cv_input_done(struct cv_state *st, struct ui *ui)
{
	int k = cv_selected(st, ui);
	char why[120];
	int rv;

	if (k < 0)
		return VIEW_HANDLED | VIEW_REDRAW;
	st->input[st->in_len] = '\0';
	if (st->rq.op == CAMP_OP_WEIGHTS) {
		unsigned nv = ui->camps->camp[k].cs.merged.c.n_variants;

		rv = campview_parse_weights(
		    st->input, nv, st->rq.weights, why, sizeof(why));
		st->rq.n_weights = (uint8_t)nv;
	} else {
		rv = campview_parse_holdout(
		    st->input, &st->rq.holdout_bp, why, sizeof(why));
	}
	if (rv != 0) {
		snprintf(st->note, sizeof(st->note), "%s", why);
		return VIEW_HANDLED | VIEW_REDRAW; /* stay, fix it */
	}
	st->note[0] = '\0';
	return cv_plan(st, ui);
}

static int
cv_input_key(struct cv_state *st, struct ui *ui, int ch)
{
	if (ch == '\r' || ch == '\n' || ch == KEY_ENTER)
		return cv_input_done(st, ui);
	if ((ch == KEY_BACKSPACE || ch == 127 || ch == '\b') && st->in_len > 0)
		st->in_len--;
	else if (ch >= ' ' && ch < 127 && st->in_len + 1 < sizeof(st->input))
		st->input[st->in_len++] = (char)ch;
	st->input[st->in_len] = '\0';
	return VIEW_HANDLED | VIEW_REDRAW; /* every key is the line's */
}

static int
cv_winner_key(struct cv_state *st, struct ui *ui, int ch)
{
	int k = cv_selected(st, ui);
	int nv = k < 0 ? 1 : ui->camps->camp[k].cs.merged.c.n_variants;

	if (ch == '\r' || ch == '\n' || ch == KEY_ENTER)
		return cv_plan(st, ui);
	if (ch == KEY_UP || ch == 'k')
		st->rq.winner = (st->rq.winner + nv - 1) % nv;
	else if (ch == KEY_DOWN || ch == 'j')
		st->rq.winner = (st->rq.winner + 1) % nv;
	return VIEW_HANDLED | VIEW_REDRAW;
}

/* s p r x w h on the selected campaign. */
static int
cv_change_key(struct cv_state *st, struct ui *ui, int ch)
{
	static const struct {
		int ch;
		uint8_t op;
	} keys[] = {
	    {'s', CAMP_OP_START},
	    {'p', CAMP_OP_PAUSE},
	    {'r', CAMP_OP_RESUME},
	    {'x', CAMP_OP_STOP},
	    {'w', CAMP_OP_WEIGHTS},
	    {'h', CAMP_OP_HOLDOUT},
	};
	uint8_t op = CAMP_OP_NONE;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (keys[i].ch == ch)
			op = keys[i].op;
	if (op == CAMP_OP_NONE)
		return VIEW_IGNORED;
	if (ui->viewer) {
		snprintf(st->note, sizeof(st->note),
		    "read-only: viewers cannot change campaigns");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (st->mode == CV_SEND) {
		snprintf(st->note, sizeof(st->note),
		    "still waiting for the "
		    "agents' answers to the last change");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (cv_selected(st, ui) < 0) {
		snprintf(st->note, sizeof(st->note), "no campaign to change");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	memset(&st->rq, 0, sizeof(st->rq));
	st->rq.op = op;
	st->note[0] = '\0';
	st->in_len = 0;
	st->input[0] = '\0';
	if (op == CAMP_OP_STOP) {
		st->mode = CV_WINNER;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (op == CAMP_OP_WEIGHTS || op == CAMP_OP_HOLDOUT) {
		st->mode = CV_INPUT;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	return cv_plan(st, ui);
}

static int
cv_move(struct cv_state *st, struct ui *ui, int delta)
{
	int k = cv_selected(st, ui);

	if (k < 0)
		return VIEW_HANDLED;
	k += delta;
	if (k < 0)
		k = 0;
	if (k >= (int)ui->camps->n)
		k = (int)ui->camps->n - 1;
	snprintf(st->sel, sizeof(st->sel), "%s", ui->camps->camp[k].name);
	return VIEW_HANDLED | VIEW_REDRAW;
}

static int
cv_key(void *p, struct ui *ui, int ch)
{
	struct cv_state *st = p;
	int m = st->mode;

	if ((m == CV_WINNER || m == CV_INPUT || m == CV_CONFIRM) &&
	    (ch == CV_KEY_ESC ||
	        (m != CV_INPUT && (ch == 'n' || ch == 'N')))) {
		st->mode = CV_IDLE;
		snprintf(st->note, sizeof(st->note), "nothing changed");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (m == CV_INPUT)
		return cv_input_key(st, ui, ch);
	if (m == CV_WINNER)
		return cv_winner_key(st, ui, ch);
	if (m == CV_CONFIRM)
		return ch == 'y' || ch == 'Y' ? cv_confirmed(st, ui)
		                              : VIEW_HANDLED;
	if (ch == KEY_UP || ch == 'k')
		return cv_move(st, ui, -1);
	if (ch == KEY_DOWN || ch == 'j')
		return cv_move(st, ui, 1);
	return cv_change_key(st, ui, ch);
}

/* ---- drawing --------------------------------------------------------------
 */

/* A relative change: "+18%", "-4.5%" (one decimal below 10%). */
static void
cv_pct(char *buf, size_t cap, double v)
{
	double a = v < 0 ? -v : v;

	snprintf(buf, cap, a >= 0.1 ? "%+.0f%%" : "%+.1f%%", v * 100.0);
}

static void
cv_pval(char *buf, size_t cap, double p)
{
	if (p < 0.001)
		snprintf(buf, cap, "<.001");
	else
		snprintf(buf, cap, "%.3f", p);
}

/* The campaign list; returns the next free row. */
static int
cv_draw_list(struct cv_state *st, WINDOW *w, struct ui *ui, int y, int k)
{
	const struct campview *b = ui->camps;
	char drift[160], ver[24];

	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL), "%-24s %-8s %6s  %s",
	    "CAMPAIGN", "STATE", "VER", "AGENTS");
	if (k < st->top)
		st->top = k;
	if (k >= st->top + CV_LIST_ROWS)
		st->top = k - CV_LIST_ROWS + 1;
	for (int i = st->top; i < (int)b->n && i < st->top + CV_LIST_ROWS;
	     i++) {
		const struct campview_camp *c = &b->camp[i];
		bool ok = campview_settled(c, ui->n_links);

		campview_drift(c, ui->model, drift, sizeof(drift));
		snprintf(
		    ver, sizeof(ver), "v%llu", (unsigned long long)c->version);
		draw_text(w, y, 1,
		    i == k ? draw_attr(ui, DRAW_SELECTED) : A_NORMAL,
		    "%c%-23.23s %-8s %6s", i == k ? '>' : ' ', c->name,
		    camp_state_name(c->state), ver);
		draw_text(w, y++, 44, ok ? A_NORMAL : draw_attr(ui, DRAW_BAD),
		    "%s", drift);
	}
	if ((int)b->n > CV_LIST_ROWS)
		draw_text(
		    w, y++, 1, A_NORMAL, "(%u campaigns, j/k to move)", b->n);
	return y;
}

/* A line's worth of text, wrapped once at a space if it is too long. */
static int
cv_draw_wrapped(WINDOW *w, int y, attr_t a, const char *s)
{
	int width = getmaxx(w) - 2, len = (int)strlen(s), cut = len;

	if (len > width) {
		for (cut = width; cut > width / 2 && s[cut] != ' '; cut--)
			;
		if (cut <= width / 2)
			cut = width;
	}
	draw_text(w, y++, 1, a, "%.*s", cut, s);
	if (cut < len)
		draw_text(w, y++, 3, a, "%s", s + cut + (s[cut] == ' '));
	return y;
}

/*
 * The verdict alone: campstat's line without the alarm prefixes it starts
 * with (they get lines of their own here).  A prefix worded otherwise is
 * left in place, which only repeats it.
 */
static const char *
cv_verdict(const struct campstat *cs)
{
	const char *s = cs->line;
	char pre[CAMPSTAT_LINE_MAX];
	size_t n;

	if (cs->tripped) {
		n = (size_t)snprintf(
		    pre, sizeof(pre), "BREAKER TRIPPED: %s; ", cs->reason);
		if (strncmp(s, pre, n) == 0)
			s += n;
	}
	if (cs->srm.warn) {
		n = (size_t)snprintf(pre, sizeof(pre),
		    "SAMPLE RATIO MISMATCH "
		    "(p=%.2g): do not trust these figures; ",
		    cs->srm.p);
		if (strncmp(s, pre, n) == 0)
			s += n;
	}
	return s;
}

/* Name, state, split, goal; the alarms; the verdict. */
static int
cv_draw_head(WINDOW *w, struct ui *ui, int y, const struct campview_camp *c)
{
	const struct campstat *cs = &c->cs;
	const struct camp *k = &cs->merged.c;
	attr_t bad = draw_attr(ui, DRAW_BAD);
	char since[32] = "never", split[200] = "";
	size_t at = 0;

	for (unsigned i = 0; i < k->n_variants && at < sizeof(split); i++)
		at += (size_t)snprintf(split + at, sizeof(split) - at,
		    "%s%s %u", i ? ", " : "", k->variant[i], k->weight[i]);
	if (cs->merged.since_ms > 0 && ui->wall_ms > cs->merged.since_ms)
		draw_duration(
		    since, sizeof(since), ui->wall_ms - cs->merged.since_ms);
	draw_text(w, y++, 1, A_BOLD, "%s  %s v%llu  goal %s  started %s%s",
	    c->name, camp_state_name(c->state), (unsigned long long)c->version,
	    cs->merged.goal, since, cs->merged.since_ms ? " ago" : "");
	draw_text(w, y++, 1, A_NORMAL, "split %s  holdout %u.%02u%%", split,
	    k->holdout_bp / 100, k->holdout_bp % 100);
	if (cs->tripped)
		draw_text(w, y++, 1, bad | A_BOLD,
		    "BREAKER TRIPPED: %s; "
		    "everyone sees control",
		    cs->reason);
	if (cs->srm.warn)
		draw_text(w, y++, 1, bad | A_BOLD,
		    "SAMPLE RATIO MISMATCH "
		    "(p=%.2g): visitors are not split as the weights say; "
		    "do not trust these figures",
		    cs->srm.p);
	y = cv_draw_wrapped(w, y,
	    A_BOLD | (cs->call == STATS_CALL_BETTER ? draw_attr(ui, DRAW_GOOD)
	                 : cs->call == STATS_CALL_WORSE ? bad
	                                                : A_NORMAL),
	    cv_verdict(cs));
	if (cs->n_mismatch > 0)
		draw_text(w, y++, 1, bad,
		    "%u agents declare other variants: "
		    "left out of these figures",
		    cs->n_mismatch);
	return y;
}

/* One variant: one line when the window is wide, else two. */
static int
cv_draw_arm(WINDOW *w, struct ui *ui, int y, const struct campstat *cs,
    unsigned v, bool picked, bool wide)
{
	const struct campstat_arm *a = &cs->arm[v];
	const struct camp *k = &cs->merged.c;
	char vis[16], conv[16], rev[24], lo[16], hi[16], mid[16];
	char rate[40] = "-", up[64] = "-";
	char p[12] = "-", avp[12] = "-", beat[12] = "-";

	draw_count(vis, sizeof(vis), a->counts.visitors);
	draw_count(conv, sizeof(conv), a->counts.conversions);
	draw_money(
	    rev, sizeof(rev), a->rev_cents > 0 ? (uint64_t)a->rev_cents : 0);
	if (a->counts.visitors > 0)
		snprintf(rate, sizeof(rate), "%.1f%% [%.1f, %.1f]",
		    a->rate.p * 100, a->rate.lo * 100, a->rate.hi * 100);
	if (v > 0 && !(a->cmp.flags & (STATS_F_NODATA | STATS_F_NO_UPLIFT))) {
		cv_pct(mid, sizeof(mid), a->cmp.uplift);
		cv_pct(lo, sizeof(lo), a->cmp.uplift_lo);
		cv_pct(hi, sizeof(hi), a->cmp.uplift_hi);
		if (a->cmp.flags & STATS_F_NO_UPLIFT_CI)
			snprintf(up, sizeof(up), "%s", mid);
		else
			snprintf(up, sizeof(up), "%s [%s, %s]", mid, lo, hi);
	}
	if (v > 0 && !(a->cmp.flags & STATS_F_NODATA)) {
		cv_pval(p, sizeof(p), a->cmp.p_value);
		cv_pval(avp, sizeof(avp), a->seq.p);
		snprintf(beat, sizeof(beat),
		    a->beat >= 0.9995  ? ">99.9%%"
		    : a->beat < 0.0005 ? "<0.1%%"
		                       : "%.1f%%",
		    a->beat * 100);
	}
	attr_t at = picked ? draw_attr(ui, DRAW_SELECTED) : A_NORMAL;
	draw_text(w, y, 1, at, "%-14.14s %3u %8s %6s  %-20s %-20s",
	    k->variant[v], k->weight[v], vis, conv, rate, up);
	if (wide) {
		draw_text(
		    w, y++, 78, at, "%6s %6s %6s %10s", p, avp, beat, rev);
		return y;
	}
	y++;
	if (v == 0)
		draw_text(w, y++, 5, A_NORMAL, "revenue %s", rev);
	else
		draw_text(w, y++, 5, A_NORMAL,
		    "p %s  always-valid p %s  "
		    "beats control %s  revenue %s",
		    p, avp, beat, rev);
	return y;
}

static int
cv_draw_table(struct cv_state *st, WINDOW *w, struct ui *ui, int y,
    const struct campview_camp *c)
{
	const struct campstat *cs = &c->cs;
	bool wide = getmaxx(w) >= 112;
	int last = getmaxy(w) - 2;

	draw_text(w, y, 1, draw_attr(ui, DRAW_LABEL),
	    "%-14s %3s %8s %6s  %-20s %-20s", "VARIANT", "W%", "VISITORS",
	    "CONV", "RATE [95% CI]", "UPLIFT [95% CI]");
	if (wide)
		draw_text(w, y, 78, draw_attr(ui, DRAW_LABEL),
		    "%6s %6s %6s %10s", "P", "AV-P", "BEAT", "REVENUE");
	y++;
	for (unsigned v = 0; v < cs->merged.c.n_variants && y < last; v++)
		y = cv_draw_arm(w, ui, y, cs, v,
		    st->mode == CV_WINNER && st->rq.winner == (int)v, wide);
	return y;
}

/* Each agent's version and state, and its answer to the last change. */
static int
cv_draw_agents(struct cv_state *st, WINDOW *w, struct ui *ui, int y,
    const struct campview_camp *c)
{
	int last = getmaxy(w) - 2;
	bool ours = strcmp(st->camp, c->name) == 0;

	if (y >= last)
		return y;
	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL), "%-16s %8s %-9s %s",
	    "AGENT", "VERSION", "STATE",
	    ours && st->camp[0] ? "ANSWER TO THE LAST CHANGE" : "");
	for (unsigned i = 0;
	     i < ui->n_links && i < CONF_AGENTS_MAX && y < last; i++) {
		const struct campview_agent *a = &c->agent[i];
		const struct model_agent *ma = &ui->model->agents[i];
		bool off = !a->reports || a->version != c->version ||
		           a->state != c->state;
		char ver[24] = "-";

		if (a->reports)
			snprintf(ver, sizeof(ver), "v%llu",
			    (unsigned long long)a->version);
		draw_text(w, y++, 1, off ? draw_attr(ui, DRAW_BAD) : A_NORMAL,
		    "%-16.16s %8s %-9s %.50s", ma->name[0] ? ma->name : "?",
		    ver,
		    a->reports                      ? camp_state_name(a->state)
		    : !ma->up || !ma->have_snapshot ? "down"
		                                    : "undeclared",
		    ours ? st->ack[i] : "");
	}
	return y;
}

/* The variant picked as the winner so far. */
static const char *
cv_winner_name(struct cv_state *st, const struct ui *ui)
{
	int k = cv_selected(st, ui);
	const struct camp *c;

	if (k < 0)
		return "control";
	c = &ui->camps->camp[k].cs.merged.c;
	return st->rq.winner >= 0 && st->rq.winner < c->n_variants
	           ? c->variant[st->rq.winner]
	           : "control";
}

/* The bottom line: the question, the input, the winner pick or a note. */
static void
cv_draw_mode(struct cv_state *st, WINDOW *w, struct ui *ui)
{
	int y = getmaxy(w) - 1;
	attr_t ask = A_BOLD | draw_attr(ui, DRAW_GOOD);

	if (st->mode == CV_CONFIRM)
		draw_text(w, y, 1, ask, "%s", st->question);
	else if (st->mode == CV_INPUT) {
		draw_text(w, y, 1, ask, "%s: %s_   (Enter, Esc cancels)",
		    st->rq.op == CAMP_OP_WEIGHTS ? "weights, percent per "
		                                   "variant (e.g. 50,50)"
		                                 : "holdout percent (e.g. 5)",
		    st->input);
		if (st->note[0] != '\0')
			draw_text(w, y - 1, 1, draw_attr(ui, DRAW_BAD), "%s",
			    st->note);
	} else if (st->mode == CV_WINNER)
		draw_text(w, y, 1, ask,
		    "stop: roll %s out to everyone?  "
		    "j/k choose, Enter, Esc cancels",
		    cv_winner_name(st, ui));
	else if (st->mode == CV_SEND || st->mode == CV_SETTLE)
		draw_text(w, y, 1, A_NORMAL, "%s %s: %s",
		    camp_op_name(st->rq.op), st->camp,
		    st->mode == CV_SEND
		        ? "waiting for the agents' answers..."
		        : "waiting for the snapshots to agree...");
	else if (st->note[0] != '\0')
		draw_text(w, y, 1,
		    strncmp(st->note, "read-only", 9) == 0
		        ? draw_attr(ui, DRAW_BAD)
		        : A_NORMAL,
		    "%s", st->note);
}

static void
cv_draw(void *p, WINDOW *w, struct ui *ui)
{
	struct cv_state *st = p;
	int k = cv_selected(st, ui), y;
	const struct campview_camp *c;

	if (k < 0) {
		draw_text(w, 1, 1, A_NORMAL, "no campaigns: %s",
		    ui->camps == NULL ? "not followed here"
		    : ui->viewer
		        ? "no agent declares one"
		        : "declare one in the rule set "
		          "(view 7, e), e.g. examples/campaign.rules");
		cv_draw_mode(st, w, ui);
		return;
	}
	c = &ui->camps->camp[k];
	y = cv_draw_list(st, w, ui, 0, k) + 1;
	y = cv_draw_head(w, ui, y, c) + 1;
	y = cv_draw_table(st, w, ui, y, c) + 1;
	cv_draw_agents(st, w, ui, y, c);
	cv_draw_mode(st, w, ui);
}

const struct view_ops view_campaigns = {
    .name = "campaigns",
    .help = "j k  select a campaign\n"
            "s  start   p  pause   r  resume   (confirm with y)\n"
            "x  stop: pick the winner (j/k, Enter; control by default)\n"
            "w  set the weights (type 50,50, Enter)\n"
            "h  set the holdout percent (type 5, Enter)\n"
            "Esc, n  cancel a change before it is sent\n"
            "(p here pauses the campaign, not the screen)\n"
            "(read-only consoles: no s p r x w h)\n",
    .init = cv_init,
    .fini = cv_fini,
    .update = cv_update,
    .draw = cv_draw,
    .key = cv_key,
};
