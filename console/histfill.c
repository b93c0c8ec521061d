/*
 * histfill.c - the console's history back-fill (see histfill.h).  Owns the
 * per-agent state and a request buffer; main thread.
 */
#include "histfill.h"

#include <stdlib.h>
#include <string.h>

#include "ctlreq.h"
#include "relayenv.h"

enum { HF_WAIT = 0, HF_SENT, HF_DONE };

struct histfill {
	struct ui *ui;
	unsigned n;
	int *state;
	unsigned *tries;         /* answers that were errors, per agent */
	uint64_t started_ms;     /* mono */
	uint64_t from_ms, to_ms; /* wall */
	unsigned minutes;
	msgpack_sbuffer sb;
};

struct histfill *
histfill_new(struct ui *ui)
{
	struct histfill *hf = calloc(1, sizeof(*hf));

	size_t n = ui->n_links ? ui->n_links : 1;

	if (hf == NULL || (hf->state = calloc(n, sizeof(*hf->state))) == NULL ||
	    (hf->tries = calloc(n, sizeof(*hf->tries))) == NULL) {
		if (hf != NULL)
			free(hf->state);
		free(hf);
		return NULL;
	}
	hf->ui = ui;
	hf->n = ui->n_links;
	hf->started_ms = ui->now_ms;
	hf->to_ms = ui->wall_ms;
	hf->from_ms = ui->wall_ms - (uint64_t)HIST_RING_MIN * HIST_MINUTE_MS;
	msgpack_sbuffer_init(&hf->sb);
	return hf;
}

void
histfill_free(struct histfill *hf)
{
	if (hf == NULL)
		return;
	msgpack_sbuffer_destroy(&hf->sb);
	free(hf->state);
	free(hf->tries);
	free(hf);
}

bool
histfill_ready(const struct histfill *hf, unsigned idx)
{
	return hf == NULL || idx >= hf->n || hf->state[idx] == HF_DONE;
}

unsigned
histfill_minutes(const struct histfill *hf)
{
	return hf != NULL ? hf->minutes : 0;
}

static void
hf_pack_args(msgpack_packer *pk, const void *arg)
{
	const struct histfill *hf = arg;

	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "from_ms");
	msgpack_pack_uint64(pk, hf->from_ms);
	wire_pack_cstr(pk, "to_ms");
	msgpack_pack_uint64(pk, hf->to_ms + HIST_MINUTE_MS);
}

/*
 * One agent's answer being applied: its rows are filled at once, its
 * totals summed (a relay's answer holds every agent behind it, and the
 * relay is one agent to the history: one baseline, the sum).
 */
struct hf_apply {
	struct histfill *hf;
	uint64_t now[HIST_SERIES];
	bool have[HIST_SERIES];
	uint64_t boot;		/* the first leaf's, for a plain agent */
	unsigned leaves, minutes;
};

/* The name at names[k] into buf, or false. */
static bool
hf_name(const msgpack_object *names, uint32_t k, char *buf, size_t cap)
{
	const msgpack_object *nm = &names->via.array.ptr[k];

	if (nm->type != MSGPACK_OBJECT_STR || nm->via.str.size >= cap)
		return false;
	memcpy(buf, nm->via.str.ptr, nm->via.str.size);
	buf[nm->via.str.size] = '\0';
	return true;
}

