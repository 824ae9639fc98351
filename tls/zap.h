/* zap.h - admission by CURVE public key: key sets and the ZAP handler */
#ifndef VMF_ZAP_H
#define VMF_ZAP_H

#include <stddef.h>
#include <stdint.h>

#include "cert.h"
#include "policy.h"

/**
 * struct key_entry - one admitted key, its policy, and what the switch
 * keeps per key (reset when the directory is reloaded)
 */
struct key_entry {
	uint8_t key[CERT_KEY_LEN];
	struct key_policy policy;
	uint64_t hello_ms;	/* Hello token bucket: last refill */
	uint32_t hello_tokens;
};

/* Sorted set of admitted public keys. */
struct keyset {
	struct key_entry *e;
	size_t n;
};

/**
 * keyset_load_dir() - load every public certificate in @dir with its policy
 * (files ending in _secret and dot files are skipped; an unreadable or
 * corrupt file, or one whose policy does not parse, is reported through
 * @warn_cb and not admitted: fail closed)
 *
 * Return: 0 or -errno (directory unreadable)
 */
int keyset_load_dir(struct keyset *ks, const char *dir,
		    void (*warn_cb)(const char *msg));
int keyset_has(const struct keyset *ks, const uint8_t key[CERT_KEY_LEN]);

/** keyset_find() - the entry of @key, or NULL */
struct key_entry *keyset_find(const struct keyset *ks, const uint8_t key[CERT_KEY_LEN]);
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
