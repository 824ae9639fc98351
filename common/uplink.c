/* uplink.c - the port side of the wire protocol: DEALER, CURVE, Hello, keepalives, reconnects */

/*
 * DOC: Theory of operation
 *
 * States:
 *   HELLO   - the DEALER connects (ZeroMQ reconnects by itself, 100 ms
 *             doubling to 2 s); Hello goes out every second until Welcome.
 *   UP      - Welcome received. Frames flow, a keepalive goes out every
 *             keepalive_ms, and the switch echoes it.
 *   REFUSED - the switch's ZAP handler refused our key. libzmq never retries
 *             that connection, so after a backoff (1 s doubling to 30 s) the
 *             socket is recreated: admitting the key later needs no restart.
 *
 * UP falls back to HELLO when the connection drops (monitor event), when
 * the switch says Error (NOT_WELCOMED after a switch restart, EXPIRED,
 * DUPLICATE after a takeover), or when nothing arrived for 3 keepalive
 * intervals (then the socket is recreated too, in case the connection is
 * wedged). ZMQ_IMMEDIATE keeps frames from queueing to a switch that is
 * not there: they are dropped and counted (drop_down), never delivered late.
 */

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "uplink.h"
#include "util.h"

#define HELLO_IVL_MS	1000
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	30000

static struct ratelimit rl_up = RATELIMIT_INIT;
/* what the switch says (Welcome, Error) is logged at most this often: a switch can say it in a loop */
static struct ratelimit rl_join = RATELIMIT_INIT;
static struct ratelimit rl_err = RATELIMIT_INIT;

