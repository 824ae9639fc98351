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
 *
 * Several switches (--switch EP1,EP2,..., at most UPLINK_MAX_EP, priority
 * order): one DEALER talks to one switch at a time. The port moves to the
 * next endpoint (wrapping around) when the connection drops, the handshake
 * is refused, the switch says Error VERSION/BADNAME/DENIED/REVOKED/
 * DUPLICATE/FULL/POLICY/SHUTDOWN, it stops answering (keepalives every
 * MULTI_KA_MS, dead after MULTI_DEAD_MS of silence: a SIGSTOPped switch is
 * left within 2 s), or it sends no Welcome within MULTI_DWELL_MS. A move
 * closes the socket and opens a new one; nothing restarts. After a whole
 * round of failures the port waits (1 s doubling to ROUND_BACKOFF_MAX_MS)
 * with no socket, then starts the next round. With one endpoint none of
 * this applies and the behaviour above is unchanged.
 *
 * Failback: on a lower-priority switch, a probe DEALER per higher-priority
 * endpoint does the CURVE handshake and nothing else (no Hello: no port is
 * created there; ZMTP heartbeats notice a stopped switch). Once one has
 * been connected for the hold-down, the port says Bye and moves to it.
 *
 * Link state: Welcome says whether the port's link is down (vmfabric-ctl
 * link), LinkState tells each change; conf.on_state hears both, with the
 * network's MTU, so the NIC process can show them to the guest. A switch
 * without link state never sends either: the link stays up.
 *
 * Re-announce: the port remembers the first UPLINK_MAX_MACS source MACs it
 * sent (oldest forgotten first; a guest with more loses the surplus), and
 * after every Welcome it sends one gratuitous RARP per MAC (as QEMU's
 * announce-self does), so the new switch, and every switch above it, learns
 * them before the guest says anything.
 *
 * Polling: uplink_attach() gives the loop the DEALER and its monitor as two
 * slots (the monitor first, so a dropped connection is handled before its
 * socket is read) and a hook for uplink_tick(). sock_open() and
 * sock_close() are the only places the socket changes, and both re-register
 * it, so a swap inside uplink_monitor(), uplink_tick() or uplink_recv()
 * (failover, failback, a refusal) never leaves the loop polling, or a
 * caller reading, a closed socket. uplink_recv() counts what it hands out.
 */

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uplink.h"
#include "util.h"

#define HELLO_IVL_MS	1000
#define BACKOFF_MIN_MS	1000
#define BACKOFF_MAX_MS	30000

/* The next wait of a doubling backoff: @min first, then twice the last, at most @max (ms). */
static uint64_t backoff_next(uint64_t cur, uint64_t min, uint64_t max)
{
	return cur ? MIN(2 * cur, max) : min;
}

/* what the switch says (Welcome, Error) is logged at most this often: a switch can say it in a loop */

static struct ratelimit rl_join = RATELIMIT_INIT;
static struct ratelimit rl_err = RATELIMIT_INIT;
/* several endpoints: fast liveness, so that a silent switch is left within 2 s */
#define MULTI_KA_MS	300
#define MULTI_DEAD_MS	1200
#define MULTI_DWELL_MS	1500	/* HELLO this long without Welcome: next endpoint */
#define ROUND_BACKOFF_MAX_MS 5000
#define PROBE_TICK_MS	200
#define PROBE_RETRY_MS	5000	/* a probe refused by the switch: try again after, */
#define PROBE_RETRY_MAX_MS 60000 /* doubling up to this */
#define FAILBACK_HOLD_MS 10000
#define BYE_LINGER_MS	200

#define ETH_P_RARP	0x8035

static struct ratelimit rl_up = RATELIMIT_INIT;
static struct ratelimit rl_move = RATELIMIT_INIT;

/*
 * A DEALER with CURVE to endpoint @i, connected, with its monitor in @mon.
 * A @probe gets ZMTP heartbeats: it sends nothing else that could notice a
 * stopped switch.
 */
