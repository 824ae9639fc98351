/* uplink.h - the port side of the wire protocol: DEALER, CURVE, Hello, keepalives, reconnects */
#ifndef VMF_UPLINK_H
#define VMF_UPLINK_H

#include <stdint.h>
#include <zmq.h>

#include "cert.h"
#include "codec.h"
#include "evloop.h"

#define UPLINK_MAX_EP	8	/* switches a port may fail over between */
#define UPLINK_MAX_MACS	64	/* source MACs remembered for re-announcing */
#define UPLINK_ANN_LEN	60	/* a gratuitous RARP, padded to the Ethernet minimum */

struct uplink_conf {
	const char *endpoint;	/* EP[,EP...]: switches in priority order */
	const char *server_key;	/* PUBFILE[,PUBFILE...]: one for all, or one per endpoint */
	const char *key;	/* our secret certificate */
	const char *network;
	const char *name;
	long mtu;
	int insecure;
	/*
	 * A switch's uplink to its parent (a trunk): hello_fill adds the trunk's
	 * fields to each Hello, on_welcome reads the parent's place in the tree
	 * (and may refuse it: non-zero drops the session and backs off).
	 */
	void (*hello_fill)(void *arg, Vmfabric__Hello *h);
	int (*on_welcome)(void *arg, const Vmfabric__Welcome *w);
	/*
	 * A port: after every Welcome and LinkState, the network's MTU and
	 * whether the switch forwards for this port (vmfabric-ctl link).
	 */
	void (*on_state)(void *arg, uint32_t mtu, int link_up);
	void *cb_arg;
	int failback;		/* move back to a higher-priority switch (set by uplink_conf_failback) */
	long failback_hold_ms;	/* ... once it has been reachable this long */
};

enum uplink_state {
	UPLINK_HELLO,		/* (re)connecting: Hello sent every second until Welcome */
	UPLINK_UP,		/* welcomed: frames flow */
	UPLINK_REFUSED,		/* the switch refused our key: new socket after a backoff */
};

/*
 * The option rows of every port that joins switches through an uplink
 * (vmfabric-nic, vmfabric-gateway): --switch, --server-key, --failback,
 * --key, written into the four char * variables. For a conf_opt table.
 */
#define UPLINK_CONF_OPTS(sw, server_key, failback, key)						\
	{ "switch", 's', CONF_STR, sw, "EP[,EP...]", "switch endpoint (tcp://HOST:PORT or ipc://PATH); several: failover in priority order (at most 8)", 0, 0 }, \
	{ "server-key", 0, CONF_STR, server_key, "PUBFILE[,PUBFILE...]", "the switch's public certificate (one for all switches, or one per endpoint)", 0, 0 }, \
	{ "failback", 0, CONF_STR, failback, "on|off|SECONDS", "with several switches: move back to a higher-priority switch once it has been up this long (on: 10 s)", 0, 0 }, \
	{ "key", 'k', CONF_STR, key, "SECRETFILE", "this port's secret certificate", 0, 0 }

struct uplink_ctr {
	uint64_t tx_msgs, tx_frames, tx_bytes;
	uint64_t rx_msgs, rx_frames, rx_bytes;
	uint64_t drop_down;	/* frames dropped while the switch was away */
	uint64_t drop_full;	/* frames dropped: queue to the switch full */
	uint64_t malformed;	/* undecodable messages from the switch */
	uint64_t sessions;	/* Welcomes received */
	uint64_t moves;		/* changes of switch (failover and failback) */
	uint64_t announces;	/* gratuitous RARPs sent after a Welcome */
};

/* A connection to a higher-priority switch that only completes the CURVE handshake. */
struct uplink_probe {
	void *sock, *mon;
	uint64_t up_since;	/* handshake done at (ms); 0 while not connected */
	uint64_t retry_ms;	/* after a refused handshake: reopen at */
	uint64_t backoff_ms;
};

struct uplink {
	struct uplink_conf conf;
	void *ctx;
	void *sock;
	void *mon;
	enum uplink_state state;
	uint8_t pub[CERT_KEY_LEN];
	uint8_t *sec;		/* CERT_KEY_LEN bytes, sodium_malloc(): locked, not in core dumps */
	char *ep_list;		/* conf.endpoint, split in place into ep[] */
	char *ep[UPLINK_MAX_EP];
	uint8_t srv[UPLINK_MAX_EP][CERT_KEY_LEN];
	int n_ep, ep_cur;	/* endpoints; the one in use (0 = highest priority) */
	int fails;		/* endpoints tried in a row without a Welcome */
	uint64_t attempt_ms;	/* HELLO since (several endpoints: give up after a while) */
	uint64_t round_backoff_ms, next_probe_ms;
	struct uplink_probe probe[UPLINK_MAX_EP];
	uint8_t macs[UPLINK_MAX_MACS][6];	/* source MACs this port sent */
	unsigned int n_macs, mac_next, mac_last;
	uint8_t ann[UPLINK_MAX_MACS][UPLINK_ANN_LEN];
	uint32_t port_id;
	uint32_t mtu;
	int link_up;		/* the switch's word (Welcome.link_down, LinkState); 1 until told */
	int hello_out;		/* a Hello was accepted for sending on the current connection */
	uint32_t keepalive_ms;
	uint64_t last_rx_ms, next_hello_ms, next_ka_ms, retry_ms, backoff_ms;
	uint64_t ka_seq;
	struct codec_arena arena;
	zmq_msg_t cur;		/* the message the last batch's frames point into */
	struct frame rx[VMF_MAX_BATCH_FRAMES];	/* the last batch, as uplink_recv() gives it */
	int have_cur;
	struct uplink_ctr ctr;
	/* the loop that polls the socket and its monitor (uplink_attach), or NULL */
	struct ev_loop *loop;
	int h_data, h_mon;
	int (*on_readable)(void *arg);
	void *rd_arg;
};

