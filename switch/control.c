/* control.c - the switch's management channel: queries, kick, reload, live capture */

/*
 * DOC: Theory of operation
 *
 * The switch binds a second ROUTER socket for management: by default
 * ipc:///run/vmfabric/switch.ctl, made 0600 (only root on the switch host),
 * or tcp:// with CURVE where the ZAP domain "vmfabric-admin" admits only the
 * keys in --admin-authorized (port keys do not open it).
 *
 * A request is one message: the words of the command separated by NUL
 * bytes, the first word being the output format ("json" or "text"):
 *	json\0ports		json\0macs\0NETWORK	json\0networks
 *	json\0stats		json\0kick\0PORT[\0NETWORK]	json\0reload
 *	json\0capture\0port|network\0NAME\0COUNT\0FILTER
 *	json\0stop
 * Every request gets exactly one reply: a JSON document with "ok", or text.
 *
 * Capture: after the reply to "capture", the client receives messages that
 * each hold one or more pcap records (no file header: the client writes
 * it), and an empty message when the capture ends (COUNT reached). The
 * capture point sees every frame a port sends to the switch (before any
 * drop decision) and, for a port capture, every frame the switch sends to
 * that port; a network capture sees every frame entering the network once.
 * The BPF filter (libpcap syntax, compiled here with pcap_compile_nopcap)
 * runs in the switch, so only matching frames cross the channel. Records
 * collect in a per-capture buffer during a loop pass and leave in one
 * message at its end, sent without blocking: a slow client loses captured
 * records (counted), the traffic never waits. A client that goes away is
 * noticed on the next send (EHOSTUNREACH) and its capture ends.
 */

#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

#include "control.h"
#include "log.h"
#include "util.h"
#include "zap.h"

#define CAP_BUF		(1024 * 1024)
#define CAP_SNAPLEN	65535
#define REQ_MAX		4096
#define ARGS_MAX	8

struct capture {
	struct capture *next;
	struct control *ctl;
	uint8_t rid[RID_MAX];
	uint8_t rid_len;
	uint32_t id;
	char port[VMF_NAME_MAX];	/* capture this port, or */
	char net[VMF_NAME_MAX];		/* this network */
	struct bpf_program prog;
	int has_prog;
	uint64_t remaining;		/* records still wanted; 0 = no limit */
	int ending;
	uint8_t *buf;
	size_t len;
	uint64_t pending;		/* records in buf */
	uint64_t captured, dropped;	/* records matched; of them, lost */
};

static struct ratelimit rl_ctl = RATELIMIT_INIT;

/* --- capture ------------------------------------------------------------ */

void capture_frame(struct vswitch *sw, const struct port *p, const ProtobufCBinaryData *f, int dir)
{
	struct timeval tv;
	int have_tv = 0;

	for (struct capture *c = sw->captures; c; c = c->next) {
		uint32_t rec[4];

		if (c->ending)
			continue;
		if (*c->port ? strcmp(c->port, p->name) || (*c->net && strcmp(c->net, p->net->name))
			     : dir != CAP_IN || strcmp(c->net, p->net->name))
			continue;
		if (c->has_prog && !bpf_filter(c->prog.bf_insns, f->data, (u_int)f->len, (u_int)f->len))
			continue;
		if (CAP_BUF - c->len < sizeof(rec) + f->len) {
			c->captured++;	/* matched but lost: "sent" is captured - dropped */
			c->dropped++;
			continue;
		}
		if (!have_tv) {
			gettimeofday(&tv, NULL);
			have_tv = 1;
		}
		rec[0] = (uint32_t)tv.tv_sec;
		rec[1] = (uint32_t)tv.tv_usec;
		rec[2] = rec[3] = (uint32_t)MIN(f->len, (size_t)CAP_SNAPLEN);
		memcpy(c->buf + c->len, rec, sizeof(rec));
		memcpy(c->buf + c->len + sizeof(rec), f->data, rec[2]);
		c->len += sizeof(rec) + rec[2];
		c->pending++;
		c->captured++;
		if (c->remaining && !--c->remaining)
			c->ending = 1;
	}
}

