/*
 * view_rules.c - view 7: the live rules.  Each rule with its matches per
 * minute, shown, capped, shadow matches (and of those, how many hit a
 * visitor who had already seen an offer: SH.SEEN) and held out, summed
 * over the agents from their snapshots; for a rule with a holdout, its
 * measured lift (purchases after the action, shown against held out, with
 * stats_compare's uplift, interval and p); the rule set version in force
 * per agent, with the agents behind the newest one (drift) highlighted.
 *
 * Keys (none in read-only mode): e edits the rule set in $EDITOR, checks
 * it on save (errors shown here), and pushes it on confirmation naming the
 * agents it will touch; r reconciles drift (pushes the newest version's
 * text to the agents behind).  Each agent's acknowledgement is shown; a
 * relay's row counts its agents' and each agent behind it gets a line
 * under it with its own answer (relayenv.h).
 *
 * Edit lifecycle (rv_* functions make the transitions):
 *
 *	IDLE --e--> FETCH (rules_get to the newest agent) --reply--> EDIT
 *	EDIT --update: $EDITOR, compile--> errors? ERRORS : CONFIRM
 *	ERRORS --e--> EDIT (same file again)      ERRORS --Esc--> IDLE
 *	CONFIRM --y--> PUSH (rules_put to each agent; acks) --all--> IDLE
 *	CONFIRM --n/Esc--> IDLE
 *
 * Owns its state and the temporary file; main thread (the editor runs
 * between endwin() and refresh(), from update(), never from a callback).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "ctlreq.h"
#include "draw.h"
#include "relayenv.h"
#include "reconcile.h"
#include "rules.h"
#include "stats.h"
#include "view.h"

#define RV_RULES_MAX (WIRE_RULES_MAX * 2)
#define RV_RATE_SAMPLES 61	/* one per refresh: about a minute */
#define RV_ERRS_SHOWN 6
#define RV_LEAVES_MAX 64	/* agents behind relays, listed under them */

/* RV_ASK and RV_PUSH wait for a link busy with another call or still
 * dialling, for up to LINK_CALL_TIMEOUT_MS (until_ms). */
enum rv_mode { RV_IDLE = 0, RV_ASK, RV_FETCH, RV_EDIT, RV_ERRORS,
	RV_CONFIRM, RV_PUSH };

struct rv_rule {
	char name[WIRE_RULE_NAME_MAX + 1];
	bool shadow_set;
	uint64_t m, s, c, sh, ho;
	uint64_t sho;			/* shadow matches, offer already seen */
	uint64_t tn, tx, hn, hx;	/* holdout lift: treated, held out */
	uint64_t m_at[RV_RATE_SAMPLES];	/* m per update, ring */
};

/* One agent's answer to our push, behind the relay of link `link`. */
struct rv_leaf_ack {
	unsigned link;
	char name[WIRE_AGENT_MAX + 1];
	char ack[80];
};

struct rv_state {
	int mode;			/* enum rv_mode */
	unsigned n;
	struct rv_rule r[RV_RULES_MAX];
	unsigned ring_at, ring_n;
	int top;
	char path[64];			/* the file being edited */
	char *text;			/* what goes out on push */
	size_t len;
	uint64_t push_version;
	int ask_who;			/* the link asked for the text */
	char ask_name[64];		/* its agent's name, for the note */
	uint64_t until_ms;		/* mono; RV_ASK, RV_PUSH give up then */
	bool reconcile;			/* push only to agents behind */
	bool want[CONF_AGENTS_MAX];	/* still to be sent */
	char ack[CONF_AGENTS_MAX][80];	/* per-agent answer */
	uint64_t ack_ms[CONF_AGENTS_MAX];	/* when, mono */
	struct rv_leaf_ack leaf[RV_LEAVES_MAX];	/* relays: per agent */
	unsigned n_leaf;
	struct rule_errors errs;
	char note[128];
	int busy_key;			/* e or r pressed while busy, or 0 */
	msgpack_sbuffer sb;
};

static void *
rv_init(struct ui *ui)
{
	struct rv_state *st = calloc(1, sizeof(*st));

	(void)ui;
	if (st != NULL)
		msgpack_sbuffer_init(&st->sb);
	return st;
}

static void
rv_fini(void *p)
{
	struct rv_state *st = p;

	if (st->path[0] != '\0')
		unlink(st->path);
	free(st->text);
	msgpack_sbuffer_destroy(&st->sb);
	free(st);
}

