/* fuzz_stream.c - fuzz QEMU stream framing: reassembly across any read split, and the writer's queue */

/*
 * Input: byte 0 picks max_frame, byte 1 seeds the read sizes, the rest is
 * what a QEMU peer would write on the socket. The reassembler gets the bytes
 * in pieces of varying size (as read() would return them), handing out
 * frames and compacting between batches exactly as backend.c does. Oracle:
 * the frames equal a one-pass reference parse, in order, up to the first
 * bad length, which must be reported (and nothing after it handed out).
 *
 * Then every frame handed out is written back with stream_tx_write() to a
 * socketpair whose buffer is small, with partial drains of the peer in
 * between (EAGAIN, short writes, the queue, flushes). Oracle: the peer reads
 * a valid stream of whole frames, each one of the frames written, in order.
 *
 * Last, the same bytes go to the real backend (backend.c, BE_STREAM_FD on a
 * socketpair), written as fast as the socket takes them and then closed,
 * and read the way the event loop does: backend_read() only when poll()
 * says the socket is readable or backend_pending() says frames are
 * buffered. Oracle: it never stalls (nothing readable, nothing pending,
 * connection not ended); without a bad length it hands out every complete
 * frame of 14 .. MTU + 18 bytes, in order (runts and giants counted);
 * with one, a prefix of them, and the connection ends.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include "backend.h"
#include "fuzz.h"
#include "stream.h"

#define MAXF	(65536 + 64)

static struct stream_rx rx, peer_rx;
static struct stream_tx tx;
static int sv[2] = { -1, -1 };

static void setup(void)
{
	int sz = 4096;

	if (stream_rx_init(&rx, 4 * MAXF, MAXF) || stream_rx_init(&peer_rx, 8 * MAXF, MAXF) ||
	    stream_tx_init(&tx, 2 * MAXF) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv))
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* read what the peer has (up to @max bytes) and check it against the frames sent */
static void drain(size_t max, const uint8_t **sent, const size_t *lens, size_t n_sent, size_t *seen)
{
	size_t space, got = 0;
	const uint8_t *f;
	size_t len;
	int rc;

	while (got < max) {
		uint8_t *p = stream_rx_space(&peer_rx, &space);
		ssize_t r;

		if (space > max - got)
			space = max - got;
		if (!space)
			break;
		r = read(sv[1], p, space);
		if (r <= 0)
			break;
		stream_rx_commit(&peer_rx, (size_t)r);
		got += (size_t)r;
		while ((rc = stream_rx_next(&peer_rx, &f, &len)) == 1) {
			/* each frame the peer sees is the next frame written, or a later one (dropped ones skipped) */
			while (*seen < n_sent && (lens[*seen] != len || memcmp(sent[*seen], f, len)))
				(*seen)++;
			FUZZ_CHECK(*seen < n_sent);
			(*seen)++;
		}
		FUZZ_CHECK(rc == 0);
		stream_rx_compact(&peer_rx);
	}
}

#define BE_MTU	1500

