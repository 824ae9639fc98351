/* test_cert.c - unit tests for CURVE key files (tls/cert.c) and the authorized-keys set (tls/zap.c) */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit.h"
#include <zmq.h>

#include "cert.h"
#include "zap.h"

/* libzmq's test key pairs (tests/testutil_security.hpp): czmq and libzmq agree on them */
#define CERT_CLIENT_PUB	"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"
#define CERT_CLIENT_SEC	"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs"
#define CERT_SERVER_PUB	"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"

struct cert_ctx {
	char dir[64];
	char path[256];
	char secpath[256];
	char why[1024];
};

static int cert_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int cert_setup(void **state)
{
	struct cert_ctx *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	umask(022);
	strcpy(c->dir, "/tmp/vmf-test-cert-XXXXXX");
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/vm1", c->dir);
	snprintf(c->secpath, sizeof(c->secpath), "%s/vm1_secret", c->dir);
	*state = c;
	return 0;
}

static int cert_teardown(void **state)
{
	struct cert_ctx *c = *state;

	nftw(c->dir, cert_rm, 8, FTW_DEPTH | FTW_PHYS);
	free(c);
	return 0;
}

static char *cert_read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n;

	assert_non_null(f);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void cert_write_text(const char *path, const char *text, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void cert_assert_why(const struct cert_ctx *c, const char *file, const char *needle)
{
	if (!strstr(c->why, file))
		fail_msg("message does not name %s: %s", file, c->why);
	if (needle && !strstr(c->why, needle))
		fail_msg("message lacks '%s': %s", needle, c->why);
}

static void cert_decode(const char *z85, uint8_t key[CERT_KEY_LEN])
{
	assert_non_null(zmq_z85_decode(key, z85));
}

static void test_cert_generate_load(void **state)
{
	struct cert_ctx *c = *state;
	uint8_t pub[CERT_KEY_LEN], pub2[CERT_KEY_LEN], pub3[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	char pubz[CERT_Z85_LEN + 1], secz[CERT_Z85_LEN + 1], derived[CERT_Z85_LEN + 1];
	struct stat st;

	assert_int_equal(cert_generate(c->path, 0, c->why, sizeof(c->why)), 0);
	assert_int_equal(stat(c->secpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(c->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), 0);
	assert_int_equal(cert_load_public(c->path, pub2, c->why, sizeof(c->why)), 0);
	assert_memory_equal(pub, pub2, CERT_KEY_LEN);
	/* the public key can be read from the secret certificate too */
	assert_int_equal(cert_load_public(c->secpath, pub3, c->why, sizeof(c->why)), 0);
	assert_memory_equal(pub, pub3, CERT_KEY_LEN);
	/* the pair belongs together */
	assert_non_null(cert_z85(sec, secz));
	assert_int_equal(zmq_curve_public(derived, secz), 0);
	assert_string_equal(derived, cert_z85(pub, pubz));
	/* the files are czmq certificates: name in metadata, keys in curve */
	{
		char *text = cert_read_text(c->path);

		assert_non_null(strstr(text, "metadata\n    name = \"vm1\"\ncurve\n    public-key = \""));
		assert_non_null(strstr(text, pubz));
		assert_null(strstr(text, "secret-key"));
		free(text);
		text = cert_read_text(c->secpath);
		assert_non_null(strstr(text, secz));
		free(text);
	}
	cert_wipe(sec, sizeof(sec));
	for (size_t i = 0; i < sizeof(sec); i++)
		assert_int_equal(sec[i], 0);
}

static void test_cert_no_overwrite(void **state)
{
	struct cert_ctx *c = *state;
	uint8_t pub[CERT_KEY_LEN], pub2[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	struct stat st;

	assert_int_equal(cert_generate(c->path, 0, c->why, sizeof(c->why)), 0);
	assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), 0);
	assert_int_equal(cert_generate(c->path, 0, c->why, sizeof(c->why)), -EEXIST);
	cert_assert_why(c, c->secpath, "--force");
	assert_int_equal(cert_load_secret(c->secpath, pub2, sec, c->why, sizeof(c->why)), 0);
	assert_memory_equal(pub, pub2, CERT_KEY_LEN);

	/* --force replaces the pair, and makes a loosened secret file 0600 again */
	assert_int_equal(chmod(c->secpath, 0644), 0);
	assert_int_equal(cert_generate(c->path, 1, c->why, sizeof(c->why)), 0);
	assert_int_equal(stat(c->secpath, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(cert_load_secret(c->secpath, pub2, sec, c->why, sizeof(c->why)), 0);
	assert_memory_not_equal(pub, pub2, CERT_KEY_LEN);
	assert_int_equal(cert_load_public(c->path, pub, c->why, sizeof(c->why)), 0);
	assert_memory_equal(pub, pub2, CERT_KEY_LEN);

	assert_int_equal(cert_generate("", 0, c->why, sizeof(c->why)), -EINVAL);
}

static void test_cert_secret_mode(void **state)
{
	struct cert_ctx *c = *state;
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0700 | 0004 };

	assert_int_equal(cert_generate(c->path, 0, c->why, sizeof(c->why)), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(c->secpath, bad[i]), 0);
		c->why[0] = '\0';
		assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), -EPERM);
		cert_assert_why(c, c->secpath, "chmod 600");
	}
	assert_int_equal(chmod(c->secpath, 0400), 0);
	assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), 0);
}

