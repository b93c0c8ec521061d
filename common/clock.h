/*
 * clock.h - the two clocks nudge uses, named for what they are for.
 *
 * Windows, timeouts and rates use the monotonic clock, so a wall-clock jump
 * neither expires sessions nor fires timers.  Wall-clock time is only for
 * timestamps that leave the process (envelopes, SQLite rows, displays).
 */
#ifndef NUDGE_CLOCK_H
#define NUDGE_CLOCK_H

#include <stdint.h>
#include <time.h>

uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);
uint64_t clock_wall_ms(void);

/*
 * *ts = the monotonic clock ms from now: the deadline for
 * pthread_cond_timedwait on a condition variable whose clock attribute is
 * CLOCK_MONOTONIC.
 */
void clock_mono_deadline(struct timespec *ts, uint64_t ms);

#endif
