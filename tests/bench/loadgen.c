/* loadgen.c - switch load generator: N ports speaking the wire protocol, no TAP in the way */

/*
 * DOC: Theory of operation
 *
 * vmf-loadgen opens N DEALER sockets in one process, each a switch port with
 * its own CURVE key (DIR/pI_secret, made by --gen-keys) or --insecure, says
 * Hello ("lg/I" on --network) and waits until every port is welcomed. Port I
 * has MAC 02:4c:47:00:hi:lo and talks to its pair, port I^1. Then:
 *
 *   idle    the switch's RSS (--switch-pid) before the ports connected and
 *           after they have been idle (keepalives only) for 1 s: bytes per port.
 *   learn   every port sends one broadcast frame, so the switch learns every
 *           MAC and the later unicast frames are not flooded.
 *   rate    every port sends FrameBatches of --batch unicast frames of --size
 *           bytes to its pair, keeping at most --window batches' worth of its
 *           frames in flight (sent, not yet received by the pair), and at most
 *           --inflight frames over all ports (so queueing delay stays bounded
 *           whatever N; never less than one batch per port). Frames carry
 *           their send time: received frames per second and the one-way latency
 *           under that load (p50/p99) are measured after --warmup seconds, for
 *           --seconds. Frames not seen for 1 s count as lost (window reopens).
 *   rtt     port 0 sends one frame to port 1, which returns it at once, and
 *           sends the next as soon as it is back, while the other N-2 ports stay
 *           connected and idle: round-trip p50/p99 over --rtt-seconds, i.e. the
 *           switch's latency with N ports' state, not under load.
 *
 * The switch's CPU time (utime + stime of --switch-pid, every thread) over the
 * rate window gives its CPU cost per forwarded frame; the generator's own CPU
 * time (all threads, CURVE included) is reported too, since on a small machine
 * the generator and the switch share the cores.
 *
 * With --trunk every port joins as a trunk (a child switch's connection:
 * Hello kind 1 with a path of its own id, every batch tagged with the
 * network), so the switch's cost of forwarding between trunks can be set
 * next to its cost between ports (tests/bench/trunk.sh).
 *
 * Output: one JSON object on stdout, a summary on stderr. Exit 0, 1 on a
 * failure (ports not welcomed, session lost), 64 on a bad command line.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cert.h"
#include "codec.h"
#include "util.h"

#define KIND_LEARN	0
#define KIND_DATA	1
#define KIND_PING	2
#define KIND_PONG	3
#define OFF_KIND	14
#define OFF_SRC		16
#define OFF_TS		20
#define MIN_SIZE	60
#define HIST_US		1000000		/* 1 us buckets up to 1 s; above goes into the last */
#define KA_IVL_NS	400000000ULL
#define LOST_NS		1000000000ULL

struct lport {
	void *sock;
	int welcomed;
	uint8_t mac[6];
	uint64_t next_hello, next_ka;
	int64_t inflight;		/* frames sent by this port not yet seen at the pair */
	uint64_t last_seen;		/* when the pair last received one of our frames */
	int rtt_busy;
	uint64_t rtt_sent;		/* when the frame in flight left (lost after 200 ms) */
};

struct opts {
	const char *ep, *server_key, *keydir, *network;
	int insecure, trunk, nports, batch, window, size, io_threads, inflight;
	double seconds, warmup, rtt_seconds;
	long switch_pid;
};

static struct lport *ports;
static zmq_pollitem_t *items;
static struct opts o = { .network = "bench", .nports = 2, .batch = 32, .window = 8, .size = 64,
			 .io_threads = 1, .inflight = 8192, .seconds = 5, .warmup = 1, .rtt_seconds = 2 };
