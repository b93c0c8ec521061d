/*
 * cmd_heat.c - the heatmap control commands (viewer role): heat_pages, the
 * pages that hold clicks or scroll depths, most clicked first; heat, one
 * page's full totals.  They read the agent's heat table, which needs no
 * lock for reading, and change nothing.  Run on nng worker threads.
 */
#include <stdlib.h>

#include "command.h"
#include "heat.h"

static int
heat_pages_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct heat_page_info *v;
	uint64_t lim = 50;
	size_t n;
	int rv;

	if (rq->args != NULL &&
	    (rv = wire_get_u64(rq->args, "lim", &lim)) != 0 &&
	    rv != NUDGE_ENOTFOUND) {
		nudge_diag_set(d, 0, 0, "lim: expected an unsigned integer");
		return rv;
	}
	if (lim > WIRE_HEAT_LIST_MAX) {
		nudge_diag_set(d, 0, 0, "lim must be <= %d",
		    WIRE_HEAT_LIST_MAX);
		return NUDGE_ERANGE;
	}
	if ((v = malloc((lim ? lim : 1) * sizeof(*v))) == NULL)
		return NUDGE_ENOMEM;
	if ((rv = heat_pages(a->heat, v, lim, &n)) != 0) {
		nudge_diag_set(d, 0, 0, "out of memory");
		free(v);
		return rv;
	}
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(pk, 3);
		wire_pack_cstr(pk, heat_page_name(a->heat, v[i].id));
		msgpack_pack_uint64(pk, v[i].clicks);
		msgpack_pack_uint64(pk, v[i].views);
	}
	free(v);
	return 0;
}

const struct cmd_ops cmd_heat_pages = {
	.name = "heat_pages",
	.role = ROLE_VIEWER,
	.run = heat_pages_run,
};

static void
heat_pack_totals(msgpack_packer *pk, const struct heat_totals *t)
{
	msgpack_pack_map(pk, 5);
	wire_pack_cstr(pk, "page");
	wire_pack_cstr(pk, t->page);
	wire_pack_cstr(pk, "cols");
	msgpack_pack_uint32(pk, HEAT_COLS);
	wire_pack_cstr(pk, "rows");
	msgpack_pack_uint32(pk, HEAT_ROWS);
	wire_pack_cstr(pk, "clicks");
	msgpack_pack_array(pk, HEAT_CELLS);
	for (unsigned i = 0; i < HEAT_CELLS; i++)
		msgpack_pack_uint32(pk, t->cells[i]);
	wire_pack_cstr(pk, "scroll");
	msgpack_pack_array(pk, HEAT_BANDS);
	for (unsigned k = 0; k < HEAT_BANDS; k++)
		msgpack_pack_uint32(pk, t->reach[k]);
}

static int
heat_run(struct agent *a, const struct wire_request *rq, msgpack_packer *pk,
    struct nudge_diag *d)
{
	struct heat_totals *t;
	struct nudge_strv page;
	uint32_t id;
	int rv;

	if (rq->args == NULL || wire_get_strv(rq->args, "page", &page) != 0 ||
	    page.len > WIRE_HEAT_PAGE_MAX) {
		nudge_diag_set(d, 0, 0, "page: the page path is required "
		    "(at most %d bytes)", WIRE_HEAT_PAGE_MAX);
		return NUDGE_EINVAL;
	}
	if (heat_find(a->heat, page, &id) != 0) {
		nudge_diag_set(d, 0, 0, "no heatmap for page '%.*s'",
		    (int)(page.len < 200 ? page.len : 200), page.ptr);
		return NUDGE_ENOTFOUND;
	}
	if ((t = malloc(sizeof(*t))) == NULL)
		return NUDGE_ENOMEM;
	if ((rv = heat_page_get(a->heat, id, t)) == 0)
		heat_pack_totals(pk, t);
	else
		nudge_diag_set(d, 0, 0, "no heatmap for this page");
	free(t);
	return rv;
}

const struct cmd_ops cmd_heat = {
	.name = "heat",
	.role = ROLE_VIEWER,
	.run = heat_run,
};
