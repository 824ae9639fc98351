/* siphash.c - SipHash-1-3: a keyed hash for tables whose keys a peer chooses */

/*
 * DOC: Why a keyed hash
 *
 * The MAC table and the routing-id table are open-addressing hash tables
 * whose keys come from peers: source MACs from guests, routing ids from
 * ports. With a fixed hash function, a peer can choose keys that share a
 * home slot and turn every probe into a walk along one long cluster (the
 * review measured 58 ns -> 5.4 us per frame, for every port of the
 * network). SipHash under a random key drawn at start makes colliding
 * keys unpredictable. One compression round and three finalisation rounds
 * (SipHash-1-3, as Rust's and Python's hash tables use) cost ~10 ns for a
 * MAC; the keys are never output, so the reduced rounds are enough.
 */

#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "siphash.h"

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND(v0, v1, v2, v3)					\
	do {								\
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;			\
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;			\
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

int sip_key_random(struct sip_key *k)
{
	uint64_t b[2];
	ssize_t r = getrandom(b, sizeof(b), 0);

	if (r != (ssize_t)sizeof(b))
		return r < 0 ? -errno : -EIO;
	k->k0 = b[0];
	k->k1 = b[1];
	return 0;
}

uint64_t siphash13(const struct sip_key *k, const void *data, size_t len)
{
	uint64_t v0 = k->k0 ^ 0x736f6d6570736575ULL, v1 = k->k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k->k0 ^ 0x6c7967656e657261ULL, v3 = k->k1 ^ 0x7465646279746573ULL;
	const uint8_t *p = data;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, 8);
		v3 ^= m;
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for (size_t s = 0; i < len; i++, s += 8)
		b |= (uint64_t)p[i] << s;
	v3 ^= b;
	SIPROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t siphash13_u64(const struct sip_key *k, uint64_t m)
{
	return siphash13(k, &m, sizeof(m));
}
