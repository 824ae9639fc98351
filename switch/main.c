/* main.c - vmfabric-switch: options, sockets, the event loop */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "busypoll.h"
#include "cert.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "impair.h"
#include "log.h"
#include "metrics.h"
#include "priv.h"
#include "stats.h"
#include "switch.h"
#include "uplink.h"
#include "util.h"
#include "vlanport.h"
#include "zap.h"

/* The options: what the option table below writes, the program's defaults in place */
static struct sw_opts {
	char *key, *authorized, *stats, *control, *admin, *metrics, *user, *uplink;
	char *uplink_server_key, *uplink_key, *uplink_networks, *switch_id, *uplink_name;
	char *uplink_failback;
	struct conf_list lock, listen, net_mtu, port_vlan, impair;
	long io_threads, hwm, busy_poll;
	int insecure;
} cfg = { .io_threads = 2, .hwm = 256 };
static struct switch_conf sconf = {
	.max_ports = 1024, .max_networks = 64, .max_macs = 4096, .mac_age_s = 300,
	.mtu = 1500, .keepalive_ms = 1000, .port_macs = 256,
};

static const struct conf_opt opts[] = {
	{ "listen", 'l', CONF_LIST, &cfg.listen, "EP", "ZeroMQ endpoint to bind (tcp://ADDR:PORT or ipc://PATH); repeatable: every one is bound", 0, 0 },
	{ "key", 'k', CONF_STR, &cfg.key, "SECRETFILE", "switch secret certificate (vmfabric-key generate)", 0, 0 },
	{ "authorized", 'a', CONF_STR, &cfg.authorized, "DIR", "directory of admitted port public certificates", 0, 0 },
	{ "insecure", 0, CONF_BOOL, &cfg.insecure, NULL, "no CURVE, no admission (plain text; testing only)", 0, 0 },
	{ "io-threads", 0, CONF_INT, &cfg.io_threads, "N", "ZeroMQ I/O threads (where CURVE runs; default 2)", 1, 64 },
	{ "max-ports", 0, CONF_INT, &sconf.max_ports, "N", "most ports at once (default 1024)", 2, 65536 },
	{ "max-networks", 0, CONF_INT, &sconf.max_networks, "N", "most networks at once (default 64)", 1, 4096 },
	{ "max-macs", 0, CONF_INT, &sconf.max_macs, "N", "MAC table bound per network (default 4096)", 16, 1048576 },
	{ "port-macs", 0, CONF_INT, &sconf.port_macs, "N", "port security: MAC entries one port may hold, more new sources are dropped (mac_limit); a key's max-macs policy overrides; 0: only --max-macs (default 256)", 0, 1048576 },
	{ "mac-age", 0, CONF_INT, &sconf.mac_age_s, "SECONDS", "forget a MAC not seen for this long (default 300)", 1, 86400 },
	{ "mtu", 0, CONF_INT, &sconf.mtu, "BYTES", "MTU of every network (default 1500)", VMF_MTU_MIN, 65000 },
	{ "network-mtu", 0, CONF_LIST, &cfg.net_mtu, "NAME=BYTES", "MTU of network NAME (e.g. lab=9000 for jumbo frames); ports learn it when they join; repeatable; default --mtu", 0, 0 },
	{ "keepalive", 0, CONF_INT, &sconf.keepalive_ms, "MS", "keepalive interval told to ports; 3 missed end a port (default 1000)", 100, 60000 },
	{ "busy-poll", 0, CONF_INT, &cfg.busy_poll, "USEC", "after each frame keep a CPU awake this long with an idle-priority poller: cuts wake-up latency, costs idle CPU (default 0: off)", 0, 1000000 },
	{ "hwm", 0, CONF_INT, &cfg.hwm, "MSGS", "ZeroMQ queue bound per port, in batches (default 256)", 1, 100000 },
	{ "control", 0, CONF_STR, &cfg.control, "EP", "management endpoint: ipc://PATH (0600) or tcp://ADDR:PORT (CURVE, admin keys); 'none' disables (default " CONTROL_DEFAULT ")", 0, 0 },
	{ "admin-authorized", 0, CONF_STR, &cfg.admin, "DIR", "admin public certificates admitted on a tcp:// --control endpoint", 0, 0 },
	{ "metrics", 0, CONF_STR, &cfg.metrics, "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics", 0, 0 },
	{ "stats-file", 0, CONF_STR, &cfg.stats, "FILE", "write counters as JSON to FILE on SIGUSR1 and at exit", 0, 0 },
	{ "lock-mac", 0, CONF_LIST, &cfg.lock, "PORT=MAC[,MAC]", "port security: port PORT may only send from these MACs; others are dropped (locked_mac); repeatable", 0, 0 },
	{ "port-vlan", 0, CONF_LIST, &cfg.port_vlan, "PORT=SPEC", "802.1Q for port name PORT: access:VID, trunk:VIDS[:native:VID] (VIDS: 10,20-30 or all) or none; over its key's vlans policy, under vmfabric-ctl port PORT vlan; repeatable", 0, 0 },
	{ "impair", 0, CONF_LIST, &cfg.impair, "PORT=SPEC", "link impairment of port PORT, e.g. vm1/eth0=delay=50ms,jitter=5ms,loss=1%,rate=10mbit,direction=out; SPEC as vmfabric-ctl impair (keys delay jitter loss loss-burst ge dup reorder rate rate-burst queue queue-bytes seed direction); repeatable", 0, 0 },
	{ "user", 0, CONF_STR, &cfg.user, "NAME", "after start-up (sockets bound, keys read), run as user NAME; needs root", 0, 0 },
	{ "uplink", 0, CONF_STR, &cfg.uplink, "EP[,EP...]", "make this switch a child: join the parent switch at EP over one trunk carrying its networks; several parents in priority order fail over", 0, 0 },
	{ "uplink-server-key", 0, CONF_STR, &cfg.uplink_server_key, "PUBFILE[,PUBFILE...]", "the parent switch's public certificate (one for all parents, or one each)", 0, 0 },
	{ "uplink-key", 0, CONF_STR, &cfg.uplink_key, "SECRETFILE", "this switch's key towards its parent (admitted there with policy trunk = yes); default --key", 0, 0 },
	{ "uplink-networks", 0, CONF_STR, &cfg.uplink_networks, "NET[,NET...]", "networks the trunk carries (default: every network)", 0, 0 },
	{ "uplink-failback", 0, CONF_STR, &cfg.uplink_failback, "on|off|SECONDS", "with several --uplink endpoints: move back to a higher-priority parent once it has been up this long (on: 10 s)", 0, 0 },
	{ "uplink-name", 0, CONF_STR, &cfg.uplink_name, "NAME", "the trunk's port name at the parent (default switch/ID)", 0, 0 },
	{ "switch-id", 0, CONF_STR, &cfg.switch_id, "ID", "this switch's id in a tree of switches (default: from its public key, stable across restarts)", 0, 0 },
	{ NULL, 0, 0, NULL, NULL, NULL, 0, 0 },
};

