/* main.c - vmfabric-gateway: DHCP, DNS, NAT and port forwards for one virtual network (libslirp) */

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zmq.h>

#include "conf.h"
#include "daemon.h"
#include "gateway.h"
#include "log.h"
#include "metrics.h"
#include "offload.h"
#include "priv.h"
#include "uplink.h"
#include "util.h"

/* The options: what the option table below writes, the program's defaults in place */
static struct gw_opts {
	char *failback, *sw, *server_key, *key, *network, *name, *domainname, *hostname, *tftp;
	char *tftp_server_name, *bootfile, *lease_file, *metrics, *user;
	struct conf_net4 net;
	struct conf_ip4 host, dhcpstart, dhcpend, dns;
	struct conf_net6 ipv6_net;
	struct conf_ip6 ipv6_host, ipv6_dns;
	int restricted, ipv4, ipv6, host_loopback, gro, insecure;
	struct conf_mac mac;
	struct conf_list dnssearch, hostfwd;
	long mtu, lease_time, probe_ms;
} cfg = { .ipv4 = 1, .ipv6 = 1, .host_loopback = 1, .gro = 1, .mtu = 1500, .lease_time = 86400,
	.probe_ms = 200 };

static const struct conf_opt opts[] = {
	UPLINK_CONF_OPTS(&cfg.sw, &cfg.server_key, &cfg.failback, &cfg.key),
	{ "network", 'N', CONF_STR, &cfg.network, "NAME", "network to serve (default: default)", 0, 0 },
	{ "name", 0, CONF_STR, &cfg.name, "PORTNAME", "port name, unique in the network (default: HOSTNAME/gateway)", 0, 0 },
	{ "mtu", 0, CONF_INT, &cfg.mtu, "BYTES", "MTU of the network (default 1500)", VMF_MTU_MIN, 65000 },
	{ "insecure", 0, CONF_BOOL, &cfg.insecure, NULL, "no CURVE (the switch must be --insecure too)", 0, 0 },
	{ "mac", 0, CONF_MAC, &cfg.mac, "MAC", "the gateway's MAC (default 52:55 + host address, e.g. 52:55:0a:00:02:02)", 0, 0 },
	{ "net", 0, CONF_NET4, &cfg.net, "ADDR[/MASK]", "guest network (default 10.0.2.0/24; a bare ADDR: its classful mask)", 8, 30 },
	{ "host", 0, CONF_IP4, &cfg.host, "ADDR", "gateway address: router, host loopback (default .2)", 0, 0 },
	{ "dhcpstart", 0, CONF_IP4, &cfg.dhcpstart, "ADDR", "first DHCP address (default .15)", 0, 0 },
	{ "dhcpend", 0, CONF_IP4, &cfg.dhcpend, "ADDR", "last DHCP address (default: last of the network)", 0, 0 },
	{ "dns", 0, CONF_IP4, &cfg.dns, "ADDR", "DNS proxy address (default .3)", 0, 0 },
	{ "dnssearch", 0, CONF_LIST, &cfg.dnssearch, "DOMAIN", "DHCP domain search list entry (repeatable)", 0, 0 },
	{ "domainname", 0, CONF_STR, &cfg.domainname, "DOMAIN", "DHCP domain name", 0, 0 },
	{ "hostname", 0, CONF_STR, &cfg.hostname, "NAME", "DHCP host name option", 0, 0 },
	{ "restrict", 0, CONF_ONOFF, &cfg.restricted, "on|off", "isolate guests: no egress, no host loopback; hostfwd still works (default off)", 0, 0 },
	{ "host-loopback", 0, CONF_ONOFF, &cfg.host_loopback, "on|off", "the host address reaches the gateway host's 127.0.0.1 (default on)", 0, 0 },
	{ "ipv4", 0, CONF_ONOFF, &cfg.ipv4, "on|off", "IPv4 (default on)", 0, 0 },
	{ "ipv6", 0, CONF_ONOFF, &cfg.ipv6, "on|off", "IPv6: router advertisements, NAT, DNS (default on)", 0, 0 },
	{ "ipv6-net", 0, CONF_NET6, &cfg.ipv6_net, "ADDR/LEN", "IPv6 prefix (default fec0::/64)", 0, 126 },
	{ "ipv6-host", 0, CONF_IP6, &cfg.ipv6_host, "ADDR", "IPv6 gateway address (default prefix::2)", 0, 0 },
	{ "ipv6-dns", 0, CONF_IP6, &cfg.ipv6_dns, "ADDR", "IPv6 DNS proxy address (default prefix::3)", 0, 0 },
	{ "tftp", 0, CONF_STR, &cfg.tftp, "DIR", "serve DIR read-only over TFTP at the host address", 0, 0 },
	{ "tftp-server-name", 0, CONF_STR, &cfg.tftp_server_name, "NAME", "DHCP TFTP server name option (66)", 0, 0 },
	{ "bootfile", 0, CONF_STR, &cfg.bootfile, "FILE", "DHCP boot file (PXE)", 0, 0 },
	{ "hostfwd", 0, CONF_LIST, &cfg.hostfwd, "RULE", "[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport (repeatable)", 0, 0 },
	{ "lease-file", 0, CONF_STR, &cfg.lease_file, "FILE", "keep DHCP leases in FILE across restarts (default: in memory)", 0, 0 },
	{ "lease-time", 0, CONF_INT, &cfg.lease_time, "SECONDS", "DHCP lease time (default 86400)", 120, 100000000 },
	{ "metrics", 0, CONF_STR, &cfg.metrics, "ADDR:PORT", "serve Prometheus metrics at http://ADDR:PORT/metrics", 0, 0 },
	{ "dhcp-probe", 0, CONF_INT, &cfg.probe_ms, "MS", "ARP-probe a new address this long before offering it, 0: no probe (default 200)", 0, 5000 },
	{ "gro", 0, CONF_ONOFF, &cfg.gro, "on|off", "coalesce TCP segments into TSO super-frames for guests whose NIC takes offloads (default on)", 0, 0 },
	{ "user", 0, CONF_STR, &cfg.user, "NAME", "after start-up (hostfwd listeners bound, keys read), run as user NAME; needs root", 0, 0 },
	{ NULL, 0, 0, NULL, NULL, NULL, 0, 0 },
};

