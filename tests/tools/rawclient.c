/* rawclient.c - a scriptable misbehaving port for the integration tests (DEALER, CURVE, raw messages) */

/*
 * DOC: Theory of operation
 *
 * vmf-rawclient connects one DEALER to a switch, with CURVE and an admitted
 * key like a NIC process, then runs the steps given on the command line in
 * order, printing one line per thing it did or saw ("rawclient: ..."), so a
 * test can assert on the switch's answers:
 *
 *   garbage:N          N random bytes (first byte 0xff: never a valid protobuf tag)
 *   big                one message of VMF_MAX_MSG + 4096 bytes (over ZMQ_MAXMSGSIZE)
 *   batch              a valid FrameBatch with one 60-byte broadcast frame
 *   hello:V:NET:PORT   Hello with protocol version V
 *   bye:REASON         a Bye; REASON is sent as given (newlines, control bytes)
 *   multipart          a two-part message
 *   welcome            a Welcome (only the switch may send one)
 *   bad-frames         one FrameBatch: a runt (10 bytes), a giant (MTU + 19) and a
 *                      frame with a multicast source MAC
 *   macs:N             one FrameBatch of N broadcast frames from N different
 *                      unicast source MACs (02:98:00:00:hi:lo)
 *   tso:MSS:LEN[:MS]   one FrameBatch: a flagged (virtio-net header) TCPv4 broadcast
 *                      super-frame with gso_size MSS and LEN payload bytes, then a
 *                      plain 60-byte broadcast frame; with MS, the same batch again
 *                      and again for MS ms (a flood)
 *   keepalive          a Keepalive
 *   churn:N:NET:PORT   a second connection (same key) joins NET as PORT-b; then N
 *                      times, without waiting: this connection sends Hello for
 *                      NET:PORT again, the second one a broadcast frame (the
 *                      removal-during-a-pass pattern of the security review)
 *   nets:N             N more connections (same key), connection i joining
 *                      network nI as port raw/nI; they stay until the client exits
 *   wait:MS            receive and print for MS ms (keepalives go out while welcomed)
 *   expect:WHAT:MS     receive until WHAT arrives, else print a timeout and exit 2;
 *                      WHAT is welcome, error:CODE, disconnect or silence (nothing
 *                      but keepalive echoes for MS ms)
 *
 * Exit: 0 when every step ran (and every expect was met), 2 on a failed
 * expect, 64 on a bad command line, 1 on a local error.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cert.h"
#include "codec.h"
#include "util.h"

struct rc_state {
	void *ctx, *sock, *mon;
	const char *ep;
	int insecure;
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN], srv[CERT_KEY_LEN];
	struct codec_arena arena;
	int welcomed;
	uint32_t mtu;
	uint64_t next_ka;
	uint64_t ka_seq;
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	fputs("rawclient: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

static int send_raw(struct rc_state *s, const void *data, size_t len, int flags)
{
	if (zmq_send(s->sock, data, len, flags) < 0) {
		say("send failed: %s", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

/* Send packed message @m (@packed: the pack's result; consumed either way). Return: 0 or -1 */
static int send_packed(struct rc_state *s, zmq_msg_t *m, int packed)
{
	if (packed) {
		say("cannot pack");
		return -1;
	}
	if (zmq_msg_send(m, s->sock, 0) < 0) {
		zmq_msg_close(m);
		say("send failed: %s", zmq_strerror(errno));
		return -1;
	}
	return 0;
}

static int send_env(struct rc_state *s, const Vmfabric__Envelope *env)
{
	zmq_msg_t m;

	return send_packed(s, &m, codec_pack(env, &m));
}

static int send_frames(struct rc_state *s, struct frame *f, size_t n)
{
	zmq_msg_t m;

	return send_packed(s, &m, codec_pack_batch(f, n, &m));
}

static void send_keepalive(struct rc_state *s)
{
	Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	k.seq = ++s->ka_seq;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
	env.keepalive = &k;
	send_env(s, &env);
}

