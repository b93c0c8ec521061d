/*
 * test_tarpit.c - unit tests of agent/tarpit.c: a held connection is
 * suspended at once and resumed hold_ms later, in the order held; no more
 * than max are held; close resumes everything now, refuses later holds and
 * waits for the releases.  The "connections" are records of a fake server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "clock.h"
#include "tarpit.h"

struct fake_conn {
	atomic_int suspended;	/* suspend calls */
	atomic_int resumed;	/* resume calls */
	atomic_uint_fast64_t held_ms, resumed_ms;
	atomic_int order;	/* 1 + the n-th resume */
	atomic_int early;	/* resumed before it was suspended */
};

static atomic_int resumes;

static void
fake_suspend(void *p)
{
	struct fake_conn *c = p;

	atomic_store(&c->held_ms, clock_mono_ms());
	atomic_fetch_add(&c->suspended, 1);
}

static void
fake_resume(void *p)
{
	struct fake_conn *c = p;

	/* the race the lock rules out (no cmocka asserts off the test's
	 * own thread: wait_resumed checks it) */
	if (atomic_load(&c->suspended) != 1)
		atomic_store(&c->early, 1);
	atomic_store(&c->resumed_ms, clock_mono_ms());
	atomic_store(&c->order, atomic_fetch_add(&resumes, 1) + 1);
	atomic_fetch_add(&c->resumed, 1);
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits up to ms for c to be resumed. */
static bool
wait_resumed(struct fake_conn *c, unsigned ms)
{
	for (unsigned i = 0; i < ms && atomic_load(&c->resumed) == 0; i++)
		sleep_ms(1);
	return atomic_load(&c->resumed) == 1 && atomic_load(&c->early) == 0;
}

static void
test_args(void **state)
{
	struct tarpit *t = NULL;

	(void)state;
	assert_int_equal(tarpit_new(&t, 0, 100, fake_suspend, fake_resume),
	    NUDGE_EINVAL);
	assert_int_equal(tarpit_new(&t, 4, 0, fake_suspend, fake_resume),
	    NUDGE_EINVAL);
	assert_int_equal(tarpit_new(&t, 4, 100, NULL, fake_resume),
	    NUDGE_EINVAL);
	assert_int_equal(tarpit_new(&t, 4, 100, fake_suspend, NULL),
	    NUDGE_EINVAL);
	assert_null(t);
	tarpit_free(NULL);
}

static void
test_hold_for_hold_ms_in_order(void **state)
{
	struct tarpit *t;
	struct fake_conn c[3];

	(void)state;
	memset(c, 0, sizeof(c));
	atomic_store(&resumes, 0);
	assert_int_equal(tarpit_new(&t, 8, 150, fake_suspend, fake_resume), 0);
	for (int i = 0; i < 3; i++) {
		assert_true(tarpit_hold(t, &c[i]));
		/* suspended by the hold itself, not later */
		assert_int_equal(atomic_load(&c[i].suspended), 1);
		sleep_ms(20);
	}
	assert_int_equal(tarpit_stats(t).held, 3);
	assert_int_equal(tarpit_stats(t).holds, 3);
	for (int i = 0; i < 3; i++) {
		assert_true(wait_resumed(&c[i], 2000));
		uint64_t held = atomic_load(&c[i].resumed_ms) -
		    atomic_load(&c[i].held_ms);
		assert_true(held >= 150);
		assert_true(held < 1000);
		assert_int_equal(atomic_load(&c[i].order), i + 1);
	}
	/* resumed, but held until the server takes each back */
	assert_int_equal(tarpit_stats(t).held, 3);
	for (int i = 0; i < 3; i++)
		tarpit_release(t);
	assert_int_equal(tarpit_stats(t).held, 0);
	tarpit_release(t);	/* one too many is harmless */
	assert_int_equal(tarpit_stats(t).held, 0);
	tarpit_free(t);
	for (int i = 0; i < 3; i++)
		assert_int_equal(atomic_load(&c[i].resumed), 1);
}

static void
test_bounded(void **state)
{
	struct tarpit *t;
	struct fake_conn c[3];

	(void)state;
	memset(c, 0, sizeof(c));
	assert_int_equal(tarpit_new(&t, 2, 100, fake_suspend, fake_resume), 0);
	assert_true(tarpit_hold(t, &c[0]));
	assert_true(tarpit_hold(t, &c[1]));
	assert_false(tarpit_hold(t, &c[2]));
	assert_int_equal(atomic_load(&c[2].suspended), 0);
	assert_int_equal(tarpit_stats(t).overflows, 1);
	/* a slot is free again once its connection was resumed */
	assert_true(wait_resumed(&c[0], 2000));
	assert_true(wait_resumed(&c[1], 2000));
	assert_true(tarpit_hold(t, &c[2]));
	assert_int_equal(tarpit_stats(t).holds, 3);
	assert_true(wait_resumed(&c[2], 2000));
	for (int i = 0; i < 3; i++)
		tarpit_release(t);
	tarpit_free(t);
}

struct releaser {
	struct tarpit *t;
	struct fake_conn *c;
	int n;
};

/* The server's side: takes back each connection once it was resumed. */
static void *
release_when_resumed(void *p)
{
	struct releaser *r = p;

	for (int i = 0; i < r->n; i++) {
		while (atomic_load(&r->c[i].resumed) == 0)
			sleep_ms(1);
		tarpit_release(r->t);
	}
	return NULL;
}

static void
test_close_resumes_now(void **state)
{
	struct tarpit *t;
	struct fake_conn c[4], late;
	struct releaser r;
	pthread_t th;
	uint64_t t0;

	(void)state;
	memset(c, 0, sizeof(c));
	memset(&late, 0, sizeof(late));
	assert_int_equal(tarpit_new(&t, 8, 60000, fake_suspend, fake_resume),
	    0);
	for (int i = 0; i < 4; i++)
		assert_true(tarpit_hold(t, &c[i]));
	r = (struct releaser){t, c, 4};
	assert_int_equal(pthread_create(&th, NULL, release_when_resumed, &r),
	    0);
	t0 = clock_mono_ms();
	assert_int_equal(tarpit_close(t, 5000), 0);
	assert_true(clock_mono_ms() - t0 < 2000);	/* not the 60 s hold */
	pthread_join(th, NULL);
	for (int i = 0; i < 4; i++)
		assert_int_equal(atomic_load(&c[i].resumed), 1);
	assert_int_equal(tarpit_stats(t).held, 0);
	/* closed: no more holds, and they are not overflows either */
	assert_false(tarpit_hold(t, &late));
	assert_int_equal(atomic_load(&late.suspended), 0);
	assert_int_equal(tarpit_stats(t).overflows, 0);
	assert_int_equal(tarpit_close(t, 10), 0);	/* idempotent */
	tarpit_free(t);
}

static void
test_close_times_out_unreleased(void **state)
{
	struct tarpit *t;
	struct fake_conn c;

	(void)state;
	memset(&c, 0, sizeof(c));
	assert_int_equal(tarpit_new(&t, 4, 60000, fake_suspend, fake_resume),
	    0);
	assert_true(tarpit_hold(t, &c));
	/* resumed, but the server never takes it back */
	assert_int_equal(tarpit_close(t, 50), NUDGE_ETIMEOUT);
	assert_int_equal(atomic_load(&c.resumed), 1);
	assert_int_equal(tarpit_stats(t).held, 1);
	tarpit_release(t);
	assert_int_equal(tarpit_close(t, 50), 0);
	tarpit_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_args),
		cmocka_unit_test(test_hold_for_hold_ms_in_order),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_close_resumes_now),
		cmocka_unit_test(test_close_times_out_unreleased),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