static struct in6_addr in6_with(const struct in6_addr *prefix, uint8_t last)
{
	struct in6_addr a = *prefix;

	a.s6_addr[15] = last;
	return a;
}

static void log_counters(const struct gateway *g, const struct uplink *u, uint64_t now)
{
	const struct dhcp_ctr *d = &g->dhcp.ctr;
	char up[320];

	uplink_ctr_text(u, up, sizeof(up));
	info("counters: rx %llu frames (to slirp %llu, not for us %llu, runt %llu), tx %llu frames "
	     "(padded %llu, giant dropped %llu; %llu batches; %llu segments coalesced into %llu super-frames); dhcp rx %llu discover %llu request %llu offer %llu "
	     "ack %llu nak %llu decline %llu release %llu inform %llu exhausted %llu malformed %llu "
	     "spoofed %llu probes %llu conflicts %llu claims_capped %llu; leases bound %u; %s",
	     (unsigned long long)g->ctr.rx_frames, (unsigned long long)g->ctr.to_slirp,
	     (unsigned long long)g->ctr.not_for_us, (unsigned long long)g->ctr.runt,
	     (unsigned long long)g->ctr.tx_frames, (unsigned long long)g->ctr.tx_padded,
	     (unsigned long long)g->ctr.tx_giant, (unsigned long long)g->ctr.tx_msgs,
	     (unsigned long long)g->gro.ctr.coalesced, (unsigned long long)g->gro.ctr.supers,
	     (unsigned long long)d->rx,
	     (unsigned long long)d->discover, (unsigned long long)d->request,
	     (unsigned long long)d->offer, (unsigned long long)d->ack, (unsigned long long)d->nak,
	     (unsigned long long)d->decline, (unsigned long long)d->release,
	     (unsigned long long)d->inform, (unsigned long long)d->exhausted,
	     (unsigned long long)d->malformed, (unsigned long long)d->spoofed,
	     (unsigned long long)d->probes, (unsigned long long)d->conflicts,
	     (unsigned long long)d->claims_capped, dhcp_bound(&g->dhcp, now), up);
}

