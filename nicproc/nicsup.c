/* nicsup.c - what vmfabric-qemu and vmfabric-libvirt-hook share: NIC checks, names, restarts */

#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nicsup.h"
#include "util.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int nicsup_valid_mac(const char *s)
{
	int any = 0, first = 0;

	if (strlen(s) != 17)
		return 0;
	for (int i = 0; i < 17; i += 3) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0 || (i < 15 && s[i + 2] != ':' && s[i + 2] != '-'))
			return 0;
		if (!i)
			first = hi << 4 | lo;
		any |= hi | lo;
	}
	return any && !(first & 1);
}

void nicsup_port_name(char *buf, size_t size, const char *guest, int index)
{
	snprintf(buf, size, "%.50s/nic%d", guest, index);
}

unsigned int nicsup_backoff(unsigned int prev_ms, uint64_t ran_ms)
{
	if (ran_ms >= NICSUP_STABLE_MS || !prev_ms)
		return NICSUP_BACKOFF_MIN_MS;
	return MIN(prev_ms * 2, NICSUP_BACKOFF_MAX_MS);
}

void nicsup_describe_status(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
}

void nicsup_child_reset(void)
{
	sigset_t none;

	sigemptyset(&none);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int nicsup_signals(void)
{
	static const int sigs[] = { SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT };

	return signals_fd_for(sigs, ARRAY_SIZE(sigs));
}

int nicsup_sibling(char *buf, size_t size, const char *name)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *slash;

	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	return str_copy(slash + 1, name, size - (size_t)(slash + 1 - buf));
}
