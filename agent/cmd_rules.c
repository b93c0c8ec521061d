/*
 * cmd_rules.c - the control commands of the live rules: rules_get,
 * rules_put, rules_list, rules_rollback, rules_stats, context_set,
 * context_get, audit_tail (args and bodies in common/wire.h).
 *
 * One small run() per command over agent/rules_rt.h; every change, and
 * every refusal of a change, is written to the audit table before the
 * answer goes.  Changes are replayable (a resent request id is answered
 * from the replay cache, never applied twice).  Runs on nng worker
 * threads; keeps no state.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "command.h"
#include "facts.h"
#include "rules_rt.h"

#define AUDIT_LIM_MAX 1000
#define CONTEXT_SET_MAX 64

/* Reads optional {shadow: bool} into *kind. */
static int
kind_arg(const struct wire_request *rq, int *kind, struct nudge_diag *d)
{
	bool shadow = false;
	int rv = rq->args ? wire_get_bool(rq->args, "shadow", &shadow) :
	    NUDGE_ENOTFOUND;

	if (rv != 0 && rv != NUDGE_ENOTFOUND) {
		nudge_diag_set(d, 0, 0, "shadow: expected a boolean");
		return rv;
	}
	*kind = shadow ? RRT_SHADOW : RRT_ACTIVE;
	return 0;
}

static int
version_arg(const struct wire_request *rq, uint64_t *v, struct nudge_diag *d)
{
	int rv = rq->args ? wire_get_u64(rq->args, "version", v) :
	    NUDGE_ENOTFOUND;

	if (rv == NUDGE_ENOTFOUND) {
		*v = 0;
		return 0;
	}
	if (rv != 0 || *v > INT64_MAX)
		nudge_diag_set(d, 0, 0, "version: a positive integer");
	return rv != 0 ? rv : *v > INT64_MAX ? NUDGE_ERANGE : 0;
}

/* ---- rules_get ---------------------------------------------------------- */

static int
rules_get_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct store_rules sr;
	uint64_t v;
	int kind, rv;

	if ((rv = kind_arg(rq, &kind, d)) != 0 ||
	    (rv = version_arg(rq, &v, d)) != 0)
		return rv;
	if (v == 0 && (v = rrt_version(a->rules, kind)) == 0) {
		nudge_diag_set(d, 0, 0, "no rule set was ever applied here");
		return NUDGE_ENOTFOUND;
	}
	if ((rv = store_get_rules(a->store, kind, v, &sr)) != 0) {
		nudge_diag_set(d, 0, 0, rv == NUDGE_ENOTFOUND ?
		    "no such version" : "store: %s", store_last_error(a->store));
		return rv;
	}
	msgpack_pack_map(pk, 6);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, sr.version);
	wire_pack_cstr(pk, "hash");
	wire_pack_cstr(pk, sr.hash);
	wire_pack_cstr(pk, "ts");
	msgpack_pack_uint64(pk, sr.ts_ms);
	wire_pack_cstr(pk, "who");
	wire_pack_cstr(pk, sr.who);
	wire_pack_cstr(pk, "text");
	msgpack_pack_str_with_body(pk, sr.text, sr.len);
	wire_pack_cstr(pk, "current");
	msgpack_pack_uint64(pk, rrt_version(a->rules, kind));
	free(sr.text);
	return 0;
}

const struct cmd_ops cmd_rules_get = {
	.name = "rules_get",
	.role = ROLE_VIEWER,
	.run = rules_get_run,
};

/* ---- rules_put ---------------------------------------------------------- */

static void
pack_errors(msgpack_packer *pk, const struct rule_errors *errs)
{
	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "errors");
	msgpack_pack_array(pk, errs->n);
	for (unsigned i = 0; i < errs->n; i++) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_int(pk, errs->e[i].line);
		msgpack_pack_int(pk, errs->e[i].col);
		wire_pack_cstr(pk, errs->e[i].msg);
	}
	wire_pack_cstr(pk, "truncated");
	if (errs->truncated)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static void
