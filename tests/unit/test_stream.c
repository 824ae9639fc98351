/* test_stream.c - unit tests for QEMU stream framing (nicproc/stream.c): reassembly and partial writes */

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"

#include "backend.h"
#include "stream.h"

#define STREAM_MAX_FRAME	9018	/* jumbo MTU + 18 */

/* A frame as the test knows it: content derived from its id. */
struct stream_frame {
	uint8_t *data;
	size_t len;
};

static uint64_t stream_rng_state;

static uint32_t stream_rand(void)
{
	stream_rng_state ^= stream_rng_state >> 12;
	stream_rng_state ^= stream_rng_state << 25;
	stream_rng_state ^= stream_rng_state >> 27;
	return (uint32_t)((stream_rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Frame @id of length @len: the id in its first 4 bytes (if it fits), then a pattern. */
static void stream_fill(uint8_t *p, size_t len, uint32_t id)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(id * 13 + i * 7 + (i >> 8));
	if (len >= 4)
		memcpy(p, &id, 4);
}

/* The wire bytes of @n frames: 4-byte big-endian length + frame, each. */
static uint8_t *stream_encode(const size_t *lens, size_t n, size_t *total)
{
	uint8_t *buf, *p;
	size_t i;

	*total = 0;
	for (i = 0; i < n; i++)
		*total += 4 + lens[i];
	buf = p = malloc(*total ? *total : 1);
	assert_non_null(buf);
	for (i = 0; i < n; i++) {
		p[0] = (uint8_t)(lens[i] >> 24);
		p[1] = (uint8_t)(lens[i] >> 16);
		p[2] = (uint8_t)(lens[i] >> 8);
		p[3] = (uint8_t)lens[i];
		stream_fill(p + 4, lens[i], (uint32_t)i);
		p += 4 + lens[i];
	}
	return buf;
}

/* Copy @len bytes into the receive buffer the way read() would. */
static void stream_feed(struct stream_rx *rx, const uint8_t *p, size_t len)
{
	while (len) {
		size_t room;
		uint8_t *dst = stream_rx_space(rx, &room);

		assert_true(room > 0);
		if (room > len)
			room = len;
		memcpy(dst, p, room);
		stream_rx_commit(rx, room);
		p += room;
		len -= room;
	}
}

/* Take every complete frame, check it against frame *@next, then compact. */
static void stream_drain(struct stream_rx *rx, const size_t *lens, size_t n, size_t *next)
{
	const uint8_t *frame;
	size_t len;
	int rc;

	while ((rc = stream_rx_next(rx, &frame, &len)) == 1) {
		uint8_t *want;

		assert_true(*next < n);
		assert_int_equal(len, lens[*next]);
		want = malloc(len ? len : 1);
		assert_non_null(want);
		stream_fill(want, len, (uint32_t)*next);
		assert_memory_equal(frame, want, len);
		free(want);
		(*next)++;
	}
	assert_int_equal(rc, 0);
	stream_rx_compact(rx);
}

/* @n frames as struct frame, for the writers (room for 512) */
static const struct frame *stream_frames(const uint8_t *const *frames, const size_t *lens, size_t n)
{
	static struct frame f[512];

	assert_true(n <= 512);
	for (size_t i = 0; i < n; i++)
		f[i] = (struct frame){ (uint8_t *)(uintptr_t)frames[i], (uint32_t)lens[i], 0, 0 };
	return f;
}

static const size_t stream_lens[] = { 60, 0, 1, 1514, 3, 4, 5, 9018, 64, 0, 1500 };
#define STREAM_NLENS	(sizeof(stream_lens) / sizeof(stream_lens[0]))

static void test_stream_rx_every_split(void **state)
{
	struct stream_rx rx;
	size_t total, split, next;
	uint8_t *wire = stream_encode(stream_lens, STREAM_NLENS, &total);

	(void)state;
	assert_int_equal(stream_rx_init(&rx, 2 * (STREAM_MAX_FRAME + 4), STREAM_MAX_FRAME), 0);
	/* two reads, split at every byte */
	for (split = 0; split <= total; split++) {
		stream_rx_reset(&rx);
		next = 0;
		stream_feed(&rx, wire, split);
		stream_drain(&rx, stream_lens, STREAM_NLENS, &next);
		stream_feed(&rx, wire + split, total - split);
		stream_drain(&rx, stream_lens, STREAM_NLENS, &next);
		assert_int_equal(next, STREAM_NLENS);
		assert_int_equal(rx.end - rx.start, 0);
	}
	/* one byte per read */
	stream_rx_reset(&rx);
	next = 0;
	for (split = 0; split < total; split++) {
		stream_feed(&rx, wire + split, 1);
		stream_drain(&rx, stream_lens, STREAM_NLENS, &next);
	}
	assert_int_equal(next, STREAM_NLENS);
	/* reads of varying sizes, into the space the buffer offers */
	stream_rng_state = 42;
	for (int round = 0; round < 200; round++) {
		size_t off = 0;

		stream_rx_reset(&rx);
		next = 0;
		while (off < total) {
			size_t n = 1 + stream_rand() % 3000;

			if (n > total - off)
				n = total - off;
			stream_feed(&rx, wire + off, n);
			off += n;
			stream_drain(&rx, stream_lens, STREAM_NLENS, &next);
		}
		assert_int_equal(next, STREAM_NLENS);
	}
	stream_rx_free(&rx);
	free(wire);
}

static void test_stream_rx_many_in_one_read(void **state)
{
	struct stream_rx rx;
	const uint8_t *frame;
	size_t total, len, i;
	uint8_t *wire = stream_encode(stream_lens, STREAM_NLENS, &total);
	const uint8_t *prev_end = NULL;

	(void)state;
	assert_int_equal(stream_rx_init(&rx, total + 16, STREAM_MAX_FRAME), 0);
	stream_feed(&rx, wire, total);
	for (i = 0; i < STREAM_NLENS; i++) {
		assert_int_equal(stream_rx_next(&rx, &frame, &len), 1);
		assert_int_equal(len, stream_lens[i]);
		/* frames are parsed in place, back to back, not copied */
		if (prev_end)
			assert_ptr_equal(frame, prev_end + 4);
		prev_end = frame + len;
	}
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 0);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 0);
	stream_rx_free(&rx);
	free(wire);
}

