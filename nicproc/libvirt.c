/* libvirt.c - vmfabric-libvirt-hook: libvirt domains start, supervise and stop their vmfabric NICs */

/*
 * DOC: Theory of operation
 *
 * Installed as /etc/libvirt/hooks/qemu.d/vmfabric (a link to this program),
 * libvirtd runs it as "vmfabric DOMAIN OPERATION SUB-OPERATION EXTRA" with
 * the domain's XML on stdin, synchronously, and holds the domain while it
 * runs. lvdomain.c reads the vmfabric NICs out of the XML (its DOC block has
 * the <metadata> schema); a domain without <vmfabric:fabric> is not ours and
 * every operation returns 0 at once. The hook never calls back into libvirt.
 *
 *   prepare begin    stop a stale supervisor of the same UUID, write the XML
 *                    to the state directory, start the supervisor (double
 *                    fork, setsid, stdio on /dev/null so libvirtd's pipes
 *                    close), then wait at most admission-timeout seconds
 *                    (default 5) until every NIC process has been welcomed by
 *                    its switch, refused, or has died. A refusal or a death
 *                    stops the supervisor and exits 1 with one line on stderr,
 *                    which libvirt puts into its error: the domain does not
 *                    start. No answer in time (switch down) is not an error:
 *                    the NIC processes keep trying, the hook logs a warning.
 *   release end      stop the supervisor (SIGTERM; it stops its NIC processes,
 *                    SIGKILL after 5 s) and wait for it, at most 8 s.
 *   reconnect begin  (libvirtd restarted) start the supervisor again if it is
 *                    gone; never fails (a failing hook here would kill the
 *                    domain).
 *   anything else    nothing.
 *
 * The supervisor (this program, "--supervise UUID") runs one vmfabric-nic -f
 * per NIC, from the vmfabric-nic next to this program's real path, each with
 * PR_SET_PDEATHSIG so that none outlives it. It reads their stderr and sends
 * every line to syslog (ident vmfabric-libvirt, facility daemon); from the
 * lines uplink.c writes ("joined network", "switch ... refused ...") it
 * keeps one status file per NIC for the waiting hook: "up", "refused REASON"
 * or "exited STATUS: REASON" (REASON: the first error line since that NIC
 * process started, which names the cause). Only the first answer before a
 * welcome counts. A NIC process that dies is restarted after 0.5 s,
 * doubling to 5 s while it keeps dying within 10 s of its start (nicsup.c,
 * as vmfabric-qemu). It ends on SIGTERM and removes its state.
 *
 * State: /run/vmfabric/libvirt/UUID/ (0700, root's; /run/vmfabric/libvirt
 * 0700): domain.xml, pid, nicI.status. Files are opened with O_NOFOLLOW; a
 * directory that is not ours (owner, mode, symlink) is an error. Before a
 * recorded PID is signalled, /proc/PID/cmdline must read "...vmfabric-libvirt-
 * hook --supervise UUID": a recycled PID is never killed.
 *
 * Limits: the NIC processes run as root (they drop every capability after
 * opening their sockets); the status comes from log lines, so a NIC that
 * never logs joins is "no answer in time", not an error.
 */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "log.h"
#include "lvdomain.h"
#include "nicsup.h"
#include "util.h"

#define LV_STATE_ROOT	"/run/vmfabric/libvirt"
#define LV_SELF		"vmfabric-libvirt-hook"
#define LV_STOP_GRACE_MS 5000
#define LV_STOP_WAIT_MS	8000
#define LV_LINE_MAX	512

static char lv_self[PATH_MAX];	/* our real path, for the supervisor and its check */

