/* main.c - vmfabric-nic: one guest NIC on the fabric (options, event loop) */

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "backend.h"
#include "busypoll.h"
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "offload.h"
#include "priv.h"
#include "uplink.h"
#include "util.h"
#include "vhost_user.h"

/* The options: what the option table below writes, the program's defaults in place */
static struct nic_conf {
	char *failback, *sw, *server_key, *key, *network, *name, *stream, *stream_listen, *dgram;
	char *tap, *netns, *vhost, *bridge, *ovs_bridge;
	long fd, mtu, busy_poll, link_fd;
	int insecure, stream_replace;
	int offload;	/* -1: not given (on with --tap) */
} cfg = { .fd = -1, .mtu = 1500, .link_fd = -1, .offload = -1 };

static const struct conf_opt opts[] = {
	UPLINK_CONF_OPTS(&cfg.sw, &cfg.server_key, &cfg.failback, &cfg.key),
	{ "network", 'N', CONF_STR, &cfg.network, "NAME", "network to join (default: default)", 0, 0 },
	{ "name", 0, CONF_STR, &cfg.name, "PORTNAME", "port name, unique in the network (default: HOSTNAME/backend)", 0, 0 },
	{ "mtu", 0, CONF_INT, &cfg.mtu, "BYTES", "MTU of the guest link (default 1500); the network's MTU, told by the switch, is set on a TAP and raises the frame bound (up to 9216 without this option)", VMF_MTU_MIN, 65000 },
	{ "busy-poll", 0, CONF_INT, &cfg.busy_poll, "USEC", "after each frame keep a CPU awake this long with an idle-priority poller: cuts wake-up latency, costs idle CPU (default 0: off)", 0, 1000000 },
	{ "insecure", 0, CONF_BOOL, &cfg.insecure, NULL, "no CURVE (the switch must be --insecure too)", 0, 0 },
	{ "stream", 0, CONF_STR, &cfg.stream, "unix:PATH|tcp:HOST:PORT", "connect to QEMU -netdev stream,server=on / socket,listen=", 0, 0 },
	{ "stream-listen", 0, CONF_STR, &cfg.stream_listen, "unix:PATH|tcp:HOST:PORT", "listen for QEMU -netdev stream,server=off / socket,connect=; one connection at a time, later ones are refused", 0, 0 },
	{ "stream-replace", 0, CONF_BOOL, &cfg.stream_replace, NULL, "with --stream-listen: a new connection replaces the live one (anyone who reaches the listener can then take the port over)", 0, 0 },
	{ "dgram", 0, CONF_STR, &cfg.dgram, "LOCAL,REMOTE", "QEMU -netdev dgram: bind LOCAL (QEMU's remote), send to REMOTE (QEMU's local); unix:PATH or udp:HOST:PORT; datagrams from elsewhere are dropped", 0, 0 },
	{ "fd", 0, CONF_INT, &cfg.fd, "N", "inherited socket (stream or datagram, detected)", 0, 1 << 20 },
	{ "tap", 0, CONF_STR, &cfg.tap, "IFNAME", "create or attach TAP device IFNAME and bring it up", 0, 0 },
	{ "offload", 0, CONF_ONOFF, &cfg.offload, "on|off", "with --tap: TSO/checksum offloads, 64 KiB segments through the fabric (default on)", 0, 0 },
	{ "vhost-user", 0, CONF_STR, &cfg.vhost, "PATH", "serve vhost-user on unix socket PATH (QEMU -chardev socket,path=PATH -netdev vhost-user; guest RAM shared): offloads, no copies in QEMU", 0, 0 },
	{ "link-fd", 0, CONF_INT, &cfg.link_fd, "N", "write the link state the switch tells (vmfabric-ctl link) to inherited fd N: one byte, '1' up or '0' down, after every Welcome and change (vmfabric-qemu passes it on to QEMU's set_link)", 3, 1 << 20 },
	{ "netns", 0, CONF_STR, &cfg.netns, "NAME", "with --tap: the TAP lives in network namespace NAME (ip netns)", 0, 0 },
	{ "bridge", 0, CONF_STR, &cfg.bridge, "BR", "with --tap: make the TAP a port of the existing Linux bridge BR, with its MTU (an uplink into a host L2 fabric)", 0, 0 },
	{ "ovs-bridge", 0, CONF_STR, &cfg.ovs_bridge, "BR", "with --tap: add the TAP to Open vSwitch bridge BR (ovs-vsctl add-port; offloads off)", 0, 0 },
	{ NULL, 0, 0, NULL, NULL, NULL, 0, 0 },
};

