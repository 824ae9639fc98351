/* fuzz_vhost.c - fuzz the vhost-user message parser and the virtqueue walker */

/*
 * Hostile front-end and hostile guest at once. The real state machine
 * (vhost_user_handle) gets message sequences; guest RAM is a 64 KiB memfd
 * whose contents come from the input, mapped as two regions (guest physical
 * 0-32K and 32K-64K, at unrelated QEMU addresses) so buffers may cross
 * regions. Input: [script length, 2 bytes LE][script][memory image]. Script
 * ops (first byte % 6):
 *   0 raw message: req, flags, size, payload[size], fds (bit 0 memfd, bit 1 eventfd)
 *   1 set-up: features (8 bytes, masked to the offer), memory table, then per
 *     queue: size 2^(b % 9), base, ring offsets (3 x 2 bytes), kick, call, enable
 *   2 the guest's transmit ring is walked (vhost_user_from_guest)
 *   3 frames for the guest: count, then per frame flagged, length (2 bytes), its first
 *     66 bytes (virtio-net header, Ethernet, IPv4, TCP), the rest a pattern
 *   4 one chain popped directly from queue (b & 1), writable if b & 2
 *   5 the guest writes 4 bytes at offset (2 bytes) while we run
 *
 * Oracles: every iovec of a popped chain lies inside one mapped region and
 * the chain length is the sum of its iovecs; frames taken from the guest are
 * 26 .. 12 + 65535 + 18 bytes inside txbuf; used and avail indices never
 * move more than the ring size; nothing crashes, leaks fds or hangs (chain
 * walks are bounded).
 */

#define _GNU_SOURCE
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "log.h"
#include "util.h"
#include "vhost_user.h"

#define MEM	65536
#define HALF	(MEM / 2)
#define UVA0	0x7f0000000000ULL
#define UVA1	0x7e0000000000ULL

static struct vhost_user vu;
static int ready;
static int memfd = -1;
static uint8_t *mem;
static uint8_t frame_buf[8][2048 + VMF_VNET_HDR_LEN];