static int dealer_open(struct uplink *u, int i, int probe, void **sock, void **mon)
{
	static unsigned int mon_seq;
	int one = 1, zero = 0, ivl = 100, ivl_max = 2000, hwm = 256;
	int hb_ivl = MULTI_KA_MS, hb_timeout = MULTI_DEAD_MS;
	int64_t maxmsg = VMF_MAX_MSG;
	char mon_ep[64];
	void *s, *m;
	int rc;

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
	if (probe) {
		zmq_setsockopt(s, ZMQ_HEARTBEAT_IVL, &hb_ivl, sizeof(hb_ivl));
		zmq_setsockopt(s, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
	}
	if (!u->conf.insecure) {
		rc = 0;
		/* the secret is readable only for as long as libzmq takes its copy */
		sodium_mprotect_readonly(u->sec);
		if (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, u->srv[i], CERT_KEY_LEN) ||
		    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, u->pub, CERT_KEY_LEN) ||
		    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, u->sec, CERT_KEY_LEN))
			rc = -errno;
		sodium_mprotect_noaccess(u->sec);
		if (rc) {
			zmq_close(s);
			return rc;
		}
	}
	snprintf(mon_ep, sizeof(mon_ep), "inproc://uplink-mon-%u", mon_seq++);
	if (zmq_socket_monitor(s, mon_ep, ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
			       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)) {
		rc = -errno;
		zmq_close(s);
		return rc;
	}
	m = zmq_socket(u->ctx, ZMQ_PAIR);
	zmq_setsockopt(m, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_connect(m, mon_ep);
	if (zmq_connect(s, u->ep[i])) {
		rc = -errno;
		zmq_socket_monitor(s, NULL, 0);
		zmq_close(m);
		zmq_close(s);
		return rc;
	}
	*sock = s;
	*mon = m;
	return 0;
}

static void dealer_close(void **sock, void **mon)
{
	if (!*sock)
		return;
	/* stop the monitor before closing its reader, or the I/O thread can hang */
	zmq_socket_monitor(*sock, NULL, 0);
	zmq_close(*sock);
	zmq_close(*mon);
	*sock = *mon = NULL;
}

/* Tell the loop (if attached) which sockets to poll now: callers never see a swap. */
static void sock_watch(struct uplink *u)
{
	if (!u->loop)
		return;
	ev_set_zsock(u->loop, u->h_mon, u->mon, u->mon ? ZMQ_POLLIN : 0);
	ev_set_zsock(u->loop, u->h_data, u->sock, u->sock ? ZMQ_POLLIN : 0);
}

static int sock_open(struct uplink *u)
{
	int rc = dealer_open(u, u->ep_cur, 0, &u->sock, &u->mon);

	u->hello_out = 0;
	sock_watch(u);
	return rc;
}

static void sock_close(struct uplink *u)
{
	dealer_close(&u->sock, &u->mon);
	sock_watch(u);
}

/* Next event from monitor socket @mon. Return: 1 with @event and @value set, 0 when none is ready */
static int mon_read(void *mon, uint16_t *event, uint32_t *value)
{
	zmq_msg_t ev, ep;

	*event = 0;
	*value = 0;
	zmq_msg_init(&ev);
	if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0) {
		zmq_msg_close(&ev);
		return 0;
	}
	if (zmq_msg_size(&ev) >= 6) {
		memcpy(event, zmq_msg_data(&ev), 2);
		memcpy(value, (uint8_t *)zmq_msg_data(&ev) + 2, 4);
	}
	zmq_msg_init(&ep);
	if (zmq_msg_more(&ev))
		zmq_msg_recv(&ep, mon, 0);
	zmq_msg_close(&ep);
	zmq_msg_close(&ev);
	return 1;
}

static void go_hello(struct uplink *u, uint64_t now, const char *why)
{
	if (u->state == UPLINK_UP)
		log_rl(&rl_up, LOG_WARNING, "switch session lost (%s); reconnecting", why);
	u->state = UPLINK_HELLO;
	u->next_hello_ms = now;
	u->hello_out = 0;
	u->last_rx_ms = now;
	u->attempt_ms = now;
}

/* Keepalive interval and silence before the switch counts as dead. */
static uint64_t ka_ivl(const struct uplink *u)
{
	return u->n_ep > 1 ? MIN(u->keepalive_ms, MULTI_KA_MS) : u->keepalive_ms;
}

static uint64_t dead_ms(const struct uplink *u)
{
	return u->n_ep > 1 ? MULTI_DEAD_MS : 3 * (uint64_t)u->keepalive_ms;
}

/* Open the socket to the current endpoint; on a socket error wait for the retry. Return: 0 or -1 */
static int sock_open_or_wait(struct uplink *u, uint64_t now)
{
	if (!sock_open(u))
		return 0;
	u->state = UPLINK_REFUSED;
	u->backoff_ms = BACKOFF_MIN_MS;
	u->retry_ms = now + BACKOFF_MIN_MS;
	return -1;
}