static int sock_open(struct uplink *u)
{
	static unsigned int mon_seq;
	int one = 1, zero = 0, ivl = 100, ivl_max = 2000, hwm = 256;
	int64_t maxmsg = VMF_MAX_MSG;
	void *s;

	s = zmq_socket(u->ctx, ZMQ_DEALER);
	if (!s)
		return -errno;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(s, ZMQ_IMMEDIATE, &one, sizeof(one));
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
	zmq_setsockopt(s, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (!u->conf.insecure) {
		int rc = 0;

		/* the secret is readable only for as long as libzmq takes its copy */
		sodium_mprotect_readonly(u->sec);
		if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, u->srv, CERT_KEY_LEN) ||
		    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, u->pub, CERT_KEY_LEN) ||
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, u->sec, CERT_KEY_LEN))
			rc = -errno;
		sodium_mprotect_noaccess(u->sec);
		if (rc) {
			zmq_close(s);
			return rc;
		}
	}
	snprintf(u->mon_ep, sizeof(u->mon_ep), "inproc://uplink-mon-%u", mon_seq++);
	if (zmq_socket_monitor(s, u->mon_ep, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
			       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
		int rc = -errno;

		zmq_close(s);
		return rc;
	}
	u->mon = zmq_socket(u->ctx, ZMQ_PAIR);
	zmq_setsockopt(u->mon, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_connect(u->mon, u->mon_ep);
	if (zmq_connect(s, u->conf.endpoint)) {
		int rc = -errno;

		zmq_socket_monitor(s, NULL, 0);
		zmq_close(u->mon);
		zmq_close(s);
		u->mon = NULL;
		return rc;
	}
	u->sock = s;
	return 0;
}

static void sock_close(struct uplink *u)
{
	if (!u->sock)
		return;
	/* stop the monitor before closing its reader, or the I/O thread can hang */
	zmq_socket_monitor(u->sock, NULL, 0);
	zmq_close(u->sock);
	zmq_close(u->mon);
	u->sock = u->mon = NULL;
}

static void go_hello(struct uplink *u, uint64_t now, const char *why)
{
	if (u->state == UPLINK_UP)
		log_rl(&rl_up, LOG_WARNING, "switch session lost (%s); reconnecting", why);
	u->state = UPLINK_HELLO;
	u->next_hello_ms = now;
	u->last_rx_ms = now;
}

void uplink_conf_check(const struct uplink_conf *c)
{
	if (!c->endpoint)
		die(EXIT_USAGE, "--switch EP is required (e.g. tcp://192.0.2.1:7000)");
	if (!codec_valid_name(c->network) || !codec_valid_name(c->name))
		die(EXIT_USAGE, "--network and --name: 1-63 characters of A-Z a-z 0-9 - _ . / : @");
	if (!c->insecure && (!c->server_key || !c->key))
		die(EXIT_USAGE, "--server-key PUBFILE and --key SECRETFILE are required "
		    "(or --insecure against an --insecure switch)");
	if (c->insecure)
		warn("--insecure: CURVE is off, frames cross the network in plain text");
}

int uplink_init(struct uplink *u, const struct uplink_conf *c, void *ctx)
{
	char why[1024];
	int rc;

	memset(u, 0, sizeof(*u));
	u->conf = *c;
	u->ctx = ctx;
	u->mtu = (uint32_t)c->mtu;
	u->keepalive_ms = 1000;
	if (!c->insecure) {
		/* kept for every reconnect: locked memory, left out of core dumps,
		 * inaccessible between uses, wiped when freed */
		if (sodium_init() < 0 || !(u->sec = sodium_malloc(CERT_KEY_LEN)))
			return -ENOMEM;
		if (cert_load_secret(c->key, u->pub, u->sec, why, sizeof(why)) ||
		    cert_load_public(c->server_key, u->srv, why, sizeof(why))) {
			err("%s", why);
			sodium_free(u->sec);
			u->sec = NULL;
			return -EINVAL;
		}
		sodium_mprotect_noaccess(u->sec);
	}
	rc = codec_arena_init(&u->arena, 2 * (size_t)VMF_MAX_MSG);
	if (rc)
		return rc;
	rc = sock_open(u);
	if (rc) {
		err("cannot connect to %s: %s", c->endpoint, zmq_strerror(-rc));
		return rc;
	}
	go_hello(u, now_ms(), "start");
	return 0;
}

/* Release the message the previous batch pointed into. */
static void release_cur(struct uplink *u)
{
	if (u->have_cur)
		zmq_msg_close(&u->cur);
	u->have_cur = 0;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	release_cur(u);
	sock_close(u);
	sodium_free(u->sec);	/* wipes it */
	u->sec = NULL;
	codec_arena_free(&u->arena);
}

void uplink_pollitems(struct uplink *u, zmq_pollitem_t *items)
{
	items[0] = (zmq_pollitem_t){ u->sock, 0, u->sock ? ZMQ_POLLIN : 0, 0 };
	items[1] = (zmq_pollitem_t){ u->mon, 0, u->mon ? ZMQ_POLLIN : 0, 0 };
	if (!u->sock) {
		/* zmq_poll wants something to look at: a disabled fd item */
		items[0] = (zmq_pollitem_t){ NULL, -1, 0, 0 };
		items[1] = (zmq_pollitem_t){ NULL, -1, 0, 0 };
	}
}

static int send_env(struct uplink *u, const Vmfabric__Envelope *env)
{
	zmq_msg_t m;
	int rc = codec_pack(env, &m);

	if (rc)
		return rc;
	if (zmq_msg_send(&m, u->sock, ZMQ_DONTWAIT) < 0) {
		rc = -errno;
		zmq_msg_close(&m);
	}
	return rc;
}

static void send_hello(struct uplink *u)
{
	Vmfabric__Hello h = VMFABRIC__HELLO__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	h.version = VMF_PROTO_VERSION;
	h.network = (char *)(uintptr_t)u->conf.network;
	h.port = (char *)(uintptr_t)u->conf.name;
	h.mtu = (uint32_t)u->conf.mtu;
	if (u->conf.hello_fill)
		u->conf.hello_fill(u->conf.cb_arg, &h);
	env.msg_case = VMFABRIC__ENVELOPE__MSG_HELLO;
	env.hello = &h;
	send_env(u, &env);
}

long uplink_timeout(struct uplink *u, uint64_t now)
{
	uint64_t next;

	switch (u->state) {
	case UPLINK_HELLO:
		next = u->next_hello_ms;
		break;
	case UPLINK_UP:
		next = MIN(u->next_ka_ms, u->last_rx_ms + 3 * (uint64_t)u->keepalive_ms);
		break;
	default:
		next = u->retry_ms;
		break;
	}
	return next > now ? (long)(next - now) : 0;
}

void uplink_tick(struct uplink *u, uint64_t now)
{
	switch (u->state) {
	case UPLINK_REFUSED:
		if (now >= u->retry_ms) {
			info("retrying with a new connection to %s", u->conf.endpoint);
			if (!sock_open(u))
				go_hello(u, now, "retry");
			else
				u->retry_ms = now + u->backoff_ms;
		}
		return;
	case UPLINK_HELLO:
		if (now >= u->next_hello_ms) {
			send_hello(u);
			u->next_hello_ms = now + HELLO_IVL_MS;
		}
		/* a wedged connection (e.g. half-open TCP) gets a fresh socket */
		if (now - u->last_rx_ms > 10 * HELLO_IVL_MS) {
			sock_close(u);
			if (sock_open(u)) {
				u->state = UPLINK_REFUSED;
				u->retry_ms = now + BACKOFF_MIN_MS;
				u->backoff_ms = BACKOFF_MIN_MS;
				return;
			}
			u->last_rx_ms = now;
		}
		return;
	case UPLINK_UP:
		if (now - u->last_rx_ms > 3 * (uint64_t)u->keepalive_ms) {
			go_hello(u, now, "3 keepalives missed");
			sock_close(u);
			if (sock_open(u)) {
				u->state = UPLINK_REFUSED;
				u->retry_ms = now + BACKOFF_MIN_MS;
				u->backoff_ms = BACKOFF_MIN_MS;
			}
			return;
		}
		if (now >= u->next_ka_ms) {
			Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
			Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

			k.seq = ++u->ka_seq;
			env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
			env.keepalive = &k;
			send_env(u, &env);
			u->next_ka_ms = now + u->keepalive_ms;
		}
		return;
	}
}

void uplink_monitor(struct uplink *u)
{
	for (;;) {
		zmq_msg_t ev, ep;
		uint16_t event = 0;
		uint32_t value = 0;

		zmq_msg_init(&ev);
		if (zmq_msg_recv(&ev, u->mon, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&ev);
			return;
		}
		if (zmq_msg_size(&ev) >= 6) {
			memcpy(&event, zmq_msg_data(&ev), 2);
			memcpy(&value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
		}
		zmq_msg_init(&ep);
		if (zmq_msg_more(&ev))
			zmq_msg_recv(&ep, u->mon, 0);
		zmq_msg_close(&ep);
		zmq_msg_close(&ev);

		switch (event) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			debug("connected to %s", u->conf.endpoint);
			u->backoff_ms = 0;
			if (u->state == UPLINK_HELLO)
				u->next_hello_ms = now_ms();
			break;
		case ZMQ_EVENT_DISCONNECTED:
			if (u->state == UPLINK_UP)
				go_hello(u, now_ms(), "connection to the switch closed");
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
			char z85[CERT_Z85_LEN + 1];
			uint64_t now = now_ms();

			u->backoff_ms = u->backoff_ms ? MIN(2 * u->backoff_ms, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
			err("switch %s refused our key %s (status %u): it is not in the switch's "
			    "authorized directory; add it there and send the switch SIGHUP. Retrying in %llu s",
			    u->conf.endpoint, cert_z85(u->pub, z85), value,
			    (unsigned long long)(u->backoff_ms / 1000));
			u->state = UPLINK_REFUSED;
			u->retry_ms = now + u->backoff_ms;
			sock_close(u);
			return;	/* the monitor is gone with the socket */
		}
		case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
		case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
			log_rl(&rl_up, LOG_WARNING, "CURVE handshake with %s failed (event 0x%x, %u): "
			       "is --server-key the switch's public certificate?",
			       u->conf.endpoint, event, value);
			break;
		default:
			break;
		}
	}
}

static void handle_error(struct uplink *u, const Vmfabric__Error *e, uint64_t now)
{
	switch (e->code) {
	case VMF_ERR_NOT_WELCOMED:
		/* the switch does not know us (it restarted): start over at once */
		if (u->state == UPLINK_UP)
			go_hello(u, now, "switch does not know this port");
		u->next_hello_ms = now;
		return;
	case VMF_ERR_VERSION:
	case VMF_ERR_BADNAME:
	case VMF_ERR_DENIED:
	case VMF_ERR_REVOKED:
	case VMF_ERR_DUPLICATE:
	case VMF_ERR_POLICY:
	case VMF_ERR_LOOP:
		log_rl(&rl_err, LOG_ERR, "switch refused this port: %s (%s)", e->text,
		       codec_err_name(e->code));
		break;
	default:
		log_rl(&rl_up, LOG_WARNING, "switch: %s (%s)", e->text, codec_err_name(e->code));
		break;
	}
	if (e->code == VMF_ERR_DENIED || e->code == VMF_ERR_REVOKED) {
		/* the connection itself is no longer wanted: back off and reconnect */
		u->backoff_ms = u->backoff_ms ? MIN(2 * u->backoff_ms, BACKOFF_MAX_MS) : BACKOFF_MIN_MS;
		u->state = UPLINK_REFUSED;
		u->retry_ms = now + u->backoff_ms;
		sock_close(u);
		return;
	}
	go_hello(u, now, e->text);
	/* do not hammer the switch with Hellos it will refuse again */
	u->next_hello_ms = now + (e->code == VMF_ERR_DUPLICATE || e->code == VMF_ERR_VERSION ||
				  e->code == VMF_ERR_BADNAME || e->code == VMF_ERR_FULL ||
				  e->code == VMF_ERR_POLICY || e->code == VMF_ERR_LOOP ? 5000 : HELLO_IVL_MS);
}

int uplink_recv(struct uplink *u, Vmfabric__FrameBatch **batch)
{
	codec_arena_reset(&u->arena);
	release_cur(u);
	while (u->sock) {
		Vmfabric__Envelope *env;
		uint64_t now;
		int rc;

		zmq_msg_init(&u->cur);
		if (zmq_msg_recv(&u->cur, u->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&u->cur);
			return 0;
		}
		u->have_cur = 1;
		rc = codec_decode_zc(&u->arena, zmq_msg_data(&u->cur), zmq_msg_size(&u->cur), &env);
		now = now_ms();
		if (rc) {
			u->ctr.malformed++;
			log_rl(&rl_up, LOG_WARNING, "malformed message from the switch: %s", strerror(-rc));
			codec_arena_reset(&u->arena);
			release_cur(u);
			continue;
		}
		u->last_rx_ms = now;
		switch (env->msg_case) {
		case VMFABRIC__ENVELOPE__MSG_BATCH:
			if (u->state != UPLINK_UP)
				break;
			u->ctr.rx_msgs++;
			*batch = env->batch;
			return 1;
		case VMFABRIC__ENVELOPE__MSG_WELCOME:
			if (u->conf.on_welcome && u->conf.on_welcome(u->conf.cb_arg, env->welcome)) {
				/* refused by our side (a loop): leave, and retry later */
				u->state = UPLINK_UP;
				uplink_bye(u, "loop: this switch is above its parent");
				u->backoff_ms = u->backoff_ms ? MIN(2 * u->backoff_ms, BACKOFF_MAX_MS) : 5000;
				u->state = UPLINK_REFUSED;
				u->retry_ms = now + u->backoff_ms;
				sock_close(u);
				return 0;
			}
			u->state = UPLINK_UP;
			u->port_id = env->welcome->port_id;
			if (env->welcome->keepalive_ms >= 100)
				u->keepalive_ms = env->welcome->keepalive_ms;
			if (env->welcome->mtu && env->welcome->mtu != u->mtu) {
				warn("network %s has MTU %u, this port asked for %u", u->conf.network,
				     env->welcome->mtu, u->mtu);
				u->mtu = env->welcome->mtu;
			}
			u->next_ka_ms = now + u->keepalive_ms;
			u->ctr.sessions++;
			u->backoff_ms = 0;
			log_rl(&rl_join, LOG_INFO, "joined network %s on %s as port %u", u->conf.network,
			       u->conf.endpoint, u->port_id);
			break;
		case VMFABRIC__ENVELOPE__MSG_ERROR:
			handle_error(u, env->error, now);
			break;
		case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
			break;
		default:
			u->ctr.malformed++;
			break;
		}
		codec_arena_reset(&u->arena);
		release_cur(u);
	}
	return 0;
}

size_t uplink_send(struct uplink *u, ProtobufCBinaryData *frames, size_t n)
{
	return uplink_send_vnet(u, frames, n, NULL, 0);
}

size_t uplink_send_vnet(struct uplink *u, ProtobufCBinaryData *frames, size_t n, uint32_t *vnet,
			size_t n_vnet)
{
	size_t bytes = 0, i;
	zmq_msg_t m;

	if (!n)
		return 0;
	if (u->state != UPLINK_UP || !u->sock) {
		u->ctr.drop_down += n;
		return 0;
	}
	for (i = 0; i < n; i++)
		bytes += frames[i].len;
	if (codec_pack_batch_vnet(frames, n, vnet, n_vnet, &m)) {
		u->ctr.drop_full += n;
		return 0;
	}
	if (zmq_msg_send(&m, u->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&m);
		u->ctr.drop_full += n;
		return 0;
	}
	u->ctr.tx_msgs++;
	u->ctr.tx_frames += n;
	u->ctr.tx_bytes += bytes;
	return n;
}

void uplink_bye(struct uplink *u, const char *reason)
{
	Vmfabric__Bye b = VMFABRIC__BYE__INIT;
	Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

	if (u->state != UPLINK_UP || !u->sock)
		return;
	b.reason = (char *)(uintptr_t)reason;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
	env.bye = &b;
	send_env(u, &env);
}

int uplink_send_msg(struct uplink *u, zmq_msg_t *m, size_t n)
{
	if (u->state != UPLINK_UP || !u->sock) {
		zmq_msg_close(m);
		u->ctr.drop_down += n;
		return -ENOTCONN;
	}
	if (zmq_msg_send(m, u->sock, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(m);
		u->ctr.drop_full += n;
		return -EAGAIN;
	}
	u->ctr.tx_msgs++;
	u->ctr.tx_frames += n;
	return 0;
}

void uplink_rarp_frame(uint8_t f[60], const uint8_t mac[6])
{
	memset(f, 0, 60);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	f[12] = 0x80;	/* ETH_P_RARP */
	f[13] = 0x35;
	f[15] = 1;	/* hardware: Ethernet */
	f[16] = 0x08;	/* protocol: IPv4 */
	f[18] = 6;
	f[19] = 4;
	f[21] = 3;	/* reverse request, as QEMU's announce-self */
	memcpy(f + 22, mac, 6);
	memcpy(f + 32, mac, 6);
}
