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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "busypoll.h"
#include "log.h"
#include "util.h"

/*
 * One poller spins per machine: with two or more spinning at once (switch and
 * NIC processes on one host) a woken thread sometimes waited a scheduler tick
 * (p99 4 ms instead of 0.4). The spinner holds an flock on a lock file; the
 * others look again every millisecond while their window lasts.
 *
 * The lock file is in /run/vmfabric, a directory only root can create (in the
 * root-owned /run) and only its owner may write: another user can neither
 * plant something at the lock's name (a FIFO there once blocked open() before
 * the event loop, with SIGTERM already blocked) nor take the lock to switch
 * busy polling off. It is opened without following links and without
 * blocking, created 0600, and used only when it is a regular file owned by
 * root or by us in a directory nobody else may write to. Otherwise, and for a
 * process that may not open it, every poller spins (as it did in a container
 * without the directory); the start-up line says so.
 */
#define BP_LOCK_DIR	"/run/vmfabric"
#define BP_LOCK_NAME	"busypoll.lock"
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

/* root or us: nobody else may own what we trust */
static int ours(const struct stat *st)
{
	return st->st_uid == 0 || st->st_uid == geteuid();
}

/**
 * lock_open() - the lock file, or -errno with @why set; never blocks and never
 * follows a link, whatever another user placed at its name
 */
static int lock_open(const char **why)
{
	struct stat st;
	int dfd, fd;

	dfd = open(BP_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0 && errno == ENOENT && !mkdir(BP_LOCK_DIR, 0755))
		dfd = open(BP_LOCK_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		*why = "cannot open " BP_LOCK_DIR;
		return -errno;
	}
	if (fstat(dfd, &st) || !ours(&st) || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		*why = BP_LOCK_DIR " belongs to another user or others may write to it";
		close(dfd);
		return -EPERM;
	}
	/* O_NONBLOCK: a FIFO or a device at the name cannot stall us; O_CREAT
	 * without O_EXCL opens an existing file, checked below */
	fd = openat(dfd, BP_LOCK_NAME, O_RDONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600);
	close(dfd);
	if (fd < 0) {
		*why = "cannot open " BP_LOCK_DIR "/" BP_LOCK_NAME;
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !ours(&st)) {
		*why = BP_LOCK_DIR "/" BP_LOCK_NAME " is not a regular file of root or ours";
		close(fd);
		return -EPERM;
	}
	return fd;
}

static struct busypoll *start(unsigned window_us)
{
	struct sched_param sp = { 0 };
	struct busypoll *bp;
	sigset_t all, old;
	const char *why;
	int rc;

	if (!(bp = calloc(1, sizeof(*bp))))
		return NULL;
	bp->window_us = window_us;
	bp->lockfd = lock_open(&why);
	if (bp->lockfd < 0)
		warn("--busy-poll: %s (%s): this poller spins even while another one does",
		     why, strerror(-bp->lockfd));
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