static void test_stream_rx_zero_length(void **state)
{
	static const uint8_t wire[] = { 0, 0, 0, 0, 0, 0, 0, 0 };
	struct stream_rx rx;
	const uint8_t *frame = NULL;
	size_t len = 99;

	(void)state;
	assert_int_equal(stream_rx_init(&rx, 4096, 1518), 0);
	stream_feed(&rx, wire, 3);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 0);
	stream_feed(&rx, wire + 3, sizeof(wire) - 3);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 1);
	assert_int_equal(len, 0);
	assert_non_null(frame);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 1);
	assert_int_equal(len, 0);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 0);
	stream_rx_free(&rx);
}

static void test_stream_rx_too_long(void **state)
{
	static const uint8_t ok[] = { 0, 0, 0x05, 0xee };	/* 1518 */
	static const uint8_t bad[] = { 0, 0, 0x05, 0xef };	/* 1519 */
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff };
	struct stream_rx rx;
	const uint8_t *frame;
	uint8_t body[1518];
	size_t len;

	(void)state;
	assert_int_equal(stream_rx_init(&rx, 1518 + 3, 1518), -EINVAL);
	assert_int_equal(stream_rx_init(&rx, 1518 + 4, 1518), 0);
	/* the largest frame fills the buffer exactly */
	memset(body, 0xab, sizeof(body));
	stream_feed(&rx, ok, 4);
	stream_feed(&rx, body, sizeof(body));
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 1);
	assert_int_equal(len, 1518);
	stream_rx_compact(&rx);

	/* a bad length is an error as soon as the prefix is complete */
	stream_feed(&rx, bad, 3);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 0);
	stream_feed(&rx, bad + 3, 1);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), -EBADMSG);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), -EBADMSG);
	stream_rx_reset(&rx);
	stream_feed(&rx, huge, 4);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), -EBADMSG);
	stream_rx_free(&rx);
	stream_rx_free(NULL);
}