static const char lv_usage_text[] =
	"Usage: vmfabric-libvirt-hook DOMAIN OPERATION SUB-OPERATION EXTRA < DOMAIN-XML\n"
	"  or:  vmfabric-libvirt-hook --fill-ports < DOMAIN-XML > DOMAIN-XML\n"
	"  or:  vmfabric-libvirt-hook --check < DOMAIN-XML\n"
	"\n"
	"The libvirt hook of vmfabric: install it as /etc/libvirt/hooks/qemu.d/vmfabric.\n"
	"libvirtd runs it at every domain operation with the domain XML on stdin. For\n"
	"domains with a <vmfabric:fabric xmlns:vmfabric=\"urn:vmfabric:libvirt:1\"> in their\n"
	"<metadata> it starts one supervised vmfabric-nic per listed interface at\n"
	"\"prepare begin\" (and refuses to start the domain if the switch refuses a port),\n"
	"restarts the supervisor at \"reconnect begin\", stops everything at \"release end\".\n"
	"\n"
	"      --fill-ports       write the XML back with a free 127.0.0.1 port in every\n"
	"                         missing or zero port= of the vmfabric interfaces\n"
	"                         (use before virsh define)\n"
	"      --check            print the NIC process command lines the XML gives, or\n"
	"                         the error\n"
	"      --supervise UUID   internal: the supervisor that prepare begin starts\n"
	"  -h, --help             this text\n"
	"  -V, --version          print the version\n"
	"\n"
	"Logs go to syslog (ident vmfabric-libvirt, facility daemon). State: "
	LV_STATE_ROOT "/UUID/.\n";

