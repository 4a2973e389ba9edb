/* Preloaded before libfaketime by the soak (tests/soak/machine.py). libfaketime 0.9.10 turns
 * clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, ...) into EINVAL when the monotonic clock is
 * left real (FAKETIME_DONT_FAKE_MONOTONIC=1), which breaks Python's time.sleep(); faking the
 * monotonic clock instead makes every timed lock wait (sem_clockwait) hang. So sleeps on the
 * monotonic clocks, which the simulated calendar does not touch, go straight to the kernel;
 * the others still go through libfaketime. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock, int flags, const struct timespec *request,
                    struct timespec *remain)
{
    if (clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME) {
        long result = syscall(SYS_clock_nanosleep, clock, flags, request, remain);
        return result == -1 ? errno : 0;
    }
    int (*next)(clockid_t, int, const struct timespec *, struct timespec *) =
        dlsym(RTLD_NEXT, "clock_nanosleep");
    return next(clock, flags, request, remain);
}
