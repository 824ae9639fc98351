/* test_impair.c - unit tests for link impairment (switch/impair.c): the spec parser, the token
 * bucket, the loss models and the delay queue */

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "unit.h"

#include "impair.h"

static struct impair_conf conf_of(const char *spec)
{
	struct impair_conf c;
	char why[256];

	memset(&c, 0, sizeof(c));
	assert_int_equal(impair_parse(spec, &c, why, sizeof(why)), 0);
	return c;
}

static void parse_fails(const char *spec, const char *reason)
{
	struct impair_conf c, before;
	char why[256] = "";

	memset(&c, 0, sizeof(c));
	c.dir[IMPAIR_IN].set = 1;
	c.dir[IMPAIR_IN].delay_us = 7;
	before = c;
	assert_int_equal(impair_parse(spec, &c, why, sizeof(why)), -EINVAL);
	if (!strstr(why, reason))
		fail_msg("'%s': reason '%s' does not say '%s'", spec, why, reason);
	assert_memory_equal(&c, &before, sizeof(c));	/* untouched */
}

static void test_parse_fields(void **state)
{
	struct impair_conf c = conf_of("delay=50ms,jitter=5ms,loss=1%,rate=10mbit");
	const struct impair_params *o = &c.dir[IMPAIR_OUT];

	(void)state;
	assert_false(c.dir[IMPAIR_IN].set);	/* default direction: out */
	assert_true(o->set);
	assert_true(impair_active(o));
	assert_int_equal(o->delay_us, 50000);
	assert_int_equal(o->jitter_us, 5000);
	assert_int_equal(o->loss, IMPAIR_ONE / 100);
	assert_int_equal(o->rate_bps, 10000000);
	assert_int_equal(o->queue, IMPAIR_QUEUE_DEF);
	assert_int_equal(o->queue_bytes, IMPAIR_QBYTES_DEF);

	c = conf_of("delay=1.5s,jitter=250us,dup=0.25%,reorder=10%,rate=1.5gbit,rate-burst=64k,"
		    "queue=10,queue-bytes=1m,seed=42,direction=both");
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		o = &c.dir[d];
		assert_int_equal(o->delay_us, 1500000);
		assert_int_equal(o->jitter_us, 250);
		assert_int_equal(o->dup, 2500000);
		assert_int_equal(o->reorder, IMPAIR_ONE / 10);
		assert_int_equal(o->rate_bps, 1500000000ULL);
		assert_int_equal(o->rate_burst, 65536);
		assert_int_equal(o->queue, 10);
		assert_int_equal(o->queue_bytes, 1 << 20);
		assert_int_equal(o->seed, 42);
	}
	c = conf_of("ge=1%/30%,direction=in");
	o = &c.dir[IMPAIR_IN];
	assert_true(o->ge);
	assert_int_equal(o->ge_p, IMPAIR_ONE / 100);
	assert_int_equal(o->ge_r, 300000000);
	assert_int_equal(o->ge_bad, IMPAIR_ONE);	/* netem's defaults: 1-h 100%, 1-k 0% */
	assert_int_equal(o->ge_good, 0);
	c = conf_of("ge=1%/30%/50%/0.1%,direction=in");
	assert_int_equal(c.dir[IMPAIR_IN].ge_bad, IMPAIR_ONE / 2);
	assert_int_equal(c.dir[IMPAIR_IN].ge_good, 1000000);
	assert_int_equal(conf_of("rate=64000bit").dir[IMPAIR_OUT].rate_bps, 64000);
	assert_int_equal(conf_of("rate=500KBIT").dir[IMPAIR_OUT].rate_bps, 500000);
}

/* loss=X%,loss-burst=N is a Gilbert model whose bad state has mean length N and share X */
static void test_parse_loss_burst(void **state)
{
	struct impair_conf c = conf_of("loss=10%,loss-burst=4");
	const struct impair_params *o = &c.dir[IMPAIR_OUT];
	double p, r;

	(void)state;
	assert_true(o->ge);
	p = (double)o->ge_p / IMPAIR_ONE;
	r = (double)o->ge_r / IMPAIR_ONE;
	assert_true(fabs(r - 0.25) < 1e-6);
	assert_true(fabs(p / (p + r) - 0.10) < 1e-6);
	assert_int_equal(o->ge_bad, IMPAIR_ONE);
	assert_int_equal(o->ge_good, 0);
}

