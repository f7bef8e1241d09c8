#ifndef STRATA_LIB_CLOCK_H
#define STRATA_LIB_CLOCK_H

#include <stdint.h>

/* Milliseconds on the monotonic clock: for timeouts and intervals. */
int64_t clock_mono_ms(void);
/* Milliseconds since the Unix epoch: for timestamps people read. */
int64_t clock_wall_ms(void);

#endif