pack_applied(struct agent *a, msgpack_packer *pk, int kind, uint64_t v)
{
	char hash[17];

	rrt_hash(a->rules, kind, hash);
	msgpack_pack_map(pk, 3);
	wire_pack_cstr(pk, "version");
	msgpack_pack_uint64(pk, v);
	wire_pack_cstr(pk, "hash");
	wire_pack_cstr(pk, hash);
	wire_pack_cstr(pk, "shadow");
	if (kind == RRT_SHADOW)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static int
rules_put_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct rrt_put p = {.who = cmd_who(rq)};
	struct rule_errors *errs;
	struct nudge_strv text;
	uint64_t applied = 0, before;
	int rv;

	if ((rv = kind_arg(rq, &p.kind, d)) != 0 ||
	    (rv = version_arg(rq, &p.version, d)) != 0)
		goto refused;
	if (rq->args == NULL || wire_get_strv(rq->args, "text", &text) != 0) {
		nudge_diag_set(d, 0, 0, "text: the whole rule set is required");
		rv = NUDGE_EINVAL;
		goto refused;
	}
	if ((errs = malloc(sizeof(*errs))) == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	p.text = text.ptr;
	p.len = text.len;
	before = rrt_version(a->rules, p.kind);
	rv = rrt_put(a->rules, &p, &applied, errs, d);
	if (rv == NUDGE_ESYNTAX)
		pack_errors(pk, errs);
	else if (rv == 0)
		pack_applied(a, pk, p.kind, applied);
	free(errs);
	if (rv != 0)
		goto refused;
	cmd_audit(a, rq, 0, "%s version %" PRIu64 " %s (%u bytes)",
	    p.kind == RRT_SHADOW ? "shadow" : "active", applied,
	    applied == before ? "already in force" : "applied", text.len);
	return 0;
refused:
	cmd_audit(a, rq, rv, "refused: %s", d->msg);
	return rv;
}

const struct cmd_ops cmd_rules_put = {
	.name = "rules_put",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = rules_put_run,
};

/* ---- rules_list --------------------------------------------------------- */

static int
rules_list_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct store_rules *v = malloc(RRT_LIST_MAX * sizeof(*v));
	size_t n = 0;
	int kind, rv;

	if (v == NULL)
		return NUDGE_ENOMEM;
	if ((rv = kind_arg(rq, &kind, d)) != 0 ||
	    (rv = store_list_rules(a->store, kind, v, RRT_LIST_MAX, &n)) != 0) {
		if (rv != NUDGE_ETYPE)
			nudge_diag_set(d, 0, 0, "store: %s",
			    store_last_error(a->store));
		free(v);
		return rv;
	}
	msgpack_pack_map(pk, 2);
	wire_pack_cstr(pk, "current");
	msgpack_pack_uint64(pk, rrt_version(a->rules, kind));
	wire_pack_cstr(pk, "versions");
	msgpack_pack_array(pk, n);
	for (size_t i = 0; i < n; i++) {
		msgpack_pack_array(pk, 4);
		msgpack_pack_uint64(pk, v[i].version);
		wire_pack_cstr(pk, v[i].hash);
		msgpack_pack_uint64(pk, v[i].ts_ms);
		wire_pack_cstr(pk, v[i].who);
	}
	free(v);
	return 0;
}

const struct cmd_ops cmd_rules_list = {
	.name = "rules_list",
	.role = ROLE_VIEWER,
	.run = rules_list_run,
};

/* ---- rules_rollback ----------------------------------------------------- */

static int
rules_rollback_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	uint64_t v = 0, applied = 0;
	int rv;

	if ((rv = version_arg(rq, &v, d)) == 0 && v == 0) {
		nudge_diag_set(d, 0, 0, "version: which version to restore");
		rv = NUDGE_EINVAL;
	}
	if (rv == 0)
		rv = rrt_rollback(a->rules, v, cmd_who(rq), &applied, d);
	if (rv != 0) {
		cmd_audit(a, rq, rv, "rollback to %" PRIu64 " refused: %s", v,
		    d->msg);
		return rv;
	}
	pack_applied(a, pk, RRT_ACTIVE, applied);
	cmd_audit(a, rq, 0, "version %" PRIu64 " re-applied as %" PRIu64, v,
	    applied);
	return 0;
}