/*
 * The switch told the network's MTU and the link state (after each Welcome,
 * and each LinkState): the backend shows them to the guest side (a TAP's MTU
 * and carrier), and --link-fd passes the link state on (vmfabric-qemu's QMP).
 */
static void on_state(void *arg, uint32_t mtu, int link_up)
{
	static struct ratelimit rl = RATELIMIT_INIT;
	char b = link_up ? '1' : '0';

	backend_set_state(arg, mtu, link_up);
	if (cfg.link_fd >= 0 && write((int)cfg.link_fd, &b, 1) != 1)
		log_rl(&rl, LOG_WARNING, "--link-fd %ld: %s", cfg.link_fd, strerror(errno));
}

static void log_counters(const struct backend *be, const struct uplink *u,
			 const struct offload_out *oo_ctr)
{
	char up[320];

	uplink_ctr_text(u, up, sizeof(up));
	info("counters: guest rx %llu frames %llu bytes (runt %llu giant %llu), guest tx %llu frames "
	     "(dropped %llu, oversize %llu), framing errors %llu, connections refused %llu, "
	     "foreign datagrams %llu; %s; "
	     "offloads: %llu super-frames cut into %llu segments, %llu checksums completed, %llu bad",
	     (unsigned long long)be->ctr.rx_frames, (unsigned long long)be->ctr.rx_bytes,
	     (unsigned long long)be->ctr.rx_runt, (unsigned long long)be->ctr.rx_giant,
	     (unsigned long long)be->ctr.tx_frames, (unsigned long long)be->ctr.tx_drop,
	     (unsigned long long)be->tx.oversize, (unsigned long long)be->ctr.framing_errors,
	     (unsigned long long)be->ctr.refused, (unsigned long long)be->ctr.foreign, up,
	     (unsigned long long)oo_ctr->segmented,
	     (unsigned long long)oo_ctr->segments, (unsigned long long)oo_ctr->csummed,
	     (unsigned long long)oo_ctr->bad);
	if (be->vh)
		vhost_user_log_counters(be->vh);
}

/*
 * The NIC process: a guest side (backend) and the switch (uplink), one loop
 * between them; the guest side's slots and the fds they poll this pass.
 */
static struct daemon d;
static struct backend be;
static struct uplink up;
static struct busypoll *bp;
static struct offload_out oo;
static int h_data, h_listen, h_out, h_ctl;
static int dfd = -1, cfd = -1;

static void nic_usr1(struct ev_loop *l, int sig, void *arg)
{
	(void)l;
	(void)sig;
	(void)arg;
	log_counters(&be, &up, &oo);
}

/* The guest side can take more: flush what is queued for it. */
static void nic_guest_writable(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)h;
	(void)revents;
	(void)arg;
	backend_writable(&be);
}

/* Frames from the guest (or a batch left at a full one): to the switch. */
static void nic_guest_readable(struct ev_loop *l, int h, short revents, void *arg)
{
	int n;

	(void)l;
	(void)h;
	(void)revents;
	(void)arg;
	if (dfd < 0)
		return;
	n = backend_read(&be);
	if (n > 0) {
		busypoll_kick(bp);
		uplink_send(&up, be.frames, (size_t)n);
	}
	backend_read_done(&be);
}

static void nic_guest_accept(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)h;
	(void)arg;
	if (revents & ZMQ_POLLIN)
		backend_accept(&be);
}

/* vhost-user's control socket (the backend's further fd) */
static void nic_guest_ctl(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)h;
	(void)revents;
	(void)arg;
	if (cfd >= 0)
		backend_ctl(&be, cfd);
}

