/* backend.c - the guest side of a NIC process: QEMU stream/dgram sockets, passed fds, TAP */

/*
 * DOC: Theory of operation
 *
 * Stream (QEMU -netdev stream / socket, unix or TCP):
 *   connect mode - QEMU listens (stream,server=on / socket,listen=). We
 *     connect, and when the connection ends (QEMU restarted, or not started
 *     yet) we try again every 200 ms doubling to 2 s. QEMU re-arms its accept,
 *     so either side may restart.
 *   listen mode - QEMU connects (stream,server=off / socket,connect=). QEMU
 *     7.2 never reconnects, so a restarted NIC process needs a restarted QEMU
 *     in this mode; prefer connect mode or dgram. The connected peer keeps
 *     the port: a second connection while it is live (no hang-up pending) is
 *     accepted only to be closed, logged and counted (refused), because
 *     anyone who reaches the listener could otherwise cut QEMU off and send
 *     under this port's key and name. With --stream-replace a new connection
 *     replaces the current one instead. Nothing tells QEMU from another
 *     client while no peer is connected: keep the listener on a unix path
 *     or loopback (a wider address is warned about at start).
 *   A bad length prefix drops the connection (framing is lost).
 * Datagram (-netdev dgram with unix paths, or a SOCK_DGRAM fd): one frame per
 *   datagram, stateless; either side may restart. Frames are received on the
 *   socket bound to LOCAL and sent from a second socket connected to QEMU's
 *   path, so that poll() tells when QEMU's receive queue (10 datagrams by
 *   default) has room: a burst waits in a queue instead of being dropped.
 *   When QEMU is not there (or restarted: the connection points at its old
 *   socket) the send socket is reopened: at once when QEMU sends a frame, at
 *   most every 20 ms when a frame for QEMU arrives, else 200 ms doubling to
 *   2 s; frames that find no QEMU are dropped and counted. The receive socket stays unconnected,
 *   because a connected unix socket refuses datagrams from a new QEMU; so
 *   every datagram's sender is checked instead: only REMOTE (the address QEMU
 *   is bound to) may send, anything else is dropped and counted (foreign).
 *   A udp: LOCAL beyond loopback is warned about at start: UDP sources can
 *   be forged.
 * TAP: IFF_TAP | IFF_NO_PI, one frame per read()/write().
 * vhost-user: QEMU connects to our socket and shares the guest's rings and
 *   RAM; protocol and rings live in vhost_user.c and virtq.c. Frames carry
 *   a virtio-net header both ways, as with a TAP with offloads.
 *
 * Reads take everything the fd has ready, up to BE_BATCH frames, and hand
 * it over as one batch (be->frames, struct frame: FRAME_VNET on every frame
 * when the guest side has offloads, which the uplink sends as it is);
 * nothing waits for a batch to fill. A stream read
 * that stops at a full batch may leave complete frames in its buffer, where
 * poll() cannot see them: backend_pending() tells the loop to read again
 * before it waits (else they would wait for the guest's next bytes). Frames
 * outside 14 .. max_frame bytes are dropped and counted here, before they
 * cost a trip to the switch.
 *
 * MTU and link state (backend_set_state(), after every Welcome and
 * LinkState): max_frame is the larger of --mtu and the network's MTU, + 18,
 * within the buffers' bound (sized at start for MAX(--mtu, 9216)); a TAP
 * takes the network's MTU (tap.c's helper) and the link state as carrier.
 * The other back ends have no carrier: their frames are dropped at the
 * switch while the link is down.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "codec.h"
#include "log.h"
#include "util.h"
#include "vhost_user.h"

#define RX_BUF		(1024 * 1024)
#define TX_BUF		(1024 * 1024)
#define RETRY_MIN_MS	200
#define RETRY_MAX_MS	2000

static struct ratelimit rl_be = RATELIMIT_INIT;

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) ? -errno : 0;
}

static void tune_stream(struct backend *be, int fd)
{
	int one = 1, buf = 1024 * 1024;

	if (be->remote.family == AF_INET || be->remote.family == AF_INET6 ||
	    be->local.family == AF_INET || be->local.family == AF_INET6)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
}

const char *backend_describe(const struct backend *be, char *buf, size_t len)
{
	switch (be->kind) {
	case BE_STREAM_CONNECT:
		snprintf(buf, len, "stream %s", be->remote.text);
		break;
	case BE_STREAM_LISTEN:
		snprintf(buf, len, "stream-listen %s", be->local.text);
		break;
	case BE_STREAM_FD:
		snprintf(buf, len, "stream fd");
		break;
	case BE_DGRAM:
		snprintf(buf, len, "dgram %s,%s", be->local.text, be->remote.text);
		break;
	case BE_DGRAM_FD:
		snprintf(buf, len, "dgram fd");
		break;
	case BE_TAP:
		snprintf(buf, len, "tap %s%s%s", be->ifname, *be->netns ? " netns " : "", be->netns);
		break;
	case BE_VHOST:
		snprintf(buf, len, "vhost-user %s", be->vh ? be->vh->path : "");
		break;
	}
	return buf;
}

/* Only this host can reach @a: a unix path, or an IPv4/IPv6 loopback address. */
static int addr_local_only(const struct vmf_addr *a)
{
	const struct sockaddr_in *v4 = (const void *)&a->ss;
	const struct sockaddr_in6 *v6 = (const void *)&a->ss;

	if (a->family == AF_INET)
		return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
	if (a->family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr) ||
		       (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr) && v6->sin6_addr.s6_addr[12] == 127);
	return 1;
}

