/* gateway.c - one libslirp instance as a fabric port: frame filter, output batch, timers, fds */

/*
 * DOC: theory of operation
 *
 * Everything here runs on the process's only thread: libslirp keeps
 * process-wide globals and is not re-entrant.
 *
 * In (switch -> slirp): every frame is first shown to the DHCP server
 * (dhcp.c), which answers DHCP itself (only when chaddr is the frame's
 * source MAC) and learns which addresses are in use.
 * Then only frames addressed to the gateway's MAC, to a MAC libslirp itself
 * sent from (IPv6 virtual hosts, 52:55:<last 4 bytes of the IPv6 address>),
 * or to broadcast/multicast reach slirp_input(): libslirp ignores the
 * destination MAC and would otherwise re-originate flooded guest-to-guest
 * unicast towards the gateway host's network. Others are counted as
 * not_for_us (normal: the switch floods unknown unicast).
 *
 * Out (slirp -> switch): send_packet copies each frame into a fixed batch
 * buffer (g->of, struct frame; flushed with one uplink_send() per loop
 * pass, or earlier when full; a closed super-frame is flagged FRAME_VNET),
 * pads it to 60 bytes (libslirp 4.7 emits 42-byte ARP) and rewrites
 * libslirp's IPv4 virtual-host MACs (52:55:IP, in the Ethernet source and
 * the ARP sender) to the gateway's MAC, so every IPv4 service of the
 * gateway (host, DNS) answers from one MAC. Frames larger than MTU + 18 are
 * dropped and counted. TCP/IPv4 segments towards a MAC that was seen
 * sending frames with a virtio-net header (its NIC process takes offloads;
 * at most GW_VNET_PEERS remembered, oldest forgotten first) are coalesced
 * into TSO super-frames (gro.c, --gro): a receiver that cannot take one
 * after all gets it cut by its NIC process, so a wrong guess costs time,
 * never correctness.
 *
 * Timers: libslirp's only timer (IPv6 router advertisements) is created
 * through timer_new_opaque and kept in a small array; the loop sleeps no
 * longer than the earliest one and calls slirp_handle_timer() when due.
 * Sockets: before each sleep slirp_pollfds_fill() registers libslirp's
 * sockets as slots of the loop (those of the last pass deleted first; the
 * loop's table grows only when libslirp has more sockets than ever before);
 * right after the loop wakes, slirp_pollfds_poll() reads their results.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gateway.h"
#include "offload.h"
#include "log.h"
#include "util.h"

static struct ratelimit rl_save = RATELIMIT_INIT, rl_guest = RATELIMIT_INIT,
			rl_giant = RATELIMIT_INIT, rl_dhcp = RATELIMIT_INIT, rl_bad = RATELIMIT_INIT,
			rl_spoof = RATELIMIT_INIT, rl_claim = RATELIMIT_INIT;

/* The field of *@s up to @sep, cut there; *@s moves past it. Return: the field, NULL without @sep */
static char *cut(char **s, int sep)
{
	char *f = *s, *e = strchr(f, sep);

	if (!e)
		return NULL;
	*e = '\0';
	*s = e + 1;
	return f;
}

/* A port number @min..65535 into *@port; Return: 0 or -EINVAL */
static int port_of(const char *s, long min, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > 65535)
		return -EINVAL;
	*port = (int)v;
	return 0;
}

int gw_parse_hostfwd(const char *s, struct gw_fwd *f, const char **why)
{
	char buf[256], *p = buf, *proto, *hostaddr, *hostport, *guestaddr;

	memset(f, 0, sizeof(*f));
	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		goto bad;
	/* [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport; p ends at guestport */
	if (!(proto = cut(&p, ':')) || !(hostaddr = cut(&p, ':')) || !(hostport = cut(&p, '-')) ||
	    !(guestaddr = cut(&p, ':')))
		goto bad;
	if (!strcmp(proto, "udp"))
		f->is_udp = 1;
	else if (*proto && strcmp(proto, "tcp"))
		goto bad;
	if (*hostaddr && inet_pton(AF_INET, hostaddr, &f->host_addr) != 1)
		goto bad;
	if (*guestaddr && inet_pton(AF_INET, guestaddr, &f->guest_addr) != 1)
		goto bad;
	if (port_of(hostport, 0, &f->host_port) || port_of(p, 1, &f->guest_port))
		goto bad;
	return 0;
bad:
	*why = "hostfwd must be [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport";
	return -EINVAL;
}