static void test_parse_directions(void **state)
{
	struct impair_conf c;
	char why[256];

	(void)state;
	c = conf_of("delay=10ms,direction=in");
	/* a later setting of the other direction leaves this one */
	assert_int_equal(impair_parse("loss=5%", &c, why, sizeof(why)), 0);
	assert_int_equal(c.dir[IMPAIR_IN].delay_us, 10000);
	assert_int_equal(c.dir[IMPAIR_OUT].loss, IMPAIR_ONE / 20);
	/* the same direction is replaced as a whole */
	assert_int_equal(impair_parse("rate=1mbit", &c, why, sizeof(why)), 0);
	assert_int_equal(c.dir[IMPAIR_OUT].loss, 0);
	assert_int_equal(c.dir[IMPAIR_OUT].rate_bps, 1000000);
	/* clear: set, but nothing active (it overrides weaker sources) */
	assert_int_equal(impair_parse("clear,direction=in", &c, why, sizeof(why)), 0);
	assert_true(c.dir[IMPAIR_IN].set);
	assert_false(impair_active(&c.dir[IMPAIR_IN]));
	assert_true(impair_active(&c.dir[IMPAIR_OUT]));
	/* zero values are a setting that does nothing */
	c = conf_of("delay=0ms");
	assert_false(impair_active(&c.dir[IMPAIR_OUT]));
}

static void test_parse_errors(void **state)
{
	char longspec[IMPAIR_SPEC_MAX + 10];

	(void)state;
	parse_fails("", "empty");
	parse_fails("delay", "KEY=VALUE");
	parse_fails("delay=50", "a time");
	parse_fails("delay=50sec", "a time");
	parse_fails("delay=61s", "at most 60s");
	parse_fails("delay=-5ms", "a time");
	parse_fails("delay=.5ms", "a time");
	parse_fails("delay=1.ms", "a time");
	parse_fails("jitter=99999999999999999999ms", "a time");
	parse_fails("delay=18446744073709552ms", "a time");	/* wraps 64 bits times 10^6 */
	parse_fails("rate=9999999999999bit", "gbit");
	parse_fails("loss=1", "a percentage");
	parse_fails("loss=101%", "a percentage");
	parse_fails("loss=1%%", "a percentage");
	parse_fails("rate=10", "gbit");
	parse_fails("rate=10mbps", "gbit");
	parse_fails("rate=101gbit", "100gbit");
	parse_fails("rate=999bit", "1kbit");
	parse_fails("queue=0", "frames");
	parse_fails("queue=100001", "frames");
	parse_fails("queue-bytes=64k", "at least");
	parse_fails("queue-bytes=1g", "bytes");
	parse_fails("rate-burst=65m", "64m");
	parse_fails("seed=0", "from 1");
	parse_fails("direction=up", "in, out or both");
	parse_fails("ge=1%", "gemodel");
	parse_fails("ge=1%/2%/3%/4%/5%", "gemodel");
	parse_fails("bandwidth=1mbit", "unknown impairment");
	parse_fails("loss=1%,ge=1%/10%", "two loss models");
	parse_fails("loss-burst=3", "needs a loss");
	parse_fails("loss=100%,loss-burst=3", "needs a loss");
	parse_fails("loss=60%,loss-burst=1", "too short");
	parse_fails("reorder=5%", "needs a delay");
	parse_fails("clear,delay=5ms", "clear takes only");
	parse_fails("direction=in", "nothing to set");
	memset(longspec, 'x', sizeof(longspec) - 1);
	longspec[sizeof(longspec) - 1] = '\0';
	parse_fails(longspec, "too long");
}