/* Everything on stdin, at most LVD_MAX_XML + 1 bytes (the parser refuses more). */
static char *lv_read_stdin(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);

	while (buf) {
		ssize_t r;

		if (n == cap) {
			char *nb = cap > LVD_MAX_XML ? NULL : realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		r = read(0, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

/* One line to libvirt (stderr, shown in its error) and to syslog. */
static void lv_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void lv_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmfabric: %s\n", msg);
	err("%s", msg);
}

/* @path is a directory owned by us, not a symlink, writable by nobody else. */
static int lv_dir_ok(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) && errno != EEXIST)
		return -errno;
	if (lstat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

/* The state directory of domain @uuid, created (with its parents) and checked. */
static int lv_state_dir(const char *uuid, char *path, size_t size)
{
	int rc;

	snprintf(path, size, "%s/%s", LV_STATE_ROOT, uuid);
	if ((rc = lv_dir_ok("/run/vmfabric", 0755)) || (rc = lv_dir_ok(LV_STATE_ROOT, 0700)))
		return rc;
	return lv_dir_ok(path, 0700);
}

/* Replace file @name in @dir with @data (write a temporary, rename). */
static int lv_put(const char *dir, const char *name, const char *data, size_t len)
{
	char tmp[PATH_MAX], dst[PATH_MAX];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", dir, name);
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (len) {
		ssize_t w = write(fd, data, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = w < 0 ? -errno : -EIO;
			break;
		}
		data += w;
		len -= (size_t)w;
	}
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, dst))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* File @name in @dir into @buf (NUL-terminated, at most @size - 1 bytes). Return: length or -errno. */
static ssize_t lv_get(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		n = -errno;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* Remove the files of state directory @dir, then the directory. */
static void lv_state_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* /proc/@pid/@what into @buf, NUL-terminated. Return: its length, or 0 (gone, empty, unreadable) */
static ssize_t lv_proc_read(pid_t pid, const char *what, char *buf, size_t size)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return n;
}

/* True if @pid is the supervisor of @uuid: "...vmfabric-libvirt-hook --supervise UUID". */
static int lv_is_ours(pid_t pid, const char *uuid)
{
	char buf[PATH_MAX + 128];
	const char *arg0, *base;
	ssize_t n = lv_proc_read(pid, "cmdline", buf, sizeof(buf));

	if (!n)
		return 0;
	arg0 = buf;
	base = strrchr(arg0, '/') ? strrchr(arg0, '/') + 1 : arg0;
	if (strcmp(base, LV_SELF))
		return 0;
	arg0 += strlen(arg0) + 1;
	if (arg0 >= buf + n || strcmp(arg0, "--supervise"))
		return 0;
	arg0 += strlen(arg0) + 1;
	return arg0 < buf + n && !strcmp(arg0, uuid);
}

/* True while @pid runs (a zombie has ended; init may not have reaped it yet). */
static int lv_alive(pid_t pid)
{
	char buf[256], *p;

	if (!lv_proc_read(pid, "stat", buf, sizeof(buf)))
		return 0;
	/* "PID (COMM) STATE ...": COMM may hold anything, the state follows its last ')' */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The running supervisor of @uuid from its pidfile in @dir, or 0. */
static pid_t lv_supervisor(const char *dir, const char *uuid)
{
	char buf[32], *end;
	long pid;

	if (lv_get(dir, "pid", buf, sizeof(buf)) <= 0)
		return 0;
	pid = strtol(buf, &end, 10);
	if (pid <= 1 || (*end && *end != '\n'))
		return 0;
	return lv_is_ours((pid_t)pid, uuid) ? (pid_t)pid : 0;
}

/* Stop the supervisor of @uuid, if one runs, and remove its state. */
static void lv_stop(const char *dir, const char *uuid, const char *domain)
{
	pid_t pid = lv_supervisor(dir, uuid);
	uint64_t end = now_ms() + LV_STOP_WAIT_MS;

	if (pid) {
		kill(pid, SIGTERM);
		while (lv_is_ours(pid, uuid) && now_ms() < end)
			usleep(20000);
		if (lv_is_ours(pid, uuid)) {
			/* its NIC processes get SIGTERM from PR_SET_PDEATHSIG */
			warn("domain %s: supervisor %d still runs after %d s: SIGKILL", domain, (int)pid,
			     LV_STOP_WAIT_MS / 1000);
			kill(pid, SIGKILL);
		} else {
			info("domain %s: supervisor %d and its NIC processes stopped", domain, (int)pid);
		}
	}
	lv_state_remove(dir);
}

/* Start the supervisor of domain @uuid, detached (double fork, setsid). Return: its pid or -errno. */
static pid_t lv_launch(const char *uuid)
{
	int p[2], st;
	pid_t child, sup = -1;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		int rc = -errno;

		close(p[0]);
		close(p[1]);
		return rc;
	}
	if (child == 0) {
		pid_t g;

		if (setsid() < 0)
			_exit(1);
		g = fork();
		if (g < 0)
			_exit(1);
		if (g > 0) {
			_exit(write(p[1], &g, sizeof(g)) == sizeof(g) ? 0 : 1);
		} else {
			char *argv[] = { lv_self, "--supervise", (char *)uuid, NULL };
			int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

			/* libvirtd waits for EOF on the hook's stdout and stderr: not ours to keep */
			if (fd < 0 || dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir("/"))
				_exit(1);
			umask(077);
			nicsup_child_reset();
			execv(lv_self, argv);
			_exit(127);
		}
	}
	close(p[1]);
	if (read(p[0], &sup, sizeof(sup)) != sizeof(sup))
		sup = -ECHILD;
	close(p[0]);
	waitpid(child, &st, 0);
	return sup;
}

/* --- the supervisor ------------------------------------------------------------------------- */

struct lv_nic {
	const struct lvd_nic *cfg;
	pid_t pid;
	int errfd;			/* read end of its stderr, or -1 */
	int up;				/* welcomed at least once */
	size_t linelen;
	unsigned int backoff_ms;
	unsigned long restarts;
	uint64_t started_ms, restart_ms;
	char line[LV_LINE_MAX];
	char lasterr[LV_LINE_MAX];	/* the first error line since the last start */
};

static struct {
	struct lvd_domain dom;
	struct lv_nic nics[LVD_MAX_NICS];
	char dir[PATH_MAX];
	char nic_binary[PATH_MAX];
	char mtu[16];
} sv;

static void sv_status(int i, const char *state, const char *reason)
{
	char name[32], buf[LV_LINE_MAX + 32];
	int n;

	snprintf(name, sizeof(name), "nic%d.status", i);
	n = snprintf(buf, sizeof(buf), "%s%s%s\n", state, *reason ? " " : "", reason);
	lv_put(sv.dir, name, buf, (size_t)MIN(n, (int)sizeof(buf) - 1));
}

/* The vmfabric-nic command line of @v; NULL-terminated, static storage. */
static char **sv_argv(const struct lvd_nic *v)
{
	static char *argv[24];
	int n = 0;

	argv[n++] = sv.nic_binary;
	argv[n++] = "-f";
	argv[n++] = "--switch";
	argv[n++] = (char *)v->sw;
	if (sv.dom.insecure) {
		argv[n++] = "--insecure";
	} else {
		argv[n++] = "--server-key";
		argv[n++] = (char *)v->server_key;
		argv[n++] = "--key";
		argv[n++] = (char *)v->key;
	}
	argv[n++] = "--mtu";
	argv[n++] = sv.mtu;
	argv[n++] = "--network";
	argv[n++] = (char *)v->network;
	argv[n++] = "--name";
	argv[n++] = (char *)v->name;
	argv[n++] = (char *)v->backend_opt;
	argv[n++] = (char *)v->backend_arg;
	argv[n] = NULL;
	return argv;
}

static void sv_spawn(struct lv_nic *n, int i)
{
	pid_t parent = getpid();
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK)) {
		err("nic%d %s: pipe: %s; retrying", i, n->cfg->name, strerror(errno));
		n->restart_ms = now_ms() + NICSUP_BACKOFF_MAX_MS;
		return;
	}
	pid = fork();
	if (pid < 0) {
		err("nic%d %s: fork: %s; retrying", i, n->cfg->name, strerror(errno));
		close(p[0]);
		close(p[1]);
		n->restart_ms = now_ms() + NICSUP_BACKOFF_MAX_MS;
		return;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		nicsup_child_reset();
		/* no NIC process outlives its supervisor, however that ends */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
			_exit(1);
		fcntl(p[1], F_SETFL, 0);
		if (fd < 0 || dup2(fd, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		execv(sv.nic_binary, sv_argv(n->cfg));
		fprintf(stderr, "error: cannot run %s: %s\n", sv.nic_binary, strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (n->errfd >= 0)
		close(n->errfd);
	n->errfd = p[0];
	n->pid = pid;
	n->linelen = 0;
	*n->lasterr = '\0';
	n->started_ms = now_ms();
	info("nic%d %s: vmfabric-nic pid %d (network %s, mac %s, %s %s, %s)", i, n->cfg->name,
	     (int)pid, n->cfg->network, n->cfg->mac, n->cfg->backend_opt, n->cfg->backend_arg,
	     n->restarts ? "restarted" : "started");
}

/* One line of NIC @i's stderr: to syslog, and what it says about admission to the status file. */
static void sv_line(struct lv_nic *n, int i, char *line)
{
	char *p = line, *e, msg[LV_LINE_MAX];
	int pri = LOG_INFO;

	/* "1234.567 vmfabric-nic NAME: ..." : the timestamp is syslog's business */
	if (*p >= '0' && *p <= '9' && (e = strchr(p, ' ')))
		p = e + 1;
	*msg = '\0';
	if ((e = strstr(p, ": error: ")) || !strncmp((e = p), "error: ", 7)) {
		pri = LOG_ERR;
		snprintf(msg, sizeof(msg), "%s", strstr(e, "error: ") + 7);
	} else if (strstr(p, ": warning: ")) {
		pri = LOG_WARNING;
	}
	logmsg(pri, "nic%d: %s", i, p);
	if (strstr(p, ": joined network ")) {
		if (!n->up)
			sv_status(i, "up", "");
		n->up = 1;
		return;
	}
	if (!*msg)
		return;
	/* the first error since the start is the cause; later ones are its consequences */
	if (!*n->lasterr)
		snprintf(n->lasterr, sizeof(n->lasterr), "%s", msg);
	if (strstr(msg, "switch") && strstr(msg, "refused") && !n->up) {
		/* the NIC process retries; the domain's start is what fails */
		if ((e = strstr(msg, ". Retrying")))
			*e = '\0';
		sv_status(i, "refused", msg);
	}
}

static void sv_read(struct lv_nic *n, int i)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(n->errfd, buf, sizeof(buf))) > 0) {
		for (ssize_t k = 0; k < r; k++) {
			if (buf[k] == '\n' || n->linelen == sizeof(n->line) - 1) {
				n->line[n->linelen] = '\0';
				if (n->linelen)
					sv_line(n, i, n->line);
				n->linelen = 0;
				if (buf[k] == '\n')
					continue;
			}
			n->line[n->linelen++] = buf[k];
		}
	}
	if (r == 0) {
		close(n->errfd);
		n->errfd = -1;
	}
}