/* The newest version in force over the agents, and one agent that has it. */
static uint64_t
rv_desired(const struct ui *ui, int *who)
{
	uint64_t best = 0;

	*who = -1;
	for (unsigned i = 0; i < ui->n_links; i++) {
		const struct model_agent *a = &ui->model->agents[i];
		if (a->have_snapshot && (*who < 0 ||
		    a->snap.rules_version > best)) {
			best = a->snap.rules_version;
			*who = (int)i;
		}
	}
	return best;
}

/* ---- counters from the snapshots ---------------------------------------- */

static struct rv_rule *
rv_rule_of(struct rv_state *st, const struct wire_rule_stat *w)
{
	for (unsigned i = 0; i < st->n; i++)
		if (st->r[i].shadow_set == w->shadow_set &&
		    strcmp(st->r[i].name, w->name) == 0)
			return &st->r[i];
	if (st->n == RV_RULES_MAX)
		return NULL;
	struct rv_rule *r = &st->r[st->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", w->name);
	r->shadow_set = w->shadow_set;
	return r;
}

/* Sums the agents' per-rule counters and keeps a minute of samples. */
static void
rv_collect(struct rv_state *st, const struct ui *ui)
{
	for (unsigned i = 0; i < st->n; i++)
		st->r[i].m = st->r[i].s = st->r[i].c = st->r[i].sh =
		    st->r[i].ho = st->r[i].sho = st->r[i].tn = st->r[i].tx =
		    st->r[i].hn = st->r[i].hx = 0;
	for (unsigned a = 0; a < ui->n_links; a++) {
		const struct wire_snapshot *s = &ui->model->agents[a].snap;
		if (!ui->model->agents[a].have_snapshot)
			continue;
		for (unsigned k = 0; k < s->n_rules && k < WIRE_RULES_MAX;
		    k++) {
			struct rv_rule *r = rv_rule_of(st, &s->rules[k]);
			if (r == NULL)
				continue;
			r->m += s->rules[k].m;
			r->s += s->rules[k].s;
			r->c += s->rules[k].c;
			r->sh += s->rules[k].sh;
			r->ho += s->rules[k].ho;
			r->sho += s->rules[k].sho;
			r->tn += s->rules[k].tn;
			r->tx += s->rules[k].tx;
			r->hn += s->rules[k].hn;
			r->hx += s->rules[k].hx;
		}
	}
	for (unsigned i = 0; i < st->n; i++)
		st->r[i].m_at[st->ring_at] = st->r[i].m + st->r[i].sh;
	st->ring_at = (st->ring_at + 1) % RV_RATE_SAMPLES;
	if (st->ring_n < RV_RATE_SAMPLES)
		st->ring_n++;
}

/* Matches (shadow ones included) over the samples kept, per minute. */
static uint64_t
rv_rate(const struct rv_state *st, const struct rv_rule *r,
    unsigned refresh_ms)
{
	unsigned newest = (st->ring_at + RV_RATE_SAMPLES - 1) % RV_RATE_SAMPLES;
	unsigned oldest = st->ring_n < RV_RATE_SAMPLES ? 0 : st->ring_at;
	uint64_t span_ms = (uint64_t)(st->ring_n - 1) * refresh_ms;

	if (st->ring_n < 2 || span_ms == 0 ||
	    r->m_at[newest] < r->m_at[oldest])
		return 0;
	return (r->m_at[newest] - r->m_at[oldest]) * 60000 / span_ms;
}

/* ---- control calls -------------------------------------------------------- */

static void
rv_pack_get(msgpack_packer *pk, const void *arg)
{
	(void)arg;
	msgpack_pack_map(pk, 0);
}

static void
rv_pack_put(msgpack_packer *pk, const void *arg)
{
	const struct rv_state *st = arg;

	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, st->push_version);
	wire_pack_cstr(pk, "text");
	msgpack_pack_str_with_body(pk, st->text, st->len);
}

/* Whether the link never came up or the call went unanswered, the same
 * words: nothing was pushed, and r or e may simply be pressed again. */
static void
rv_fetch_failed(struct rv_state *st, int err)
{
	snprintf(st->note, sizeof(st->note), "rules_get from %.40s: %s; "
	    "nothing pushed, try again", st->ask_name, nudge_strerror(err));
	st->mode = RV_IDLE;
}

