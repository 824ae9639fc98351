/* busypoll.c - see busypoll.h */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "busypoll.h"
#include "log.h"
#include "util.h"

/*
 * One poller spins per machine: with two or more spinning at once (switch and
 * NIC processes on one host) a woken thread sometimes waited a scheduler tick
 * (p99 4 ms instead of 0.4). The spinner holds an flock on this file; the
 * others look again every millisecond while their window lasts. Without the
 * directory (a container) every poller spins.
 */
#define BP_LOCK_FILE "/run/lock/vmfabric-busypoll"
#define BP_RETRY_NS 1000000

struct busypoll {
	pthread_t thread;
	int lockfd;
	uint64_t window_us;
	_Atomic uint64_t last_us;	/* last kick, now_us() */
	_Atomic uint32_t seq;		/* futex word: bumped to wake the poller */
	_Atomic int sleeping;
	_Atomic int stop;
};

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("pause");
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

static void *poller(void *arg)
{
	struct busypoll *bp = arg;

	while (!atomic_load(&bp->stop)) {
		uint32_t seq = atomic_load(&bp->seq);

		if (now_us() - atomic_load(&bp->last_us) < bp->window_us && bp->lockfd >= 0 &&
		    flock(bp->lockfd, LOCK_EX | LOCK_NB)) {
			/* another process's poller keeps a CPU awake: look again soon */
			struct timespec retry = { 0, BP_RETRY_NS };

			syscall(SYS_futex, &bp->seq, FUTEX_WAIT_PRIVATE, seq, &retry, NULL, 0);
			continue;
		}
		while (now_us() - atomic_load(&bp->last_us) < bp->window_us && !atomic_load(&bp->stop))
			cpu_relax();
		if (bp->lockfd >= 0)
			flock(bp->lockfd, LOCK_UN);
		/* Dekker with busypoll_kick(): publish "sleeping", then look at the
		 * last kick again; a kick after this sees sleeping and bumps seq */
		atomic_store(&bp->sleeping, 1);
		if (now_us() - atomic_load(&bp->last_us) >= bp->window_us && !atomic_load(&bp->stop))
			syscall(SYS_futex, &bp->seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
		atomic_store(&bp->sleeping, 0);
	}
	return NULL;
}

static struct busypoll *start(unsigned window_us)
{
	struct sched_param sp = { 0 };
	struct busypoll *bp;
	sigset_t all, old;
	int rc;

	if (!(bp = calloc(1, sizeof(*bp))))
		return NULL;
	bp->window_us = window_us;
	/* O_CREAT only when missing: fs.protected_regular refuses O_CREAT on
	 * another user's file in the sticky /run/lock */
	bp->lockfd = open(BP_LOCK_FILE, O_RDONLY | O_CLOEXEC);
	if (bp->lockfd < 0 && errno == ENOENT)
		bp->lockfd = open(BP_LOCK_FILE, O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
	/* the poller takes no signals: the event loop reads them from a signalfd */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&bp->thread, NULL, poller, bp);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		if (bp->lockfd >= 0)
			close(bp->lockfd);
		free(bp);
		errno = rc;
		return NULL;
	}
	/* SCHED_IDLE: only CPU time nobody else wants. At normal priority the
	 * poller would compete with the very threads it waits for, so a poller
	 * that cannot have it does not run. (glibc's thread attributes refuse
	 * SCHED_IDLE; until the first kick the thread only sleeps.) */
	if ((rc = pthread_setschedparam(bp->thread, SCHED_IDLE, &sp))) {
		busypoll_stop(bp);
		errno = rc;
		return NULL;
	}
	pthread_setname_np(bp->thread, "vmf-busypoll");
	return bp;
}

struct busypoll *busypoll_start(unsigned window_us)
{
	struct busypoll *bp;

	if (!window_us)
		return NULL;
	if (!(bp = start(window_us)))
		warn("--busy-poll: cannot start the poller (%s); running without", strerror(errno));
	else
		info("busy polling: an idle-priority thread keeps a CPU awake %u us after each frame", window_us);
	return bp;
}

void busypoll_kick(struct busypoll *bp)
{
	if (!bp)
		return;
	atomic_store(&bp->last_us, now_us());
	if (atomic_load(&bp->sleeping)) {
		atomic_fetch_add(&bp->seq, 1);
		syscall(SYS_futex, &bp->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	}
}

void busypoll_stop(struct busypoll *bp)
{
	if (!bp)
		return;
	atomic_store(&bp->stop, 1);
	atomic_fetch_add(&bp->seq, 1);
	syscall(SYS_futex, &bp->seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	pthread_join(bp->thread, NULL);
	if (bp->lockfd >= 0)
		close(bp->lockfd);
	free(bp);
}
