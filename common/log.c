/* log.c - logging for every vmfabric process: stderr or syslog, rate limits */

/*
 * DOC: One line per message
 *
 * Messages carry text a peer chose: a Bye reason, an Error text, a port name,
 * a file name in a key directory. A newline in it would start a forged line
 * on stderr, which journald and most collectors take as a new entry, and
 * escape sequences would reach an operator's terminal. So every message is
 * escaped once, here, whatever its call site: bytes outside printable ASCII
 * become \n, \r, \t or \xNN, and a backslash becomes \\ (the escaping
 * stays unambiguous). A message is cut at LOG_MSG_MAX bytes before escaping.
 */

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
	log_escape(log_object, sizeof(log_object), object ? object : "");
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

size_t log_escape(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!size)
		return 0;
	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		char e[4];
		size_t n = 2;

		e[0] = '\\';
		if (c == '\n') {
			e[1] = 'n';
		} else if (c == '\r') {
			e[1] = 'r';
		} else if (c == '\t') {
			e[1] = 't';
		} else if (c == '\\') {
			e[1] = '\\';
		} else if (c < 0x20 || c >= 0x7f) {
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			n = 4;
		} else {
			e[0] = (char)c;
			n = 1;
		}
		if (o + n >= size)
			break;
		memcpy(dst + o, e, n);
		o += n;
	}
	dst[o] = '\0';
	return o;
}

static void vlog(int pri, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vlog(int pri, const char *fmt, va_list ap)
{
	static const char *const lvl[] = {
		[LOG_ERR] = "error: ", [LOG_WARNING] = "warning: ",
		[LOG_INFO] = "", [LOG_DEBUG] = "debug: ",
	};
	char raw[LOG_MSG_MAX + 1], msg[4 * LOG_MSG_MAX + 1];

	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_escape(msg, sizeof(msg), raw);
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