static void
rv_on_text(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct rv_state *st = arg;
	struct nudge_strv t = {"", 0};
	struct relayenv_leaf best = {.status = NUDGE_ENOTFOUND};

	(void)idx;
	if (st->mode != RV_FETCH)
		return;
	/* An unanswered fetch must not become an empty set to edit or push. */
	if (err != 0) {
		rv_fetch_failed(st, err);
		return;
	}
	relayenv_pick_newest(rp, &best);
	if (best.status != 0 && best.status != NUDGE_ENOTFOUND) {
		snprintf(st->note, sizeof(st->note), "rules_get: %.100s",
		    best.message);
		st->mode = RV_IDLE;
		return;
	}
	if (best.status == 0)
		wire_get_strv(best.body, "text", &t);
	free(st->text);
	st->len = t.len;
	if ((st->text = malloc(t.len + 1)) != NULL) {
		memcpy(st->text, t.ptr, t.len);
		st->text[t.len] = '\0';
	}
	st->mode = st->text != NULL ? RV_EDIT : RV_IDLE;
	if (st->reconcile && st->mode == RV_EDIT) {
		st->mode = RV_PUSH;	/* the newest text, as it is */
		st->until_ms = clock_mono_ms() + LINK_CALL_TIMEOUT_MS;
	}
}

/* One agent's answer to rules_put as shown; true if acknowledged. */
static bool
rv_ack_text(char *buf, size_t cap, int status, const char *message,
    const msgpack_object *body)
{
	uint64_t v = 0;

	if (status != 0)
		snprintf(buf, cap, "refused: %.60s", message);
	else if (wire_get_u64(body, "version", &v) == 0)
		snprintf(buf, cap, "acknowledged version %llu",
		    (unsigned long long)v);
	return status == 0;
}

/* The agents behind relay link `link`, one answer each. */
struct rv_leaf_walk {
	struct rv_state *st;
	unsigned link, n, ok;
	uint64_t version;
};

static void
rv_leaf_ack(void *arg, const struct relayenv_leaf *leaf)
{
	struct rv_leaf_walk *w = arg;
	struct rv_leaf_ack *l;

	w->n++;
	if (leaf->status == 0 && w->ok++ == 0)
		wire_get_u64(leaf->body, "version", &w->version);
	if (w->st->n_leaf == RV_LEAVES_MAX)
		return;
	l = &w->st->leaf[w->st->n_leaf++];
	l->link = w->link;
	snprintf(l->name, sizeof(l->name), "%s", leaf->name);
	if (leaf->status == NUDGE_ETIMEOUT || leaf->status == NUDGE_ECONN)
		snprintf(l->ack, sizeof(l->ack), "unreachable: %.60s",
		    leaf->message);
	else
		rv_ack_text(l->ack, sizeof(l->ack), leaf->status,
		    leaf->message, leaf->body);
}

/* Drops what agents behind link idx said to an earlier push. */
static void
rv_leaf_clear(struct rv_state *st, unsigned idx)
{
	unsigned k = 0;

	for (unsigned i = 0; i < st->n_leaf; i++)
		if (st->leaf[i].link != idx)
			st->leaf[k++] = st->leaf[i];
	st->n_leaf = k;
}

static void
rv_on_ack(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct rv_state *st = arg;
	struct rv_leaf_walk w = {st, idx, 0, 0, 0};

	if (idx >= CONF_AGENTS_MAX)
		return;
	rv_leaf_clear(st, idx);
	if (err != 0)
		snprintf(st->ack[idx], sizeof(st->ack[idx]), "unreachable: %s",
		    nudge_strerror(err));
	else if (!relayenv_is(rp))
		rv_ack_text(st->ack[idx], sizeof(st->ack[idx]), rp->status,
		    rp->message, rp->body);
	else if (relayenv_each(rp, rv_leaf_ack, &w) > 0)
		snprintf(st->ack[idx], sizeof(st->ack[idx]), "%u of %u "
		    "acknowledged version %llu", w.ok, w.n,
		    (unsigned long long)w.version);
	st->ack_ms[idx] = clock_mono_ms();
}

