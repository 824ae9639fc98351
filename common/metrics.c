/* metrics.c - a tiny non-blocking HTTP server for Prometheus text exposition */

/*
 * DOC: Theory of operation
 *
 * The listening socket and up to METRICS_CONNS client sockets sit in the
 * daemon's poll set. A client's request is read until the blank line (at
 * most 2 KiB); GET /metrics is answered with the text the daemon renders at
 * that moment, anything else with 404; the response is written as the
 * socket takes it, then the connection closes (HTTP/1.0 semantics). A
 * client that is too slow (5 s) or sends too much is dropped; a client
 * beyond the limit is refused at once. Nothing here can stall the loop.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "metrics.h"
#include "util.h"

#define CONN_TIMEOUT_MS	5000

int metrics_start(struct metrics *m, const char *addr, void (*render)(void *arg, FILE *f), void *arg,
		  const char **why)
{
	char spec[300];
	struct vmf_addr a;
	int one = 1;

	memset(m, 0, sizeof(*m));
	for (int i = 0; i < METRICS_CONNS; i++)
		m->conns[i].fd = -1;
	m->render = render;
	m->arg = arg;
	snprintf(spec, sizeof(spec), "tcp:%s", addr);
	if (addr_parse(spec, SOCK_STREAM, &a, why) || a.family == AF_UNIX) {
		*why = "--metrics wants ADDR:PORT (e.g. 127.0.0.1:9464)";
		return -EINVAL;
	}
	m->lfd = socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0)
		return -errno;
	setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(m->lfd, (struct sockaddr *)&a.ss, a.len) || listen(m->lfd, 8)) {
		int rc = -errno;

		*why = "cannot listen on the --metrics address";
		close(m->lfd);
		m->lfd = -1;
		return rc;
	}
	return 0;
}

static void conn_close(struct metrics_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->fd = -1;
	c->out = NULL;
	c->rlen = c->olen = c->off = 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m || m->lfd < 0)
		return;
	for (int i = 0; i < METRICS_CONNS; i++)
		conn_close(&m->conns[i]);
	close(m->lfd);
	m->lfd = -1;
}

int metrics_items(struct metrics *m, zmq_pollitem_t *items)
{
	int n = 0;

	if (m->lfd < 0)
		return 0;
	items[n++] = (zmq_pollitem_t){ NULL, m->lfd, ZMQ_POLLIN, 0 };
	for (int i = 0; i < METRICS_CONNS; i++) {
		struct metrics_conn *c = &m->conns[i];

		items[n++] = (zmq_pollitem_t){ NULL, c->fd, c->fd < 0 ? 0 : c->out ? ZMQ_POLLOUT : ZMQ_POLLIN, 0 };
	}
	return n;
}

static void respond(struct metrics *m, struct metrics_conn *c)
{
	static const char not_found[] = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
					"Connection: close\r\n\r\nonly /metrics here\n";
	char *body = NULL;
	size_t blen = 0;
	FILE *f;

	if (strncmp(c->req, "GET /metrics ", 13) && strncmp(c->req, "GET /metrics?", 13)) {
		c->out = strdup(not_found);
		c->olen = strlen(not_found);
		return;
	}
	f = open_memstream(&body, &blen);
	if (!f)
		return;
	m->render(m->arg, f);
	fclose(f);
	c->out = malloc(blen + 128);
	if (c->out)
		c->olen = (size_t)sprintf(c->out, "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
					   "Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);
	if (c->out) {
		memcpy(c->out + c->olen, body, blen);
		c->olen += blen;
	}
	free(body);
	m->served++;
}

void metrics_handle(struct metrics *m, const zmq_pollitem_t *items, int n)
{
	uint64_t now = now_ms();

	if (n <= 0)
		return;
	if (items[0].revents & ZMQ_POLLIN) {
		int fd;

		while ((fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
			int i;

			for (i = 0; i < METRICS_CONNS && m->conns[i].fd >= 0; i++)
				;
			if (i == METRICS_CONNS) {
				close(fd);	/* too many at once */
				continue;
			}
			m->conns[i].fd = fd;
			m->conns[i].deadline_ms = now + CONN_TIMEOUT_MS;
		}
	}
	for (int i = 0; i < METRICS_CONNS && i + 1 < n; i++) {
		struct metrics_conn *c = &m->conns[i];
		short re = items[i + 1].revents;

		if (c->fd < 0 || items[i + 1].fd != c->fd)
			continue;
		if (now > c->deadline_ms || (re & ZMQ_POLLERR)) {
			conn_close(c);
			continue;
		}
		if (!c->out && (re & ZMQ_POLLIN)) {
			ssize_t r = read(c->fd, c->req + c->rlen, sizeof(c->req) - 1 - c->rlen);

			if (r <= 0) {
				if (r == 0 || (errno != EAGAIN && errno != EINTR))
					conn_close(c);
				continue;
			}
			c->rlen += (size_t)r;
			c->req[c->rlen] = '\0';
			if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
				respond(m, c);
			else if (c->rlen == sizeof(c->req) - 1)
				conn_close(c);
			if (!c->out)
				continue;
		}
		if (c->out) {
			ssize_t w = write(c->fd, c->out + c->off, c->olen - c->off);

			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				conn_close(c);
				continue;
			}
			if (w > 0)
				c->off += (size_t)w;
			if (c->off == c->olen)
				conn_close(c);
		}
	}
	/* idle connections time out even when nothing happens on them */
	for (int i = 0; i < METRICS_CONNS; i++)
		if (m->conns[i].fd >= 0 && now > m->conns[i].deadline_ms)
			conn_close(&m->conns[i]);
}

void metrics_label(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}
