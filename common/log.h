/* log.h - logging for every vmfabric process: stderr or syslog, rate limits */
#ifndef VMF_LOG_H
#define VMF_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/* longest message, before escaping: more is cut */
#define LOG_MSG_MAX	1023

void log_init(const char *prog);
void log_set_object(const char *object);
void log_set_debug(int on);
void log_to_syslog(void);
int log_debug_enabled(void);
void logmsg(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * log_escape() - @src as one printable line into @dst: \n \r \t \\ and \xNN
 * for other bytes outside printable ASCII; cut (never mid-escape) to fit
 * @size. Every log line goes through it. Return: length written
 */
size_t log_escape(char *dst, size_t size, const char *src);

#define err(...)	logmsg(LOG_ERR, __VA_ARGS__)
#define warn(...)	logmsg(LOG_WARNING, __VA_ARGS__)
#define info(...)	logmsg(LOG_INFO, __VA_ARGS__)
#define debug(...)	do { if (log_debug_enabled()) logmsg(LOG_DEBUG, __VA_ARGS__); } while (0)

/* die() is for start-up only: log, then exit with @code. */
void die(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/**
 * struct ratelimit - at most @burst messages per @interval_ms, then a count
 * of what was suppressed once the window reopens
 */
struct ratelimit {
	uint64_t window_start;
	unsigned int interval_ms;
	unsigned int burst;
	unsigned int printed;
	unsigned long suppressed;
};

#define RATELIMIT_INIT { 0, 5000, 10, 0, 0 }

/** ratelimit_ok() - true if a message may be logged now */
int ratelimit_ok(struct ratelimit *rl);

#define log_rl(rl, pri, ...) do { if (ratelimit_ok(rl)) logmsg(pri, __VA_ARGS__); } while (0)

#endif /* VMF_LOG_H */
