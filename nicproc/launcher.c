/* launcher.c - vmfabric-qemu: run QEMU with its vmfabric NICs, one supervised vmfabric-nic each */

/*
 * DOC: Theory of operation
 *
 *   vmfabric-qemu [fabric options] -- COMMAND ARGS...
 *
 * COMMAND is QEMU, or anything that execs or runs QEMU in the foreground
 * with the arguments it is given and inherited file descriptors (vmlab's
 * run-guest). Every "-nic vmfabric,..." / "--nic vmfabric,..." argument pair
 * in ARGS becomes
 *
 *   -netdev dgram,id=ID,local.type=fd,local.str=N -device MODEL,netdev=ID,mac=MAC
 *
 * (written with the same dash prefix the user gave, so run-guest's --nic
 * becomes its --netdev and --device), and every "-netdev vmfabric,id=ID,..."
 * becomes "-netdev dgram,id=ID,local.type=fd,local.str=N" for the user's own
 * "-device ...,netdev=ID,mac=...". Every other argument passes untouched.
 * QEMU 7.2's -nic cannot express dgram or stream, hence -netdev + -device.
 *
 * -nic vmfabric keys: mac= (required: QEMU's default MAC is the same in every
 * process), network= (default --network; one of them is required), model=
 * (default virtio-net-pci; "virtio" is taken as virtio-net-pci, anything else
 * is the -device driver, e.g. e1000), name= (port name; default GUEST/nicI
 * with GUEST from -name/--name, else HOSTNAME/qemu-PID/nicI, I counting the
 * vmfabric NICs from 0), id= (netdev id, default vmfabricI). -netdev vmfabric
 * keys: id= (required), network=, name=; a -device must use that id and set
 * mac=. Unknown keys, empty keys, repeated keys, bad MACs, duplicate MACs or
 * ids are usage errors (exit 64) before anything starts; so are a missing
 * --switch, no vmfabric NIC, no command, -daemonize (QEMU would leave our
 * supervision) and run-guest --background. Key files are loaded here as the
 * NIC process will load them, and a missing vmfabric-nic is found here too:
 * those are config errors (exit 78). A command that cannot be run: 127.
 *
 * Sockets: one AF_UNIX SOCK_DGRAM socketpair per NIC. Datagrams keep frame
 * boundaries whoever reads, so a restarted NIC process takes over mid-stream
 * without a framing hand-over (a stream pair would lose sync at a partial
 * frame). QEMU's end is moved to fd 10 or above (run-guest and shell scripts
 * use 3-9 for themselves) and is the only fd QEMU inherits from us; the
 * launcher closes its copy once QEMU has started. The NIC-side end is kept by
 * the launcher for the whole run and handed to each NIC process as fd 3
 * ("vmfabric-nic -f --fd 3 ..."). Both ends get 4 MiB send buffers.
 *
 * Supervision: NIC processes start first (each in its own process group, so
 * a terminal's Ctrl-C reaches QEMU, not them), then COMMAND as our child.
 * SIGTERM, and SIGINT/SIGHUP/SIGQUIT sent with kill(), are forwarded to it
 * (terminal-generated ones already reached it). A NIC process that dies is
 * logged and restarted on the same socket after 0.5 s, doubling to 5 s while
 * it keeps dying within 10 s of its start; a run of 10 s resets the delay.
 * While no NIC process runs, the launcher reads and discards (counts) what
 * QEMU sends, so a long outage never fills the socket and stalls the guest's
 * transmit queue (the Linux guest would reset its NIC after 5 s). A NIC
 * process is not restarted once QEMU's end of its socket is closed (checked
 * by inode in /proc/net/unix): the guest is gone. When COMMAND exits, every
 * NIC process gets SIGTERM (SIGKILL after 5 s) and the launcher exits with
 * COMMAND's status (128 + signal if it was killed).
 *
 * vhost=on (-nic form only): the NIC is served by "vmfabric-nic --vhost-user
 * PATH" instead, PATH in a private directory (mode 0700, removed at exit),
 * and the NIC becomes -chardev socket,id=vmfchrI,path=PATH,reconnect=1
 * -netdev vhost-user,id=ID,chardev=vmfchrI -device MODEL,netdev=ID,mac=MAC;
 * once per guest the RAM is made shareable: -object
 * memory-backend-memfd,id=vmfmem,size=(-m, run-guest --mem; default 128M),
 * share=on -numa node,memdev=vmfmem (a command that has -numa already is a
 * usage error). Without KVM (-enable-kvm, accel=kvm, -accel kvm,
 * VMLAB_ACCEL=kvm) the device also gets vectors=0: QEMU 7.2 under TCG
 * crashes in the MSI-X unmask when a vhost-user net device starts. For
 * run-guest the added QEMU options go through --qemu-arg. The NIC processes
 * are started, and their sockets waited for (5 s at most), before QEMU;
 * QEMU reconnects by itself to a restarted one, so there is no socketpair
 * to drain or watch.
 *
 * MTU: mtu=BYTES (per NIC, default --mtu) is the NIC process's --mtu and,
 * for a virtio-net model other than 1500, the device's host_mtu=, so that
 * the guest takes that MTU (a network with --network-mtu NAME=9000 wants
 * mtu=9000). QEMU fixes host_mtu at start: the launcher cannot learn it
 * from the switch, so the NIC process logs the network's MTU when it
 * differs. With vhost=on the guest sees host_mtu only if the vhost-user
 * backend offers VIRTIO_NET_F_MTU, which vmfabric-nic does not yet.
 *
 * Link state (vmfabric-ctl link PORT down|up): QEMU gets -qmp
 * unix:DIR/qmp.sock,server=on,wait=off (DIR private, mode 0700, removed at
 * exit) and the launcher is its only QMP client (qmp.c). Each NIC process
 * gets the write end of a pipe as fd 4 (--link-fd 4) and writes '0' or '1'
 * after every Welcome and link change; the launcher reads the read end and
 * sends set_link for the NIC's netdev id whenever what the switch says
 * differs from what QEMU has (QEMU starts with every link up). The pipe
 * outlives NIC process restarts, and a state that arrives before QMP is
 * ready is sent once it is. The guest's virtio-net (or e1000) then reports
 * carrier off, and the switch forwards nothing to or from the port anyway.
 *
 * Limits: at most 16 vmfabric NICs; options only on the command line (no
 * -c file). If the launcher itself is killed with SIGKILL, QEMU and the
 * running NIC processes go on (the guest keeps its network, without restarts)
 * and each NIC process ends once it finds QEMU's end closed.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cert.h"
#include "codec.h"
#include "conf.h"
#include "log.h"
#include "nicsup.h"
#include "qmp.h"
#include "uplink.h"
#include "util.h"

#define MAX_NICS	16
#define QEMU_FD_BASE	10
#define NIC_FD		3
#define LINK_FD		4	/* the NIC process's --link-fd */
#define SOCK_BUF	(4 * 1024 * 1024)
#define STOP_GRACE_MS	5000
#define ID_MAX		64

