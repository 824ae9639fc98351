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
#include "log.h"
#include "metrics.h"
#include "priv.h"
#include "switch.h"
#include "util.h"
#include "zap.h"

static char *opt_listen, *opt_key, *opt_authorized, *opt_stats, *opt_control, *opt_admin, *opt_metrics;
static char *opt_user;
static struct conf_list opt_lock;
static long opt_io_threads = 2, opt_hwm = 256, opt_busy_poll;
static int opt_insecure;
static struct switch_conf sconf = {
	.max_ports = 1024, .max_networks = 64, .max_macs = 4096, .mac_age_s = 300,
	.mtu = 1500, .keepalive_ms = 1000,
};

static const struct conf_opt opts[] = {
	{ "listen", 'l', CONF_STR, &opt_listen, "EP", "ZeroMQ endpoint to bind (tcp://ADDR:PORT or ipc://PATH)", 0, 0 },
	{ "key", 'k', CONF_STR, &opt_key, "SECRETFILE", "switch secret certificate (vmfabric-key generate)", 0, 0 },
	{ "authorized", 'a', CONF_STR, &opt_authorized, "DIR", "directory of admitted port public certificates", 0, 0 },
	{ "insecure", 0, CONF_BOOL, &opt_insecure, NULL, "no CURVE, no admission (plain text; testing only)", 0, 0 },
	{ "io-threads", 0, CONF_INT, &opt_io_threads, "N", "ZeroMQ I/O threads (where CURVE runs; default 2)", 1, 64 },
	{ "max-ports", 0, CONF_INT, &sconf.max_ports, "N", "most ports at once (default 1024)", 2, 65536 },
	{ "max-networks", 0, CONF_INT, &sconf.max_networks, "N", "most networks at once (default 64)", 1, 4096 },
	{ "max-macs", 0, CONF_INT, &sconf.max_macs, "N", "MAC table bound per network (default 4096)", 16, 1048576 },
	{ "mac-age", 0, CONF_INT, &sconf.mac_age_s, "SECONDS", "forget a MAC not seen for this long (default 300)", 1, 86400 },
	{ "mtu", 0, CONF_INT, &sconf.mtu, "BYTES", "MTU of every network (default 1500)", VMF_MTU_MIN, 65000 },
	{ "keepalive", 0, CONF_INT, &sconf.keepalive_ms, "MS", "keepalive interval told to ports; 3 missed end a port (default 1000)", 100, 60000 },
	{ "busy-poll", 0, CONF_INT, &opt_busy_poll, "USEC", "after each frame keep a CPU awake this long with an idle-priority poller: cuts wake-up latency, costs idle CPU (default 0: off)", 0, 1000000 },
	{ "hwm", 0, CONF_INT, &opt_hwm, "MSGS", "ZeroMQ queue bound per port, in batches (default 256)", 1, 100000 },
	{ "control", 0, CONF_STR, &opt_control, "EP", "management endpoint: ipc://PATH (0600) or tcp://ADDR:PORT (CURVE, admin keys); 'none' disables (default " CONTROL_DEFAULT ")", 0, 0 },
	{ "admin-authorized", 0, CONF_STR, &opt_admin, "DIR", "admin public certificates admitted on a tcp:// --control endpoint", 0, 0 },
	{ "metrics", 0, CONF_STR, &opt_metrics, "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics", 0, 0 },
	{ "stats-file", 0, CONF_STR, &opt_stats, "FILE", "write counters as JSON to FILE on SIGUSR1 and at exit", 0, 0 },
	{ "lock-mac", 0, CONF_LIST, &opt_lock, "PORT=MAC[,MAC]", "port security: port PORT may only send from these MACs; others are dropped (locked_mac); repeatable", 0, 0 },
	{ "user", 0, CONF_STR, &opt_user, "NAME", "after start-up (sockets bound, keys read), run as user NAME; needs root", 0, 0 },
	{ NULL, 0, 0, NULL, NULL, NULL, 0, 0 },
};

static void write_stats(struct vswitch *sw)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -ENOMEM;

	if (!opt_stats)
		return;
	f = open_memstream(&buf, &len);
	if (f) {
		switch_stats_json(sw, f);
		rc = fclose(f) ? -errno : file_replace(opt_stats, buf, len, 0644, 0);
	}
	if (rc)
		warn("cannot write %s: %s", opt_stats, strerror(-rc));
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
	       addr, admin ? opt_admin : opt_authorized);
}

