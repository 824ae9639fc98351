/* qmp.c - vmfabric-qemu's QMP client: one connection to its QEMU, for set_link */

/*
 * DOC: Theory of operation
 *
 * vmfabric-qemu gives its QEMU "-qmp unix:DIR/qmp.sock,server=on,wait=off"
 * (DIR private to the launcher, mode 0700) and is that socket's only
 * client: QEMU serves one QMP connection at a time, so the NIC processes do
 * not talk to it themselves; each reports its link state to the launcher
 * over a pipe (vmfabric-nic --link-fd) and the launcher sends set_link.
 *
 * States: closed --connect--> open (qmp_capabilities sent with the connect,
 * QEMU reads it after its greeting) --first "return"--> ready. Commands are
 * sent only when ready; the caller keeps what it wants and sends it again
 * when the connection is ready. A closed or failed connection is retried
 * every QMP_RETRY_MS while the caller ticks (QEMU makes the socket while it
 * starts). Input is read line by line into a bounded buffer: an "error"
 * answer (e.g. set_link on an unknown id) is logged and counted, events are
 * ignored, an over-long line is dropped whole.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "qmp.h"
#include "util.h"

#define QMP_RETRY_MS	200

static struct ratelimit rl_qmp = RATELIMIT_INIT;

int qmp_init(struct qmp *q, const char *path)
{
	memset(q, 0, sizeof(*q));
	q->fd = -1;
	return str_copy(q->path, path, sizeof(q->path)) ? -ENAMETOOLONG : 0;
}

void qmp_close(struct qmp *q)
{
	if (!q || q->fd < 0)
		return;
	close(q->fd);
	q->fd = -1;
	q->ready = 0;
	q->in_len = 0;
}

/* Send all of @s now (a few dozen bytes into an empty socket buffer). */
static int qmp_send(struct qmp *q, const char *s, size_t len)
{
	ssize_t n = send(q->fd, s, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	if (n == (ssize_t)len)
		return 0;
	log_rl(&rl_qmp, LOG_WARNING, "QMP %s: %s", q->path, n < 0 ? strerror(errno) : "short write");
	qmp_close(q);
	return -EIO;
}

void qmp_tick(struct qmp *q, uint64_t now)
{
	static const char caps[] = "{\"execute\":\"qmp_capabilities\"}\n";
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	if (q->fd >= 0 || now < q->retry_ms)
		return;
	q->retry_ms = now + QMP_RETRY_MS;
	q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (q->fd < 0)
		return;
	memcpy(un.sun_path, q->path, strlen(q->path) + 1);
	/* a unix connect completes at once or fails: QEMU not listening yet */
	if (connect(q->fd, (struct sockaddr *)&un, sizeof(un))) {
		close(q->fd);
		q->fd = -1;
		return;
	}
	if (!qmp_send(q, caps, sizeof(caps) - 1))
		debug("QMP: connected to %s", q->path);
}

long qmp_timeout(const struct qmp *q, uint64_t now)
{
	if (q->fd >= 0)
		return -1;
	return q->retry_ms > now ? (long)(q->retry_ms - now) : 0;
}

/* One line from QEMU. */
static void qmp_line(struct qmp *q, const char *line)
{
	if (!q->ready) {
		if (strstr(line, "\"return\"")) {
			q->ready = 1;
			info("QMP: connected to QEMU (%s)", q->path);
		}
		return;
	}
	if (strstr(line, "\"error\"")) {
		q->errors++;
		log_rl(&rl_qmp, LOG_WARNING, "QMP: QEMU answered %.300s", line);
	}
}

void qmp_input(struct qmp *q)
{
	for (;;) {
		ssize_t n;
		char *nl;

		if (q->fd < 0)
			return;
		n = recv(q->fd, q->in + q->in_len, sizeof(q->in) - 1 - q->in_len, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			info("QMP: QEMU closed %s", q->path);
			qmp_close(q);
			return;
		}
		if (n < 0)
			return;
		q->in_len += (size_t)n;
		q->in[q->in_len] = '\0';
		while ((nl = strchr(q->in, '\n'))) {
			*nl = '\0';
			qmp_line(q, q->in);
			q->in_len -= (size_t)(nl + 1 - q->in);
			memmove(q->in, nl + 1, q->in_len + 1);
		}
		if (q->in_len == sizeof(q->in) - 1)
			q->in_len = 0;	/* an over-long line: dropped */
	}
}

int qmp_set_link(struct qmp *q, const char *id, int up)
{
	char cmd[160];
	int n;

	if (q->fd < 0 || !q->ready)
		return -ENOTCONN;
	/* @id is a QEMU id (letters, digits, '-', '.', '_'): nothing to escape */
	n = snprintf(cmd, sizeof(cmd), "{\"execute\":\"set_link\",\"arguments\":{\"name\":\"%s\","
		     "\"up\":%s}}\n", id, up ? "true" : "false");
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -ENAMETOOLONG;
	if (qmp_send(q, cmd, (size_t)n))
		return -EIO;
	q->sent++;
	return 0;
}