/* Open the socket to the current endpoint and say Hello; a socket error waits for the retry. */
static void open_current(struct uplink *u, uint64_t now)
{
	if (sock_open_or_wait(u, now))
		return;
	u->state = UPLINK_HELLO;
	go_hello(u, now, "move");
}

/*
 * move_on() - leave the current switch (several endpoints only) for the
 * next one, wrapping around; after a whole round without a Welcome, wait
 * a backoff first.
 */
static void move_on(struct uplink *u, uint64_t now, const char *why)
{
	int from = u->ep_cur;

	sock_close(u);
	u->ep_cur = (u->ep_cur + 1) % u->n_ep;
	u->ctr.moves++;
	if (++u->fails >= u->n_ep) {
		u->fails = 0;
		u->round_backoff_ms = backoff_next(u->round_backoff_ms, BACKOFF_MIN_MS, ROUND_BACKOFF_MAX_MS);
		log_rl(&rl_move, LOG_WARNING, "switch %s %s, and no other switch answered either: "
		       "trying %s (priority %d) in %llu ms", u->ep[from], why, u->ep[u->ep_cur], u->ep_cur + 1,
		       (unsigned long long)u->round_backoff_ms);
		u->state = UPLINK_REFUSED;
		u->retry_ms = now + u->round_backoff_ms;
		return;
	}
	log_rl(&rl_move, LOG_WARNING, "switch %s %s: moving to %s (priority %d)", u->ep[from], why,
	       u->ep[u->ep_cur], u->ep_cur + 1);
	open_current(u, now);
}

static void probe_close(struct uplink_probe *p)
{
	dealer_close(&p->sock, &p->mon);
	p->up_since = 0;
}

/*
 * probes_tick() - on a lower-priority switch, keep a probe connected to each
 * higher one and move back to the best one that has been up for the
 * hold-down. Return: 1 if the port moved
 */
static int probes_tick(struct uplink *u, uint64_t now)
{
	int i;

	if (u->n_ep < 2 || !u->conf.failback || now < u->next_probe_ms)
		return 0;
	u->next_probe_ms = now + PROBE_TICK_MS;	/* not on every frame batch */
	for (i = 0; i < u->n_ep; i++) {
		struct uplink_probe *p = &u->probe[i];
		uint16_t event;
		uint32_t value;

		if (i >= u->ep_cur) {
			probe_close(p);
			continue;
		}
		if (!p->sock) {
			if (now < p->retry_ms || dealer_open(u, i, 1, &p->sock, &p->mon))
				continue;
			p->up_since = 0;
		}
		while (p->sock && mon_read(p->mon, &event, &value)) {
			switch (event) {
			case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
				p->up_since = now;
				p->backoff_ms = 0;
				break;
			case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
				/* libzmq never retries a refused handshake: a new socket later */
				probe_close(p);
				p->backoff_ms = backoff_next(p->backoff_ms, PROBE_RETRY_MS, PROBE_RETRY_MAX_MS);
				p->retry_ms = now + p->backoff_ms;
				break;
			default:
				p->up_since = 0;
				break;
			}
		}
	}
	for (i = 0; i < u->ep_cur; i++) {
		struct uplink_probe *p = &u->probe[i];

		if (!p->up_since || now - p->up_since < (uint64_t)u->conf.failback_hold_ms)
			continue;
		log_rl(&rl_move, LOG_WARNING, "switch %s (priority %d) up for %llu s: moving back to it "
		       "from %s", u->ep[i], i + 1, (unsigned long long)((now - p->up_since) / 1000),
		       u->ep[u->ep_cur]);
		uplink_bye(u, "moving to a higher-priority switch");
		sock_close(u);
		u->ep_cur = i;
		u->fails = 0;
		u->ctr.moves++;
		probe_close(p);
		open_current(u, now);
		return 1;
	}
	return 0;
}

