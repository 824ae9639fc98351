/* test_evloop.c - unit tests for common/evloop.c: dispatch, swaps, more-marks, hooks, signals */

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h>

#include "unit.h"

#include "evloop.h"
#include "util.h"

/* what the callbacks saw, in order */
static struct {
	int h[32];
	short re[32];
	int n;
} seen;

static int pa[2], pb[2], pc[2];	/* pipes: read end [0] */
static struct ev_loop loop;
static int passes, stop_after;

static void note(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)arg;
	if (seen.n < 32) {
		seen.h[seen.n] = h;
		seen.re[seen.n++] = revents;
	}
}

/* A before-hook that counts passes and ends the loop after stop_after of them. */
static long count_passes(struct ev_loop *l, uint64_t now, void *arg)
{
	(void)now;
	(void)arg;
	if (++passes > stop_after)
		ev_stop(l);
	return 0;
}

static int setup(void **state)
{
	(void)state;
	memset(&seen, 0, sizeof(seen));
	passes = 0;
	stop_after = 1;
	assert_int_equal(pipe(pa), 0);
	assert_int_equal(pipe(pb), 0);
	assert_int_equal(pipe(pc), 0);
	assert_int_equal(ev_init(&loop), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ev_free(&loop);
	ev_free(NULL);
	for (int i = 0; i < 2; i++) {
		close(pa[i]);
		close(pb[i]);
		close(pc[i]);
	}
	return 0;
}

/* fds and ZeroMQ sockets in one pass, callbacks in slot order, quiet slots left alone */
static void test_dispatch(void **state)
{
	void *ctx = zmq_ctx_new(), *rx = zmq_socket(ctx, ZMQ_PAIR), *tx = zmq_socket(ctx, ZMQ_PAIR);
	int hz, ha, hb;

	(void)state;
	assert_int_equal(zmq_bind(rx, "inproc://evloop-test"), 0);
	assert_int_equal(zmq_connect(tx, "inproc://evloop-test"), 0);
	hz = ev_add_zsock(&loop, rx, ZMQ_POLLIN, note, NULL);
	ha = ev_add_fd(&loop, pa[0], ZMQ_POLLIN, note, NULL);
	hb = ev_add_fd(&loop, pb[0], ZMQ_POLLIN, note, NULL);
	assert_true(hz >= 0 && ha > hz && hb > ha);
	assert_int_equal(ev_hook(&loop, count_passes, NULL, NULL), 0);
	assert_int_equal(zmq_send(tx, "x", 1, 0), 1);
	assert_int_equal(write(pb[1], "x", 1), 1);
	stop_after = 2;
	assert_int_equal(ev_run(&loop), 0);
	assert_int_equal(passes, 3);	/* two polls; the third pass ended before sleeping */
	/* both ready slots, each once per pass (nothing is read: twice), in slot order; pa never */
	assert_int_equal(seen.n, 4);
	assert_int_equal(seen.h[0], hz);
	assert_int_equal(seen.re[0], ZMQ_POLLIN);
	assert_int_equal(seen.h[1], hb);
	assert_int_equal(seen.h[2], hz);
	assert_int_equal(seen.h[3], hb);
	zmq_close(rx);
	zmq_close(tx);
	zmq_ctx_term(ctx);
}

static int h_self, h_new, h_victim;

/* deletes itself, registers a ready slot, and moves another slot to a ready fd */
static void churn(struct ev_loop *l, int h, short revents, void *arg)
{
	note(l, h, revents, arg);
	ev_del(l, h);
	h_new = ev_add_fd(l, pc[0], ZMQ_POLLIN, note, NULL);
	ev_set_fd(l, h_victim, pc[0], ZMQ_POLLIN);
}

/*
 * A slot deleted inside its own callback is never called again; one added
 * during a pass waits for the next; one moved to another fd loses this
 * pass's results (they were for the old fd).
 */
static void test_del_and_swap_in_callback(void **state)
{
	(void)state;
	h_self = ev_add_fd(&loop, pa[0], ZMQ_POLLIN, churn, NULL);
	h_victim = ev_add_fd(&loop, pb[0], ZMQ_POLLIN, note, NULL);
	assert_int_equal(ev_hook(&loop, count_passes, NULL, NULL), 0);
	assert_int_equal(write(pa[1], "x", 1), 1);
	assert_int_equal(write(pb[1], "x", 1), 1);
	assert_int_equal(write(pc[1], "x", 1), 1);
	stop_after = 2;
	assert_int_equal(ev_run(&loop), 0);
	/* pass 1: churn only (victim's pb result dropped, new slot not yet polled) */
	assert_int_equal(seen.n, 3);
	assert_int_equal(seen.h[0], h_self);
	/* pass 2: the freed slot was taken again by the new registration, polled like the victim */
	assert_int_equal(h_new, h_self);
	assert_int_equal(seen.h[1], h_new);
	assert_int_equal(seen.h[2], h_victim);
	assert_int_equal(seen.re[2], ZMQ_POLLIN);
}

static int h_more;
static uint64_t t_start;

static long mark_more(struct ev_loop *l, uint64_t now, void *arg)
{
	(void)arg;
	if (!passes)
		t_start = now;
	if (passes == 1)
		ev_more(l, h_more);
	if (++passes > 3)
		ev_stop(l);
	return passes > 2 ? 0 : -1;	/* pass 2 would sleep for ever without the mark */
}

/* a more-mark calls the callback without events, keeps the loop awake, and lasts one pass */
static void test_more(void **state)
{
	(void)state;
	h_more = ev_add_fd(&loop, pa[0], ZMQ_POLLIN, note, NULL);	/* never readable */
	assert_int_equal(ev_hook(&loop, mark_more, NULL, NULL), 0);
	ev_more(&loop, h_more);	/* pass 1 */
	assert_int_equal(ev_run(&loop), 0);
	assert_int_equal(seen.n, 2);
	assert_int_equal(seen.h[0], h_more);
	assert_int_equal(seen.re[0], 0);
	assert_int_equal(seen.re[1], 0);
	assert_true(now_ms() - t_start < 5000);
}

static uint64_t ticks[4];
static int n_ticks;

static long timer(struct ev_loop *l, uint64_t now, void *arg)
{
	(void)arg;
	ticks[n_ticks++] = now;
	if (n_ticks == 4)
		ev_stop(l);
	return 100;
}

static long lazy(struct ev_loop *l, uint64_t now, void *arg)
{
	(void)l;
	(void)now;
	(void)arg;
	return -1;	/* no deadline: the other hook's decides */
}

/* the loop sleeps as long as the earliest hook allows, and no longer than it must */
static void test_timeout(void **state)
{
	(void)state;
	assert_int_equal(ev_hook(&loop, lazy, NULL, NULL), 0);
	assert_int_equal(ev_hook(&loop, timer, NULL, NULL), 0);
	assert_int_equal(ev_run(&loop), 0);
	assert_int_equal(n_ticks, 4);
	for (int i = 1; i < 4; i++)
		assert_true(ticks[i] - ticks[i - 1] >= 99);
	assert_true(ticks[3] - ticks[0] < 5000);
	assert_true(loop.wait_us >= 290000);
}

static int h_plain;
static short after_saw;

static void after(struct ev_loop *l, int failed, void *arg)
{
	(void)arg;
	assert_int_equal(failed, 0);
	assert_int_equal(seen.n, 0);	/* before any slot callback */
	after_saw = ev_revents(l, h_plain);
}

/* a slot without callback is polled; its owner reads the result in its after-hook */
static void test_after_hook(void **state)
{
	(void)state;
	h_plain = ev_add_fd(&loop, pa[0], ZMQ_POLLIN, NULL, NULL);
	ev_add_fd(&loop, pb[0], ZMQ_POLLIN, note, NULL);
	assert_int_equal(ev_hook(&loop, count_passes, after, NULL), 0);
	assert_int_equal(write(pa[1], "x", 1), 1);
	assert_int_equal(ev_run(&loop), 0);
	assert_int_equal(after_saw, ZMQ_POLLIN);
	assert_int_equal(ev_revents(&loop, -1), 0);
	assert_int_equal(ev_revents(&loop, 999), 0);
}

static int got_sig;

static void on_sig(struct ev_loop *l, int sig, void *arg)
{
	(void)arg;
	got_sig = sig;
	ev_stop(l);
}

/* signals arrive through the signalfd to their callback; one without a callback is dropped */
static void test_signals(void **state)
{
	(void)state;
	assert_int_equal(ev_signal(&loop, SIGUSR1, on_sig, NULL), 0);
	assert_int_equal(ev_signal(&loop, 0, on_sig, NULL), -EINVAL);
	assert_int_equal(ev_signal(&loop, EV_SIGNALS, on_sig, NULL), -EINVAL);
	assert_int_equal(raise(SIGHUP), 0);	/* blocked by now: waits in the signalfd */
	assert_int_equal(raise(SIGUSR1), 0);
	assert_int_equal(ev_run(&loop), 0);
	assert_int_equal(got_sig, SIGUSR1);
}

/* the table grows past its first size; deleted slots at the end are given back */
static void test_grow(void **state)
{
	int h[3 * EV_SLOTS_MIN];

	(void)state;
	for (int i = 0; i < 3 * EV_SLOTS_MIN; i++) {
		h[i] = ev_add_fd(&loop, -1, 0, note, NULL);
		assert_int_equal(h[i], i);
	}
	assert_true(loop.cap >= 3 * EV_SLOTS_MIN);
	for (int i = 3 * EV_SLOTS_MIN - 1; i >= 1; i--)
		ev_del(&loop, h[i]);
	assert_int_equal(loop.n_slot, 1);
	ev_del(&loop, h[1]);	/* twice: ignored */
	ev_del(&loop, -1);
	assert_int_equal(ev_add_fd(&loop, -1, 0, note, NULL), 1);
}

/* a poll that fails (the ZeroMQ context shut down under the loop) ends ev_run() with the error */
static void test_poll_error(void **state)
{
	void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PAIR);

	(void)state;
	ev_add_zsock(&loop, s, ZMQ_POLLIN, note, NULL);
	assert_int_equal(ev_hook(&loop, count_passes, NULL, NULL), 0);
	stop_after = 3;
	assert_int_equal(zmq_ctx_shutdown(ctx), 0);
	assert_int_equal(ev_run(&loop), -ETERM);
	assert_int_equal(passes, 1);
	assert_int_equal(seen.n, 0);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
UNIT_MAIN("evloop", NULL, NULL,
	    T(test_dispatch), T(test_del_and_swap_in_callback), T(test_more), T(test_timeout),
	    T(test_after_hook), T(test_signals), T(test_grow), T(test_poll_error))