static int load_keys(struct zap *z)
{
	struct keyset ks, admin = { 0 };
	int rc = keyset_load_dir(&ks, opt_authorized, zap_warn);

	if (rc)
		return rc;
	if (opt_admin && (rc = keyset_load_dir(&admin, opt_admin, zap_warn))) {
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

/* SIGHUP and "vmfabric-ctl reload": re-read keys, drop ports that lost theirs. */
static int reload(void)
{
	int rc;

	if (opt_insecure)
		return 0;
	rc = load_keys(&zap);
	if (rc) {
		err("reload: cannot read %s: %s (keeping the old keys)", opt_authorized, strerror(-rc));
		return rc;
	}
	info("reloaded %s: %zu admitted keys%s", opt_authorized, zap.keys.n,
	     opt_admin ? " (and admin keys)" : "");
	switch_revoke(&sw);
	return 0;
}

int main(int argc, char **argv)
{
	struct conf_std std = { 0 };
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	char why[1024];
	struct control ctl = { 0 };
	struct metrics met = { .lfd = -1 };
	struct mac_lock *locks;
	struct busypoll *bp;
	int tcp_control;
	void *ctx, *router;
	uint64_t next_tick, busy_us = 0, total_us = 0;
	int rc, sfd, one = 1, zero = 0, maxmsg, running = 1;

	log_init("vmfabric-switch");
	rc = conf_parse("vmfabric-switch", "--listen EP --key SECRETFILE --authorized DIR [options]",
			opts, &std, argc, argv, NULL);
	if (rc)
		return rc == CONF_DONE ? 0 : -rc;
	if (std.check) {
		conf_print(stdout, opts, &std);
		return 0;
	}
	log_set_debug(std.debug);
	if (!opt_listen)
		die(EXIT_USAGE, "--listen EP is required (e.g. tcp://0.0.0.0:7000)");
	locks = calloc(opt_lock.n ? opt_lock.n : 1, sizeof(*locks));
	for (size_t i = 0; locks && i < opt_lock.n; i++) {
		const char *lwhy;

		if (mac_lock_parse(opt_lock.v[i], &locks[i], &lwhy))
			die(EXIT_USAGE, "%s: '%s'", lwhy, opt_lock.v[i]);
		for (size_t k = 0; k < i; k++)
			if (!strcmp(locks[k].port, locks[i].port))
				die(EXIT_USAGE, "--lock-mac: port %s given twice (list its MACs once, "
				    "separated by commas)", locks[i].port);
	}
	if (!locks)
		die(1, "out of memory");
	if (!opt_control)
		opt_control = CONTROL_DEFAULT;
	tcp_control = strcmp(opt_control, "none") && strncmp(opt_control, "ipc://", 6);
	if (tcp_control && (opt_insecure || !opt_admin))
		die(EXIT_USAGE, "a tcp:// --control endpoint needs CURVE: --key and --admin-authorized DIR "
		    "(and not --insecure)");
	if (opt_insecure) {
		warn("--insecure: CURVE is off, traffic is plain text and any peer is admitted");
	} else {
		if (!opt_key || !opt_authorized)
			die(EXIT_USAGE, "--key SECRETFILE and --authorized DIR are required "
			    "(or --insecure for a plain-text test fabric)");
		if (cert_load_secret(opt_key, pub, sec, why, sizeof(why)))
			die(EXIT_CONFIG, "%s", why);
		zap.on_deny = zap_denied;
		rc = load_keys(&zap);
		if (rc)
			die(EXIT_CONFIG, "cannot read authorized directory %s: %s", opt_authorized,
			    strerror(-rc));
		if (!zap.keys.n)
			warn("no keys in %s: no port can join until keys are added (then SIGHUP)",
			     opt_authorized);
	}
	conf_std_detach(&std);

	sfd = signals_fd();
	if (sfd < 0)
		die(1, "signalfd: %s", strerror(-sfd));
	ctx = zmq_ctx_new();
	zmq_ctx_set(ctx, ZMQ_IO_THREADS, (int)opt_io_threads);
	if (!opt_insecure && (rc = zap_start(&zap, ctx)))
		die(1, "cannot start ZAP handler: %s", strerror(-rc));
	router = zmq_socket(ctx, ZMQ_ROUTER);
	maxmsg = VMF_MAX_MSG;
	{
		int64_t mm = maxmsg;
		int hwm = (int)opt_hwm;

		zmq_setsockopt(router, ZMQ_MAXMSGSIZE, &mm, sizeof(mm));
		zmq_setsockopt(router, ZMQ_SNDHWM, &hwm, sizeof(hwm));
		zmq_setsockopt(router, ZMQ_RCVHWM, &hwm, sizeof(hwm));
	}
	zmq_setsockopt(router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(router, ZMQ_LINGER, &zero, sizeof(zero));
	if (!opt_insecure) {
		rc = zap_server_setup(router, sec, ZAP_DOMAIN_PORTS);
		if (rc)
			die(1, "CURVE setup: %s", strerror(-rc));
	}
	if (ep_bind(router, opt_listen, 0660))
		die(EXIT_CONFIG, "cannot bind %s: %s", opt_listen, zmq_strerror(errno));
	if (switch_init(&sw, &sconf, router, opt_insecure ? NULL : &zap))
		die(1, "out of memory");
	sw.locks = locks;
	sw.n_locks = opt_lock.n;
	if (strcmp(opt_control, "none")) {
		rc = control_start(&ctl, ctx, opt_control, tcp_control ? sec : NULL, &sw);
		if (rc == -EADDRINUSE)
			warn("control endpoint %s is served by another switch: no management channel "
			     "(give this one its own --control)", opt_control);
		else if (rc)
			die(EXIT_CONFIG, "cannot bind control endpoint %s: %s", opt_control,
			    zmq_strerror(-rc));
		else
			info("management on %s%s", opt_control, tcp_control ? " (CURVE, admin keys)" : "");
		ctl.reload = reload;
	}
	cert_wipe(sec, sizeof(sec));
	if (opt_metrics) {
		const char *mwhy = "";

		rc = metrics_start(&met, opt_metrics, switch_prometheus, &sw, &mwhy);
		if (rc)
			die(EXIT_CONFIG, "%s: %s%s%s", opt_metrics, mwhy, rc != -EINVAL ? ": " : "",
			    rc != -EINVAL ? strerror(-rc) : "");
		info("metrics on http://%s/metrics", opt_metrics);
	}
	{
		char z85[CERT_Z85_LEN + 1];

		info("listening on %s (%s, %ld I/O threads, %zu admitted keys)%s%s", opt_listen,
		     opt_insecure ? "insecure" : "CURVE", opt_io_threads, zap.keys.n,
		     opt_insecure ? "" : ", server key ", opt_insecure ? "" : cert_z85(pub, z85));
	}

	for (size_t i = 0; i < opt_lock.n; i++)
		info("port %s: locked to %u source MAC%s", locks[i].port, locks[i].n,
		     locks[i].n > 1 ? "s" : "");
	/* everything privileged is done: sockets are bound, keys read */
	if (opt_user) {
		const char *uwhy;

		if ((rc = priv_switch_user(opt_user, &uwhy)))
			die(1, "--user %s: %s: %s", opt_user, uwhy, strerror(-rc));
		info("running as user %s (uid %u), no capabilities", opt_user, (unsigned)getuid());
	}

	bp = busypoll_start((unsigned)opt_busy_poll);
	next_tick = now_ms() + 1000;
	while (running) {
		zmq_pollitem_t items[4 + 1 + METRICS_CONNS] = {
			{ router, 0, ZMQ_POLLIN, 0 },
			{ NULL, sfd, ZMQ_POLLIN, 0 },
			{ ctl.sock, ctl.sock ? 0 : -1, ZMQ_POLLIN, 0 },
			{ zap.rep, zap.rep ? 0 : -1, ZMQ_POLLIN, 0 },
		};
		int nmet = metrics_items(&met, items + 4);
		uint64_t now = now_ms(), t0, t1;
		long timeout = next_tick > now ? (long)(next_tick - now) : 0;

		t0 = now_us();
		if (zmq_poll(items, 4 + nmet, timeout) < 0 && errno != EINTR)
			die(1, "zmq_poll: %s", zmq_strerror(errno));
		t1 = now_us();
		if (items[3].revents & ZMQ_POLLIN)
			zap_handle(&zap);
		if (items[0].revents & ZMQ_POLLIN) {
			uint64_t fwd = sw.ctr.frames_out;

			switch_input(&sw);
			/* frames, not keepalives, keep the poller going */
			if (sw.ctr.frames_out != fwd)
				busypoll_kick(bp);
		}
		if (items[2].revents & ZMQ_POLLIN)
			control_input(&ctl);
		metrics_handle(&met, items + 4, nmet);
		if (items[1].revents & ZMQ_POLLIN) {
			int sig;

			while ((sig = signals_read(sfd))) {
				if (sig == SIGHUP)
					reload();
				else if (sig == SIGUSR1)
					write_stats(&sw);
				else if (sig == SIGINT || sig == SIGTERM)
					running = 0;
			}
		}
		busy_us += now_us() - t1;
		total_us += now_us() - t0;
		now = now_ms();
		if (now >= next_tick) {
			switch_tick(&sw, now);
			next_tick = now + 1000;
			/* utilisation of the last second, for "vmfabric-ctl stats" */
			sw.busy_us = busy_us;
			sw.total_us = total_us;
			busy_us = total_us = 0;
		}
	}
	info("shutting down");
	busypoll_stop(bp);
	write_stats(&sw);
	switch_shutdown(&sw);
	control_stop(&ctl);
	metrics_stop(&met);
	switch_free(&sw);
	free(locks);
	zmq_close(router);
	zap_stop(&zap);
	zmq_ctx_term(ctx);
	return 0;
}
