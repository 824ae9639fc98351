/* fuzz_rng.h - the deterministic fuzz loops' random numbers (xorshift64, fixed seed: a run repeats) */
#ifndef VMF_FUZZ_RNG_H
#define VMF_FUZZ_RNG_H

#include <stdint.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static inline uint32_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)rng;
}

#endif /* VMF_FUZZ_RNG_H */
