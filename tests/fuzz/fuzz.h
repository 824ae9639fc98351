/* fuzz.h - shared by the fuzz harnesses: the libFuzzer entry point and small helpers */
#ifndef VMF_FUZZ_H
#define VMF_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An oracle failed: a real bug, reported like a crash (libFuzzer keeps the input). */
#define FUZZ_CHECK(cond)							\
	do {									\
		if (!(cond)) {							\
			fprintf(stdout, "fuzz check failed: %s (%s:%d)\n", #cond,	\
				__FILE__, __LINE__);	\
			fflush(stdout);				\
			abort();						\
		}								\
	} while (0)

/* Consume the first byte of the input (0 when empty). */
static inline uint8_t fuzz_byte(const uint8_t **data, size_t *size)
{
	uint8_t b = 0;

	if (*size) {
		b = **data;
		(*data)++;
		(*size)--;
	}
	return b;
}

#endif /* VMF_FUZZ_H */