/* A frame: broadcast destination, source @src, IPv4 ethertype, @len bytes in all. */
static void make_frame(uint8_t *buf, size_t len, const uint8_t src[6])
{
	memset(buf, 0, len);
	if (len >= 12) {
		memset(buf, 0xff, 6);
		memcpy(buf + 6, src, 6);
	}
	if (len >= 14) {
		buf[12] = 0x08;
		buf[13] = 0x00;
	}
}

/* What arrived, for expect. */
enum seen { SEEN_NONE, SEEN_WELCOME, SEEN_ERROR, SEEN_DISCONNECT, SEEN_OTHER };

/* Receive for up to @ms; return at the first notable event if @stop. */
static enum seen pump(struct rc_state *s, long ms, int stop, uint32_t *code)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	for (;;) {
		zmq_pollitem_t it[2] = { { s->sock, 0, ZMQ_POLLIN, 0 }, { s->mon, 0, ZMQ_POLLIN, 0 } };
		uint64_t now = now_ms();
		long t;
		enum seen got = SEEN_NONE;

		if (now >= end)
			return SEEN_NONE;
		if (s->welcomed && now >= s->next_ka) {
			send_keepalive(s);
			s->next_ka = now + 300;
		}
		t = (long)(end - now);
		if (s->welcomed && (long)(s->next_ka - now) < t)
			t = (long)(s->next_ka - now);
		if (zmq_poll(it, 2, t) < 0) {
			if (errno == EINTR)
				continue;
			return SEEN_NONE;
		}
		if (it[1].revents & ZMQ_POLLIN) {
			zmq_msg_t ev, ep;
			uint16_t event = 0;

			zmq_msg_init(&ev);
			zmq_msg_init(&ep);
			if (zmq_msg_recv(&ev, s->mon, 0) >= 0 && zmq_msg_size(&ev) >= 6)
				memcpy(&event, zmq_msg_data(&ev), 2);
			if (zmq_msg_more(&ev))
				zmq_msg_recv(&ep, s->mon, 0);
			zmq_msg_close(&ev);
			zmq_msg_close(&ep);
			if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
				say("event connected (CURVE handshake done)");
			} else if (event == ZMQ_EVENT_DISCONNECTED) {
				say("event disconnected by the switch");
				s->welcomed = 0;
				got = SEEN_DISCONNECT;
			} else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
				say("event handshake refused (key not admitted)");
				got = SEEN_OTHER;
			}
		}
		while (it[0].revents & ZMQ_POLLIN) {
			Vmfabric__Envelope *env;
			zmq_msg_t m;
			int rc;

			zmq_msg_init(&m);
			if (zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			codec_arena_reset(&s->arena);
			rc = codec_decode(&s->arena, zmq_msg_data(&m), zmq_msg_size(&m), &env);
			zmq_msg_close(&m);
			if (rc) {
				say("rx undecodable message");
				continue;
			}
			switch (env->msg_case) {
			case VMFABRIC__ENVELOPE__MSG_WELCOME:
				say("rx welcome port=%u mtu=%u keepalive=%u", env->welcome->port_id,
				    env->welcome->mtu, env->welcome->keepalive_ms);
				s->welcomed = 1;
				s->mtu = env->welcome->mtu;
				s->next_ka = now_ms() + 300;
				if (got == SEEN_NONE)
					got = SEEN_WELCOME;
				break;
			case VMFABRIC__ENVELOPE__MSG_ERROR:
				say("rx error code=%u (%s): %s", env->error->code,
				    codec_err_name(env->error->code), env->error->text);
				if (env->error->code != VMF_ERR_NOT_WELCOMED)
					s->welcomed = 0;
				if (got == SEEN_NONE) {
					got = SEEN_ERROR;
					*code = env->error->code;
				}
				break;
			case VMFABRIC__ENVELOPE__MSG_BATCH:
				say("rx batch frames=%zu", env->batch->n_frames);
				break;
			case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
				break;
			default:
				say("rx message type %d", (int)env->msg_case);
				if (got == SEEN_NONE)
					got = SEEN_OTHER;
				break;
			}
			codec_arena_reset(&s->arena);
		}
		if (stop && got != SEEN_NONE)
			return got;
	}
}