static struct codec_arena arena;
static int64_t window_frames;		/* per port: MIN(window batches, inflight / ports), >= 1 batch */
static uint32_t *hist_load, *hist_rtt;
static uint64_t rx_frames, rx_bytes, tx_frames, lost, sessions_lost, tx_eagain;
static uint8_t *tx_buf;			/* batch * size bytes, one batch */
static struct frame *tx_frames_d;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double cpu_self_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of @pid (all threads), seconds; -1 if unreadable */
static double cpu_pid_s(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* after "pid (comm) ": state is field 3, utime 14, stime 15 */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of @pid in KiB; -1 if unreadable */
static long rss_kib(long pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static void hist_add(uint32_t *h, uint64_t ns)
{
	uint64_t us = ns / 1000;

	h[us < HIST_US ? us : HIST_US - 1]++;
}

/* percentile @q (0..1) in microseconds, -1 without samples */
static double hist_pct(const uint32_t *h, double q, uint64_t *count)
{
	uint64_t n = 0, want, acc = 0;

	for (size_t i = 0; i < HIST_US; i++)
		n += h[i];
	if (count)
		*count = n;
	if (!n)
		return -1;
	want = (uint64_t)((double)n * q);
	if (want >= n)
		want = n - 1;
	for (size_t i = 0; i < HIST_US; i++) {
		acc += h[i];
		if (acc > want)
			return (double)i + 0.5;
	}
	return HIST_US;
}

static int send_env(struct lport *p, const Vmfabric__Envelope *env)
{
	zmq_msg_t m;

	if (codec_pack(env, &m))
		return -1;
	if (zmq_msg_send(&m, p->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		return -1;
	}
	return 0;
}

static void send_hello(int i)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	char name[32];

	char id[32], *path[1] = { id };

	snprintf(name, sizeof(name), "lg/%d", i);
	snprintf(id, sizeof(id), "lg-%d", i);
	h.version = VMF_PROTO_VERSION;
	h.network = (char *)(uintptr_t)o.network;
	h.port = name;
	h.mtu = 1500;
	if (o.trunk) {
		h.kind = VMF_KIND_TRUNK;
		h.path = path;
		h.n_path = 1;
	}
	env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	send_env(&ports[i], &env);
}

static void send_keepalive(int i)
{
	static uint64_t seq;
	Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	k.seq = ++seq;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
	env.keepalive = &k;
	send_env(&ports[i], &env);
}

/* @f's .net is 0: on a trunk, every frame is in nets[0] */
static int send_batch(int i, struct frame *f, size_t n)
{
	char *nets[1] = { (char *)(uintptr_t)o.network };
	zmq_msg_t m;

	if (o.trunk ? codec_pack_batch_trunk(f, n, nets, 1, &m) : codec_pack_batch(f, n, &m))
		return -1;
	if (zmq_msg_send(&m, ports[i].sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		if (errno == EAGAIN)
			tx_eagain++;
		return -1;
	}
	return 0;
}

static void put32(uint8_t *b, uint32_t v) { memcpy(b, &v, 4); }
static void put64(uint8_t *b, uint64_t v) { memcpy(b, &v, 8); }
static uint32_t get32(const uint8_t *b) { uint32_t v; memcpy(&v, b, 4); return v; }
static uint64_t get64(const uint8_t *b) { uint64_t v; memcpy(&v, b, 8); return v; }

/* a frame of o.size bytes from port @i to @dst */
static void make_frame(uint8_t *f, int i, const uint8_t *dst, int kind, uint64_t ts)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, ports[i].mac, 6);
	f[12] = 0x88;	/* local experimental ethertype */
	f[13] = 0xb5;
	f[OFF_KIND] = (uint8_t)kind;
	put32(f + OFF_SRC, (uint32_t)i);
	put64(f + OFF_TS, ts);
}

static void send_ping(int i, uint64_t now)
{
	uint8_t f[1600];
	struct frame d = { f, (uint32_t)o.size, 0, 0 };

	memset(f, 0, sizeof(f));
	make_frame(f, i, ports[i ^ 1].mac, KIND_PING, now);
	if (!send_batch(i, &d, 1)) {
		ports[i].rtt_busy = 1;
		ports[i].rtt_sent = now;
		tx_frames++;
	}
}

enum phase { PH_CONNECT, PH_IDLE, PH_RATE, PH_RTT };

static void on_frame(int q, uint8_t *f, size_t len, enum phase ph, int counting, uint64_t now)
{
	uint32_t src;

	if (len < OFF_TS + 8 || memcmp(f, ports[q].mac, 6))
		return;	/* a flooded or learning frame */
	src = get32(f + OFF_SRC);
	if ((int)src >= o.nports)
		return;
	switch (f[OFF_KIND]) {
	case KIND_DATA:
		if (ports[src].inflight > 0)
			ports[src].inflight--;
		ports[src].last_seen = now;
		if (counting) {
			rx_frames++;
			rx_bytes += len;
			hist_add(hist_load, now - get64(f + OFF_TS));
		}
		break;
	case KIND_PING: {
		struct frame d = { f, (uint32_t)len, 0, 0 };

		/* back to the sender, same time stamp */
		memcpy(f, ports[src].mac, 6);
		memcpy(f + 6, ports[q].mac, 6);
		f[OFF_KIND] = KIND_PONG;
		put32(f + OFF_SRC, (uint32_t)q);
		send_batch(q, &d, 1);
		break;
	}
	case KIND_PONG:
		if (counting) {
			rx_frames++;
			hist_add(hist_rtt, now - get64(f + OFF_TS));
		}
		ports[q].rtt_busy = 0;
		if (ph == PH_RTT)
			send_ping(q, now);
		break;
	default:
		break;
	}
}

static void drain(int q, enum phase ph, int counting)
{
	for (int budget = 64; budget > 0; budget--) {
		Vmfabric__Envelope *env;
		zmq_msg_t m;
		uint64_t now;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, ports[q].sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			return;
		}
		codec_arena_reset(&arena);
		if (codec_decode(&arena, zmq_msg_data(&m), zmq_msg_size(&m), &env)) {
			zmq_msg_close(&m);
			continue;
		}
		now = now_ns();
		switch (env->msg_case) {
		case VMFABRIC__ENVELOPE__MSG_WELCOME:
			ports[q].welcomed = 1;
			break;
		case VMFABRIC__ENVELOPE__MSG_ERROR:
			if (ports[q].welcomed) {
				sessions_lost++;
				fprintf(stderr, "vmf-loadgen: port lg/%d: switch error %u (%s): %s\n", q,
					env->error->code, codec_err_name(env->error->code), env->error->text);
			}
			ports[q].welcomed = 0;
			ports[q].next_hello = now;
			break;
		case VMFABRIC__ENVELOPE__MSG_BATCH:
			/* frames point into the message: it stays open until they are handled */
			for (size_t k = 0; k < env->batch->n_frames; k++)
				on_frame(q, env->batch->frames[k].data, env->batch->frames[k].len, ph,
					 counting, now);
			break;
		default:
			break;
		}
		zmq_msg_close(&m);
	}
}

