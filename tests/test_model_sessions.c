/*
 * test_model_sessions.c - the console model's list of live session samples
 * under many batches: it is merged in place with a hash set of each
 * batch's visitors (console/model.c), so it is checked here, batch after
 * batch, against a plain quadratic reference of the same rule (a batch in
 * front, newest first; older entries of its visitors dropped; closed ones
 * only remove; at most MODEL_SESSIONS_MAX kept), with the list full, with
 * visitors coming back and with visitors that close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../console/model.h"

#define POOL 3000 /* visitors: more than the list holds */
#define BATCH_MAX 60
#define BATCHES 400

struct ref_entry {
	char visitor[EVENT_VISITOR_MAX + 1];
	uint16_t agent;
};

struct fix {
	struct model m;
	msgpack_sbuffer sb;
	struct ref_entry *ref, *tmp;
	size_t n_ref;
	uint64_t clock; /* every sample's last_ms is distinct: one order */
	uint64_t seq[2];
};

static int
setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(model_init(&f->m, 2), 0);
	msgpack_sbuffer_init(&f->sb);
	f->ref = calloc(MODEL_SESSIONS_MAX + BATCH_MAX, sizeof(*f->ref));
	f->tmp = calloc(MODEL_SESSIONS_MAX + BATCH_MAX, sizeof(*f->tmp));
	assert_non_null(f->ref);
	assert_non_null(f->tmp);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fix *f = *state;

	model_fini(&f->m);
	msgpack_sbuffer_destroy(&f->sb);
	free(f->ref);
	free(f->tmp);
	free(f);
	return 0;
}

static bool
in_batch(const struct session_summary *v, size_t n, const char *vid)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].visitor, vid) == 0)
			return true;
	return false;
}

/* The reference: v is sorted newest first (distinct last_ms). */
static void
ref_merge(struct fix *f, unsigned agent, const struct session_summary *v,
    size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && k < MODEL_SESSIONS_MAX; i++) {
		if (v[i].closed)
			continue;
		strcpy(f->tmp[k].visitor, v[i].visitor);
		f->tmp[k++].agent = (uint16_t)agent;
	}
	for (size_t i = 0; i < f->n_ref && k < MODEL_SESSIONS_MAX; i++)
		if (!in_batch(v, n, f->ref[i].visitor))
			f->tmp[k++] = f->ref[i];
	memcpy(f->ref, f->tmp, k * sizeof(*f->ref));
	f->n_ref = k;
}

static int
newest_first(const void *a, const void *b)
{
	const struct session_summary *x = a, *y = b;

	return x->last_ms < y->last_ms ? 1 : x->last_ms > y->last_ms ? -1 : 0;
}

/* Feeds agent a batch of n samples of visitors picked from the pool. */
static void
feed_batch(struct fix *f, unsigned agent, size_t n, unsigned closed_pct)
{
	struct session_summary v[BATCH_MAX];
	struct wire_header h = {.v = WIRE_VERSION, .kind = WIRE_SESSION};
	size_t k = 0;

	snprintf(h.agent, sizeof(h.agent), "a%u", agent);
	h.seq = f->seq[agent]++;
	while (k < n) {
		char vid[32];

		snprintf(vid, sizeof(vid), "v%d", rand() % POOL);
		if (in_batch(v, k, vid))
			continue; /* an agent reports a visitor once */
		memset(&v[k], 0, sizeof(v[k]));
		strcpy(v[k].visitor, vid);
		v[k].last_ms = ++f->clock;
		v[k].closed = (unsigned)(rand() % 100) < closed_pct;
		k++;
	}
	assert_int_equal(wire_write_sessions(&f->sb, &h, v, n), 0);
	assert_true(model_feed(&f->m, agent, f->sb.data, f->sb.size, 1) &
	            MODEL_F_SESSIONS);
	qsort(v, n, sizeof(*v), newest_first);
	ref_merge(f, agent, v, n);
}

static void
assert_same_as_ref(const struct fix *f)
{
	assert_int_equal(f->m.n_sessions, f->n_ref);
	for (size_t i = 0; i < f->n_ref; i++) {
		assert_string_equal(
		    f->m.sessions[i].s.visitor, f->ref[i].visitor);
		assert_int_equal(f->m.sessions[i].agent, f->ref[i].agent);
	}
}

static void
test_many_batches_match_the_reference(void **state)
{
	struct fix *f = *state;

	srand(7);
	for (int b = 0; b < BATCHES; b++) {
		feed_batch(f, (unsigned)b % 2, 1 + (size_t)(rand() % BATCH_MAX),
		    b < BATCHES / 2 ? 2 : 30);
		assert_same_as_ref(f);
	}
	/* the first half filled it: the list was full on the way */
	assert_true(f->n_ref > 0);
}

static void
test_full_list_keeps_the_newest(void **state)
{
	struct fix *f = *state;

	srand(11);
	for (int b = 0; b < 100; b++)
		feed_batch(f, 0, BATCH_MAX, 0);
	assert_int_equal(f->m.n_sessions, MODEL_SESSIONS_MAX);
	assert_same_as_ref(f);
	/* the newest sample heard is the first */
	assert_int_equal(f->m.sessions[0].s.last_ms, f->clock);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(
	        test_many_batches_match_the_reference, setup, teardown),
	    cmocka_unit_test_setup_teardown(
	        test_full_list_keeps_the_newest, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
