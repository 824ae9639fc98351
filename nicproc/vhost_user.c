/* vhost_user.c - vmfabric-nic as a vhost-user net back-end: the guest's virtqueues in shared memory */

/*
 * DOC: Theory of operation
 *
 * QEMU (-chardev socket,path=PATH -netdev vhost-user) connects to our unix
 * socket PATH (mode 0600: only our user, or root, may connect) and drives
 * the device with vhost-user messages: a 12-byte header (request, flags,
 * size), a payload of at most VHOST_USER_MAX_PAYLOAD bytes, fds by
 * SCM_RIGHTS. The header is read first, then exactly its payload, so a read
 * never spans two messages and the fds that come with a read belong to the
 * message being read.
 *
 * States: waiting (no connection) -> connected (negotiating: features,
 * protocol features, owner) -> memory table set -> each ring runs once it has
 * a size, addresses that map into guest memory, a kick eventfd and is enabled
 * (SET_VRING_ENABLE, or at once if VHOST_USER_F_PROTOCOL_FEATURES was not
 * acked). GET_VRING_BASE stops a ring and reports where it stopped. When the
 * connection ends (QEMU gone or restarting, or a malformed message) all
 * device state is dropped and we wait again; QEMU with reconnect= replays the
 * whole set-up, and a ring resumes at its used index.
 *
 * One connection at a time: another one is refused (closed, counted) while
 * the first lasts. A malformed message (bad version, size that does not fit
 * its request, ring index other than 0 or 1, missing fd, memory table that
 * does not fit its fd) ends the connection; an unknown request is ignored
 * (answered "failed" when the front-end asks for an ack).
 *
 * Offered: VERSION_1, MRG_RXBUF, CSUM/GUEST_CSUM, HOST_TSO4/6 + ECN,
 * GUEST_TSO4/6 + ECN, INDIRECT_DESC, EVENT_IDX, PROTOCOL_FEATURES with
 * REPLY_ACK. Not offered: multiqueue, UFO, packed rings, IOMMU, dirty
 * logging (so no live migration), CONFIG, inflight tracking.
 *
 * Data: queue 1 (guest transmit) is walked on its kick; each chain is copied
 * into txbuf behind a 12-byte header, returned as used at once, and the
 * batch goes to the fabric flagged as carrying headers. Queue 0 (guest
 * receive) takes frames from the fabric: with MRG_RXBUF a frame spans as
 * many buffers as it needs (num_buffers in the header), else it must fit
 * one chain. A super-frame or partial checksum the guest did not negotiate
 * is cut or completed (offload_plain) first. No receive buffer: the frame is
 * dropped and counted (no_buffers). Guest descriptors are untrusted, see
 * virtq.c.
 */

#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vhost_user.h"

#define F(b)		(1ULL << (b))
#define FRAME_MAX_GSO	(65535 + VMF_ETH_OVERHEAD)	/* a TSO super-frame */
#define MSGS_PER_WAKE	64
#define PUT_MAX_BUFS	128	/* receive buffers one frame may span (MRG_RXBUF) */

static struct ratelimit rl_vu = RATELIMIT_INIT;

uint64_t vhost_user_offered(void)
{
	return F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) |
	       F(VIRTIO_NET_F_GUEST_TSO6) | F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) |
	       F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_MRG_RXBUF) |
	       F(VIRTIO_RING_F_INDIRECT_DESC) | F(VIRTIO_RING_F_EVENT_IDX) |
	       F(VHOST_USER_F_PROTOCOL_FEATURES) | F(VIRTIO_F_VERSION_1);
}

/* Signal eventfd @fd (a full counter is signalled already). */
static void eventfd_kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		debug("vhost-user: eventfd write: %s", strerror(errno));
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Forget all device state (not the connection, not the counters). */
static void device_reset(struct vhost_user *vu)
{
	unsigned int i;

	for (i = 0; i < 2; i++) {
		struct vhost_vring *r = &vu->vr[i];

		close_fd(&r->kick);
		close_fd(&r->call);
		close_fd(&r->err);
		vq_reset(&r->q);
		r->enabled = 0;
	}
	vq_mem_unmap(&vu->mem);
	vu->features = 0;
	vu->protocol_features = 0;
	vu->features_set = 0;
	vu->hdr_len = VMF_VNET_HDR_LEN;
}

