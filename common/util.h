/* util.h - small helpers shared by every process: time, signals, strings */
#ifndef VMF_UTIL_H
#define VMF_UTIL_H

#include <stddef.h>
#include <stdint.h>

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
 * a non-blocking signalfd for the event loop (SIGPIPE is just ignored)
 */
int signals_fd(void);

/** signals_read() - next pending signal number from @fd, or 0 */
int signals_read(int fd);

/** daemonize() - fork to the background, detach, stdio to /dev/null */
int daemonize(const char *pidfile);

/** write_pidfile() - write our pid to @path (0644). Return: 0 or -errno */
int write_pidfile(const char *path);

/** strlcpy_safe() - copy with truncation; Return: 0, or -ENAMETOOLONG if truncated */
int str_copy(char *dst, const char *src, size_t size);

/** mac_fmt() - "aa:bb:cc:dd:ee:ff" into @buf (>= 18 bytes) */
const char *mac_fmt(const uint8_t *mac, char *buf);

#endif /* VMF_UTIL_H */