/* Sends what is still due; a busy or dialling link waits a tick. */
static void
rv_push_due(struct rv_state *st, struct ui *ui)
{
	uint8_t id[WIRE_ID_LEN];
	bool left = false;

	if (ctlreq_build(&st->sb, "rules_put", rv_pack_put, st, id) != 0)
		return;
	for (unsigned i = 0; i < ui->n_links && i < CONF_AGENTS_MAX; i++) {
		if (!st->want[i])
			continue;
		int rv = link_call(&ui->links[i], &st->sb, id, rv_on_ack, st,
		    ui->now_ms);
		if (rv == 0 || (rv == NUDGE_ECONN &&
		    ui->now_ms >= st->until_ms)) {
			st->want[i] = false;
			if (rv != 0)
				snprintf(st->ack[i], sizeof(st->ack[i]),
				    "unreachable: no control link");
			else
				snprintf(st->ack[i], sizeof(st->ack[i]),
				    "sent...");
			rv_leaf_clear(st, i);
			st->ack_ms[i] = ui->now_ms;
		} else {
			left = true;
		}
	}
	if (!left)
		st->mode = RV_IDLE;
}

/* Marks the agents to push to: all, or only those behind (reconcile). */
static unsigned
rv_targets(struct rv_state *st, const struct ui *ui, uint64_t desired)
{
	unsigned n = 0;

	for (unsigned i = 0; i < ui->n_links && i < CONF_AGENTS_MAX; i++) {
		const struct model_agent *a = &ui->model->agents[i];
		st->want[i] = !st->reconcile ||
		    (a->have_snapshot && a->snap.rules_version < desired);
		st->ack[i][0] = '\0';
		n += st->want[i];
	}
	return n;
}

/* ---- editing ---------------------------------------------------------------- */

static int
rv_write_file(struct rv_state *st)
{
	FILE *f;
	int fd;

	if (st->path[0] == '\0') {
		snprintf(st->path, sizeof(st->path), "/tmp/nudge-rules-XXXXXX");
		if ((fd = mkstemp(st->path)) < 0) {
			st->path[0] = '\0';
			return NUDGE_EIO;
		}
		close(fd);
		if ((f = fopen(st->path, "w")) == NULL)
			return NUDGE_EIO;
		if (st->len == 0)
			fputs("# the rule set of every agent (nudge-rules(5))\n", f);
		else
			fwrite(st->text, 1, st->len, f);
		fclose(f);
	}
	return 0;
}

static int
rv_read_file(struct rv_state *st)
{
	FILE *f = fopen(st->path, "rb");
	char *buf = malloc(RULE_SOURCE_MAX + 1);
	size_t n;

	if (f == NULL || buf == NULL) {
		if (f != NULL)
			fclose(f);
		free(buf);
		return NUDGE_EIO;
	}
	n = fread(buf, 1, RULE_SOURCE_MAX, f);
	fclose(f);
	buf[n] = '\0';
	free(st->text);
	st->text = buf;
	st->len = n;
	return 0;
}

/* Runs $EDITOR on the file outside curses, then checks what was saved. */
static void
rv_edit(struct rv_state *st, struct ui *ui)
{
	const char *ed = getenv("EDITOR");
	char cmd[256];
	struct rule_set *set = NULL;
	int who;

	if (rv_write_file(st) != 0) {
		snprintf(st->note, sizeof(st->note), "cannot write a temp file");
		st->mode = RV_IDLE;
		return;
	}
	snprintf(cmd, sizeof(cmd), "%.180s '%s'", ed && *ed ? ed : "vi",
	    st->path);
	def_prog_mode();
	endwin();
	if (system(cmd) == -1)
		snprintf(st->note, sizeof(st->note), "cannot run %.100s", cmd);
	reset_prog_mode();
	refresh();
	if (rv_read_file(st) != 0) {
		st->mode = RV_IDLE;
		return;
	}
	if (rule_compile(st->text, st->len, &set, &st->errs) != 0) {
		st->mode = RV_ERRORS;
		return;
	}
	rule_set_free(set);
	st->push_version = rv_desired(ui, &who) + 1;
	rv_targets(st, ui, 0);
	st->mode = RV_CONFIRM;
}

/* Sends the fetch once the asked link is free; gives up at until_ms. */
static void
rv_ask_due(struct rv_state *st, struct ui *ui)
{
	int rv = ctlreq_send(&ui->links[st->ask_who], &st->sb, "rules_get",
	    rv_pack_get, NULL, rv_on_text, st, ui->now_ms);

	if (rv == 0) {
		st->mode = RV_FETCH;
	} else if (ui->now_ms >= st->until_ms) {
		rv_fetch_failed(st, rv);
	}
}

