/* daemon.h - the start-up and the loop every daemon shares */
#ifndef VMF_DAEMON_H
#define VMF_DAEMON_H

#include "conf.h"
#include "evloop.h"

/* A daemon's process-wide state: its one loop and its ZeroMQ context. */
struct daemon {
	struct ev_loop loop;
	void *zctx;
};

/**
 * daemon_start() - what -f and --pidfile ask for (conf_std_detach()), the
 * loop with SIGINT and SIGTERM stopping it, and the ZeroMQ context (with
 * @io_threads I/O threads if > 0). libzmq starts its threads with the first
 * socket, not here, so a caller may still drop privileges before it makes
 * one. Dies on failure: start-up only.
 */
void daemon_start(struct daemon *d, const struct conf_std *std, int io_threads);

/** daemon_end() - the context (every socket closed by now) and the loop; accepts NULL */
void daemon_end(struct daemon *d);

#endif /* VMF_DAEMON_H */