/* ---- libslirp callbacks ---- */

static int is_own(const struct gateway *g, const uint8_t *mac)
{
	if (!memcmp(mac, g->mac, 6))
		return 1;
	for (unsigned int i = 0; i < g->n_own; i++)
		if (!memcmp(mac, g->own[i], 6))
			return 1;
	return 0;
}

static void gro_end(struct gateway *g);

/* queue one frame for the switch. Return: its copy in the batch, or NULL if dropped */
static uint8_t *out_frame(struct gateway *g, const uint8_t *buf, size_t len)
{
	size_t plen = len < 60 ? 60 : len;
	uint8_t *p;

	gro_end(g);	/* frames stay in libslirp's order */
	if (len < 14 || len > g->max_frame) {
		g->ctr.tx_giant++;
		log_rl(&rl_giant, LOG_WARNING, "dropped a %zu-byte frame from libslirp (MTU)", len);
		return NULL;
	}
	if (g->on == VMF_MAX_BATCH_FRAMES || g->oused + plen > VMF_MAX_BATCH_BYTES)
		gw_flush(g);
	p = g->obuf + g->oused;
	memcpy(p, buf, len);
	if (len < 60) {
		memset(p + len, 0, 60 - len);
		g->ctr.tx_padded++;
	}
	g->of[g->on++] = (struct frame){ p, (uint32_t)plen, 0, 0 };
	g->oused += plen;
	g->ctr.tx_frames++;
	return p;
}

/* libslirp's IPv4 virtual hosts (52:55:IP) speak with the gateway's MAC */
static void own_mac(const struct gateway *g, uint8_t *f, size_t len, uint16_t type)
{
	if (f[6] == 0x52 && f[7] == 0x55)
		memcpy(f + 6, g->mac, 6);
	if (type == 0x0806 && len >= 42 && f[22] == 0x52 && f[23] == 0x55)
		memcpy(f + 22, g->mac, 6);
}

static int is_vnet_peer(const struct gateway *g, const uint8_t *mac)
{
	for (unsigned int i = 0; i < g->n_vpeer; i++)
		if (!memcmp(mac, g->vpeer[i], 6))
			return 1;
	return 0;
}

/* finish the open super-frame (gro.c) in the batch: flagged if it holds several segments */
static void gro_end(struct gateway *g)
{
	uint8_t *p;
	size_t len;
	int rc;

	if (!g->gro.hdr)
		return;
	p = g->of[g->gro_idx].data;
	rc = gro_close(&g->gro, &len);
	own_mac(g, p + VMF_VNET_HDR_LEN, len, 0x0800);
	if (rc)
		g->of[g->gro_idx] = (struct frame){ p, (uint32_t)(VMF_VNET_HDR_LEN + len), FRAME_VNET, 0 };
	else
		g->of[g->gro_idx] = (struct frame){ p + VMF_VNET_HDR_LEN, (uint32_t)len, 0, 0 };
}