/* Asks the newest agent for its text (to edit, or to reconcile with). */
static void
rv_fetch(struct rv_state *st, struct ui *ui, bool reconcile)
{
	int who;
	uint64_t desired = rv_desired(ui, &who);

	st->reconcile = reconcile;
	st->note[0] = '\0';
	st->busy_key = 0;
	if (reconcile && rv_targets(st, ui, desired) == 0) {
		snprintf(st->note, sizeof(st->note), "no drift: every agent "
		    "runs version %llu", (unsigned long long)desired);
		return;
	}
	if (who < 0) {
		snprintf(st->note, sizeof(st->note), "no agent to ask for the "
		    "rule set; try again");
		return;
	}
	st->push_version = desired;
	st->ask_who = who;
	snprintf(st->ask_name, sizeof(st->ask_name), "%s",
	    ui->model->agents[who].name);
	st->until_ms = ui->now_ms + LINK_CALL_TIMEOUT_MS;
	st->mode = RV_ASK;
	rv_ask_due(st, ui);
}

static void
rv_update(void *p, struct ui *ui)
{
	struct rv_state *st = p;

	rv_collect(st, ui);
	if (st->mode == RV_ASK)
		rv_ask_due(st, ui);
	if (st->mode == RV_EDIT)
		rv_edit(st, ui);
	if (st->mode == RV_PUSH)
		rv_push_due(st, ui);
	ui->dirty = true;
}

/* ---- drawing ---------------------------------------------------------------- */

/* The newest answer for agent i: ours (e, r) or the automatic push's. */
static const char *
rv_ack(const struct rv_state *st, const struct ui *ui, unsigned i)
{
	uint64_t at;
	const char *auto_ack = reconcile_ack(ui->rec, i, &at);

	return auto_ack[0] != '\0' && at > st->ack_ms[i] ? auto_ack :
	    st->ack[i];
}

/* Under a relay's row: what each agent behind it said to our push. */
static int
rv_draw_leaves(const struct rv_state *st, WINDOW *w, unsigned link, int y)
{
	for (unsigned k = 0; k < st->n_leaf && y < getmaxy(w) - 2; k++)
		if (st->leaf[k].link == link)
			draw_text(w, y++, 1, A_NORMAL, "  %-14.14s %8s %8s  "
			    "%-11.11s %.32s", st->leaf[k].name, "", "",
			    "via relay", st->leaf[k].ack);
	return y;
}

static int
rv_draw_agents(struct rv_state *st, WINDOW *w, struct ui *ui, int y)
{
	int who;
	uint64_t desired = rv_desired(ui, &who);

	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL), "%-16s %8s %8s  %s",
	    "AGENT", "VERSION", "SHADOW", ui->viewer ? "STATE" :
	    ui->rec->enabled ? "STATE       (drift: reconciled automatically)" :
	    "STATE       (drift: r reconciles, e edits)");
	for (unsigned i = 0; i < ui->n_links && i < CONF_AGENTS_MAX; i++) {
		const struct model_agent *a = &ui->model->agents[i];
		bool behind = a->have_snapshot &&
		    a->snap.rules_version < desired;
		const char *state = !a->have_snapshot ? "no snapshot" :
		    behind ? "BEHIND" : "in force";
		draw_text(w, y++, 1, behind || !a->have_snapshot ?
		    draw_attr(ui, DRAW_BAD) : A_NORMAL, "%-16.16s %8llu %8llu  "
		    "%-11.11s %.32s", a->name[0] ? a->name : "?",
		    (unsigned long long)a->snap.rules_version,
		    (unsigned long long)a->snap.shadow_version, state,
		    rv_ack(st, ui, i));
		if (rv_ack(st, ui, i) == st->ack[i])
			y = rv_draw_leaves(st, w, i, y);
	}
	return y;
}

/* "+22%", or "n/a" when the uplift is undefined. */
static void
rv_pct(char *buf, size_t cap, double v)
{
	snprintf(buf, cap, "%+.0f%%", v * 100.0);
}

/*
 * One rule's measured lift from its holdout, summed over the agents:
 * purchase rate of the sessions shown the action against the held-out
 * ones, uplift with its 95% interval, two-sided p (stats_compare).
 */
