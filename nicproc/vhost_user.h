/* vhost_user.h - vmfabric-nic as a vhost-user net back-end: the guest's virtqueues in shared memory */
#ifndef VMF_VHOST_USER_H
#define VMF_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "offload.h"
#include "virtq.h"

/* vhost-user requests (docs/interop/vhost-user.rst) */
enum vhost_user_req {
	VHOST_USER_GET_FEATURES = 1,
	VHOST_USER_SET_FEATURES = 2,
	VHOST_USER_SET_OWNER = 3,
	VHOST_USER_RESET_OWNER = 4,
	VHOST_USER_SET_MEM_TABLE = 5,
	VHOST_USER_SET_LOG_BASE = 6,
	VHOST_USER_SET_LOG_FD = 7,
	VHOST_USER_SET_VRING_NUM = 8,
	VHOST_USER_SET_VRING_ADDR = 9,
	VHOST_USER_SET_VRING_BASE = 10,
	VHOST_USER_GET_VRING_BASE = 11,
	VHOST_USER_SET_VRING_KICK = 12,
	VHOST_USER_SET_VRING_CALL = 13,
	VHOST_USER_SET_VRING_ERR = 14,
	VHOST_USER_GET_PROTOCOL_FEATURES = 15,
	VHOST_USER_SET_PROTOCOL_FEATURES = 16,
	VHOST_USER_GET_QUEUE_NUM = 17,
	VHOST_USER_SET_VRING_ENABLE = 18,
};

#define VHOST_USER_HDR_LEN	12
#define VHOST_USER_MAX_PAYLOAD	4096
#define VHOST_USER_MAX_FDS	8
#define VHOST_USER_VERSION	1
#define VHOST_USER_FLAG_REPLY	(1u << 2)
#define VHOST_USER_FLAG_NEED_REPLY (1u << 3)

/* feature bits */
#define VIRTIO_NET_F_CSUM		0
#define VIRTIO_NET_F_GUEST_CSUM		1
#define VIRTIO_NET_F_GUEST_TSO4		7
#define VIRTIO_NET_F_GUEST_TSO6		8
#define VIRTIO_NET_F_GUEST_ECN		9
#define VIRTIO_NET_F_HOST_TSO4		11
#define VIRTIO_NET_F_HOST_TSO6		12
#define VIRTIO_NET_F_HOST_ECN		13
#define VIRTIO_NET_F_MRG_RXBUF		15
#define VIRTIO_RING_F_INDIRECT_DESC	28
#define VIRTIO_RING_F_EVENT_IDX		29
#define VHOST_USER_F_PROTOCOL_FEATURES	30
#define VIRTIO_F_VERSION_1		32
#define VHOST_USER_PROTOCOL_F_REPLY_ACK	3

#define VHOST_RXQ	0	/* the guest receives on queue 0, sends on queue 1 */
#define VHOST_TXQ	1

struct vhost_ctr {
	uint64_t connects;
	uint64_t refused;	/* a second connection while one is active */
	uint64_t proto_errors;	/* connections dropped for a malformed message */
	uint64_t no_buffers;	/* frames for the guest dropped: receive ring empty or too small */
	uint64_t runt, giant;	/* frames from the guest dropped for their length */
	uint64_t gso_from_guest;	/* super-frames the guest sent (host TSO) */
	uint64_t gso_to_guest;		/* super-frames the guest received whole (guest TSO) */
	uint64_t last_features;		/* the last front-end's acked features, for the log */
};

/**
 * struct vhost_vring - one queue and its notifications
 * @kick:	eventfd the guest kicks, -1 if none (ring stopped)
 * @call:	eventfd we signal for an interrupt, -1 if none
 * @err:	error eventfd (kept, unused)
 * @enabled:	SET_VRING_ENABLE state
 */
struct vhost_vring {
	struct vq q;
	int kick, call, err;
	int enabled;
};

/**
 * struct vhost_user - the back-end: listening socket, one front-end connection, its device state
 * @features:	acked virtio/vhost features (SET_FEATURES)
 * @hdr_len:	virtio-net header length the guest uses (12, or 10 for a legacy driver)
 * @txbuf:	frames copied out of the guest's transmit ring (one batch)
 * @oo:		frames the guest cannot take whole, made plain
 */
struct vhost_user {
	int lfd, fd;
	char path[108];
	size_t max_frame;
	/* the message being read */
	uint8_t msg[VHOST_USER_HDR_LEN + VHOST_USER_MAX_PAYLOAD];
	size_t got;
	int fds[VHOST_USER_MAX_FDS];
	unsigned int n_fds;
	/* device state */
	uint64_t features, protocol_features;
	int features_set;
	size_t hdr_len;
	struct vq_mem mem;
	struct vhost_vring vr[2];
	struct vq_chain chain;
	uint8_t *txbuf;
	size_t txbuf_size;
	struct offload_out oo;
	struct vhost_ctr ctr;
};

/** vhost_user_init() - state without sockets (also what the fuzz harness uses); Return: 0 or -ENOMEM */
int vhost_user_init(struct vhost_user *vu, size_t max_frame);

/**
 * vhost_user_listen() - create the listening unix socket @path (mode 0600, a
 * stale socket file is replaced). Return: 0 or -errno
 */
int vhost_user_listen(struct vhost_user *vu, const char *path);

/** vhost_user_free() - close everything, unmap guest memory, remove the socket file; NULL is fine */
void vhost_user_free(struct vhost_user *vu);

/** vhost_user_accept() - a front-end connects: taken if none is connected, else refused */
void vhost_user_accept(struct vhost_user *vu);

/** vhost_user_readable() - the connection has messages: handle them; a bad one drops the connection */
void vhost_user_readable(struct vhost_user *vu);

/** vhost_user_disconnect() - forget the front-end and its device state: back to waiting */
void vhost_user_disconnect(struct vhost_user *vu, const char *why);

/**
 * vhost_user_handle() - one message: the protocol state machine, without the socket
 * @fds:	fds that came with it; all are consumed (kept or closed)
 * @reply:	out: reply message (header included) of *@reply_len bytes, or 0
 * Return: 0, or -EPROTO / -EINVAL for a message that must end the connection
 */
int vhost_user_handle(struct vhost_user *vu, const uint8_t *msg, size_t len, int *fds,
		      unsigned int n_fds, uint8_t *reply, size_t *reply_len);

/** vhost_user_kick_fd() - the transmit ring's kick eventfd when the ring runs, else -1 */
int vhost_user_kick_fd(const struct vhost_user *vu);

/**
 * vhost_user_from_guest() - take up to @max frames the guest sent, each with
 * a 12-byte virtio-net header (FRAME_VNET), copied into vu->txbuf (valid until the next
 * call), at most VMF_MAX_BATCH_BYTES. Return: frames
 */
size_t vhost_user_from_guest(struct vhost_user *vu, struct frame *frames, size_t max);

/**
 * vhost_user_to_guest() - put @n frames into the guest's receive ring:
 * FRAME_VNET frames start with a virtio-net header; a frame whose
 * offloads the guest did not negotiate is made plain first.
 * Return: frames delivered (the others are dropped and counted)
 */
size_t vhost_user_to_guest(struct vhost_user *vu, const struct frame *frames, size_t n);

/** vhost_user_log_counters() - one log line: connections, drops, features */
void vhost_user_log_counters(const struct vhost_user *vu);

/** vhost_user_offered() - the feature bits this back-end offers */
uint64_t vhost_user_offered(void);

#endif /* VMF_VHOST_USER_H */