struct metrics_ctx {
	struct gateway *g;
	struct uplink *u;
};

/* Prometheus text: leases, DHCP and frame counters (--metrics). */
static void gw_prometheus(void *arg, FILE *f)
{
	const struct metrics_ctx *m = arg;
	const struct gateway *g = m->g;
	const struct dhcp_ctr *d = &g->dhcp.ctr;
	const struct {
		const char *name, *type, *help, *label;
		uint64_t v;
	} rows[] = {
		{ "vmfabric_gateway_leases", "gauge", "DHCP leases bound now", NULL, dhcp_bound(&g->dhcp, now_ms()) },
		{ "vmfabric_gateway_lease_pool", "gauge", "Addresses in the DHCP pool", NULL, g->dhcp.pool_n },
		{ "vmfabric_gateway_dhcp_messages_total", "counter", "DHCP messages, by type", "discover", d->discover },
		{ NULL, NULL, NULL, "request", d->request }, { NULL, NULL, NULL, "offer", d->offer },
		{ NULL, NULL, NULL, "ack", d->ack }, { NULL, NULL, NULL, "nak", d->nak },
		{ NULL, NULL, NULL, "decline", d->decline }, { NULL, NULL, NULL, "release", d->release },
		{ NULL, NULL, NULL, "inform", d->inform },
		{ "vmfabric_gateway_dhcp_refused_total", "counter", "DHCP requests not served, by reason", "exhausted", d->exhausted },
		{ NULL, NULL, NULL, "malformed", d->malformed }, { NULL, NULL, NULL, "conflict", d->conflicts },
		{ NULL, NULL, NULL, "spoofed", d->spoofed }, { NULL, NULL, NULL, "claims_capped", d->claims_capped },
		{ "vmfabric_gateway_frames_total", "counter", "Frames, by path", "from_switch", g->ctr.rx_frames },
		{ NULL, NULL, NULL, "to_slirp", g->ctr.to_slirp }, { NULL, NULL, NULL, "to_switch", g->ctr.tx_frames },
		{ "vmfabric_gateway_dropped_frames_total", "counter", "Frames dropped, by reason", "not_for_us", g->ctr.not_for_us },
		{ NULL, NULL, NULL, "runt", g->ctr.runt }, { NULL, NULL, NULL, "giant", g->ctr.tx_giant },
		{ NULL, NULL, NULL, "switch_away", m->u->ctr.drop_down }, { NULL, NULL, NULL, "queue_full", m->u->ctr.drop_full },
		{ "vmfabric_gateway_super_frames_total", "counter", "TSO super-frames sent (--gro)", NULL, g->gro.ctr.supers },
		{ "vmfabric_gateway_coalesced_segments_total", "counter", "TCP segments sent inside super-frames", NULL, g->gro.ctr.coalesced },
		{ "vmfabric_gateway_switch_sessions_total", "counter", "Welcomes from the switch", NULL, m->u->ctr.sessions },
		{ "vmfabric_gateway_switch_moves_total", "counter", "Changes of switch (failover, failback)", NULL, m->u->ctr.moves },
	};
	const char *family = NULL, *label = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
		if (rows[i].name) {
			family = rows[i].name;
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", family, rows[i].help, family, rows[i].type);
			label = !strcmp(family, "vmfabric_gateway_dhcp_messages_total") ? "type" :
				!strcmp(family, "vmfabric_gateway_frames_total") ? "path" : "reason";
		}
		if (rows[i].label)
			fprintf(f, "%s{%s=\"%s\"} %llu\n", family, label, rows[i].label,
				(unsigned long long)rows[i].v);
		else
			fprintf(f, "%s %llu\n", family, (unsigned long long)rows[i].v);
	}
}

