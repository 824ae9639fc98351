/* fuzz_capture.c - fuzz the management channel's requests and the capture filter (switch/control.c, switch/capture.c) */

/*
 * A real management channel (control_start() on an ipc:// socket, as the
 * switch does) and a real ctl-side DEALER. Input: [request length][request]
 * [frames...]. The request is whatever a client may send (words separated
 * by NUL: "json\0capture\0network\0lab\00\0<filter>" and every other command);
 * it goes through control_input() as from a socket. Then every remaining
 * record [len][frame] is offered to the live captures with capture_frame()
 * (in and out of a port of network "lab"), which runs the compiled BPF
 * filter over it, and capture_flush() sends the records.
 *
 * Oracles: every request gets exactly one reply; capture records are whole
 * (pcap record header + caplen bytes, caplen = min(len, snaplen)); nothing
 * crashes, reads out of bounds or leaks (captures are stopped each run).
 */

#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "capture.h"
#include "control.h"
#include "fuzz.h"
#include "log.h"

static void *ctx, *client, *router;
static struct vswitch sw;
static struct control ctl;
static struct network net;
static struct port port;
static char ep[128];

static void setup(void)
{
	struct switch_conf conf = { .max_ports = 4, .max_networks = 2, .max_macs = 16,
				    .mac_age_s = 300, .mtu = 1500, .keepalive_ms = 1000,
				    .insecure = 1 };
	int zero = 0, hwm = 100000;

	log_init("fuzz-capture");
	ctx = zmq_ctx_new();
	router = zmq_socket(ctx, ZMQ_ROUTER);
	if (!ctx || !router || switch_init(&sw, &conf, router, NULL))
		abort();
	snprintf(ep, sizeof(ep), "ipc:///tmp/vmf-fuzz-ctl.%d", (int)getpid());
	if (control_start(&ctl, ctx, ep, NULL, &sw))
		abort();
	client = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(client, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(client, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	if (zmq_connect(client, ep))
		abort();
	/* a port of network "lab" for capture_frame(): only names are looked at */
	net.used = 1;
	strcpy(net.name, "lab");
	port.used = 1;
	strcpy(port.name, "vm1/eth0");
	port.net = &net;
}

/* the management socket has the request (it travels through the ipc socket first) */
static void deliver(void)
{
	zmq_pollitem_t it = { ctl.sock, 0, ZMQ_POLLIN, 0 };

	FUZZ_CHECK(zmq_poll(&it, 1, 5000) == 1);
	control_input(&ctl);
}

/* the one reply to a request */
static void expect_reply(void)
{
	zmq_pollitem_t it = { client, 0, ZMQ_POLLIN, 0 };
	char buf[1 << 16];
	int n;

	FUZZ_CHECK(zmq_poll(&it, 1, 5000) == 1);
	n = zmq_recv(client, buf, sizeof(buf), 0);
	FUZZ_CHECK(n > 0);
}

/*
 * Everything up to the reply to "stop": capture messages of whole pcap
 * records, at most one empty message (a capture that reached its count).
 */
static void check_until_stopped(void)
{
	static const char done[] = "{\"ok\":true,\"stopped\":";
	static uint8_t buf[2 << 20];
	zmq_pollitem_t it = { client, 0, ZMQ_POLLIN, 0 };
	int n, ends = 0;

	for (;;) {
		size_t off = 0;

		FUZZ_CHECK(zmq_poll(&it, 1, 5000) == 1);
		n = zmq_recv(client, buf, sizeof(buf), 0);
		FUZZ_CHECK(n >= 0 && (size_t)n <= sizeof(buf));
		if ((size_t)n >= sizeof(done) - 1 && !memcmp(buf, done, sizeof(done) - 1))
			return;
		if (n == 0) {
			FUZZ_CHECK(++ends == 1);
			continue;
		}
		while (off < (size_t)n) {
			uint32_t rec[4];

			FUZZ_CHECK((size_t)n - off >= sizeof(rec));
			memcpy(rec, buf + off, sizeof(rec));
			FUZZ_CHECK(rec[2] == rec[3] && rec[2] <= 65535);
			off += sizeof(rec) + rec[2];
			FUZZ_CHECK(off <= (size_t)n);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char stop[] = "json\0stop";
	size_t rlen;

	if (!ctx)
		setup();
	if (size < 2)
		return 0;
	rlen = (size_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	if (rlen > size)
		rlen = size;
	/* a longer request never reaches control_input(): ZeroMQ closes the connection (MAXMSGSIZE) */
	if (rlen > CONTROL_REQ_MAX)
		rlen = CONTROL_REQ_MAX;
	FUZZ_CHECK(zmq_send(client, data, rlen, 0) == (int)rlen);
	deliver();
	expect_reply();
	data += rlen;
	size -= rlen;

	while (size >= 2) {
		size_t flen = (size_t)data[0] << 8 | data[1];
		struct frame f = { 0 };

		data += 2;
		size -= 2;
		if (flen > size)
			flen = size;
		f.data = (uint8_t *)(uintptr_t)data;
		f.len = (uint32_t)flen;
		capture_frame(&sw, &port, "lab", &f, CAP_IN);
		capture_frame(&sw, &port, "lab", &f, CAP_OUT);
		data += flen;
		size -= flen;
	}
	capture_flush(&sw);
	/* end every capture this client started: each run starts with none */
	zmq_send(client, stop, sizeof(stop) - 1, 0);
	deliver();
	check_until_stopped();
	FUZZ_CHECK(sw.captures == NULL);
	return 0;
}
