/* fuzz_impair.c - fuzz the link impairment spec parser and its queue (switch/impair.c) */

/*
 * The input's first line is a spec, as --impair and vmfabric-ctl send it
 * (from a local admin, or an admin key over tcp://). impair_parse() must
 * never crash or read past it; what it accepts must be within the bounds
 * the data path relies on, and must survive a round trip: formatted back
 * per direction, it parses to the same setting.
 *
 * The rest drives the queue of the "out" direction (if active): each byte
 * an operation (hold a frame of a given length, let time pass, release
 * what is due, ask the loss model). Checked against a model: frames leave
 * in order, not before they are due, with their bytes intact, and the
 * queue never holds more than its bounds.
 */

#include <string.h>

#include "fuzz.h"
#include "impair.h"

static int same(const struct impair_params *a, const struct impair_params *b)
{
	return a->set == b->set && a->delay_us == b->delay_us && a->jitter_us == b->jitter_us &&
	       a->loss == b->loss && a->loss_burst == b->loss_burst && a->ge == b->ge &&
	       a->ge_p == b->ge_p && a->ge_r == b->ge_r && a->ge_bad == b->ge_bad &&
	       a->ge_good == b->ge_good && a->dup == b->dup && a->reorder == b->reorder &&
	       a->rate_bps == b->rate_bps && a->rate_burst == b->rate_burst &&
	       a->queue == b->queue && a->queue_bytes == b->queue_bytes && a->seed == b->seed;
}

static void bounds(const struct impair_params *p)
{
	FUZZ_CHECK(p->delay_us <= IMPAIR_DELAY_MAX && p->jitter_us <= IMPAIR_DELAY_MAX);
	FUZZ_CHECK(p->loss <= IMPAIR_ONE && p->dup <= IMPAIR_ONE && p->reorder <= IMPAIR_ONE);
	FUZZ_CHECK(p->ge_p <= IMPAIR_ONE && p->ge_r <= IMPAIR_ONE && p->ge_bad <= IMPAIR_ONE &&
		   p->ge_good <= IMPAIR_ONE);
	FUZZ_CHECK(!p->rate_bps || (p->rate_bps >= IMPAIR_RATE_MIN && p->rate_bps <= IMPAIR_RATE_MAX));
	FUZZ_CHECK(p->rate_burst <= IMPAIR_BURST_MAX);
	FUZZ_CHECK(p->queue >= 1 && p->queue <= IMPAIR_QUEUE_MAX);
	FUZZ_CHECK(p->queue_bytes >= IMPAIR_QBYTES_MIN && p->queue_bytes <= IMPAIR_QBYTES_MAX);
	FUZZ_CHECK(!p->reorder || p->delay_us);
	FUZZ_CHECK(!(p->loss && p->ge) || p->loss_burst);
}

static uint8_t pattern(uint32_t tag, size_t i)
{
	return (uint8_t)(tag * 131 + i * 7);
}

static void run_queue(struct impair_params p, const uint8_t *data, size_t size)
{
	static uint8_t frame[VMF_MAX_FRAME];
	enum { MODEL = 1024 };
	uint32_t tags[MODEL], head = 0, n = 0, tag = 0;
	uint64_t now = 0, last_due = 0;
	size_t bytes = 0;
	struct impair_q *q;

	/* small bounds keep each input quick */
	p.queue = p.queue < MODEL ? p.queue : MODEL;
	p.queue_bytes = p.queue_bytes < (1u << 20) ? p.queue_bytes : (1u << 20);
	q = impair_q_new(&p);
	if (!q)
		return;
	while (size) {
		uint8_t op = fuzz_byte(&data, &size);
		const struct impair_frame *fr;
		size_t len;
		uint64_t due;
		int r;

		switch (op & 3) {
		case 0:
			len = (size_t)fuzz_byte(&data, &size) << 8 | fuzz_byte(&data, &size);
			len = op & 4 ? len * 2 % (VMF_MAX_FRAME + 1) : len % 1600;
			for (size_t i = 0; i < len; i++)
				frame[i] = pattern(tag, i);
			r = impair_q_hold(q, frame, len, 0, 0, 0, now, &due);
			if (r == IMPAIR_HELD) {
				FUZZ_CHECK(due >= last_due);
				last_due = due;
				tags[(head + n) % MODEL] = tag;
				n++;
				bytes += len;
			} else if (r == IMPAIR_PASS) {
				/* an empty frame has nothing to hold (the switch never offers one) */
				FUZZ_CHECK(!len || (n == 0 && due <= now));
			} else {
				FUZZ_CHECK(r == IMPAIR_FULL && len);
			}
			tag++;
			break;
		case 1:
			now += (uint64_t)fuzz_byte(&data, &size) * (op & 4 ? 10000 : 100);
			break;
		case 2:
			while ((fr = impair_q_head(q, now))) {
				FUZZ_CHECK(n && fr->due_us <= now);
				FUZZ_CHECK(fr->off + (size_t)fr->len <= q->buf_cap);
				for (size_t i = 0; i < fr->len; i++)
					FUZZ_CHECK(q->buf[fr->off + i] == pattern(tags[head], i));
				bytes -= fr->len;
				impair_q_pop(q);
				head = (head + 1) % MODEL;
				n--;
			}
			break;
		default:
			impair_q_lost(q);
			if (p.rate_bps)
				impair_q_depart(q, op, now);
			break;
		}
		FUZZ_CHECK(q->n == n && q->bytes == bytes);
		FUZZ_CHECK(n <= p.queue && bytes <= p.queue_bytes);
	}
	impair_q_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const dirname[IMPAIR_DIRS] = { "in", "out" };
	struct impair_conf c;
	char spec[IMPAIR_SPEC_MAX + 64], why[512];
	const uint8_t *nl = memchr(data, '\n', size);
	size_t len = nl ? (size_t)(nl - data) : size;

	if (len >= sizeof(spec))
		return 0;
	memcpy(spec, data, len);
	spec[len] = '\0';
	memset(&c, 0, sizeof(c));
	if (impair_parse(spec, &c, why, sizeof(why))) {
		FUZZ_CHECK(why[0] != '\0');
		return 0;
	}
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		struct impair_conf again;
		char out[IMPAIR_SPEC_MAX + 32];

		if (!c.dir[d].set)
			continue;
		bounds(&c.dir[d]);
		if (!impair_active(&c.dir[d]))
			continue;
		impair_format(&c.dir[d], out, IMPAIR_SPEC_MAX);
		FUZZ_CHECK(strlen(out) < IMPAIR_SPEC_MAX - 16);
		strcat(out, ",direction=");
		strcat(out, dirname[d]);
		memset(&again, 0, sizeof(again));
		FUZZ_CHECK(!impair_parse(out, &again, why, sizeof(why)));
		FUZZ_CHECK(same(&again.dir[d], &c.dir[d]));
	}
	if (impair_active(&c.dir[IMPAIR_OUT]) && nl)
		run_queue(c.dir[IMPAIR_OUT], nl + 1, size - len - 1);
	return 0;
}