static void sv_died(struct lv_nic *n, int i, int st, int stopping)
{
	uint64_t now = now_ms(), ran = now - n->started_ms;
	char what[96], reason[LV_LINE_MAX + 100];

	nicsup_describe_status(st, what, sizeof(what));
	n->pid = 0;
	if (n->errfd >= 0)
		sv_read(n, i);
	if (stopping) {
		info("nic%d %s: vmfabric-nic %s", i, n->cfg->name, what);
		return;
	}
	if (!n->up) {
		snprintf(reason, sizeof(reason), "vmfabric-nic %s%s%s", what, *n->lasterr ? ": " : "",
			 n->lasterr);
		sv_status(i, "exited", reason);
	}
	n->backoff_ms = nicsup_backoff(n->backoff_ms, ran);
	n->restart_ms = now + n->backoff_ms;
	n->restarts++;
	warn("nic%d %s: vmfabric-nic %s after %.1f s; restart %lu in %.1f s", i, n->cfg->name, what,
	     ran / 1000.0, n->restarts, n->backoff_ms / 1000.0);
}

/* SIGTERM each NIC process, SIGKILL after LV_STOP_GRACE_MS; reap them all. */
static void sv_stop_all(void)
{
	uint64_t end = now_ms() + LV_STOP_GRACE_MS;
	int left = 0, st;

	for (int i = 0; i < sv.dom.n; i++)
		if (sv.nics[i].pid && !kill(sv.nics[i].pid, SIGTERM))
			left++;
	while (left) {
		pid_t pid = waitpid(-1, &st, WNOHANG);

		if (pid < 0)
			break;
		if (pid == 0) {
			if (now_ms() >= end) {
				for (int i = 0; i < sv.dom.n; i++) {
					if (sv.nics[i].pid) {
						warn("nic%d %s: vmfabric-nic %d ignores SIGTERM: SIGKILL", i,
						     sv.nics[i].cfg->name, (int)sv.nics[i].pid);
						kill(sv.nics[i].pid, SIGKILL);
					}
				}
				end = UINT64_MAX;
			}
			usleep(20000);
			continue;
		}
		for (int i = 0; i < sv.dom.n; i++) {
			if (sv.nics[i].pid == pid) {
				sv_died(&sv.nics[i], i, st, 1);
				left--;
			}
		}
	}
}