const struct cmd_ops cmd_rules_rollback = {
	.name = "rules_rollback",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = rules_rollback_run,
};

/* ---- rules_stats -------------------------------------------------------- */

static void
pack_stat(msgpack_packer *pk, const struct rrt_rule_stat *s)
{
	static const char *const keys[] = {"m", "s", "c", "sh", "ho", "sho",
		"nd", "m_min", "sh_min", "sho_min"};
	const uint64_t vals[] = {s->m, s->s, s->c, s->sh, s->ho, s->sho,
		s->nd, s->m_min, s->sh_min, s->sho_min};

	msgpack_pack_map(pk, 12);
	wire_pack_cstr(pk, "name");
	wire_pack_cstr(pk, s->name);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		wire_pack_cstr(pk, keys[i]);
		msgpack_pack_uint64(pk, vals[i]);
	}
	wire_pack_cstr(pk, "shadow");
	if (s->shadow)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

static int
rules_stats_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	static const char *const names[RRT_KINDS] = {"active", "shadow"};
	struct rrt_rule_stat *v = malloc(WIRE_PAGE_MAX * sizeof(*v));

	(void)rq;
	if (v == NULL) {
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	msgpack_pack_map(pk, RRT_KINDS);
	for (int k = 0; k < RRT_KINDS; k++) {
		size_t n = rrt_stats(a->rules, k, v, WIRE_PAGE_MAX);
		wire_pack_cstr(pk, names[k]);
		msgpack_pack_map(pk, 2);
		wire_pack_cstr(pk, "version");
		msgpack_pack_uint64(pk, rrt_version(a->rules, k));
		wire_pack_cstr(pk, "rules");
		msgpack_pack_array(pk, n);
		for (size_t i = 0; i < n; i++)
			pack_stat(pk, &v[i]);
	}
	free(v);
	return 0;
}

const struct cmd_ops cmd_rules_stats = {
	.name = "rules_stats",
	.role = ROLE_VIEWER,
	.run = rules_stats_run,
};

/* ---- context_set / context_get ------------------------------------------ */

/* "weather[alps]" -> key "weather", idx "alps"; "stock" -> idx "". */
static int
fact_name(const msgpack_object *o, char *key, char *idx, size_t cap)
{
	struct nudge_strv s;
	const char *br;
	size_t kl;

	if (wire_obj_strv(o, &s) != 0 || s.len == 0 || s.len >= 2 * cap)
		return NUDGE_EINVAL;
	br = memchr(s.ptr, '[', s.len);
	kl = br ? (size_t)(br - s.ptr) : s.len;
	if (kl == 0 || kl >= cap)
		return NUDGE_EINVAL;
	memcpy(key, s.ptr, kl);
	key[kl] = '\0';
	idx[0] = '\0';
	if (br == NULL)
		return 0;
	if (s.len < kl + 2 || s.ptr[s.len - 1] != ']' ||
	    s.len - kl - 2 >= cap)
		return NUDGE_EINVAL;
	size_t il = s.len - kl - 2;
	memcpy(idx, br + 1, il);
	idx[il] = '\0';
	return 0;
}

struct fact_buf {
	char key[RULE_NAME_MAX + 1], idx[RULE_NAME_MAX + 1];
	char str[FACTS_STR_MAX + 1];
};

