/* fuzz_cert.c - fuzz key files: cert_load_public() and cert_load_secret() on any file content */

/*
 * Key files come from users and from other tools (czmq). The input is the
 * content of a 0600 file; both loaders must refuse anything that is not a
 * valid certificate with a message, never crash or read past the file, and
 * a secret certificate is accepted only if its public key belongs to its
 * secret key.
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "cert.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	static int fd = -1;
	uint8_t pub[CERT_KEY_LEN], pub2[CERT_KEY_LEN], sec[CERT_KEY_LEN], derived[CERT_KEY_LEN];
	char why[1024];
	int rp, rs;

	if (fd < 0) {
		snprintf(path, sizeof(path), "/tmp/vmf-fuzz-cert.%d", (int)getpid());
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0)
			abort();
		unlink(path);	/* read through /proc/self/fd: nothing is left behind */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	why[0] = '\0';
	rp = cert_load_public(path, pub, why, sizeof(why));
	FUZZ_CHECK(rp == 0 || (rp < 0 && why[0]));
	why[0] = '\0';
	rs = cert_load_secret(path, pub2, sec, why, sizeof(why));
	FUZZ_CHECK(rs == 0 || (rs < 0 && why[0]));
	if (rs == 0) {
		FUZZ_CHECK(rp == 0 && !memcmp(pub, pub2, CERT_KEY_LEN));
		crypto_scalarmult_base(derived, sec);
		FUZZ_CHECK(!memcmp(derived, pub2, CERT_KEY_LEN));
	}
	return 0;
}
