/* gro_fuzz.c - fuzz harness for the gateway's TCP coalescer: libFuzzer entry + deterministic loop */

/*
 * The input is a run of frames as libslirp would send them (2-byte length,
 * then the bytes), fed to the coalescer as the gateway does: appended to the
 * open super-frame when it takes them, else the open one is closed and the
 * frame may open the next. Oracle: every super-frame, cut again by the NIC
 * side's segmenter (offload_plain), gives back exactly the frames that went
 * in, but for the checksums (recomputed), and never grows past its bounds.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "gro.h"
#include "gro_frames.h"
#include "offload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOM	(96 * 1024)	/* output buffer: less than two full super-frames */
#define MAXIN	64

static uint8_t out[ROOM];
static uint8_t in[MAXIN][2048];
static size_t in_len[MAXIN], n_in, used;
static struct gro r;
static struct offload_out o;
static uint64_t supers, plain, taken, refused;

/* byte-compare two frames, skipping the IPv4 and TCP checksums */
static int same(const uint8_t *a, const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (i != 24 && i != 25 && i != 50 && i != 51 && a[i] != b[i])
			return 0;
	return 1;
}

static void close_open(void)
{
	size_t len;
	struct frame f = { 0 };
	int rc;

	if (!r.hdr)
		return;
	f.data = r.hdr;
	f.flags = FRAME_VNET;
	rc = gro_close(&r, &len);
	if (rc < 0)
		abort();
	if (len > 14 + GRO_MAX_IP || f.data + VMF_VNET_HDR_LEN + len > out + ROOM)
		abort();
	if (rc == 0) {
		if (n_in != 1 || len != in_len[0] || memcmp(f.data + VMF_VNET_HDR_LEN, in[0], len))
			abort();
		plain++;
	} else {
		f.len = (uint32_t)(VMF_VNET_HDR_LEN + len);
		offload_plain(&o, &f, 1);
		if (o.bad || o.n != n_in)
			abort();
		for (size_t i = 0; i < n_in; i++)
			if (o.f[i].len != in_len[i] || !same(o.f[i].data, in[i], in_len[i]))
				abort();
		supers++;
	}
	n_in = 0;
	used = 0;	/* the caller's batch went out */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!o.scratch && offload_out_init(&o, 256, 256 * 1024))
		abort();
	memset(&r, 0, sizeof(r));
	n_in = 0;
	used = 0;
	while (size >= 2) {
		size_t n = (size_t)(data[0] << 8 | data[1]) % 2048, hdrs, a;

		data += 2;
		size -= 2;
		if (n > size)
			n = size;
		if (r.hdr && n_in < MAXIN) {
			a = gro_append(&r, data, n, ROOM - used);
			if (a) {
				if (a != n - r.hdrs)
					abort();
				memcpy(in[n_in], data, n);
				in_len[n_in++] = n;
				used += a;
				taken++;
				goto next;
			}
			refused++;
		}
		close_open();
		hdrs = gro_candidate(data, n);
		if (hdrs && n <= sizeof(in[0])) {
			if (hdrs >= n || VMF_VNET_HDR_LEN + n > ROOM)
				abort();
			memcpy(out + VMF_VNET_HDR_LEN, data, n);
			gro_open(&r, out, n, hdrs);
			memcpy(in[0], data, n);
			in_len[0] = n;
			n_in = 1;
			used = VMF_VNET_HDR_LEN + n;
		}
next:
		data += n;
		size -= n;
	}
	close_open();
	return 0;
}

#ifndef VMF_LIBFUZZER
#include "fuzz_rng.h"

int main(int argc, char **argv)
{
	long iters = argc > 1 ? strtol(argv[1], NULL, 0) : 20000;
	static uint8_t buf[64 * 1600];

	for (long it = 0; it < iters; it++) {
		uint32_t seq = next(), nseg = 1 + next() % 48, opt = (next() % 4 == 0) ? 12 : 0;
		uint16_t id = (uint16_t)next();
		size_t mss = 1 + next() % 1460, pos = 0;

		if (mss + 54 + opt < 60)
			mss = 60;
		for (uint32_t s = 0; s < nseg; s++) {
			uint8_t *f = buf + pos + 2;
			size_t pay = next() % 8 ? mss : next() % (mss + 2), l, muts = next() % 16 ? 0 : 1 + next() % 4;
			uint8_t fl = next() % 10 ? SEG_ACK : (uint8_t)(SEG_ACK | (next() % 2 ? SEG_PSH : next() & 0x3f));

			l = gro_seg(f, seq, id, pay, fl, opt);
			seq += (uint32_t)pay;
			id++;
			for (size_t m = 0; m < muts; m++) {
				switch (next() % 3) {
				case 0: if (l) f[next() % l] = (uint8_t)next(); break;
				case 1: f[next() % 60] ^= (uint8_t)(1u << (next() % 8)); break;
				case 2: l = next() % (l + 1); break;
				}
			}
			buf[pos] = (uint8_t)(l >> 8);
			buf[pos + 1] = (uint8_t)l;
			pos += 2 + l;
		}
		LLVMFuzzerTestOneInput(buf, pos);
	}
	printf("gro fuzz: %ld inputs, %llu super-frames, %llu single segments, %llu segments appended, "
	       "%llu refused\n", iters, (unsigned long long)supers, (unsigned long long)plain,
	       (unsigned long long)taken, (unsigned long long)refused);
	offload_out_free(&o);
	/* the loop must reach both outcomes, or it tests nothing */
	if (!supers || !plain || !taken || !refused) {
		printf("gro fuzz: a path was never reached\n");
		return 1;
	}
	return 0;
}
#endif
