/*
 * reaper.c - nng_close() on detached threads; see reaper.h.  Any thread.
 */
#include "reaper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

static atomic_uint reaper_running;

static void *
reaper_thread(void *arg)
{
	nng_socket s = {.id = (uint32_t)(uintptr_t)arg};

	nng_close(s);
	atomic_fetch_sub(&reaper_running, 1);
	return NULL;
}

void
reaper_close(nng_socket s)
{
	pthread_attr_t attr;
	pthread_t t;

	atomic_fetch_add(&reaper_running, 1);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	if (pthread_create(&t, &attr, reaper_thread,
	    (void *)(uintptr_t)s.id) != 0)
		reaper_thread((void *)(uintptr_t)s.id);
	pthread_attr_destroy(&attr);
}

unsigned
reaper_pending(void)
{
	return atomic_load(&reaper_running);
}