static int lv_supervise(const char *uuid)
{
	static char xml[LVD_MAX_XML + 1];
	char why[512], pid[16];
	ssize_t len;
	int sfd, rc, running = 1;

	log_init("vmfabric-libvirt");
	log_to_syslog();
	if (strlen(uuid) != 36 || strspn(uuid, "0123456789abcdef-") != 36)
		die(EXIT_USAGE, "--supervise: '%s' is not a domain UUID", uuid);
	if ((rc = lv_state_dir(uuid, sv.dir, sizeof(sv.dir))))
		die(1, "state directory %s: %s", sv.dir, strerror(-rc));
	len = lv_get(sv.dir, "domain.xml", xml, sizeof(xml));
	if (len <= 0)
		die(1, "%s/domain.xml: %s", sv.dir, len ? strerror((int)-len) : "empty");
	if (lvd_parse(&sv.dom, xml, (size_t)len, why, sizeof(why)) || !sv.dom.has_fabric)
		die(1, "%s/domain.xml: %s", sv.dir, *why ? why : "no vmfabric NIC");
	log_set_object(sv.dom.name);
	if ((rc = nicsup_sibling(sv.nic_binary, sizeof(sv.nic_binary), "vmfabric-nic")))
		die(1, "cannot place vmfabric-nic next to %s: %s", lv_self, strerror(-rc));
	snprintf(sv.mtu, sizeof(sv.mtu), "%ld", sv.dom.mtu);
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if ((rc = lv_put(sv.dir, "pid", pid, strlen(pid))))
		die(1, "%s/pid: %s", sv.dir, strerror(-rc));
	sfd = nicsup_signals();
	if (sfd < 0)
		die(1, "signalfd: %s", strerror(-sfd));
	info("supervising %d NIC process%s (state %s)", sv.dom.n, sv.dom.n == 1 ? "" : "es", sv.dir);
	for (int i = 0; i < sv.dom.n; i++) {
		sv.nics[i].cfg = &sv.dom.nics[i];
		sv.nics[i].errfd = -1;
		sv_spawn(&sv.nics[i], i);
	}
	while (running) {
		struct pollfd pfd[1 + LVD_MAX_NICS];
		int map[1 + LVD_MAX_NICS], n = 0;
		uint64_t now = now_ms();
		long timeout = -1;

		pfd[n++] = (struct pollfd){ sfd, POLLIN, 0 };
		for (int i = 0; i < sv.dom.n; i++) {
			struct lv_nic *v = &sv.nics[i];

			if (v->errfd >= 0) {
				map[n] = i;
				pfd[n++] = (struct pollfd){ v->errfd, POLLIN, 0 };
			}
			if (!v->pid) {
				long t = v->restart_ms > now ? (long)(v->restart_ms - now) : 0;

				if (timeout < 0 || t < timeout)
					timeout = t;
			}
		}
		if (poll(pfd, (nfds_t)n, (int)timeout) < 0 && errno != EINTR)
			die(1, "poll: %s", strerror(errno));
		for (int j = 1; j < n; j++)
			if (pfd[j].revents & (POLLIN | POLLHUP))
				sv_read(&sv.nics[map[j]], map[j]);
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			pid_t p;
			int st;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT ||
				    si.ssi_signo == SIGQUIT)
					running = 0;
			while (running && (p = waitpid(-1, &st, WNOHANG)) > 0)
				for (int i = 0; i < sv.dom.n; i++)
					if (sv.nics[i].pid == p)
						sv_died(&sv.nics[i], i, st, 0);
		}
		now = now_ms();
		for (int i = 0; running && i < sv.dom.n; i++)
			if (!sv.nics[i].pid && now >= sv.nics[i].restart_ms)
				sv_spawn(&sv.nics[i], i);
	}
	info("stopping %d NIC process%s", sv.dom.n, sv.dom.n == 1 ? "" : "es");
	sv_stop_all();
	lv_state_remove(sv.dir);
	return 0;
}