/**
 * uplink_conf_check() - the checks every port program makes at start-up: an
 * endpoint, valid names, keys unless --insecure (which gets its warning).
 * Exits 64 with the reason when something is missing.
 */
void uplink_conf_check(const struct uplink_conf *c);

/**
 * uplink_conf_failback() - set @c's failback from --failback on|off|SECONDS
 * (NULL: on, 10 s hold-down). Exits 64 on anything else.
 */
void uplink_conf_failback(struct uplink_conf *c, const char *arg);

/**
 * uplink_split() - split @list in place at commas into at most @max entries
 * Return: the number of entries, or -EINVAL if there are more than @max or one is empty
 */
int uplink_split(char *list, char **out, int max);

/**
 * uplink_init() - load keys and create the socket; nothing is sent yet
 * Return: 0, or -errno with the reason logged (names the key file and the fix)
 */
int uplink_init(struct uplink *u, const struct uplink_conf *c, void *ctx);
void uplink_free(struct uplink *u);

/**
 * uplink_attach() - let @l poll the uplink: its data socket (@on_readable
 * is called when the switch sent something; it takes at most
 * UPLINK_RECV_BUDGET batches with uplink_recv() and returns non-zero if it
 * stopped at the budget, to be called again without sleeping), its monitor,
 * and a hook for uplink_tick() and its timeout. The uplink re-registers its
 * sockets itself when it replaces them (failover, failback, refusals).
 * Return: 0 or -errno
 */
int uplink_attach(struct uplink *u, struct ev_loop *l, int (*on_readable)(void *arg), void *arg);

/** uplink_timeout() - ms until uplink_tick() has work */
long uplink_timeout(struct uplink *u, uint64_t now);

/** uplink_tick() - Hello resends, keepalives, liveness, refusal backoff, failover and failback */
void uplink_tick(struct uplink *u, uint64_t now);

/** uplink_monitor() - handle socket monitor events (uplink_attach() calls it when readable) */
void uplink_monitor(struct uplink *u);

/**
 * uplink_recv() - next frame batch from the switch; control messages are
 * handled inside. Return: 1 with *@f and *@n set (valid until the next
 * call), 0 when nothing more is ready. The frames point into the received
 * message (no copy), which is released by the next call; a trunk's carry
 * their network's index into *@batch's nets (@batch may be NULL). Counts
 * rx_msgs and rx_frames.
 */
int uplink_recv(struct uplink *u, struct frame **f, size_t *n, Vmfabric__FrameBatch **batch);

/*
 * Batches a caller takes from uplink_recv() per wake-up. A switch that sends
 * faster than the caller can pass frames on must not starve keepalives and
 * the other direction: the caller stops after this many, does its other
 * work, and comes back without waiting in poll().
 */
#define UPLINK_RECV_BUDGET	64

/**
 * uplink_send() - send @n frames (at most VMF_MAX_BATCH_FRAMES) as one
 * message; dropped and counted if the switch is away or its queue is full.
 * Return: frames sent
 */
size_t uplink_send(struct uplink *u, const struct frame *f, size_t n);

/**
 * uplink_send_msg() - send a packed envelope carrying @n frames (consumed);
 * Return: 0, -ENOTCONN while the switch is away, -EAGAIN when its queue is full
 */
int uplink_send_msg(struct uplink *u, zmq_msg_t *m, size_t n);

/**
 * uplink_rarp_frame() - the 60-byte gratuitous RARP that announces @mac (what
 * QEMU's announce-self sends): broadcast, ethertype 0x8035, sender and target @mac
 */
void uplink_rarp_frame(uint8_t f[60], const uint8_t mac[6]);

/** uplink_bye() - tell the switch we are leaving */
void uplink_bye(struct uplink *u, const char *reason);

/**
 * uplink_ctr_text() - the uplink's counters for a daemon's "counters:" log
 * line ("switch tx N msgs N frames, rx N msgs; dropped while switch away N, ...")
 */
void uplink_ctr_text(const struct uplink *u, char *buf, size_t size);

#endif /* VMF_UPLINK_H */
