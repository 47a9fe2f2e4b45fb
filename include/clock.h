/*
 * clock: the monotonic clock the modules time things with (timeouts,
 * pacing, rate limits).  Never jumps with the wall clock.  Thread-safe.
 */
#ifndef FCGI_APP_CLOCK_H
#define FCGI_APP_CLOCK_H

#include <stdint.h>

uint64_t clock_ms(void);
uint64_t clock_us(void);

#endif