/* --- the hook ------------------------------------------------------------------------------- */

/*
 * Wait until every NIC of @d has an answer in @dir, the supervisor @pid dies or @d's
 * admission timeout passes. Return: 0 (welcomed, or no answer yet), 1 (refused or died: the
 * reason was printed).
 */
static int lv_admit(const struct lvd_domain *d, const char *dir, pid_t pid)
{
	uint64_t end = now_ms() + (uint64_t)d->admit_timeout_s * 1000;
	int done[LVD_MAX_NICS] = { 0 }, left = d->n;

	for (;;) {
		for (int i = 0; i < d->n; i++) {
			char name[32], st[LV_LINE_MAX + 64];

			if (done[i])
				continue;
			snprintf(name, sizeof(name), "nic%d.status", i);
			if (lv_get(dir, name, st, sizeof(st)) <= 0)
				continue;
			st[strcspn(st, "\n")] = '\0';
			if (!strcmp(st, "up")) {
				done[i] = 1;
				left--;
				continue;
			}
			lv_fail("domain %s: port %s (mac %s, network %s): %s", d->name, d->nics[i].name,
				d->nics[i].mac, d->nics[i].network,
				strchr(st, ' ') ? strchr(st, ' ') + 1 : st);
			return 1;
		}
		if (!left) {
			info("domain %s: %d NIC%s joined the fabric", d->name, d->n, d->n == 1 ? "" : "s");
			return 0;
		}
		/* before its exec the supervisor's cmdline is still ours: ask only whether it lives */
		if (!lv_alive(pid)) {
			lv_fail("domain %s: the vmfabric supervisor ended at start-up (see syslog)",
				d->name);
			return 1;
		}
		if (now_ms() >= end) {
			warn("domain %s: %d NIC%s without an answer from the switch after %d s; starting "
			     "anyway, they keep trying", d->name, left, left == 1 ? "" : "s",
			     d->admit_timeout_s);
			return 0;
		}
		usleep(50000);
	}
}