/* Batches from the switch: to the guest. Return: 1 if the budget ran out */
static int nic_uplink_readable(void *arg)
{
	struct frame *f;
	size_t nf;
	int budget;

	(void)arg;
	/* a bounded share per wake-up: the guest side and keepalives get theirs */
	for (budget = UPLINK_RECV_BUDGET;
	     budget > 0 && uplink_recv(&up, &f, &nf, NULL) == 1; budget--) {
		busypoll_kick(bp);
		if (be.vnet) {
			backend_write_vnet(&be, f, nf);
			continue;
		}
		/* a guest side without offloads gets segments and full checksums */
		offload_plain(&oo, f, nf);
		backend_write(&be, oo.f, oo.n);
	}
	return !budget;
}

/*
 * Before each sleep: the backend's reconnect timing, the end of an inherited
 * socket (the NIC exits with it), and the fds the guest side wants polled.
 */
static long nic_tick(struct ev_loop *l, uint64_t now, void *arg)
{
	int lfd, ofd;

	(void)arg;
	backend_tick(&be, now);
	if ((be.kind == BE_STREAM_FD || be.kind == BE_DGRAM_FD) && be.fd < 0) {
		info("guest side closed its socket: exiting");
		ev_stop(l);
		return -1;
	}
	backend_fds(&be, &dfd, &lfd, &ofd);
	cfd = -1;
	backend_ctl_fds(&be, &cfd, 1);
	ev_set_fd(l, h_data, dfd, ZMQ_POLLIN);
	ev_set_fd(l, h_listen, lfd, ZMQ_POLLIN);
	ev_set_fd(l, h_out, ofd, ZMQ_POLLOUT);
	ev_set_fd(l, h_ctl, cfd, ZMQ_POLLIN);
	if (backend_pending(&be))
		ev_more(l, h_data);	/* work is waiting where poll() cannot see it: just look */
	return backend_timeout(&be, now_ms());
}