/* Write @text as the secret file and expect it refused with a message naming it. */
static void cert_expect_bad_secret(struct cert_ctx *c, const char *text, size_t len)
{
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	int rc;

	cert_write_text(c->secpath, text, len, 0600);
	c->why[0] = '\0';
	rc = cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why));
	if (rc >= 0)
		fail_msg("corrupt secret file of %zu bytes accepted:\n%.*s", len, (int)len, text);
	cert_assert_why(c, c->secpath, NULL);
}

static void test_cert_corrupt(void **state)
{
	struct cert_ctx *c = *state;
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	char *orig, *text, *key, *line, *last;
	size_t len;

	assert_int_equal(cert_generate(c->path, 0, c->why, sizeof(c->why)), 0);
	orig = cert_read_text(c->secpath);
	len = strlen(orig);
	text = malloc(len + 1);
	assert_non_null(text);

	/* one character of the secret key changed, to another Z85 character and to a non-Z85 one */
	key = strstr(orig, "secret-key = \"");
	assert_non_null(key);
	key += strlen("secret-key = \"") + 5;
	for (const char *rep = "~0"; *rep; rep++) {
		memcpy(text, orig, len + 1);
		text[key - orig] = *key == *rep ? '1' : *rep;
		cert_expect_bad_secret(c, text, len);
	}
	/* one character of the public key changed: no longer the secret key's */
	key = strstr(orig, "public-key = \"") + strlen("public-key = \"") + 7;
	memcpy(text, orig, len + 1);
	text[key - orig] = *key == 'a' ? 'b' : 'a';
	cert_expect_bad_secret(c, text, len);
	cert_assert_why(c, c->secpath, "does not belong");

	/* the secret-key line removed */
	memcpy(text, orig, len + 1);
	line = strstr(text, "    secret-key");
	assert_non_null(line);
	memmove(line, strchr(line, '\n') + 1, strlen(strchr(line, '\n') + 1) + 1);
	cert_expect_bad_secret(c, text, strlen(text));

	/* truncated anywhere before the last key's closing quote; complete after it */
	last = strrchr(orig, '"');
	for (size_t n = 0; n <= (size_t)(last - orig); n++)
		cert_expect_bad_secret(c, orig, n);
	for (size_t n = (size_t)(last - orig) + 1; n <= len; n++) {
		cert_write_text(c->secpath, orig, n, 0600);
		assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), 0);
	}

	/* a public key that belongs to another secret key */
	memcpy(text, orig, len + 1);
	key = strstr(text, "public-key = \"") + strlen("public-key = \"");
	memcpy(key, CERT_SERVER_PUB, CERT_Z85_LEN);
	cert_expect_bad_secret(c, text, len);
	cert_assert_why(c, c->secpath, "does not belong");

	/* a corrupt public certificate */
	free(text);
	text = cert_read_text(c->path);
	key = strstr(text, "public-key = \"") + strlen("public-key = \"") + 3;
	*key = '~';
	cert_write_text(c->path, text, strlen(text), 0644);
	assert_int_equal(cert_load_public(c->path, pub, c->why, sizeof(c->why)), -EINVAL);
	cert_assert_why(c, c->path, "public-key");
	cert_write_text(c->path, text, 30, 0644);
	assert_int_equal(cert_load_public(c->path, pub, c->why, sizeof(c->why)), -EINVAL);
	cert_assert_why(c, c->path, NULL);
	free(text);
	free(orig);
}