/* Start the supervisor of @d with @xml as its domain.xml. @wait: the admission check. */
static int lv_start(const struct lvd_domain *d, const char *dir, const char *xml, size_t len,
		    int wait)
{
	char nic[PATH_MAX];
	pid_t pid;
	int rc;

	if ((rc = nicsup_sibling(nic, sizeof(nic), "vmfabric-nic")) || access(nic, X_OK)) {
		lv_fail("vmfabric-nic not found next to %s", lv_self);
		return 1;
	}
	if ((rc = lv_put(dir, "domain.xml", xml, len))) {
		lv_fail("domain %s: %s/domain.xml: %s", d->name, dir, strerror(-rc));
		return 1;
	}
	pid = lv_launch(d->uuid);
	if (pid < 0) {
		lv_fail("domain %s: cannot start the supervisor: %s", d->name, strerror((int)-pid));
		return 1;
	}
	info("domain %s: supervisor %d for %d NIC%s", d->name, (int)pid, d->n, d->n == 1 ? "" : "s");
	if (!wait)
		return 0;
	if (lv_admit(d, dir, pid)) {
		lv_stop(dir, d->uuid, d->name);
		return 1;
	}
	return 0;
}

static int lv_hook(const char *op, const char *subop)
{
	struct lvd_domain d;
	char why[512], dir[PATH_MAX];
	size_t len;
	char *xml;
	int rc, ret = 0;

	log_to_syslog();
	/* read all of it whatever the operation: libvirtd writes it before it waits for us */
	xml = lv_read_stdin(&len);
	if (strcmp(op, "prepare") && strcmp(op, "release") && strcmp(op, "reconnect")) {
		free(xml);
		return 0;
	}
	if (!xml) {
		lv_fail("out of memory");
		return 1;
	}
	rc = lvd_parse(&d, xml, len, why, sizeof(why));
	if (!*d.uuid) {
		/* nothing we could act on: fail a start, never a stop */
		if (!strcmp(op, "prepare") && d.has_fabric) {
			lv_fail("domain %s: %s", d.name, *why ? why : "no <uuid>");
			ret = 1;
		}
		goto out;
	}
	snprintf(dir, sizeof(dir), "%s/%s", LV_STATE_ROOT, d.uuid);
	if (!d.has_fabric && access(dir, F_OK))
		goto out;	/* not ours, and nothing of ours runs for it */
	if ((rc = lv_state_dir(d.uuid, dir, sizeof(dir)))) {
		lv_fail("state directory %s: %s", dir, strerror(-rc));
		ret = !strcmp(op, "prepare") && d.has_fabric;
		goto out;
	}
	if (!strcmp(op, "release") && !strcmp(subop, "end")) {
		lv_stop(dir, d.uuid, d.name);
	} else if (!strcmp(op, "prepare") && !strcmp(subop, "begin")) {
		lv_stop(dir, d.uuid, d.name);	/* a stale one from a start that never released */
		if (*why) {
			lv_fail("domain %s: %s", d.name, why);
			ret = 1;
		} else if (d.has_fabric) {
			if ((rc = lv_state_dir(d.uuid, dir, sizeof(dir)))) {
				lv_fail("state directory %s: %s", dir, strerror(-rc));
				ret = 1;
			} else {
				ret = lv_start(&d, dir, xml, len, 1);
			}
		} else {
			rmdir(dir);
		}
	} else if (!strcmp(op, "reconnect") && !strcmp(subop, "begin")) {
		if (!d.has_fabric || *why) {
			rmdir(dir);
		} else if (lv_supervisor(dir, d.uuid)) {
			info("domain %s: libvirtd reconnected; supervisor still running", d.name);
		} else {
			warn("domain %s: libvirtd reconnected and the supervisor is gone: starting it",
			     d.name);
			lv_start(&d, dir, xml, len, 0);
		}
	} else {
		rmdir(dir);	/* only an empty one: another sub-operation of a domain we serve */
	}
out:
	free(xml);
	return ret;
}