static void write_stats(struct vswitch *sw)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -ENOMEM;

	if (!cfg.stats)
		return;
	f = open_memstream(&buf, &len);
	if (f) {
		stats_json(sw, f);
		rc = fclose(f) ? -errno : file_replace(cfg.stats, buf, len, 0644, 0);
	}
	if (rc)
		warn("cannot write %s: %s", cfg.stats, strerror(-rc));
	free(buf);
}

static void zap_warn(const char *msg)
{
	warn("authorized keys: %s (not admitted)", msg);
}

static void zap_denied(const char *key, const char *addr, int admin)
{
	static struct ratelimit rl = RATELIMIT_INIT;

	log_rl(&rl, LOG_WARNING, "refused %skey %s from %s: not in %s", admin ? "admin " : "", key,
	       addr, admin ? cfg.admin : cfg.authorized);
}

static int load_keys(struct zap *z)
{
	struct keyset ks, admin = { 0 };
	int rc = keyset_load_dir(&ks, cfg.authorized, zap_warn);

	if (rc)
		return rc;
	if (cfg.admin && (rc = keyset_load_dir(&admin, cfg.admin, zap_warn))) {
		keyset_free(&ks);
		return rc;
	}
	keyset_free(&z->keys);
	keyset_free(&z->admin_keys);
	z->keys = ks;
	z->admin_keys = admin;
	return 0;
}