/* keep every port in session: Hellos until welcomed, keepalives after */
static int upkeep(uint64_t now)
{
	int up = 0;

	for (int i = 0; i < o.nports; i++) {
		struct lport *p = &ports[i];

		if (!p->welcomed) {
			if (now >= p->next_hello) {
				send_hello(i);
				p->next_hello = now + 1000000000ULL;
			}
		} else {
			up++;
			if (now >= p->next_ka) {
				send_keepalive(i);
				p->next_ka = now + KA_IVL_NS;
			}
		}
	}
	return up;
}

static void fill_window(int i, uint64_t now)
{
	struct lport *p = &ports[i];
	int64_t cap = window_frames;

	if (p->inflight > 0 && now - p->last_seen > LOST_NS) {
		lost += (uint64_t)p->inflight;
		p->inflight = 0;
		p->last_seen = now;
	}
	while (p->inflight + o.batch <= cap) {
		for (int k = 0; k < o.batch; k++)
			make_frame(tx_buf + (size_t)k * (size_t)o.size, i, ports[i ^ 1].mac, KIND_DATA, now);
		if (send_batch(i, tx_frames_d, (size_t)o.batch))
			return;
		if (p->inflight <= 0)
			p->last_seen = now;
		p->inflight += o.batch;
		tx_frames += (uint64_t)o.batch;
	}
}

