/* evloop.h - one event loop per process: fds and ZeroMQ sockets, hooks, signals */
#ifndef VMF_EVLOOP_H
#define VMF_EVLOOP_H

/*
 * DOC: Theory of operation
 *
 * Every daemon runs one loop over zmq_poll(), which takes ZeroMQ sockets and
 * plain fds alike. Modules register what they poll and get a handle (a slot
 * in the loop's table); a pass of ev_run() is:
 *
 *   1. hooks, in registration order: each does its due timed work (ticks,
 *      refreshing the fds it polls) and returns how long the loop may sleep
 *      (ms, -1: as long as it likes). A hook may call ev_stop().
 *   2. zmq_poll() over every slot with a socket or fd and events, for the
 *      shortest of those times, or without sleeping if a slot is marked
 *      ev_more() (work buffered where poll cannot see it: a receive budget
 *      used up, a batch left in a ring).
 *   3. hooks' after-poll calls (libslirp reads every result at once).
 *   4. slot callbacks, in slot order, for slots that got events or were
 *      marked ev_more() (revents then 0). The more-mark lasts one pass.
 *
 * Changing a slot's socket or fd (ev_set_zsock/ev_set_fd: a module that
 * swaps its socket on failover) or deleting it forgets that slot's results
 * and more-mark for the current pass, so no callback ever sees the events
 * of a socket that is gone; callers compare no sockets. A slot registered
 * during a pass is polled from the next one. A slot may be deleted from
 * inside its own callback. A new slot takes the lowest free one, so slot
 * order is registration order only while nothing is deleted.
 *
 * Signals: ev_signal() blocks the signal set of signals_fd() (SIGINT,
 * SIGTERM, SIGHUP, SIGUSR1; SIGPIPE ignored) on first use and reads them
 * from one signalfd, itself a slot: each signal calls its callback.
 *
 * The design's "no callbacks on the hot path" holds: a callback is one
 * indirect call per ready slot per wake-up, and each handler drains a batch
 * (up to its budget) inside; nothing here runs per frame.
 *
 * Limits: the slot table grows by doubling (EV_SLOTS_MIN at first), only
 * when a registration needs room; a pass allocates nothing. At most
 * EV_HOOKS hooks. No callback runs inside another.
 */

#include <stdint.h>
#include <zmq.h>

#define EV_SLOTS_MIN	32
#define EV_HOOKS	8
#define EV_SIGNALS	65

struct ev_loop;

/* A slot is ready (@revents: ZMQ_POLLIN/OUT/ERR/PRI, or 0 after ev_more()). */
typedef void (*ev_cb)(struct ev_loop *l, int h, short revents, void *arg);
/* Before sleeping: do due work; Return: ms until this hook has work again, -1 none */
typedef long (*ev_before_cb)(struct ev_loop *l, uint64_t now, void *arg);
/* After waking, before any slot callback; @poll_failed: zmq_poll returned an error */
typedef void (*ev_after_cb)(struct ev_loop *l, int poll_failed, void *arg);
typedef void (*ev_sig_cb)(struct ev_loop *l, int sig, void *arg);

struct ev_slot {
	void *zsock;		/* a ZeroMQ socket, or NULL */
	int fd;			/* a plain fd when zsock is NULL; -1: none */
	short events;		/* ZMQ_POLLIN | ZMQ_POLLOUT | ZMQ_POLLPRI; 0: not polled */
	short revents;		/* this pass's result */
	int used, more;
	ev_cb cb;		/* NULL: the owner reads ev_revents() */
	void *arg;
};

struct ev_hook {
	ev_before_cb before;
	ev_after_cb after;
	void *arg;
};

struct ev_loop {
	struct ev_slot *slot;
	zmq_pollitem_t *items;	/* the poll set, rebuilt each pass ... */
	int *item_slot;		/* ... and the slot of each item */
	int n_slot, cap;
	struct ev_hook hook[EV_HOOKS];
	int n_hook;
	int sfd, sig_h;		/* the signalfd and its slot; -1 until ev_signal() */
	ev_sig_cb sig_cb[EV_SIGNALS];
	void *sig_arg[EV_SIGNALS];
	int stop;
	uint64_t wait_us, work_us;	/* time asleep in zmq_poll, and awake (callbacks, hooks) */
};

/** ev_init() - an empty loop; Return: 0 or -ENOMEM */
int ev_init(struct ev_loop *l);

/** ev_free() - release the table and the signalfd (not the registered fds); accepts NULL */
void ev_free(struct ev_loop *l);

/**
 * ev_add_fd() / ev_add_zsock() - poll @fd (or ZeroMQ socket @zsock) for
 * @events; @cb (may be NULL) is called when it is ready.
 * Return: the handle, or -ENOMEM
 */
int ev_add_fd(struct ev_loop *l, int fd, short events, ev_cb cb, void *arg);
int ev_add_zsock(struct ev_loop *l, void *zsock, short events, ev_cb cb, void *arg);

/**
 * ev_set_fd() / ev_set_zsock() - change what slot @h polls (-1 or NULL:
 * nothing for now). A different fd or socket drops this pass's results
 * and the more-mark of the slot; new events only take effect next pass.
 */
void ev_set_fd(struct ev_loop *l, int h, int fd, short events);
void ev_set_zsock(struct ev_loop *l, int h, void *zsock, short events);

/** ev_del() - forget slot @h (a negative @h is ignored), also from inside its callback */
void ev_del(struct ev_loop *l, int h);

/** ev_revents() - slot @h's events from the last poll (for slots without callback) */
short ev_revents(const struct ev_loop *l, int h);

/** ev_more() - call @h's callback next pass even without events, and do not sleep before it */
void ev_more(struct ev_loop *l, int h);

/** ev_hook() - run @before before each sleep and @after after each wake-up (either may be NULL) */
int ev_hook(struct ev_loop *l, ev_before_cb before, ev_after_cb after, void *arg);

/** ev_signal() - call @cb when signal @sig (one of signals_fd()'s) arrives. Return: 0 or -errno */
int ev_signal(struct ev_loop *l, int sig, ev_sig_cb cb, void *arg);

/** ev_run() - run passes until ev_stop(); Return: 0, or -errno if zmq_poll failed */
int ev_run(struct ev_loop *l);

/** ev_stop() - end ev_run() after the current pass (a hook calling it ends it before sleeping) */
void ev_stop(struct ev_loop *l);

#endif /* VMF_EVLOOP_H */