static void test_cert_missing(void **state)
{
	struct cert_ctx *c = *state;
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN];
	char want[512];

	assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), -ENOENT);
	snprintf(want, sizeof(want), "vmfabric-key generate %s)", c->path);
	cert_assert_why(c, c->secpath, want);
	assert_int_equal(cert_load_public(c->path, pub, c->why, sizeof(c->why)), -ENOENT);
	cert_assert_why(c, c->path, "vmfabric-key generate");
	/* a directory is not a key file */
	assert_int_equal(cert_load_public(c->dir, pub, c->why, sizeof(c->why)), -EINVAL);
	cert_assert_why(c, c->dir, NULL);
}

/* As czmq's zcert_save() writes them (zconfig text, 4-space indent, quoted values). */
static const char cert_czmq_secret[] =
	"#   ****  Generated on 2023-03-01 10:20:30 by CZMQ  ****\n"
	"#   ZeroMQ CURVE **Secret** Certificate\n"
	"#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n"
	"\n"
	"metadata\n"
	"    name = \"client\"\n"
	"    email = \"ops@example.com\"\n"
	"curve\n"
	"    public-key = \"" CERT_CLIENT_PUB "\"\n"
	"    secret-key = \"" CERT_CLIENT_SEC "\"\n";

static const char cert_czmq_public[] =
	"#   ****  Generated on 2023-03-01 10:20:30 by CZMQ  ****\n"
	"#   ZeroMQ CURVE Public Certificate\n"
	"#   Exchange securely, or use a secure mechanism to verify the contents\n"
	"#   of this file after exchange. Store public certificates in your home\n"
	"#   directory, in the .curve subdirectory.\n"
	"\n"
	"metadata\n"
	"curve\n"
	"    public-key = \"" CERT_CLIENT_PUB "\"\n";

static void test_cert_czmq_format(void **state)
{
	struct cert_ctx *c = *state;
	uint8_t pub[CERT_KEY_LEN], sec[CERT_KEY_LEN], want[CERT_KEY_LEN];

	cert_write_text(c->secpath, cert_czmq_secret, strlen(cert_czmq_secret), 0600);
	cert_write_text(c->path, cert_czmq_public, strlen(cert_czmq_public), 0644);
	assert_int_equal(cert_load_secret(c->secpath, pub, sec, c->why, sizeof(c->why)), 0);
	cert_decode(CERT_CLIENT_PUB, want);
	assert_memory_equal(pub, want, CERT_KEY_LEN);
	cert_decode(CERT_CLIENT_SEC, want);
	assert_memory_equal(sec, want, CERT_KEY_LEN);
	memset(pub, 0, sizeof(pub));
	assert_int_equal(cert_load_public(c->path, pub, c->why, sizeof(c->why)), 0);
	cert_decode(CERT_CLIENT_PUB, want);
	assert_memory_equal(pub, want, CERT_KEY_LEN);
}

static unsigned int cert_warnings;
static char cert_last_warning[1024];

static void cert_warn_cb(const char *msg)
{
	cert_warnings++;
	snprintf(cert_last_warning, sizeof(cert_last_warning), "%s", msg);
}