/* What impair_format() writes, impair_parse() reads back to the same setting. */
static void test_format_roundtrip(void **state)
{
	static const char *const specs[] = {
		"delay=50ms,jitter=5ms,loss=1%,rate=10mbit",
		"delay=1500us,loss=0.000001%",
		"delay=2s,reorder=33.333333%,dup=100%",
		"loss=12.5%,loss-burst=7",
		"ge=0.5%/20%/90%/0.01%,rate=64001bit,rate-burst=1500,queue=7,queue-bytes=300k,seed=9",
		"jitter=1us",
	};
	(void)state;
	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		struct impair_conf a = conf_of(specs[i]), b;
		char out[IMPAIR_SPEC_MAX];

		impair_format(&a.dir[IMPAIR_OUT], out, sizeof(out));
		b = conf_of(out);
		if (memcmp(&a.dir[IMPAIR_OUT], &b.dir[IMPAIR_OUT], sizeof(a.dir[0])))
			fail_msg("'%s' formatted as '%s' reads back differently", specs[i], out);
	}
	{
		struct impair_conf a = conf_of("delay=50ms,jitter=5ms,loss=1%,rate=10mbit");
		char out[IMPAIR_SPEC_MAX];

		impair_format(&a.dir[IMPAIR_OUT], out, sizeof(out));
		assert_string_equal(out, "delay=50ms,jitter=5ms,loss=1%,rate=10mbit");
	}
}

static struct impair_q *q_of(const char *spec)
{
	struct impair_conf c = conf_of(spec);
	struct impair_q *q = impair_q_new(&c.dir[IMPAIR_OUT]);

	assert_non_null(q);
	return q;
}

/* 8 mbit/s is one byte per microsecond: easy times */
static void test_token_bucket(void **state)
{
	struct impair_q *q = q_of("rate=8mbit");
	uint64_t t;

	(void)state;
	/* depth 0: a wire, each frame takes its serialization time, back to back */
	assert_int_equal(impair_q_depart(q, 1000, 0), 1000);
	assert_int_equal(impair_q_depart(q, 1000, 0), 2000);
	assert_int_equal(impair_q_depart(q, 500, 100), 2500);
	/* after the line was idle, a frame starts when it arrives */
	assert_int_equal(impair_q_depart(q, 1000, 10000), 11000);
	impair_q_free(q);

	/* depth 3000 bytes: a burst of 3 frames leaves at once, then the rate */
	q = q_of("rate=8mbit,rate-burst=3000");
	for (int i = 0; i < 3; i++)
		assert_int_equal(impair_q_depart(q, 1000, 5000000), 5000000);
	assert_int_equal(impair_q_depart(q, 1000, 5000000), 5001000);
	assert_int_equal(impair_q_depart(q, 1000, 5000000), 5002000);
	/* idle for long: the bucket is full again, not fuller */
	for (int i = 0; i < 3; i++)
		assert_int_equal(impair_q_depart(q, 1000, 60000000), 60000000);
	assert_int_equal(impair_q_depart(q, 1000, 60000000), 60001000);
	impair_q_free(q);

	/* a long run at an odd rate keeps the rate: 1 s worth of 1514-byte frames */
	q = q_of("rate=12345kbit");
	t = 0;
	for (int i = 0; i < 10000; i++)
		t = impair_q_depart(q, 1514, 0);
	/* 10000 * 1514 * 8 bits at 12.345 Mbit/s, each frame rounded up by < 1 us */
	assert_true(t >= 9811259 && t <= 9811259 + 10000);
	impair_q_free(q);
	/* the largest frame at the lowest rate, no overflow */
	q = q_of("rate=1kbit,rate-burst=64m");
	assert_int_equal(impair_q_depart(q, VMF_MAX_FRAME, 1), 1);
	impair_q_free(q);
}

/* Loss over @n frames: count, and mean length of loss bursts. */
static void loss_run(struct impair_q *q, long n, long *lost, double *mean_burst)
{
	long bursts = 0, run = 0;

	*lost = 0;
	for (long i = 0; i < n; i++) {
		if (impair_q_lost(q)) {
			(*lost)++;
			run++;
		} else if (run) {
			bursts++;
			run = 0;
		}
	}
	*mean_burst = bursts ? (double)(*lost - run) / (double)bursts : 0;
}