/* Remember source MAC @src (unicast only). Cheap when it is the last one seen. */
static void mac_note(struct uplink *u, const uint8_t *src)
{
	static const uint8_t zero[6];
	unsigned int i;

	if (u->n_macs && !memcmp(u->macs[u->mac_last], src, 6))
		return;
	if ((src[0] & 1) || !memcmp(src, zero, 6))
		return;
	for (i = 0; i < u->n_macs; i++) {
		if (!memcmp(u->macs[i], src, 6)) {
			u->mac_last = i;
			return;
		}
	}
	i = u->mac_next;
	u->mac_next = (u->mac_next + 1) % UPLINK_MAX_MACS;
	if (u->n_macs < UPLINK_MAX_MACS)
		u->n_macs++;
	memcpy(u->macs[i], src, 6);
	u->mac_last = i;
}

/*
 * announce() - one FrameBatch with a gratuitous RARP per remembered MAC,
 * the frame QEMU's qemu_announce_self() sends: broadcast, ethertype 0x8035,
 * opcode 3 (request reverse), sender and target hardware address the MAC,
 * protocol addresses 0, padded to 60 bytes.
 */
static void announce(struct uplink *u)
{
	struct frame f[UPLINK_MAX_MACS];
	unsigned int i;
	size_t n;

	for (i = 0; i < u->n_macs; i++) {
		uplink_rarp_frame(u->ann[i], u->macs[i]);
		f[i] = (struct frame){ u->ann[i], UPLINK_ANN_LEN, 0, 0 };
	}
	n = uplink_send(u, f, u->n_macs);
	u->ctr.announces += n;
	if (n)
		debug("announced %zu MAC(s) to %s", n, u->ep[u->ep_cur]);
}

int uplink_split(char *list, char **out, int max)
{
	int n = 0;

	for (;;) {
		char *comma = strchr(list, ',');

		if (n == max)
			return -EINVAL;
		if (comma)
			*comma = '\0';
		if (!*list)
			return -EINVAL;
		out[n++] = list;
		if (!comma)
			return n;
		list = comma + 1;
	}
}

/* Count the entries of comma-separated @list; -EINVAL as uplink_split(). */
static int list_count(const char *list)
{
	char buf[4096], *out[UPLINK_MAX_EP];

	if (strlen(list) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, list);
	return uplink_split(buf, out, UPLINK_MAX_EP);
}

void uplink_conf_failback(struct uplink_conf *c, const char *arg)
{
	char *end;
	long v;

	c->failback = 1;
	c->failback_hold_ms = FAILBACK_HOLD_MS;
	if (!arg || !strcmp(arg, "on"))
		return;
	if (!strcmp(arg, "off")) {
		c->failback = 0;
		return;
	}
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > 86400)
		die(EXIT_USAGE, "--failback '%s': on, off, or the hold-down in seconds (0-86400)", arg);
	c->failback_hold_ms = v * 1000;
}

void uplink_conf_check(const struct uplink_conf *c)
{
	int n_ep, n_key;

	if (!c->endpoint)
		die(EXIT_USAGE, "--switch EP is required (e.g. tcp://192.0.2.1:7000)");
	n_ep = list_count(c->endpoint);
	if (n_ep < 0)
		die(EXIT_USAGE, "--switch '%s': 1 to %d endpoints separated by commas, none empty",
		    c->endpoint, UPLINK_MAX_EP);
	if (!c->insecure && c->server_key) {
		n_key = list_count(c->server_key);
		if (n_key != 1 && n_key != n_ep)
			die(EXIT_USAGE, "--server-key: give one public certificate for all switches or one "
			    "per --switch endpoint (%d endpoints, %d key files)", n_ep, n_key);
	}
	if (!codec_valid_name(c->network) || !codec_valid_name(c->name))
		die(EXIT_USAGE, "--network and --name: 1-63 characters of A-Z a-z 0-9 - _ . / : @");
	if (!c->insecure && (!c->server_key || !c->key))
		die(EXIT_USAGE, "--server-key PUBFILE and --key SECRETFILE are required "
		    "(or --insecure against an --insecure switch)");
	if (c->insecure)
		warn("--insecure: CURVE is off, frames cross the network in plain text");
}

/* Load the switches' public certificates: one file for all endpoints, or one each. */
static int load_server_keys(struct uplink *u, char *why, size_t len)
{
	char *files[UPLINK_MAX_EP], *list = strdup(u->conf.server_key);
	int n, i, rc = 0;

	if (!list) {
		snprintf(why, len, "out of memory");
		return -ENOMEM;
	}
	n = uplink_split(list, files, UPLINK_MAX_EP);
	if (n != 1 && n != u->n_ep) {
		snprintf(why, len, "--server-key: one public certificate for all switches or one per "
			 "endpoint (%d endpoints)", u->n_ep);
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < u->n_ep; i++) {
		rc = cert_load_public(files[n == 1 ? 0 : i], u->srv[i], why, len);
		if (rc)
			break;
	}
out:
	free(list);
	return rc;
}

