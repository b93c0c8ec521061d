/*
 * clock.c - monotonic and wall clocks in milliseconds.  Any thread.
 */
#include "clock.h"

#include <time.h>

static uint64_t
clock_read_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t
clock_mono_us(void)
{
	return clock_read_us(CLOCK_MONOTONIC);
}

uint64_t
clock_mono_ms(void)
{
	return clock_mono_us() / 1000u;
}

uint64_t
clock_wall_ms(void)
{
	return clock_read_us(CLOCK_REALTIME) / 1000u;
}

void
clock_mono_deadline(struct timespec *ts, uint64_t ms)
{
	uint64_t ns;

	clock_gettime(CLOCK_MONOTONIC, ts);
	ns = (uint64_t)ts->tv_nsec + (ms % 1000u) * 1000000u;
	ts->tv_sec += (time_t)(ms / 1000u + ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}
