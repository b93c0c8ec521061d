/*
 * wire_camp.c - the campaign part of the wire format: a campaign as the
 * snapshot and campaign_list carry it, and a campaign change (the
 * campaign_change command's args).  Declared in wire.h with the rest of
 * the format, which stays one document; the code lives apart so that
 * each file reads in one sitting.  Strict and bounded like wire.c, and as
 * free of state.
 */
#include "wire.h"

#include <string.h>

#define WIRE_DROP_BP_MAX 10000	/* a guardrail's drop: at most 100% */

/* "steps": one list per arm, without its trailing zeros. */
static void
pack_camp_steps(msgpack_packer *pk, const struct wire_campaign *c,
    unsigned na)
{
	wire_pack_cstr(pk, "steps");
	msgpack_pack_array(pk, na);
	for (unsigned i = 0; i < na; i++) {
		const uint64_t *s = c->arm[i].steps;
		unsigned n = AGG_STEPS_MAX;

		while (n > 0 && s[n - 1] == 0)
			n--;
		msgpack_pack_array(pk, n);
		for (unsigned k = 0; k < n; k++)
			msgpack_pack_uint64(pk, s[k]);
	}
}

void
wire_pack_campaign(msgpack_packer *pk, const struct wire_campaign *c)
{
	char text[CAMP_TEXT_MAX + 1];
	size_t len = 0;
	unsigned ng = c->n_guard < RULE_GUARDRAILS_MAX ? c->n_guard :
	    RULE_GUARDRAILS_MAX;
	unsigned na = c->c.n_variants < CAMP_VARIANTS_MAX ?
	    c->c.n_variants : CAMP_VARIANTS_MAX;

	/* An unformattable campaign packs "", which every decoder refuses. */
	if (camp_format(&c->c, text, sizeof(text), &len) != 0)
		len = 0;
	msgpack_pack_map(pk, 6);
	wire_pack_cstr(pk, "t");
	msgpack_pack_str_with_body(pk, text, len);
	wire_pack_cstr(pk, "since");
	msgpack_pack_uint64(pk, c->since_ms);
	wire_pack_cstr(pk, "goal");
	msgpack_pack_str_with_body(pk, c->goal,
	    strnlen(c->goal, sizeof(c->goal) - 1));
	wire_pack_cstr(pk, "gr");
	msgpack_pack_array(pk, ng);
	for (unsigned i = 0; i < ng; i++) {
		msgpack_pack_array(pk, 2);
		msgpack_pack_str_with_body(pk, c->guard[i],
		    strnlen(c->guard[i], sizeof(c->guard[i]) - 1));
		msgpack_pack_uint16(pk, c->guard_drop_bp[i]);
	}
	wire_pack_cstr(pk, "arms");
	msgpack_pack_array(pk, na);
	for (unsigned i = 0; i < na; i++) {
		const struct wire_camp_arm *a = &c->arm[i];

		msgpack_pack_array(pk, 4);
		msgpack_pack_uint64(pk, a->n);
		msgpack_pack_uint64(pk, a->x);
		msgpack_pack_int64(pk, a->rev_cents);
		msgpack_pack_array(pk, ng);
		for (unsigned j = 0; j < ng; j++)
			msgpack_pack_uint64(pk, a->g[j]);
	}
	pack_camp_steps(pk, c, na);
}

/* What the decoder of one campaign has seen so far. */
struct camp_dec {
	struct wire_campaign *c;
	bool have_text;
	uint8_t n_arms;
	uint8_t max_g;		/* the most g[] entries of any arm */
	uint8_t n_steps;	/* step lists seen */
};

static int
camp_dec_text(const msgpack_object *v, struct camp_dec *cd)
{
	struct nudge_diag d;

	if (v->type != MSGPACK_OBJECT_STR)
		return NUDGE_ETYPE;
	if (v->via.str.size > CAMP_TEXT_MAX)
		return NUDGE_ETOOBIG;
	cd->have_text = true;
	return camp_parse(v->via.str.size ? v->via.str.ptr : "",
	    v->via.str.size, &cd->c->c, &d);
}