/* a TCP segment for a receiver with offloads: into the open super-frame, or open one. Return: 1 if taken */
static int gro_out(struct gateway *g, const uint8_t *in, size_t len)
{
	size_t hdrs, n;
	uint8_t *p;

	if (g->gro.hdr) {
		n = gro_append(&g->gro, in, len, VMF_MAX_BATCH_BYTES - g->oused);
		if (n) {
			g->oused += n;
			g->ctr.tx_frames++;
			return 1;
		}
		gro_end(g);
	}
	if (len > g->max_frame || !(hdrs = gro_candidate(in, len)))
		return 0;
	if (g->on == VMF_MAX_BATCH_FRAMES || g->oused + VMF_VNET_HDR_LEN + len > VMF_MAX_BATCH_BYTES)
		gw_flush(g);
	p = g->obuf + g->oused;
	memcpy(p + VMF_VNET_HDR_LEN, in, len);
	gro_open(&g->gro, p, len, hdrs);
	g->gro_idx = g->on;
	g->of[g->on++] = (struct frame){ p, 0, 0, 0 };
	g->oused += VMF_VNET_HDR_LEN + len;
	g->ctr.tx_frames++;
	return 1;
}

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct gateway *g = opaque;
	const uint8_t *in = buf;
	uint16_t type;
	uint8_t *f;

	if (len < 14) {
		g->ctr.tx_giant++;
		return (ssize_t)len;
	}
	type = (uint16_t)(in[12] << 8 | in[13]);
	if (type == 0x86dd && !is_own(g, in + 6)) {
		/* IPv6 virtual hosts keep their own MACs: remember them */
		memcpy(g->own[g->next_own], in + 6, 6);
		g->next_own = (g->next_own + 1) % GW_OWN_MACS;
		if (g->n_own < GW_OWN_MACS)
			g->n_own++;
	}
	if (g->gro_on && type == 0x0800 && is_vnet_peer(g, in) && gro_out(g, in, len))
		return (ssize_t)len;
	f = out_frame(g, in, len);
	if (f && type != 0x86dd)
		own_mac(g, f, len, type);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	log_rl(&rl_guest, LOG_WARNING, "libslirp: guest error: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct gateway *g = opaque;

	for (int i = 0; i < GW_TIMERS; i++) {
		if (!g->timers[i].used) {
			g->timers[i] = (struct gw_timer){ 1, id, cb_opaque, -1 };
			return &g->timers[i];
		}
	}
	err("libslirp wants more than %d timers", GW_TIMERS);
	return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
	struct gw_timer *t = timer;

	if (t)
		t->used = 0;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	struct gw_timer *t = timer;

	if (t)
		t->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
}

static void cb_init_completed(Slirp *slirp, void *opaque)
{
	struct gateway *g = opaque;

	g->slirp = slirp;	/* slirp_new() creates the RA timer before it returns */
}

static const SlirpCb callbacks = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.init_completed = cb_init_completed,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* ---- life cycle ---- */

int gw_init(struct gateway *g, const struct gw_conf *c, struct uplink *up, const char **why)
{
	SlirpConfig cfg = c->cfg;
	unsigned int skipped = 0;
	int rc;

	memset(g, 0, sizeof(*g));
	g->up = up;
	memcpy(g->mac, c->mac, 6);
	g->lease_file = c->lease_file;
	g->gro_on = c->gro;
	g->max_frame = (size_t)c->mtu + VMF_ETH_OVERHEAD;
	g->obuf = malloc(VMF_MAX_BATCH_BYTES);
	g->cap_slirp_h = 64;
	g->slirp_h = calloc((size_t)g->cap_slirp_h, sizeof(*g->slirp_h));
	if (!g->obuf || !g->slirp_h) {
		*why = "out of memory";
		return -ENOMEM;
	}
	rc = dhcp_init(&g->dhcp, &c->dhcp, why);
	if (rc)
		return rc;
	if (g->lease_file) {
		rc = dhcp_load(&g->dhcp, g->lease_file, &skipped);
		if (rc >= 0)
			info("leases: %d loaded from %s%s", rc, g->lease_file,
			     skipped ? " (some lines skipped: outside the pool or malformed)" : "");
		else if (rc != -ENOENT)
			warn("leases: cannot read %s: %s (starting empty)", g->lease_file, strerror(-rc));
		rc = gw_save(g, 1);	/* fail now, not at the first lease */
		if (rc) {
			*why = "cannot write the lease file (--lease-file)";
			return rc;
		}
	}
	cfg.version = 4;
	cfg.disable_dhcp = true;
	cfg.if_mtu = (size_t)c->mtu;
	cfg.if_mru = (size_t)c->mtu;
	g->slirp = slirp_new(&cfg, &callbacks, g);
	if (!g->slirp) {
		*why = "libslirp refused the configuration";
		return -EINVAL;
	}
	for (size_t i = 0; i < c->n_fwd; i++) {
		const struct gw_fwd *f = &c->fwd[i];

		if (slirp_add_hostfwd(g->slirp, f->is_udp, f->host_addr, f->host_port,
				      f->guest_addr, f->guest_port) < 0) {
			*why = "cannot set up a hostfwd (host port in use or not permitted?)";
			return -EADDRINUSE;
		}
	}
	return 0;
}