static void capture_free(struct vswitch *sw, struct capture *c)
{
	struct capture **pp;

	for (pp = &sw->captures; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	info("capture %u ended: %llu records sent, %llu dropped (client too slow)", c->id,
	     (unsigned long long)(c->captured - c->dropped), (unsigned long long)c->dropped);
	if (c->has_prog)
		pcap_freecode(&c->prog);
	free(c->buf);
	free(c);
}

/* Send @len bytes to the capture's client; Return: 0 or -errno. */
static int capture_send(struct capture *c, const void *data, size_t len)
{
	if (zmq_send(c->ctl->sock, c->rid, c->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->ctl->sock, data, len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

void capture_flush(struct vswitch *sw)
{
	struct capture *c = sw->captures, *next;

	for (; c; c = next) {
		int rc = 0;

		next = c->next;
		if (c->len) {
			rc = capture_send(c, c->buf, c->len);
			if (rc == -EAGAIN)
				c->dropped += c->pending;
			c->len = 0;
			c->pending = 0;
		}
		if (rc == -EHOSTUNREACH) {
			capture_free(sw, c);
			continue;
		}
		if (c->ending) {
			capture_send(c, "", 0);
			capture_free(sw, c);
		}
	}
}

/* --- requests ----------------------------------------------------------- */

static void reply(struct control *c, const zmq_msg_t *rid, const char *text, size_t len)
{
	zmq_send(c->sock, zmq_msg_data((zmq_msg_t *)(uintptr_t)rid),
		 zmq_msg_size((zmq_msg_t *)(uintptr_t)rid), ZMQ_SNDMORE | ZMQ_DONTWAIT);
	zmq_send(c->sock, text, len, ZMQ_DONTWAIT);
}

static void reply_error(struct control *c, const zmq_msg_t *rid, int json, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_error(struct control *c, const zmq_msg_t *rid, int json, const char *fmt, ...)
{
	char msg[512], out[700];
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (json) {
		char *p = out;

		p += snprintf(p, 40, "{\"ok\":false,\"error\":\"");
		for (const char *s = msg; *s && p < out + sizeof(out) - 8; s++) {
			if (*s == '"' || *s == '\\')
				*p++ = '\\';
			*p++ = *s;
		}
		n = (int)(p - out) + snprintf(p, 8, "\"}\n");
	} else {
		n = snprintf(out, sizeof(out), "error: %s\n", msg);
	}
	c->bad_requests++;
	reply(c, rid, out, (size_t)n);
}

static const char *human_bytes(uint64_t b, char *buf)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, 16, i ? "%.1f%s" : "%.0f%s", v, u[i]);
	return buf;
}

static void text_ports(struct vswitch *sw, FILE *f)
{
	uint64_t now = now_ms();

	fprintf(f, "%-20s %-12s %5s %-10s %-22s %8s %10s %9s %10s %9s %7s %9s\n", "PORT", "NETWORK",
		"ID", "KEY", "PEER", "UPTIME", "RX-FRAMES", "RX-BYTES", "TX-FRAMES", "TX-BYTES",
		"DROPS", "BATCH-IN");
	for (long i = 0; i < sw->conf.max_ports; i++) {
		const struct port *p = &sw->ports[i];
		uint64_t drops = 0;
		char rb[16], tb[16], up[24];

		if (!p->used)
			continue;
		for (int d = 0; d < DROP_MAX; d++)
			drops += p->ctr.drops[d];
		snprintf(up, sizeof(up), "%llus", (unsigned long long)((now - p->since_ms) / 1000));
		fprintf(f, "%-20s %-12s %5u %-10.8s %-22s %8s %10llu %9s %10llu %9s %7llu %9.1f\n",
			p->name, p->net->name, p->id, *p->key ? p->key : "-", *p->peer ? p->peer : "-",
			up, (unsigned long long)p->ctr.rx_frames, human_bytes(p->ctr.rx_bytes, rb),
			(unsigned long long)p->ctr.tx_frames, human_bytes(p->ctr.tx_bytes, tb),
			(unsigned long long)drops,
			p->ctr.rx_msgs ? (double)p->ctr.rx_frames / (double)p->ctr.rx_msgs : 0.0);
		for (int d = 0; d < DROP_MAX; d++)
			if (p->ctr.drops[d])
				fprintf(f, "    drop %-16s %llu\n", drop_names[d],
					(unsigned long long)p->ctr.drops[d]);
	}
}

static void text_macs(struct vswitch *sw, FILE *f, const char *net)
{
	uint64_t now = now_ms();

	fprintf(f, "%-12s %-17s %4s %-20s %8s\n", "NETWORK", "MAC", "VLAN", "PORT", "AGE");
	for (long i = 0; i < sw->conf.max_networks; i++) {
		struct network *n = &sw->nets[i];

		if (!n->used || (net && strcmp(net, n->name)))
			continue;
		for (size_t k = 0; k <= n->fdb.mask; k++) {
			const struct fdb_entry *e = &n->fdb.slots[k];
			char mac[18];

			if (e->port == FDB_EMPTY || now - e->seen_ms >= n->fdb.age_ms)
				continue;
			fprintf(f, "%-12s %-17s %4u %-20s %7.1fs\n", n->name, mac_fmt(e->mac, mac),
				e->vlan, sw->ports[e->port].name, (double)(now - e->seen_ms) / 1000);
		}
	}
}

static void text_networks(struct vswitch *sw, FILE *f)
{
	fprintf(f, "%-16s %6s %6s %8s %10s\n", "NETWORK", "MTU", "PORTS", "MACS", "FLOODED");
	for (long i = 0; i < sw->conf.max_networks; i++) {
		const struct network *n = &sw->nets[i];

		if (n->used)
			fprintf(f, "%-16s %6u %6u %8zu %10llu\n", n->name, n->mtu, n->n_ports,
				n->fdb.count, (unsigned long long)n->flooded);
	}
}

static unsigned int count_used(struct vswitch *sw, unsigned int *nets, unsigned int *caps)
{
	unsigned int ports = 0;

	*nets = *caps = 0;
	for (long i = 0; i < sw->conf.max_ports; i++)
		ports += sw->ports[i].used != 0;
	for (long i = 0; i < sw->conf.max_networks; i++)
		*nets += sw->nets[i].used != 0;
	for (struct capture *c = sw->captures; c; c = c->next)
		(*caps)++;
	return ports;
}

static void stats(struct control *c, FILE *f, int json)
{
	struct vswitch *sw = c->sw;
	unsigned int nets, caps, ports = count_used(sw, &nets, &caps);
	double util = sw->total_us ? (double)sw->busy_us / (double)sw->total_us : 0.0;
	uint64_t up = now_ms() - sw->start_ms;

	if (json) {
		fprintf(f, "{\"ok\":true,\"uptime_ms\":%llu,\"ports\":%u,\"networks\":%u,"
			"\"captures\":%u,\"loop_utilisation\":%.4f,\"control_requests\":%llu,"
			"\"switch\":", (unsigned long long)up, ports, nets, caps, util,
			(unsigned long long)c->requests);
		switch_json_totals(sw, f);
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, "uptime            %.1f s\nports             %u\nnetworks          %u\n"
		"captures          %u\nloop utilisation  %.1f %%\nbatches out       %llu\n"
		"frames out        %llu\n",
		(double)up / 1000, ports, nets, caps, 100 * util,
		(unsigned long long)sw->ctr.batches_out, (unsigned long long)sw->ctr.frames_out);
	fprintf(f, "dropped: unknown port %llu, bad version %llu, bad hello %llu, key mismatch %llu, "
		"malformed %llu, multi-part %llu; ports expired %llu, revoked %llu, taken over %llu\n",
		(unsigned long long)sw->ctr.unknown_port, (unsigned long long)sw->ctr.bad_version,
		(unsigned long long)sw->ctr.bad_hello, (unsigned long long)sw->ctr.key_mismatch,
		(unsigned long long)sw->ctr.malformed, (unsigned long long)sw->ctr.multipart,
		(unsigned long long)sw->ctr.expired, (unsigned long long)sw->ctr.revoked,
		(unsigned long long)sw->ctr.takeovers);
	if (sw->zap)
		fprintf(f, "admission: %llu allowed, %llu denied\n",
			(unsigned long long)sw->zap->allowed, (unsigned long long)sw->zap->denied);
}

static void start_capture(struct control *c, const zmq_msg_t *rid, int json, char **argv, int argc)
{
	struct vswitch *sw = c->sw;
	unsigned int nets, caps;
	struct capture *cap;
	char *end, out[256];
	long long count;
	int n;

	/* capture port|network NAME COUNT FILTER */
	if (argc != 5 || (strcmp(argv[1], "port") && strcmp(argv[1], "network")) ||
	    !codec_valid_name(argv[2])) {
		reply_error(c, rid, json, "usage: capture port|network NAME COUNT FILTER");
		return;
	}
	count = strtoll(argv[3], &end, 10);
	if (*end || count < 0) {
		reply_error(c, rid, json, "bad count '%s'", argv[3]);
		return;
	}
	count_used(sw, &nets, &caps);
	if (caps >= CONTROL_MAX_CAPTURES) {
		reply_error(c, rid, json, "too many captures (%d)", CONTROL_MAX_CAPTURES);
		return;
	}
	if (!strcmp(argv[1], "port") && !switch_port_by_name(sw, argv[2], NULL))
		info("capture: port %s is not connected now; capturing when it is", argv[2]);
	cap = calloc(1, sizeof(*cap));
	if (!cap || !(cap->buf = malloc(CAP_BUF))) {
		free(cap);
		reply_error(c, rid, json, "out of memory");
		return;
	}
	if (*argv[4]) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, CAP_SNAPLEN);
		int bad = !dead || pcap_compile(dead, &cap->prog, argv[4], 1, PCAP_NETMASK_UNKNOWN);

		if (bad) {
			reply_error(c, rid, json, "bad filter expression '%s': %s", argv[4],
				    dead ? pcap_geterr(dead) : "pcap_open_dead failed");
			if (dead)
				pcap_close(dead);
			free(cap->buf);
			free(cap);
			return;
		}
		pcap_close(dead);
		cap->has_prog = 1;
	}
	cap->ctl = c;
	cap->id = ++c->next_capture;
	memcpy(cap->rid, zmq_msg_data((zmq_msg_t *)(uintptr_t)rid),
	       zmq_msg_size((zmq_msg_t *)(uintptr_t)rid));
	cap->rid_len = (uint8_t)zmq_msg_size((zmq_msg_t *)(uintptr_t)rid);
	str_copy(!strcmp(argv[1], "port") ? cap->port : cap->net, argv[2], VMF_NAME_MAX);
	cap->remaining = (uint64_t)count;
	n = json ? snprintf(out, sizeof(out), "{\"ok\":true,\"capture\":%u,\"snaplen\":%d,\"linktype\":1}\n",
			    cap->id, CAP_SNAPLEN)
		 : snprintf(out, sizeof(out), "capture %u started\n", cap->id);
	reply(c, rid, out, (size_t)n);
	cap->next = sw->captures;
	sw->captures = cap;
	info("capture %u started: %s %s%s%s", cap->id, argv[1], argv[2], *argv[4] ? " filter " : "",
	     argv[4]);
}

static void stop_captures(struct control *c, const zmq_msg_t *rid, int json)
{
	const void *r = zmq_msg_data((zmq_msg_t *)(uintptr_t)rid);
	size_t rl = zmq_msg_size((zmq_msg_t *)(uintptr_t)rid);
	struct capture *cap, *next;
	int n = 0;

	for (cap = c->sw->captures; cap; cap = next) {
		next = cap->next;
		if (cap->rid_len == rl && !memcmp(cap->rid, r, rl)) {
			capture_free(c->sw, cap);
			n++;
		}
	}
	if (json) {
		char out[64];
		int len = snprintf(out, sizeof(out), "{\"ok\":true,\"stopped\":%d}\n", n);

		reply(c, rid, out, (size_t)len);
	} else {
		reply(c, rid, "stopped\n", 8);
	}
}

static void handle(struct control *c, const zmq_msg_t *rid, char *req, size_t len)
{
	char *args[ARGS_MAX], **argv = args, *out = NULL;
	size_t outlen = 0;
	int argc = 0, json;
	FILE *f;

	req[len] = '\0';
	for (size_t i = 0; i <= len && argc < ARGS_MAX; i += strlen(req + i) + 1)
		args[argc++] = req + i;
	if (argc < 2 || (strcmp(args[0], "json") && strcmp(args[0], "text"))) {
		reply_error(c, rid, 1, "malformed request");
		return;
	}
	json = !strcmp(args[0], "json");
	argv++;
	argc--;
	if (!strcmp(argv[0], "capture")) {
		start_capture(c, rid, json, argv, argc);
		return;
	}
	if (!strcmp(argv[0], "stop")) {
		stop_captures(c, rid, json);
		return;
	}
	if (!strcmp(argv[0], "kick")) {
		struct port *p = argc >= 2 ? switch_port_by_name(c->sw, argv[1], argc >= 3 ? argv[2] : NULL) : NULL;

		if (!p) {
			reply_error(c, rid, json, "no such port '%s'", argc >= 2 ? argv[1] : "");
			return;
		}
		info("control: kicking port %s", p->name);
		switch_kick(c->sw, p);
		reply(c, rid, json ? "{\"ok\":true}\n" : "kicked\n", json ? 12 : 7);
		return;
	}
	if (!strcmp(argv[0], "reload")) {
		int rc = c->reload ? c->reload() : -ENOTSUP;

		if (rc)
			reply_error(c, rid, json, "reload failed: %s", strerror(-rc));
		else
			reply(c, rid, json ? "{\"ok\":true}\n" : "reloaded\n", json ? 12 : 9);
		return;
	}

	f = open_memstream(&out, &outlen);
	if (!f)
		return;
	if (!strcmp(argv[0], "ports")) {
		if (json) {
			fprintf(f, "{\"ok\":true,\"ports\":");
			switch_json_ports(c->sw, f);
			fprintf(f, "}\n");
		} else {
			text_ports(c->sw, f);
		}
	} else if (!strcmp(argv[0], "macs")) {
		const char *net = argc >= 2 && *argv[1] ? argv[1] : NULL;

		if (json) {
			fprintf(f, "{\"ok\":true,\"macs\":");
			switch_json_macs(c->sw, f, net);
			fprintf(f, "}\n");
		} else {
			text_macs(c->sw, f, net);
		}
	} else if (!strcmp(argv[0], "networks")) {
		if (json) {
			fprintf(f, "{\"ok\":true,\"networks\":");
			switch_json_networks(c->sw, f);
			fprintf(f, "}\n");
		} else {
			text_networks(c->sw, f);
		}
	} else if (!strcmp(argv[0], "stats")) {
		stats(c, f, json);
	} else {
		fclose(f);
		free(out);
		reply_error(c, rid, json, "unknown command '%s'", argv[0]);
		return;
	}
	fclose(f);
	reply(c, rid, out, outlen);
	free(out);
}

void control_input(struct control *c)
{
	for (int budget = 64; budget > 0; budget--) {
		char req[REQ_MAX + 1];
		zmq_msg_t rid;
		int n, more;

		zmq_msg_init(&rid);
		if (zmq_msg_recv(&rid, c->sock, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&rid);
			return;
		}
		n = zmq_msg_more(&rid) ? zmq_recv(c->sock, req, REQ_MAX, ZMQ_DONTWAIT) : -1;
		more = 0;
		if (n >= 0) {
			size_t sz = sizeof(more);

			zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &sz);
		}
		while (more) {
			char junk[64];
			size_t sz = sizeof(more);

			zmq_recv(c->sock, junk, sizeof(junk), ZMQ_DONTWAIT);
			zmq_getsockopt(c->sock, ZMQ_RCVMORE, &more, &sz);
			n = -1;
		}
		c->requests++;
		if (n < 0 || n > REQ_MAX) {
			log_rl(&rl_ctl, LOG_WARNING, "control: malformed request dropped");
			c->bad_requests++;
			reply_error(c, &rid, 1, "malformed request");
		} else {
			handle(c, &rid, req, (size_t)n);
		}
		zmq_msg_close(&rid);
	}
}