static void test_loss_models(void **state)
{
	struct impair_q *q;
	double burst, sd;
	long lost, n = 1000000;

	(void)state;
	/* Bernoulli 1%: within 5 sigma of n p */
	q = q_of("loss=1%,seed=1");
	loss_run(q, n, &lost, &burst);
	sd = sqrt(n * 0.01 * 0.99);
	assert_true(fabs((double)lost - n * 0.01) < 5 * sd);
	assert_int_equal(q->ctr.lost, lost);
	impair_q_free(q);

	/* Gilbert: 10% in bursts of mean 4 (bursts are geometric: the mean is close) */
	q = q_of("loss=10%,loss-burst=4,seed=2");
	loss_run(q, n, &lost, &burst);
	assert_true(fabs((double)lost / n - 0.10) < 0.01);
	assert_true(fabs(burst - 4.0) < 0.2);
	impair_q_free(q);

	/* Gilbert-Elliott with lossy states: loss = pi_B h' + pi_G k' */
	q = q_of("ge=2%/18%/50%/1%,seed=3");
	loss_run(q, n, &lost, &burst);
	assert_true(fabs((double)lost / n - (0.1 * 0.5 + 0.9 * 0.01)) < 0.005);
	impair_q_free(q);

	/* 0% and 100% */
	q = q_of("loss=100%");
	loss_run(q, 1000, &lost, &burst);
	assert_int_equal(lost, 1000);
	impair_q_free(q);
	q = q_of("delay=1ms");
	loss_run(q, 1000, &lost, &burst);
	assert_int_equal(lost, 0);
	impair_q_free(q);

	/* a seed repeats its losses; another seed does not */
	{
		struct impair_q *a = q_of("loss=30%,seed=77"), *b = q_of("loss=30%,seed=77");
		struct impair_q *c = q_of("loss=30%,seed=78");
		int same = 1, other = 1;

		for (int i = 0; i < 1000; i++) {
			int la = impair_q_lost(a);

			same &= la == impair_q_lost(b);
			other &= la == impair_q_lost(c);
		}
		assert_true(same);
		assert_false(other);
		impair_q_free(a);
		impair_q_free(b);
		impair_q_free(c);
	}
}

static void fill(uint8_t *d, size_t len, uint32_t tag)
{
	for (size_t i = 0; i < len; i++)
		d[i] = (uint8_t)(tag * 31 + i);
}

static void test_delay_queue(void **state)
{
	struct impair_q *q = q_of("delay=10ms,queue=3");
	uint8_t frame[1500];
	uint64_t due;
	const struct impair_frame *fr;

	(void)state;
	for (uint32_t i = 0; i < 3; i++) {
		fill(frame, 100 + i, i);
		assert_int_equal(impair_q_hold(q, frame, 100 + i, 0, 0, 0, 1000 + i, &due),
				 IMPAIR_HELD);
		assert_int_equal(due, 11000 + i);
	}
	/* the frame bound */
	assert_int_equal(impair_q_hold(q, frame, 60, 0, 0, 0, 1003, &due), IMPAIR_FULL);
	assert_int_equal(q->ctr.queue_full, 1);
	/* nothing is due before its time; then in order, bytes intact */
	assert_null(impair_q_head(q, 10999));
	for (uint32_t i = 0; i < 3; i++) {
		fr = impair_q_head(q, 11000 + i);
		assert_non_null(fr);
		assert_int_equal(fr->len, 100 + i);
		fill(frame, 100 + i, i);
		assert_memory_equal(q->buf + fr->off, frame, fr->len);
		impair_q_pop(q);
	}
	assert_null(impair_q_head(q, UINT64_MAX));
	assert_int_equal(q->n, 0);
	assert_int_equal(q->bytes, 0);
	impair_q_free(q);

	/* a frame due now with nothing held passes without a copy */
	q = q_of("rate=8mbit,rate-burst=1500");
	assert_int_equal(impair_q_hold(q, frame, 1000, 0, 0, 0, 500, &due), IMPAIR_PASS);
	assert_int_equal(impair_q_hold(q, frame, 1000, 0, 0, 0, 500, &due), IMPAIR_HELD);
	assert_int_equal(due, 500 + 500);	/* the 500 bytes it lacked */
	assert_int_equal(q->n, 1);
	impair_q_free(q);

	/* jitter never reorders: due times only grow, also for frames closer than the jitter */
	q = q_of("delay=5ms,jitter=5ms,queue=100000,seed=5");
	{
		uint64_t last = 0;

		for (uint64_t t = 0; t < 100000; t += 10) {
			int r = impair_q_hold(q, frame, 60, 0, 0, 0, t, &due);

			assert_true(r == IMPAIR_HELD || r == IMPAIR_PASS);
			assert_true(due >= last && due <= t + 10000);
			last = due;
		}
	}
	impair_q_free(q);
	/* frames further apart than the jitter get delay +- jitter, uniform: mean near delay */
	q = q_of("delay=5ms,jitter=5ms,seed=6");
	{
		int below = 0, above = 0;
		double sum = 0;

		for (uint64_t t = 0; t < 1000 * 20000ULL; t += 20000) {
			assert_int_equal(impair_q_hold(q, frame, 60, 0, 0, 0, t, &due), IMPAIR_HELD);
			assert_true(due <= t + 10000);
			below += due < t + 5000;
			above += due > t + 5000;
			sum += (double)(due - t);
			impair_q_pop(q);
		}
		assert_true(below > 400 && above > 400);
		assert_true(fabs(sum / 1000 - 5000) < 300);	/* sd of the mean: 2887/sqrt(1000) = 91 */
	}
	impair_q_free(q);
}

