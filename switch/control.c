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
 *	json\0stop		json|text|dot\0tree
 *	json\0link\0PORT\0up|down	(by port name; kept for a port that is not there yet)
 *	json\0port\0NAME\0vlan\0WORDS...	(vlanport.c: access VID, trunk VIDS [native VID], none)
 *	json\0impair\0PORT\0SPEC	(SPEC as --impair; impair.c)
 * Every request gets exactly one reply: a JSON document with "ok", or text.
 *
 * Capture: after the reply to "capture", the client receives messages that
 * each hold one or more pcap records (no file header: the client writes
 * it), and an empty message when the capture ends (COUNT reached). What a
 * capture sees and how it never slows the traffic: capture.c.
 */

#include <errno.h>
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

#include "capture.h"
#include "control.h"
#include "impair.h"
#include "log.h"
#include "portconf.h"
#include "stats.h"
#include "util.h"
#include "vlanport.h"
#include "zap.h"

#define REQ_MAX		CONTROL_REQ_MAX
#define ARGS_MAX	8

static struct ratelimit rl_ctl = RATELIMIT_INIT;

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

static void stats(struct control *c, FILE *f, int json)
{
	struct vswitch *sw = c->sw;
	double util = sw->total_us ? (double)sw->busy_us / (double)sw->total_us : 0.0;
	uint64_t up = now_ms() - sw->start_ms;
	unsigned int ports = 0, nets = 0;

	for (long i = 0; i < sw->conf.max_ports; i++)
		ports += sw->ports[i].used != 0;
	for (long i = 0; i < sw->conf.max_networks; i++)
		nets += sw->nets[i].used != 0;
	if (json) {
		fprintf(f, "{\"ok\":true,\"uptime_ms\":%llu,\"ports\":%u,\"networks\":%u,"
			"\"captures\":%u,\"loop_utilisation\":%.4f,\"control_requests\":%llu,"
			"\"switch\":", (unsigned long long)up, ports, nets, capture_count(sw), util,
			(unsigned long long)c->requests);
		stats_json_totals(sw, f);
		fprintf(f, "}\n");
		return;
	}
	fprintf(f, "uptime            %.1f s\nports             %u\nnetworks          %u\n"
		"captures          %u\nloop utilisation  %.1f %%\n",
		(double)up / 1000, ports, nets, capture_count(sw), 100 * util);
	stats_text_totals(sw, f);
}

static void start_capture(struct control *c, const zmq_msg_t *rid, int json, char **argv, int argc)
{
	struct vswitch *sw = c->sw;
	char *end, out[256], why[600];
	long long count;
	int id, n;

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
	if (capture_count(sw) >= CONTROL_MAX_CAPTURES) {
		reply_error(c, rid, json, "too many captures (%d)", CONTROL_MAX_CAPTURES);
		return;
	}
	if (!strcmp(argv[1], "port") && !switch_port_by_name(sw, argv[2], NULL))
		info("capture: port %s is not connected now; capturing when it is", argv[2]);
	id = capture_start(sw, c->sock, zmq_msg_data((zmq_msg_t *)(uintptr_t)rid),
			   zmq_msg_size((zmq_msg_t *)(uintptr_t)rid),
			   !strcmp(argv[1], "port") ? argv[2] : NULL,
			   !strcmp(argv[1], "network") ? argv[2] : NULL, (uint64_t)count, argv[4],
			   why, sizeof(why));
	if (id < 0) {
		reply_error(c, rid, json, "%s", why);
		return;
	}
	n = json ? snprintf(out, sizeof(out), "{\"ok\":true,\"capture\":%d,\"snaplen\":%d,\"linktype\":1}\n",
			    id, CAP_SNAPLEN)
		 : snprintf(out, sizeof(out), "capture %d started\n", id);
	/* the reply goes before any record: capture messages follow it on the same socket */
	reply(c, rid, out, (size_t)n);
}

static void stop_captures(struct control *c, const zmq_msg_t *rid, int json)
{
	int n = capture_stop_client(c->sw, zmq_msg_data((zmq_msg_t *)(uintptr_t)rid),
				    zmq_msg_size((zmq_msg_t *)(uintptr_t)rid));

	if (json) {
		char out[64];
		int len = snprintf(out, sizeof(out), "{\"ok\":true,\"stopped\":%d}\n", n);

		reply(c, rid, out, (size_t)len);
	} else {
		reply(c, rid, "stopped\n", 8);
	}
}