/* Is a live process serving the unix socket at @path? */
static int ipc_in_use(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd, rc;

	if (strlen(path) >= sizeof(un.sun_path))
		return 0;
	memcpy(un.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	rc = connect(fd, (struct sockaddr *)&un, sizeof(un));
	close(fd);
	return rc == 0;
}

int control_start(struct control *c, void *ctx, const char *ep, const uint8_t *sec,
		  struct vswitch *sw)
{
	int one = 1, zero = 0, hwm = 64;
	int64_t maxmsg = REQ_MAX;

	memset(c, 0, sizeof(*c));
	c->sw = sw;
	if (!strncmp(ep, "ipc://", 6)) {
		char dir[256], *slash;

		if (str_copy(c->ipc_path, ep + 6, sizeof(c->ipc_path)))
			return -ENAMETOOLONG;
		if (ipc_in_use(c->ipc_path)) {
			c->ipc_path[0] = '\0';
			return -EADDRINUSE;
		}
		str_copy(dir, c->ipc_path, sizeof(dir));
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			mkdir(dir, 0755);
		}
	} else if (!sec) {
		return -EPERM;	/* a TCP management endpoint needs CURVE and admin keys */
	}
	c->sock = zmq_socket(ctx, ZMQ_ROUTER);
	if (!c->sock)
		return -errno;
	zmq_setsockopt(c->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
	zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
	zmq_setsockopt(c->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (sec && strncmp(ep, "ipc://", 6) && zap_server_setup(c->sock, sec, ZAP_DOMAIN_ADMIN)) {
		int rc = -errno;

		zmq_close(c->sock);
		c->sock = NULL;
		return rc;
	}
	if (ep_bind(c->sock, ep, 0600)) {
		int rc = -errno;

		zmq_close(c->sock);
		c->sock = NULL;
		c->ipc_path[0] = '\0';
		return rc;
	}
	return 0;
}

void control_stop(struct control *c)
{
	if (!c || !c->sock)
		return;
	while (c->sw->captures)
		capture_free(c->sw, c->sw->captures);
	zmq_close(c->sock);
	c->sock = NULL;
	if (*c->ipc_path)
		unlink(c->ipc_path);
}