enum vnic_form { FORM_NIC, FORM_NETDEV };

/* One vmfabric NIC: its options, its socketpair and its NIC process. */
struct vnic {
	uint64_t started_ms, restart_ms;
	unsigned long restarts, drained, drained_total;
	const char *dash;		/* "-" or "--", as the user wrote it */
	ino_t qino;			/* QEMU's end, to tell whether it is still open */
	enum vnic_form form;
	int argi;			/* index of the option in the command */
	int qfd, nfd;			/* QEMU's end (until QEMU runs), our copy of the NIC end */
	pid_t pid;			/* running NIC process, or 0 */
	int ended;			/* QEMU's end is closed: never restarted */
	unsigned int backoff_ms;
	char id[ID_MAX], network[VMF_NAME_MAX], name[VMF_NAME_MAX], mac[18], model[64];
	char netdev_arg[160], device_arg[200];
	int vhost;			/* vhost=on: served over vhost-user at @sock */
	char sock[108], chardev_arg[200];
	long mtu;			/* mtu=, else --mtu */
	char mtu_arg[16];
	int link_rfd, link_wfd;		/* the link state pipe: ours, the NIC process's fd 4 */
	int link_want, link_qemu;	/* link up as the switch says (-1: not yet), as QEMU has */
};

static struct {
	char *sw, *server_key, *key, *network, *nic_binary, *failback;
	long mtu;
	int insecure;
} cfg = { .mtu = 1500 };
static struct conf_std std;

static struct vnic nics[MAX_NICS];
static int nnics;
static char nic_binary_buf[PATH_MAX];
static int run_guest;			/* the command is vmlab's run-guest (--qemu-arg) */
static int use_kvm;			/* the command runs QEMU with KVM */
static char mem_size[32] = "128M";	/* guest RAM, for vhost=on's shared backend */
static char vhost_dir[PATH_MAX];	/* private directory of the vhost-user sockets */
static char mem_obj_arg[96];
static char qmp_arg[160];		/* -qmp unix:DIR/qmp.sock,server=on,wait=off */
static struct qmp qmp;

static const char synopsis[] =
	"--switch EP --server-key PUBFILE --key SECRETFILE [--network NAME]\n"
	"                     [options] -- QEMU-COMMAND ... -nic vmfabric,mac=MAC[,network=NAME]\n"
	"                     [,model=DEVICE][,name=PORTNAME][,id=ID][,mtu=BYTES][,vhost=on] ...\n\n"
	"Starts one vmfabric-nic per vmfabric NIC of the QEMU command, rewrites those NICs\n"
	"into -netdev dgram,local.type=fd + -device, runs QEMU as a child, restarts NIC\n"
	"processes that die, and exits with QEMU's status.";

/* The same parser and option rows as every other program (conf.c); -f, -d, -n have their own meaning here. */
static const struct conf_opt opts[] = {
	UPLINK_CONF_OPTS(&cfg.sw, &cfg.server_key, &cfg.failback, &cfg.key),
	{ "network", 'N', CONF_STR, &cfg.network, "NAME", "network of NICs without network=", 0, 0 },
	{ "mtu", 0, CONF_INT, &cfg.mtu, "BYTES", "MTU of the guest links (default 1500); not 1500: also host_mtu= of virtio-net devices", VMF_MTU_MIN, 65000 },
	{ "insecure", 0, CONF_BOOL, &cfg.insecure, NULL, "no CURVE (the switch must be --insecure too)", 0, 0 },
	{ "nic-binary", 0, CONF_STR, &cfg.nic_binary, "PATH", "vmfabric-nic to run (default: next to this program)", 0, 0 },
	{ "debug", 'd', CONF_BOOL, &std.debug, NULL, "debug logging, also in the NIC processes", 0, 0 },
	{ "check", 'n', CONF_BOOL, &std.check, NULL, "print the NIC and QEMU command lines and exit", 0, 0 },
	{ "foreground", 'f', CONF_BOOL, &std.foreground, NULL, "accepted; vmfabric-qemu always runs in the foreground", 0, 0 },
	{ NULL, 0, 0, NULL, NULL,
	  "-nic vmfabric keys: mac= (required), network=, model= (default virtio-net-pci),\n"
	  "name= (port name), id= (netdev id), mtu= (this NIC's MTU, default --mtu),\n"
	  "vhost=on (vhost-user: the guest's rings in shared memory, offloads; adds a shared\n"
	  "memfd RAM backend). Or: -netdev vmfabric,id=ID[,network=][,name=][,mtu=] with your\n"
	  "own -device DEVICE,netdev=ID,mac=MAC.\n\n"
	  "QEMU also gets -qmp unix:DIR/qmp.sock (a private directory): the launcher passes the\n"
	  "switch's link state (vmfabric-ctl link PORT down|up) to the guest with set_link.\n", 0, 0 },
};

static void __attribute__((noreturn)) usage_error(void)
{
	fputs("see: vmfabric-qemu --help\n", stderr);
	exit(EXIT_USAGE);
}

/* True for a QEMU id: a letter, then letters, digits, '-', '.', '_'. */
static int valid_id(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' || *s == '_'))
			return 0;
	return 1;
}

static int is_opt(const char *a, const char *name)
{
	return a[0] == '-' && (!strcmp(a + 1, name) || (a[1] == '-' && !strcmp(a + 2, name)));
}

/* "vmfabric" or "vmfabric,..." */
static int is_vmfabric(const char *v)
{
	return !strncmp(v, "vmfabric", 8) && (v[8] == '\0' || v[8] == ',');
}

static void copy_val(char *dst, size_t size, const char *val, const char *key, const char *spec)
{
	if (str_copy(dst, val, size)) {
		fprintf(stderr, "vmfabric-qemu: '%s': %s= is too long (at most %zu characters)\n",
			spec, key, size - 1);
		usage_error();
	}
}

