/* stream.c - QEMU stream framing: 4-byte big-endian length + frame, both directions */

/*
 * DOC: Theory of operation
 *
 * QEMU's -netdev stream and -netdev socket (TCP, unix, or a stream fd) send
 * each frame as htonl(length) followed by the frame, and resume partial
 * writes later, so a read() may end anywhere: inside a length, inside a
 * frame, or after several frames. stream_rx keeps one buffer, parses every
 * complete frame in place (no copy), and moves the incomplete tail to the
 * front only after the caller has sent the batch that points into it.
 * A length above max_frame can never be valid (QEMU's own limit is 69632
 * bytes) and is a framing error: the caller drops the connection, because
 * after a bad length nothing that follows can be trusted.
 *
 * stream_tx writes a batch with one writev(). Whatever the socket does not
 * take (EAGAIN or a short write) is copied to a queue and written when the
 * socket is writable again; while the queue is non-empty new frames are
 * appended behind it, whole, or dropped whole when it is full.
 *
 * dgram_tx does the same for datagram peers: the queue holds the same
 * length-prefixed records, and each is sent as one datagram when the
 * peer's receive queue has room again. A datagram the socket refuses as too
 * long (EMSGSIZE: a UDP datagram holds at most 65507 bytes, and an offload
 * segment may be longer) is that frame's problem, not the peer's: it is
 * dropped and counted (tx->oversize), and the frames behind it still go.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "stream.h"

#define MIN_SZ(a, b) ((a) < (b) ? (a) : (b))

int stream_rx_init(struct stream_rx *rx, size_t cap, size_t max_frame)
{
	if (cap < max_frame + 4)
		return -EINVAL;
	rx->buf = malloc(cap);
	if (!rx->buf)
		return -ENOMEM;
	rx->cap = cap;
	rx->max_frame = max_frame;
	rx->start = rx->end = 0;
	return 0;
}

void stream_rx_free(struct stream_rx *rx)
{
	if (!rx)
		return;
	free(rx->buf);
	rx->buf = NULL;
}

void stream_rx_reset(struct stream_rx *rx)
{
	rx->start = rx->end = 0;
}

uint8_t *stream_rx_space(struct stream_rx *rx, size_t *len)
{
	*len = rx->cap - rx->end;
	return rx->buf + rx->end;
}

void stream_rx_commit(struct stream_rx *rx, size_t n)
{
	rx->end += n;
}

int stream_rx_next(struct stream_rx *rx, const uint8_t **frame, size_t *len)
{
	size_t avail = rx->end - rx->start;
	const uint8_t *p = rx->buf + rx->start;
	uint32_t n;

	if (avail < 4)
		return 0;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n > rx->max_frame)
		return -EBADMSG;
	if (avail - 4 < n)
		return 0;
	*frame = p + 4;
	*len = n;
	rx->start += 4 + n;
	return 1;
}

void stream_rx_compact(struct stream_rx *rx)
{
	size_t avail = rx->end - rx->start;

	if (rx->start && avail)
		memmove(rx->buf, rx->buf + rx->start, avail);
	rx->start = 0;
	rx->end = avail;
}

int stream_tx_init(struct stream_tx *tx, size_t cap)
{
	tx->buf = malloc(cap);
	if (!tx->buf)
		return -ENOMEM;
	tx->cap = cap;
	tx->start = tx->end = 0;
	tx->oversize = 0;
	return 0;
}

void stream_tx_free(struct stream_tx *tx)
{
	if (!tx)
		return;
	free(tx->buf);
	tx->buf = NULL;
}

/* Queue whole frames from @first on, skipping @skip bytes of frame @first's record. */
static size_t queue_frames(struct stream_tx *tx, const struct frame *f, size_t first, size_t n,
			   size_t skip)
{
	size_t i, queued = 0;

	if (tx->start && tx->start == tx->end)
		tx->start = tx->end = 0;
	for (i = first; i < n; i++) {
		uint8_t hdr[4] = { (uint8_t)(f[i].len >> 24), (uint8_t)(f[i].len >> 16),
				   (uint8_t)(f[i].len >> 8), (uint8_t)f[i].len };
		size_t rec = 4 + f[i].len - skip;

		if (tx->cap - tx->end < rec && tx->start) {
			memmove(tx->buf, tx->buf + tx->start, tx->end - tx->start);
			tx->end -= tx->start;
			tx->start = 0;
		}
		if (tx->cap - tx->end < rec) {
			if (skip)	/* a partly written frame must be finished */
				abort();
			continue;
		}
		if (skip < 4) {
			memcpy(tx->buf + tx->end, hdr + skip, 4 - skip);
			tx->end += 4 - skip;
			memcpy(tx->buf + tx->end, f[i].data, f[i].len);
			tx->end += f[i].len;
		} else {
			memcpy(tx->buf + tx->end, f[i].data + (skip - 4), f[i].len - (skip - 4));
			tx->end += f[i].len - (skip - 4);
		}
		skip = 0;
		queued++;
	}
	return queued;
}