int uplink_init(struct uplink *u, const struct uplink_conf *c, void *ctx)
{
	char why[1024];
	int rc;

	memset(u, 0, sizeof(*u));
	u->conf = *c;
	u->ctx = ctx;
	u->mtu = (uint32_t)c->mtu;
	u->link_up = 1;
	u->keepalive_ms = 1000;
	u->ep_list = strdup(c->endpoint);
	if (!u->ep_list)
		return -ENOMEM;
	u->n_ep = uplink_split(u->ep_list, u->ep, UPLINK_MAX_EP);
	if (u->n_ep < 0) {
		err("--switch '%s': 1 to %d endpoints separated by commas", c->endpoint, UPLINK_MAX_EP);
		return -EINVAL;
	}
	if (!c->insecure) {
		/* kept for every reconnect: locked memory, left out of core dumps,
		 * inaccessible between uses, wiped when freed */
		if (sodium_init() < 0 || !(u->sec = sodium_malloc(CERT_KEY_LEN)))
			return -ENOMEM;
		if (cert_load_secret(c->key, u->pub, u->sec, why, sizeof(why)) ||
		    load_server_keys(u, why, sizeof(why))) {
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
		err("cannot connect to %s: %s", u->ep[u->ep_cur], zmq_strerror(-rc));
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
	for (int i = 0; i < UPLINK_MAX_EP; i++)
		probe_close(&u->probe[i]);
	sodium_free(u->sec);	/* wipes it */
	u->sec = NULL;
	codec_arena_free(&u->arena);
	free(u->ep_list);
	u->ep_list = NULL;
}

static void on_mon(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)h;
	(void)revents;
	uplink_monitor(arg);
}

static void on_data(struct ev_loop *l, int h, short revents, void *arg)
{
	struct uplink *u = arg;

	(void)revents;
	if (u->on_readable(u->rd_arg))
		ev_more(l, h);
}

/* Before the loop sleeps: due timed work, and how long it may sleep. */
static long on_tick(struct ev_loop *l, uint64_t now, void *arg)
{
	(void)l;
	uplink_tick(arg, now);
	return uplink_timeout(arg, now_ms());
}

int uplink_attach(struct uplink *u, struct ev_loop *l, int (*on_readable)(void *arg), void *arg)
{
	int rc = -ENOMEM;

	u->on_readable = on_readable;
	u->rd_arg = arg;
	/* the monitor first: a dropped connection is known before its socket is read */
	u->h_mon = ev_add_zsock(l, NULL, 0, on_mon, u);
	u->h_data = ev_add_zsock(l, NULL, 0, on_data, u);
	if (u->h_mon < 0 || u->h_data < 0 || (rc = ev_hook(l, on_tick, NULL, u))) {
		ev_del(l, u->h_mon);
		ev_del(l, u->h_data);
		return rc;
	}
	u->loop = l;
	sock_watch(u);
	return 0;
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
	/* with ZMQ_IMMEDIATE, accepted means the connection was up: it is on its way */
	if (!send_env(u, &env))
		u->hello_out = 1;
}

long uplink_timeout(struct uplink *u, uint64_t now)
{
	uint64_t next;

	switch (u->state) {
	case UPLINK_HELLO:
		next = u->next_hello_ms;
		if (u->n_ep > 1)
			next = MIN(next, u->attempt_ms + MULTI_DWELL_MS);
		break;
	case UPLINK_UP:
		next = MIN(u->next_ka_ms, u->last_rx_ms + dead_ms(u));
		break;
	default:
		next = u->retry_ms;
		break;
	}
	if (u->n_ep > 1 && u->conf.failback && u->ep_cur > 0)
		next = MIN(next, MAX(u->next_probe_ms, now));	/* probes are read in uplink_tick() */
	return next > now ? (long)(next - now) : 0;
}

void uplink_tick(struct uplink *u, uint64_t now)
{
	if (probes_tick(u, now))
		return;
	switch (u->state) {
	case UPLINK_REFUSED:
		if (now >= u->retry_ms) {
			info("retrying with a new connection to %s", u->ep[u->ep_cur]);
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
		if (u->n_ep > 1 && now - u->attempt_ms >= MULTI_DWELL_MS) {
			move_on(u, now, "unreachable");
			return;
		}
		/* a wedged connection (e.g. half-open TCP) gets a fresh socket */
		if (now - u->last_rx_ms > 10 * HELLO_IVL_MS) {
			sock_close(u);
			if (sock_open_or_wait(u, now))
				return;
			u->last_rx_ms = now;
		}
		return;
	case UPLINK_UP:
		if (u->n_ep > 1 && now - u->last_rx_ms > dead_ms(u)) {
			move_on(u, now, "stopped answering");
			return;
		}
		if (now - u->last_rx_ms > dead_ms(u)) {
			go_hello(u, now, "3 keepalives missed");
			sock_close(u);
			sock_open_or_wait(u, now);
			return;
		}
		if (now >= u->next_ka_ms) {
			Vmfabric__Keepalive k = VMFABRIC__KEEPALIVE__INIT;
			Vmfabric__Envelope env = VMFABRIC__ENVELOPE__INIT;

			k.seq = ++u->ka_seq;
			env.msg_case = VMFABRIC__ENVELOPE__MSG_KEEPALIVE;
			env.keepalive = &k;
			send_env(u, &env);
			u->next_ka_ms = now + ka_ivl(u);
		}
		return;
	}
}

void uplink_monitor(struct uplink *u)
{
	uint16_t event;
	uint32_t value;

	while (u->mon && mon_read(u->mon, &event, &value)) {
		switch (event) {
		case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
			debug("connected to %s", u->ep[u->ep_cur]);
			u->backoff_ms = 0;
			/*
			 * Hello now, unless one already went out on this connection
			 * (the handshake finished before this event was read): a
			 * second would get a second Welcome and a second port.
			 */
			if (u->state == UPLINK_HELLO && !u->hello_out)
				u->next_hello_ms = now_ms();
			break;
		case ZMQ_EVENT_DISCONNECTED:
			u->hello_out = 0;
			if (u->n_ep > 1) {
				move_on(u, now_ms(), "closed the connection");
				return;	/* the monitor is gone with the socket */
			}
			if (u->state == UPLINK_UP)
				go_hello(u, now_ms(), "connection to the switch closed");
			break;
		case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: {
			char z85[CERT_Z85_LEN + 1];
			uint64_t now = now_ms();

			if (u->n_ep > 1) {
				log_rl(&rl_up, LOG_ERR, "switch %s refused our key %s (status %u): it is not "
				       "in the switch's authorized directory", u->ep[u->ep_cur],
				       cert_z85(u->pub, z85), value);
				move_on(u, now, "refused our key");
				return;
			}
			u->backoff_ms = backoff_next(u->backoff_ms, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
			err("switch %s refused our key %s (status %u): it is not in the switch's "
			    "authorized directory; add it there and send the switch SIGHUP. Retrying in %llu s",
			    u->ep[u->ep_cur], cert_z85(u->pub, z85), value,
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
			       u->ep[u->ep_cur], event, value);
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
	switch (u->n_ep > 1 ? e->code : 0) {
	case VMF_ERR_VERSION:
	case VMF_ERR_BADNAME:
	case VMF_ERR_DENIED:
	case VMF_ERR_REVOKED:
	case VMF_ERR_DUPLICATE:
	case VMF_ERR_FULL:
	case VMF_ERR_POLICY:
	case VMF_ERR_LOOP:
	case VMF_ERR_SHUTDOWN:
		/* refused or going away: another switch may take this port */
		move_on(u, now, e->code == VMF_ERR_SHUTDOWN ? "is shutting down" : "refused this port");
		return;
	default:
		break;
	}
	if (e->code == VMF_ERR_DENIED || e->code == VMF_ERR_REVOKED) {
		/* the connection itself is no longer wanted: back off and reconnect */
		u->backoff_ms = backoff_next(u->backoff_ms, BACKOFF_MIN_MS, BACKOFF_MAX_MS);
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

int uplink_recv(struct uplink *u, struct frame **f, size_t *n, Vmfabric__FrameBatch **batch)
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
			*n = codec_batch_frames(env->batch, u->rx);
			*f = u->rx;
			u->ctr.rx_frames += *n;
			if (batch)
				*batch = env->batch;
			return 1;
		case VMFABRIC__ENVELOPE__MSG_WELCOME:
			if (u->conf.on_welcome && u->conf.on_welcome(u->conf.cb_arg, env->welcome)) {
				/* refused by our side (a loop): leave; another switch, or later */
				u->state = UPLINK_UP;
				uplink_bye(u, "loop: this switch is above its parent");
				if (u->n_ep > 1) {
					move_on(u, now, "is below this switch (a loop)");
					return 0;
				}
				u->backoff_ms = backoff_next(u->backoff_ms, 5000, BACKOFF_MAX_MS);
				u->state = UPLINK_REFUSED;
				u->retry_ms = now + u->backoff_ms;
				sock_close(u);
				return 0;
			}
			u->state = UPLINK_UP;
			u->port_id = env->welcome->port_id;
			if (env->welcome->keepalive_ms >= 100)
				u->keepalive_ms = env->welcome->keepalive_ms;
			if (env->welcome->mtu >= VMF_MTU_MIN && env->welcome->mtu <= VMF_MTU_MAX &&
			    env->welcome->mtu != u->mtu) {
				log_rl(&rl_join, LOG_INFO, "network %s has MTU %u (this port had %u): taking it",
				       u->conf.network, env->welcome->mtu, u->mtu);
				u->mtu = env->welcome->mtu;
			}
			if (u->link_up == env->welcome->link_down)
				log_rl(&rl_join, LOG_INFO, "link %s (set at the switch)",
				       env->welcome->link_down ? "down" : "up");
			u->link_up = !env->welcome->link_down;
			if (u->conf.on_state)
				u->conf.on_state(u->conf.cb_arg, u->mtu, u->link_up);
			u->next_ka_ms = now + u->keepalive_ms;
			u->ctr.sessions++;
			u->backoff_ms = 0;
			u->fails = 0;
			u->round_backoff_ms = 0;
			log_rl(&rl_join, LOG_INFO, "joined network %s on %s as port %u", u->conf.network,
			       u->ep[u->ep_cur], u->port_id);
			/* a new port on this switch: tell it (and those above) where our MACs are */
			announce(u);
			break;
		case VMFABRIC__ENVELOPE__MSG_ERROR:
			handle_error(u, env->error, now);
			break;
		case VMFABRIC__ENVELOPE__MSG_KEEPALIVE:
			break;
		case VMFABRIC__ENVELOPE__MSG_LINK:
			if (u->state != UPLINK_UP)
				break;
			if (u->link_up != (int)env->link->up)
				log_rl(&rl_join, LOG_INFO, "link %s (set at the switch)",
				       env->link->up ? "up" : "down");
			u->link_up = env->link->up;
			if (u->conf.on_state)
				u->conf.on_state(u->conf.cb_arg, u->mtu, u->link_up);
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

size_t uplink_send(struct uplink *u, const struct frame *f, size_t n)
{
	size_t bytes = 0, i;
	zmq_msg_t m;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (f[i].len >= frame_hdr_len(&f[i]) + 12)
			mac_note(u, frame_eth(&f[i]) + 6);
	if (u->state != UPLINK_UP || !u->sock) {
		u->ctr.drop_down += n;
		return 0;
	}
	for (i = 0; i < n; i++)
		bytes += f[i].len;
	if (codec_pack_batch(f, n, &m)) {
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
	int linger = BYE_LINGER_MS;

	if (u->state != UPLINK_UP || !u->sock)
		return;
	b.reason = (char *)(uintptr_t)reason;
	env.msg_case = VMFABRIC__ENVELOPE__MSG_BYE;
	env.bye = &b;
	/* the socket is closed next: give the Bye a moment to leave */
	zmq_setsockopt(u->sock, ZMQ_LINGER, &linger, sizeof(linger));
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

void uplink_ctr_text(const struct uplink *u, char *buf, size_t size)
{
	const struct uplink_ctr *c = &u->ctr;

	snprintf(buf, size, "switch tx %llu msgs %llu frames, rx %llu msgs; dropped while switch away "
		 "%llu, queue full %llu, sessions %llu, switch moves %llu, MACs announced %llu",
		 (unsigned long long)c->tx_msgs, (unsigned long long)c->tx_frames,
		 (unsigned long long)c->rx_msgs, (unsigned long long)c->drop_down,
		 (unsigned long long)c->drop_full, (unsigned long long)c->sessions,
		 (unsigned long long)c->moves, (unsigned long long)c->announces);
}
