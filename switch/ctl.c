/* ctl.c - vmfabric-ctl: show and manage a live switch over its management channel */

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "cert.h"
#include "control.h"
#include "util.h"

static const char usage_text[] =
	"usage: vmfabric-ctl [options] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  ports                      ports: network, key, peer, uptime, frames/bytes, drops, batching\n"
	"  macs [--network N]         the MAC table with port and age\n"
	"  networks                   networks with port and MAC counts\n"
	"  stats                      switch totals, uptime, loop utilisation\n"
	"  tree [--dot]               the tree of switches as this one sees it: above it, its trunks\n"
	"  kick PORT [--network N]    disconnect a port (it may reconnect)\n"
	"  link PORT down|up          pull or plug the port's cable: down forwards nothing to or from\n"
	"                             it and the guest loses carrier (TAP, vmfabric-qemu); kept by name\n"
	"  port PORT vlan access VID | trunk VIDS [native VID] | none\n"
	"                             802.1Q setting of port name PORT, live and kept for reconnects\n"
	"                             (VIDS: 10,20-30 or all); none: transparent\n"
	"  reload                     re-read authorized keys (as SIGHUP); removed keys lose their ports\n"
	"  capture (PORT | --network N) [-w FILE|-w -] [--count N] [--filter EXPR]\n"
	"                             live pcap of what the switch sees on a port or network\n"
	"  impair PORT [--delay T] [--jitter T] [--loss P%] [--loss-burst N] [--ge P/R[/1-H[/1-K]]]\n"
	"         [--dup P%] [--reorder P%] [--rate R] [--rate-burst B] [--queue N] [--queue-bytes B]\n"
	"         [--seed N] [--direction in|out|both] | impair PORT --clear [--direction D]\n"
	"                             link impairment of a port, live (replaces that direction's\n"
	"                             setting; default direction out: frames to the port)\n"
	"\n"
	"options:\n"
	"  --control EP               management endpoint (default " CONTROL_DEFAULT ")\n"
	"  --server-key PUBFILE       the switch's public certificate (tcp:// endpoints)\n"
	"  --key SECRETFILE           an admin secret certificate (tcp:// endpoints)\n"
	"  --json                     machine-readable output (stable schema)\n"
	"  --dot                      tree: Graphviz output\n"
	"  --timeout MS               how long to wait for the switch (default 5000)\n"
	"  -N, --network NAME         network for macs, kick and capture\n"
	"  -w FILE                    capture: write pcap to FILE ('-' = stdout), flushed per batch\n"
	"  --count N                  capture: stop after N frames\n"
	"  --filter EXPR              capture: libpcap filter, applied in the switch\n"
	"  --delay T, --jitter T      impair: delay, and uniform jitter around it (50ms, 1.5s, 200us)\n"
	"  --loss P%                  impair: random loss; with --loss-burst N, bursts of mean N frames\n"
	"  --ge P/R[/1-H[/1-K]]       impair: Gilbert-Elliott loss (netem gemodel), in percent\n"
	"  --dup P%, --reorder P%     impair: duplicate; send ahead of held frames (needs --delay)\n"
	"  --rate R, --rate-burst B   impair: token bucket (10mbit, 1gbit; depth in bytes, default 0)\n"
	"  --queue N, --queue-bytes B impair: frames (default 1000) and bytes (default 4m) held at most\n"
	"  --seed N                   impair: fixed random seed (default: random)\n"
	"  --direction D              impair: in (from the port), out (to it; default) or both\n"
	"  --clear                    impair: remove the impairment (of --direction, default both)\n"
	"  -h, --help                 this help\n"
	"  -V, --version              print the version\n";

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void *connect_switch(void *ctx, const char *ep, const char *server_key, const char *key)
{
	int zero = 0;
	void *s = zmq_socket(ctx, ZMQ_DEALER);

	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	if (strncmp(ep, "ipc://", 6)) {
		uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN], srv[CERT_KEY_LEN];
		char why[1024];

		if (!server_key || !key) {
			fprintf(stderr, "vmfabric-ctl: %s needs --server-key PUBFILE and --key SECRETFILE (an admin key)\n", ep);
			exit(EXIT_USAGE);
		}
		if (cert_load_secret(key, pub, sec, why, sizeof(why)) ||
		    cert_load_public(server_key, srv, why, sizeof(why))) {
			fprintf(stderr, "vmfabric-ctl: %s\n", why);
			exit(EXIT_CONFIG);
		}
		zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, srv, CERT_KEY_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, CERT_KEY_LEN);
		zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, CERT_KEY_LEN);
		cert_wipe(sec, sizeof(sec));
	} else {
		struct stat st;

		if (stat(ep + 6, &st)) {
			fprintf(stderr, "vmfabric-ctl: %s: %s (is vmfabric-switch running with this --control?)\n",
				ep + 6, strerror(errno));
			exit(1);
		}
	}
	if (zmq_connect(s, ep)) {
		fprintf(stderr, "vmfabric-ctl: cannot connect to %s: %s\n", ep, zmq_strerror(errno));
		exit(EXIT_USAGE);
	}
	return s;
}