/* Another DEALER to the same switch with the same key. */
static void *second_socket(struct rc_state *s)
{
	int zero = 0;
	void *x = zmq_socket(s->ctx, ZMQ_DEALER);

	zmq_setsockopt(x, ZMQ_LINGER, &zero, sizeof(zero));
	if (!s->insecure) {
		zmq_setsockopt(x, ZMQ_CURVE_SERVERKEY, s->srv, CERT_KEY_LEN);
		zmq_setsockopt(x, ZMQ_CURVE_PUBLICKEY, s->pub, CERT_KEY_LEN);
		zmq_setsockopt(x, ZMQ_CURVE_SECRETKEY, s->sec, CERT_KEY_LEN);
	}
	if (zmq_connect(x, s->ep)) {
		zmq_close(x);
		return NULL;
	}
	return x;
}

static int send_hello_on(void *sock, const char *net, const char *port)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
	zmq_msg_t m;

	h.version = VMF_PROTO_VERSION;
	h.network = (char *)(uintptr_t)net;
	h.port = (char *)(uintptr_t)port;
	h.mtu = 1500;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	if (codec_pack(&env, &m))
		return -1;
	if (zmq_msg_send(&m, sock, 0) < 0) {
		zmq_msg_close(&m);
		return -1;
	}
	return 0;
}

static int churn(struct rc_state *s, const char *spec)
{
	static const uint8_t src[6] = { 0x02, 0x99, 0x00, 0x00, 0x00, 0xfd };
	char buf[256], name2[96], *net, *port;
	uint8_t f[60];
	struct frame d = { f, sizeof(f), 0, 0 };
	unsigned long n;
	void *x;

	snprintf(buf, sizeof(buf), "%s", spec);
	net = strchr(buf, ':');
	port = net ? strchr(net + 1, ':') : NULL;
	if (!port) {
		fprintf(stderr, "churn:N:NET:PORT\n");
		return EXIT_USAGE;
	}
	*net++ = '\0';
	*port++ = '\0';
	n = strtoul(buf, NULL, 0);
	snprintf(name2, sizeof(name2), "%s-b", port);
	x = second_socket(s);
	if (!x || send_hello_on(x, net, name2))
		return 1;
	pump(s, 500, 0, &(uint32_t){ 0 });	/* the second port is welcomed meanwhile */
	make_frame(f, sizeof(f), src);
	for (unsigned long i = 0; i < n; i++) {
		zmq_msg_t m;

		send_hello_on(s->sock, net, port);
		if (codec_pack_batch(&d, 1, &m) || zmq_msg_send(&m, x, 0) < 0)
			return 1;
	}
	say("churn: %lu Hellos for %s, each followed by a broadcast from %s", n, port, name2);
	pump(s, 500, 0, &(uint32_t){ 0 });
	zmq_close(x);
	return 0;
}

static void *extra[256];
static unsigned int n_extra;

static int nets(struct rc_state *s, unsigned long n)
{
	for (unsigned long i = 1; i <= n && n_extra < 256; i++) {
		char net[32], port[32];
		void *x = second_socket(s);

		snprintf(net, sizeof(net), "n%lu", i);
		snprintf(port, sizeof(port), "raw/n%lu", i);
		if (!x || send_hello_on(x, net, port))
			return 1;
		extra[n_extra++] = x;
	}
	say("nets: %lu connections joined networks n1..n%lu", n, n);
	return 0;
}

