/* daemon.c - the start-up and the loop every daemon shares */

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <zmq.h>

#include "daemon.h"
#include "log.h"

static void on_stop(struct ev_loop *l, int sig, void *arg)
{
	(void)sig;
	(void)arg;
	ev_stop(l);
}

void daemon_start(struct daemon *d, const struct conf_std *std, int io_threads)
{
	int rc;

	conf_std_detach(std);
	if (ev_init(&d->loop))
		die(1, "out of memory");
	if ((rc = ev_signal(&d->loop, SIGINT, on_stop, NULL)) ||
	    (rc = ev_signal(&d->loop, SIGTERM, on_stop, NULL)))
		die(1, "signalfd: %s", strerror(-rc));
	d->zctx = zmq_ctx_new();
	if (!d->zctx)
		die(1, "zmq_ctx_new: %s", zmq_strerror(errno));
	if (io_threads > 0)
		zmq_ctx_set(d->zctx, ZMQ_IO_THREADS, io_threads);
}

void daemon_end(struct daemon *d)
{
	if (!d)
		return;
	if (d->zctx)
		zmq_ctx_term(d->zctx);
	d->zctx = NULL;
	ev_free(&d->loop);
}