static void test_stream_rx_compact_tail(void **state)
{
	static const size_t lens[] = { 100, 200 };
	struct stream_rx rx;
	const uint8_t *frame;
	size_t total, len, room;
	uint8_t *wire = stream_encode(lens, 2, &total);
	size_t cut = 4 + 100 + 4 + 50;	/* first frame, and part of the second */

	(void)state;
	assert_int_equal(stream_rx_init(&rx, 4 + 200, 200), 0);
	stream_feed(&rx, wire, cut);
	stream_rx_space(&rx, &room);
	assert_int_equal(room, 4 + 200 - cut);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 1);
	assert_int_equal(len, 100);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 0);
	stream_rx_compact(&rx);
	/* the partial tail is at the front, and the rest of the frame fits */
	assert_int_equal(rx.start, 0);
	assert_int_equal(rx.end, 4 + 50);
	assert_memory_equal(rx.buf, wire + 4 + 100, 4 + 50);
	stream_rx_space(&rx, &room);
	assert_int_equal(room, 200 - 50);
	stream_feed(&rx, wire + cut, total - cut);
	assert_int_equal(stream_rx_next(&rx, &frame, &len), 1);
	assert_int_equal(len, 200);
	assert_memory_equal(frame, wire + 4 + 100 + 4, 200);
	/* compacting an empty buffer leaves it empty */
	stream_rx_compact(&rx);
	assert_int_equal(rx.start, 0);
	assert_int_equal(rx.end, 0);
	stream_rx_free(&rx);
	free(wire);
}

