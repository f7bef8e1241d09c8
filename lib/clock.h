#ifndef STRATA_LIB_CLOCK_H
#define STRATA_LIB_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock: for timeouts and intervals. */
int64_t clock_mono_ms(void);
/* Milliseconds since the Unix epoch: for timestamps people read. */
int64_t clock_wall_ms(void);
/* The CLOCK_MONOTONIC time ms from now, as pthread_cond_timedwait wants it
 * for a condition variable set to that clock (clock_mono_cond_init). */
void clock_mono_deadline(struct timespec *ts, int64_t ms);
/* Initializes cond on CLOCK_MONOTONIC, for clock_mono_deadline. */
void clock_mono_cond_init(pthread_cond_t *cond);

#endif