/* rows: [[minute, v...]] into the history; returns minutes that added. */
static unsigned
hf_rows(struct histfill *hf, const msgpack_object *names,
    const msgpack_object *rows)
{
	uint32_t nn = names->via.array.size;
	unsigned minutes = 0;
	char name[64];

	for (uint32_t r = 0; r < rows->via.array.size; r++) {
		const msgpack_object *row = &rows->via.array.ptr[r];
		bool any = false;

		if (row->type != MSGPACK_OBJECT_ARRAY ||
		    row->via.array.size != nn + 1 ||
		    row->via.array.ptr[0].type !=
		        MSGPACK_OBJECT_POSITIVE_INTEGER)
			continue;
		for (uint32_t k = 0; k < nn; k++) {
			const msgpack_object *v = &row->via.array.ptr[k + 1];

			if (!hf_name(names, k, name, sizeof(name)) ||
			    v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				continue;
			any |= hist_fill(hf->ui->hist,
			    row->via.array.ptr[0].via.u64, name, v->via.u64);
		}
		minutes += any;
	}
	return minutes;
}

/* One agent's {names, rows, now, boot}: rows filled, now summed. */
static void
hf_leaf(void *arg, const struct relayenv_leaf *leaf)
{
	struct hf_apply *ap = arg;
	const msgpack_object *body = leaf->body;
	const msgpack_object *names = wire_map_get(body, "names");
	const msgpack_object *rows = wire_map_get(body, "rows");
	const msgpack_object *now = wire_map_get(body, "now");
	char name[64];
	unsigned minutes;

	if (leaf->status != 0 || names == NULL ||
	    names->type != MSGPACK_OBJECT_ARRAY || rows == NULL ||
	    rows->type != MSGPACK_OBJECT_ARRAY)
		return;
	if (ap->leaves++ == 0)
		wire_get_u64(body, "boot", &ap->boot);
	minutes = hf_rows(ap->hf, names, rows);
	if (minutes > ap->minutes)
		ap->minutes = minutes;
	for (uint32_t k = 0;
	     now != NULL && now->type == MSGPACK_OBJECT_ARRAY &&
	     k < now->via.array.size && k < names->via.array.size;
	     k++) {
		const msgpack_object *v = &now->via.array.ptr[k];
		int s;

		if (!hf_name(names, k, name, sizeof(name)) ||
		    v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    (s = hist_series_index(name)) < 0)
			continue;
		ap->now[s] += v->via.u64;
		ap->have[s] = true;
	}
}

/*
 * names: [str], rows: [[minute, v...]], now: [v...], boot: uint; or a
 * relay's envelope of those.  The baseline is set under the boot id the
 * model holds for idx: a relay's own, which is what hist_observe() gets
 * with the relay's (summed) aggregates.
 */
static void
hf_apply(struct histfill *hf, unsigned idx, const struct wire_reply *rp)
{
	struct hf_apply ap = {.hf = hf};
	bool relay = relayenv_is(rp);
	uint64_t boot;

	relayenv_each(rp, hf_leaf, &ap);
	hf->minutes += ap.minutes;
	boot = relay ? hf->ui->model->agents[idx].boot_id : ap.boot;
	for (int s = 0; s < HIST_SERIES; s++)
		if (ap.have[s])
			hist_set_base(hf->ui->hist, idx, boot,
			    hist_series_name(s), ap.now[s]);
	hist_fill_commit(hf->ui->hist);
}

static void
hf_on_reply(void *arg, unsigned idx, int err, const struct wire_reply *rp)
{
	struct histfill *hf = arg;

	if (idx >= hf->n)
		return;
	/* no answer (a timeout under load): ask again, a few times */
	if (err != 0 && ++hf->tries[idx] < HISTFILL_TRIES) {
		hf->state[idx] = HF_WAIT;
		return;
	}
	hf->state[idx] = HF_DONE;
	hist_forget(hf->ui->hist, idx); /* count from its next values */
	if (err != 0 || rp->status != 0)
		return;
	hf_apply(hf, idx, rp);
	hf->ui->dirty = true;
}

void
histfill_tick(struct histfill *hf, struct ui *ui)
{
	uint8_t id[WIRE_ID_LEN];
	bool built = false;

	for (unsigned i = 0; i < hf->n; i++) {
		int rv;

		if (hf->state[i] != HF_WAIT)
			continue;
		if (!ui->model->agents[i].have_snapshot) {
			/* no control URL yet: give up after a while */
			if (ui->now_ms - hf->started_ms > HISTFILL_GIVEUP_MS)
				hf->state[i] = HF_DONE;
			continue;
		}
		if (!built && ctlreq_build(&hf->sb, "history", hf_pack_args,
		                  hf, id) != 0)
			return;
		built = true;
		rv = link_call(
		    &ui->links[i], &hf->sb, id, hf_on_reply, hf, ui->now_ms);
		if (rv == 0)
			hf->state[i] = HF_SENT;
	}
}