/* Parse the value of one -nic vmfabric,... or -netdev vmfabric,... into @v. */
static void parse_spec(struct vnic *v, const char *opt, const char *spec)
{
	static const char *const nic_keys[] = { "network", "mac", "model", "name", "id", "vhost", "mtu",
						NULL };
	static const char *const netdev_keys[] = { "network", "name", "id", "mtu", NULL };
	const char *const *keys = v->form == FORM_NIC ? nic_keys : netdev_keys;
	char *copy = strdup(spec), *rest, *item;
	unsigned int seen = 0;

	if (!copy)
		die(1, "out of memory");
	rest = copy + 8;		/* past "vmfabric" */
	if (*rest == ',')
		rest++;
	else
		rest = NULL;		/* plain "vmfabric": no keys */
	while (rest && (item = strsep(&rest, ","))) {
		char *eq = strchr(item, '=');
		int k;

		if (!eq || eq == item) {
			fprintf(stderr, "vmfabric-qemu: %s '%s': '%s' is not KEY=VALUE\n", opt, spec, item);
			usage_error();
		}
		*eq = '\0';
		for (k = 0; keys[k] && strcmp(keys[k], item); k++)
			;
		if (!keys[k]) {
			fprintf(stderr, "vmfabric-qemu: %s '%s': unknown option '%s' (known:", opt, spec, item);
			for (k = 0; keys[k]; k++)
				fprintf(stderr, " %s=", keys[k]);
			fprintf(stderr, ")%s\n", v->form == FORM_NETDEV && (!strcmp(item, "mac") ||
				!strcmp(item, "model")) ? "; with -netdev vmfabric, put mac= and the "
				"model on your -device" : "");
			usage_error();
		}
		if (seen & (1u << k)) {
			fprintf(stderr, "vmfabric-qemu: %s '%s': %s= given twice\n", opt, spec, item);
			usage_error();
		}
		seen |= 1u << k;
		if (!strcmp(item, "network"))
			copy_val(v->network, sizeof(v->network), eq + 1, item, spec);
		else if (!strcmp(item, "mac"))
			copy_val(v->mac, sizeof(v->mac), eq + 1, item, spec);
		else if (!strcmp(item, "model"))
			copy_val(v->model, sizeof(v->model), eq + 1, item, spec);
		else if (!strcmp(item, "name"))
			copy_val(v->name, sizeof(v->name), eq + 1, item, spec);
		else if (!strcmp(item, "vhost")) {
			if (conf_onoff(eq + 1, &v->vhost)) {
				fprintf(stderr, "vmfabric-qemu: %s '%s': vhost= is on or off\n", opt, spec);
				usage_error();
			}
		} else if (!strcmp(item, "mtu")) {
			char *end;

			errno = 0;
			v->mtu = strtol(eq + 1, &end, 10);
			if (errno || end == eq + 1 || *end || v->mtu < VMF_MTU_MIN || v->mtu > 65000) {
				fprintf(stderr, "vmfabric-qemu: %s '%s': mtu= is %d..65000\n", opt, spec,
					VMF_MTU_MIN);
				usage_error();
			}
		} else
			copy_val(v->id, sizeof(v->id), eq + 1, item, spec);
	}
	free(copy);
}

/* Check one parsed NIC and fill in its defaults (@index among the vmfabric NICs). */
static void finish_spec(struct vnic *v, int index, const char *opt, const char *spec,
			const char *guest)
{
	char host[64] = "host";

	if (v->form == FORM_NIC && !*v->mac) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': mac= is required (QEMU gives every guest the "
			"same default MAC 52:54:00:12:34:56), e.g. mac=52:54:00:00:00:%02x\n",
			opt, spec, index + 1);
		usage_error();
	}
	if (*v->mac && !nicsup_valid_mac(v->mac)) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': mac=%s is not a unicast MAC like "
			"52:54:00:12:34:56\n", opt, spec, v->mac);
		usage_error();
	}
	if (v->form == FORM_NETDEV && !*v->id) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': id= is required (your -device names it "
			"with netdev=ID)\n", opt, spec);
		usage_error();
	}
	if (!*v->id)
		snprintf(v->id, sizeof(v->id), "vmfabric%d", index);
	if (!valid_id(v->id)) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': id=%s: a QEMU id starts with a letter and has "
			"only letters, digits, '-', '.', '_'\n", opt, spec, v->id);
		usage_error();
	}
	if (!*v->network) {
		if (!cfg.network) {
			fprintf(stderr, "vmfabric-qemu: %s '%s': no network: give network=NAME or "
				"--network NAME\n", opt, spec);
			usage_error();
		}
		copy_val(v->network, sizeof(v->network), cfg.network, "network", spec);
	}
	if (!codec_valid_name(v->network)) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': network '%s': 1-63 characters of "
			"A-Z a-z 0-9 - _ . / : @\n", opt, spec, v->network);
		usage_error();
	}
	if (!v->mtu)
		v->mtu = cfg.mtu;
	snprintf(v->mtu_arg, sizeof(v->mtu_arg), "%ld", v->mtu);
	v->link_want = -1;
	v->link_qemu = 1;
	v->link_rfd = v->link_wfd = -1;
	if (!*v->model || !strcmp(v->model, "virtio"))
		snprintf(v->model, sizeof(v->model), "virtio-net-pci");
	if (!valid_id(v->model)) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': model=%s is not a QEMU device name\n",
			opt, spec, v->model);
		usage_error();
	}
	if (!*v->name) {
		if (guest)
			nicsup_port_name(v->name, sizeof(v->name), guest, index);
		else {
			gethostname(host, sizeof(host) - 1);
			snprintf(v->name, sizeof(v->name), "%.30s/qemu-%d/nic%d", host, (int)getpid(),
				 index);
		}
	}
	if (!codec_valid_name(v->name)) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': port name '%s': 1-63 characters of "
			"A-Z a-z 0-9 - _ . / : @ (set name=)\n", opt, spec, v->name);
		usage_error();
	}
}

/* The guest name from -name [guest=]NAME[,...] (QEMU) or --name NAME (run-guest). */
static void guest_name(const char *val, char *out, size_t size)
{
	const char *p = val, *end;

	if (!strncmp(p, "guest=", 6))
		p += 6;
	end = strchr(p, ',');
	if (!end)
		end = p + strlen(p);
	snprintf(out, size, "%.*s", (int)MIN((size_t)(end - p), size - 1), p);
}