/* Receive one message into a malloc'd buffer; Return: length, -ETIMEDOUT, or -errno (interrupted) */
static long recv_msg(void *s, long timeout_ms, char **out)
{
	zmq_pollitem_t it = { s, 0, ZMQ_POLLIN, 0 };
	zmq_msg_t m;
	long n;

	n = zmq_poll(&it, 1, timeout_ms);
	if (n <= 0)
		return n ? -errno : -ETIMEDOUT;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, s, 0) < 0) {
		n = -errno;
		zmq_msg_close(&m);
		return n;
	}
	n = (long)zmq_msg_size(&m);
	*out = malloc((size_t)n + 1);
	memcpy(*out, zmq_msg_data(&m), (size_t)n);
	(*out)[n] = '\0';
	zmq_msg_close(&m);
	return n;
}

static void send_req(void *s, const char *const *words, int n)
{
	char buf[4096];
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		size_t l = strlen(words[i]) + 1;

		if (len + l > sizeof(buf)) {
			fprintf(stderr, "vmfabric-ctl: request too long\n");
			exit(EXIT_USAGE);
		}
		memcpy(buf + len, words[i], l);
		len += l;
	}
	zmq_send(s, buf, len - 1, 0);
}

static void print_frame(FILE *f, int json, const uint8_t *d, uint32_t len, uint32_t sec, uint32_t usec)
{
	char src[18] = "?", dst[18] = "?", l3[128] = "";
	unsigned int et = 0;

	if (len >= 14) {
		mac_fmt(d, dst);
		mac_fmt(d + 6, src);
		et = (unsigned int)(d[12] << 8 | d[13]);
	}
	if (et == 0x0800 && len >= 34) {
		static const char *const proto[256] = { [1] = "ICMP", [6] = "TCP", [17] = "UDP" };
		const char *p = proto[d[23]];

		snprintf(l3, sizeof(l3), "%u.%u.%u.%u > %u.%u.%u.%u %s", d[26], d[27], d[28], d[29],
			 d[30], d[31], d[32], d[33], p ? p : "ip");
		if (d[23] == 1 && len >= 14u + (d[14] & 15u) * 4 + 1)
			snprintf(l3 + strlen(l3), sizeof(l3) - strlen(l3), " %s",
				 d[14 + (d[14] & 15) * 4] == 8 ? "echo request" :
				 d[14 + (d[14] & 15) * 4] == 0 ? "echo reply" : "");
	} else if (et == 0x0806 && len >= 42) {
		snprintf(l3, sizeof(l3), "ARP %s %u.%u.%u.%u > %u.%u.%u.%u", d[21] == 1 ? "request" : "reply",
			 d[28], d[29], d[30], d[31], d[38], d[39], d[40], d[41]);
	}
	if (json)
		fprintf(f, "{\"time\":%u.%06u,\"len\":%u,\"src\":\"%s\",\"dst\":\"%s\",\"ethertype\":%u,\"summary\":\"%s\"}\n",
			sec, usec, len, src, dst, et, l3);
	else
		fprintf(f, "%u.%06u %s > %s 0x%04x len %u %s\n", sec, usec, src, dst, et, len, l3);
}

static int capture(void *s, int json, const char *port, const char *net, const char *file,
		   long long count, const char *filter)
{
	const char *words[7];
	char cnt[32], *msg = NULL;
	long long seen = 0;
	FILE *out = NULL;
	long n;

	snprintf(cnt, sizeof(cnt), "%lld", count);
	words[0] = "json";
	words[1] = "capture";
	words[2] = port ? "port" : "network";
	words[3] = port ? port : net;
	words[4] = cnt;
	words[5] = filter ? filter : "";
	send_req(s, words, 6);
	n = recv_msg(s, 5000, &msg);
	if (n < 0) {
		fprintf(stderr, "vmfabric-ctl: no answer from the switch\n");
		return 1;
	}
	if (!strstr(msg, "\"ok\":true")) {
		fprintf(stderr, "vmfabric-ctl: %s", msg);
		free(msg);
		return 1;
	}
	free(msg);
	if (file) {
		struct { uint32_t magic; uint16_t major, minor; int32_t zone; uint32_t sigfigs, snaplen, link; }
			hdr = { 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1 };

		out = strcmp(file, "-") ? fopen(file, "wb") : stdout;
		if (!out) {
			fprintf(stderr, "vmfabric-ctl: cannot write %s: %s\n", file, strerror(errno));
			return 1;
		}
		fwrite(&hdr, sizeof(hdr), 1, out);
		fflush(out);
	}
	while (!stop_flag && (!count || seen < count)) {
		n = recv_msg(s, 500, &msg);
		if (n < 0)
			continue;
		if (n == 0) {
			free(msg);
			break;
		}
		if (out) {
			fwrite(msg, 1, (size_t)n, out);
			if (fflush(out))
				stop_flag = 1;	/* reader gone (e.g. a closed pipe) */
		}
		for (long off = 0; off + 16 <= n;) {
			uint32_t rec[4];

			memcpy(rec, msg + off, sizeof(rec));
			if (!out)
				print_frame(stdout, json, (uint8_t *)msg + off + 16, rec[3], rec[0], rec[1]);
			off += 16 + rec[2];
			seen++;
		}
		if (!out)
			fflush(stdout);
		free(msg);
	}
	words[1] = "stop";
	send_req(s, words, 2);
	if (recv_msg(s, 1000, &msg) >= 0)
		free(msg);
	if (out && out != stdout)
		fclose(out);
	fprintf(stderr, "vmfabric-ctl: %lld frames captured\n", seen);
	return 0;
}