int main(int argc, char **argv)
{
	struct conf_std std = { 0 };
	struct ev_loop *l = &d.loop;
	struct uplink_conf uc;
	struct backend_conf bc;
	char name[VMF_NAME_MAX], host[64] = "host", errbuf[512], desc[300];
	const char *why = NULL;
	int rc, nbe;

	log_init("vmfabric-nic");
	rc = conf_parse("vmfabric-nic",
			"--switch EP --server-key PUBFILE --key SECRETFILE --network NAME --name PORTNAME\n"
			"       (--stream ADDR | --stream-listen ADDR | --dgram LOCAL,REMOTE | --fd N | --tap IFNAME [--netns NAME] |\n"
			"        --vhost-user PATH)",
			opts, &std, argc, argv, NULL);
	if (rc)
		return conf_exit(rc);

	nbe = !!cfg.stream + !!cfg.stream_listen + !!cfg.dgram + (cfg.fd >= 0) + !!cfg.tap + !!cfg.vhost;
	if (!cfg.network)
		cfg.network = "default";
	if (!cfg.name) {
		gethostname(host, sizeof(host) - 1);
		snprintf(name, sizeof(name), "%.30s/%.20s", host, cfg.tap ? cfg.tap : "nic");
		cfg.name = name;
	}
	if (std.check) {
		conf_print(stdout, opts, &std);
		return 0;
	}
	log_set_debug(std.debug);
	log_set_object(cfg.name);
	uc = (struct uplink_conf){ .endpoint = cfg.sw, .server_key = cfg.server_key,
				   .key = cfg.key, .network = cfg.network, .name = cfg.name,
				   .mtu = cfg.mtu, .insecure = cfg.insecure,
				   .on_state = on_state, .cb_arg = &be };
	uplink_conf_failback(&uc, cfg.failback);
	uplink_conf_check(&uc);
	if (nbe != 1)
		die(EXIT_USAGE, "give exactly one backend: --stream, --stream-listen, --dgram, --fd, --tap or --vhost-user");
	if (cfg.netns && !cfg.tap)
		die(EXIT_USAGE, "--netns only applies to --tap");
	if ((cfg.bridge || cfg.ovs_bridge) && !cfg.tap)
		die(EXIT_USAGE, "--bridge and --ovs-bridge only apply to --tap");

	if (cfg.offload >= 0 && !cfg.tap)
		die(EXIT_USAGE, "--offload only applies to --tap");
	if (cfg.stream_replace && !cfg.stream_listen)
		die(EXIT_USAGE, "--stream-replace only applies to --stream-listen");
	bc = (struct backend_conf){ cfg.stream, cfg.stream_listen, cfg.dgram, cfg.tap, cfg.netns,
				    cfg.fd, cfg.mtu, cfg.offload != 0,
				    cfg.bridge, cfg.ovs_bridge, cfg.stream_replace, cfg.vhost };
	/* the TAP is opened (and the namespace entered) before any thread exists */
	rc = backend_open(&be, &bc, &why, errbuf, sizeof(errbuf));
	if (rc)
		die(EXIT_CONFIG, "%s%s%s", why ? why : "backend", rc != -EINVAL ? ": " : "",
		    rc != -EINVAL ? strerror(-rc) : "");
	daemon_start(&d, &std, 0);
	if (cfg.link_fd >= 0) {
		int fl = fcntl((int)cfg.link_fd, F_GETFL);

		/* never block the loop on a slow reader: a lost byte is logged */
		if (fl < 0 || fcntl((int)cfg.link_fd, F_SETFD, FD_CLOEXEC) ||
		    fcntl((int)cfg.link_fd, F_SETFL, fl | O_NONBLOCK))
			die(EXIT_CONFIG, "--link-fd %ld: %s", cfg.link_fd, strerror(errno));
	}
	/* a TAP's MTU helper keeps CAP_NET_ADMIN for that one job (tap.c) */
	if ((rc = backend_priv_start(&be, &why)))
		die(1, "%s: %s", why, strerror(-rc));

	/*
	 * The TAP is open: nothing privileged is left to do. Drop every
	 * capability before the first thread exists (ZeroMQ's), keeping only
	 * CAP_DAC_OVERRIDE for a backend that reconnects to socket paths
	 * another user (QEMU's) may own. The keys are read after this.
	 */
	{
		uint64_t keep = be.local.family == AF_UNIX || be.remote.family == AF_UNIX ?
				PRIV_CAP(CAP_DAC_OVERRIDE) : 0;

		if ((rc = priv_drop_caps(keep, &why)))
			die(1, "cannot drop privileges: %s: %s", why, strerror(-rc));
		info("privileges dropped: %s", priv_caps() ? "only CAP_DAC_OVERRIDE kept (socket paths)"
							   : "no capabilities left");
	}
	if (uplink_init(&up, &uc, d.zctx))
		die(EXIT_CONFIG, "cannot set up the switch connection");
	if (offload_out_init(&oo, 4096, 4 * (size_t)VMF_MAX_BATCH_BYTES))
		die(1, "out of memory");
	info("%s <-> %s network %s (%s%s)", backend_describe(&be, desc, sizeof(desc)), cfg.sw,
	     cfg.network, cfg.insecure ? "insecure" : "CURVE", be.kind == BE_VHOST ? ", offloads as the guest negotiates" :
	     be.vnet ? ", TAP offloads on" : "");

	bp = busypoll_start((unsigned)cfg.busy_poll);
	/* slots in the order the old loop handled them where it matters: signals, the switch's monitor first */
	if (ev_signal(l, SIGUSR1, nic_usr1, NULL) ||
	    uplink_attach(&up, l, nic_uplink_readable, NULL) ||
	    (h_out = ev_add_fd(l, -1, 0, nic_guest_writable, NULL)) < 0 ||
	    (h_data = ev_add_fd(l, -1, 0, nic_guest_readable, NULL)) < 0 ||
	    (h_listen = ev_add_fd(l, -1, 0, nic_guest_accept, NULL)) < 0 ||
	    (h_ctl = ev_add_fd(l, -1, 0, nic_guest_ctl, NULL)) < 0 ||
	    ev_hook(l, nic_tick, NULL, NULL))
		die(1, "cannot set up the event loop");
	if ((rc = ev_run(l)))
		die(1, "zmq_poll: %s", zmq_strerror(-rc));
	busypoll_stop(bp);
	uplink_bye(&up, "NIC process stopping");
	log_counters(&be, &up, &oo);
	uplink_free(&up);
	daemon_end(&d);
	backend_close(&be);
	offload_out_free(&oo);
	return 0;
}