/* -m VALUE (QEMU: MiB, or a K/M/G/T suffix, maybe size=...) or run-guest --mem MiB into mem_size. */
static void parse_mem(const char *opt, const char *val, int mib_only)
{
	const char *p = val;
	char *end;
	unsigned long long n;

	if (!strncmp(p, "size=", 5))
		p += 5;
	errno = 0;
	n = strtoull(p, &end, 10);
	if (errno || end == p || !n || (mib_only && *end) || strchr(end, ',') ||
	    (*end && (!strchr("KkMmGgTt", *end) || end[1]))) {
		fprintf(stderr, "vmfabric-qemu: %s '%s': vhost=on needs a plain size (e.g. 512M or 2G) "
			"to share the guest's RAM\n", opt, val);
		usage_error();
	}
	snprintf(mem_size, sizeof(mem_size), "%llu%c", n, *end ? (char)(*end & ~0x20) : 'M');
}

/* With -netdev vmfabric,id=X: a -device ...,netdev=X must exist and carry mac=. */
static void check_device(const struct vnic *v, char **cmd, int n, const char *spec)
{
	char want[ID_MAX + 8];
	int found = 0;

	snprintf(want, sizeof(want), "netdev=%s", v->id);
	for (int i = 1; i + 1 < n; i++) {
		char *copy, *rest, *item;
		int refs = 0, mac = 0;

		if (!is_opt(cmd[i], "device"))
			continue;
		copy = strdup(cmd[i + 1]);
		if (!copy)
			die(1, "out of memory");
		rest = copy;
		while ((item = strsep(&rest, ","))) {
			if (!strcmp(item, want))
				refs = 1;
			else if (!strncmp(item, "mac=", 4))
				mac = nicsup_valid_mac(item + 4);
		}
		free(copy);
		if (!refs)
			continue;
		found = 1;
		if (!mac) {
			fprintf(stderr, "vmfabric-qemu: %s '%s' needs a unicast mac= (QEMU's default MAC "
				"is the same in every guest)\n", cmd[i], cmd[i + 1]);
			usage_error();
		}
	}
	if (!found) {
		fprintf(stderr, "vmfabric-qemu: -netdev '%s': no -device ...,netdev=%s,mac=MAC uses it\n",
			spec, v->id);
		usage_error();
	}
}

/* Find and check every vmfabric NIC of the command @cmd[0..n-1]. */
static void scan_command(char **cmd, int n)
{
	char guest[VMF_NAME_MAX] = "";
	int vhost_nics = 0;
	const char *base = strrchr(cmd[0], '/') ? strrchr(cmd[0], '/') + 1 : cmd[0];
	int i;

	for (i = 1; i < n; i++) {
		if (is_opt(cmd[i], "daemonize")) {
			fprintf(stderr, "vmfabric-qemu: %s: QEMU must stay our child (it supervises the "
				"NIC processes); drop -daemonize and run vmfabric-qemu in the background "
				"instead\n", cmd[i]);
			usage_error();
		}
		if (!strcmp(base, "run-guest") && !strcmp(cmd[i], "--background")) {
			fprintf(stderr, "vmfabric-qemu: run-guest --background daemonizes QEMU; run "
				"run-guest in the foreground under vmfabric-qemu\n");
			usage_error();
		}
		if (i + 1 < n && is_opt(cmd[i], "name"))
			guest_name(cmd[i + 1], guest, sizeof(guest));
		if (is_opt(cmd[i], "enable-kvm") || strstr(cmd[i], "accel=kvm") ||
		    (i + 1 < n && is_opt(cmd[i], "accel") && !strncmp(cmd[i + 1], "kvm", 3)))
			use_kvm = 1;
	}
	run_guest = !strcmp(base, "run-guest");
	if (run_guest && getenv("VMLAB_ACCEL") && !strcmp(getenv("VMLAB_ACCEL"), "kvm"))
		use_kvm = 1;
	for (i = 1; i + 1 < n; i++) {
		struct vnic *v;

		if (!(is_opt(cmd[i], "nic") || is_opt(cmd[i], "netdev")) || !is_vmfabric(cmd[i + 1]))
			continue;
		if (nnics == MAX_NICS) {
			fprintf(stderr, "vmfabric-qemu: more than %d vmfabric NICs\n", MAX_NICS);
			usage_error();
		}
		v = &nics[nnics];
		v->form = is_opt(cmd[i], "nic") ? FORM_NIC : FORM_NETDEV;
		v->argi = i;
		v->dash = cmd[i][1] == '-' ? "--" : "-";
		v->qfd = v->nfd = -1;
		parse_spec(v, cmd[i], cmd[i + 1]);
		if (v->vhost && v->form == FORM_NETDEV) {
			fprintf(stderr, "vmfabric-qemu: %s '%s': vhost= only with -nic vmfabric,...\n",
				cmd[i], cmd[i + 1]);
			usage_error();
		}
		finish_spec(v, nnics, cmd[i], cmd[i + 1], *guest ? guest : NULL);
		if (v->form == FORM_NETDEV)
			check_device(v, cmd, n, cmd[i + 1]);
		if (v->vhost)
			vhost_nics++;
		for (int j = 0; j < nnics; j++) {
			if (!strcmp(nics[j].id, v->id)) {
				fprintf(stderr, "vmfabric-qemu: two vmfabric NICs with id=%s\n", v->id);
				usage_error();
			}
			if (*v->mac && !strcasecmp(nics[j].mac, v->mac)) {
				fprintf(stderr, "vmfabric-qemu: two vmfabric NICs with mac=%s\n", v->mac);
				usage_error();
			}
			if (!strcmp(nics[j].name, v->name) && !strcmp(nics[j].network, v->network)) {
				fprintf(stderr, "vmfabric-qemu: two vmfabric NICs named %s in network %s\n",
					v->name, v->network);
				usage_error();
			}
		}
		nnics++;
		i++;
	}
	if (!nnics) {
		fprintf(stderr, "vmfabric-qemu: the command has no -nic vmfabric,... or "
			"-netdev vmfabric,... to serve\n");
		usage_error();
	}
	/* vhost=on: the guest's RAM must be a shared memfd of the -m size */
	for (i = 1; vhost_nics && i < n; i++) {
		if (is_opt(cmd[i], "numa") || (run_guest && !strcmp(cmd[i], "--qemu-arg") &&
					       i + 1 < n && !strcmp(cmd[i + 1], "-numa"))) {
			fprintf(stderr, "vmfabric-qemu: vhost=on adds -numa node,memdev=vmfmem for the "
				"shared guest RAM; the command has its own -numa\n");
			usage_error();
		}
		if (i + 1 < n && (run_guest ? !strcmp(cmd[i], "--mem") : is_opt(cmd[i], "m")))
			parse_mem(cmd[i], cmd[i + 1], run_guest);
	}
}

