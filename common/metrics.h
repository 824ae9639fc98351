/* metrics.h - a tiny non-blocking HTTP server for Prometheus text exposition */
#ifndef VMF_METRICS_H
#define VMF_METRICS_H

#include <stdint.h>
#include <stdio.h>
#include <zmq.h>

#define METRICS_CONNS	8

struct metrics_conn {
	int fd;
	char req[2048];
	size_t rlen;
	char *out;
	size_t olen, off;
	uint64_t deadline_ms;
};

/**
 * struct metrics - GET /metrics on one TCP address, answered from the
 * daemon's own loop: no thread, no blocking call, at most METRICS_CONNS
 * clients at once, each cut off after 5 s
 */
struct metrics {
	int lfd;
	struct metrics_conn conns[METRICS_CONNS];
	void (*render)(void *arg, FILE *f);
	void *arg;
	uint64_t served;
};

/** metrics_start() - listen on "ADDR:PORT" ("[::1]:9464", "127.0.0.1:9464") */
int metrics_start(struct metrics *m, const char *addr, void (*render)(void *arg, FILE *f), void *arg,
		  const char **why);
void metrics_stop(struct metrics *m);

/** metrics_items() - fill up to 1 + METRICS_CONNS poll items; Return: how many */
int metrics_items(struct metrics *m, zmq_pollitem_t *items);

/** metrics_handle() - serve what the poll found ready (@items from metrics_items) */
void metrics_handle(struct metrics *m, const zmq_pollitem_t *items, int n);

/** metrics_label() - write @s as a Prometheus label value (quoted, escaped) */
void metrics_label(FILE *f, const char *s);

#endif /* VMF_METRICS_H */