static struct zap zap;
static struct vswitch sw;
static struct uplink up;
static int announce_due;
static char carry_buf[VMF_MAX_BATCH_NETS][VMF_NAME_MAX];
static char *carry[VMF_MAX_BATCH_NETS];
static size_t n_carry;

/* Each trunk Hello: the networks it carries, and this switch's path (itself, then above). */
static void trunk_hello_fill(void *arg, Vmfabric__Hello *h)
{
	static char *path[VMF_MAX_PATH];
	struct vswitch *s = arg;

	h->kind = VMF_KIND_TRUNK;
	h->networks = carry;
	h->n_networks = n_carry;
	path[0] = (char *)(uintptr_t)s->conf.id;
	for (uint32_t i = 0; i < s->n_ancestors && i + 1 < VMF_MAX_PATH; i++)
		path[i + 1] = s->ancestors[i];
	h->path = path;
	h->n_path = 1 + MIN(s->n_ancestors, (uint32_t)VMF_MAX_PATH - 1);
}

/* The parent's Welcome: our place in the tree is below it and what is above it. */
static int trunk_welcome(void *arg, const Vmfabric__Welcome *w)
{
	char *path[VMF_MAX_PATH];
	size_t n = 0;

	if (!codec_valid_name(w->switch_id)) {
		warn("uplink: the parent's Welcome has no switch id (protocol version 1?)");
		return -EPROTO;
	}
	path[n++] = w->switch_id;
	for (size_t i = 0; i < w->n_path && n < VMF_MAX_PATH; i++)
		path[n++] = w->path[i];
	/* networks the parent has take its MTU, unless --network-mtu says otherwise */
	switch_parent_mtus(arg, w->networks, w->n_networks);
	if (switch_uplink_state(arg, 1, path, n))
		return -ELOOP;
	announce_due = 1;	/* once the uplink is UP, after this callback */
	info("uplink: joined parent switch %s as a trunk (%zu switches above)", w->switch_id, n);
	return 0;
}

/*
 * The uplink's state as the tree sees it: once up (after its Welcome), the
 * MACs below are announced; once it is lost, this switch is a root (what
 * was learnt behind the parent goes, children are told) before any new
 * Hello leaves with the old path.
 */
static void uplink_watch(void)
{
	static int was_up;
	int is_up = up.state == UPLINK_UP;

	if (announce_due && is_up) {
		announce_due = 0;
		switch_announce(&sw);
	}
	if (was_up && !is_up) {
		warn("uplink: lost the parent switch; this switch is a root until it returns");
		switch_uplink_state(&sw, 0, NULL, 0);
	}
	was_up = is_up;
}

/* Before and after the uplink's tick (a hook each side of it): see uplink_watch(). */
static long sw_uplink_watch(struct ev_loop *l, uint64_t now, void *arg)
{
	(void)l;
	(void)now;
	(void)arg;
	uplink_watch();
	return -1;
}

/* Batches from the parent switch: forwarded (switch_uplink_input has its own budget). */
static int sw_uplink_readable(void *arg)
{
	(void)arg;
	switch_uplink_input(&sw);
	return 0;
}

