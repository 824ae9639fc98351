/* uplink.h - the port side of the wire protocol: DEALER, CURVE, Hello, keepalives, reconnects */
#ifndef VMF_UPLINK_H
#define VMF_UPLINK_H

#include <stdint.h>
#include <zmq.h>

#include "cert.h"
#include "codec.h"

struct uplink_conf {
	const char *endpoint;
	const char *server_key;	/* public certificate of the switch */
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
	void *cb_arg;
};

enum uplink_state {
	UPLINK_HELLO,		/* (re)connecting: Hello sent every second until Welcome */
	UPLINK_UP,		/* welcomed: frames flow */
	UPLINK_REFUSED,		/* the switch refused our key: new socket after a backoff */
};

struct uplink_ctr {
	uint64_t tx_msgs, tx_frames, tx_bytes;
	uint64_t rx_msgs, rx_frames, rx_bytes;
	uint64_t drop_down;	/* frames dropped while the switch was away */
	uint64_t drop_full;	/* frames dropped: queue to the switch full */
	uint64_t malformed;	/* undecodable messages from the switch */
	uint64_t sessions;	/* Welcomes received */
};

struct uplink {
	struct uplink_conf conf;
	void *ctx;
	void *sock;
	void *mon;
	char mon_ep[64];
	enum uplink_state state;
	uint8_t pub[CERT_KEY_LEN], srv[CERT_KEY_LEN];
	uint8_t *sec;		/* CERT_KEY_LEN bytes, sodium_malloc(): locked, not in core dumps */
	uint32_t port_id;
	uint32_t mtu;
	uint32_t keepalive_ms;
	uint64_t last_rx_ms, next_hello_ms, next_ka_ms, retry_ms, backoff_ms;
	uint64_t ka_seq;
	struct codec_arena arena;
	zmq_msg_t cur;		/* the message the last batch's frames point into */
	int have_cur;
	struct uplink_ctr ctr;
};

/**
 * uplink_conf_check() - the checks every port program makes at start-up: an
 * endpoint, valid names, keys unless --insecure (which gets its warning).
 * Exits 64 with the reason when something is missing.
 */
void uplink_conf_check(const struct uplink_conf *c);

/**
 * uplink_init() - load keys and create the socket; nothing is sent yet
 * Return: 0, or -errno with the reason logged (names the key file and the fix)
 */
int uplink_init(struct uplink *u, const struct uplink_conf *c, void *ctx);
void uplink_free(struct uplink *u);

/** uplink_pollitems() - fill 2 items: data socket, monitor socket */
void uplink_pollitems(struct uplink *u, zmq_pollitem_t *items);

/** uplink_timeout() - ms until uplink_tick() has work */
long uplink_timeout(struct uplink *u, uint64_t now);

/** uplink_tick() - Hello resends, keepalives, liveness, refusal backoff */
void uplink_tick(struct uplink *u, uint64_t now);

/** uplink_monitor() - handle socket monitor events (call when its item is readable) */
void uplink_monitor(struct uplink *u);

/**
 * uplink_recv() - next frame batch from the switch; control messages are
 * handled inside. Return: 1 with @batch set (valid until the next call),
 * 0 when nothing more is ready. The frames point into the received message
 * (no copy), which is released by the next call.
 */
int uplink_recv(struct uplink *u, Vmfabric__FrameBatch **batch);

/*
 * Batches a caller takes from uplink_recv() per wake-up. A switch that sends
 * faster than the caller can pass frames on must not starve keepalives and
 * the other direction: the caller stops after this many, does its other
 * work, and comes back without waiting in poll().
 */
#define UPLINK_RECV_BUDGET	64

/**
 * uplink_send() - send @n frames as one message; dropped and counted if the
 * switch is away or its queue is full. Return: frames sent
 */
size_t uplink_send(struct uplink *u, ProtobufCBinaryData *frames, size_t n);

/** uplink_send_vnet() - the same; @vnet lists (ascending) the frames with a virtio-net header */
size_t uplink_send_vnet(struct uplink *u, ProtobufCBinaryData *frames, size_t n, uint32_t *vnet,
			size_t n_vnet);

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

#endif /* VMF_UPLINK_H */
