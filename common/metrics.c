/* metrics.c - a tiny non-blocking HTTP server for Prometheus text exposition */

/*
 * DOC: Theory of operation
 *
 * The listening socket and up to METRICS_CONNS client sockets sit in the
 * daemon's poll set. A client's request is read until the blank line (at
 * most 2 KiB, within 1 s of the connection); GET /metrics is answered with
 * the page, anything else with 404; the response is written as the socket
 * takes it, then the connection closes (HTTP/1.0 semantics). Every client
 * is cut off 5 s after it connected. Nothing here can stall the loop.
 *
 * Cost: the page grows with the ports (1.3 MB at 1024 ports), so it is not
 * rendered per request: a rendering serves every request for METRICS_CACHE_MS
 * (a scraper's interval is 10 s or more), shared by reference among the
 * clients sending it. A request costs a lookup, not a rendering.
 *
 * Fairness: one address holds at most METRICS_PER_PEER connections; its
 * next one replaces its oldest (a scraper's retry replaces its stale try).
 * When all slots are taken a new client still gets one: the oldest client
 * that has not sent its request yet makes room, else the oldest of all. So
 * idle or slow connections from one address cannot lock a scraper out.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define CONN_TIMEOUT_MS	5000	/* a whole exchange */
#define REQ_TIMEOUT_MS	1000	/* connection to complete request */

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

static void page_put(struct metrics_page *p)
{
	if (p && !--p->refs)
		free(p);
}

static void conn_close(struct metrics_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	page_put(c->page);
	c->fd = -1;
	c->page = NULL;
	c->out = NULL;
	c->rlen = c->olen = c->off = 0;
}

void metrics_stop(struct metrics *m)
{
	if (!m || m->lfd < 0)
		return;
	for (int i = 0; i < METRICS_CONNS; i++)
		conn_close(&m->conns[i]);
	page_put(m->page);
	m->page = NULL;
	close(m->lfd);
	m->lfd = -1;
	if (m->loop) {
		for (int i = 0; i < METRICS_CONNS; i++)
			ev_del(m->loop, m->h_conn[i]);
		ev_del(m->loop, m->h_lfd);
	}
	m->loop = NULL;
}

/* The daemon's page, the server's own counters after it, behind the HTTP header. */
static struct metrics_page *render(struct metrics *m)
{
	struct metrics_page *p;
	char *body = NULL, hdr[160];
	size_t blen = 0;
	int hlen;
	FILE *f;

	f = open_memstream(&body, &blen);
	if (!f)
		return NULL;
	m->render(m->arg, f);
	m->renders++;
	fprintf(f, "# HELP vmfabric_metrics_renders_total Renderings of this page (at most one per %u ms; "
		"requests in between get the same page)\n"
		"# TYPE vmfabric_metrics_renders_total counter\nvmfabric_metrics_renders_total %llu\n"
		"# HELP vmfabric_metrics_requests_total GET /metrics requests answered\n"
		"# TYPE vmfabric_metrics_requests_total counter\nvmfabric_metrics_requests_total %llu\n"
		"# HELP vmfabric_metrics_evicted_total Metrics clients cut off to make room for another\n"
		"# TYPE vmfabric_metrics_evicted_total counter\nvmfabric_metrics_evicted_total %llu\n",
		METRICS_CACHE_MS, (unsigned long long)m->renders, (unsigned long long)m->served + 1,
		(unsigned long long)m->evicted);
	if (fclose(f)) {
		free(body);
		return NULL;
	}
	hlen = snprintf(hdr, sizeof(hdr), "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
			"Content-Length: %zu\r\nConnection: close\r\n\r\n", blen);
	p = malloc(sizeof(*p) + (size_t)hlen + blen);
	if (p) {
		p->refs = 1;
		p->len = (size_t)hlen + blen;
		memcpy(p->data, hdr, (size_t)hlen);
		memcpy(p->data + hlen, body, blen);
	}
	free(body);
	return p;
}

static void respond(struct metrics *m, struct metrics_conn *c, uint64_t now)
{
	static const char not_found[] = "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n"
					"Connection: close\r\n\r\nonly /metrics here\n";

	if (strncmp(c->req, "GET /metrics ", 13) && strncmp(c->req, "GET /metrics?", 13)) {
		c->out = not_found;
		c->olen = sizeof(not_found) - 1;
		return;
	}
	if (!m->page || now - m->page_ms >= METRICS_CACHE_MS) {
		struct metrics_page *p = render(m);

		if (!p)
			return;		/* out of memory: the client times out */
		page_put(m->page);
		m->page = p;
		m->page_ms = now;
	}
	m->page->refs++;
	c->page = m->page;
	c->out = m->page->data;
	c->olen = m->page->len;
	m->served++;
}

/* the slot for a new client from @peer: free, or taken from whom the DOC block says */
static struct metrics_conn *slot_for(struct metrics *m, const uint8_t peer[16])
{
	struct metrics_conn *mine = NULL, *free_slot = NULL, *waiting = NULL, *oldest = NULL, *c;
	int n_mine = 0;

