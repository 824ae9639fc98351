/* fuzz_qmp.c - fuzz vmfabric-qemu's QMP client with what QEMU may send (nicproc/qmp.c) */

/*
 * A real QMP client (struct qmp) on one end of a unix stream socketpair; the
 * input, cut into reads at its NUL bytes, is what "QEMU" writes on the
 * other: greetings, answers, events, over-long lines, garbage. Between
 * reads qmp_set_link() runs as the launcher would. Oracles: the line buffer
 * stays bounded and NUL-terminated, "ready" only ever follows a "return",
 * a command goes out only when ready, and an end of input closes the client.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp q;
	char drain[4096], *all = malloc(size + 1);
	size_t all_len = 0;
	int sv[2];

	if (!all || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	qmp_init(&q, "/nonexistent/qmp.sock");
	q.fd = sv[0];
	while (size) {
		const uint8_t *nul = memchr(data, 0, size);
		size_t n = nul ? (size_t)(nul - data) : size;
		int rc;

		if (n && write(sv[1], data, n) != (ssize_t)n)
			abort();
		memcpy(all + all_len, data, n);
		all_len += n;
		qmp_input(&q);
		FUZZ_CHECK(q.fd == sv[0] && q.in_len < sizeof(q.in) && !q.in[q.in_len]);
		/* what QEMU wrote so far, reads joined, says "return" somewhere */
		FUZZ_CHECK(!q.ready || memmem(all, all_len, "\"return\"", 8));
		rc = qmp_set_link(&q, "vmfabric0", n & 1);
		FUZZ_CHECK(rc == (q.ready ? 0 : -ENOTCONN));
		while (recv(sv[1], drain, sizeof(drain), MSG_DONTWAIT) > 0)
			;
		data += n + (nul != NULL);
		size -= n + (nul != NULL);
	}
	close(sv[1]);
	qmp_input(&q);
	FUZZ_CHECK(q.fd < 0 && !q.ready);
	free(all);
	return 0;
}