/* A stable default id: from the public key (or, without one, the host and endpoints). */
static void default_id(char *id, size_t len, const uint8_t *pub)
{
	uint8_t h[6] = { 0 };
	char host[64] = "";

	if (pub) {
		memcpy(h, pub, sizeof(h));
	} else {
		uint64_t v = 0xcbf29ce484222325ULL;

		gethostname(host, sizeof(host) - 1);
		for (const char *c = host; *c; c++)
			v = (v ^ (uint8_t)*c) * 0x100000001b3ULL;
		for (size_t i = 0; i < cfg.listen.n; i++)
			for (const char *c = cfg.listen.v[i]; *c; c++)
				v = (v ^ (uint8_t)*c) * 0x100000001b3ULL;
		memcpy(h, &v, sizeof(h));
	}
	snprintf(id, len, "sw-%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5]);
}

/* SIGHUP and "vmfabric-ctl reload": re-read keys, drop ports that lost theirs. */
static int reload(void)
{
	int rc;

	if (cfg.insecure)
		return 0;
	rc = load_keys(&zap);
	if (rc) {
		err("reload: cannot read %s: %s (keeping the old keys)", cfg.authorized, strerror(-rc));
		return rc;
	}
	info("reloaded %s: %zu admitted keys%s", cfg.authorized, zap.keys.n,
	     cfg.admin ? " (and admin keys)" : "");
	switch_revoke(&sw);
	return 0;
}

static struct daemon d;
static struct control ctl;
static struct busypoll *bp;

static void sw_router_readable(struct ev_loop *l, int h, short revents, void *arg)
{
	uint64_t fwd = sw.ctr.frames_out;

	(void)l;
	(void)h;
	(void)revents;
	(void)arg;
	switch_input(&sw);
	/* frames, not keepalives, keep the poller going */
	if (sw.ctr.frames_out != fwd)
		busypoll_kick(bp);
}

static void sw_zap_readable(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)h;
	(void)revents;
	(void)arg;
	zap_handle(&zap);
}

static void sw_control_readable(struct ev_loop *l, int h, short revents, void *arg)
{
	(void)l;
	(void)h;
	(void)revents;
	(void)arg;
	control_input(&ctl);
}

static void sw_signal(struct ev_loop *l, int sig, void *arg)
{
	(void)l;
	(void)arg;
	if (sig == SIGHUP)
		reload();
	else
		write_stats(&sw);
}

/*
 * Before each sleep: held frames whose time came (impairments), the
 * once-a-second tick with the loop's utilisation of the last second (for
 * "vmfabric-ctl stats"); no sleeping past a held frame or the next tick.
 */
static long sw_tick(struct ev_loop *l, uint64_t now, void *arg)
{
	static uint64_t next_tick, work0, total0;

	(void)arg;
	impair_run(&sw);
	now = now_ms();
	if (!next_tick) {
		next_tick = now + 1000;
	} else if (now >= next_tick) {
		switch_tick(&sw, now);
		next_tick = now + 1000;
		sw.busy_us = l->work_us - work0;
		sw.total_us = l->work_us + l->wait_us - total0;
		work0 = l->work_us;
		total0 = l->work_us + l->wait_us;
	}
	return impair_timeout(&sw, (long)(next_tick - now));
}