static int
fact_value(const msgpack_object *o, struct store_fact *f, char *str)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		f->type = STORE_FACT_DEL;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		f->type = STORE_FACT_NUM;
		f->num = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		f->type = STORE_FACT_NUM;
		f->num = (double)o->via.i64;
		return 0;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		f->type = STORE_FACT_NUM;
		f->num = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_STR:
		if (o->via.str.size > FACTS_STR_MAX)
			return NUDGE_ETOOBIG;
		memcpy(str, o->via.str.ptr, o->via.str.size);
		str[o->via.str.size] = '\0';
		f->type = STORE_FACT_STR;
		f->str = str;
		return 0;
	default:
		return NUDGE_ETYPE;
	}
}

static int
facts_parse(const msgpack_object *m, struct store_fact *v,
    struct fact_buf *b, struct nudge_diag *d)
{
	if (m == NULL || m->type != MSGPACK_OBJECT_MAP || m->via.map.size == 0 ||
	    m->via.map.size > CONTEXT_SET_MAX) {
		nudge_diag_set(d, 0, 0, "facts: a map of 1..%d facts {name: "
		    "value}", CONTEXT_SET_MAX);
		return NUDGE_EINVAL;
	}
	for (uint32_t i = 0; i < m->via.map.size; i++) {
		const msgpack_object_kv *kv = &m->via.map.ptr[i];
		memset(&v[i], 0, sizeof(v[i]));
		if (fact_name(&kv->key, b[i].key, b[i].idx,
		    sizeof(b[i].key)) != 0) {
			nudge_diag_set(d, 0, 0, "fact %u: a name is KEY or "
			    "KEY[INDEX]", (unsigned)i);
			return NUDGE_EINVAL;
		}
		v[i].key = b[i].key;
		v[i].idx = b[i].idx;
		if (fact_value(&kv->val, &v[i], b[i].str) != 0) {
			nudge_diag_set(d, 0, 0, "fact %s: a string (<= %d "
			    "bytes), a number, or nil to remove it", b[i].key,
			    FACTS_STR_MAX);
			return NUDGE_EINVAL;
		}
	}
	return 0;
}

static int
context_set_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	const msgpack_object *m = rq->args ? wire_map_get(rq->args, "facts") :
	    NULL;
	struct store_fact *v = calloc(CONTEXT_SET_MAX, sizeof(*v));
	struct fact_buf *b = calloc(CONTEXT_SET_MAX, sizeof(*b));
	int rv = v && b ? 0 : NUDGE_ENOMEM;

	if (rv == 0 && (rv = facts_parse(m, v, b, d)) == 0)
		rv = rrt_context_set(a->rules, v, m->via.map.size, d);
	if (rv == 0) {
		msgpack_pack_map(pk, 1);
		wire_pack_cstr(pk, "set");
		msgpack_pack_uint32(pk, m->via.map.size);
		cmd_audit(a, rq, 0, "%u facts, first %s[%s]", m->via.map.size,
		    v[0].key, v[0].idx);
	} else {
		cmd_audit(a, rq, rv, "refused: %s", d->msg);
	}
	free(v);
	free(b);
	return rv;
}

const struct cmd_ops cmd_context_set = {
	.name = "context_set",
	.role = ROLE_OPERATOR,
	.replayable = true,
	.run = context_set_run,
};

/* One snapshot of the facts, copied so the map header matches. */
struct fact_copy {
	size_t n;
	struct fact_buf *b;
	struct store_fact *v;
};

static void
copy_fact(void *arg, const struct store_fact *f)
{
	struct fact_copy *c = arg;

	if (c->n >= FACTS_MAX)
		return;
	struct fact_buf *b = &c->b[c->n];
	snprintf(b->key, sizeof(b->key), "%s", f->key);
	snprintf(b->idx, sizeof(b->idx), "%s", f->idx ? f->idx : "");
	snprintf(b->str, sizeof(b->str), "%s", f->str ? f->str : "");
	c->v[c->n] = *f;
	c->n++;
}

static void
pack_fact(msgpack_packer *pk, const struct store_fact *f,
    const struct fact_buf *b)
{
	char name[2 * RULE_NAME_MAX + 4];

	if (b->idx[0] != '\0')
		snprintf(name, sizeof(name), "%s[%s]", b->key, b->idx);
	else
		snprintf(name, sizeof(name), "%s", b->key);
	wire_pack_cstr(pk, name);
	if (f->type == STORE_FACT_NUM)
		msgpack_pack_double(pk, f->num);
	else
		wire_pack_cstr(pk, b->str);
}

