/* siphash.h - SipHash-1-3: a keyed hash for tables whose keys a peer chooses */
#ifndef VMF_SIPHASH_H
#define VMF_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* A random 128-bit key, drawn once per table (or per process) at start. */
struct sip_key {
	uint64_t k0, k1;
};

/** sip_key_random() - a fresh key from getrandom(); Return: 0 or -errno */
int sip_key_random(struct sip_key *k);

/** siphash13() - SipHash-1-3 of @len bytes at @data under @k */
uint64_t siphash13(const struct sip_key *k, const void *data, size_t len);

/** siphash13_u64() - the same for one 64-bit word (what an 8-byte message hashes to) */
uint64_t siphash13_u64(const struct sip_key *k, uint64_t m);

#endif /* VMF_SIPHASH_H */