void gw_free(struct gateway *g)
{
	if (!g)
		return;
	if (g->slirp)
		slirp_cleanup(g->slirp);
	g->slirp = NULL;
	dhcp_free(&g->dhcp);
	free(g->obuf);
	free(g->slirp_h);
	g->obuf = NULL;
	g->slirp_h = NULL;
}

int gw_save(struct gateway *g, int force)
{
	int rc;

	if (!g->lease_file || (!force && !g->dhcp.dirty))
		return 0;
	rc = dhcp_save(&g->dhcp, g->lease_file);
	if (rc) {
		g->ctr.lease_save_errors++;
		log_rl(&rl_save, LOG_ERR, "leases: cannot write %s: %s", g->lease_file, strerror(-rc));
	}
	return rc;
}

/* ---- data path ---- */

void gw_input(struct gateway *g, const struct frame *f, uint64_t now)
{
	const uint8_t *frame = f->data;
	size_t len = f->len;
	uint8_t reply[DHCP_FRAME_MAX];
	uint64_t ex, cf, cc;
	int n;

	g->ctr.rx_frames++;
	if (len < 14) {
		g->ctr.runt++;
		return;
	}
	ex = g->dhcp.ctr.exhausted;
	cf = g->dhcp.ctr.conflicts;
	cc = g->dhcp.ctr.claims_capped;
	n = dhcp_input(&g->dhcp, frame, len, now, reply, sizeof(reply));
	if (g->dhcp.ctr.conflicts != cf) {
		char m[18];

		log_rl(&rl_dhcp, LOG_NOTICE, "DHCP: %s says it uses an address we were about to offer: "
		       "skipping that address", mac_fmt(frame + 6, m));
	}
	if (g->dhcp.ctr.exhausted != ex) {
		char m[18];

		log_rl(&rl_dhcp, LOG_WARNING, "DHCP pool exhausted: no offer for %s (%llu refused so far)",
		       mac_fmt(frame + 6, m), (unsigned long long)g->dhcp.ctr.exhausted);
	}
	if (n > 0) {
		g->ctr.dhcp_replies++;
		out_frame(g, reply, (size_t)n);
	}
	if (g->dhcp.ctr.claims_capped != cc) {
		char m[18];

		log_rl(&rl_claim, LOG_WARNING, "DHCP: %s claims more than %d pool addresses (ARP or IPv4 "
		       "sources): its further claims are ignored (%llu so far)", mac_fmt(frame + 6, m),
		       DHCP_CLAIM_MAX, (unsigned long long)g->dhcp.ctr.claims_capped);
	}
	if (n == -EBADMSG) {
		char m[18];

		log_rl(&rl_bad, LOG_WARNING, "dropped a malformed DHCP frame from %s (%llu so far)",
		       mac_fmt(frame + 6, m), (unsigned long long)g->dhcp.ctr.malformed);
	}
	if (n == DHCP_SPOOFED) {
		char m[18];

		log_rl(&rl_spoof, LOG_WARNING, "dropped a DHCP message from %s naming another client "
		       "(chaddr is not its source MAC; %llu so far)", mac_fmt(frame + 6, m),
		       (unsigned long long)g->dhcp.ctr.spoofed);
	}
	if (n != DHCP_NOT_DHCP)
		return;
	if (!(frame[0] & 1) && !is_own(g, frame)) {
		g->ctr.not_for_us++;
		return;
	}
	g->ctr.to_slirp++;
	slirp_input(g->slirp, frame, (int)len);
}

void gw_flush(struct gateway *g)
{
	gro_end(g);
	if (!g->on)
		return;
	uplink_send(g->up, g->of, g->on);
	g->ctr.tx_msgs++;
	g->on = 0;
	g->oused = 0;
}

void gw_note_vnet(struct gateway *g, const struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const uint8_t *src;

		if (!(f[i].flags & FRAME_VNET) || f[i].len < VMF_VNET_HDR_LEN + 12)
			continue;
		src = f[i].data + VMF_VNET_HDR_LEN + 6;
		if ((src[0] & 1) || is_vnet_peer(g, src))
			continue;
		memcpy(g->vpeer[g->next_vpeer], src, 6);
		g->next_vpeer = (g->next_vpeer + 1) % GW_VNET_PEERS;
		if (g->n_vpeer < GW_VNET_PEERS)
			g->n_vpeer++;
	}
}