static void test_keyset_load_dir(void **state)
{
	struct cert_ctx *c = *state;
	char path[300], why[512];
	uint8_t k1[CERT_KEY_LEN], k2[CERT_KEY_LEN], other[CERT_KEY_LEN], client[CERT_KEY_LEN];
	struct keyset ks;

	/* an empty directory admits nobody */
	cert_warnings = 0;
	assert_int_equal(keyset_load_dir(&ks, c->dir, cert_warn_cb), 0);
	assert_int_equal(ks.n, 0);
	cert_decode(CERT_CLIENT_PUB, client);
	assert_false(keyset_has(&ks, client));
	keyset_free(&ks);

	snprintf(path, sizeof(path), "%s/k1", c->dir);
	assert_int_equal(cert_generate(path, 0, why, sizeof(why)), 0);
	assert_int_equal(cert_load_public(path, k1, why, sizeof(why)), 0);
	snprintf(path, sizeof(path), "%s/k2", c->dir);
	assert_int_equal(cert_generate(path, 0, why, sizeof(why)), 0);
	assert_int_equal(cert_load_public(path, k2, why, sizeof(why)), 0);
	/* a key whose public certificate is not in the directory, only its secret one */
	snprintf(path, sizeof(path), "%s/k3_secret", c->dir);
	cert_write_text(path, cert_czmq_secret, strlen(cert_czmq_secret), 0600);
	/* a dot file and a corrupt file */
	snprintf(path, sizeof(path), "%s/.hidden", c->dir);
	cert_write_text(path, "garbage\n", 8, 0644);
	snprintf(path, sizeof(path), "%s/corrupt", c->dir);
	cert_write_text(path, "curve\n    public-key = \"short\"\n", 31, 0644);
	/* the other pair lives elsewhere */
	snprintf(path, sizeof(path), "%s_other", c->dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s_other/x", c->dir);
	assert_int_equal(cert_generate(path, 0, why, sizeof(why)), 0);
	assert_int_equal(cert_load_public(path, other, why, sizeof(why)), 0);

	cert_warnings = 0;
	assert_int_equal(keyset_load_dir(&ks, c->dir, cert_warn_cb), 0);
	assert_int_equal(ks.n, 2);
	assert_true(keyset_has(&ks, k1));
	assert_true(keyset_has(&ks, k2));
	assert_false(keyset_has(&ks, other));
	assert_false(keyset_has(&ks, client));
	assert_int_equal(cert_warnings, 1);
	assert_non_null(strstr(cert_last_warning, "corrupt"));
	keyset_free(&ks);
	assert_int_equal(ks.n, 0);
	assert_false(keyset_has(&ks, k1));
	keyset_free(NULL);

	/* the corrupt file fixed: admitted on the next load */
	snprintf(path, sizeof(path), "%s/corrupt", c->dir);
	cert_write_text(path, cert_czmq_public, strlen(cert_czmq_public), 0644);
	cert_warnings = 0;
	assert_int_equal(keyset_load_dir(&ks, c->dir, NULL), 0);
	assert_int_equal(ks.n, 3);
	assert_true(keyset_has(&ks, client));
	assert_true(keyset_has(&ks, k1));
	keyset_free(&ks);

	snprintf(path, sizeof(path), "%s_other/x", c->dir);
	remove(path);
	snprintf(path, sizeof(path), "%s_other/x_secret", c->dir);
	remove(path);
	snprintf(path, sizeof(path), "%s_other", c->dir);
	rmdir(path);
	assert_int_equal(keyset_load_dir(&ks, path, cert_warn_cb), -ENOENT);
}

/* @n bytes of @needle anywhere in [lo, hi), read byte by byte: no call, no stack of our own */
__attribute__((no_sanitize_address)) static int mem_has(const volatile char *lo, const volatile char *hi,
							const char *needle, size_t n)
{
	for (; lo + n <= hi; lo++) {
		size_t i = 0;

		while (i < n && lo[i] == needle[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

/*
 * vmfabric-key generate --force where the public file cannot be written (a
 * directory has its name): the secret file was written, and its text is
 * nowhere in the heap (a freed stdio buffer would still hold it)
 */
static void test_cert_no_secret_in_heap(void **state)
{
	struct cert_ctx *c = *state;
	char text[2048], *p, *q, line[256];
	unsigned long lo = 0, hi = 0, scanned = 0;
	ssize_t n;
	FILE *maps;
	int fd;

	assert_int_equal(mkdir(c->path, 0755), 0);
	assert_int_not_equal(cert_generate(c->path, 1, c->why, sizeof(c->why)), 0);
	/* read with read(2) into the stack: stdio would put the secret into the heap itself */
	fd = open(c->secpath, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	assert_true(n > 0);
	text[n] = '\0';
	p = strstr(text, "secret-key = \"");
	assert_non_null(p);
	p += 14;
	q = strchr(p, '"');
	assert_non_null(q);
	assert_int_equal(q - p, CERT_Z85_LEN);
	/* every writable private mapping but the stack (which holds our own copy): the heap, and
	 * where an allocator other than glibc's (ASan's) keeps its chunks */
	maps = fopen("/proc/self/maps", "r");
	assert_non_null(maps);
	while (fgets(line, sizeof(line), maps)) {
		char perms[8];

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || strcmp(perms, "rw-p") ||
		    strstr(line, "[stack]") || hi - lo > (64ul << 20))
			continue;
		scanned += hi - lo;
		if (mem_has((const char *)lo, (const char *)hi, p, CERT_Z85_LEN))
			fail_msg("the secret key's text is in %s", line);
	}
	fclose(maps);
	assert_true(scanned > 0);
	memset(text, 0, sizeof(text));
}

#define T(f) cmocka_unit_test_setup_teardown(f, cert_setup, cert_teardown)
UNIT_MAIN("cert", NULL, NULL,
	    T(test_cert_generate_load), T(test_cert_no_overwrite),
	    T(test_cert_no_secret_in_heap), T(test_cert_secret_mode), T(test_cert_corrupt),
	    T(test_cert_missing), T(test_cert_czmq_format), T(test_keyset_load_dir))