static int
camp_dec_since(const msgpack_object *v, struct camp_dec *cd)
{
	return wire_obj_u64(v, &cd->c->since_ms);
}

static int
camp_dec_goal(const msgpack_object *v, struct camp_dec *cd)
{
	return wire_obj_cstr(v, cd->c->goal, sizeof(cd->c->goal));
}

/* [name, max_drop_bp] */
static int
camp_dec_guard(const msgpack_object *v, struct camp_dec *cd, unsigned i)
{
	uint64_t bp;
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (v->via.array.size != 2)
		return NUDGE_EINVAL;
	if ((rc = wire_obj_cstr(&v->via.array.ptr[0], cd->c->guard[i],
	    sizeof(cd->c->guard[i]))) != 0 ||
	    (rc = wire_obj_u64(&v->via.array.ptr[1], &bp)) != 0)
		return rc;
	if (bp > WIRE_DROP_BP_MAX)
		return NUDGE_ERANGE;
	cd->c->guard_drop_bp[i] = (uint16_t)bp;
	return 0;
}

static int
camp_dec_guards(const msgpack_object *v, struct camp_dec *cd)
{
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (v->via.array.size > RULE_GUARDRAILS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < v->via.array.size; i++)
		if ((rc = camp_dec_guard(&v->via.array.ptr[i], cd, i)) != 0)
			return rc;
	cd->c->n_guard = (uint8_t)v->via.array.size;
	return 0;
}

/* [n, x, rev, [g...]]: x and every g[i] count sessions among the n. */
static int
camp_dec_arm(const msgpack_object *v, struct wire_camp_arm *a,
    uint8_t *n_g)
{
	const msgpack_object *e, *g;
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (v->via.array.size != 4)
		return NUDGE_EINVAL;
	e = v->via.array.ptr;
	if ((rc = wire_obj_u64(&e[0], &a->n)) != 0 ||
	    (rc = wire_obj_u64(&e[1], &a->x)) != 0 ||
	    (rc = wire_obj_i64(&e[2], &a->rev_cents)) != 0)
		return rc;
	g = &e[3];
	if (g->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (g->via.array.size > RULE_GUARDRAILS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t j = 0; j < g->via.array.size; j++)
		if ((rc = wire_obj_u64(&g->via.array.ptr[j], &a->g[j])) != 0)
			return rc;
		else if (a->g[j] > a->n)
			return NUDGE_EINVAL;
	if (a->x > a->n)
		return NUDGE_EINVAL;
	*n_g = (uint8_t)g->via.array.size;
	return 0;
}

static int
camp_dec_arms(const msgpack_object *v, struct camp_dec *cd)
{
	uint8_t n_g;
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (v->via.array.size > CAMP_VARIANTS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		if ((rc = camp_dec_arm(&v->via.array.ptr[i], &cd->c->arm[i],
		    &n_g)) != 0)
			return rc;
		if (n_g > cd->max_g)
			cd->max_g = n_g;
	}
	cd->n_arms = (uint8_t)v->via.array.size;
	return 0;
}

/* [s0, s1, ...] of one arm: each at most the count before it. */
static int
camp_dec_step_list(const msgpack_object *v, uint64_t *steps)
{
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (v->via.array.size > AGG_STEPS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t k = 0; k < v->via.array.size; k++)
		if ((rc = wire_obj_u64(&v->via.array.ptr[k], &steps[k])) != 0)
			return rc;
		else if (k > 0 && steps[k] > steps[k - 1])
			return NUDGE_EINVAL;
	return 0;
}

/* Checked against the arms' n once the whole map is read. */
static int
camp_dec_steps(const msgpack_object *v, struct camp_dec *cd)
{
	int rc;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return NUDGE_ETYPE;
	if (v->via.array.size > CAMP_VARIANTS_MAX)
		return NUDGE_ETOOBIG;
	for (uint32_t i = 0; i < v->via.array.size; i++)
		if ((rc = camp_dec_step_list(&v->via.array.ptr[i],
		    cd->c->arm[i].steps)) != 0)
			return rc;
	cd->n_steps = (uint8_t)v->via.array.size;
	return 0;
}

/* Every step count within its arm's n (a repeated key included). */
static bool
camp_steps_ok(const struct camp_dec *cd)
{
	if (cd->n_steps > cd->n_arms)
		return false;
	for (unsigned i = 0; i < CAMP_VARIANTS_MAX; i++)
		for (unsigned k = 0; k < AGG_STEPS_MAX; k++)
			if (cd->c->arm[i].steps[k] > cd->c->arm[i].n ||
			    (k > 0 && cd->c->arm[i].steps[k] >
			    cd->c->arm[i].steps[k - 1]))
				return false;
	return true;
}

static const struct {
	const char *key;
	int (*dec)(const msgpack_object *, struct camp_dec *);
} camp_keys[] = {
	{"t", camp_dec_text},
	{"since", camp_dec_since},
	{"goal", camp_dec_goal},
	{"gr", camp_dec_guards},
	{"arms", camp_dec_arms},
	{"steps", camp_dec_steps},
};

int
wire_unpack_campaign(const msgpack_object *o, struct wire_campaign *c)
{
	struct wire_campaign tmp;
	struct camp_dec cd = {.c = &tmp};
	int rc;

	if (o == NULL || o->type != MSGPACK_OBJECT_MAP)
		return NUDGE_ETYPE;
	memset(&tmp, 0, sizeof(tmp));
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];

		if (kv->key.type != MSGPACK_OBJECT_STR)
			return NUDGE_ETYPE;
		for (size_t j = 0; j < sizeof(camp_keys) / sizeof(camp_keys[0]); j++)
			if (wire_key_is(&kv->key, camp_keys[j].key,
			    strlen(camp_keys[j].key)) &&
			    (rc = camp_keys[j].dec(&kv->val, &cd)) != 0)
				return rc;
	}
	if (!cd.have_text || cd.n_arms > tmp.c.n_variants ||
	    cd.max_g > tmp.n_guard || !camp_steps_ok(&cd))
		return NUDGE_EINVAL;
	*c = tmp;
	return 0;
}