/* ---- event loop glue ---- */

/* libslirp wants socket @fd polled this pass: a slot without callback (gw_after reads it). */
static int cb_add_poll(int fd, int events, void *opaque)
{
	struct gateway *g = opaque;
	short ev = 0;
	int h;

	if (g->n_slirp_h == g->cap_slirp_h) {
		int *n = realloc(g->slirp_h, (size_t)g->cap_slirp_h * 2 * sizeof(*n));

		if (!n)
			return -1;	/* that socket is not polled this pass */
		g->slirp_h = n;
		g->cap_slirp_h *= 2;
	}
	if (events & SLIRP_POLL_IN)
		ev |= ZMQ_POLLIN;
	if (events & SLIRP_POLL_OUT)
		ev |= ZMQ_POLLOUT;
	if (events & SLIRP_POLL_PRI)
		ev |= ZMQ_POLLPRI;
	h = ev_add_fd(g->loop, fd, ev, NULL, NULL);
	if (h < 0)
		return -1;
	g->slirp_h[g->n_slirp_h++] = h;
	return h;
}

static int cb_get_revents(int idx, void *opaque)
{
	struct gateway *g = opaque;
	short r = ev_revents(g->loop, idx);
	int ev = 0;

	if (r & ZMQ_POLLIN)
		ev |= SLIRP_POLL_IN;
	if (r & ZMQ_POLLOUT)
		ev |= SLIRP_POLL_OUT;
	if (r & ZMQ_POLLPRI)
		ev |= SLIRP_POLL_PRI;
	if (r & ZMQ_POLLERR)	/* zmq_poll folds POLLHUP and POLLERR into this */
		ev |= SLIRP_POLL_ERR | SLIRP_POLL_HUP;
	return ev;
}

/* Before the loop sleeps: due work, libslirp's sockets, and the time to the next deadline. */
static long gw_before(struct ev_loop *l, uint64_t now, void *arg)
{
	struct gateway *g = arg;
	uint32_t t = UINT32_MAX;
	long td;

	(void)l;
	gw_tick(g, now);
	now = now_ms();
	td = dhcp_timeout(&g->dhcp, now);
	while (g->n_slirp_h)
		ev_del(g->loop, g->slirp_h[--g->n_slirp_h]);
	for (int i = 0; i < GW_TIMERS; i++) {
		const struct gw_timer *tm = &g->timers[i];

		if (tm->used && tm->expire_ms >= 0) {
			uint32_t left = tm->expire_ms > (int64_t)now ? (uint32_t)(tm->expire_ms - (int64_t)now) : 0;

			if (left < t)
				t = left;
		}
	}
	if (td >= 0 && (uint32_t)td < t)
		t = (uint32_t)td;
	slirp_pollfds_fill(g->slirp, &t, cb_add_poll, g);
	return t == UINT32_MAX ? -1 : (long)t;
}

static void gw_after(struct ev_loop *l, int poll_failed, void *arg)
{
	struct gateway *g = arg;

	(void)l;
	slirp_pollfds_poll(g->slirp, poll_failed, cb_get_revents, g);
}

int gw_attach(struct gateway *g, struct ev_loop *l)
{
	g->loop = l;
	return ev_hook(l, gw_before, gw_after, g);
}

void gw_tick(struct gateway *g, uint64_t now)
{
	uint8_t reply[DHCP_FRAME_MAX];
	int n;

	for (int i = 0; i < GW_TIMERS; i++) {
		struct gw_timer *t = &g->timers[i];

		if (t->used && t->expire_ms >= 0 && t->expire_ms <= (int64_t)now) {
			t->expire_ms = -1;
			slirp_handle_timer(g->slirp, t->id, t->cb_opaque);
		}
	}
	while ((n = dhcp_poll(&g->dhcp, now, reply, sizeof(reply))) > 0) {
		g->ctr.dhcp_replies++;
		out_frame(g, reply, (size_t)n);
	}
	gw_flush(g);
	gw_save(g, 0);
}
