/* util.h - small helpers shared by every process: time, signals, strings, files */
#ifndef VMF_UTIL_H
#define VMF_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MIN(a, b)	((a) < (b) ? (a) : (b))
#define MAX(a, b)	((a) > (b) ? (a) : (b))

/* Exit codes (sysexits.h). */
#define EXIT_USAGE	64
#define EXIT_CONFIG	78

/** now_ms() - monotonic milliseconds */
uint64_t now_ms(void);

/** now_us() - monotonic microseconds */
uint64_t now_us(void);

/**
 * signals_fd() - block SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGPIPE and return
 * a non-blocking signalfd for the event loop (SIGPIPE is just ignored).
 * Return: the fd, or -errno
 */
int signals_fd(void);

/** signals_fd_for() - the same for the @n signals @sigs (SIGPIPE ignored); Return: the fd, or -errno */
int signals_fd_for(const int *sigs, size_t n);

/** signals_read() - next pending signal number from @fd, or 0 */
int signals_read(int fd);

/** daemonize() - fork to the background, detach, stdio to /dev/null */
int daemonize(const char *pidfile);

/** write_pidfile() - write our pid to @path (0644, with file_replace()). Return: 0 or -errno */
int write_pidfile(const char *path);

#define FILE_NOREPLACE	1	/* file_replace(): fail with -EEXIST if @path exists */

/**
 * file_replace() - write @buf to @path all at once: a new file beside it
 * (random name, O_CREAT|O_EXCL|O_NOFOLLOW: never an existing file or a link,
 * @mode less the umask), fsync, then rename over @path, which replaces a link
 * at @path rather than following it. Readers see the old or the new file,
 * never a partial one. Return: 0 or -errno (nothing is left behind)
 */
int file_replace(const char *path, const void *buf, size_t len, mode_t mode, unsigned int flags);

/**
 * ep_bind() - zmq_bind() @sock to @ep; an ipc:// socket file is created with
 * @ipc_mode (set through the umask during the bind, never chmod()ed by name
 * afterwards). Return: 0 or -errno (errno is left set, as by zmq_bind())
 */
int ep_bind(void *sock, const char *ep, mode_t ipc_mode);

/** strlcpy_safe() - copy with truncation; Return: 0, or -ENAMETOOLONG if truncated */
int str_copy(char *dst, const char *src, size_t size);

/** mac_fmt() - "aa:bb:cc:dd:ee:ff" into @buf (>= 18 bytes) */
const char *mac_fmt(const uint8_t *mac, char *buf);

#endif /* VMF_UTIL_H */