/* The backend's read loop on @data (after the two control bytes), as the event loop drives it. */
static void backend_phase(const uint8_t *data, size_t size)
{
	struct backend_conf c = { .fd = -1, .mtu = BE_MTU };
	struct backend be;
	const char *why = NULL;
	char buf[256];
	size_t wpos = 0, off = 0, n_ref = 0, got = 0, bad = 0, spins = 0;
	int bsv[2], closed = 0, rc;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, bsv))
		abort();
	c.fd = bsv[0];
	if (backend_open(&be, &c, &why, buf, sizeof(buf)) || be.kind != BE_STREAM_FD)
		abort();
	/* the reference: complete frames up to the first bad length (the backend's limit) */
	while (off + 4 <= size) {
		size_t n = (size_t)data[off] << 24 | (size_t)data[off + 1] << 16 |
			   (size_t)data[off + 2] << 8 | data[off + 3];

		if (n > VMF_MAX_FRAME) {
			bad = 1;
			break;
		}
		if (off + 4 + n > size)
			break;
		off += 4 + n;
	}
	for (;;) {
		struct pollfd p = { be.fd, POLLIN, 0 };

		FUZZ_CHECK(++spins < 100000);
		while (wpos < size) {
			ssize_t w = send(bsv[1], data + wpos, size - wpos, MSG_NOSIGNAL);

			if (w <= 0)
				break;
			wpos += (size_t)w;
		}
		if (wpos == size && !closed) {
			shutdown(bsv[1], SHUT_WR);
			closed = 1;
		}
		/* no stall: the connection ended, or the loop has a reason to read */
		FUZZ_CHECK(backend_pending(&be) || poll(&p, 1, 0) == 1);
		rc = backend_read(&be);
		if (rc < 0)
			break;
		for (int i = 0; i < rc; i++) {
			const uint8_t *f;
			size_t n;

			/* the next reference frame of a size the backend passes on */
			do {
				size_t len;

				FUZZ_CHECK(n_ref < off);
				len = (size_t)data[n_ref] << 24 | (size_t)data[n_ref + 1] << 16 |
				      (size_t)data[n_ref + 2] << 8 | data[n_ref + 3];
				f = data + n_ref + 4;
				n = len;
				n_ref += 4 + len;
			} while (n < VMF_ETH_HLEN || n > BE_MTU + VMF_ETH_OVERHEAD);
			FUZZ_CHECK(be.frames[i].len == n && !memcmp(be.frames[i].data, f, n));
			got++;
		}
		backend_read_done(&be);
	}
	FUZZ_CHECK(closed || bad);	/* it ended only when the peer closed, or at a bad length */
	if (!bad) {
		/* every passable frame came out: none is left after the last one handed out */
		while (n_ref < off) {
			size_t len = (size_t)data[n_ref] << 24 | (size_t)data[n_ref + 1] << 16 |
				     (size_t)data[n_ref + 2] << 8 | data[n_ref + 3];

			FUZZ_CHECK(len < VMF_ETH_HLEN || len > BE_MTU + VMF_ETH_OVERHEAD);
			n_ref += 4 + len;
		}
		FUZZ_CHECK(be.ctr.rx_frames == got);
	} else {
		FUZZ_CHECK(be.ctr.framing_errors == 1);
	}
	backend_close(&be);
	close(bsv[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t *out[4096];
	static size_t out_len[4096];
	size_t max_frame, n_out = 0, pos = 0, ref = 0, seen = 0;
	uint8_t seed;
	int bad = 0, ref_bad = 0;

	if (sv[0] < 0)
		setup();
	max_frame = 14 + (size_t)fuzz_byte(&data, &size) * 257;
	seed = fuzz_byte(&data, &size);
	stream_rx_reset(&rx);
	rx.max_frame = max_frame;

	/* reassemble in pieces of 1..~300 bytes; hand out batches of up to 8 frames */
	while (!bad && n_out < 4096) {
		size_t want = 1 + (size_t)((seed = (uint8_t)(seed * 37 + 11)) % 3 == 0 ? seed : seed % 7);
		size_t space;
		uint8_t *p;
		const uint8_t *f;
		size_t len;
		int rc, batch = 0;

		p = stream_rx_space(&rx, &space);
		if (space < 4096)
			stream_rx_compact(&rx);
		p = stream_rx_space(&rx, &space);
		if (want > space)
			want = space;
		if (want > size - pos)
			want = size - pos;	/* 0 at the end: only parse what is left */
		memcpy(p, data + pos, want);
		stream_rx_commit(&rx, want);
		pos += want;
		while ((rc = stream_rx_next(&rx, &f, &len)) == 1 && n_out < 4096) {
			FUZZ_CHECK(len <= max_frame);
			FUZZ_CHECK(f >= rx.buf && f + len <= rx.buf + rx.cap);
			/* the frames must stay valid until the batch is done: copy them out now */
			uint8_t *copy = malloc(len ? len : 1);

			memcpy(copy, f, len);
			out[n_out] = copy;
			out_len[n_out++] = len;
			if (++batch == 8)
				break;
		}
		if (rc < 0)
			bad = 1;
		if (pos == size && rc == 0)
			break;
	}

	/* reference: one pass over the whole input */
	for (size_t i = 0, off = 0; off + 4 <= size && i < n_out + 1; i++) {
		size_t n = (size_t)data[off] << 24 | (size_t)data[off + 1] << 16 |
			   (size_t)data[off + 2] << 8 | data[off + 3];

		if (n > max_frame) {
			ref_bad = 1;
			break;
		}
		if (off + 4 + n > size)
			break;
		if (i < n_out) {
			FUZZ_CHECK(out_len[i] == n && !memcmp(out[i], data + off + 4, n));
			ref++;
		}
		off += 4 + n;
	}
	FUZZ_CHECK(ref == n_out);
	if (n_out < 4096)
		FUZZ_CHECK(bad == ref_bad);

	/* write them back through a small socket buffer, in batches, draining the peer unevenly */
	stream_rx_reset(&peer_rx);
	tx.start = tx.end = 0;
	for (size_t i = 0; i < n_out;) {
		size_t k = 1 + (seed = (uint8_t)(seed * 37 + 11)) % 16;
		struct frame f[16];
		ssize_t w;

		if (k > n_out - i)
			k = n_out - i;
		for (size_t j = 0; j < k; j++)
			f[j] = (struct frame){ (uint8_t *)(uintptr_t)out[i + j], (uint32_t)out_len[i + j], 0, 0 };
		w = stream_tx_write(&tx, sv[0], f, k);
		FUZZ_CHECK(w >= 0 && (size_t)w <= k);
		i += k;
		drain((size_t)seed * 64, out, out_len, n_out, &seen);
		FUZZ_CHECK(stream_tx_flush(&tx, sv[0]) == 0);
	}
	for (int spin = 0; spin < 1000 && stream_tx_pending(&tx); spin++) {
		drain(SIZE_MAX, out, out_len, n_out, &seen);
		FUZZ_CHECK(stream_tx_flush(&tx, sv[0]) == 0);
	}
	FUZZ_CHECK(stream_tx_pending(&tx) == 0);
	drain(SIZE_MAX, out, out_len, n_out, &seen);
	FUZZ_CHECK(peer_rx.end == peer_rx.start);	/* nothing but whole frames */
	for (size_t i = 0; i < n_out; i++)
		free((void *)out[i]);
	backend_phase(data, size);
	return 0;
}
