/* cert.c - CURVE key files in czmq's zcert format */

/*
 * DOC: Key files
 *
 * The format is czmq's zcert (ZPL text, ZMQ RFC 4), so czmq tools read our
 * keys and we read theirs:
 *
 *	#   ****  Generated on ... by vmfabric-key  ****
 *	#   ZeroMQ CURVE **Secret** Certificate
 *	metadata
 *	    name = "vm1"
 *	curve
 *	    public-key = "<40 Z85 characters>"
 *	    secret-key = "<40 Z85 characters>"	(only in NAME_secret)
 *
 * NAME_secret is created 0600 under a new name and renamed into place
 * (no race with a reader, no partial file, an existing pair kept unless
 * --force), and is refused at load time if group or others may read it.
 * Secret text is only ever in sodium_malloc()ed memory or wiped stack
 * buffers; loaded secrets live in caller buffers that are wiped after use.
 */

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cert.h"
#include "util.h"

#define CERT_FILE_MAX	(64 * 1024)

void cert_wipe(void *p, size_t n)
{
	sodium_memzero(p, n);
}

char *cert_z85(const uint8_t key[CERT_KEY_LEN], char out[CERT_Z85_LEN + 1])
{
	if (!zmq_z85_encode(out, key, CERT_KEY_LEN))
		out[0] = '\0';
	return out;
}

/*
 * The text is put together in sodium_malloc()ed memory (locked, wiped when
 * freed), never in a stdio buffer that free() would hand back to the heap
 * with the secret in it, and written with file_replace(): a new 0600 file
 * beside @path, renamed over it, so a failed write leaves the old pair intact.
 */
static int write_cert(const char *path, const char *name, const char *pub,
		      const char *sec, int force, char *why, size_t whylen)
{
	const size_t size = strlen(name) + 1024;
	char stamp[64], *buf;
	time_t t = time(NULL);
	struct tm tm;
	int n, rc;

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
	if (sodium_init() < 0 || !(buf = sodium_malloc(size)))
		return -ENOMEM;
	n = snprintf(buf, size, "#   ****  Generated on %s by vmfabric-key  ****\n%s"
		     "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n%s%s%s",
		     stamp, sec ? "#   ZeroMQ CURVE **Secret** Certificate\n"
				  "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.\n\n"
				: "#   ZeroMQ CURVE Public Certificate\n"
				  "#   Exchange securely, or use a secure mechanism to verify the contents\n"
				  "#   of this file after exchange. Store public certificates in your home\n"
				  "#   directory, in the .curve subdirectory.\n\n",
		     name, pub, sec ? "    secret-key = \"" : "", sec ? sec : "", sec ? "\"\n" : "");
	if (n < 0 || (size_t)n >= size) {
		sodium_free(buf);
		snprintf(why, whylen, "%s: certificate text too long", path);
		return -EOVERFLOW;	/* cannot happen: @size leaves room for the fixed text */
	}
	rc = file_replace(path, buf, (size_t)n, sec ? 0600 : 0644, force ? 0 : FILE_NOREPLACE);
	sodium_free(buf);
	if (rc)
		snprintf(why, whylen, "cannot create %s: %s%s", path, strerror(-rc),
			 rc == -EEXIST ? " (use --force to replace the key pair)" : "");
	return rc;
}

int cert_generate(const char *path, int force, char *why, size_t whylen)
{
	char pub[CERT_Z85_LEN + 1], sec[CERT_Z85_LEN + 1], secpath[4096];
	const char *name = strrchr(path, '/');
	int rc;

	name = name ? name + 1 : path;
	if (!*name || strlen(path) + 8 > sizeof(secpath)) {
		snprintf(why, whylen, "bad key path '%s' (expected DIR/NAME)", path);
		return -EINVAL;
	}
	snprintf(secpath, sizeof(secpath), "%s_secret", path);
	if (zmq_curve_keypair(pub, sec)) {
		snprintf(why, whylen, "zmq_curve_keypair: %s", zmq_strerror(errno));
		return -ENOTSUP;
	}
	rc = write_cert(secpath, name, pub, sec, force, why, whylen);
	if (!rc)
		rc = write_cert(path, name, pub, NULL, force, why, whylen);
	cert_wipe(sec, sizeof(sec));
	return rc;
}

/*
 * Find 'key = "value"' in section "curve" with a valid 40-character Z85
 * value and decode it into @out. Return: 0, -ENOENT if absent, -EINVAL if
 * malformed
 */
