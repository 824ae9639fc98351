/* zap.c - admission by CURVE public key: key sets and the ZAP handler */

/*
 * DOC: Theory of operation
 *
 * The switch's CURVE socket sets a ZAP domain and ZMQ_ZAP_ENFORCE_DOMAIN
 * (option 93, compiled into Debian's non-draft libzmq without its #define),
 * so a handshake fails unless a handler at inproc://zeromq.zap.01 in the
 * same context answers 200. This handler answers 200 only for keys in the
 * authorized directory, and puts the Z85 key in the reply's user id: the
 * switch reads it back per message (zmq_msg_gets "User-Id") and binds each
 * port to it. Everything else gets 400: fail closed. The handler runs in
 * the switch's own event loop; a request costs one bsearch.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "zap.h"

#ifndef ZMQ_ZAP_ENFORCE_DOMAIN
#define ZMQ_ZAP_ENFORCE_DOMAIN 93
#endif

#define MIN_INT(a, b) ((a) < (b) ? (a) : (b))

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, CERT_KEY_LEN);	/* the key is the entry's first member */
}

int keyset_load_dir(struct keyset *ks, const char *dir, void (*warn_cb)(const char *msg))
{
	struct dirent *de;
	size_t cap = 0;
	DIR *d;

	ks->e = NULL;
	ks->n = 0;
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[4096], why[512];
		struct key_entry *e;
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || (len > 7 && !strcmp(de->d_name + len - 7, "_secret")))
			continue;
		if (ks->n == cap) {
			void *k = realloc(ks->e, (cap = cap ? cap * 2 : 16) * sizeof(*ks->e));

			if (!k) {
				closedir(d);
				keyset_free(ks);
				return -ENOMEM;
			}
			ks->e = k;
		}
		e = &ks->e[ks->n];
		memset(e, 0, sizeof(*e));
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (cert_load_public(path, e->key, why, sizeof(why)) ||
		    policy_load(path, &e->policy, why, sizeof(why))) {
			if (warn_cb)
				warn_cb(why);
			continue;
		}
		ks->n++;
	}
	closedir(d);
	if (ks->n)
		qsort(ks->e, ks->n, sizeof(*ks->e), key_cmp);
	return 0;
}

struct key_entry *keyset_find(const struct keyset *ks, const uint8_t key[CERT_KEY_LEN])
{
	return ks->n ? bsearch(key, ks->e, ks->n, sizeof(*ks->e), key_cmp) : NULL;
}

int keyset_has(const struct keyset *ks, const uint8_t key[CERT_KEY_LEN])
{
	return keyset_find(ks, key) != NULL;
}

void keyset_free(struct keyset *ks)
{
	if (!ks)
		return;
	free(ks->e);
	ks->e = NULL;
	ks->n = 0;
}

int zap_start(struct zap *z, void *ctx)
{
	int linger = 0;

	z->rep = zmq_socket(ctx, ZMQ_REP);
	if (!z->rep)
		return -errno;
	zmq_setsockopt(z->rep, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_bind(z->rep, "inproc://zeromq.zap.01")) {
		int rc = -errno;

		zmq_close(z->rep);
		z->rep = NULL;
		return rc;
	}
	return 0;
}

void zap_stop(struct zap *z)
{
	if (!z)
		return;
	if (z->rep)
		zmq_close(z->rep);
	z->rep = NULL;
	keyset_free(&z->keys);
	keyset_free(&z->admin_keys);
}

static void send_str(void *s, const char *str, int more)
{
	zmq_send(s, str, strlen(str), more ? ZMQ_SNDMORE : 0);
}

void zap_handle(struct zap *z)
{
	for (;;) {
		/* version, request id, domain, address, identity, mechanism, credentials */
		char part[7][64];
		int len[7], n = 0, more = 1, ok = 0, admin = 0;
		uint8_t key[CERT_KEY_LEN];
		char z85[CERT_Z85_LEN + 1] = "";
		size_t sz = sizeof(more);

		while (more) {
			int r = zmq_recv(z->rep, n < 7 ? part[n] : part[6], sizeof(part[0]),
					 n == 0 ? ZMQ_DONTWAIT : 0);

			if (r < 0) {
				if (n == 0)
					return;	/* nothing pending */
				break;
			}
			if (n < 7)
				len[n] = r;
			n++;
			zmq_getsockopt(z->rep, ZMQ_RCVMORE, &more, &sz);
		}
		if (n == 7 && len[0] == 3 && !memcmp(part[0], "1.0", 3) && len[5] == 5 &&
		    !memcmp(part[5], "CURVE", 5) && len[6] == CERT_KEY_LEN) {
			admin = len[2] == (int)strlen(ZAP_DOMAIN_ADMIN) &&
				    !memcmp(part[2], ZAP_DOMAIN_ADMIN, (size_t)len[2]);

			memcpy(key, part[6], CERT_KEY_LEN);
			ok = keyset_has(admin ? &z->admin_keys : &z->keys, key);
			cert_z85(key, z85);
		}
		if (ok)
			z->allowed++;
		else
			z->denied++;
		/* REP: version, request id, status, text, user id, metadata */
		send_str(z->rep, "1.0", 1);
		zmq_send(z->rep, part[1], n > 1 ? (size_t)MIN_INT(len[1], 64) : 0, ZMQ_SNDMORE);
		send_str(z->rep, ok ? "200" : "400", 1);
		send_str(z->rep, ok ? "OK" : "key not in the authorized directory", 1);
		send_str(z->rep, ok ? z85 : "", 1);
		send_str(z->rep, "", 0);
		if (!ok && z->on_deny && n == 7)
			z->on_deny(z85[0] ? z85 : "(none)", len[3] > 0 && len[3] < 64 ?
				   (part[3][len[3]] = '\0', part[3]) : "?", admin);
	}
}

int zap_server_setup(void *sock, const uint8_t sec[CERT_KEY_LEN], const char *domain)
{
	int one = 1;

	if (zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) ||
	    zmq_setsockopt(sock, ZMQ_ZAP_ENFORCE_DOMAIN, &one, sizeof(one)) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
	    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, CERT_KEY_LEN))
		return -errno;
	return 0;
}