static struct daemon d;
static struct gateway gw;
static struct uplink up;
static struct offload_out oo;

static void gw_usr1(struct ev_loop *l, int sig, void *arg)
{
	(void)l;
	(void)sig;
	(void)arg;
	log_counters(&gw, &up, now_ms());
}

/*
 * Batches from the switch: to libslirp (and DHCP). A bounded share per
 * wake-up: libslirp's timers and keepalives get theirs.
 * Return: 1 if the budget ran out
 */
static int gw_uplink_readable(void *arg)
{
	struct frame *f;
	uint64_t now = now_ms();
	size_t nf;
	int budget;

	(void)arg;
	for (budget = UPLINK_RECV_BUDGET;
	     budget > 0 && uplink_recv(&up, &f, &nf, NULL) == 1; budget--) {
		gw_note_vnet(&gw, f, nf);
		/* libslirp wants plain frames: segment TSO super-frames from offload TAPs */
		offload_plain(&oo, f, nf);
		for (size_t i = 0; i < oo.n; i++)
			gw_input(&gw, &oo.f[i], now);
	}
	return !budget;
}

static struct gw_fwd fwds[256];
static const char *search[DHCP_SEARCH_MAX + 1];

int main(int argc, char **argv)
{
	struct conf_std std = { 0 };
	struct ev_loop *l = &d.loop;
	struct metrics met = { .lfd = -1 };
	struct metrics_ctx mctx = { &gw, &up };
	struct uplink_conf uc;
	struct gw_conf gc;
	char name[VMF_NAME_MAX], host[64] = "host", m[18];
	const char *why = NULL;
	struct in_addr net, mask, vhost, start, end, dns;
	uint32_t bcast;
	int rc;

	log_init("vmfabric-gateway");
	rc = conf_parse("vmfabric-gateway",
			"--switch EP --server-key PUBFILE --key SECRETFILE --network NAME [--net ADDR/LEN]\n"
			"       [--hostfwd RULE]... [--lease-file FILE] [options as -netdev user]",
			opts, &std, argc, argv, NULL);
	if (rc)
		return conf_exit(rc);
	if (!cfg.network)
		cfg.network = "default";
	if (!cfg.name) {
		gethostname(host, sizeof(host) - 1);
		snprintf(name, sizeof(name), "%.40s/gateway", host);
		cfg.name = name;
	}
	if (std.check) {
		conf_print(stdout, opts, &std);
		return 0;
	}
	log_set_debug(std.debug);
	{
		char obj[160];

		snprintf(obj, sizeof(obj), "%s (network %s)", cfg.name, cfg.network);
		log_set_object(obj);
	}
	uc = (struct uplink_conf){ .endpoint = cfg.sw, .server_key = cfg.server_key,
				   .key = cfg.key, .network = cfg.network, .name = cfg.name,
				   .mtu = cfg.mtu, .insecure = cfg.insecure };
	uplink_conf_failback(&uc, cfg.failback);
	uplink_conf_check(&uc);

	/* addresses, defaulted and checked like QEMU's net_slirp_init() */
	memset(&gc, 0, sizeof(gc));
	if (!cfg.net.set)
		conf_net4_parse("10.0.2.0/24", &cfg.net, 8, 30, &why);
	net = cfg.net.net;
	mask = cfg.net.mask;
	bcast = net.s_addr | ~mask.s_addr;
	vhost.s_addr = cfg.host.set ? cfg.host.a.s_addr : net.s_addr | htonl(2);
	dns.s_addr = cfg.dns.set ? cfg.dns.a.s_addr : net.s_addr | htonl(3);
	start.s_addr = cfg.dhcpstart.set ? cfg.dhcpstart.a.s_addr : net.s_addr | htonl(15);
	if (cfg.dhcpend.set) {
		end = cfg.dhcpend.a;
	} else {
		uint32_t e = ntohl(bcast) - 1;

		if (e - ntohl(start.s_addr) >= DHCP_POOL_MAX)
			e = ntohl(start.s_addr) + DHCP_POOL_MAX - 1;
		end.s_addr = htonl(e);
	}
	if ((vhost.s_addr & mask.s_addr) != net.s_addr)
		die(EXIT_USAGE, "--host must be inside --net");
	if ((start.s_addr & mask.s_addr) != net.s_addr || (end.s_addr & mask.s_addr) != net.s_addr)
		die(EXIT_USAGE, "--dhcpstart and --dhcpend must be inside --net");
	if (ntohl(end.s_addr) < ntohl(start.s_addr))
		die(EXIT_USAGE, "--dhcpend is below --dhcpstart");
	if (dns.s_addr == vhost.s_addr)
		die(EXIT_USAGE, "--dns must differ from --host");
	if (start.s_addr == vhost.s_addr || start.s_addr == dns.s_addr)
		die(EXIT_USAGE, "--dhcpstart must differ from --host and --dns");
	if (cfg.dnssearch.n > DHCP_SEARCH_MAX)
		die(EXIT_USAGE, "--dnssearch: at most %d entries", DHCP_SEARCH_MAX);
	if (cfg.hostfwd.n > ARRAY_SIZE(fwds))
		die(EXIT_USAGE, "--hostfwd: at most %zu rules", ARRAY_SIZE(fwds));
	for (size_t i = 0; i < cfg.hostfwd.n; i++)
		if (gw_parse_hostfwd(cfg.hostfwd.v[i], &fwds[i], &why))
			die(EXIT_USAGE, "--hostfwd '%s': %s", cfg.hostfwd.v[i], why);
	for (size_t i = 0; i < cfg.dnssearch.n; i++)
		search[i] = cfg.dnssearch.v[i];

	if (cfg.mac.set) {
		if (cfg.mac.mac[0] & 1)
			die(EXIT_USAGE, "--mac: %s is a multicast MAC; the gateway needs a unicast one",
			    mac_fmt(cfg.mac.mac, (char[18]){ 0 }));
		memcpy(gc.mac, cfg.mac.mac, 6);
	} else {
		gc.mac[0] = 0x52;
		gc.mac[1] = 0x55;
		memcpy(gc.mac + 2, &vhost.s_addr, 4);
	}

	gc.cfg.version = 4;
	gc.cfg.restricted = cfg.restricted;
	gc.cfg.in_enabled = cfg.ipv4;
	gc.cfg.in6_enabled = cfg.ipv6;
	gc.cfg.disable_host_loopback = !cfg.host_loopback;
	if (!gc.cfg.in_enabled && !gc.cfg.in6_enabled)
		die(EXIT_USAGE, "--ipv4 off and --ipv6 off: nothing left to serve");
	gc.cfg.vnetwork = net;
	gc.cfg.vnetmask = mask;
	gc.cfg.vhost = vhost;
	if (!cfg.ipv6_net.set)
		conf_net6_parse("fec0::/64", &cfg.ipv6_net, 0, 126, &why);
	gc.cfg.vprefix_addr6 = cfg.ipv6_net.a;
	gc.cfg.vprefix_len = cfg.ipv6_net.len;
	gc.cfg.vhost6 = cfg.ipv6_host.set ? cfg.ipv6_host.a : in6_with(&gc.cfg.vprefix_addr6, 2);
	gc.cfg.vnameserver6 = cfg.ipv6_dns.set ? cfg.ipv6_dns.a : in6_with(&gc.cfg.vprefix_addr6, 3);
	gc.cfg.vhostname = cfg.hostname;
	gc.cfg.tftp_server_name = cfg.tftp_server_name;
	gc.cfg.tftp_path = cfg.tftp;
	gc.cfg.bootfile = cfg.bootfile;
	gc.cfg.vdhcp_start = start;
	gc.cfg.vnameserver = dns;
	gc.cfg.vdnssearch = cfg.dnssearch.n ? search : NULL;
	gc.cfg.vdomainname = cfg.domainname;

	gc.dhcp = (struct dhcp_conf){ net.s_addr, mask.s_addr, vhost.s_addr, dns.s_addr, start.s_addr,
				      end.s_addr, (uint32_t)cfg.lease_time, gc.cfg.restricted,
				      (unsigned int)cfg.probe_ms, cfg.hostname, cfg.domainname,
				      cfg.tftp_server_name, cfg.bootfile, { NULL }, { 0 } };
	memcpy(gc.dhcp.search, search, sizeof(search));
	memcpy(gc.dhcp.mac, gc.mac, 6);
	gc.fwd = fwds;
	gc.n_fwd = cfg.hostfwd.n;
	gc.lease_file = cfg.lease_file;
	gc.mtu = cfg.mtu;
	gc.gro = cfg.gro;

	/* libslirp opens hostfwd listeners in slirp_new: do it before daemonizing to report errors */
	rc = gw_init(&gw, &gc, &up, &why);
	if (rc)
		die(EXIT_CONFIG, "%s%s%s", why ? why : "start-up", rc != -EINVAL ? ": " : "",
		    rc != -EINVAL ? strerror(-rc) : "");
	daemon_start(&d, &std, 0);
	if (uplink_init(&up, &uc, d.zctx))
		die(EXIT_CONFIG, "cannot set up the switch connection");
	if (offload_out_init(&oo, 4096, 4 * (size_t)VMF_MAX_BATCH_BYTES))
		die(1, "out of memory");
	metrics_serve(&met, cfg.metrics, gw_prometheus, &mctx);
	{
		char a[4][INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &vhost, a[0], sizeof(a[0]));
		inet_ntop(AF_INET, &dns, a[1], sizeof(a[1]));
		inet_ntop(AF_INET, &start, a[2], sizeof(a[2]));
		inet_ntop(AF_INET, &end, a[3], sizeof(a[3]));
		info("libslirp %s, gateway %s mac %s, dns %s, dhcp %s-%s (%u addresses)%s, %zu hostfwd, "
		     "switch %s (%s)", slirp_version_string(), a[0], mac_fmt(gc.mac, m), a[1], a[2], a[3],
		     gw.dhcp.pool_n, gc.cfg.restricted ? ", restricted" : "", cfg.hostfwd.n,
		     cfg.sw, cfg.insecure ? "insecure" : "CURVE");
	}

	/* everything privileged is done: hostfwd listeners bound, keys read */
	if (cfg.user) {
		const char *uwhy;

		if ((rc = priv_switch_user(cfg.user, &uwhy)))
			die(1, "--user %s: %s: %s", cfg.user, uwhy, strerror(-rc));
		info("running as user %s (uid %u), no capabilities", cfg.user, (unsigned)getuid());
	}

	/* libslirp's results first, as before; gw_tick() before uplink_tick() */
	if (gw_attach(&gw, l) || metrics_attach(&met, l) || ev_signal(l, SIGUSR1, gw_usr1, NULL) ||
	    uplink_attach(&up, l, gw_uplink_readable, NULL))
		die(1, "cannot set up the event loop");
	if ((rc = ev_run(l)))
		err("zmq_poll: %s: stopping", zmq_strerror(-rc));
	metrics_stop(&met);
	gw_flush(&gw);
	gw_save(&gw, 0);
	uplink_bye(&up, "gateway stopping");
	log_counters(&gw, &up, now_ms());
	uplink_free(&up);
	daemon_end(&d);
	gw_free(&gw);
	offload_out_free(&oo);
	return rc ? 1 : 0;
}
