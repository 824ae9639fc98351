/* knock.c - vmf-knock: many CURVE connection attempts with keys the switch never admitted */

/*
 * DOC: Theory of operation
 *
 * vmf-knock --switch EP --server-key PUBFILE --count N [--parallel K]
 *
 * Keeps K attempts in flight: each is a fresh DEALER with a fresh random
 * CURVE key pair, connected to the switch with a monitor that reports how
 * the handshake ended. An attempt ends when the handshake fails (the ZAP
 * handler refused the key: ZMQ_EVENT_HANDSHAKE_FAILED_AUTH), succeeds (a
 * failure of the switch: printed and counted), or after 5 s. Prints one
 * line: attempts, refused, accepted, timed out, seconds, attempts/s.
 * Exit 0 if every attempt was refused.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <zmq.h>

#include "cert.h"
#include "util.h"

struct attempt {
	void *sock, *mon;
	uint64_t started;
	int live;
};

static void open_attempt(void *ctx, struct attempt *a, const char *ep, const char *server_z85,
			 unsigned int id)
{
	char pub[41], sec[41], mon_ep[64];
	int zero = 0;

	zmq_curve_keypair(pub, sec);
	a->sock = zmq_socket(ctx, ZMQ_DEALER);
	zmq_setsockopt(a->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(a->sock, ZMQ_CURVE_SERVERKEY, server_z85, 40);
	zmq_setsockopt(a->sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
	zmq_setsockopt(a->sock, ZMQ_CURVE_SECRETKEY, sec, 40);
	snprintf(mon_ep, sizeof(mon_ep), "inproc://knock-%u", id);
	zmq_socket_monitor(a->sock, mon_ep, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
			   ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			   ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
	a->mon = zmq_socket(ctx, ZMQ_PAIR);
	if (!a->sock || !a->mon) {
		fprintf(stderr, "vmf-knock: zmq_socket: %s\n", zmq_strerror(errno));
		exit(1);
	}
	zmq_connect(a->mon, mon_ep);
	zmq_connect(a->sock, ep);
	a->started = now_ms();
	a->live = 1;
}

static void close_attempt(struct attempt *a)
{
	zmq_socket_monitor(a->sock, NULL, 0);
	zmq_close(a->mon);
	zmq_close(a->sock);
	a->live = 0;
}

int main(int argc, char **argv)
{
	const char *ep = NULL, *server = NULL;
	long count = 1000, parallel = 32, started = 0, refused = 0, accepted = 0, timedout = 0, other = 0;
	uint8_t spub[CERT_KEY_LEN];
	char server_z85[41], why[512];
	struct attempt *a;
	zmq_pollitem_t *items;
	uint64_t t0;
	void *ctx;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--switch"))
			ep = argv[i + 1];
		else if (!strcmp(argv[i], "--server-key"))
			server = argv[i + 1];
		else if (!strcmp(argv[i], "--count"))
			count = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--parallel"))
			parallel = atol(argv[i + 1]);
	}
	if (!ep || !server || count < 1 || parallel < 1) {
		fprintf(stderr, "usage: vmf-knock --switch EP --server-key PUBFILE [--count N] [--parallel K]\n");
		return 64;
	}
	if (cert_load_public(server, spub, why, sizeof(why))) {
		fprintf(stderr, "vmf-knock: %s\n", why);
		return 78;
	}
	cert_z85(spub, server_z85);
	{
		struct rlimit rl;

		if (!getrlimit(RLIMIT_NOFILE, &rl)) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	ctx = zmq_ctx_new();
	/* per attempt: DEALER, its monitor, our PAIR; closed ones linger until the reaper frees them */
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, (int)(16 * parallel + 256));
	a = calloc((size_t)parallel, sizeof(*a));
	items = calloc((size_t)parallel, sizeof(*items));
	t0 = now_ms();
	while (started < count || refused + accepted + timedout + other < started) {
		long n = 0;

		for (long i = 0; i < parallel; i++) {
			if (!a[i].live && started < count)
				open_attempt(ctx, &a[i], ep, server_z85, (unsigned int)started++);
			items[i] = (zmq_pollitem_t){ a[i].live ? a[i].mon : NULL, 0,
						     a[i].live ? ZMQ_POLLIN : 0, 0 };
			n++;
		}
		zmq_poll(items, (int)n, 100);
		for (long i = 0; i < parallel; i++) {
			if (!a[i].live)
				continue;
			if (items[i].revents & ZMQ_POLLIN) {
				zmq_msg_t m;
				uint16_t ev;
				uint32_t val = 0;

				zmq_msg_init(&m);
				if (zmq_msg_recv(&m, a[i].mon, 0) < 6) {
					fprintf(stderr, "vmf-knock: monitor: %s\n", zmq_strerror(errno));
					exit(1);
				}
				memcpy(&ev, zmq_msg_data(&m), sizeof(ev));
				if (zmq_msg_size(&m) >= 6)
					memcpy(&val, (uint8_t *)zmq_msg_data(&m) + 2, sizeof(val));
				zmq_msg_close(&m);
				zmq_recv(a[i].mon, why, sizeof(why), 0);	/* endpoint part */
				if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
					refused++;
				else if (ev == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
					accepted++;
				else if (other++ < 5)
					printf("vmf-knock: attempt ended with event 0x%x value %u\n", ev, val);
				close_attempt(&a[i]);
			} else if (now_ms() - a[i].started > 5000) {
				timedout++;
				close_attempt(&a[i]);
			}
		}
	}
	{
		double s = (double)(now_ms() - t0) / 1000;

		printf("vmf-knock: %ld attempts, %ld refused, %ld accepted, %ld timed out, %ld other, "
		       "%.1f s, %.0f attempts/s\n", started, refused, accepted, timedout, other, s,
		       s > 0 ? (double)started / s : 0.0);
	}
	zmq_ctx_term(ctx);
	return refused == started ? 0 : 1;
}
