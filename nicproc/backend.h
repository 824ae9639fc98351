/* backend.h - the guest side of a NIC process: QEMU stream/dgram sockets, passed fds, TAP */
#ifndef VMF_BACKEND_H
#define VMF_BACKEND_H

#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "codec.h"
#include "frame.h"
#include "stream.h"

struct vhost_user;

enum be_kind {
	BE_STREAM_CONNECT,	/* --stream: we connect to QEMU (server=on / socket,listen) */
	BE_STREAM_LISTEN,	/* --stream-listen: QEMU connects to us (server=off / socket,connect) */
	BE_STREAM_FD,		/* --fd N, SOCK_STREAM */
	BE_DGRAM,		/* --dgram LOCAL,REMOTE */
	BE_DGRAM_FD,		/* --fd N, SOCK_DGRAM or SOCK_SEQPACKET */
	BE_TAP,			/* --tap IFNAME [--netns NAME] */
	BE_VHOST,		/* --vhost-user PATH (vhost_user.c) */
};

struct be_ctr {
	uint64_t rx_frames, rx_bytes, tx_frames, tx_bytes;
	uint64_t rx_runt, rx_giant;	/* dropped on the way in */
	uint64_t tx_drop;		/* guest side not there or full */
	uint64_t framing_errors;	/* stream connections dropped for a bad length */
	uint64_t connects;
	uint64_t refused;		/* --stream-listen: connections refused while one was live */
	uint64_t foreign;		/* --dgram: datagrams from an address other than REMOTE, dropped */
};

#define BE_BATCH	256

/**
 * struct backend - one guest-facing endpoint
 * @fd:		data fd, -1 while not connected
 * @lfd:	listening fd (BE_STREAM_LISTEN), else -1
 * @slots:	frame buffers for datagram and TAP reads, BE_BATCH of @slot_size
 */
struct backend {
	enum be_kind kind;
	int fd;
	int lfd;
	int txfd;		/* where frames to the guest go: fd, or (BE_DGRAM) a socket connected to QEMU's path */
	struct vmf_addr local, remote;
	char ifname[16];
	char netns[64];
	size_t max_frame;	/* the larger of --mtu and the network's MTU, + 18 */
	size_t max_frame_cap;	/* what the buffers take: MAX(--mtu, VMF_MTU_JUMBO) + 18 */
	long conf_mtu;		/* --mtu */
	uint32_t net_mtu;	/* the network's MTU, from the Welcome (0: not yet) */
	int tap_ifsock;		/* TAP: an AF_INET socket in the TAP's namespace (MTU helper), or -1 */
	int tap_fixed_mtu;	/* TAP: --bridge / --ovs-bridge decide its MTU */
	int mtu_fd;		/* TAP: our end of the MTU helper (tap_helper_start), or -1 */
	int carrier;		/* TAP: carrier as last set (1 at start) */
	struct stream_rx rx;
	struct stream_tx tx;
	uint8_t *slots;
	size_t slot_size;
	size_t n_slots;
	int vnet;		/* frames to and from the guest side carry a virtio-net header */
	uint64_t retry_ms;
	uint64_t backoff_ms;
	uint64_t last_try_ms;
	int replace;		/* --stream-replace: a new connection takes over from a live one */
	int more;		/* the last read stopped at a full batch: frames may be buffered */
	struct be_ctr ctr;
	struct vhost_user *vh;	/* BE_VHOST */
	/* the current batch, filled by backend_read(): FRAME_VNET on all when @vnet */
	struct frame frames[BE_BATCH];
	size_t n;
	size_t n_bytes;
};

struct backend_conf {
	const char *stream, *stream_listen, *dgram, *tap, *netns;
	long fd;	/* -1 if not given */
	long mtu;
	int offload;	/* --tap: IFF_VNET_HDR with TSO/checksum offloads */
	const char *bridge;	/* --tap: make the TAP a port of this Linux bridge */
	const char *ovs_bridge;	/* --tap: add the TAP to this Open vSwitch bridge */
	int stream_replace;	/* --stream-listen: a new connection replaces a live one */
	const char *vhost_user;	/* --vhost-user PATH */
};

/** backend_open() - open what the configuration names; start-up errors are fatal and explained */
int backend_open(struct backend *be, const struct backend_conf *c, const char **why, char *buf, size_t len);
void backend_close(struct backend *be);