/* A connected non-blocking socketpair whose writer takes little at a time. */
static void stream_socketpair(int sv[2])
{
	int small = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	assert_int_equal(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

/* Read what the socket has into @rx; Return: bytes read */
static size_t stream_read_some(int fd, struct stream_rx *rx, size_t max)
{
	size_t got = 0;

	while (got < max) {
		size_t room;
		uint8_t *dst = stream_rx_space(rx, &room);
		ssize_t r;

		if (room > max - got)
			room = max - got;
		if (!room)
			break;
		r = read(fd, dst, room);
		if (r < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			break;
		}
		assert_true(r > 0);
		stream_rx_commit(rx, (size_t)r);
		got += (size_t)r;
		if ((size_t)r < room)
			break;
	}
	return got;
}

struct stream_tx_run {
	uint32_t next_id;		/* id of the next frame written */
	uint32_t last_rx;		/* id of the last frame received, + 1 */
	size_t rx_frames;
	size_t *accepted;		/* per batch: frames stream_tx_write() accepted */
	size_t *received;		/* per batch: frames that arrived */
	uint32_t *batch_of;		/* frame id -> batch */
	size_t *len_of;			/* frame id -> length */
};

/* Every frame that arrives is one written, whole and in order. */
static void stream_check_rx(struct stream_rx *rx, struct stream_tx_run *run)
{
	const uint8_t *frame;
	size_t len;
	int rc;

	while ((rc = stream_rx_next(rx, &frame, &len)) == 1) {
		uint32_t id;
		uint8_t *want;

		assert_true(len >= 4);
		memcpy(&id, frame, 4);
		assert_true(id < run->next_id);
		assert_true(id >= run->last_rx);	/* in order, nothing twice */
		assert_int_equal(len, run->len_of[id]);
		want = malloc(len);
		assert_non_null(want);
		stream_fill(want, len, id);
		assert_memory_equal(frame, want, len);
		free(want);
		run->last_rx = id + 1;
		run->received[run->batch_of[id]]++;
		run->rx_frames++;
	}
	assert_int_equal(rc, 0);
	stream_rx_compact(rx);
}

static void test_stream_tx_partial(void **state)
{
	enum { BATCHES = 3000, MAXN = 300 };
	struct stream_tx_run run = { 0 };
	struct stream_rx rx;
	struct stream_tx tx;
	uint8_t *frames[MAXN];
	size_t lens[MAXN], total_accepted = 0, total_written = 0, queued_writes = 0;
	int sv[2];

	(void)state;
	run.accepted = calloc(BATCHES, sizeof(size_t));
	run.received = calloc(BATCHES, sizeof(size_t));
	run.batch_of = calloc((size_t)BATCHES * MAXN, sizeof(uint32_t));
	run.len_of = calloc((size_t)BATCHES * MAXN, sizeof(size_t));
	assert_true(run.accepted && run.received && run.batch_of && run.len_of);
	stream_socketpair(sv);
	assert_int_equal(stream_rx_init(&rx, 4 * STREAM_MAX_FRAME, STREAM_MAX_FRAME), 0);
	/* a queue of a few jumbo frames: big enough for any one frame, small enough to fill */
	assert_int_equal(stream_tx_init(&tx, 4 * (STREAM_MAX_FRAME + 4)), 0);
	stream_rng_state = 7;

	for (size_t b = 0; b < BATCHES; b++) {
		/* mostly small batches; now and then more than one writev (256 frames) holds */
		size_t n = b % 97 == 0 ? 257 + stream_rand() % 40 : 1 + stream_rand() % 16, i;
		ssize_t w;

		for (i = 0; i < n; i++) {
			uint32_t id = run.next_id + (uint32_t)i;
			size_t len = stream_rand() % 4 ? 60 + stream_rand() % 1455 : 4 + stream_rand() % (STREAM_MAX_FRAME - 3);

			if (n > 256)
				len = 4 + stream_rand() % 60;
			frames[i] = malloc(len);
			assert_non_null(frames[i]);
			stream_fill(frames[i], len, id);
			lens[i] = len;
			run.batch_of[id] = (uint32_t)b;
			run.len_of[id] = len;
		}
		run.next_id += (uint32_t)n;
		assert_int_equal(stream_tx_flush(&tx, sv[0]), 0);
		w = stream_tx_write(&tx, sv[0], stream_frames((const uint8_t *const *)frames, lens, n), n);
		assert_true(w >= 0 && (size_t)w <= n);
		run.accepted[b] = (size_t)w;
		total_accepted += (size_t)w;
		total_written += n;
		queued_writes += stream_tx_pending(&tx) > 0;
		assert_true(stream_tx_pending(&tx) <= tx.cap);
		for (i = 0; i < n; i++)
			free(frames[i]);
		/* a slow reader: it takes a little, and sometimes nothing */
		if (stream_rand() % 3)
			stream_read_some(sv[1], &rx, stream_rand() % 40000);
		stream_check_rx(&rx, &run);
	}
	/* drain: everything accepted arrives */
	for (int spins = 0; spins < 100000; spins++) {
		size_t got;

		assert_int_equal(stream_tx_flush(&tx, sv[0]), 0);
		got = stream_read_some(sv[1], &rx, SIZE_MAX);
		stream_check_rx(&rx, &run);
		if (!got && !stream_tx_pending(&tx))
			break;
	}
	assert_int_equal(stream_tx_pending(&tx), 0);
	assert_int_equal(rx.end - rx.start, 0);	/* no half frame left over */
	assert_int_equal(run.rx_frames, total_accepted);
	for (size_t b = 0; b < BATCHES; b++)
		if (run.received[b] != run.accepted[b])
			fail_msg("batch %zu: %zu accepted, %zu arrived", b, run.accepted[b], run.received[b]);
	print_message("stream tx: %zu frames written, %zu accepted, %zu writes left a queue\n",
		      total_written, total_accepted, queued_writes);
	/* the run exercised queueing and dropping, not only whole writes */
	assert_true(queued_writes > 100);
	assert_true(total_accepted < total_written);
	assert_true(total_accepted > total_written / 10);
	assert_true(queued_writes < BATCHES);

	stream_tx_free(&tx);
	stream_tx_free(NULL);
	stream_rx_free(&rx);
	close(sv[0]);
	close(sv[1]);
	free(run.accepted);
	free(run.received);
	free(run.batch_of);
	free(run.len_of);
}

static void test_stream_tx_peer_gone(void **state)
{
	struct stream_tx tx;
	uint8_t frame[2000];
	const uint8_t *frames[8];
	size_t lens[8];
	int sv[2];
	ssize_t w;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	memset(frame, 0x5a, sizeof(frame));
	for (int i = 0; i < 8; i++) {
		frames[i] = frame;
		lens[i] = sizeof(frame);
	}
	stream_socketpair(sv);
	assert_int_equal(stream_tx_init(&tx, 65536), 0);
	/* fill the socket so that something waits in the queue */
	do {
		w = stream_tx_write(&tx, sv[0], stream_frames(frames, lens, 8), 8);
		assert_int_equal(w, 8);
	} while (!stream_tx_pending(&tx));
	close(sv[1]);
	assert_int_equal(stream_tx_flush(&tx, sv[0]), -EPIPE);
	tx.start = tx.end = 0;
	assert_int_equal(stream_tx_write(&tx, sv[0], stream_frames(frames, lens, 8), 8), -EPIPE);
	stream_tx_free(&tx);
	close(sv[0]);
}

/*
 * dgram_tx: a unix datagram peer takes only a few datagrams before EAGAIN;
 * the rest must wait in the queue and arrive later, whole, in order, one
 * datagram per frame.
 */
static void test_dgram_tx_queue(void **state)
{
	enum { N = 200 };
	static uint8_t data[N][300];
	const uint8_t *frames[N];
	size_t lens[N], got = 0;
	struct stream_tx tx;
	uint8_t buf[2048];
	int sv[2];
	ssize_t w;

	(void)state;
	int small = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	/* a socketpair is bounded by the sender's buffer (QEMU's socket by its queue length) */
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (uint32_t i = 0; i < N; i++) {
		lens[i] = 60 + i;
		stream_fill(data[i], lens[i], i);
		frames[i] = data[i];
	}
	assert_int_equal(stream_tx_init(&tx, 1024 * 1024), 0);
	w = dgram_tx_write(&tx, sv[0], stream_frames(frames, lens, N), N);
	assert_int_equal(w, N);
	assert_true(stream_tx_pending(&tx) > 0);	/* the peer could not take all */
	while (got < N) {
		ssize_t r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT);

		if (r < 0) {
			assert_int_equal(errno, EAGAIN);
			assert_int_equal(dgram_tx_flush(&tx, sv[0]), 0);
			continue;
		}
		assert_int_equal((size_t)r, lens[got]);
		assert_memory_equal(buf, data[got], lens[got]);
		got++;
	}
	assert_int_equal(stream_tx_pending(&tx), 0);
	/* a peer that is gone is an error, not a silent drop */
	close(sv[1]);
	assert_true(dgram_tx_write(&tx, sv[0], stream_frames(frames, lens, 1), 1) < 0);
	stream_tx_free(&tx);
	close(sv[0]);
}

/*
 * A datagram too long for the socket (EMSGSIZE; here a unix socket's send
 * buffer, on UDP anything over 65507 bytes) is dropped and counted, whether
 * it is sent at once or waits in the queue; the frames around it still go,
 * and nothing treats it as the peer being gone.
 */
static void test_dgram_tx_oversize(void **state)
{
	enum { N = 200, BIG = 20000 };
	static uint8_t data[N][BIG];
	const uint8_t *frames[N];
	size_t lens[N], got = 0, i;
	struct stream_tx tx;
	uint8_t buf[BIG];
	int sv[2], small = 4096;
	ssize_t w;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)), 0);
	for (i = 0; i < N; i++) {
		/* one too long early (sent at once), one late (queued behind EAGAIN) */
		lens[i] = i == 2 || i == N - 3 ? BIG : 60 + i;
		stream_fill(data[i], lens[i], (uint32_t)i);
		frames[i] = data[i];
	}
	assert_int_equal(stream_tx_init(&tx, 1024 * 1024), 0);
	w = dgram_tx_write(&tx, sv[0], stream_frames(frames, lens, N), N);
	assert_true(w >= 0);
	assert_int_equal((size_t)w, N - tx.oversize);
	assert_true(stream_tx_pending(&tx) > 0);
	for (i = 0; i < N; i++) {
		ssize_t r;

		if (lens[i] == BIG)
			continue;
		while ((r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT)) < 0) {
			assert_int_equal(errno, EAGAIN);
			assert_int_equal(dgram_tx_flush(&tx, sv[0]), 0);
		}
		assert_int_equal((size_t)r, lens[i]);
		assert_memory_equal(buf, data[i], lens[i]);
		got++;
	}
	assert_int_equal(dgram_tx_flush(&tx, sv[0]), 0);
	assert_int_equal(stream_tx_pending(&tx), 0);
	assert_int_equal(got, N - 2);
	assert_int_equal(tx.oversize, 2);
	stream_tx_free(&tx);
	close(sv[0]);
	close(sv[1]);
}

