/* nicsup.h - what vmfabric-qemu and vmfabric-libvirt-hook share: NIC checks, names, restarts */
#ifndef VMF_NICSUP_H
#define VMF_NICSUP_H

#include <stddef.h>
#include <stdint.h>

/* Restart delay of a NIC process that keeps dying: 0.5 s doubling to 5 s; a 10 s run resets it. */
#define NICSUP_BACKOFF_MIN_MS	500
#define NICSUP_BACKOFF_MAX_MS	5000
#define NICSUP_STABLE_MS	10000

/** nicsup_valid_mac() - true for a unicast, non-zero MAC written as six hex pairs (':' or '-') */
int nicsup_valid_mac(const char *s);

/** nicsup_port_name() - the default port name of vmfabric NIC @index of guest @guest: GUEST/nicI */
void nicsup_port_name(char *buf, size_t size, const char *guest, int index);

/**
 * nicsup_backoff() - the delay before restarting a NIC process that ran @ran_ms and was last
 * restarted after @prev_ms (0: never)
 */
unsigned int nicsup_backoff(unsigned int prev_ms, uint64_t ran_ms);

/** nicsup_describe_status() - "exited with status N" / "was killed by signal N (NAME)" */
void nicsup_describe_status(int st, char *buf, size_t len);

/** nicsup_child_reset() - in a fresh child: default SIGPIPE, no blocked signals (both survive exec) */
void nicsup_child_reset(void);

/**
 * nicsup_signals() - ignore SIGPIPE, block SIGCHLD, SIGINT, SIGTERM, SIGHUP and SIGQUIT and
 * return a non-blocking signalfd for them. Return: the fd, or -errno
 */
int nicsup_signals(void);

/**
 * nicsup_sibling() - the path of program @name in the directory of our own executable
 * Return: 0, or -errno (-ENAMETOOLONG if it does not fit in @size)
 */
int nicsup_sibling(char *buf, size_t size, const char *name);

#endif /* VMF_NICSUP_H */
