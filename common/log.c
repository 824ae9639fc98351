/* log.c - logging for every vmfabric process: stderr or syslog, rate limits */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"

static const char *log_prog = "vmfabric";
static char log_object[128];
static int log_debug_on;
static int log_syslog;

void log_init(const char *prog)
{
	log_prog = prog;
}

void log_set_object(const char *object)
{
	snprintf(log_object, sizeof(log_object), "%s", object ? object : "");
}

void log_set_debug(int on)
{
	log_debug_on = on;
}

int log_debug_enabled(void)
{
	return log_debug_on;
}

void log_to_syslog(void)
{
	openlog(log_prog, LOG_PID, LOG_DAEMON);
	log_syslog = 1;
}

static void vlog(int pri, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vlog(int pri, const char *fmt, va_list ap)
{
	static const char *const lvl[] = {
		[LOG_ERR] = "error: ", [LOG_WARNING] = "warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	char msg[1024];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_syslog) {
		syslog(pri, "%s%s%s", log_object, *log_object ? ": " : "", msg);
		return;
	}
	fprintf(stderr, "%.3f %s%s%s: %s%s\n", now_ms() / 1000.0, log_prog,
		*log_object ? " " : "", log_object,
		pri < (int)(sizeof(lvl) / sizeof(lvl[0])) && lvl[pri] ? lvl[pri] : "",
		msg);
}

void logmsg(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(pri, fmt, ap);
	va_end(ap);
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap);
	va_end(ap);
	exit(code);
}

int ratelimit_ok(struct ratelimit *rl)
{
	uint64_t now = now_ms();

	if (now - rl->window_start >= rl->interval_ms) {
		if (rl->suppressed)
			logmsg(LOG_WARNING, "%lu similar messages suppressed",
			       rl->suppressed);
		rl->window_start = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < rl->burst) {
		rl->printed++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}
