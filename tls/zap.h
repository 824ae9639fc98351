/* zap.h - admission by CURVE public key: key sets and the ZAP handler */
#ifndef VMF_ZAP_H
#define VMF_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"

/* Sorted set of admitted public keys. */
struct keyset {
	uint8_t (*keys)[CERT_KEY_LEN];
	size_t n;
};

/**
 * keyset_load_dir() - load every public certificate in @dir (files ending in
 * _secret and dot files are skipped; an unreadable or corrupt file is
 * reported through @warn_cb and not admitted)
 *
 * Return: 0 or -errno (directory unreadable)
 */
int keyset_load_dir(struct keyset *ks, const char *dir,
		    void (*warn_cb)(const char *msg));
int keyset_has(const struct keyset *ks, const uint8_t key[CERT_KEY_LEN]);
void keyset_free(struct keyset *ks);

/**
 * struct zap - ZAP (RFC 27) handler for one context
 * @rep:	REP socket bound to inproc://zeromq.zap.01
 * @keys:	admitted keys
 * @allowed, @denied: counters
 */
struct zap {
	void *rep;
	struct keyset keys;		/* ports: ZAP domain "vmfabric" */
	struct keyset admin_keys;	/* management clients: domain "vmfabric-admin" */
	uint64_t allowed;
	uint64_t denied;
	void (*on_deny)(const char *key_z85, const char *address, int admin);
};

/** zap_start() - bind the handler in @ctx; must run before any zmq_bind(). */
int zap_start(struct zap *z, void *ctx);

/** zap_handle() - answer every pending request without blocking. */
void zap_handle(struct zap *z);

/** zap_stop() - close the handler socket and free keys */
void zap_stop(struct zap *z);

#define ZAP_DOMAIN_PORTS	"vmfabric"
#define ZAP_DOMAIN_ADMIN	"vmfabric-admin"

/**
 * zap_server_setup() - make @sock a CURVE server that fails closed without ZAP
 * @domain:	ZAP_DOMAIN_PORTS or ZAP_DOMAIN_ADMIN: which key set admits clients
 */
int zap_server_setup(void *sock, const uint8_t sec[CERT_KEY_LEN], const char *domain);

#endif /* VMF_ZAP_H */