static int find_key(const char *text, const char *key, uint8_t out[CERT_KEY_LEN])
{
	const char *line = text;
	int in_curve = 0;

	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		const char *p = line;

		if (*p != ' ' && *p != '\t' && *p != '#' && len) {
			in_curve = len >= 5 && !strncmp(p, "curve", 5) &&
				   (len == 5 || p[5] == ' ' || p[5] == '\r' || p[5] == '\t');
		} else if (in_curve && *p != '#') {
			size_t kl = strlen(key);

			while (*p == ' ' || *p == '\t')
				p++;
			if (!strncmp(p, key, kl) && (p[kl] == ' ' || p[kl] == '=')) {
				char z85[CERT_Z85_LEN + 1];

				p += kl;
				while (*p == ' ' || *p == '\t')
					p++;
				if (*p++ != '=')
					return -EINVAL;
				while (*p == ' ' || *p == '\t')
					p++;
				if (*p++ != '"')
					return -EINVAL;
				if ((size_t)(line + len - p) < CERT_Z85_LEN + 1 || p[CERT_Z85_LEN] != '"')
					return -EINVAL;
				int rc;

				memcpy(z85, p, CERT_Z85_LEN);
				z85[CERT_Z85_LEN] = '\0';
				rc = zmq_z85_decode(out, z85) ? 0 : -EINVAL;
				/* a secret that does not decode is still a secret */
				cert_wipe(z85, sizeof(z85));
				return rc;
			}
		}
		line = eol ? eol + 1 : NULL;
	}
	return -ENOENT;
}

static int read_file(const char *path, int secret, char **text, char *why, size_t whylen)
{
	struct stat st;
	ssize_t n;
	char *buf;
	int fd, rc;

	if (sodium_init() < 0)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		if (errno == ENOENT) {
			size_t base = strlen(path);

			/* the pair is named after the public file: drop a _secret suffix */
			if (secret && base > 7 && !strcmp(path + base - 7, "_secret"))
				base -= 7;
			snprintf(why, whylen, "%s: no such file (create a key pair with: vmfabric-key generate %.*s)",
				 path, (int)base, path);
		} else {
			snprintf(why, whylen, "%s: cannot open: %s", path, strerror(errno));
		}
		return rc;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if (secret && (st.st_mode & 077)) {
		snprintf(why, whylen, "%s: secret key file is accessible by group or others (mode %04o); "
			 "fix it with: chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -EPERM;
	}
	if (st.st_size > CERT_FILE_MAX) {
		snprintf(why, whylen, "%s: too large for a key file (%lld bytes)", path, (long long)st.st_size);
		close(fd);
		return -EFBIG;
	}
	buf = sodium_malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(why, whylen, "%s: short read", path);
		sodium_free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	*text = buf;
	return 0;
}

int cert_load_public(const char *path, uint8_t pub[CERT_KEY_LEN], char *why, size_t whylen)
{
	char *text = NULL;	/* set by read_file() when it returns 0; -O3 cannot tell */
	int rc = read_file(path, 0, &text, why, whylen);

	if (rc)
		return rc;
	rc = find_key(text, "public-key", pub);
	sodium_free(text);
	if (rc) {
		snprintf(why, whylen, "%s: no valid public-key (expected a czmq certificate with "
			 "'public-key = \"<40 Z85 characters>\"' in section 'curve'); "
			 "regenerate it with vmfabric-key generate", path);
		return -EINVAL;
	}
	return 0;
}

int cert_load_secret(const char *path, uint8_t pub[CERT_KEY_LEN], uint8_t sec[CERT_KEY_LEN],
		     char *why, size_t whylen)
{
	uint8_t derived[CERT_KEY_LEN];
	char *text = NULL;	/* set by read_file() when it returns 0; -O3 cannot tell */
	int rc = read_file(path, 1, &text, why, whylen);

	if (rc)
		return rc;
	rc = find_key(text, "secret-key", sec);
	if (!rc)
		rc = find_key(text, "public-key", pub);
	sodium_free(text);
	if (rc) {
		snprintf(why, whylen, "%s: not a valid secret certificate (expected 'public-key' and "
			 "'secret-key' = \"<40 Z85 characters>\" in section 'curve'; the file is corrupt "
			 "or truncated): regenerate it with vmfabric-key generate", path);
		cert_wipe(sec, CERT_KEY_LEN);
		return -EINVAL;
	}
	crypto_scalarmult_base(derived, sec);
	if (memcmp(derived, pub, CERT_KEY_LEN)) {
		snprintf(why, whylen, "%s: public-key does not belong to secret-key (corrupt file): "
			 "regenerate it with vmfabric-key generate", path);
		cert_wipe(sec, CERT_KEY_LEN);
		return -EINVAL;
	}
	return 0;
}