/* port NAME vlan WORDS...: set a port's 802.1Q setting live */
static void port_vlan(struct control *c, const zmq_msg_t *rid, int json, char **argv, int argc)
{
	char spec[256] = "", out[400];
	const char *why = "";
	int n;

	for (int i = 3; i < argc; i++)
		snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%s%s", i > 3 ? " " : "", argv[i]);
	n = vlan_port_set(c->sw, argv[1], spec, VLAN_SRC_CTL, &why);
	if (n < 0) {
		reply_error(c, rid, json, "port %s: %s", argv[1], why);
		return;
	}
	{
		struct vlan_conf vc;

		vlan_parse(spec, &vc, &why);
		vlan_format(&vc, spec, sizeof(spec), ' ');
	}
	info("control: port %s: vlan %s (%d live port%s)", argv[1], spec, n, n == 1 ? "" : "s");
	n = json ? snprintf(out, sizeof(out), "{\"ok\":true,\"port\":\"%s\",\"vlan\":\"%s\",\"live_ports\":%d}\n",
			    argv[1], spec, n)
		 : snprintf(out, sizeof(out), "port %s: vlan %s (%d live port%s%s)\n", argv[1], spec, n,
			    n == 1 ? "" : "s", n ? "" : "; applies when it joins");
	reply(c, rid, out, (size_t)n);
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
	if (argc < 2 || (strcmp(args[0], "json") && strcmp(args[0], "text") &&
			 (strcmp(args[0], "dot") || strcmp(args[1], "tree")))) {
		reply_error(c, rid, 1, "malformed request");
		return;
	}
	json = !strcmp(args[0], "json");
	argv++;
	argc--;
	if (!strcmp(argv[0], "tree")) {
		f = open_memstream(&out, &outlen);
		if (!f)
			return;
		stats_tree(c->sw, f, json ? STATS_JSON : !strcmp(args[0], "dot") ? STATS_DOT : STATS_TEXT);
		fclose(f);
		reply(c, rid, out, outlen);
		free(out);
		return;
	}
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
	if (!strcmp(argv[0], "link")) {
		int up = argc == 3 && !strcmp(argv[2], "up"), rc;
		char text[160];

		if (argc != 3 || !codec_valid_name(argv[1]) || (!up && strcmp(argv[2], "down"))) {
			reply_error(c, rid, json, "usage: link PORT up|down");
			return;
		}
		rc = portconf_link(c->sw, argv[1], up);
		if (rc < 0) {
			reply_error(c, rid, json, "link %s: %s", argv[1], rc == -ENOSPC ?
				    "too many port settings (--max-ports)" : strerror(-rc));
			return;
		}
		info("control: link of port %s %s (%d connected)", argv[1], up ? "up" : "down", rc);
		rc = json ? snprintf(text, sizeof(text), "{\"ok\":true,\"link\":\"%s\",\"ports\":%d}\n",
				     up ? "up" : "down", rc)
			  : snprintf(text, sizeof(text), "link %s %s%s\n", argv[1], up ? "up" : "down",
				     rc ? "" : " (no such port connected now: kept for when it joins)");
		reply(c, rid, text, (size_t)rc);
		return;
	}
	if (!strcmp(argv[0], "port") && argc >= 4 && !strcmp(argv[2], "vlan")) {
		port_vlan(c, rid, json, argv, argc);
		return;
	}
	if (!strcmp(argv[0], "impair")) {
		char why[600];
		int rc;

		f = open_memstream(&out, &outlen);
		if (!f)
			return;
		rc = impair_control(c->sw, argc - 1, argv + 1, json, f, why, sizeof(why));
		fclose(f);
		if (rc)
			reply_error(c, rid, json, "%s", why);
		else
			reply(c, rid, out, outlen);
		free(out);
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
			stats_json_ports(c->sw, f);
			fprintf(f, "}\n");
		} else {
			stats_text_ports(c->sw, f);
		}
	} else if (!strcmp(argv[0], "macs")) {
		const char *net = argc >= 2 && *argv[1] ? argv[1] : NULL;

		if (json) {
			fprintf(f, "{\"ok\":true,\"macs\":");
			stats_json_macs(c->sw, f, net);
			fprintf(f, "}\n");
		} else {
			stats_text_macs(c->sw, f, net);
		}
	} else if (!strcmp(argv[0], "networks")) {
		if (json) {
			fprintf(f, "{\"ok\":true,\"networks\":");
			stats_json_networks(c->sw, f);
			fprintf(f, "}\n");
		} else {
			stats_text_networks(c->sw, f);
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
	capture_stop_all(c->sw);
	zmq_close(c->sock);
	c->sock = NULL;
	if (*c->ipc_path)
		unlink(c->ipc_path);
}