void
wire_pack_camp_change(msgpack_packer *pk, const struct wire_camp_change *c)
{
	const char *op = camp_op_name(c->op);
	unsigned nw = c->n_weights < CAMP_VARIANTS_MAX ? c->n_weights :
	    CAMP_VARIANTS_MAX;
	bool extra = c->op == CAMP_OP_STOP || c->op == CAMP_OP_WEIGHTS ||
	    c->op == CAMP_OP_HOLDOUT;

	msgpack_pack_map(pk, extra ? 4 : 3);
	wire_pack_cstr(pk, "name");
	msgpack_pack_str_with_body(pk, c->name,
	    strnlen(c->name, sizeof(c->name) - 1));
	wire_pack_cstr(pk, "op");
	wire_pack_cstr(pk, op != NULL ? op : "");
	wire_pack_cstr(pk, "expect");
	msgpack_pack_uint64(pk, c->expect);
	if (c->op == CAMP_OP_STOP) {
		wire_pack_cstr(pk, "winner");
		msgpack_pack_int(pk, c->winner);
	} else if (c->op == CAMP_OP_WEIGHTS) {
		wire_pack_cstr(pk, "weights");
		msgpack_pack_array(pk, nw);
		for (unsigned i = 0; i < nw; i++)
			msgpack_pack_uint8(pk, c->weights[i]);
	} else if (c->op == CAMP_OP_HOLDOUT) {
		wire_pack_cstr(pk, "holdout");
		msgpack_pack_uint16(pk, c->holdout_bp);
	}
}

static int
change_weights(const msgpack_object *v, struct wire_camp_change *c,
    struct nudge_diag *d)
{
	uint64_t w;