/* run @ph for @secs; @counting: count what arrives. Return: ports up at the end */
static int run(enum phase ph, double secs, int counting)
{
	uint64_t end = now_ns() + (uint64_t)(secs * 1e9), next_all = 0;
	int up = 0;

	for (;;) {
		uint64_t now = now_ns();

		if (now >= end)
			break;
		up = upkeep(now);
		if (ph == PH_CONNECT && up == o.nports)
			break;
		if (ph == PH_RATE)
			for (int i = 0; i < o.nports; i++)
				if (ports[i].welcomed)
					fill_window(i, now);
		if (ph == PH_RTT && ports[0].welcomed &&
		    (!ports[0].rtt_busy || now - ports[0].rtt_sent > LOST_NS))
			send_ping(0, now);
		if (ph == PH_RTT) {
			/* only the measured pair is polled; the idle ports are drained every 100 ms */
			if (zmq_poll(items, 2, 10) < 0 && errno != EINTR)
				break;
			for (int i = 0; i < 2; i++)
				if (items[i].revents & ZMQ_POLLIN)
					drain(i, ph, counting);
			if (now >= next_all) {
				for (int i = 2; i < o.nports; i++)
					drain(i, ph, counting);
				next_all = now + 100000000ULL;
			}
			continue;
		}
		if (zmq_poll(items, o.nports, ph == PH_RATE ? 1 : 10) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < o.nports; i++)
			if (items[i].revents & ZMQ_POLLIN)
				drain(i, ph, counting);
	}
	return up;
}

static void learn(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t f[1600];
	struct frame d = { f, MIN_SIZE, 0, 0 };

	memset(f, 0, sizeof(f));
	for (int i = 0; i < o.nports; i++) {
		make_frame(f, i, bcast, KIND_LEARN, 0);
		send_batch(i, &d, 1);
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: vmf-loadgen --switch EP (--insecure | --server-key PUBFILE --keys DIR) [options]\n"
		"       vmf-loadgen --gen-keys DIR N      (DIR/p0 .. DIR/pN-1 and their _secret files)\n"
		"options: --ports N (even, default 2)  --network NAME (bench)  --batch FRAMES (32)\n"
		"         --window BATCHES (8, per port)  --inflight FRAMES (8192, all ports)\n"
		"          --size BYTES (64, >= 60)  --seconds S (5)  --warmup S (1)\n"
		"         --rtt-seconds S (2)  --switch-pid PID (RSS and CPU of the switch)  --io-threads N (1)\n"
		"         --trunk (every port joins as a trunk: tagged batches)\n");
}