/* --fill-ports and --check: the XML on stdin. */
static int lv_tool(int fill)
{
	struct lvd_domain d;
	char why[512], *xml, *out;
	size_t len, outlen;
	int rc;

	xml = lv_read_stdin(&len);
	if (!xml)
		die(1, "out of memory");
	if (fill) {
		rc = lvd_fill_ports(xml, len, &out, &outlen, why, sizeof(why));
		free(xml);
		if (rc) {
			fprintf(stderr, "vmfabric-libvirt-hook: %s\n", why);
			return EXIT_CONFIG;
		}
		fwrite(out, 1, outlen, stdout);
		free(out);
		return fflush(stdout) ? 1 : 0;
	}
	rc = lvd_parse(&d, xml, len, why, sizeof(why));
	free(xml);
	if (rc) {
		fprintf(stderr, "vmfabric-libvirt-hook: %s\n", why);
		return EXIT_CONFIG;
	}
	if (!d.has_fabric) {
		printf("domain %s: no <vmfabric:fabric xmlns:vmfabric='%s'> in <metadata>: not a "
		       "vmfabric domain\n", d.name, LVD_NS);
		return 0;
	}
	snprintf(sv.nic_binary, sizeof(sv.nic_binary), "vmfabric-nic");
	snprintf(sv.mtu, sizeof(sv.mtu), "%ld", d.mtu);
	sv.dom.insecure = d.insecure;
	for (int i = 0; i < d.n; i++) {
		printf("nic%d (mac %s):", i, d.nics[i].mac);
		for (char **a = sv_argv(&d.nics[i]); *a; a++)
			printf(" %s", *a);
		putchar('\n');
	}
	return 0;
}

int main(int argc, char **argv)
{
	ssize_t n;

	log_init("vmfabric-libvirt-hook");
	n = readlink("/proc/self/exe", lv_self, sizeof(lv_self) - 1);
	if (n > 0)
		lv_self[n] = '\0';
	if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fputs(lv_usage_text, stdout);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
		printf("vmfabric-libvirt-hook %s\n", VMFABRIC_VERSION);
		return 0;
	}
	if (argc == 2 && (!strcmp(argv[1], "--fill-ports") || !strcmp(argv[1], "--check")))
		return lv_tool(!strcmp(argv[1], "--fill-ports"));
	if (argc == 3 && !strcmp(argv[1], "--supervise"))
		return lv_supervise(argv[2]);
	if (argc < 4 || argv[1][0] == '-') {
		fputs(lv_usage_text, stderr);
		return EXIT_USAGE;
	}
	if (n <= 0) {
		lv_fail("cannot read /proc/self/exe: %s", strerror(errno));
		return 1;
	}
	return lv_hook(argv[2], argv[3]);
}