	for (int i = 0; i < METRICS_CONNS; i++) {
		c = &m->conns[i];
		if (c->fd < 0) {
			free_slot = free_slot ? free_slot : c;
			continue;
		}
		if (!memcmp(c->peer, peer, 16)) {
			n_mine++;
			if (!mine || c->since_ms < mine->since_ms)
				mine = c;
		}
		if (!c->out && (!waiting || c->since_ms < waiting->since_ms))
			waiting = c;
		if (!oldest || c->since_ms < oldest->since_ms)
			oldest = c;
	}
	c = n_mine >= METRICS_PER_PEER ? mine : free_slot ? free_slot : waiting ? waiting : oldest;
	if (c->fd >= 0) {
		m->evicted++;
		conn_close(c);
	}
	return c;
}

static void peer_key(int fd, uint8_t key[16])
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	memset(key, 0, 16);
	if (getpeername(fd, (struct sockaddr *)&ss, &len))
		return;
	if (ss.ss_family == AF_INET6) {
		memcpy(key, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
	} else if (ss.ss_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((struct sockaddr_in *)&ss)->sin_addr, 4);
	}
}

/* A client's socket is ready: read its request, then write the response. */
static void on_conn(struct ev_loop *l, int h, short re, void *arg)
{
	struct metrics *m = arg;
	struct metrics_conn *c = NULL;
	uint64_t now = now_ms();

	(void)l;
	for (int i = 0; i < METRICS_CONNS; i++)
		if (m->h_conn[i] == h)
			c = &m->conns[i];
	if (!c || c->fd < 0)
		return;
	if (now > c->deadline_ms || (!c->out && now > c->since_ms + REQ_TIMEOUT_MS) || (re & ZMQ_POLLERR)) {
		conn_close(c);
		return;
	}
	if (!c->out && (re & ZMQ_POLLIN)) {
		ssize_t r = read(c->fd, c->req + c->rlen, sizeof(c->req) - 1 - c->rlen);

		if (r <= 0) {
			if (r == 0 || (errno != EAGAIN && errno != EINTR))
				conn_close(c);
			return;
		}
		c->rlen += (size_t)r;
		c->req[c->rlen] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
			respond(m, c, now);
		else if (c->rlen == sizeof(c->req) - 1)
			conn_close(c);
		if (!c->out)
			return;
	}
	if (c->out) {
		ssize_t w = write(c->fd, c->out + c->off, c->olen - c->off);

		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			conn_close(c);
			return;
		}
		if (w > 0)
			c->off += (size_t)w;
		if (c->off == c->olen)
			conn_close(c);
	}
}

/*
 * A client is waiting on the listener. Its slot comes after the clients',
 * whose poll results are for the fds they had. A bounded batch: a flood of
 * connections waits in the backlog.
 */
static void on_listen(struct ev_loop *l, int h, short re, void *arg)
{
	struct metrics *m = arg;
	uint64_t now = now_ms();
	int fd;

	(void)l;
	(void)h;
	if (!(re & ZMQ_POLLIN))
		return;
	for (int k = 0; k < METRICS_CONNS &&
	     (fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0; k++) {
		struct metrics_conn *c;
		uint8_t peer[16];

		peer_key(fd, peer);
		c = slot_for(m, peer);
		c->fd = fd;
		memcpy(c->peer, peer, 16);
		c->since_ms = now;
		c->deadline_ms = now + CONN_TIMEOUT_MS;
	}
}

/* Before each sleep: idle clients time out even when nothing happens on them; poll the rest. */
static long on_tick(struct ev_loop *l, uint64_t now, void *arg)
{
	struct metrics *m = arg;

	(void)now;
	now = now_ms();
	for (int i = 0; i < METRICS_CONNS; i++) {
		struct metrics_conn *c = &m->conns[i];

		if (c->fd >= 0 && (now > c->deadline_ms || (!c->out && now > c->since_ms + REQ_TIMEOUT_MS)))
			conn_close(c);
		ev_set_fd(l, m->h_conn[i], c->fd, c->fd < 0 ? 0 : c->out ? ZMQ_POLLOUT : ZMQ_POLLIN);
	}
	return -1;
}

int metrics_attach(struct metrics *m, struct ev_loop *l)
{
	if (m->lfd < 0)
		return 0;
	for (int i = 0; i < METRICS_CONNS; i++)
		if ((m->h_conn[i] = ev_add_fd(l, -1, 0, on_conn, m)) < 0)
			return m->h_conn[i];
	m->h_lfd = ev_add_fd(l, m->lfd, ZMQ_POLLIN, on_listen, m);
	if (m->h_lfd < 0)
		return m->h_lfd;
	m->loop = l;
	return ev_hook(l, on_tick, NULL, m);
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

void metrics_serve(struct metrics *m, const char *addr, void (*render_fn)(void *arg, FILE *f), void *arg)
{
	const char *why = "";
	int rc;

	if (!addr)
		return;
	rc = metrics_start(m, addr, render_fn, arg, &why);
	if (rc)
		die(EXIT_CONFIG, "%s: %s%s%s", addr, why, rc != -EINVAL ? ": " : "",
		    rc != -EINVAL ? strerror(-rc) : "");
	info("metrics on http://%s/metrics", addr);
}