static int gen_keys(const char *dir, int n)
{
	char path[4096], why[1024];

	for (int i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/p%d", dir, i);
		if (cert_generate(path, 1, why, sizeof(why))) {
			fprintf(stderr, "vmf-loadgen: %s\n", why);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint8_t srv[CERT_KEY_LEN];
	int64_t maxmsg = VMF_MAX_MSG;
	int zero = 0, up;
	long rss0, rss1;
	double t0, t_conn, sw0, sw1, me0, me1, secs;
	uint64_t n_rtt = 0, n_load = 0, rate_rx;
	char why[1024];
	void *ctx;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--gen-keys") && v && i + 2 < argc)
			return gen_keys(v, atoi(argv[i + 2]));
		if (!strcmp(a, "--trunk")) {
			o.trunk = 1;
			continue;
		}
		if (!strcmp(a, "--insecure")) {
			o.insecure = 1;
			continue;
		}
		if (!v) {
			usage();
			return EXIT_USAGE;
		}
		i++;
		if (!strcmp(a, "--switch"))
			o.ep = v;
		else if (!strcmp(a, "--server-key"))
			o.server_key = v;
		else if (!strcmp(a, "--keys"))
			o.keydir = v;
		else if (!strcmp(a, "--network"))
			o.network = v;
		else if (!strcmp(a, "--ports"))
			o.nports = atoi(v);
		else if (!strcmp(a, "--batch"))
			o.batch = atoi(v);
		else if (!strcmp(a, "--window"))
			o.window = atoi(v);
		else if (!strcmp(a, "--inflight"))
			o.inflight = atoi(v);
		else if (!strcmp(a, "--size"))
			o.size = atoi(v);
		else if (!strcmp(a, "--seconds"))
			o.seconds = atof(v);
		else if (!strcmp(a, "--warmup"))
			o.warmup = atof(v);
		else if (!strcmp(a, "--rtt-seconds"))
			o.rtt_seconds = atof(v);
		else if (!strcmp(a, "--switch-pid"))
			o.switch_pid = atol(v);
		else if (!strcmp(a, "--io-threads"))
			o.io_threads = atoi(v);
		else {
			usage();
			return EXIT_USAGE;
		}
	}
	if (!o.ep || (!o.insecure && (!o.server_key || !o.keydir)) || o.nports < 2 || o.nports % 2 ||
	    o.nports > 65536 || o.batch < 1 || o.batch > VMF_MAX_BATCH_FRAMES || o.window < 1 ||
	    o.size < MIN_SIZE || o.size > 1514 || o.io_threads < 1) {
		usage();
		return EXIT_USAGE;
	}
	if (!o.insecure && cert_load_public(o.server_key, srv, why, sizeof(why))) {
		fprintf(stderr, "vmf-loadgen: %s\n", why);
		return EXIT_CONFIG;
	}
	ports = calloc((size_t)o.nports, sizeof(*ports));
	items = calloc((size_t)o.nports, sizeof(*items));
	hist_load = calloc(HIST_US, sizeof(*hist_load));
	hist_rtt = calloc(HIST_US, sizeof(*hist_rtt));
	tx_buf = calloc((size_t)o.batch, (size_t)o.size);
	tx_frames_d = calloc((size_t)o.batch, sizeof(*tx_frames_d));
	if (!ports || !items || !hist_load || !hist_rtt || !tx_buf || !tx_frames_d ||
	    codec_arena_init(&arena, 2 * (size_t)VMF_MAX_MSG))
		return 1;
	window_frames = MIN((int64_t)o.window * o.batch, (int64_t)o.inflight / o.nports);
	window_frames = MAX(window_frames, (int64_t)o.batch);
	for (int k = 0; k < o.batch; k++)
		tx_frames_d[k] = (struct frame){ tx_buf + (size_t)k * (size_t)o.size, (uint32_t)o.size, 0, 0 };

	rss0 = rss_kib(o.switch_pid);
	ctx = zmq_ctx_new();
	zmq_ctx_set(ctx, ZMQ_IO_THREADS, o.io_threads);
	zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, o.nports + 64);
	t0 = (double)now_ns() / 1e9;
	for (int i = 0; i < o.nports; i++) {
		struct lport *p = &ports[i];

		p->mac[0] = 0x02;
		p->mac[1] = 0x4c;
		p->mac[2] = 0x47;
		p->mac[4] = (uint8_t)(i >> 8);
		p->mac[5] = (uint8_t)i;
		p->sock = zmq_socket(ctx, ZMQ_DEALER);
		if (!p->sock) {
			fprintf(stderr, "vmf-loadgen: socket %d: %s\n", i, zmq_strerror(errno));
			return 1;
		}
		zmq_setsockopt(p->sock, ZMQ_LINGER, &zero, sizeof(zero));
		zmq_setsockopt(p->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
		if (!o.insecure) {
			uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
			char path[4096];

			snprintf(path, sizeof(path), "%s/p%d_secret", o.keydir, i);
			if (cert_load_secret(path, pub, sec, why, sizeof(why))) {
				fprintf(stderr, "vmf-loadgen: %s\n", why);
				return EXIT_CONFIG;
			}
			zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, srv, CERT_KEY_LEN);
			zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, pub, CERT_KEY_LEN);
			zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, sec, CERT_KEY_LEN);
			cert_wipe(sec, sizeof(sec));
		}
		if (zmq_connect(p->sock, o.ep)) {
			fprintf(stderr, "vmf-loadgen: cannot connect to %s: %s\n", o.ep, zmq_strerror(errno));
			return 1;
		}
		items[i] = (zmq_pollitem_t){ p->sock, 0, ZMQ_POLLIN, 0 };
	}
	up = run(PH_CONNECT, 30, 0);
	t_conn = (double)now_ns() / 1e9 - t0;
	if (up != o.nports) {
		fprintf(stderr, "vmf-loadgen: only %d of %d ports welcomed in 30 s\n", up, o.nports);
		return 1;
	}
	run(PH_IDLE, 1.0, 0);
	rss1 = rss_kib(o.switch_pid);

	learn();
	run(PH_IDLE, 0.5, 0);
	sessions_lost = 0;

	run(PH_RATE, o.warmup, 0);
	tx_frames = lost = tx_eagain = 0;
	sw0 = cpu_pid_s(o.switch_pid);
	me0 = cpu_self_s();
	t0 = (double)now_ns() / 1e9;
	run(PH_RATE, o.seconds, 1);
	secs = (double)now_ns() / 1e9 - t0;
	sw1 = cpu_pid_s(o.switch_pid);
	me1 = cpu_self_s();
	rate_rx = rx_frames;
	/* let the pipeline empty before the round trips */
	run(PH_IDLE, 0.3, 0);
	run(PH_RTT, o.rtt_seconds, 1);

	{
		double fps = (double)rate_rx / secs;
		double p50 = hist_pct(hist_load, 0.50, &n_load), p99 = hist_pct(hist_load, 0.99, NULL);
		double r50 = hist_pct(hist_rtt, 0.50, &n_rtt), r99 = hist_pct(hist_rtt, 0.99, NULL);
		double swcpu = sw0 >= 0 && sw1 >= 0 ? sw1 - sw0 : -1;
		double mem = rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) * 1024.0 / o.nports : -1;

		fprintf(stderr, "vmf-loadgen: %d ports (%s), %d x %d B frames per batch, window %lld frames per port: "
			"%.0f frames/s, one-way p50 %.0f us p99 %.0f us; rtt p50 %.0f us p99 %.0f us; "
			"switch RSS %ld -> %ld KiB (%.0f B/port); switch CPU %.2f s, loadgen CPU %.2f s "
			"in %.2f s; lost %llu, connect %.2f s\n",
			o.nports, o.insecure ? "insecure" : "CURVE", o.batch, o.size, (long long)window_frames, fps, p50, p99,
			r50, r99, rss0, rss1, mem, swcpu, me1 - me0, secs, (unsigned long long)lost, t_conn);
		printf("{\"ports\": %d, \"mode\": \"%s\", \"batch\": %d, \"size\": %d, \"window_frames\": %lld, "
		       "\"seconds\": %.3f, \"connect_s\": %.3f, \"rate_fps\": %.1f, \"rate_mbit\": %.2f, "
		       "\"tx_frames\": %llu, \"rx_frames\": %llu, \"lost_frames\": %llu, "
		       "\"load_lat_p50_us\": %.1f, \"load_lat_p99_us\": %.1f, \"load_samples\": %llu, "
		       "\"rtt_p50_us\": %.1f, \"rtt_p99_us\": %.1f, \"rtt_samples\": %llu, "
		       "\"switch_rss_base_kib\": %ld, \"switch_rss_idle_kib\": %ld, \"mem_per_port_bytes\": %.0f, "
		       "\"switch_cpu_s\": %.3f, \"switch_cpu_us_per_frame\": %.3f, \"loadgen_cpu_s\": %.3f, "
		       "\"sessions_lost\": %llu}\n",
		       o.nports, o.insecure ? "insecure" : "curve", o.batch, o.size, (long long)window_frames,
		       secs, t_conn,
		       fps, fps * o.size * 8 / 1e6, (unsigned long long)tx_frames,
		       (unsigned long long)rate_rx, (unsigned long long)lost, p50, p99,
		       (unsigned long long)n_load, r50, r99, (unsigned long long)n_rtt, rss0, rss1, mem,
		       swcpu, swcpu >= 0 && rate_rx ? swcpu * 1e6 / (double)rate_rx : -1, me1 - me0,
		       (unsigned long long)sessions_lost);
	}
	for (int i = 0; i < o.nports; i++)
		zmq_close(ports[i].sock);
	zmq_ctx_term(ctx);
	codec_arena_free(&arena);
	return sessions_lost ? 1 : 0;
}