ssize_t stream_tx_write(struct stream_tx *tx, int fd, const struct frame *f, size_t n)
{
	struct iovec iov[2 * 256];
	uint8_t hdrs[256][4];
	size_t i, done = 0, sent;
	ssize_t w;

	if (stream_tx_pending(tx))
		return (ssize_t)queue_frames(tx, f, 0, n, 0);

	while (done < n) {
		size_t k = 0, first = done;

		for (i = done; i < n && k < 256; i++, k++) {
			hdrs[k][0] = (uint8_t)(f[i].len >> 24);
			hdrs[k][1] = (uint8_t)(f[i].len >> 16);
			hdrs[k][2] = (uint8_t)(f[i].len >> 8);
			hdrs[k][3] = (uint8_t)f[i].len;
			iov[2 * k] = (struct iovec){ hdrs[k], 4 };
			iov[2 * k + 1] = (struct iovec){ f[i].data, f[i].len };
		}
		w = writev(fd, iov, (int)(2 * k));
		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return (ssize_t)(first + queue_frames(tx, f, first, n, 0));
			return -errno;
		}
		/* find where the write stopped */
		sent = (size_t)w;
		for (i = first; i < first + k; i++) {
			size_t rec = 4 + f[i].len;

			if (sent < rec)
				return (ssize_t)(i + queue_frames(tx, f, i, n, sent));
			sent -= rec;
		}
		done = first + k;
	}
	return (ssize_t)n;
}

int stream_tx_flush(struct stream_tx *tx, int fd)
{
	while (stream_tx_pending(tx)) {
		ssize_t w = write(fd, tx->buf + tx->start, stream_tx_pending(tx));

		if (w < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return 0;
			return -errno;
		}
		tx->start += (size_t)w;
	}
	tx->start = tx->end = 0;
	return 0;
}

static int dgram_fatal(int e)
{
	return e != EAGAIN && e != EWOULDBLOCK && e != EINTR && e != ENOBUFS;
}

ssize_t dgram_tx_write(struct stream_tx *tx, int fd, const struct frame *f, size_t n)
{
	struct mmsghdr msgs[256];
	struct iovec iov[256];
	size_t done = 0, dropped = 0, i;

	if (stream_tx_pending(tx))
		return (ssize_t)queue_frames(tx, f, 0, n, 0);
	while (done < n) {
		size_t k = MIN_SZ(n - done, (size_t)256);
		int r;

		for (i = 0; i < k; i++) {
			iov[i] = (struct iovec){ f[done + i].data, f[done + i].len };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		r = sendmmsg(fd, msgs, (unsigned int)k, MSG_DONTWAIT);
		if (r < 0 && errno == EMSGSIZE) {
			/* this frame can never go: drop it alone, the link is fine */
			tx->oversize++;
			dropped++;
			done++;
			continue;
		}
		if (r < 0) {
			if (dgram_fatal(errno))
				return -errno;
			return (ssize_t)(done - dropped + queue_frames(tx, f, done, n, 0));
		}
		done += (size_t)r;
	}
	return (ssize_t)(n - dropped);
}

int dgram_tx_flush(struct stream_tx *tx, int fd)
{
	while (stream_tx_pending(tx)) {
		const uint8_t *p = tx->buf + tx->start;
		size_t len = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];

		if (send(fd, p + 4, len, MSG_DONTWAIT) < 0) {
			if (errno == EMSGSIZE)
				tx->oversize++;	/* never fits: drop it, keep the link */
			else if (dgram_fatal(errno))
				return -errno;
			else
				return 0;
		}
		tx->start += 4 + len;
	}
	tx->start = tx->end = 0;
	return 0;
}
