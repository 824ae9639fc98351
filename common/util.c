/* util.c - small helpers shared by every process: time, signals, strings, files */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "util.h"

uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int signals_fd_for(const int *sigs, size_t n)
{
	sigset_t set;
	int fd;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	for (size_t i = 0; i < n; i++)
		sigaddset(&set, sigs[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int signals_fd(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };

	return signals_fd_for(sigs, ARRAY_SIZE(sigs));
}

int signals_read(int fd)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return (int)si.ssi_signo;
}

/*
 * A file a daemon writes (pidfile, stats, leases) may sit in a directory other
 * users can write to. Opening the final name, or a fixed "NAME.tmp", with
 * O_CREAT|O_TRUNC follows a link planted there and truncates whatever it points
 * to, with the daemon's rights. So: a new file under an unpredictable name,
 * created with O_EXCL (never an existing file, never a link), then renamed
 * over the target, which replaces a link instead of following it.
 */
static int tmp_create(const char *path, mode_t mode, char *tmp, size_t size)
{
	for (int tries = 0; tries < 16; tries++) {
		uint64_t r;
		int fd;

		if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
			r = now_us() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)tries;
		if (snprintf(tmp, size, "%s.%016llx.tmp", path, (unsigned long long)r) >= (int)size)
			return -ENAMETOOLONG;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* make the rename itself durable: a crash after it must not bring the old file back */
static void fsync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd;

	if (str_copy(dir, path, sizeof(dir)))
		return;
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int file_replace(const char *path, const void *buf, size_t len, mode_t mode, unsigned int flags)
{
	char tmp[4096 + 32];
	int fd, rc;

	fd = tmp_create(path, mode, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	rc = write_all(fd, buf, len);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && !(flags & FILE_NOREPLACE) && rename(tmp, path)) {
		rc = -errno;
	} else if (!rc && (flags & FILE_NOREPLACE) &&
		   renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE)) {
		rc = -errno;
		/* a file system without RENAME_NOREPLACE: link() refuses an existing name too */
		if (rc == -EINVAL && !(rc = link(tmp, path) ? -errno : 0))
			unlink(tmp);
	}
	if (rc)
		unlink(tmp);
	else
		fsync_dir(path);
	return rc;
}

int write_pidfile(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

	return file_replace(path, buf, (size_t)n, 0644, 0);
}

int ep_bind(void *sock, const char *ep, mode_t ipc_mode)
{
	mode_t old;
	int rc;

	if (strncmp(ep, "ipc://", 6))
		return zmq_bind(sock, ep) ? -errno : 0;
	/*
	 * The socket file is born with @ipc_mode: bind(2) applies the umask, and
	 * libzmq binds an ipc:// endpoint in the calling thread. A chmod() by
	 * name afterwards would follow whatever another user put at that name
	 * in the meantime, and leaves a window with the default mode. (The umask
	 * is per process; no other thread creates files while a daemon binds.)
	 */
	old = umask(~ipc_mode & 0777);
	rc = zmq_bind(sock, ep) ? -errno : 0;
	umask(old);
	return rc;
}

int daemonize(const char *pidfile)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0)
		_exit(0);
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir("/"))
		return -errno;
	return pidfile ? write_pidfile(pidfile) : 0;
}

int str_copy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

const char *mac_fmt(const uint8_t *mac, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
		 mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	return buf;
}