int vhost_user_init(struct vhost_user *vu, size_t max_frame)
{
	memset(vu, 0, sizeof(*vu));
	vu->lfd = vu->fd = -1;
	vu->vr[0].kick = vu->vr[0].call = vu->vr[0].err = -1;
	vu->vr[1].kick = vu->vr[1].call = vu->vr[1].err = -1;
	vu->max_frame = max_frame;
	vu->hdr_len = VMF_VNET_HDR_LEN;
	vu->txbuf_size = VMF_MAX_BATCH_BYTES;
	vu->txbuf = malloc(vu->txbuf_size);
	/* a super-frame cut at the smallest MSS allowed: 1024 segments */
	if (!vu->txbuf || offload_out_init(&vu->oo, 1100, 512 * 1024)) {
		free(vu->txbuf);
		vu->txbuf = NULL;
		return -ENOMEM;
	}
	return 0;
}

int vhost_user_listen(struct vhost_user *vu, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int rc;

	if (str_copy(sa.sun_path, path, sizeof(sa.sun_path)))
		return -ENAMETOOLONG;
	str_copy(vu->path, path, sizeof(vu->path));
	vu->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (vu->lfd < 0)
		return -errno;
	unlink(path);
	old = umask(0177);	/* the socket hands out the guest's traffic: ours only */
	rc = bind(vu->lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(vu->lfd, 2) ? -errno : 0;
	umask(old);
	if (rc)
		close_fd(&vu->lfd);
	return rc;
}

void vhost_user_free(struct vhost_user *vu)
{
	unsigned int i;

	if (!vu)
		return;
	device_reset(vu);
	for (i = 0; i < vu->n_fds; i++)
		close(vu->fds[i]);
	vu->n_fds = 0;
	close_fd(&vu->fd);
	if (vu->lfd >= 0) {
		close_fd(&vu->lfd);
		unlink(vu->path);
	}
	free(vu->txbuf);
	vu->txbuf = NULL;
	offload_out_free(&vu->oo);
}

void vhost_user_disconnect(struct vhost_user *vu, const char *why)
{
	unsigned int i;

	if (vu->fd >= 0)
		info("vhost-user %s: front-end gone (%s): waiting for QEMU", vu->path, why);
	close_fd(&vu->fd);
	for (i = 0; i < vu->n_fds; i++)
		close(vu->fds[i]);
	vu->n_fds = 0;
	vu->got = 0;
	device_reset(vu);
}

void vhost_user_accept(struct vhost_user *vu)
{
	int fd = accept4(vu->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (vu->fd >= 0) {
		vu->ctr.refused++;
		log_rl(&rl_vu, LOG_WARNING, "vhost-user %s: second connection refused (one front-end at a time)",
		       vu->path);
		close(fd);
		return;
	}
	device_reset(vu);
	vu->fd = fd;
	vu->got = 0;
	vu->ctr.connects++;
	info("vhost-user %s: QEMU connected", vu->path);
}

/* ---- the protocol state machine ---------------------------------------------- */

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return le64toh(v);
}

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void wr32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void wr64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static size_t make_reply(uint8_t *reply, uint32_t req, const void *payload, uint32_t size)
{
	wr32(reply, req);
	wr32(reply + 4, VHOST_USER_VERSION | VHOST_USER_FLAG_REPLY);
	wr32(reply + 8, size);
	memcpy(reply + VHOST_USER_HDR_LEN, payload, size);
	return VHOST_USER_HDR_LEN + size;
}

static size_t reply_u64(uint8_t *reply, uint32_t req, uint64_t v)
{
	uint8_t b[8];

	wr64(b, v);
	return make_reply(reply, req, b, 8);
}

/* A ring runs when it is mapped, started (kick fd) and enabled. */
static int ring_runs(const struct vhost_vring *r)
{
	return r->q.desc && r->kick >= 0 && r->enabled;
}

static void ring_map(struct vhost_user *vu, struct vhost_vring *r)
{
	struct vq *q = &r->q;

	if (!q->desc_uva || !vu->mem.n)
		return;
	q->event_idx = !!(vu->features & F(VIRTIO_RING_F_EVENT_IDX));
	q->indirect = !!(vu->features & F(VIRTIO_RING_F_INDIRECT_DESC));
	if (vq_map(q, &vu->mem)) {
		log_rl(&rl_vu, LOG_WARNING, "vhost-user %s: ring addresses outside guest memory or misaligned",
		       vu->path);
		return;
	}
	/* we complete everything at once: nothing is in flight, resume at the used index */
	q->used_idx = le16toh(__atomic_load_n(&q->used->idx, __ATOMIC_ACQUIRE));
	q->signalled_used = q->used_idx;
	q->last_avail = q->used_idx;
	/* receive buffers are taken when frames come, not on kicks: no kicks wanted */
	if (r == &vu->vr[VHOST_RXQ])
		vq_notify_on(q, 0);
}

/* SET_MEM_TABLE: map every region from its fd; the old table goes. */
static int set_mem_table(struct vhost_user *vu, const uint8_t *p, uint32_t size, int *fds,
			 unsigned int n_fds)
{
	struct vq_mem m = { .n = 0 };
	uint32_t n, i;

	if (size < 8)
		return -EINVAL;
	n = rd32(p);
	if (!n || n > VQ_MAX_REGIONS || n != n_fds || size < 8 + 32 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		const uint8_t *e = p + 8 + 32 * i;
		uint64_t gpa = rd64(e), len = rd64(e + 8), uva = rd64(e + 16), off = rd64(e + 24);
		struct stat st;
		void *map;

		if (!len || len > (1ULL << 48) || off > (1ULL << 48) || gpa + len < gpa ||
		    uva + len < uva || fstat(fds[i], &st) || (uint64_t)st.st_size < off + len)
			goto bad;
		map = mmap(NULL, (size_t)(off + len), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			   fds[i], 0);
		if (map == MAP_FAILED)
			goto bad;
		m.r[m.n++] = (struct vq_region){ gpa, uva, len, (uint8_t *)map + off, map, (size_t)(off + len) };
	}
	for (i = 0; i < n; i++)
		close_fd(&fds[i]);
	vq_mem_unmap(&vu->mem);
	vu->mem = m;
	for (i = 0; i < 2; i++)
		ring_map(vu, &vu->vr[i]);
	return 0;
bad:
	vq_mem_unmap(&m);
	return -EINVAL;
}

/* The one fd of a KICK/CALL/ERR message, or -1 with the "no fd" flag. */
static int take_fd(uint64_t v, int *fds, unsigned int n_fds, int *out)
{
	if (v & 0x100) {
		*out = -1;
		return n_fds ? -EINVAL : 0;
	}
	if (n_fds != 1)
		return -EINVAL;
	*out = fds[0];
	fds[0] = -1;
	return 0;
}

/* Handle one request; Return: 0, 1 if it failed softly (ack "failed"), or -errno to drop. */
static int dispatch(struct vhost_user *vu, uint32_t req, const uint8_t *p, uint32_t size,
		    int *fds, unsigned int n_fds, uint8_t *reply, size_t *reply_len)
{
	struct vhost_vring *r = NULL;
	uint32_t idx = 0;
	uint64_t v = 0;
	int fd, rc;

	switch (req) {
	case VHOST_USER_SET_FEATURES:
	case VHOST_USER_SET_PROTOCOL_FEATURES:
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		if (size != 8)
			return -EINVAL;
		v = rd64(p);
		idx = (uint32_t)(v & 0xff);
		break;
	case VHOST_USER_SET_VRING_NUM:
	case VHOST_USER_SET_VRING_BASE:
	case VHOST_USER_GET_VRING_BASE:
	case VHOST_USER_SET_VRING_ENABLE:
		if (size != 8)
			return -EINVAL;
		idx = rd32(p);
		v = rd32(p + 4);
		break;
	case VHOST_USER_SET_VRING_ADDR:
		if (size != 40)
			return -EINVAL;
		idx = rd32(p);
		break;
	default:
		break;
	}
	if ((req >= VHOST_USER_SET_VRING_NUM && req <= VHOST_USER_SET_VRING_ERR) ||
	    req == VHOST_USER_SET_VRING_ENABLE) {
		if (idx > 1)
			return -EINVAL;
		r = &vu->vr[idx];
	}

	switch (req) {
	case VHOST_USER_GET_FEATURES:
		*reply_len = reply_u64(reply, req, vhost_user_offered());
		return 0;
	case VHOST_USER_SET_FEATURES:
		if (v & ~vhost_user_offered())
			return -EINVAL;
		vu->features = v;
		vu->ctr.last_features = v;
		vu->features_set = 1;
		vu->hdr_len = v & (F(VIRTIO_F_VERSION_1) | F(VIRTIO_NET_F_MRG_RXBUF)) ? 12 : 10;
		/* without protocol features a ring is enabled from the start */
		if (!(v & F(VHOST_USER_F_PROTOCOL_FEATURES)))
			vu->vr[0].enabled = vu->vr[1].enabled = 1;
		vu->vr[0].q.event_idx = vu->vr[1].q.event_idx = !!(v & F(VIRTIO_RING_F_EVENT_IDX));
		vu->vr[0].q.indirect = vu->vr[1].q.indirect = !!(v & F(VIRTIO_RING_F_INDIRECT_DESC));
		return 0;
	case VHOST_USER_GET_PROTOCOL_FEATURES:
		*reply_len = reply_u64(reply, req, F(VHOST_USER_PROTOCOL_F_REPLY_ACK));
		return 0;
	case VHOST_USER_SET_PROTOCOL_FEATURES:
		if (v & ~F(VHOST_USER_PROTOCOL_F_REPLY_ACK))
			return -EINVAL;
		vu->protocol_features = v;
		return 0;
	case VHOST_USER_GET_QUEUE_NUM:
		*reply_len = reply_u64(reply, req, 1);
		return 0;
	case VHOST_USER_SET_OWNER:
		return 0;
	case VHOST_USER_RESET_OWNER:
		device_reset(vu);
		return 0;
	case VHOST_USER_SET_MEM_TABLE:
		return set_mem_table(vu, p, size, fds, n_fds);
	case VHOST_USER_SET_VRING_NUM:
		if (!v || v > VQ_MAX_SIZE || (v & (v - 1)))
			return -EINVAL;
		r->q.num = (unsigned int)v;
		r->q.desc = NULL;
		r->q.avail = NULL;
		r->q.used = NULL;
		return 0;
	case VHOST_USER_SET_VRING_BASE:
		if (v > 0xffff)
			return -EINVAL;
		r->q.last_avail = (uint16_t)v;
		return 0;
	case VHOST_USER_GET_VRING_BASE: {
		uint8_t b[8];

		/* the ring stops: report where the guest should resume */
		wr32(b, idx);
		wr32(b + 4, r->q.last_avail);
		*reply_len = make_reply(reply, req, b, 8);
		close_fd(&r->kick);
		r->q.desc = NULL;
		r->q.avail = NULL;
		r->q.used = NULL;
		return 0;
	}
	case VHOST_USER_SET_VRING_ADDR:
		/* flags (p + 4) only carry the dirty-log bit, which we never offer */
		r->q.desc_uva = rd64(p + 8);
		r->q.used_uva = rd64(p + 16);
		r->q.avail_uva = rd64(p + 24);
		if (!r->q.num || !vu->mem.n)
			return -EINVAL;
		ring_map(vu, r);
		return r->q.desc ? 0 : -EINVAL;
	case VHOST_USER_SET_VRING_KICK:
	case VHOST_USER_SET_VRING_CALL:
	case VHOST_USER_SET_VRING_ERR:
		if ((rc = take_fd(v, fds, n_fds, &fd)))
			return rc;
		if (fd >= 0)
			fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		if (req == VHOST_USER_SET_VRING_KICK) {
			close_fd(&r->kick);
			r->kick = fd;
			/* a buffer may already wait: look at the ring once */
			if (fd >= 0)
				eventfd_kick(fd);
		} else if (req == VHOST_USER_SET_VRING_CALL) {
			close_fd(&r->call);
			r->call = fd;
		} else {
			close_fd(&r->err);
			r->err = fd;
		}
		return 0;
	case VHOST_USER_SET_VRING_ENABLE:
		r->enabled = !!v;
		if (ring_runs(r))
			eventfd_kick(r->kick);
		return 0;
	default:
		/* log fds, endian, config, ...: nothing we offered; ignore */
		debug("vhost-user %s: request %u ignored", vu->path, req);
		return 1;
	}
}

int vhost_user_handle(struct vhost_user *vu, const uint8_t *msg, size_t len, int *fds,
		      unsigned int n_fds, uint8_t *reply, size_t *reply_len)
{
	uint32_t req, flags, size;
	unsigned int i;
	int rc = -EPROTO;

	*reply_len = 0;
	if (len < VHOST_USER_HDR_LEN)
		goto out;
	req = rd32(msg);
	flags = rd32(msg + 4);
	size = rd32(msg + 8);
	if ((flags & 3) != VHOST_USER_VERSION || (flags & VHOST_USER_FLAG_REPLY) ||
	    size != len - VHOST_USER_HDR_LEN || size > VHOST_USER_MAX_PAYLOAD)
		goto out;
	rc = dispatch(vu, req, msg + VHOST_USER_HDR_LEN, size, fds, n_fds, reply, reply_len);
	if (rc >= 0 && !*reply_len && (flags & VHOST_USER_FLAG_NEED_REPLY) &&
	    (vu->protocol_features & F(VHOST_USER_PROTOCOL_F_REPLY_ACK)))
		*reply_len = reply_u64(reply, req, (uint64_t)rc);
	if (rc > 0)
		rc = 0;
out:
	for (i = 0; i < n_fds; i++)
		close_fd(&fds[i]);
	return rc;
}

/* ---- the socket ---------------------------------------------------------------- */

/* Read the rest of the current message; Return: 1 complete, 0 not yet, -errno ended. */
static int read_msg(struct vhost_user *vu)
{
	size_t want = vu->got < VHOST_USER_HDR_LEN ? VHOST_USER_HDR_LEN - vu->got :
			VHOST_USER_HDR_LEN + rd32(vu->msg + 8) - vu->got;
	union {
		char buf[CMSG_SPACE(VHOST_USER_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct iovec iov = { vu->msg + vu->got, want };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
			     .msg_controllen = sizeof(cm.buf) };
	struct cmsghdr *c;
	ssize_t r;

	if (!want)
		return 1;
	r = recvmsg(vu->fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (r == 0)
		return -ECONNRESET;
	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (vu->n_fds < VHOST_USER_MAX_FDS)
				vu->fds[vu->n_fds++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		return -EPROTO;
	vu->got += (size_t)r;
	if (vu->got == VHOST_USER_HDR_LEN && rd32(vu->msg + 8) > VHOST_USER_MAX_PAYLOAD)
		return -EPROTO;
	if (vu->got < VHOST_USER_HDR_LEN)
		return 0;
	return vu->got == VHOST_USER_HDR_LEN + rd32(vu->msg + 8);
}

void vhost_user_readable(struct vhost_user *vu)
{
	uint8_t reply[VHOST_USER_HDR_LEN + 64];
	int i, rc;

	for (i = 0; i < MSGS_PER_WAKE && vu->fd >= 0; i++) {
		size_t rlen, len;
		unsigned int n_fds;
		uint32_t req;

		rc = read_msg(vu);
		if (rc == 0 && vu->got < VHOST_USER_HDR_LEN)
			return;
		if (rc == 0)
			rc = read_msg(vu);	/* the payload usually follows its header at once */
		if (rc == 0)
			return;
		if (rc < 0) {
			if (rc == -EPROTO) {
				vu->ctr.proto_errors++;
				log_rl(&rl_vu, LOG_WARNING, "vhost-user %s: malformed message", vu->path);
			}
			vhost_user_disconnect(vu, rc == -ECONNRESET ? "closed" : strerror(-rc));
			return;
		}
		len = vu->got;
		n_fds = vu->n_fds;
		req = rd32(vu->msg);
		vu->got = 0;
		vu->n_fds = 0;
		rc = vhost_user_handle(vu, vu->msg, len, vu->fds, n_fds, reply, &rlen);
		if (rc < 0) {
			vu->ctr.proto_errors++;
			log_rl(&rl_vu, LOG_WARNING, "vhost-user %s: bad request %u: connection dropped",
			       vu->path, req);
			vhost_user_disconnect(vu, "protocol error");
			return;
		}
		debug("vhost-user %s: request %u done%s", vu->path, req, rlen ? ", replied" : "");
		if (rlen && send(vu->fd, reply, rlen, MSG_NOSIGNAL | MSG_DONTWAIT) != (ssize_t)rlen) {
			vhost_user_disconnect(vu, "reply not sent");
			return;
		}
	}
}

int vhost_user_kick_fd(const struct vhost_user *vu)
{
	const struct vhost_vring *r = &vu->vr[VHOST_TXQ];

	return ring_runs(r) && vu->mem.n ? r->kick : -1;
}

/* ---- frames ---------------------------------------------------------------------- */

static void call_guest(struct vhost_vring *r)
{
	vq_flush(&r->q);
	if (vq_need_call(&r->q) && r->call >= 0) {
		eventfd_kick(r->call);
		r->q.ctr.calls++;
	}
}

size_t vhost_user_from_guest(struct vhost_user *vu, struct frame *frames, size_t max)
{
	struct vhost_vring *r = &vu->vr[VHOST_TXQ];
	struct vq_chain *c = &vu->chain;
	size_t n = 0, used = 0, hl = vu->hdr_len;
	uint64_t junk;

	if (vhost_user_kick_fd(vu) < 0)
		return 0;
	if (read(r->kick, &junk, sizeof(junk)) < 0 && errno != EAGAIN)
		debug("vhost-user: kick read: %s", strerror(errno));
	while (n < max && vu->txbuf_size - used >= VMF_VNET_HDR_LEN + FRAME_MAX_GSO) {
		uint8_t *f = vu->txbuf + used;
		size_t len;
		int rc = vq_pop(&r->q, &vu->mem, 0, c);

		if (rc == 0 || rc == -EIO)
			break;
		if (rc < 0) {
			vq_push(&r->q, c->head, 0);
			continue;
		}
		vq_push(&r->q, c->head, 0);	/* the copy below is all we keep */
		if (c->len < hl + VMF_ETH_HLEN) {
			vu->ctr.runt++;
			continue;
		}
		len = c->len - hl;
		memset(f, 0, VMF_VNET_HDR_LEN);
		iov_to_buf(c->iov, c->n, 0, f, hl);
		if (len > (f[1] ? FRAME_MAX_GSO : vu->max_frame)) {
			vu->ctr.giant++;
			continue;
		}
		iov_to_buf(c->iov, c->n, hl, f + VMF_VNET_HDR_LEN, len);
		vu->ctr.gso_from_guest += f[1] != VNET_GSO_NONE;
		f[10] = f[11] = 0;	/* num_buffers means nothing on transmit */
		frames[n++] = (struct frame){ f, (uint32_t)(VMF_VNET_HDR_LEN + len), FRAME_VNET, 0 };
		used += VMF_VNET_HDR_LEN + len;
	}
	call_guest(r);
	/* more than a batch waits: come back through the event loop */
	if (vq_avail(&r->q))
		eventfd_kick(r->kick);
	return n;
}

/* The guest negotiated what this header asks for. */
static int guest_takes(const struct vhost_user *vu, const uint8_t *h)
{
	uint64_t f = vu->features;
	uint8_t gso = h[1] & (uint8_t)~VNET_GSO_ECN;

	if ((h[0] & VNET_F_NEEDS_CSUM) && !(f & F(VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	if ((h[1] & VNET_GSO_ECN) && !(f & F(VIRTIO_NET_F_GUEST_ECN)))
		return 0;
	if (gso == VNET_GSO_NONE)
		return 1;
	if (!(h[0] & VNET_F_NEEDS_CSUM))
		return 0;
	return (gso == VNET_GSO_TCPV4 && (f & F(VIRTIO_NET_F_GUEST_TSO4))) ||
	       (gso == VNET_GSO_TCPV6 && (f & F(VIRTIO_NET_F_GUEST_TSO6)));
}

/*
 * Put header @h (12 bytes, ours) and @len bytes of @data into the receive
 * ring: one chain, or with MRG_RXBUF as many as it takes (the first must
 * hold the header). Return: 1, or 0 if dropped (counted)
 */
static int put_frame(struct vhost_user *vu, const uint8_t *h, const uint8_t *data, size_t len)
{
	struct vhost_vring *r = &vu->vr[VHOST_RXQ];
	struct vq_chain *c = &vu->chain;
	int mrg = !!(vu->features & F(VIRTIO_NET_F_MRG_RXBUF));
	size_t hl = vu->hdr_len, total = hl + len, done = 0;
	uint16_t heads[PUT_MAX_BUFS];
	uint32_t lens[PUT_MAX_BUFS];
	struct iovec first[VMF_VNET_HDR_LEN];
	unsigned int nb = 0, nfirst = 0, i;
	uint8_t hdr[VMF_VNET_HDR_LEN];
	uint16_t le;

	memcpy(hdr, h, VMF_VNET_HDR_LEN);
	/* flags: only NEEDS_CSUM and DATA_VALID, the latter with GUEST_CSUM */
	hdr[0] &= (uint8_t)(VNET_F_NEEDS_CSUM |
			    (vu->features & F(VIRTIO_NET_F_GUEST_CSUM) ? 2 : 0));
	hdr[10] = 1;	/* num_buffers: 1 unless merged */
	hdr[11] = 0;
	while (done < total) {
		size_t piece, off = 0;
		int rc = vq_pop(&r->q, &vu->mem, 1, c);

		if (rc == 0 || rc == -EIO || (rc > 0 && !mrg && c->len < total) ||
		    (rc > 0 && nb == PUT_MAX_BUFS)) {
			/* not enough room: give the buffers back untouched, drop the frame */
			vq_unpop(&r->q, nb + (rc > 0));
			vu->ctr.no_buffers++;
			return 0;
		}
		if (rc < 0 || (!nb && c->len < hl)) {
			/* a bad chain: the frame is lost, its buffers go back empty */
			for (i = 0; i < nb; i++)
				vq_push(&r->q, heads[i], 0);
			vq_push(&r->q, c->head, 0);
			vu->ctr.no_buffers++;
			return 0;
		}
		piece = MIN((size_t)c->len, total - done);
		if (!nb) {	/* the header starts the first buffer */
			nfirst = MIN(c->n, (unsigned int)ARRAY_SIZE(first));
			memcpy(first, c->iov, nfirst * sizeof(first[0]));
			buf_to_iov(c->iov, c->n, 0, hdr, hl);
			off = hl;
		}
		if (piece > off)
			buf_to_iov(c->iov, c->n, off, data + (done + off - hl), piece - off);
		heads[nb] = c->head;
		lens[nb++] = (uint32_t)piece;
		done += piece;
	}
	if (mrg && nb > 1) {
		le = htole16((uint16_t)nb);
		buf_to_iov(first, nfirst, 10, &le, 2);
	}
	for (i = 0; i < nb; i++)
		vq_push(&r->q, heads[i], lens[i]);
	return 1;
}

size_t vhost_user_to_guest(struct vhost_user *vu, const struct frame *frames, size_t n)
{
	static const uint8_t empty[VMF_VNET_HDR_LEN];
	struct vhost_vring *r = &vu->vr[VHOST_RXQ];
	size_t i, ok = 0;

	if (!ring_runs(r) || !vu->mem.n)
		return 0;
	for (i = 0; i < n; i++) {
		const uint8_t *f = frames[i].data;
		size_t len = frames[i].len, k;
		int all;

		if (!(frames[i].flags & FRAME_VNET)) {
			ok += (size_t)put_frame(vu, empty, f, len);
			continue;
		}
		if (len < VMF_VNET_HDR_LEN)
			continue;
		if (guest_takes(vu, f)) {
			k = (size_t)put_frame(vu, f, f + VMF_VNET_HDR_LEN, len - VMF_VNET_HDR_LEN);
			vu->ctr.gso_to_guest += k && f[1] != VNET_GSO_NONE;
			ok += k;
			continue;
		}
		/* cut or completed here: the guest did not negotiate this offload */
		offload_plain(&vu->oo, &frames[i], 1);
		all = vu->oo.n > 0;
		for (k = 0; k < vu->oo.n; k++)
			all &= put_frame(vu, empty, vu->oo.f[k].data, vu->oo.f[k].len);
		ok += (size_t)all;
	}
	call_guest(r);
	return ok;
}

void vhost_user_log_counters(const struct vhost_user *vu)
{
	const struct vq_ctr *rx = &vu->vr[VHOST_RXQ].q.ctr, *tx = &vu->vr[VHOST_TXQ].q.ctr;

	info("vhost-user %s: connects %llu refused %llu protocol errors %llu; bad chains %llu, "
	     "broken rings %llu; guest frames runt %llu giant %llu; no receive buffer %llu; "
	     "interrupts %llu; super-frames from guest %llu, to guest whole %llu, cut for it %llu; "
	     "features %#llx",
	     vu->path, (unsigned long long)vu->ctr.connects, (unsigned long long)vu->ctr.refused,
	     (unsigned long long)vu->ctr.proto_errors,
	     (unsigned long long)(rx->bad_chain + tx->bad_chain),
	     (unsigned long long)(rx->bad_ring + tx->bad_ring), (unsigned long long)vu->ctr.runt,
	     (unsigned long long)vu->ctr.giant, (unsigned long long)vu->ctr.no_buffers,
	     (unsigned long long)(rx->calls + tx->calls), (unsigned long long)vu->ctr.gso_from_guest,
	     (unsigned long long)vu->ctr.gso_to_guest, (unsigned long long)vu->oo.segmented,
	     (unsigned long long)vu->ctr.last_features);
}
