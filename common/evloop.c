/* evloop.c - one event loop per process: fds and ZeroMQ sockets, hooks, signals */

/* The theory of operation is in evloop.h, beside the interface it explains. */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evloop.h"
#include "util.h"

static int grow(struct ev_loop *l)
{
	int cap = l->cap ? 2 * l->cap : EV_SLOTS_MIN;
	struct ev_slot *s = realloc(l->slot, (size_t)cap * sizeof(*s));
	zmq_pollitem_t *it;
	int *is;

	if (!s)
		return -ENOMEM;
	l->slot = s;
	it = realloc(l->items, (size_t)cap * sizeof(*it));
	if (!it)
		return -ENOMEM;
	l->items = it;
	is = realloc(l->item_slot, (size_t)cap * sizeof(*is));
	if (!is)
		return -ENOMEM;
	l->item_slot = is;
	memset(l->slot + l->cap, 0, (size_t)(cap - l->cap) * sizeof(*s));
	l->cap = cap;
	return 0;
}

int ev_init(struct ev_loop *l)
{
	memset(l, 0, sizeof(*l));
	l->sfd = l->sig_h = -1;
	return grow(l);
}

void ev_free(struct ev_loop *l)
{
	if (!l)
		return;
	if (l->sfd >= 0)
		close(l->sfd);
	free(l->slot);
	free(l->items);
	free(l->item_slot);
	memset(l, 0, sizeof(*l));
	l->sfd = l->sig_h = -1;
}

static int add(struct ev_loop *l, void *zsock, int fd, short events, ev_cb cb, void *arg)
{
	int h;

	for (h = 0; h < l->n_slot && l->slot[h].used; h++)
		;
	if (h == l->cap && grow(l))
		return -ENOMEM;
	l->slot[h] = (struct ev_slot){ zsock, zsock ? 0 : fd, events, 0, 1, 0, cb, arg };
	if (h == l->n_slot)
		l->n_slot++;
	return h;
}

int ev_add_fd(struct ev_loop *l, int fd, short events, ev_cb cb, void *arg)
{
	return add(l, NULL, fd, events, cb, arg);
}

int ev_add_zsock(struct ev_loop *l, void *zsock, short events, ev_cb cb, void *arg)
{
	return add(l, zsock, -1, events, cb, arg);
}

static struct ev_slot *slot(const struct ev_loop *l, int h)
{
	return h >= 0 && h < l->n_slot && l->slot[h].used ? &l->slot[h] : NULL;
}

void ev_set_fd(struct ev_loop *l, int h, int fd, short events)
{
	struct ev_slot *s = slot(l, h);

	if (!s)
		return;
	if (s->zsock || s->fd != fd)
		s->revents = 0, s->more = 0;	/* results of a closed fd, maybe reused */
	s->zsock = NULL;
	s->fd = fd;
	s->events = events;
}

void ev_set_zsock(struct ev_loop *l, int h, void *zsock, short events)
{
	struct ev_slot *s = slot(l, h);

	if (!s)
		return;
	if (s->zsock != zsock)
		s->revents = 0, s->more = 0;	/* results of the socket that was swapped out */
	s->zsock = zsock;
	s->fd = zsock ? 0 : -1;
	s->events = events;
}

void ev_del(struct ev_loop *l, int h)
{
	struct ev_slot *s = slot(l, h);

	if (!s)
		return;
	memset(s, 0, sizeof(*s));
	while (l->n_slot && !l->slot[l->n_slot - 1].used)
		l->n_slot--;
}

short ev_revents(const struct ev_loop *l, int h)
{
	const struct ev_slot *s = slot(l, h);

	return s ? s->revents : 0;
}

void ev_more(struct ev_loop *l, int h)
{
	struct ev_slot *s = slot(l, h);

	if (s)
		s->more = 1;
}

int ev_hook(struct ev_loop *l, ev_before_cb before, ev_after_cb after, void *arg)
{
	if (l->n_hook == EV_HOOKS)
		return -ENOSPC;
	l->hook[l->n_hook++] = (struct ev_hook){ before, after, arg };
	return 0;
}

/* The signalfd is readable: every pending signal to its callback. */
static void on_signal(struct ev_loop *l, int h, short revents, void *arg)
{
	int sig;

	(void)h;
	(void)revents;
	(void)arg;
	while ((sig = signals_read(l->sfd)))
		if (sig > 0 && sig < EV_SIGNALS && l->sig_cb[sig])
			l->sig_cb[sig](l, sig, l->sig_arg[sig]);
}

int ev_signal(struct ev_loop *l, int sig, ev_sig_cb cb, void *arg)
{
	if (sig <= 0 || sig >= EV_SIGNALS)
		return -EINVAL;
	if (l->sfd < 0) {
		int fd = signals_fd();

		if (fd < 0)
			return fd;
		l->sig_h = ev_add_fd(l, fd, ZMQ_POLLIN, on_signal, NULL);
		if (l->sig_h < 0) {
			close(fd);
			return l->sig_h;
		}
		l->sfd = fd;
	}
	l->sig_cb[sig] = cb;
	l->sig_arg[sig] = arg;
	return 0;
}

void ev_stop(struct ev_loop *l)
{
	l->stop = 1;
}

/* Hooks before sleeping. Return: how long the loop may sleep (ms, -1: no limit) */
static long before(struct ev_loop *l)
{
	uint64_t now = now_ms();
	long t = -1;

	for (int i = 0; i < l->n_hook && !l->stop; i++) {
		long ht;

		if (!l->hook[i].before)
			continue;
		ht = l->hook[i].before(l, now, l->hook[i].arg);
		if (ht >= 0 && (t < 0 || ht < t))
			t = ht;
	}
	return t;
}

/* The poll set from the slots; a slot asking for another look means no sleep. */
static int fill(struct ev_loop *l, long *t)
{
	int n = 0;

	for (int h = 0; h < l->n_slot; h++) {
		struct ev_slot *s = &l->slot[h];

		s->revents = 0;
		if (s->used && s->more)
			*t = 0;
		if (!s->used || !s->events || (!s->zsock && s->fd < 0))
			continue;
		l->items[n] = (zmq_pollitem_t){ s->zsock, s->fd, s->events, 0 };
		l->item_slot[n++] = h;
	}
	return n;
}

int ev_run(struct ev_loop *l)
{
	uint64_t t0, t1 = 0;

	l->stop = 0;
	while (!l->stop) {
		long t = before(l);
		int n, rc, failed;

		if (l->stop)
			break;
		n = fill(l, &t);
		t0 = now_us();
		if (t1)
			l->work_us += t0 - t1;	/* since the last wake-up: callbacks and hooks */
		rc = zmq_poll(l->items, n, t);
		t1 = now_us();
		l->wait_us += t1 - t0;
		failed = rc < 0;
		if (failed && errno != EINTR)
			return -errno;
		for (int i = 0; i < n && rc > 0; i++)
			l->slot[l->item_slot[i]].revents = l->items[i].revents;
		for (int i = 0; i < l->n_hook; i++)
			if (l->hook[i].after)
				l->hook[i].after(l, failed, l->hook[i].arg);
		/* n_slot is read each time: a callback may add or delete slots */
		for (int h = 0; h < l->n_slot; h++) {
			struct ev_slot *s = &l->slot[h];
			short re = s->revents;

			if (!s->used || !s->cb || (!re && !s->more))
				continue;
			s->more = 0;
			s->cb(l, h, re, s->arg);
		}
	}
	return 0;
}