/* Connection lost or refused: close, and (connect mode) retry after a backoff. */
static void stream_down(struct backend *be, const char *why)
{
	char d[300];

	if (be->fd >= 0) {
		log_rl(&rl_be, LOG_WARNING, "%s: %s", backend_describe(be, d, sizeof(d)), why);
		close(be->fd);
		be->fd = -1;
	}
	stream_rx_reset(&be->rx);
	be->tx.start = be->tx.end = 0;
	be->more = 0;
	if (be->kind == BE_STREAM_CONNECT) {
		be->backoff_ms = be->backoff_ms ? MIN(2 * be->backoff_ms, RETRY_MAX_MS) : RETRY_MIN_MS;
		be->retry_ms = now_ms() + be->backoff_ms;
	}
}

static void stream_connect(struct backend *be)
{
	char d[300];
	int fd = socket(be->remote.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	tune_stream(be, fd);
	/* unix connects complete at once; TCP to a local QEMU nearly so */
	if (connect(fd, (struct sockaddr *)&be->remote.ss, be->remote.len) && errno != EINPROGRESS) {
		debug("%s: connect: %s", backend_describe(be, d, sizeof(d)), strerror(errno));
		close(fd);
		be->backoff_ms = be->backoff_ms ? MIN(2 * be->backoff_ms, RETRY_MAX_MS) : RETRY_MIN_MS;
		be->retry_ms = now_ms() + be->backoff_ms;
		return;
	}
	be->fd = fd;
	be->backoff_ms = 0;
	be->ctr.connects++;
	info("%s: connected", backend_describe(be, d, sizeof(d)));
}

/* (Re)open the socket that sends to QEMU; on failure retry later. */
static void dgram_connect(struct backend *be)
{
	int fd = socket(be->remote.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int sz = 4 * 1024 * 1024;
	char d[300];

	be->last_try_ms = now_ms();
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (connect(fd, (struct sockaddr *)&be->remote.ss, be->remote.len)) {
		debug("%s: connect: %s", backend_describe(be, d, sizeof(d)), strerror(errno));
		close(fd);
		be->backoff_ms = be->backoff_ms ? MIN(2 * be->backoff_ms, RETRY_MAX_MS) : RETRY_MIN_MS;
		be->retry_ms = now_ms() + be->backoff_ms;
		return;
	}
	if (be->backoff_ms)
		info("%s: guest side reachable", backend_describe(be, d, sizeof(d)));
	be->txfd = fd;
	be->backoff_ms = 0;
	be->ctr.connects++;
}

/* The datagram peer is gone: drop what is queued, reopen later (or end, for --fd). */
static void dgram_down(struct backend *be, int e)
{
	char d[300];

	log_rl(&rl_be, LOG_WARNING, "%s: guest side gone (%s)", backend_describe(be, d, sizeof(d)),
	       strerror(e));
	be->tx.start = be->tx.end = 0;
	if (be->kind == BE_DGRAM_FD) {
		close(be->fd);
		be->fd = be->txfd = -1;
		return;
	}
	close(be->txfd);
	be->txfd = -1;
	be->backoff_ms = RETRY_MIN_MS;
	be->retry_ms = now_ms() + be->backoff_ms;
}

static int open_dgram(struct backend *be, const char *spec, const char **why, char *buf, size_t len)
{
	const char *comma = strchr(spec, ',');
	char local[300];
	int fd;

	if (!comma || (size_t)(comma - spec) >= sizeof(local)) {
		*why = "--dgram needs LOCAL,REMOTE (e.g. unix:/run/vm1.nic,unix:/run/vm1.qemu)";
		return -EINVAL;
	}
	memcpy(local, spec, (size_t)(comma - spec));
	local[comma - spec] = '\0';
	if (addr_parse(local, SOCK_DGRAM, &be->local, why) ||
	    addr_parse(comma + 1, SOCK_DGRAM, &be->remote, why))
		return -EINVAL;
	if (be->local.family != be->remote.family && !(be->local.family != AF_UNIX && be->remote.family != AF_UNIX)) {
		*why = "--dgram LOCAL and REMOTE must both be unix: or both udp:";
		return -EINVAL;
	}
	fd = socket(be->local.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (be->local.family == AF_UNIX)
		unlink(((struct sockaddr_un *)&be->local.ss)->sun_path);
	else
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
	{
		int sz = 4 * 1024 * 1024;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (bind(fd, (struct sockaddr *)&be->local.ss, be->local.len)) {
		int rc = -errno;

		snprintf(buf, len, "cannot bind %s: %s", be->local.text, strerror(errno));
		*why = buf;
		close(fd);
		return rc;
	}
	be->fd = fd;
	if (!addr_local_only(&be->local))
		warn("--dgram LOCAL %s is reachable beyond this host: datagrams are taken only from "
		     "REMOTE %s, but a UDP source address is easy to forge", be->local.text, be->remote.text);
	dgram_connect(be);
	return 0;
}

int backend_open(struct backend *be, const struct backend_conf *c, const char **why, char *buf, size_t len)
{
	int rc;

	memset(be, 0, sizeof(*be));
	be->fd = be->lfd = be->txfd = be->tap_ifsock = be->mtu_fd = -1;
	be->carrier = 1;
	be->conf_mtu = c->mtu;
	be->max_frame = (size_t)c->mtu + VMF_ETH_OVERHEAD;
	/* the network's MTU, told later, may be larger: jumbo frames fit without a restart */
	be->max_frame_cap = (size_t)MAX(c->mtu, VMF_MTU_JUMBO) + VMF_ETH_OVERHEAD;
	be->slot_size = be->max_frame_cap + 1;	/* one spare byte detects oversize datagrams */
	be->n_slots = MIN((size_t)BE_BATCH, VMF_MAX_BATCH_BYTES / be->slot_size);
	be->slots = malloc(be->n_slots * be->slot_size);
	if (!be->slots || stream_rx_init(&be->rx, RX_BUF, VMF_MAX_FRAME) ||
	    stream_tx_init(&be->tx, TX_BUF)) {
		*why = "out of memory";
		return -ENOMEM;
	}

	if (c->vhost_user) {
		be->kind = BE_VHOST;
		be->vnet = 1;
		be->vh = malloc(sizeof(*be->vh));
		if (!be->vh || vhost_user_init(be->vh, be->max_frame)) {
			*why = "out of memory";
			return -ENOMEM;
		}
		if ((rc = vhost_user_listen(be->vh, c->vhost_user))) {
			snprintf(buf, len, "cannot listen on %s", c->vhost_user);
			*why = buf;
		}
		return rc;
	}
	if (c->stream) {
		be->kind = BE_STREAM_CONNECT;
		if (addr_parse(c->stream, SOCK_STREAM, &be->remote, why))
			return -EINVAL;
		stream_connect(be);
		return 0;
	}
	if (c->stream_listen) {
		be->kind = BE_STREAM_LISTEN;
		if (addr_parse(c->stream_listen, SOCK_STREAM, &be->local, why))
			return -EINVAL;
		be->lfd = socket(be->local.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (be->lfd < 0)
			return -errno;
		if (be->local.family == AF_UNIX)
			unlink(((struct sockaddr_un *)&be->local.ss)->sun_path);
		else
			setsockopt(be->lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int));
		if (bind(be->lfd, (struct sockaddr *)&be->local.ss, be->local.len) || listen(be->lfd, 4)) {
			rc = -errno;
			snprintf(buf, len, "cannot listen on %s: %s", be->local.text, strerror(errno));
			*why = buf;
			return rc;
		}
		be->replace = c->stream_replace;
		if (!addr_local_only(&be->local))
			warn("--stream-listen %s is reachable beyond this host: whoever connects first "
			     "gets the port while QEMU is not connected", be->local.text);
		return 0;
	}
	if (c->dgram) {
		be->kind = BE_DGRAM;
		return open_dgram(be, c->dgram, why, buf, len);
	}
	if (c->fd >= 0) {
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt((int)c->fd, SOL_SOCKET, SO_TYPE, &type, &tl)) {
			snprintf(buf, len, "--fd %ld is not a socket: %s", c->fd, strerror(errno));
			*why = buf;
			return -EBADF;
		}
		if (type != SOCK_STREAM && type != SOCK_DGRAM && type != SOCK_SEQPACKET) {
			*why = "--fd must be a SOCK_STREAM or SOCK_DGRAM socket";
			return -EINVAL;
		}
		be->kind = type == SOCK_STREAM ? BE_STREAM_FD : BE_DGRAM_FD;
		be->fd = (int)c->fd;
		if (be->kind == BE_DGRAM_FD)
			be->txfd = be->fd;
		fcntl(be->fd, F_SETFD, FD_CLOEXEC);
		if (type == SOCK_STREAM)
			tune_stream(be, be->fd);
		return set_nonblock(be->fd);
	}
	if (c->tap) {
		be->kind = BE_TAP;
		str_copy(be->ifname, c->tap, sizeof(be->ifname));
		if (c->netns)
			str_copy(be->netns, c->netns, sizeof(be->netns));
		be->vnet = c->offload;
		rc = tap_open(c, &be->vnet, &be->tap_ifsock, why);
		if (rc < 0)
			return rc;
		be->fd = rc;
		be->tap_fixed_mtu = c->bridge || c->ovs_bridge;
		if (be->vnet) {
			/* room for a 64 KiB TSO super-frame behind its header in every slot */
			free(be->slots);
			be->slot_size = VMF_VNET_HDR_LEN + 65535 + VMF_ETH_OVERHEAD + 1;
			be->n_slots = 64;
			be->slots = malloc(be->n_slots * be->slot_size);
			if (!be->slots) {
				*why = "out of memory";
				return -ENOMEM;
			}
		}
		return 0;
	}
	*why = "no backend: give one of --stream, --stream-listen, --dgram, --fd, --tap";
	return -EINVAL;
}

void backend_close(struct backend *be)
{
	if (!be)
		return;
	if (be->fd >= 0)
		close(be->fd);
	if (be->lfd >= 0)
		close(be->lfd);
	if (be->kind == BE_DGRAM && be->txfd >= 0)
		close(be->txfd);
	if (be->tap_ifsock >= 0)
		close(be->tap_ifsock);
	if (be->mtu_fd >= 0)
		close(be->mtu_fd);	/* the helper ends when it reads EOF */
	be->tap_ifsock = be->mtu_fd = -1;
	if (be->kind == BE_STREAM_LISTEN && be->local.family == AF_UNIX)
		unlink(((struct sockaddr_un *)&be->local.ss)->sun_path);
	if (be->kind == BE_DGRAM && be->local.family == AF_UNIX)
		unlink(((struct sockaddr_un *)&be->local.ss)->sun_path);
	be->fd = be->lfd = be->txfd = -1;
	vhost_user_free(be->vh);
	free(be->vh);
	be->vh = NULL;
	stream_rx_free(&be->rx);
	stream_tx_free(&be->tx);
	free(be->slots);
	be->slots = NULL;
}

int backend_priv_start(struct backend *be, const char **why)
{
	int fd;

	if (be->kind != BE_TAP || be->tap_ifsock < 0)
		return 0;
	fd = tap_helper_start(be->ifname, be->tap_ifsock);
	if (fd < 0) {
		*why = "cannot start the TAP MTU helper";
		return fd;
	}
	/* only the helper needs the socket */
	close(be->tap_ifsock);
	be->tap_ifsock = -1;
	be->mtu_fd = fd;
	return 0;
}

void backend_set_state(struct backend *be, uint32_t mtu, int link_up)
{
	size_t want = (size_t)MAX((uint32_t)be->conf_mtu, mtu) + VMF_ETH_OVERHEAD;
	int rc = 0;

	if (want > be->max_frame_cap) {
		log_rl(&rl_be, LOG_WARNING, "network MTU %u: this NIC process takes frames up to MTU %zu "
		       "(restart it with --mtu %u)", mtu, be->max_frame_cap - VMF_ETH_OVERHEAD, mtu);
		want = be->max_frame_cap;
	}
	be->max_frame = want;
	if (be->vh)
		be->vh->max_frame = want;
	if (be->kind != BE_TAP)
		return;
	if (mtu != be->net_mtu) {
		be->net_mtu = mtu;
		if (be->tap_fixed_mtu)
			info("network MTU %u: TAP %s keeps its bridge's MTU (--bridge / --ovs-bridge)",
			     mtu, be->ifname);
		else if (be->mtu_fd < 0 || (rc = tap_helper_mtu(be->mtu_fd, mtu)))
			log_rl(&rl_be, LOG_WARNING, "cannot give TAP %s the network's MTU %u: %s", be->ifname,
			       mtu, be->mtu_fd < 0 ? "no MTU helper" : strerror(-rc));
		else
			info("TAP %s: MTU %u (the network's)", be->ifname, mtu);
	}
	if (link_up != be->carrier) {
		rc = tap_carrier(be->fd, link_up);
		if (rc)
			log_rl(&rl_be, LOG_WARNING, "TAP %s: cannot set carrier %s: %s", be->ifname,
			       link_up ? "on" : "off", strerror(-rc));
		else
			info("TAP %s: carrier %s (link %s at the switch)", be->ifname, link_up ? "on" : "off",
			     link_up ? "up" : "down");
		be->carrier = rc ? be->carrier : link_up;
	}
}

static int is_stream(const struct backend *be);

void backend_fds(const struct backend *be, int *data_fd, int *listen_fd, int *out_fd)
{
	int out = is_stream(be) ? be->fd : be->txfd;

	if (be->kind == BE_VHOST) {
		*data_fd = vhost_user_kick_fd(be->vh);
		*listen_fd = be->vh->lfd;
		*out_fd = -1;
		return;
	}
	*data_fd = be->fd;
	*listen_fd = be->lfd;
	*out_fd = out >= 0 && stream_tx_pending(&be->tx) > 0 ? out : -1;
}

static int is_stream(const struct backend *be)
{
	return be->kind == BE_STREAM_CONNECT || be->kind == BE_STREAM_LISTEN ||
	       be->kind == BE_STREAM_FD;
}

static int add_frame(struct backend *be, uint8_t *f, size_t len)
{
	size_t hl = be->vnet ? VMF_VNET_HDR_LEN : 0;

	if (len < VMF_ETH_HLEN + hl) {
		be->ctr.rx_runt++;
		return 0;
	}
	/* with offloads a TSO super-frame may fill its slot; without, the MTU bounds */
	if (len > (be->vnet && f[1] ? be->slot_size - 1 : be->max_frame + hl)) {
		be->ctr.rx_giant++;
		return 0;
	}
	be->frames[be->n++] = (struct frame){ f, (uint32_t)len, be->vnet ? FRAME_VNET : 0, 0 };
	be->n_bytes += len;
	be->ctr.rx_frames++;
	be->ctr.rx_bytes += len;
	return 1;
}

/* The batch cannot take another frame of the largest size (VMF_MAX_BATCH_BYTES whatever the MTU). */
static int batch_full(const struct backend *be)
{
	return be->n == BE_BATCH || be->n_bytes + be->max_frame > VMF_MAX_BATCH_BYTES;
}

/*
 * Frames already in the buffer go first: poll() cannot see them. A full
 * batch sets be->more, so that the caller reads again before it polls.
 */
static int read_stream(struct backend *be)
{
	int drained = 0;

	for (;;) {
		const uint8_t *f;
		size_t space, len;
		ssize_t r;
		int rc = 0;

		while (!batch_full(be) && (rc = stream_rx_next(&be->rx, &f, &len)) == 1)
			add_frame(be, (uint8_t *)(uintptr_t)f, len);	/* our buffer */
		if (rc < 0) {
			be->ctr.framing_errors++;
			be->n = 0;
			stream_down(be, "bad frame length from the peer (framing lost); connection dropped");
			return -EPROTO;
		}
		if (batch_full(be)) {
			be->more = 1;
			return 0;
		}
		if (drained)
			return 0;
		/* only read when the frames so far cannot move: space at the end */
		stream_rx_space(&be->rx, &space);
		if (space < 4096 && be->n)
			return 0;	/* the tail is partial; poll() sees the rest */
		if (space < 4096)
			stream_rx_compact(&be->rx);
		r = read(be->fd, stream_rx_space(&be->rx, &space), space);
		if (r == 0 && be->n)
			return 0;	/* hand over the frames; the next read sees the end again */
		if (r == 0) {
			stream_down(be, "connection closed by the peer");
			return -ECONNRESET;
		}
		if (r < 0) {
			int e = errno;

			if (e == EAGAIN || e == EWOULDBLOCK || e == EINTR)
				return 0;
			stream_down(be, strerror(e));
			return -e;
		}
		stream_rx_commit(&be->rx, (size_t)r);
		drained = (size_t)r < space;	/* parse what came, then stop */
	}
}

/* An IP socket address as an IPv6 address (IPv4 as IPv4-mapped) and port; -1 if not IP. */
static int ip_key(const struct sockaddr_storage *sa, uint8_t addr[16], uint16_t *port)
{
	if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)sa;

		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &x->sin_addr, 4);
		*port = x->sin_port;
		return 0;
	}
	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)sa;

		memcpy(addr, &x->sin6_addr, 16);
		*port = x->sin6_port;
		return 0;
	}
	return -1;
}