static int
context_get_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	struct fact_copy c = {0, calloc(FACTS_MAX, sizeof(*c.b)),
	    calloc(FACTS_MAX, sizeof(*c.v))};

	(void)rq;
	if (c.b == NULL || c.v == NULL) {
		free(c.b);
		free(c.v);
		nudge_diag_set(d, 0, 0, "out of memory");
		return NUDGE_ENOMEM;
	}
	rrt_context_each(a->rules, copy_fact, &c);
	msgpack_pack_map(pk, 1);
	wire_pack_cstr(pk, "facts");
	msgpack_pack_map(pk, c.n);
	for (size_t i = 0; i < c.n; i++)
		pack_fact(pk, &c.v[i], &c.b[i]);
	free(c.b);
	free(c.v);
	return 0;
}

const struct cmd_ops cmd_context_get = {
	.name = "context_get",
	.role = ROLE_VIEWER,
	.run = context_get_run,
};

/* ---- audit_tail --------------------------------------------------------- */

struct audit_pack {
	msgpack_packer *pk;
	size_t n;
	struct store_audit_entry *rows;
	char (*text)[3][CMD_AUDIT_DETAIL_MAX];
};

static void
audit_row(void *arg, const struct store_audit_entry *e)
{
	struct audit_pack *ap = arg;
	struct store_audit_entry *r = &ap->rows[ap->n];

	*r = *e;
	snprintf(ap->text[ap->n][0], CMD_AUDIT_DETAIL_MAX, "%s", e->who ? e->who :
	    "");
	snprintf(ap->text[ap->n][1], CMD_AUDIT_DETAIL_MAX, "%s", e->what ?
	    e->what : "");
	snprintf(ap->text[ap->n][2], CMD_AUDIT_DETAIL_MAX, "%s", e->detail ?
	    e->detail : "");
	ap->n++;
}

static int
audit_tail_run(struct agent *a, const struct wire_request *rq,
    msgpack_packer *pk, struct nudge_diag *d)
{
	uint64_t lim = 20;
	int rv = rq->args ? wire_get_u64(rq->args, "lim", &lim) :
	    NUDGE_ENOTFOUND;
	struct audit_pack ap = {pk, 0, NULL, NULL};

	if ((rv != 0 && rv != NUDGE_ENOTFOUND) || lim > AUDIT_LIM_MAX) {
		nudge_diag_set(d, 0, 0, "lim: an integer <= %d", AUDIT_LIM_MAX);
		return NUDGE_ERANGE;
	}
	ap.rows = calloc(lim ? lim : 1, sizeof(*ap.rows));
	ap.text = calloc(lim ? lim : 1, sizeof(*ap.text));
	if (ap.rows == NULL || ap.text == NULL)
		rv = NUDGE_ENOMEM;
	else if ((rv = store_audit_tail(a->store, lim, audit_row, &ap)) != 0)
		nudge_diag_set(d, 0, 0, "store: %s", store_last_error(a->store));
	if (rv == 0) {
		msgpack_pack_array(pk, ap.n);
		for (size_t i = 0; i < ap.n; i++) {
			msgpack_pack_array(pk, 6);
			msgpack_pack_uint64(pk, ap.rows[i].id);
			msgpack_pack_uint64(pk, ap.rows[i].ts_ms);
			for (int k = 0; k < 3; k++)
				wire_pack_cstr(pk, ap.text[i][k]);
			msgpack_pack_int(pk, ap.rows[i].status);
		}
	}
	free(ap.rows);
	free(ap.text);
	return rv;
}

const struct cmd_ops cmd_audit_tail = {
	.name = "audit_tail",
	.role = ROLE_VIEWER,
	.run = audit_tail_run,
};