/* Load the key files now, the way the NIC processes will: bad keys stop us before QEMU runs. */
static void check_keys(void)
{
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	char why[512];

	if (cfg.insecure)
		return;
	if (!cfg.server_key || !cfg.key) {
		fprintf(stderr, "vmfabric-qemu: --server-key PUBFILE and --key SECRETFILE are required "
			"(or --insecure against an --insecure switch)\n");
		usage_error();
	}
	{
		char list[4096], *files[UPLINK_MAX_EP];
		int n = -EINVAL;

		if (strlen(cfg.server_key) < sizeof(list))
			n = uplink_split(strcpy(list, cfg.server_key), files, UPLINK_MAX_EP);
		if (n < 0)
			die(EXIT_USAGE, "--server-key: 1 to %d files separated by commas", UPLINK_MAX_EP);
		for (int i = 0; i < n; i++)
			if (cert_load_public(files[i], pub, why, sizeof(why)))
				die(EXIT_CONFIG, "--server-key: %s", why);
	}
	if (cert_load_secret(cfg.key, pub, sec, why, sizeof(why)))
		die(EXIT_CONFIG, "--key: %s", why);
	cert_wipe(sec, sizeof(sec));
}

/* vmfabric-nic next to our own executable, unless --nic-binary says otherwise. */
static void find_nic_binary(void)
{
	if (!cfg.nic_binary) {
		int rc = nicsup_sibling(nic_binary_buf, sizeof(nic_binary_buf), "vmfabric-nic");

		if (rc)
			die(EXIT_CONFIG, "cannot place vmfabric-nic next to /proc/self/exe: %s; give "
			    "--nic-binary PATH", strerror(-rc));
		cfg.nic_binary = nic_binary_buf;
	}
	if (access(cfg.nic_binary, X_OK))
		die(EXIT_CONFIG, "NIC process binary %s: %s (give --nic-binary PATH)", cfg.nic_binary,
		    strerror(errno));
}

/* True if @prog names something execvp() can run. */
static int command_exists(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(prog, '/'))
		return !access(prog, X_OK);
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, path, len ? "/" : "", prog) <
		    (int)sizeof(buf) && !access(buf, X_OK))
			return 1;
		path += len + (path[len] == ':');
	}
	return 0;
}

/* ",host_mtu=N" for a virtio-net device whose MTU is not 1500, else "" (static storage) */
static const char *host_mtu(const struct vnic *v)
{
	static char buf[32];

	if (v->mtu == 1500 || strncmp(v->model, "virtio-net", 10))
		return "";
	snprintf(buf, sizeof(buf), ",host_mtu=%ld", v->mtu);
	return buf;
}

/* The launcher's private directory (vhost-user sockets, QMP), made once. */
static void private_dir(void)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");

	if (*vhost_dir)
		return;
	snprintf(vhost_dir, sizeof(vhost_dir), "%s/vmfabric-qemu.XXXXXX",
		 rt && *rt && !access(rt, W_OK) ? rt : "/tmp");
	if (!mkdtemp(vhost_dir))
		die(1, "mkdtemp %s: %s", vhost_dir, strerror(errno));
}

/* QEMU's QMP socket in the private directory, for set_link (qmp.c) */
static void make_qmp(void)
{
	char path[PATH_MAX];

	private_dir();
	if (snprintf(path, sizeof(path), "%.4000s/qmp.sock", vhost_dir) >= (int)sizeof(qmp.path) ||
	    qmp_init(&qmp, path))
		die(1, "QMP socket path %s is too long (set XDG_RUNTIME_DIR)", path);
	snprintf(qmp_arg, sizeof(qmp_arg), "unix:%.107s,server=on,wait=off", qmp.path);
}

/* The link state pipe of @v: the NIC process writes, we read (never blocking) */
static void make_link_pipe(struct vnic *v)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK))
		die(1, "pipe: %s", strerror(errno));
	/* above the fds a NIC process gets (3, 4), so that its dup2()s cannot clobber them */
	v->link_rfd = fcntl(p[0], F_DUPFD_CLOEXEC, QEMU_FD_BASE);
	v->link_wfd = fcntl(p[1], F_DUPFD_CLOEXEC, QEMU_FD_BASE);
	if (v->link_rfd < 0 || v->link_wfd < 0)
		die(1, "fcntl F_DUPFD: %s", strerror(errno));
	close(p[0]);
	close(p[1]);
}

/* vhost=on: the socket path of NIC @idx in the private directory, and the QEMU options */
static void make_vhost(struct vnic *v, int idx)
{
	if (!*mem_obj_arg) {
		private_dir();
		snprintf(mem_obj_arg, sizeof(mem_obj_arg), "memory-backend-memfd,id=vmfmem,size=%s,share=on",
			 mem_size);
	}
	if (snprintf(v->sock, sizeof(v->sock), "%s/nic%d.vhost", vhost_dir, idx) >= (int)sizeof(v->sock))
		die(1, "socket path %s/nic%d.vhost is too long (set XDG_RUNTIME_DIR)", vhost_dir, idx);
	snprintf(v->chardev_arg, sizeof(v->chardev_arg), "socket,id=vmfchr%d,path=%s,reconnect=1",
		 idx, v->sock);
	snprintf(v->netdev_arg, sizeof(v->netdev_arg), "vhost-user,id=%s,chardev=vmfchr%d", v->id, idx);
	snprintf(v->device_arg, sizeof(v->device_arg), "%s,netdev=%s,mac=%s%s%s", v->model, v->id,
		 v->mac, use_kvm ? "" : ",vectors=0", host_mtu(v));
}