/* @sa (@len bytes) is @b: the same unix path, or the same IP address and port. */
static int same_addr(const struct sockaddr_storage *sa, socklen_t len, const struct vmf_addr *b)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	uint8_t x[16], y[16];
	uint16_t px, py;

	if (b->family == AF_UNIX) {
		const struct sockaddr_un *u = (const void *)sa, *v = (const void *)&b->ss;

		if (sa->ss_family != AF_UNIX || len <= off)
			return 0;	/* an unbound sender has no name */
		if (!u->sun_path[0])	/* abstract: the length is part of the name */
			return len == b->len && !memcmp(u->sun_path, v->sun_path, len - off);
		return !strncmp(u->sun_path, v->sun_path, sizeof(u->sun_path));
	}
	return !ip_key(sa, x, &px) && !ip_key(&b->ss, y, &py) && px == py && !memcmp(x, y, 16);
}

/* Text for a datagram's sender, for the log. */
static const char *sender_text(const struct sockaddr_storage *sa, socklen_t len, char *buf, size_t n)
{
	char host[INET6_ADDRSTRLEN + 2], port[8];
	size_t off = offsetof(struct sockaddr_un, sun_path);

	if (sa->ss_family == AF_UNIX) {
		const struct sockaddr_un *u = (const void *)sa;

		if (len <= off)
			snprintf(buf, n, "an unnamed unix socket");
		else
			snprintf(buf, n, "unix:%s%.*s", u->sun_path[0] ? "" : "@",
				 (int)(len - off - !u->sun_path[0]), u->sun_path + !u->sun_path[0]);
		return buf;
	}
	if (getnameinfo((const struct sockaddr *)sa, len, host, sizeof(host), port, sizeof(port),
			NI_NUMERICHOST | NI_NUMERICSERV))
		snprintf(buf, n, "an unknown address");
	else
		snprintf(buf, n, "udp:%s%s%s:%s", sa->ss_family == AF_INET6 ? "[" : "", host,
			 sa->ss_family == AF_INET6 ? "]" : "", port);
	return buf;
}

