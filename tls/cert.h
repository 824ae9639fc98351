/* cert.h - CURVE key files in czmq's zcert format */
#ifndef VMF_CERT_H
#define VMF_CERT_H

#include <stddef.h>
#include <stdint.h>

#define CERT_KEY_LEN	32
#define CERT_Z85_LEN	40

/**
 * cert_generate() - write a new key pair: @path (public, 0644) and
 * @path_secret (0600), in czmq zcert format
 * @path:	file name of the public certificate
 * @force:	overwrite existing files
 * @why:	message buffer for errors
 *
 * Return: 0 or -errno
 */
int cert_generate(const char *path, int force, char *why, size_t whylen);

/** cert_load_public() - read public-key from a certificate (public or secret). */
int cert_load_public(const char *path, uint8_t pub[CERT_KEY_LEN], char *why, size_t whylen);

/**
 * cert_load_secret() - read a secret certificate; refuses group/other
 * readable files, a missing or corrupt secret-key, and a public-key that does
 * not belong to the secret key. Every error message names the file and the fix.
 */
int cert_load_secret(const char *path, uint8_t pub[CERT_KEY_LEN], uint8_t sec[CERT_KEY_LEN],
		     char *why, size_t whylen);

/** cert_z85() - Z85 text of @key into @out (41 bytes) */
char *cert_z85(const uint8_t key[CERT_KEY_LEN], char out[CERT_Z85_LEN + 1]);

/** cert_wipe() - erase key material */
void cert_wipe(void *p, size_t n);

#endif /* VMF_CERT_H */