/* The socketpair of @v: QEMU's end at fd QEMU_FD_BASE or above, ours wherever. */
static void make_pair(struct vnic *v, int idx)
{
	int sv[2], sz = SOCK_BUF;
	struct stat st;

	make_link_pipe(v);
	if (v->vhost) {
		make_vhost(v, idx);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv))
		die(1, "socketpair: %s", strerror(errno));
	for (int i = 0; i < 2; i++)
		setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	v->qfd = fcntl(sv[0], F_DUPFD_CLOEXEC, QEMU_FD_BASE);
	if (v->qfd < 0)
		die(1, "fcntl F_DUPFD: %s", strerror(errno));
	close(sv[0]);
	v->nfd = sv[1];
	if (fstat(v->qfd, &st))
		die(1, "fstat: %s", strerror(errno));
	v->qino = st.st_ino;
	snprintf(v->netdev_arg, sizeof(v->netdev_arg), "dgram,id=%s,local.type=fd,local.str=%d",
		 v->id, v->qfd);
	snprintf(v->device_arg, sizeof(v->device_arg), "%s,netdev=%s,mac=%s%s", v->model, v->id, v->mac,
		 host_mtu(v));
}

/* Append QEMU option @opt @val to @out at @o (through --qemu-arg for run-guest). */
static int add_qemu_opt(char **out, int o, const char *opt, const char *val)
{
	if (run_guest)
		out[o++] = "--qemu-arg";
	out[o++] = (char *)opt;
	if (run_guest)
		out[o++] = "--qemu-arg";
	out[o++] = (char *)val;
	return o;
}

/* The command with every vmfabric NIC rewritten; NULL-terminated. */
static char **rewrite_command(char **cmd, int n)
{
	char **out = calloc((size_t)n + 8 * (size_t)nnics + 13, sizeof(*out));
	int o = 0, k = 0;

	if (!out)
		die(1, "out of memory");
	for (int i = 0; i < n; i++) {
		struct vnic *v = k < nnics && nics[k].argi == i ? &nics[k] : NULL;

		if (!v) {
			out[o++] = cmd[i];
			continue;
		}
		if (!k)		/* QMP for set_link (link state), before the first NIC */
			o = add_qemu_opt(out, o, "-qmp", qmp_arg);
		if (!k && *mem_obj_arg) {	/* vhost=on: shared RAM and chardevs, before the first NIC */
			o = add_qemu_opt(out, o, "-object", mem_obj_arg);
			o = add_qemu_opt(out, o, "-numa", "node,memdev=vmfmem");
			for (int j = 0; j < nnics; j++)
				if (nics[j].vhost)
					o = add_qemu_opt(out, o, "-chardev", nics[j].chardev_arg);
		}
		if (asprintf(&out[o++], "%snetdev", v->dash) < 0)
			die(1, "out of memory");
		out[o++] = v->netdev_arg;
		if (v->form == FORM_NIC) {
			if (asprintf(&out[o++], "%sdevice", v->dash) < 0)
				die(1, "out of memory");
			out[o++] = v->device_arg;
		}
		i++;
		k++;
	}
	out[o] = NULL;
	return out;
}

/* The vmfabric-nic command line for @v; NULL-terminated, static storage. */
static char **nic_argv(const struct vnic *v)
{
	static char *argv[28];
	static char fdarg[8], linkarg[8];
	int n = 0;

	snprintf(fdarg, sizeof(fdarg), "%d", NIC_FD);
	snprintf(linkarg, sizeof(linkarg), "%d", LINK_FD);
	argv[n++] = (char *)cfg.nic_binary;
	argv[n++] = "-f";
	if (std.debug)
		argv[n++] = "-d";
	argv[n++] = "--switch";
	argv[n++] = (char *)cfg.sw;
	if (cfg.server_key) {
		argv[n++] = "--server-key";
		argv[n++] = (char *)cfg.server_key;
	}
	if (cfg.key) {
		argv[n++] = "--key";
		argv[n++] = (char *)cfg.key;
	}
	if (cfg.insecure)
		argv[n++] = "--insecure";
	if (cfg.failback) {
		argv[n++] = "--failback";
		argv[n++] = (char *)cfg.failback;
	}
	argv[n++] = "--link-fd";
	argv[n++] = linkarg;
	argv[n++] = "--mtu";
	argv[n++] = (char *)v->mtu_arg;
	argv[n++] = "--network";
	argv[n++] = (char *)v->network;
	argv[n++] = "--name";
	argv[n++] = (char *)v->name;
	if (v->vhost) {
		argv[n++] = "--vhost-user";
		argv[n++] = (char *)v->sock;
	} else {
		argv[n++] = "--fd";
		argv[n++] = fdarg;
	}
	argv[n] = NULL;
	return argv;
}

/* Print @argv as a shell would need it quoted. */
static void print_argv(FILE *f, const char *label, char *const *argv)
{
	fprintf(f, "%s", label);
	for (; *argv; argv++) {
		const char *a = *argv;

		if (*a && strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789-_./:=,@+%") == strlen(a)) {
			fprintf(f, " %s", a);
			continue;
		}
		fputs(" '", f);
		for (; *a; a++) {
			if (*a == '\'')
				fputs("'\\''", f);
			else
				fputc(*a, f);
		}
		fputc('\'', f);
	}
	fputc('\n', f);
}

static void nic_spawn(struct vnic *v, int idx)
{
	char **argv = nic_argv(v);
	pid_t pid = fork();

	if (pid < 0) {
		err("nic%d %s: fork: %s; retrying", idx, v->name, strerror(errno));
		v->restart_ms = now_ms() + NICSUP_BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		nicsup_child_reset();
		setpgid(0, 0);
		if (!v->vhost && (dup2(v->nfd, NIC_FD) < 0 || fcntl(NIC_FD, F_SETFD, 0) < 0))
			_exit(127);
		/* blocking for the NIC process is its choice: it sets O_NONBLOCK itself */
		if (dup2(v->link_wfd, LINK_FD) < 0 || fcntl(LINK_FD, F_SETFD, 0) < 0)
			_exit(127);
		execv(cfg.nic_binary, argv);
		fprintf(stderr, "vmfabric-qemu: cannot run %s: %s\n", cfg.nic_binary, strerror(errno));
		_exit(127);
	}
	v->pid = pid;
	v->started_ms = now_ms();
	info("nic%d %s: vmfabric-nic pid %d (network %s, mac %s, %s)", idx, v->name, (int)pid,
	     v->network, *v->mac ? v->mac : "from -device", v->restarts ? "restarted" : "started");
}

/* True while some process still holds QEMU's end of the socketpair with inode @ino. */
static int qemu_end_open(ino_t ino)
{
	FILE *f = fopen("/proc/net/unix", "r");
	char line[512];
	int found = 0;

	if (!f)
		return 1;	/* cannot tell: assume the guest is there */
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		unsigned long long inode;

		/* Num RefCount Protocol Flags Type St Inode [Path]: skip six fields */
		for (int i = 0; i < 6 && p; i++) {
			p = strchr(p, ' ');
			p = p ? p + strspn(p, " ") : NULL;
		}
		if (!p)
			continue;
		inode = strtoull(p, &end, 10);
		if (end != p && inode == (unsigned long long)ino)
			found = 1;
	}
	fclose(f);
	return found;
}