static void setup(void)
{
	log_init("fuzz_vhost");
	if (vhost_user_init(&vu, 1500 + VMF_ETH_OVERHEAD))
		abort();
	memfd = memfd_create("fuzz-guest", MFD_CLOEXEC);
	if (memfd < 0 || ftruncate(memfd, MEM))
		abort();
	mem = mmap(NULL, MEM, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (mem == MAP_FAILED)
		abort();
	ready = 1;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

/* Send one message with @n_fds fds (made here) to the state machine. */
static void send_msg(uint32_t req, uint32_t flags, const uint8_t *payload, uint32_t size, int fdbits)
{
	uint8_t msg[VHOST_USER_HDR_LEN + 512], reply[VHOST_USER_HDR_LEN + 64];
	int fds[2];
	unsigned int n = 0;
	size_t rlen = 0;

	if (size > 512)
		size = 512;
	put32(msg, req);
	put32(msg + 4, flags);
	put32(msg + 8, size);
	memcpy(msg + VHOST_USER_HDR_LEN, payload, size);
	if (fdbits & 1)
		fds[n++] = dup(memfd);
	if (fdbits & 2)
		fds[n++] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vhost_user_handle(&vu, msg, VHOST_USER_HDR_LEN + size, fds, n, reply, &rlen) < 0)
		vhost_user_disconnect(&vu, "fuzz");
	FUZZ_CHECK(rlen <= sizeof(reply));
	if (rlen)
		FUZZ_CHECK(rlen >= VHOST_USER_HDR_LEN && (reply[4] & VHOST_USER_FLAG_REPLY));
}

/* Send a memory table of the two halves of the memfd. */
static void send_mem_table(void)
{
	uint8_t p[8 + 64] = { 0 };
	uint8_t msg[VHOST_USER_HDR_LEN + sizeof(p)], reply[VHOST_USER_HDR_LEN + 64];
	int fds[2] = { dup(memfd), dup(memfd) };
	size_t rlen;

	put32(p, 2);
	put64(p + 8, 0);		/* region 0: gpa 0, 32K, uva UVA0, offset 0 */
	put64(p + 16, HALF);
	put64(p + 24, UVA0);
	put64(p + 32, 0);
	put64(p + 40, HALF);		/* region 1: gpa 32K, 32K, uva UVA1, offset 32K */
	put64(p + 48, HALF);
	put64(p + 56, UVA1);
	put64(p + 64, HALF);
	put32(msg, VHOST_USER_SET_MEM_TABLE);
	put32(msg + 4, VHOST_USER_VERSION);
	put32(msg + 8, sizeof(p));
	memcpy(msg + VHOST_USER_HDR_LEN, p, sizeof(p));
	if (vhost_user_handle(&vu, msg, sizeof(msg), fds, 2, reply, &rlen) < 0)
		vhost_user_disconnect(&vu, "fuzz");
}

/* A ring offset (0..64K) as a QEMU address in the region that holds it. */
static uint64_t uva_of(uint16_t off)
{
	return off < HALF ? UVA0 + off : UVA1 + (off - HALF);
}

static void setup_device(const uint8_t **d, size_t *n)
{
	uint8_t p[40];
	uint64_t f = 0;
	unsigned int i, q;

	for (i = 0; i < 8; i++)
		f |= (uint64_t)fuzz_byte(d, n) << (8 * i);
	f &= vhost_user_offered();
	put64(p, f);
	send_msg(VHOST_USER_SET_FEATURES, VHOST_USER_VERSION, p, 8, 0);
	send_mem_table();
	for (q = 0; q < 2; q++) {
		uint16_t off[3];

		put32(p, q);
		put32(p + 4, 1u << (fuzz_byte(d, n) % 9));
		send_msg(VHOST_USER_SET_VRING_NUM, VHOST_USER_VERSION, p, 8, 0);
		put32(p + 4, 0);
		send_msg(VHOST_USER_SET_VRING_BASE, VHOST_USER_VERSION, p, 8, 0);
		for (i = 0; i < 3; i++) {
			off[i] = (uint16_t)(fuzz_byte(d, n) << 8);
			off[i] = (uint16_t)(off[i] | fuzz_byte(d, n));
		}
		memset(p, 0, sizeof(p));
		put32(p, q);
		put64(p + 8, uva_of(off[0]));
		put64(p + 16, uva_of(off[2]));	/* used */
		put64(p + 24, uva_of(off[1]));	/* avail */
		send_msg(VHOST_USER_SET_VRING_ADDR, VHOST_USER_VERSION, p, 40, 0);
		put64(p, q);
		send_msg(VHOST_USER_SET_VRING_KICK, VHOST_USER_VERSION, p, 8, 2);
		send_msg(VHOST_USER_SET_VRING_CALL, VHOST_USER_VERSION, p, 8, 2);
		put32(p, q);
		put32(p + 4, 1);
		send_msg(VHOST_USER_SET_VRING_ENABLE, VHOST_USER_VERSION, p, 8, 0);
	}
}

static int in_region(const void *p, size_t len)
{
	unsigned int i;

	for (i = 0; i < vu.mem.n; i++) {
		const uint8_t *b = vu.mem.r[i].host;

		if ((const uint8_t *)p >= b && (const uint8_t *)p + len <= b + vu.mem.r[i].size)
			return 1;
	}
	return 0;
}

static void pop_one(uint8_t b)
{
	struct vq *q = &vu.vr[b & 1].q;
	uint16_t used0 = q->used_idx;
	uint64_t sum = 0;
	unsigned int i;
	int rc = vq_pop(q, &vu.mem, !!(b & 2), &vu.chain);

	if (rc == 1) {
		for (i = 0; i < vu.chain.n; i++) {
			FUZZ_CHECK(in_region(vu.chain.iov[i].iov_base, vu.chain.iov[i].iov_len));
			sum += vu.chain.iov[i].iov_len;
		}
		FUZZ_CHECK(sum == vu.chain.len);
		FUZZ_CHECK(vu.chain.head < q->num);
	}
	if (rc == 1 || rc == -EINVAL) {
		vq_push(q, vu.chain.head, 0);
		vq_flush(q);
		FUZZ_CHECK((uint16_t)(q->used_idx - used0) == 1);
	}
}

static void from_guest(void)
{
	struct frame f[256];
	size_t n, i;

	n = vhost_user_from_guest(&vu, f, 256);
	if (getenv("FUZZ_VHOST_VERBOSE"))
		fprintf(stderr, "from guest: %zu frames\n", n);
	FUZZ_CHECK(n <= 256);
	for (i = 0; i < n; i++) {
		FUZZ_CHECK(f[i].flags == FRAME_VNET);
		FUZZ_CHECK(f[i].len >= VMF_VNET_HDR_LEN + VMF_ETH_HLEN);
		FUZZ_CHECK(f[i].len <= VMF_VNET_HDR_LEN + 65535 + VMF_ETH_OVERHEAD);
		FUZZ_CHECK(f[i].data >= vu.txbuf && f[i].data + f[i].len <= vu.txbuf + vu.txbuf_size);
	}
}

static void to_guest(const uint8_t **d, size_t *n)
{
	struct frame f[8];
	size_t count = fuzz_byte(d, n) % 9, i, j;

	for (i = 0; i < count; i++) {
		int flagged = fuzz_byte(d, n) & 1;
		size_t len = ((size_t)fuzz_byte(d, n) << 8 | fuzz_byte(d, n)) % sizeof(frame_buf[0]);

		for (j = 0; j < len; j++)
			frame_buf[i][j] = j < 12 + 54 ? fuzz_byte(d, n) : (uint8_t)j;
		f[i] = (struct frame){ frame_buf[i], (uint32_t)len, flagged ? FRAME_VNET : 0, 0 };
	}
	i = vhost_user_to_guest(&vu, f, count);
	FUZZ_CHECK(i <= 8 * 1100);
	if (getenv("FUZZ_VHOST_VERBOSE"))
		fprintf(stderr, "to guest: %zu of %zu frames\n", i, count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *d;
	size_t n, slen;

	if (!ready)
		setup();
	if (size < 2)
		return 0;
	slen = (size_t)(data[0] | data[1] << 8);
	if (slen > size - 2)
		slen = size - 2;
	d = data + 2;
	n = slen;
	memset(mem, 0, MEM);
	memcpy(mem, data + 2 + slen, MIN(size - 2 - slen, (size_t)MEM));

	while (n) {
		uint8_t op = fuzz_byte(&d, &n) % 6;

		if (op == 0) {
			uint8_t payload[256] = { 0 };
			uint32_t req = fuzz_byte(&d, &n), flags = fuzz_byte(&d, &n) & 0xf;
			uint32_t sz = fuzz_byte(&d, &n), i;

			for (i = 0; i < sz; i++)
				payload[i] = fuzz_byte(&d, &n);
			send_msg(req, flags, payload, sz, fuzz_byte(&d, &n) & 3);
		} else if (op == 1) {
			setup_device(&d, &n);
		} else if (op == 2) {
			from_guest();
		} else if (op == 3) {
			to_guest(&d, &n);
		} else if (op == 4) {
			pop_one(fuzz_byte(&d, &n));
		} else {
			uint16_t off = (uint16_t)(fuzz_byte(&d, &n) << 8);
			uint8_t v[4];

			off = (uint16_t)(off | fuzz_byte(&d, &n));
			for (int i = 0; i < 4; i++)
				v[i] = fuzz_byte(&d, &n);
			memcpy(mem + MIN((size_t)off, (size_t)MEM - 4), v, 4);
		}
	}
	if (getenv("FUZZ_VHOST_VERBOSE"))	/* to check what a seed reaches */
		vhost_user_log_counters(&vu);
	vhost_user_disconnect(&vu, "fuzz");
	return 0;
}
