/*
 * relayenv.c - walking relay envelopes (see relayenv.h).  Owns nothing:
 * every leaf borrows the caller's decoded reply.
 */
#include "relayenv.h"

#include <stdio.h>
#include <string.h>

static bool
relayenv_int(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

static bool
relayenv_entry_ok(const msgpack_object *e)
{
	return e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size == 4 &&
	    e->via.array.ptr[0].type == MSGPACK_OBJECT_STR &&
	    relayenv_int(&e->via.array.ptr[1]) &&
	    e->via.array.ptr[2].type == MSGPACK_OBJECT_STR;
}

const msgpack_object *
relayenv_agents(int status, const msgpack_object *body)
{
	const msgpack_object *ag;

	if (status != 0 || body == NULL || body->type != MSGPACK_OBJECT_MAP ||
	    body->via.map.size != 1 ||
	    (ag = wire_map_get(body, "agents")) == NULL ||
	    ag->type != MSGPACK_OBJECT_ARRAY)
		return NULL;
	for (uint32_t k = 0; k < ag->via.array.size; k++)
		if (!relayenv_entry_ok(&ag->via.array.ptr[k]))
			return NULL;
	return ag;
}

bool
relayenv_is(const struct wire_reply *rp)
{
	return relayenv_agents(rp->status, rp->body) != NULL;
}

static void
relayenv_copy(char *dst, size_t cap, const msgpack_object *s)
{
	size_t n = s->via.str.size < cap - 1 ? s->via.str.size : cap - 1;

	memcpy(dst, s->via.str.ptr, n);
	dst[n] = '\0';
}

static unsigned
relayenv_walk(const msgpack_object *ag, unsigned depth, relayenv_fn fn,
    void *arg)
{
	unsigned calls = 0;

	for (uint32_t k = 0; k < ag->via.array.size; k++) {
		const msgpack_object *o = ag->via.array.ptr[k].via.array.ptr;
		int status = (int)o[1].via.i64;
		const msgpack_object *inner = relayenv_agents(status, &o[3]);
		struct relayenv_leaf leaf;

		if (inner != NULL && depth < RELAYENV_DEPTH_MAX) {
			calls += relayenv_walk(inner, depth + 1, fn, arg);
			continue;
		}
		relayenv_copy(leaf.name, sizeof(leaf.name), &o[0]);
		relayenv_copy(leaf.message, sizeof(leaf.message), &o[2]);
		leaf.status = status;
		leaf.body = &o[3];
		leaf.depth = depth;
		fn(arg, &leaf);
		calls++;
	}
	return calls;
}

unsigned
relayenv_each(const struct wire_reply *rp, relayenv_fn fn, void *arg)
{
	const msgpack_object *ag = relayenv_agents(rp->status, rp->body);
	struct relayenv_leaf leaf;

	if (ag != NULL)
		return relayenv_walk(ag, 1, fn, arg);
	leaf.name[0] = '\0';
	leaf.status = rp->status;
	snprintf(leaf.message, sizeof(leaf.message), "%s", rp->message);
	leaf.body = rp->body;
	leaf.depth = 0;
	fn(arg, &leaf);
	return 1;
}

struct relayenv_choice {
	bool have;
	struct relayenv_leaf leaf;
};

static void
relayenv_choose(void *arg, const struct relayenv_leaf *leaf)
{
	struct relayenv_choice *c = arg;

	if (!c->have || (c->leaf.status != 0 && leaf->status == 0)) {
		c->leaf = *leaf;
		c->have = true;
	}
}

bool
relayenv_pick(const struct wire_reply *rp, struct relayenv_leaf *out)
{
	struct relayenv_choice c = {0};

	relayenv_each(rp, relayenv_choose, &c);
	if (c.have)
		*out = c.leaf;
	return c.have;
}

static void
relayenv_newest(void *arg, const struct relayenv_leaf *leaf)
{
	struct relayenv_choice *c = arg;
	uint64_t v = 0, bv = 0;

	wire_get_u64(leaf->body, "version", &v);
	if (c->have)
		wire_get_u64(c->leaf.body, "version", &bv);
	if (!c->have || (c->leaf.status != 0 && leaf->status == 0) ||
	    (leaf->status == 0 && v > bv)) {
		c->leaf = *leaf;
		c->have = true;
	}
}

void
relayenv_pick_newest(const struct wire_reply *rp, struct relayenv_leaf *out)
{
	struct relayenv_choice c = {0};

	relayenv_each(rp, relayenv_newest, &c);
	if (c.have)
		*out = c.leaf;
}
