/* metrics.h - a tiny non-blocking HTTP server for Prometheus text exposition */
#ifndef VMF_METRICS_H
#define VMF_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <zmq.h>

#include "evloop.h"

#define METRICS_CONNS		8	/* clients at once */
#define METRICS_PER_PEER	2	/* of them from one address */
#define METRICS_CACHE_MS	1000	/* the page is rendered at most this often */

/* one rendering of the page (HTTP header and body), shared by the clients sending it */
struct metrics_page {
	unsigned int refs;
	size_t len;
	char data[];
};

struct metrics_conn {
	int fd;
	uint8_t peer[16];		/* the client's address (IPv4 mapped) */
	char req[2048];
	size_t rlen;
	const char *out;		/* response: into page, or a static text */
	struct metrics_page *page;
	size_t olen, off;
	uint64_t since_ms, deadline_ms;
};

/**
 * struct metrics - GET /metrics on one TCP address, answered from the
 * daemon's own loop: no thread, no blocking call, at most METRICS_CONNS
 * clients at once (METRICS_PER_PEER per address), the page rendered at most
 * once per METRICS_CACHE_MS whatever the number of requests
 */
struct metrics {
	int lfd;
	struct metrics_conn conns[METRICS_CONNS];
	void (*render)(void *arg, FILE *f);
	void *arg;
	struct metrics_page *page;	/* the latest rendering, or NULL */
	uint64_t page_ms;
	uint64_t served, renders, evicted;
	struct ev_loop *loop;		/* metrics_attach() */
	int h_lfd, h_conn[METRICS_CONNS];
};

/** metrics_start() - listen on "ADDR:PORT" ("[::1]:9464", "127.0.0.1:9464") */
int metrics_start(struct metrics *m, const char *addr, void (*render)(void *arg, FILE *f), void *arg,
		  const char **why);

/**
 * metrics_serve() - metrics_start() at a daemon's start-up: logs where, or
 * exits 78 with @addr and the reason. Does nothing for a NULL @addr
 */
void metrics_serve(struct metrics *m, const char *addr, void (*render)(void *arg, FILE *f), void *arg);
void metrics_stop(struct metrics *m);

/**
 * metrics_attach() - serve from loop @l: the listener and the clients'
 * sockets, and a hook that ends clients past their time. Return: 0 or -errno
 */
int metrics_attach(struct metrics *m, struct ev_loop *l);

/** metrics_label() - write @s as a Prometheus label value (quoted, escaped) */
void metrics_label(FILE *f, const char *s);

#endif /* VMF_METRICS_H */
