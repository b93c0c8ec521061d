/*
 * facts.c - immutable sorted sets of context facts (see facts.h).
 *
 * A set is one block: a header and its entries sorted by (key, index),
 * each with its own copy of its strings, so that a set outlives the
 * request that made it.  String values point into their entry
 * (facts_link), fixed up after every copy.  No locks: sets never change;
 * the refcount is atomic.
 */
#include "facts.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

struct fact {
	char key[RULE_NAME_MAX + 1];
	char idx[RULE_NAME_MAX + 1];
	struct rule_value v;
	char str[FACTS_STR_MAX + 1];
};

struct facts {
	atomic_uint refs;
	size_t n;
	struct fact f[];	/* sorted by (key, idx) */
};

static int
fact_cmp(const char *k1, const char *i1, const char *k2, const char *i2)
{
	int c = strcmp(k1, k2);

	return c ? c : strcmp(i1, i2);
}

static int
fact_sort(const void *a, const void *b)
{
	const struct fact *x = a, *y = b;

	return fact_cmp(x->key, x->idx, y->key, y->idx);
}

static bool
fact_name_ok(const char *s, bool may_be_empty)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0)
		return may_be_empty;
	if (n > RULE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static void
fact_fill(struct fact *f, const struct store_fact *s)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", s->key);
	snprintf(f->idx, sizeof(f->idx), "%s", s->idx ? s->idx : "");
	if (s->type == STORE_FACT_NUM) {
		f->v.type = RULE_V_NUM;
		f->v.num = s->num;
	} else {
		snprintf(f->str, sizeof(f->str), "%s", s->str ? s->str : "");
		f->v.type = RULE_V_STR;
	}
}

static struct facts *
facts_alloc(size_t cap)
{
	struct facts *f = malloc(sizeof(*f) + cap * sizeof(f->f[0]));

	if (f != NULL) {
		atomic_init(&f->refs, 1);
		f->n = 0;
	}
	return f;
}

/* Sorts the entries and points their string values at their own copy. */
static void
facts_link(struct facts *f)
{
	qsort(f->f, f->n, sizeof(f->f[0]), fact_sort);
	for (size_t i = 0; i < f->n; i++)
		if (f->f[i].v.type == RULE_V_STR)
			f->f[i].v.s = strv_of(f->f[i].str);
}

int
facts_check(const struct store_fact *v, size_t n, struct nudge_diag *d)
{
	for (size_t i = 0; i < n; i++) {
		if (!fact_name_ok(v[i].key, false) ||
		    !fact_name_ok(v[i].idx, true)) {
			nudge_diag_set(d, 0, 0, "fact %zu: a key (and index) is "
			    "1..%d of [A-Za-z0-9_.-]", i, RULE_NAME_MAX);
			return NUDGE_EINVAL;
		}
		if (v[i].type == STORE_FACT_STR && (v[i].str == NULL ||
		    strlen(v[i].str) > FACTS_STR_MAX)) {
			nudge_diag_set(d, 0, 0, "fact %s: a string of at most "
			    "%d bytes", v[i].key, FACTS_STR_MAX);
			return NUDGE_ETOOBIG;
		}
	}
	return 0;
}

struct facts *
facts_merge(const struct facts *cur, const struct store_fact *v, size_t n)
{
	size_t have = cur ? cur->n : 0;
	struct facts *f = facts_alloc(have + n);

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < have; i++) {
		bool gone = false;
		for (size_t j = 0; j < n && !gone; j++)
			gone = fact_cmp(cur->f[i].key, cur->f[i].idx, v[j].key,
			    v[j].idx ? v[j].idx : "") == 0;
		if (!gone)
			f->f[f->n++] = cur->f[i];
	}
	for (size_t j = 0; j < n; j++) {
		bool later = false;	/* the last of duplicates wins */
		for (size_t k = j + 1; k < n && !later; k++)
			later = fact_cmp(v[j].key, v[j].idx ? v[j].idx : "",
			    v[k].key, v[k].idx ? v[k].idx : "") == 0;
		if (!later && v[j].type != STORE_FACT_DEL)
			fact_fill(&f->f[f->n++], &v[j]);
	}
	facts_link(f);
	return f;
}

static void
load_fact(void *arg, const struct store_fact *sf)
{
	struct facts *f = arg;

	if (f->n < FACTS_MAX && fact_name_ok(sf->key, false) &&
	    fact_name_ok(sf->idx, true))
		fact_fill(&f->f[f->n++], sf);
}

struct facts *
facts_load(struct store *st, bool *bad)
{
	struct facts *f = facts_alloc(FACTS_MAX);

	if (f == NULL)
		return NULL;
	*bad = store_load_facts(st, load_fact, f) != 0;
	facts_link(f);
	return f;
}

void
facts_hold(struct facts *f)
{
	atomic_fetch_add(&f->refs, 1);
}

void
facts_release(struct facts *f)
{
	if (f != NULL && atomic_fetch_sub(&f->refs, 1) == 1)
		free(f);
}

size_t
facts_count(const struct facts *f)
{
	return f != NULL ? f->n : 0;
}

bool
facts_get(const struct facts *f, struct nudge_strv key,
    struct nudge_strv index, struct rule_value *out)
{
	char k[RULE_NAME_MAX + 1], i[RULE_NAME_MAX + 1];
	size_t lo = 0, hi;

	if (f == NULL || key.len > RULE_NAME_MAX || index.len > RULE_NAME_MAX)
		return false;
	strv_copy(k, sizeof(k), key);
	strv_copy(i, sizeof(i), index);
	hi = f->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = fact_cmp(f->f[mid].key, f->f[mid].idx, k, i);
		if (c == 0) {
			*out = f->f[mid].v;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

size_t
facts_each(const struct facts *f,
    void (*fn)(void *arg, const struct store_fact *sf), void *arg)
{
	size_t n = facts_count(f);

	for (size_t i = 0; i < n; i++) {
		const struct fact *x = &f->f[i];
		struct store_fact sf = {x->key, x->idx,
		    x->v.type == RULE_V_NUM ? STORE_FACT_NUM : STORE_FACT_STR,
		    x->v.num, x->str};
		fn(arg, &sf);
	}
	return n;
}
