/* qmp.h - vmfabric-qemu's QMP client: one connection to its QEMU, for set_link */
#ifndef VMF_QMP_H
#define VMF_QMP_H

#include <stdint.h>

#define QMP_BUF		8192

/**
 * struct qmp - the launcher's connection to QEMU's -qmp unix socket
 * @fd:		-1 while not connected
 * @ready:	qmp_capabilities answered: commands may go
 */
struct qmp {
	char path[108];
	int fd;
	int ready;
	uint64_t retry_ms;
	char in[QMP_BUF];
	size_t in_len;
	uint64_t sent, errors;	/* set_link commands sent, error answers */
};

/** qmp_init() - a client for QEMU's socket @path (not connected yet). Return: 0, -ENAMETOOLONG */
int qmp_init(struct qmp *q, const char *path);

/** qmp_tick() - not connected: try to connect (every QMP_RETRY_MS), say qmp_capabilities */
void qmp_tick(struct qmp *q, uint64_t now);

/** qmp_timeout() - ms until qmp_tick() has work (-1: none) */
long qmp_timeout(const struct qmp *q, uint64_t now);

/** qmp_input() - the socket is readable: answers and events (errors logged), or its end */
void qmp_input(struct qmp *q);

/**
 * qmp_set_link() - {"execute":"set_link","arguments":{"name":@id,"up":@up}}
 * Return: 0 sent, -ENOTCONN (not ready: call again later), or -errno
 */
int qmp_set_link(struct qmp *q, const char *id, int up);

void qmp_close(struct qmp *q);

#endif /* VMF_QMP_H */