static void nic_died(struct vnic *v, int idx, int st, int stopping)
{
	uint64_t now = now_ms(), ran = now - v->started_ms;
	char what[96];

	nicsup_describe_status(st, what, sizeof(what));
	v->pid = 0;
	if (stopping) {
		info("nic%d %s: vmfabric-nic %s", idx, v->name, what);
		return;
	}
	if (!v->vhost && !qemu_end_open(v->qino)) {
		v->ended = 1;
		info("nic%d %s: vmfabric-nic %s; QEMU's end of its socket is closed: not restarted",
		     idx, v->name, what);
		return;
	}
	v->backoff_ms = nicsup_backoff(v->backoff_ms, ran);
	v->restart_ms = now + v->backoff_ms;
	v->restarts++;
	warn("nic%d %s: vmfabric-nic %s after %.1f s; restart %lu in %.1f s (QEMU's frames are "
	     "discarded meanwhile)", idx, v->name, what, ran / 1000.0, v->restarts,
	     v->backoff_ms / 1000.0);
}

/* Read and discard what QEMU sent while no NIC process runs, so its send queue never fills. */
static void drain(struct vnic *v)
{
	static uint8_t buf[65536 + 64];

	for (int i = 0; i < 1024; i++) {
		if (recv(v->nfd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
		v->drained++;
		v->drained_total++;
	}
}

/* vhost=on: QEMU waits for the sockets at start-up, so give the NIC processes 5 s to listen. */
static void vhost_wait(void)
{
	uint64_t end = now_ms() + 5000;

	for (int i = 0; i < nnics; i++) {
		struct stat st;

		while (nics[i].vhost && (stat(nics[i].sock, &st) || !S_ISSOCK(st.st_mode)) &&
		       now_ms() < end)
			usleep(20000);
	}
}

/* Remove the private directory: QMP and vhost-user sockets (the NIC processes remove theirs). */
static void vhost_cleanup(void)
{
	if (!*vhost_dir)
		return;
	qmp_close(&qmp);
	if (*qmp.path)
		unlink(qmp.path);
	for (int i = 0; i < nnics; i++)
		if (nics[i].vhost)
			unlink(nics[i].sock);
	if (rmdir(vhost_dir))
		warn("cannot remove %s: %s", vhost_dir, strerror(errno));
}

static int exit_code(int st)
{
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* What NIC @v's process wrote on its link pipe: the last byte is the switch's word. */
static void link_read(struct vnic *v, int idx)
{
	char b[64];
	ssize_t n;

	while ((n = read(v->link_rfd, b, sizeof(b))) > 0) {
		if (b[n - 1] != '0' && b[n - 1] != '1')
			continue;
		if (v->link_want != (b[n - 1] == '1'))
			info("nic%d %s: link %s at the switch", idx, v->name, b[n - 1] == '1' ? "up" : "down");
		v->link_want = b[n - 1] == '1';
	}
}

/* Tell QEMU every link state it does not have yet (once QMP is ready). */
static void link_sync(void)
{
	for (int i = 0; i < nnics; i++) {
		struct vnic *v = &nics[i];

		if (v->link_want < 0 || v->link_want == v->link_qemu)
			continue;
		if (qmp_set_link(&qmp, v->id, v->link_want))
			return;	/* not ready: again when it is */
		info("nic%d %s: QEMU set_link %s %s", i, v->name, v->id, v->link_want ? "up" : "down");
		v->link_qemu = v->link_want;
	}
}

/* Supervise QEMU (@qpid) and the NIC processes until QEMU and every NIC process have ended. */
static int supervise(int sfd, pid_t qpid)
{
	int qstatus = 0, stopping = 0;
	uint64_t stop_deadline = 0;
	int killed = 0;

	for (;;) {
		struct pollfd pfd[2 + 2 * MAX_NICS];
		int map[2 + 2 * MAX_NICS], n = 0, running = 0, nlink;
		uint64_t now = now_ms();
		long timeout = -1;

		pfd[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		/* link state: every NIC's pipe, and QEMU's QMP socket (connected while QEMU runs) */
		if (!stopping && qpid > 0) {
			qmp_tick(&qmp, now);
			timeout = qmp_timeout(&qmp, now);
		}
		pfd[n++] = (struct pollfd){ qmp.fd, POLLIN, 0 };
		for (int i = 0; i < nnics; i++) {
			map[n] = i;
			pfd[n++] = (struct pollfd){ nics[i].link_rfd, POLLIN, 0 };
		}
		nlink = n;
		for (int i = 0; i < nnics; i++) {
			struct vnic *v = &nics[i];

			if (v->pid) {
				running++;
				continue;
			}
			if (stopping || v->ended || v->vhost)
				continue;
			map[n] = i;
			pfd[n++] = (struct pollfd){ v->nfd, POLLIN, 0 };
			if (timeout < 0 || (long)(v->restart_ms > now ? v->restart_ms - now : 0) < timeout)
				timeout = v->restart_ms > now ? (long)(v->restart_ms - now) : 0;
		}
		if (stopping) {
			if (!running)
				break;
			timeout = stop_deadline > now ? (long)(stop_deadline - now) : 0;
		}
		if (poll(pfd, (nfds_t)n, (int)timeout) < 0 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));

		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				int sig = (int)si.ssi_signo;

				if (sig == SIGCHLD)
					continue;
				/* a terminal's Ctrl-C or hang-up reached QEMU already */
				if (qpid > 0 && (sig == SIGTERM || si.ssi_code != SI_KERNEL)) {
					info("forwarding %s to %d", strsignal(sig), (int)qpid);
					kill(qpid, sig);
				}
			}
			for (;;) {
				int st;
				pid_t pid = waitpid(-1, &st, WNOHANG);
				char what[96];

				if (pid <= 0)
					break;
				if (pid == qpid) {
					nicsup_describe_status(st, what, sizeof(what));
					info("QEMU command (pid %d) %s: stopping %d NIC process%s", (int)pid,
					     what, nnics, nnics == 1 ? "" : "es");
					qstatus = st;
					qpid = 0;
					stopping = 1;
					stop_deadline = now_ms() + STOP_GRACE_MS;
					for (int i = 0; i < nnics; i++)
						if (nics[i].pid)
							kill(nics[i].pid, SIGTERM);
					continue;
				}
				for (int i = 0; i < nnics; i++)
					if (nics[i].pid == pid)
						nic_died(&nics[i], i, st, stopping);
			}
		}
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			qmp_input(&qmp);
		for (int j = 2; j < nlink; j++)
			if (pfd[j].revents & POLLIN)
				link_read(&nics[map[j]], map[j]);
		link_sync();
		for (int j = nlink; j < n; j++)
			if (pfd[j].revents & POLLIN)
				drain(&nics[map[j]]);
		now = now_ms();
		if (stopping) {
			if (!killed && now >= stop_deadline) {
				for (int i = 0; i < nnics; i++) {
					if (nics[i].pid) {
						warn("nic%d %s: vmfabric-nic pid %d ignores SIGTERM: SIGKILL",
						     i, nics[i].name, (int)nics[i].pid);
						kill(nics[i].pid, SIGKILL);
					}
				}
				killed = 1;
				stop_deadline = now + 60000;
			}
			continue;
		}
		for (int i = 0; i < nnics; i++) {
			struct vnic *v = &nics[i];

			if (v->pid || v->ended || now < v->restart_ms)
				continue;
			if (!v->vhost && !qemu_end_open(v->qino)) {
				v->ended = 1;
				info("nic%d %s: QEMU's end of its socket is closed: not restarted", i, v->name);
				continue;
			}
			if (v->drained)
				info("nic%d %s: %lu frames from the guest discarded while no NIC process ran",
				     i, v->name, v->drained);
			v->drained = 0;
			nic_spawn(v, i);
		}
	}
	for (int i = 0; i < nnics; i++)
		if (nics[i].restarts)
			info("nic%d %s: restarted %lu time%s; %lu frames from the guest discarded in all "
			     "while no NIC process ran", i, nics[i].name, nics[i].restarts,
			     nics[i].restarts == 1 ? "" : "s", nics[i].drained_total);
	return exit_code(qstatus);
}

int main(int argc, char **argv)
{
	char **cmd, **qargv;
	int ncmd, sfd, rc, first;
	pid_t qpid;

	log_init("vmfabric-qemu");
	rc = conf_parse("vmfabric-qemu", synopsis, opts, &std, argc, argv, &first);
	if (rc)
		return conf_exit(rc);
	if (first >= argc) {
		fprintf(stderr, "vmfabric-qemu: no QEMU command: give it after --, e.g.\n"
			"  vmfabric-qemu --switch tcp://HOST:7000 --server-key switch --key vm1_secret "
			"--network lab -- \\\n    qemu-system-x86_64 ... -nic vmfabric,mac=52:54:00:00:00:01\n");
		usage_error();
	}
	cmd = argv + first;
	ncmd = argc - first;
	log_set_debug(std.debug);
	if (!cfg.sw) {
		fprintf(stderr, "vmfabric-qemu: --switch EP is required (e.g. tcp://192.0.2.1:7000)\n");
		usage_error();
	}
	{
		/* the rest (key count, --failback) as every NIC process will check it */
		struct uplink_conf uc = { .endpoint = cfg.sw, .server_key = cfg.server_key,
					  .insecure = cfg.insecure, .network = "n", .name = "n" };
		char list[4096], *eps[UPLINK_MAX_EP];
		int n = -EINVAL;

		if (strlen(cfg.sw) < sizeof(list))
			n = uplink_split(strcpy(list, cfg.sw), eps, UPLINK_MAX_EP);
		for (int i = 0; i < n; i++) {
			if (strncmp(eps[i], "tcp://", 6) && strncmp(eps[i], "ipc://", 6)) {
				fprintf(stderr, "vmfabric-qemu: --switch '%s': tcp://HOST:PORT or "
					"ipc://PATH\n", eps[i]);
				usage_error();
			}
		}
		uc.key = cfg.key;
		uplink_conf_failback(&uc, cfg.failback);
		uplink_conf_check(&uc);
	}
	if (cfg.network && !codec_valid_name(cfg.network)) {
		fprintf(stderr, "vmfabric-qemu: --network '%s': 1-63 characters of A-Z a-z 0-9 - _ . / : @\n",
			cfg.network);
		usage_error();
	}
	scan_command(cmd, ncmd);
	check_keys();
	find_nic_binary();
	if (!command_exists(cmd[0]))
		die(127, "%s: command not found", cmd[0]);
	/* uplink_conf_check() above gave the --insecure warning */

	make_qmp();
	for (int i = 0; i < nnics; i++)
		make_pair(&nics[i], i);
	qargv = rewrite_command(cmd, ncmd);
	if (std.check) {
		for (int i = 0; i < nnics; i++) {
			char label[16];

			snprintf(label, sizeof(label), "nic%d:", i);
			print_argv(stdout, label, nic_argv(&nics[i]));
		}
		print_argv(stdout, "qemu:", qargv);
		vhost_cleanup();
		return 0;
	}
	if (std.pidfile && write_pidfile(std.pidfile))
		die(EXIT_CONFIG, "cannot write pidfile %s", std.pidfile);

	sfd = nicsup_signals();
	if (sfd < 0)
		die(1, "signalfd: %s", strerror(-sfd));
	for (int i = 0; i < nnics; i++)
		nic_spawn(&nics[i], i);
	vhost_wait();
	qpid = fork();
	if (qpid < 0)
		die(1, "fork: %s", strerror(errno));
	if (qpid == 0) {
		nicsup_child_reset();
		for (int i = 0; i < nnics; i++)
			if (nics[i].qfd >= 0)
				fcntl(nics[i].qfd, F_SETFD, 0);
		execvp(qargv[0], qargv);
		fprintf(stderr, "vmfabric-qemu: cannot run %s: %s\n", qargv[0], strerror(errno));
		_exit(127);
	}
	for (int i = 0; i < nnics; i++) {
		if (nics[i].qfd >= 0)
			close(nics[i].qfd);
		nics[i].qfd = -1;
	}
	info("QEMU command %s: pid %d, %d vmfabric NIC%s via %s", qargv[0], (int)qpid, nnics,
	     nnics == 1 ? "" : "s", cfg.sw);
	if (std.debug)
		print_argv(stderr, "vmfabric-qemu: QEMU command:", qargv);
	rc = supervise(sfd, qpid);
	vhost_cleanup();
	return rc;
}