static int step(struct rc_state *s, const char *arg)
{
	static const uint8_t src[6] = { 0x02, 0x99, 0x00, 0x00, 0x00, 0xfe };
	static const uint8_t msrc[6] = { 0x03, 0x99, 0x00, 0x00, 0x00, 0xfe };

	if (!strncmp(arg, "garbage:", 8)) {
		size_t n = strtoul(arg + 8, NULL, 0);
		uint8_t *b = malloc(n ? n : 1);

		if (!b)
			return 1;
		for (size_t i = 0; i < n; i++)
			b[i] = (uint8_t)rand();
		if (n)
			b[0] = 0xff;
		send_raw(s, b, n, 0);
		free(b);
		say("sent %zu garbage bytes", n);
	} else if (!strcmp(arg, "big")) {
		size_t n = (size_t)VMF_MAX_MSG + 4096;
		uint8_t *b = calloc(1, n);

		if (!b)
			return 1;
		send_raw(s, b, n, 0);
		free(b);
		say("sent one %zu-byte message (limit %d)", n, VMF_MAX_MSG);
	} else if (!strcmp(arg, "batch")) {
		uint8_t f[60];
		struct frame d = { f, sizeof(f), 0, 0 };

		make_frame(f, sizeof(f), src);
		send_frames(s, &d, 1);
		say("sent a FrameBatch (1 frame)");
	} else if (!strncmp(arg, "hello:", 6)) {
		Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
		Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;
		char buf[256], *net, *port;

		snprintf(buf, sizeof(buf), "%s", arg + 6);
		net = strchr(buf, ':');
		port = net ? strchr(net + 1, ':') : NULL;
		if (!port) {
			fprintf(stderr, "hello:VERSION:NETWORK:PORT\n");
			return EXIT_USAGE;
		}
		*net++ = '\0';
		*port++ = '\0';
		h.version = (uint32_t)strtoul(buf, NULL, 0);
		h.network = net;
		h.port = port;
		h.mtu = 1500;
		env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
		env.hello = &h;
		send_env(s, &env);
		say("sent Hello version %u network %s port %s", h.version, net, port);
	} else if (!strncmp(arg, "bye:", 4)) {
		Vmfabric__Bye b = VMFABRIC__BYE__INIT;
		Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

		b.reason = (char *)(uintptr_t)(arg + 4);
		env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
		env.bye = &b;
		send_env(s, &env);
		say("sent a Bye (reason: %zu bytes)", strlen(arg + 4));
	} else if (!strcmp(arg, "multipart")) {
		send_raw(s, "part one", 8, ZMQ_SNDMORE);
		send_raw(s, "part two", 8, 0);
		say("sent a two-part message");
	} else if (!strcmp(arg, "welcome")) {
		Vmfabric__Welcome w = VMFABRIC__WELCOME__INIT;
		Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

		w.port_id = 1;
		w.mtu = 1500;
		env.msg_case = VMFABRIC__ENVELOPE__MSG_WELCOME;
		env.welcome = &w;
		send_env(s, &env);
		say("sent a Welcome");
	} else if (!strcmp(arg, "bad-frames")) {
		size_t giant = (s->mtu ? s->mtu : 1500) + VMF_ETH_OVERHEAD + 1;
		uint8_t runt[10], mc[60], *g = malloc(giant);
		struct frame d[3];

		if (!g)
			return 1;
		make_frame(runt, sizeof(runt), src);
		make_frame(g, giant, src);
		make_frame(mc, sizeof(mc), msrc);
		d[0] = (struct frame){ runt, sizeof(runt), 0, 0 };
		d[1] = (struct frame){ g, (uint32_t)giant, 0, 0 };
		d[2] = (struct frame){ mc, sizeof(mc), 0, 0 };
		send_frames(s, d, 3);
		free(g);
		say("sent bad frames: runt 10 bytes, giant %zu bytes, multicast source 60 bytes", giant);
	} else if (!strncmp(arg, "macs:", 5)) {
		size_t n = strtoul(arg + 5, NULL, 0);
		uint8_t (*fr)[60] = calloc(n ? n : 1, 60);
		struct frame *d = calloc(n ? n : 1, sizeof(*d));
		uint8_t m[6] = { 0x02, 0x98, 0, 0, 0, 0 };

		if (!fr || !d || n > VMF_MAX_BATCH_FRAMES) {
			free(fr);
			free(d);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < n; i++) {
			m[4] = (uint8_t)(i >> 8);
			m[5] = (uint8_t)i;
			make_frame(fr[i], 60, m);
			d[i] = (struct frame){ fr[i], 60, 0, 0 };
		}
		send_frames(s, d, n);
		free(fr);
		free(d);
		say("sent %zu frames from %zu source MACs", n, n);
	} else if (!strncmp(arg, "nets:", 5)) {
		return nets(s, strtoul(arg + 5, NULL, 0));
	} else if (!strncmp(arg, "churn:", 6)) {
		return churn(s, arg + 6);
	} else if (!strncmp(arg, "tso:", 4)) {
		char *e;
		unsigned long mss = strtoul(arg + 4, &e, 0), len = *e == ':' ? strtoul(e + 1, &e, 0) : 0;
		long ms = *e == ':' ? strtol(e + 1, NULL, 0) : 0;
		size_t fl = VMF_VNET_HDR_LEN + 54 + len, sent = 0;
		uint8_t *f = calloc(1, fl), plain[60], *ip, *tcp;
		struct frame d[2] = { { f, (uint32_t)fl, FRAME_VNET, 0 }, { plain, sizeof(plain), 0, 0 } };
		uint64_t end = now_ms() + (uint64_t)ms;
		zmq_msg_t m;

		if (!f || mss > 65535 || fl > VMF_MAX_FRAME) {
			free(f);
			return EXIT_USAGE;
		}
		f[1] = 1;	/* VIRTIO_NET_HDR_GSO_TCPV4 */
		f[4] = (uint8_t)mss;
		f[5] = (uint8_t)(mss >> 8);
		make_frame(f + VMF_VNET_HDR_LEN, 54, src);
		ip = f + VMF_VNET_HDR_LEN + 14;
		tcp = ip + 20;
		ip[0] = 0x45;
		ip[8] = 64;
		ip[9] = 6;
		memcpy(ip + 12, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
		tcp[12] = 5 << 4;
		tcp[13] = 0x10;
		make_frame(plain, sizeof(plain), src);
		do {
			if (codec_pack_batch(d, 2, &m))
				break;
			if (zmq_msg_send(&m, s->sock, 0) < 0) {
				zmq_msg_close(&m);
				break;
			}
			sent++;
		} while (ms && now_ms() < end);
		free(f);
		say("sent %zu FrameBatch(es): a %zu-byte TCPv4 super-frame (gso_size %lu) and a 60-byte frame",
		    sent, fl - VMF_VNET_HDR_LEN, mss);
	} else if (!strcmp(arg, "keepalive")) {
		send_keepalive(s);
		say("sent a Keepalive");
	} else if (!strncmp(arg, "wait:", 5)) {
		uint32_t code = 0;

		pump(s, strtol(arg + 5, NULL, 0), 0, &code);
	} else if (!strncmp(arg, "expect:", 7)) {
		const char *what = arg + 7, *ms = strrchr(arg, ':');
		long t = ms ? strtol(ms + 1, NULL, 0) : 3000;
		uint32_t code = 0, want = 0;
		enum seen got, need;

		if (!strncmp(what, "welcome", 7)) {
			need = SEEN_WELCOME;
		} else if (!strncmp(what, "error:", 6)) {
			need = SEEN_ERROR;
			want = (uint32_t)strtoul(what + 6, NULL, 0);
		} else if (!strncmp(what, "disconnect", 10)) {
			need = SEEN_DISCONNECT;
		} else if (!strncmp(what, "silence", 7)) {
			got = pump(s, t, 1, &code);
			if (got != SEEN_NONE) {
				say("expected silence, got something");
				return 2;
			}
			say("silence for %ld ms, as expected", t);
			return 0;
		} else {
			fprintf(stderr, "unknown expect: %s\n", what);
			return EXIT_USAGE;
		}
		for (uint64_t end = now_ms() + (uint64_t)t; now_ms() < end;) {
			got = pump(s, (long)(end - now_ms()), 1, &code);
			if (got == need && (need != SEEN_ERROR || code == want)) {
				say("expect %.*s: ok", (int)(ms - what), what);
				return 0;
			}
		}
		say("timeout waiting for %.*s", (int)(ms - what), what);
		return 2;
	} else {
		fprintf(stderr, "unknown step '%s'\n", arg);
		return EXIT_USAGE;
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: vmf-rawclient --switch EP (--server-key PUBFILE --key SECRETFILE | --insecure) STEP...\n"
		"steps: garbage:N big batch hello:V:NET:PORT bye:REASON multipart welcome bad-frames macs:N\n"
		"       tso:MSS:LEN[:MS] keepalive churn:N:NET:PORT nets:N\n"
		"       wait:MS expect:(welcome|error:CODE|disconnect|silence):MS\n");
}

int main(int argc, char **argv)
{
	const char *ep = NULL, *server_key = NULL, *key = NULL;
	struct rc_state s = { 0 };
	int i, insecure = 0, zero = 0, rc = 0;
	int64_t maxmsg = VMF_MAX_MSG;
	char why[1024];

	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strcmp(argv[i], "--insecure"))
			insecure = 1;
		else if (i + 1 < argc && !strcmp(argv[i], "--switch"))
			ep = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--server-key"))
			server_key = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--key"))
			key = argv[++i];
		else {
			usage();
			return EXIT_USAGE;
		}
	}
	if (!ep || (!insecure && (!server_key || !key))) {
		usage();
		return EXIT_USAGE;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	srand((unsigned int)now_ms());
	s.ep = ep;
	s.insecure = insecure;
	if (!insecure && (cert_load_secret(key, s.pub, s.sec, why, sizeof(why)) ||
			  cert_load_public(server_key, s.srv, why, sizeof(why)))) {
		fprintf(stderr, "vmf-rawclient: %s\n", why);
		return 78;
	}
	if (codec_arena_init(&s.arena, 4 * (size_t)VMF_MAX_MSG))
		return 1;
	s.ctx = zmq_ctx_new();
	s.sock = zmq_socket(s.ctx, ZMQ_DEALER);
	zmq_setsockopt(s.sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s.sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (!insecure) {
		zmq_setsockopt(s.sock, ZMQ_CURVE_SERVERKEY, s.srv, CERT_KEY_LEN);
		zmq_setsockopt(s.sock, ZMQ_CURVE_PUBLICKEY, s.pub, CERT_KEY_LEN);
		zmq_setsockopt(s.sock, ZMQ_CURVE_SECRETKEY, s.sec, CERT_KEY_LEN);
	}
	zmq_socket_monitor(s.sock, "inproc://rawclient-mon", ZMQ_EVENT_DISCONNECTED |
			   ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
	s.mon = zmq_socket(s.ctx, ZMQ_PAIR);
	zmq_connect(s.mon, "inproc://rawclient-mon");
	if (zmq_connect(s.sock, ep)) {
		fprintf(stderr, "vmf-rawclient: cannot connect to %s: %s\n", ep, zmq_strerror(errno));
		return 1;
	}
	say("connecting to %s (%s)", ep, insecure ? "insecure" : "CURVE");
	for (; i < argc && !rc; i++)
		rc = step(&s, argv[i]);
	zmq_socket_monitor(s.sock, NULL, 0);
	for (unsigned int k = 0; k < n_extra; k++)
		zmq_close(extra[k]);
	zmq_close(s.sock);
	zmq_close(s.mon);
	zmq_ctx_term(s.ctx);
	cert_wipe(s.sec, sizeof(s.sec));
	codec_arena_free(&s.arena);
	say("done (exit %d)", rc);
	return rc;
}