/* port NAME vlan WORDS...: one request, its answer on stdout (or stderr when it failed) */
static int port_cmd(const char *ep, const char *server_key, const char *key, int json, long timeout,
		    int argc, char **argv)
{
	const char *words[10] = { json ? "json" : "text", "port" };
	char *msg = NULL;
	int nw = 2, rc = 1;
	void *ctx, *s;

	if (argc < 3 || argc > 6 || strcmp(argv[1], "vlan")) {
		fprintf(stderr, "vmfabric-ctl: usage: port PORT vlan access VID | trunk VIDS [native VID] | none\n");
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++)
		words[nw++] = argv[i];
	ctx = zmq_ctx_new();
	s = connect_switch(ctx, ep, server_key, key);
	send_req(s, words, nw);
	if (recv_msg(s, timeout, &msg) < 0) {
		fprintf(stderr, "vmfabric-ctl: no answer from %s within %ld ms\n", ep, timeout);
	} else {
		rc = json ? !strstr(msg, "\"ok\":true") : !strncmp(msg, "error:", 6);
		fputs(msg, rc ? stderr : stdout);
		free(msg);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	enum { O_CONTROL = 1000, O_SERVER_KEY, O_KEY, O_JSON, O_DOT, O_TIMEOUT, O_COUNT, O_FILTER,
	       O_IMPAIR };
	static const struct option lopts[] = {
		{ "control", required_argument, NULL, O_CONTROL },
		{ "server-key", required_argument, NULL, O_SERVER_KEY },
		{ "key", required_argument, NULL, O_KEY },
		{ "json", no_argument, NULL, O_JSON },
		{ "dot", no_argument, NULL, O_DOT },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "network", required_argument, NULL, 'N' },
		{ "count", required_argument, NULL, O_COUNT },
		{ "filter", required_argument, NULL, O_FILTER },
		/* impair: each becomes KEY=VALUE of the switch's impairment spec */
		{ "delay", required_argument, NULL, O_IMPAIR },
		{ "jitter", required_argument, NULL, O_IMPAIR },
		{ "loss", required_argument, NULL, O_IMPAIR },
		{ "loss-burst", required_argument, NULL, O_IMPAIR },
		{ "ge", required_argument, NULL, O_IMPAIR },
		{ "dup", required_argument, NULL, O_IMPAIR },
		{ "reorder", required_argument, NULL, O_IMPAIR },
		{ "rate", required_argument, NULL, O_IMPAIR },
		{ "rate-burst", required_argument, NULL, O_IMPAIR },
		{ "queue", required_argument, NULL, O_IMPAIR },
		{ "queue-bytes", required_argument, NULL, O_IMPAIR },
		{ "seed", required_argument, NULL, O_IMPAIR },
		{ "direction", required_argument, NULL, O_IMPAIR },
		{ "clear", no_argument, NULL, O_IMPAIR },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ep = CONTROL_DEFAULT, *server_key = NULL, *key = NULL, *net = NULL;
	const char *file = NULL, *filter = NULL, *cmd, *arg, *state = NULL;
	long timeout = 5000;
	long long count = 0;
	int c, json = 0, dot = 0, rc;
	char *end, *msg = NULL, spec[1024] = "";
	void *ctx, *s;
	int li = 0, clear = 0, dir = 0;

	while ((c = getopt_long(argc, argv, "N:w:hV", lopts, &li)) != -1) {
		switch (c) {
		case O_CONTROL: ep = optarg; break;
		case O_SERVER_KEY: server_key = optarg; break;
		case O_KEY: key = optarg; break;
		case O_JSON: json = 1; break;
		case O_DOT: dot = 1; break;
		case 'N': net = optarg; break;
		case 'w': file = optarg; break;
		case O_FILTER: filter = optarg; break;
		case O_IMPAIR:
			/* --clear without --direction clears both */
			clear |= !strcmp(lopts[li].name, "clear");
			dir |= !strcmp(lopts[li].name, "direction");
			snprintf(spec + strlen(spec), sizeof(spec) - strlen(spec), "%s%s%s%s",
				 *spec ? "," : "", lopts[li].name, optarg ? "=" : "", optarg ? optarg : "");
			break;
		case O_TIMEOUT:
		case O_COUNT: {
			long long v = strtoll(optarg, &end, 10);

			if (*end || v < (c == O_COUNT ? 0 : 1)) {
				fprintf(stderr, "vmfabric-ctl: bad number '%s'\nTry 'vmfabric-ctl --help'.\n", optarg);
				return EXIT_USAGE;
			}
			if (c == O_COUNT)
				count = v;
			else
				timeout = (long)v;
			break;
		}
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'V':
			printf("vmfabric-ctl %s\n", VMFABRIC_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'vmfabric-ctl --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cmd = argv[optind];
	arg = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (!strcmp(cmd, "link") && optind + 3 == argc)
		state = argv[--argc];	/* link PORT up|down */
	if (!strcmp(cmd, "port"))
		return port_cmd(ep, server_key, key, json, timeout, argc - optind - 1, argv + optind + 1);
	if (optind + 2 < argc) {
		fprintf(stderr, "vmfabric-ctl: unexpected argument '%s'\n", argv[optind + 2]);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "link") && (!state || (strcmp(state, "up") && strcmp(state, "down")))) {
		fprintf(stderr, "vmfabric-ctl: usage: link PORT down|up\n");
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "capture") ? (!arg == !net) :
	    (!strcmp(cmd, "kick") || !strcmp(cmd, "link") ||
	     !strcmp(cmd, "impair") ? !arg : arg != NULL)) {
		fprintf(stderr, "vmfabric-ctl: wrong arguments for '%s'\nTry 'vmfabric-ctl --help'.\n", cmd);
		return EXIT_USAGE;
	}
	if (dot && (json || strcmp(cmd, "tree"))) {
		fprintf(stderr, "vmfabric-ctl: --dot is for 'tree', without --json\n");
		return EXIT_USAGE;
	}
	if (strcmp(cmd, "ports") && strcmp(cmd, "macs") && strcmp(cmd, "networks") &&
	    strcmp(cmd, "stats") && strcmp(cmd, "kick") && strcmp(cmd, "reload") &&
	    strcmp(cmd, "capture") && strcmp(cmd, "tree") && strcmp(cmd, "link") &&
	    strcmp(cmd, "impair")) {
		fprintf(stderr, "vmfabric-ctl: unknown command '%s'\nTry 'vmfabric-ctl --help'.\n", cmd);
		return EXIT_USAGE;
	}

	if (!strcmp(cmd, "impair") != !!*spec) {
		fprintf(stderr, "vmfabric-ctl: %s\nTry 'vmfabric-ctl --help'.\n", *spec ?
			"--delay, --loss, --rate, --clear ... are for 'impair'" :
			"impair: give what to set (e.g. --delay 50ms) or --clear");
		return EXIT_USAGE;
	}
	if (clear && !dir)
		strncat(spec, ",direction=both", sizeof(spec) - strlen(spec) - 1);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, on_signal);
	ctx = zmq_ctx_new();
	s = connect_switch(ctx, ep, server_key, key);
	if (!strcmp(cmd, "capture")) {
		rc = capture(s, json, arg, net, file, count, filter);
	} else {
		const char *words[5] = { json ? "json" : dot ? "dot" : "text", cmd, NULL, NULL, NULL };
		int nw = 2;

		if (!strcmp(cmd, "macs") && net)
			words[nw++] = net;
		if (state) {
			words[nw++] = arg;
			words[nw++] = state;
		}
		if (!strcmp(cmd, "impair")) {
			words[nw++] = arg;
			words[nw++] = spec;
		}
		if (!strcmp(cmd, "kick")) {
			words[nw++] = arg;
			if (net)
				words[nw++] = net;
		}
		send_req(s, words, nw);
		if (recv_msg(s, timeout, &msg) < 0) {
			fprintf(stderr, "vmfabric-ctl: no answer from %s within %ld ms%s\n", ep, timeout,
				strncmp(ep, "ipc://", 6) ? " (is this key in the switch's --admin-authorized directory?)" : "");
			rc = 1;
		} else {
			int failed = json ? !strstr(msg, "\"ok\":true") : !strncmp(msg, "error:", 6);

			fputs(msg, failed ? stderr : stdout);
			rc = failed;
			free(msg);
		}
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
	return rc;
}
