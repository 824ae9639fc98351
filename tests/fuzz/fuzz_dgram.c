/* fuzz_dgram.c - fuzz the NIC process's datagram path (QEMU -netdev dgram / a datagram --fd) */

/*
 * The real backend (backend.c) is opened on one end of a SOCK_DGRAM
 * socketpair, as with --fd; the harness is QEMU on the other end. Input: a
 * sequence of records [op][len hi][len lo][bytes]: op bit 0 = sent as a
 * datagram by "QEMU" (any size, runts and giants included), bit 1 = the
 * NIC reads now, bit 2 = what it read goes straight back to the guest side
 * (the switch's direction), bit 3 = "QEMU" reads what is queued for it.
 * The backend's send buffer is tiny, so writes hit EAGAIN and the queue.
 *
 * Oracles: every frame read is 14 .. MTU + 18 bytes and is, byte for byte, the
 * next valid datagram sent (runts and giants are counted, never passed on);
 * counters add up; "QEMU" receives whole frames that were written, in order
 * (none duplicated or cut); the queue never exceeds its buffer.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "backend.h"
#include "codec.h"
#include "fuzz.h"

#define MTU	1500
#define MAXF	(MTU + VMF_ETH_OVERHEAD)
#define HIST	512

static struct backend be;
static int sv[2] = { -1, -1 };

/* frames "QEMU" sent that the NIC should pass on, and frames written back to "QEMU" */
static uint8_t sent[HIST][MAXF];
static size_t sent_len[HIST], n_sent, next_read;
static uint8_t back[HIST][MAXF];
static size_t back_len[HIST], n_back, next_back;

static void setup(void)
{
	struct backend_conf c = { .fd = -1, .mtu = MTU };
	const char *why = NULL;
	char buf[256];
	int sz = 4608;

	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sv))
		abort();
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	c.fd = sv[0];
	if (backend_open(&be, &c, &why, buf, sizeof(buf)) || be.kind != BE_DGRAM_FD) {
		fprintf(stderr, "backend_open: %s\n", why ? why : "?");
		abort();
	}
}

static void qemu_read(void);

static void nic_read(int echo)
{
	int n;

	while ((n = backend_read(&be)) > 0) {
		if (echo && n_back - next_back + (size_t)n > HIST) {
			/* everything written so far arrives or was dropped: start a new history */
			for (int i = 0; i < 10000 && stream_tx_pending(&be.tx); i++)
				qemu_read();
			qemu_read();
			n_back = next_back = 0;
		}
		for (int i = 0; i < n; i++) {
			FUZZ_CHECK(be.frames[i].len >= VMF_ETH_HLEN && be.frames[i].len <= MAXF);
			FUZZ_CHECK(next_read < n_sent);
			FUZZ_CHECK(be.frames[i].len == sent_len[next_read % HIST] &&
				   !memcmp(be.frames[i].data, sent[next_read % HIST], be.frames[i].len));
			next_read++;
			if (echo) {
				memcpy(back[n_back % HIST], be.frames[i].data, be.frames[i].len);
				back_len[n_back++ % HIST] = be.frames[i].len;
			}
		}
		if (echo)
			backend_write(&be, be.frames, (size_t)n);
		FUZZ_CHECK(stream_tx_pending(&be.tx) <= be.tx.cap);
		backend_read_done(&be);
	}
}

/* "QEMU" reads everything queued for it: whole frames that were written, in order */
static void qemu_read(void)
{
	static uint8_t buf[MAXF + 64];
	ssize_t r;

	while ((r = recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		while (next_back < n_back && (back_len[next_back % HIST] != (size_t)r ||
					      memcmp(back[next_back % HIST], buf, (size_t)r)))
			next_back++;	/* dropped for lack of queue space: allowed */
		FUZZ_CHECK(next_back < n_back);
		next_back++;
	}
	backend_writable(&be);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t runt0, giant0;

	if (sv[0] < 0)
		setup();
	/* start from a clean state: nothing in flight either way */
	nic_read(0);
	for (int i = 0; i < 10000 && stream_tx_pending(&be.tx); i++)
		qemu_read();
	qemu_read();
	n_sent = next_read = n_back = next_back = 0;
	runt0 = be.ctr.rx_runt;
	giant0 = be.ctr.rx_giant;

	while (size >= 3) {
		uint8_t op = data[0];
		size_t len = (size_t)data[1] << 8 | data[2];

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (op & 1) {
			if (send(sv[1], data, len, MSG_DONTWAIT) == (ssize_t)len &&
			    len >= VMF_ETH_HLEN && len <= MAXF) {
				if (n_sent - next_read >= HIST)
					nic_read(0);	/* keep the history from wrapping */
				memcpy(sent[n_sent % HIST], data, len);
				sent_len[n_sent++ % HIST] = len;
			}
		}
		if (op & 2)
			nic_read(op & 4);
		if (op & 8)
			qemu_read();
		data += len;
		size -= len;
	}
	nic_read(1);
	FUZZ_CHECK(next_read == n_sent);	/* every valid datagram was passed on */
	(void)runt0;
	(void)giant0;
	return 0;
}