	if (v->type != MSGPACK_OBJECT_ARRAY) {
		nudge_diag_set(d, 0, 0, "weights: expected an array");
		return NUDGE_ETYPE;
	}
	if (v->via.array.size < 2 || v->via.array.size > CAMP_VARIANTS_MAX) {
		nudge_diag_set(d, 0, 0, "weights: 2 to %d of them",
		    CAMP_VARIANTS_MAX);
		return NUDGE_EINVAL;
	}
	for (uint32_t i = 0; i < v->via.array.size; i++) {
		if (wire_obj_u64(&v->via.array.ptr[i], &w) != 0 || w > 100) {
			nudge_diag_set(d, 0, 0,
			    "weights: %u is not a percent", (unsigned)i + 1);
			return NUDGE_EINVAL;
		}
		c->weights[i] = (uint8_t)w;
	}
	c->n_weights = (uint8_t)v->via.array.size;
	return 0;
}

/* The key op needs, decoded into c. */
static int
change_arg(const msgpack_object *o, struct wire_camp_change *c,
    struct nudge_diag *d)
{
	const char *key = c->op == CAMP_OP_STOP ? "winner" :
	    c->op == CAMP_OP_WEIGHTS ? "weights" : "holdout";
	const msgpack_object *v = wire_map_get(o, key);
	int64_t i;
	uint64_t u;

	if (c->op != CAMP_OP_STOP && c->op != CAMP_OP_WEIGHTS &&
	    c->op != CAMP_OP_HOLDOUT)
		return 0;
	if (v == NULL) {
		nudge_diag_set(d, 0, 0, "%s: missing for %s", key,
		    camp_op_name(c->op));
		return NUDGE_EINVAL;
	}
	if (c->op == CAMP_OP_WEIGHTS)
		return change_weights(v, c, d);
	if (c->op == CAMP_OP_STOP) {
		if (wire_obj_i64(v, &i) != 0 || i < 0 || i >= CAMP_VARIANTS_MAX) {
			nudge_diag_set(d, 0, 0, "winner: not a variant index");
			return NUDGE_EINVAL;
		}
		c->winner = (int)i;
		return 0;
	}
	if (wire_obj_u64(v, &u) != 0 || u > 9999) {
		nudge_diag_set(d, 0, 0, "holdout: 0 to 9999 basis points");
		return NUDGE_EINVAL;
	}
	c->holdout_bp = (uint16_t)u;
	return 0;
}

int
wire_unpack_camp_change(const msgpack_object *o, struct wire_camp_change *c,
    struct nudge_diag *d)
{
	struct wire_camp_change tmp;
	char op[16];
	int rc;

	memset(&tmp, 0, sizeof(tmp));
	tmp.winner = -1;
	if (o == NULL || o->type != MSGPACK_OBJECT_MAP) {
		nudge_diag_set(d, 0, 0, "expected a map");
		return NUDGE_EINVAL;
	}
	if ((rc = wire_get_str(o, "name", tmp.name, sizeof(tmp.name))) != 0 ||
	    tmp.name[0] == '\0') {
		nudge_diag_set(d, 0, 0, "name: %s", rc ? nudge_strerror(rc) :
		    "empty");
		return NUDGE_EINVAL;
	}
	if (wire_get_str(o, "op", op, sizeof(op)) != 0 ||
	    (tmp.op = (uint8_t)camp_op_from_name(op)) == CAMP_OP_NONE) {
		nudge_diag_set(d, 0, 0, "op: not one of start, pause, resume, "
		    "stop, weights, holdout, reshuffle, reset");
		return NUDGE_EINVAL;
	}
	if ((rc = wire_get_u64(o, "expect", &tmp.expect)) != 0) {
		nudge_diag_set(d, 0, 0, "expect: %s", nudge_strerror(rc));
		return NUDGE_EINVAL;
	}
	if ((rc = change_arg(o, &tmp, d)) != 0)
		return NUDGE_EINVAL;
	*c = tmp;
	return 0;
}