static int read_dgram(struct backend *be)
{
	struct mmsghdr msgs[BE_BATCH];
	struct iovec iov[BE_BATCH];
	struct sockaddr_storage from[BE_BATCH];
	int i, r, check = be->kind == BE_DGRAM, ours = 0;
	char d[300], f[300];

	for (i = 0; i < (int)be->n_slots; i++) {
		iov[i] = (struct iovec){ be->slots + (size_t)i * be->slot_size, be->slot_size };
		msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
		if (check) {
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
	}
	r = recvmmsg(be->fd, msgs, (unsigned int)be->n_slots, MSG_DONTWAIT, NULL);
	if (r == 0 && be->kind == BE_DGRAM_FD) {
		/* the other end of the socketpair is closed */
		dgram_down(be, ECONNRESET);
		return 0;
	}
	if (r < 0)
		return 0;
	for (i = 0; i < r; i++) {
		/* LOCAL is an open address: only QEMU's (REMOTE) may feed the port */
		if (check && !same_addr(&from[i], msgs[i].msg_hdr.msg_namelen, &be->remote)) {
			be->ctr.foreign++;
			log_rl(&rl_be, LOG_WARNING, "%s: datagram from %s dropped: only REMOTE may send",
			       backend_describe(be, d, sizeof(d)),
			       sender_text(&from[i], msgs[i].msg_hdr.msg_namelen, f, sizeof(f)));
			continue;
		}
		ours++;
		if (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
			be->ctr.rx_giant++;
		else
			add_frame(be, iov[i].iov_base, msgs[i].msg_len);
	}
	if (ours && be->kind == BE_DGRAM && be->txfd < 0)
		dgram_connect(be);	/* QEMU is there: it just sent us something */
	return 0;
}

static int read_tap(struct backend *be)
{
	while (be->n < be->n_slots && VMF_MAX_BATCH_BYTES - be->n_bytes >= be->slot_size) {
		uint8_t *slot = be->slots + be->n * be->slot_size;
		ssize_t r = read(be->fd, slot, be->slot_size);

		if (r < 0)
			return 0;
		add_frame(be, slot, (size_t)r);
	}
	return 0;
}

int backend_read(struct backend *be)
{
	be->n = 0;
	be->n_bytes = 0;
	be->more = 0;
	if (be->kind == BE_VHOST) {
		be->n = vhost_user_from_guest(be->vh, be->frames, BE_BATCH);
		for (size_t i = 0; i < be->n; i++)
			be->ctr.rx_bytes += be->frames[i].len;
		be->ctr.rx_frames += be->n;
		return (int)be->n;
	}
	if (be->fd < 0)
		return 0;
	if (is_stream(be)) {
		int rc = read_stream(be);

		if (rc < 0)
			return rc;
	} else if (be->kind == BE_TAP) {
		read_tap(be);
	} else {
		read_dgram(be);
	}
	return (int)be->n;
}

int backend_pending(const struct backend *be)
{
	return be->more && be->fd >= 0;
}

void backend_read_done(struct backend *be)
{
	be->n = 0;
	if (is_stream(be))
		stream_rx_compact(&be->rx);
}

void backend_write(struct backend *be, const struct frame *f, size_t n)
{
	size_t i, ok = 0, bytes = 0;

	if (be->kind == BE_VHOST) {
		for (i = 0; i < n; i++) {
			size_t k = vhost_user_to_guest(be->vh, &f[i], 1);

			be->ctr.tx_frames += k;
			be->ctr.tx_bytes += k ? f[i].len : 0;
			be->ctr.tx_drop += 1 - k;
		}
		return;
	}
	if (be->fd < 0) {
		be->ctr.tx_drop += n;
		return;
	}
	if (is_stream(be)) {
		ssize_t w = stream_tx_write(&be->tx, be->fd, f, n);

		if (w < 0) {
			be->ctr.tx_drop += n;
			stream_down(be, strerror((int)-w));
			return;
		}
		ok = (size_t)w;
		for (i = 0; i < n; i++)
			bytes += f[i].len;
	} else if (be->kind == BE_TAP) {
		for (i = 0; i < n; i++) {
			if (write(be->fd, f[i].data, f[i].len) == (ssize_t)f[i].len) {
				ok++;
				bytes += f[i].len;
			}
		}
	} else {
		ssize_t w;

		if (be->txfd < 0 && be->kind == BE_DGRAM && now_ms() - be->last_try_ms >= 20)
			dgram_connect(be);
		if (be->txfd < 0) {
			be->ctr.tx_drop += n;
			return;
		}
		w = dgram_tx_write(&be->tx, be->txfd, f, n);
		if (w < 0) {
			be->ctr.tx_drop += n;
			dgram_down(be, (int)-w);
			return;
		}
		ok = (size_t)w;
		for (i = 0; i < ok; i++)
			bytes += f[i].len;
	}
	be->ctr.tx_frames += ok;
	be->ctr.tx_bytes += bytes;
	be->ctr.tx_drop += n - ok;
}

void backend_write_vnet(struct backend *be, const struct frame *f, size_t n)
{
	static const uint8_t empty[VMF_VNET_HDR_LEN];
	size_t i;

	if (be->kind == BE_VHOST) {
		size_t ok = vhost_user_to_guest(be->vh, f, n);

		be->ctr.tx_frames += ok;
		be->ctr.tx_drop += n > ok ? n - ok : 0;
		return;
	}

	for (i = 0; i < n; i++) {
		int flagged = !!(f[i].flags & FRAME_VNET);
		struct iovec iov[2] = {
			{ (void *)(uintptr_t)empty, sizeof(empty) },
			{ f[i].data, f[i].len },
		};
		ssize_t want = (ssize_t)f[i].len + (flagged ? 0 : (ssize_t)sizeof(empty));

		if (writev(be->fd, flagged ? iov + 1 : iov, flagged ? 1 : 2) == want) {
			be->ctr.tx_frames++;
			be->ctr.tx_bytes += f[i].len;
		} else {
			be->ctr.tx_drop++;
		}
	}
}

void backend_writable(struct backend *be)
{
	int rc;

	if (!is_stream(be)) {
		if (be->txfd >= 0 && (rc = dgram_tx_flush(&be->tx, be->txfd)))
			dgram_down(be, -rc);
		return;
	}
	if (be->fd < 0)
		return;
	rc = stream_tx_flush(&be->tx, be->fd);
	if (rc)
		stream_down(be, strerror(-rc));
}

/* The connected peer is still there: no hang-up or error pending on @fd. */
static int peer_live(int fd)
{
	struct pollfd p = { fd, POLLRDHUP, 0 };

	return poll(&p, 1, 0) == 0 || !(p.revents & (POLLHUP | POLLRDHUP | POLLERR));
}

void backend_accept(struct backend *be)
{
	char d[300];
	int fd;

	if (be->kind == BE_VHOST) {
		vhost_user_accept(be->vh);
		return;
	}
	fd = accept4(be->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (be->fd >= 0 && !be->replace && peer_live(be->fd)) {
		/* whoever else reaches the listener must not take the port over */
		be->ctr.refused++;
		log_rl(&rl_be, LOG_WARNING, "%s: second connection refused: the connected peer keeps "
		       "the port (--stream-replace allows a takeover)", backend_describe(be, d, sizeof(d)));
		close(fd);
		return;
	}
	if (be->fd >= 0) {
		info("%s: new connection replaces the current one", backend_describe(be, d, sizeof(d)));
		close(be->fd);
		stream_rx_reset(&be->rx);
		be->tx.start = be->tx.end = 0;
		be->more = 0;
	}
	tune_stream(be, fd);
	be->fd = fd;
	be->ctr.connects++;
	info("%s: peer connected", backend_describe(be, d, sizeof(d)));
}

int backend_ctl_fds(const struct backend *be, int *fds, int max)
{
	if (be->kind != BE_VHOST || max < 1 || be->vh->fd < 0)
		return 0;
	fds[0] = be->vh->fd;
	return 1;
}

void backend_ctl(struct backend *be, int fd)
{
	if (be->kind == BE_VHOST && fd == be->vh->fd)
		vhost_user_readable(be->vh);
}

long backend_timeout(const struct backend *be, uint64_t now)
{
	if (!(be->kind == BE_STREAM_CONNECT && be->fd < 0) && !(be->kind == BE_DGRAM && be->txfd < 0))
		return -1;
	return be->retry_ms > now ? (long)(be->retry_ms - now) : 0;
}

void backend_tick(struct backend *be, uint64_t now)
{
	if (now < be->retry_ms)
		return;
	if (be->kind == BE_STREAM_CONNECT && be->fd < 0)
		stream_connect(be);
	else if (be->kind == BE_DGRAM && be->txfd < 0)
		dgram_connect(be);
}