/*
 * The backend's stream read stops at a full batch (BE_BATCH frames). Frames
 * still in its buffer must come out on the next read although no new byte
 * arrives (poll() would never wake for them): backend_pending() says so.
 */
static void test_backend_stream_full_batch(void **state)
{
	enum { N = BE_BATCH + 44 };
	static size_t lens[N];
	struct backend_conf c = { .fd = -1, .mtu = 1500 };
	struct backend be;
	const char *why = NULL;
	char errbuf[256];
	size_t total, next = 0;
	uint8_t *wire;
	int sv[2], n, reads = 0, big = 1 << 20;

	(void)state;
	for (size_t i = 0; i < N; i++)
		lens[i] = 60;
	wire = stream_encode(lens, N, &total);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	assert_int_equal(write(sv[1], wire, total), (ssize_t)total);	/* all at once, as QEMU may */
	c.fd = sv[0];
	assert_int_equal(backend_open(&be, &c, &why, errbuf, sizeof(errbuf)), 0);
	assert_int_equal(be.kind, BE_STREAM_FD);
	while (next < N && reads < 10) {
		n = backend_read(&be);
		reads++;
		assert_true(n > 0);
		for (int i = 0; i < n; i++) {
			uint8_t want[60];

			stream_fill(want, 60, (uint32_t)next);
			assert_int_equal(be.frames[i].len, 60);
			assert_memory_equal(be.frames[i].data, want, 60);
			next++;
		}
		/* frames left over must be announced, nothing else */
		assert_int_equal(!!backend_pending(&be), next < N);
		backend_read_done(&be);
	}
	assert_int_equal(next, N);
	assert_int_equal(reads, 2);
	assert_int_equal(backend_read(&be), 0);
	assert_false(backend_pending(&be));
	backend_close(&be);
	close(sv[1]);
	free(wire);
}

UNIT_MAIN("stream", NULL, NULL,
	    U(test_dgram_tx_queue), U(test_stream_rx_every_split),
	    U(test_stream_rx_many_in_one_read), U(test_stream_rx_zero_length),
	    U(test_stream_rx_too_long), U(test_stream_rx_compact_tail),
	    U(test_stream_tx_partial), U(test_stream_tx_peer_gone), U(test_dgram_tx_oversize),
	    U(test_backend_stream_full_batch))
