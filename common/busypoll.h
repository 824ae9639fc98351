/* busypoll.h - keep one CPU awake for a short window after each frame
 *
 * Waking a sleeping CPU is the biggest single cost on a frame's path in a
 * virtual machine: a thread hand-off to a halted vCPU costs about 45 us here
 * against 1.5 us to a running one (tests/bench/ab.sh LAT=..., README
 * "Performance"). A frame crosses 7 thread hand-offs per direction (ZeroMQ
 * I/O threads on both ends), so a lone ping pays that price several times.
 *
 * busypoll runs one idle-priority (SCHED_IDLE) thread that spins for @window
 * microseconds after the last busypoll_kick() and then sleeps on a futex.
 * SCHED_IDLE means it only ever uses CPU time nobody else wants: any runnable
 * thread preempts it. Pollers of one machine take turns (an flock), so at most
 * one spins. It is off unless asked for (--busy-poll).
 */
#ifndef VMF_BUSYPOLL_H
#define VMF_BUSYPOLL_H

#include <stdint.h>

struct busypoll;

/**
 * busypoll_start() - start the poller and log that it runs (or, warning, why
 * not); @window_us 0 means off. Return: the poller, or NULL when off or when
 * it could not start: busypoll_kick(NULL) is a no-op, so the caller carries on
 */
struct busypoll *busypoll_start(unsigned window_us);

/** busypoll_kick() - traffic just passed: keep polling for another window */
void busypoll_kick(struct busypoll *bp);

/** busypoll_stop() - stop and free the poller (NULL is fine) */
void busypoll_stop(struct busypoll *bp);

#endif