int main(int argc, char **argv)
{
	struct conf_std std = { 0 };
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	char why[1024];
	struct metrics met = { .lfd = -1 };
	struct ev_loop *l = &d.loop;
	struct mac_lock *locks;
	int tcp_control;
	void *ctx, *router;
	int rc, one = 1, zero = 0, maxmsg;

	log_init("vmfabric-switch");
	rc = conf_parse("vmfabric-switch", "--listen EP --key SECRETFILE --authorized DIR [options]",
			opts, &std, argc, argv, NULL);
	if (rc)
		return conf_exit(rc);
	if (std.check) {
		conf_print(stdout, opts, &std);
		return 0;
	}
	log_set_debug(std.debug);
	if (!cfg.listen.n)
		die(EXIT_USAGE, "--listen EP is required (e.g. tcp://0.0.0.0:7000)");
	locks = calloc(cfg.lock.n ? cfg.lock.n : 1, sizeof(*locks));
	for (size_t i = 0; locks && i < cfg.lock.n; i++) {
		const char *lwhy;

		if (mac_lock_parse(cfg.lock.v[i], &locks[i], &lwhy))
			die(EXIT_USAGE, "%s: '%s'", lwhy, cfg.lock.v[i]);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(locks[k].port, locks[i].port))
				die(EXIT_USAGE, "--lock-mac: port %s given twice (list its MACs once, "
				    "separated by commas)", locks[i].port);
	}
	if (!locks)
		die(1, "out of memory");
	{
		struct net_mtu *nm = calloc(cfg.net_mtu.n ? cfg.net_mtu.n : 1, sizeof(*nm));

		for (size_t i = 0; nm && i < cfg.net_mtu.n; i++) {
			const char *mwhy;

			if (net_mtu_parse(cfg.net_mtu.v[i], &nm[i], &mwhy))
				die(EXIT_USAGE, "%s: '%s'", mwhy, cfg.net_mtu.v[i]);
			for (size_t k = 0; k < i; k++)
				if (!strcmp(nm[k].name, nm[i].name))
					die(EXIT_USAGE, "--network-mtu: network %s given twice", nm[i].name);
		}
		if (!nm)
			die(1, "out of memory");
		sconf.net_mtus = nm;	/* lives as long as the process */
		sconf.n_net_mtus = cfg.net_mtu.n;
	}
	if (!cfg.control)
		cfg.control = CONTROL_DEFAULT;
	tcp_control = strcmp(cfg.control, "none") && strncmp(cfg.control, "ipc://", 6);
	if (tcp_control && (cfg.insecure || !cfg.admin))
		die(EXIT_USAGE, "a tcp:// --control endpoint needs CURVE: --key and --admin-authorized DIR "
		    "(and not --insecure)");
	if (cfg.insecure) {
		warn("--insecure: CURVE is off, traffic is plain text and any peer is admitted");
	} else {
		if (!cfg.key || !cfg.authorized)
			die(EXIT_USAGE, "--key SECRETFILE and --authorized DIR are required "
			    "(or --insecure for a plain-text test fabric)");
		if (cert_load_secret(cfg.key, pub, sec, why, sizeof(why)))
			die(EXIT_CONFIG, "%s", why);
		zap.on_deny = zap_denied;
		policy_impair_check = impair_check;	/* a bad impair policy keeps its key out */
		rc = load_keys(&zap);
		if (rc)
			die(EXIT_CONFIG, "cannot read authorized directory %s: %s", cfg.authorized,
			    strerror(-rc));
		if (!zap.keys.n)
			warn("no keys in %s: no port can join until keys are added (then SIGHUP)",
			     cfg.authorized);
	}
	{
		static char idbuf[VMF_NAME_MAX];

		if (cfg.switch_id && !codec_valid_name(cfg.switch_id))
			die(EXIT_USAGE, "--switch-id: 1-63 characters of A-Z a-z 0-9 - _ . / : @");
		if (!cfg.switch_id)
			default_id(idbuf, sizeof(idbuf), cfg.insecure ? NULL : pub);
		sconf.id = cfg.switch_id ? cfg.switch_id : idbuf;
	}
	if (!cfg.uplink && (cfg.uplink_server_key || cfg.uplink_key || cfg.uplink_networks ||
			    cfg.uplink_name || cfg.uplink_failback))
		die(EXIT_USAGE, "--uplink-server-key, --uplink-key, --uplink-networks, --uplink-name "
		    "and --uplink-failback need --uplink EP");
	if (cfg.uplink && !cfg.insecure && !cfg.uplink_server_key)
		die(EXIT_USAGE, "--uplink needs --uplink-server-key PUBFILE (the parent's public certificate)");
	if (cfg.uplink_networks) {
		char list[1024], *save = NULL;

		str_copy(list, cfg.uplink_networks, sizeof(list));
		for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (!codec_valid_name(t) || n_carry == VMF_MAX_BATCH_NETS)
				die(EXIT_USAGE, "--uplink-networks: up to %d network names separated by commas",
				    VMF_MAX_BATCH_NETS);
			str_copy(carry_buf[n_carry], t, VMF_NAME_MAX);
			carry[n_carry] = carry_buf[n_carry];
			n_carry++;
		}
	}
	for (size_t i = 0; i < cfg.port_vlan.n; i++) {
		const char *eq = strchr(cfg.port_vlan.v[i], '='), *vwhy = "";
		char name[VMF_NAME_MAX] = "";
		struct vlan_conf vc;

		if (eq && (size_t)(eq - cfg.port_vlan.v[i]) < sizeof(name))
			memcpy(name, cfg.port_vlan.v[i], (size_t)(eq - cfg.port_vlan.v[i]));
		if (eq && !codec_valid_name(name))
			vwhy = "port names: 1-63 characters of A-Z a-z 0-9 - _ . / : @";
		if (!eq || *vwhy || vlan_parse(eq + 1, &vc, &vwhy))
			die(EXIT_USAGE, "--port-vlan '%s': %s", cfg.port_vlan.v[i],
			    eq ? vwhy : "wants PORT=access:VID or PORT=trunk:VIDS[:native:VID]");
	}
	daemon_start(&d, &std, (int)cfg.io_threads);
	ctx = d.zctx;
	if (!cfg.insecure && (rc = zap_start(&zap, ctx)))
		die(1, "cannot start ZAP handler: %s", strerror(-rc));
	router = zmq_socket(ctx, ZMQ_ROUTER);
	maxmsg = VMF_MAX_MSG;
	{
		int64_t mm = maxmsg;
		int hwm = (int)cfg.hwm;

		zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &mm, sizeof(mm));
		zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	}
	zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
	if (!cfg.insecure) {
		rc = zap_server_setup(router, sec, ZAP_DOMAIN_PORTS);
		if (rc)
			die(1, "CURVE setup: %s", strerror(-rc));
	}
	for (size_t i = 0; i < cfg.listen.n; i++) {
		const char *ep = cfg.listen.v[i];

		for (size_t k = 0; k < i; k++)
			if (!strcmp(cfg.listen.v[k], ep))
				die(EXIT_USAGE, "--listen %s given twice", ep);
		if (ep_bind(router, ep, 0660))
			die(EXIT_CONFIG, "cannot bind %s: %s", ep, zmq_strerror(errno));
	}
	if (switch_init(&sw, &sconf, router, cfg.insecure ? NULL : &zap))
		die(1, "out of memory");
	sw.locks = locks;
	sw.n_locks = cfg.lock.n;
	for (size_t i = 0; i < cfg.port_vlan.n; i++) {
		const char *vwhy;

		if (vlan_option(&sw, cfg.port_vlan.v[i], &vwhy))
			die(EXIT_USAGE, "--port-vlan '%s': %s", cfg.port_vlan.v[i], vwhy);
	}
	if (cfg.uplink) {
		static char uname[VMF_NAME_MAX];
		struct uplink_conf uc = {
			.endpoint = cfg.uplink, .server_key = cfg.uplink_server_key,
			.key = cfg.uplink_key ? cfg.uplink_key : cfg.key, .network = "trunk",
			.mtu = sconf.mtu, .insecure = cfg.insecure,
			.hello_fill = trunk_hello_fill, .on_welcome = trunk_welcome, .cb_arg = &sw,
		};

		uplink_conf_failback(&uc, cfg.uplink_failback);
		snprintf(uname, sizeof(uname), "switch/%s", sconf.id);
		uc.name = cfg.uplink_name ? cfg.uplink_name : uname;
		if (!codec_valid_name(uc.name))
			die(EXIT_USAGE, "--uplink-name: 1-63 characters of A-Z a-z 0-9 - _ . / : @");
		if (uplink_init(&up, &uc, ctx))
			die(EXIT_CONFIG, "cannot set up the uplink to %s", cfg.uplink);
		if (switch_uplink_start(&sw, &up, cfg.uplink_networks))
			die(1, "out of memory");
		info("uplink to %s as %s, carrying %s", cfg.uplink, uc.name,
		     cfg.uplink_networks ? cfg.uplink_networks : "every network");
	}
	for (size_t i = 0; i < cfg.impair.n; i++) {
		char iwhy[600];

		if (impair_option(&sw, cfg.impair.v[i], iwhy, sizeof(iwhy)))
			die(EXIT_USAGE, "%s", iwhy);
		info("impairment: %s", cfg.impair.v[i]);
	}
	if (strcmp(cfg.control, "none")) {
		rc = control_start(&ctl, ctx, cfg.control, tcp_control ? sec : NULL, &sw);
		if (rc == -EADDRINUSE)
			warn("control endpoint %s is served by another switch: no management channel "
			     "(give this one its own --control)", cfg.control);
		else if (rc)
			die(EXIT_CONFIG, "cannot bind control endpoint %s: %s", cfg.control,
			    zmq_strerror(-rc));
		else
			info("management on %s%s", cfg.control, tcp_control ? " (CURVE, admin keys)" : "");
		ctl.reload = reload;
	}
	cert_wipe(sec, sizeof(sec));
	metrics_serve(&met, cfg.metrics, stats_prometheus, &sw);
	{
		char z85[CERT_Z85_LEN + 1], eps[1024] = "";

		for (size_t i = 0; i < cfg.listen.n; i++)
			snprintf(eps + strlen(eps), sizeof(eps) - strlen(eps), "%s%s", i ? ", " : "",
				 cfg.listen.v[i]);
		info("switch id %s", sconf.id);
		info("listening on %s (%s, %ld I/O threads, %zu admitted keys)%s%s", eps,
		     cfg.insecure ? "insecure" : "CURVE", cfg.io_threads, zap.keys.n,
		     cfg.insecure ? "" : ", server key ", cfg.insecure ? "" : cert_z85(pub, z85));
	}

	for (size_t i = 0; i < cfg.lock.n; i++)
		info("port %s: locked to %u source MAC%s", locks[i].port, locks[i].n,
		     locks[i].n > 1 ? "s" : "");
	/* everything privileged is done: sockets are bound, keys read */
	if (cfg.user) {
		const char *uwhy;

		if ((rc = priv_switch_user(cfg.user, &uwhy)))
			die(1, "--user %s: %s: %s", cfg.user, uwhy, strerror(-rc));
		info("running as user %s (uid %u), no capabilities", cfg.user, (unsigned)getuid());
	}

	bp = busypoll_start((unsigned)cfg.busy_poll);
	/* the uplink's slots and tick first, as before; uplink_watch() each side of its tick */
	if (ev_signal(l, SIGHUP, sw_signal, NULL) || ev_signal(l, SIGUSR1, sw_signal, NULL) ||
	    ev_hook(l, sw_tick, NULL, NULL) ||
	    (cfg.uplink && (ev_hook(l, sw_uplink_watch, NULL, NULL) ||
			    uplink_attach(&up, l, sw_uplink_readable, NULL) ||
			    ev_hook(l, sw_uplink_watch, NULL, NULL))) ||
	    (zap.rep && ev_add_zsock(l, zap.rep, ZMQ_POLLIN, sw_zap_readable, NULL) < 0) ||
	    ev_add_zsock(l, router, ZMQ_POLLIN, sw_router_readable, NULL) < 0 ||
	    (ctl.sock && ev_add_zsock(l, ctl.sock, ZMQ_POLLIN, sw_control_readable, NULL) < 0) ||
	    metrics_attach(&met, l))
		die(1, "cannot set up the event loop");
	if ((rc = ev_run(l)))
		die(1, "zmq_poll: %s", zmq_strerror(-rc));
	info("shutting down");
	busypoll_stop(bp);
	write_stats(&sw);
	switch_shutdown(&sw);
	if (cfg.uplink) {
		uplink_bye(&up, "switch stopping");
		uplink_free(&up);
	}
	control_stop(&ctl);
	metrics_stop(&met);
	switch_free(&sw);
	free(locks);
	zmq_close(router);
	zap_stop(&zap);
	daemon_end(&d);
	return 0;
}