static void
rv_draw_lift(WINDOW *w, int y, const struct ui *ui, const struct rv_rule *r)
{
	struct stats_counts held = {.visitors = r->hn, .conversions = r->hx};
	struct stats_counts shown = {.visitors = r->tn, .conversions = r->tx};
	struct stats_cmp c;
	char up[16] = "n/a", lo[16] = "", hi[16] = "", ci[40] = "";

	if (r->tx > r->tn || r->hx > r->hn ||
	    stats_compare(&held, &shown, 0.95, &c) != 0) {
		draw_text(w, y, 1, A_NORMAL, "%-16.16s (inconsistent counts)",
		    r->name);
		return;
	}
	if (!(c.flags & (STATS_F_NODATA | STATS_F_NO_UPLIFT)))
		rv_pct(up, sizeof(up), c.uplift);
	if (!(c.flags & (STATS_F_NODATA | STATS_F_NO_UPLIFT |
	    STATS_F_NO_UPLIFT_CI))) {
		rv_pct(lo, sizeof(lo), c.uplift_lo);
		rv_pct(hi, sizeof(hi), c.uplift_hi);
		snprintf(ci, sizeof(ci), " [%s, %s]", lo, hi);
	}
	draw_text(w, y, 1, c.flags & (STATS_F_NODATA | STATS_F_SMALL) ?
	    A_NORMAL : c.p_value < 0.05 ? draw_attr(ui, c.diff > 0 ?
	    DRAW_GOOD : DRAW_BAD) : A_NORMAL,
	    "%-16.16s %5.1f%% of %-6llu %5.1f%% of %-6llu %s%s p=%.3f%s",
	    r->name, r->tn ? 100.0 * (double)r->tx / (double)r->tn : 0.0,
	    (unsigned long long)r->tn,
	    r->hn ? 100.0 * (double)r->hx / (double)r->hn : 0.0,
	    (unsigned long long)r->hn, up, ci, c.p_value,
	    c.flags & (STATS_F_NODATA | STATS_F_SMALL) ? " *" : "");
}

static void
rv_draw_rules(struct rv_state *st, WINDOW *w, struct ui *ui, int y)
{
	int rows = getmaxy(w) - y - 1, n_lift = 0;

	for (unsigned i = 0; i < st->n; i++)
		n_lift += st->r[i].tn + st->r[i].hn > 0;
	if (n_lift > rows / 3)
		n_lift = rows / 3;
	rows -= n_lift > 0 ? n_lift + 2 : 0;
	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL),
	    "%-20s %8s %8s %8s %8s %8s %8s", "RULE", "MATCH/m", "SHOWN",
	    "CAPPED", "SHADOW", "SH.SEEN", "HOLDOUT");
	if (st->top > (int)st->n - 1)
		st->top = st->n > 0 ? (int)st->n - 1 : 0;
	for (int i = st->top; i < (int)st->n && i - st->top < rows - 1; i++) {
		const struct rv_rule *r = &st->r[i];
		draw_text(w, y++, 1, r->shadow_set || r->sh ?
		    draw_attr(ui, DRAW_LABEL) : A_NORMAL,
		    "%-20.20s %8llu %8llu %8llu %8llu %8llu %8llu%s", r->name,
		    (unsigned long long)rv_rate(st, r, ui->refresh_ms),
		    (unsigned long long)r->s, (unsigned long long)r->c,
		    (unsigned long long)r->sh, (unsigned long long)r->sho,
		    (unsigned long long)r->ho,
		    r->shadow_set ? " (shadow set)" : "");
	}
	if (st->n == 0)
		draw_text(w, y, 1, A_NORMAL, "no rules yet%s", ui->viewer ? "" :
		    ": e writes the first set");
	if (n_lift == 0)
		return;
	y = getmaxy(w) - n_lift - 1;
	draw_text(w, y++, 1, draw_attr(ui, DRAW_LABEL), "%-16s %-16s %-16s %s",
	    "HOLDOUT LIFT", "SHOWN, BOUGHT", "HELD OUT", "UPLIFT [95% CI] p"
	    " (*: few)");
	for (unsigned i = 0; i < st->n && n_lift > 0; i++)
		if (st->r[i].tn + st->r[i].hn > 0) {
			rv_draw_lift(w, y++, ui, &st->r[i]);
			n_lift--;
		}
}