/* The byte bound and its ring, against a model: random sizes, random pops, bytes checked. */
static void test_queue_ring(void **state)
{
	struct impair_q *q = q_of("delay=1ms,queue=64,queue-bytes=200k,seed=11");
	static uint8_t frame[VMF_MAX_FRAME];
	uint32_t tags[64], head = 0, n = 0, tag = 0;
	size_t lens[64], bytes = 0;
	unsigned int seed = 12345;
	uint64_t due;

	(void)state;
	for (int step = 0; step < 200000; step++) {
		if (rand_r(&seed) % 3) {
			size_t len = 1 + (size_t)rand_r(&seed) % (rand_r(&seed) % 8 ? 1600 : VMF_MAX_FRAME);
			int r;

			fill(frame, len, tag);
			r = impair_q_hold(q, frame, len, 0, 0, 0, 0, &due);
			if (r == IMPAIR_FULL) {
				/*
				 * Full only when it has to be: the frame bound, or no
				 * room. Free bytes are in at most two pieces (one of
				 * them at least half), or in one less a tail shorter
				 * than a frame: a frame within both bounds fits.
				 */
				size_t freeb = 200 * 1024 - bytes;

				assert_true(n == 64 || (n > 0 && (len > freeb / 2 ||
								  len + VMF_MAX_FRAME > freeb)));
				continue;
			}
			assert_int_equal(r, IMPAIR_HELD);
			tags[(head + n) % 64] = tag++;
			lens[(head + n) % 64] = len;
			n++;
			bytes += len;
		} else if (n) {
			const struct impair_frame *fr = impair_q_head(q, UINT64_MAX);

			assert_non_null(fr);
			assert_int_equal(fr->len, lens[head]);
			fill(frame, fr->len, tags[head]);
			assert_memory_equal(q->buf + fr->off, frame, fr->len);
			assert_true(fr->off + fr->len <= q->buf_cap);
			impair_q_pop(q);
			bytes -= lens[head];
			head = (head + 1) % 64;
			n--;
		}
		assert_int_equal(q->n, n);
		assert_int_equal(q->bytes, bytes);
		assert_true(bytes <= 200 * 1024);
	}
	/* an empty queue takes the largest frame */
	while (q->n)
		impair_q_pop(q);
	assert_int_equal(impair_q_hold(q, frame, VMF_MAX_FRAME, 0, 0, 0, 0, &due), IMPAIR_HELD);
	impair_q_free(q);
	impair_q_free(NULL);
}

UNIT_MAIN("impair", NULL, NULL,
	    U(test_parse_fields), U(test_parse_loss_burst), U(test_parse_directions),
	    U(test_parse_errors), U(test_format_roundtrip), U(test_token_bucket),
	    U(test_loss_models), U(test_delay_queue), U(test_queue_ring))