/** backend_describe() - short text for logs ("tap tap0", "stream unix:/x") */
const char *backend_describe(const struct backend *be, char *buf, size_t len);

/**
 * backend_fds() - fd to poll for input (-1 if none), listen fd, and the fd to
 * poll for output (-1 unless frames are queued for the guest)
 */
void backend_fds(const struct backend *be, int *data_fd, int *listen_fd, int *out_fd);

/**
 * backend_read() - read every frame ready (up to BE_BATCH or the buffer) into
 * be->frames/n. Return: frames, 0 if nothing, -errno when the connection
 * ended (-ECONNRESET closed, -EPROTO framing lost, or the read's error); the
 * backend then reconnects by itself
 */
int backend_read(struct backend *be);

/**
 * backend_pending() - the last backend_read() stopped at a full batch, so
 * frames may wait in a user-space buffer that poll() cannot see: call
 * backend_read() again before waiting in poll()
 */
int backend_pending(const struct backend *be);

/** backend_read_done() - the batch has been sent; its buffers may be reused */
void backend_read_done(struct backend *be);

/** backend_write() - hand @n plain (unflagged) frames to the guest side */
void backend_write(struct backend *be, const struct frame *f, size_t n);

/**
 * backend_write_vnet() - hand @n frames to a guest side with offloads (be->vnet):
 * FRAME_VNET frames already start with a virtio-net header, the others get
 * an empty one
 */
void backend_write_vnet(struct backend *be, const struct frame *f, size_t n);

/** backend_writable() - the data fd can take more: flush queued bytes */
void backend_writable(struct backend *be);

/**
 * backend_accept() - a connection is waiting on the listening socket: take it
 * if no peer is connected (or be->replace), else refuse (close) and count it
 */
void backend_accept(struct backend *be);

/**
 * backend_ctl_fds() - further fds to poll for input (BE_VHOST: the
 * vhost-user connection); Return: how many were put in @fds (at most @max)
 */
int backend_ctl_fds(const struct backend *be, int *fds, int max);

/** backend_ctl() - @fd from backend_ctl_fds() is readable (or hung up) */
void backend_ctl(struct backend *be, int fd);

/**
 * backend_priv_start() - what must keep a privilege after the NIC process
 * drops its capabilities (before it does, after it has detached): a TAP's
 * MTU helper. Return: 0 or -errno with *@why set
 */
int backend_priv_start(struct backend *be, const char **why);

/**
 * backend_set_state() - the switch told the network's MTU and the link
 * state (Welcome, LinkState): frames up to the larger of --mtu and @mtu
 * (+ 18) are taken from the guest side (at most max_frame_cap); a TAP
 * takes @mtu as its MTU (through the helper; not with --bridge/--ovs-bridge)
 * and @link_up as its carrier (TUNSETCARRIER). Other backends have no
 * carrier to show: the switch drops their frames while the link is down.
 */
void backend_set_state(struct backend *be, uint32_t mtu, int link_up);

/** backend_timeout() / backend_tick() - reconnect timing (stream connect, dgram send socket) */
long backend_timeout(const struct backend *be, uint64_t now);
void backend_tick(struct backend *be, uint64_t now);

/**
 * tap_open() - create or attach TAP @c->tap (in netns @c->netns if not NULL), set it
 * up with @c->mtu, and make it a port of @c->bridge or @c->ovs_bridge if given
 * @offload:	in: ask for IFF_VNET_HDR with TSO/checksum offloads; out: whether they are on
 * Return: the TAP's fd, or -errno with @why set
 */
int tap_open(const struct backend_conf *c, int *offload, int *ifsock, const char **why);

/**
 * tap_helper_start() - fork the TAP MTU helper: a child that keeps only
 * CAP_NET_ADMIN and sets the MTU of TAP @ifname (through @ifsock, a socket
 * in its namespace) when asked, nothing else. Return: our end, or -errno
 */
int tap_helper_start(const char *ifname, int ifsock);

/** tap_helper_mtu() - ask helper @fd to set the TAP's MTU. Return: 0 or -errno */
int tap_helper_mtu(int fd, uint32_t mtu);

/** tap_carrier() - TAP @fd's carrier on or off (TUNSETCARRIER; no privilege needed) */
int tap_carrier(int fd, int on);

#endif /* VMF_BACKEND_H */