static int
rv_draw_mode(struct rv_state *st, WINDOW *w, struct ui *ui, int y)
{
	attr_t bad = draw_attr(ui, DRAW_BAD);

	if (st->mode == RV_ERRORS) {
		draw_text(w, y++, 1, bad, "%u errors; nothing pushed (e edits "
		    "again, Esc drops):", st->errs.n);
		for (unsigned i = 0; i < st->errs.n && i < RV_ERRS_SHOWN; i++)
			draw_text(w, y++, 3, bad, "%d:%d: %.70s",
			    st->errs.e[i].line, st->errs.e[i].col,
			    st->errs.e[i].msg);
	} else if (st->mode == RV_CONFIRM) {
		char names[160] = "";
		size_t at = 0;
		for (unsigned i = 0; i < ui->n_links && at < sizeof(names); i++)
			if (st->want[i])
				at += (size_t)snprintf(names + at,
				    sizeof(names) - at, "%s%s", at ? ", " : "",
				    ui->model->agents[i].name[0] ?
				    ui->model->agents[i].name : "?");
		draw_text(w, y++, 1, draw_attr(ui, DRAW_GOOD), "compiles.  "
		    "push as version %llu to %.100s?  y/n",
		    (unsigned long long)st->push_version, names);
	} else if (st->mode == RV_ASK || st->mode == RV_FETCH ||
	    st->mode == RV_PUSH) {
		char hint[48] = "";
		if (st->busy_key != 0)
			snprintf(hint, sizeof(hint), "  (%c not taken: one "
			    "change at a time)", st->busy_key);
		draw_text(w, y++, 1, A_NORMAL, "%s%s", st->mode != RV_PUSH ?
		    "asking for the rule set..." : "pushing...", hint);
	} else if (st->note[0] != '\0') {
		draw_text(w, y++, 1, A_NORMAL, "%s", st->note);
	}
	return y;
}

static void
rv_draw(void *p, WINDOW *w, struct ui *ui)
{
	struct rv_state *st = p;
	int y = rv_draw_agents(st, w, ui, 1);

	y = rv_draw_mode(st, w, ui, y);
	rv_draw_rules(st, w, ui, y + 1);
}

static int
rv_key(void *p, struct ui *ui, int ch)
{
	struct rv_state *st = p;

	if (st->mode == RV_CONFIRM && (ch == 'y' || ch == 'Y')) {
		st->mode = RV_PUSH;
		st->until_ms = ui->now_ms + LINK_CALL_TIMEOUT_MS;
		return VIEW_HANDLED | VIEW_REDRAW | VIEW_FETCH;
	}
	if ((st->mode == RV_CONFIRM || st->mode == RV_ERRORS) &&
	    (ch == 'n' || ch == 27)) {
		st->mode = RV_IDLE;
		snprintf(st->note, sizeof(st->note), "nothing pushed");
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (ch == KEY_UP || ch == 'k' || ch == KEY_DOWN || ch == 'j') {
		st->top += ch == KEY_UP || ch == 'k' ? -1 : 1;
		if (st->top < 0)
			st->top = 0;
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (ui->viewer || (ch != 'e' && ch != 'r'))
		return VIEW_IGNORED;	/* read-only: no change keys */
	if (ch == 'e' && st->mode == RV_ERRORS) {
		st->mode = RV_EDIT;	/* the same file, errors and all */
		return VIEW_HANDLED | VIEW_FETCH;
	}
	if (st->mode == RV_ASK || st->mode == RV_FETCH || st->mode == RV_PUSH) {
		st->busy_key = ch;	/* said on the mode line, not queued */
		return VIEW_HANDLED | VIEW_REDRAW;
	}
	if (st->mode != RV_IDLE)
		return VIEW_HANDLED;
	if (ch == 'e' && st->path[0] != '\0') {
		unlink(st->path);	/* a fresh copy of the newest text */
		st->path[0] = '\0';
	}
	rv_fetch(st, ui, ch == 'r');
	return VIEW_HANDLED | VIEW_REDRAW;
}

const struct view_ops view_rules = {
	.name = "rules",
	.help = "e  edit the rule set in $EDITOR, check, push on y\n"
		"r  reconcile: push the newest version to agents behind\n"
		"j k  scroll the rules\n"
		"(read-only consoles: no e, no r)\n",
	.init = rv_init,
	.fini = rv_fini,
	.update = rv_update,
	.draw = rv_draw,
	.key = rv_key,
};
