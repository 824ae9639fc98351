/* impair.c - link impairment per port and direction: delay, jitter, loss, duplication, reordering, rate */

/*
 * DOC: Theory of operation
 *
 * A lab link is set by port name (portconf.h): "--impair NAME=SPEC" at
 * start, "vmfabric-ctl impair NAME ..." live, or for every port of a key
 * by its certificate's policy (impair = "SPEC", tls/policy.c; checked by
 * impair_check() when the certificate is read, applied at Hello and at
 * reload). Per direction the strongest source that says something wins:
 * vmfabric-ctl, the option, the key's policy, then nothing (a cleared
 * direction counts as said). Directions are the port's:
 * "in" is what the port sends into the switch, "out" what the switch sends
 * to the port (netem on the guest's TAP would be "out"). Default: out.
 *
 * Each impaired direction of a live port has a queue (struct impair_q,
 * allocated when the setting is applied: at Hello or when it changes; the
 * port holds it in p->imp, sw->impairs lists those ports). A port without
 * impairment costs one branch (p->imp) in forward() and enqueue(). A frame
 * reaching an impaired direction goes through, in this order:
 *   loss:      random (loss=), or Gilbert-Elliott: a good and a bad state
 *              with transitions p (good->bad) and r (bad->good) drawn per
 *              frame, then the loss chance of the state it is in (ge=
 *              P/R/1-H/1-K as netem's gemodel; loss=X%,loss-burst=N is the
 *              simple Gilbert model of wirefilter -L: lossless good state,
 *              lossy bad state, mean burst N, average loss X);
 *              dropped: impair_loss
 *   duplicate: dup= of the survivors go twice (both copies go on)
 *   reorder:   reorder= of them skip the rate and the delay and go now,
 *              overtaking what is held (netem's semantics: needs a delay)
 *   rate:      a token bucket (rate=, depth rate-burst=, default 0: each
 *              frame takes its serialization time, as on a wire) gives the
 *              time it leaves; the queue before it is bounded
 *   delay:     delay= plus uniform jitter in [-jitter, +jitter] (never
 *              below zero); the queue is a FIFO, so jitter never reorders
 *              (as a wire, and wirefilter without -N): frames closer
 *              together than the jitter leave nearer delay + jitter
 * A frame due now with nothing held before it is sent at once, zero-copy.
 * Else it is copied into the queue's storage (queue= frames, queue-bytes=
 * bytes, both bounded, allocated up front: never a malloc per frame); over
 * a bound it is dropped (impair_queue).
 *
 * Held frames leave in impair_run(), which the main loop calls each turn;
 * it never sleeps: the loop's poll timeout is cut to the next due frame
 * (impair_timeout(), millisecond resolution, so a frame may leave up to
 * 1 ms late; rates stay exact because the bucket keeps virtual time).
 * impair_run() is a pass of its own: first the "in" queues (their frames
 * are forwarded as if they arrived now; what they reach may be held again
 * by an "out" queue, as a copy), then the "out" queues (into the port's
 * batch), then switch_pass_end() sends the batches. No queue is written
 * after it was read in the same run, so the batches may point into the
 * queues' storage until that flush.
 *
 * What is dropped besides: a frame whose trunk network went away while it
 * was held, everything a port still holds when it ends (at the reap, when
 * nothing points into the storage any more) and what a changed setting
 * with other bounds no longer has room for: counted in the switch's
 * impair_flushed and the queue's "flushed". A setting change with the same
 * bounds keeps the held frames. Live capture sees frames after the
 * impairment, as the switch forwards them.
 *
 * Randomness: xoshiro256** per direction, seeded from getrandom(), or from
 * seed= (tests: the same seed gives the same losses).
 */

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#include "impair.h"
#include "log.h"
#include "portconf.h"
#include "stats.h"
#include "util.h"

static const char *const dir_name[IMPAIR_DIRS] = { "in", "out" };

/* --- parsing --------------------------------------------------------------- */

#define MICRO	1000000ULL

/* A decimal number with up to 6 fraction digits, times 10^6; *@end after it. */
static int num_micro(const char *s, const char **end, uint64_t *v)
{
	uint64_t i = 0, f = 0, scale = MICRO;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (i >= 1000000000000ULL)	/* 10^13 * 10^6 still fits in 64 bits */
			return -EINVAL;
		i = i * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				f += (uint64_t)(*p - '0') * scale;
			}
		}
	}
	*v = i * MICRO + f;
	*end = p;
	return 0;
}

/* "50ms", "1.5s", "200us" into microseconds (at most IMPAIR_DELAY_MAX). */
static int parse_time(const char *s, uint64_t *us)
{
	const char *u;
	uint64_t v, mult;

	if (num_micro(s, &u, &v))
		return -EINVAL;
	if (!strcmp(u, "us"))
		mult = 1;
	else if (!strcmp(u, "ms"))
		mult = 1000;
	else if (!strcmp(u, "s"))
		mult = MICRO;
	else
		return -EINVAL;
	if (v / MICRO > IMPAIR_DELAY_MAX / mult)
		return -ERANGE;
	*us = v / MICRO * mult + v % MICRO * mult / MICRO;
	return *us <= IMPAIR_DELAY_MAX ? 0 : -ERANGE;
}

/* "1%", "0.25%" into parts per billion. */
static int parse_pct(const char *s, uint32_t *ppb)
{
	const char *u;
	uint64_t v;

	if (num_micro(s, &u, &v) || strcmp(u, "%"))
		return -EINVAL;
	if (v > 100 * MICRO)
		return -ERANGE;
	*ppb = (uint32_t)(v * 10);
	return 0;
}

/* "10mbit", "1.5gbit", "64000bit" into bit/s. */
static int parse_rate(const char *s, uint64_t *bps)
{
	static const struct { const char *u; uint64_t m; } units[] = {
		{ "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
	};
	const char *u;
	uint64_t v;

	if (num_micro(s, &u, &v))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(u, units[i].u))
			continue;
		if (v / MICRO > IMPAIR_RATE_MAX / units[i].m)
			return -ERANGE;
		*bps = v / MICRO * units[i].m + v % MICRO * units[i].m / MICRO;
		return *bps >= IMPAIR_RATE_MIN && *bps <= IMPAIR_RATE_MAX ? 0 : -ERANGE;
	}
	return -EINVAL;
}

/* "1500", "64k", "4m" (k and m: 1024 and 1048576) into bytes, at most @max. */
static int parse_size(const char *s, uint64_t max, uint32_t *bytes)
{
	char *u;
	unsigned long long v;
	uint64_t mult = 1;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &u, 10);
	if (errno)
		return -ERANGE;
	if (!strcasecmp(u, "k") || !strcasecmp(u, "kb"))
		mult = 1024;
	else if (!strcasecmp(u, "m") || !strcasecmp(u, "mb"))
		mult = 1024 * 1024;
	else if (*u)
		return -EINVAL;
	if (v > max / mult)
		return -ERANGE;
	*bytes = (uint32_t)(v * mult);
	return 0;
}

/* A plain decimal count in [@min, @max]. */
static int parse_count(const char *s, uint64_t min, uint64_t max, uint64_t *n)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*n = v;
	return 0;
}

/* "P/R[/1-H[/1-K]]", each a percentage. */
static int parse_ge(const char *s, struct impair_params *p)
{
	uint32_t *f[4] = { &p->ge_p, &p->ge_r, &p->ge_bad, &p->ge_good };
	char buf[128], *save = NULL, *t;
	int n = 0;

	if (str_copy(buf, s, sizeof(buf)))
		return -EINVAL;
	p->ge_bad = IMPAIR_ONE;
	p->ge_good = 0;
	for (t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 4 || parse_pct(t, f[n++]))
			return -EINVAL;
	}
	return n >= 2 ? 0 : -EINVAL;
}

static void params_default(struct impair_params *p)
{
	memset(p, 0, sizeof(*p));
	p->set = 1;
	p->queue = IMPAIR_QUEUE_DEF;
	p->queue_bytes = IMPAIR_QBYTES_DEF;
}

/* The whole setting is consistent. Return: NULL or the reason */
static const char *params_check(struct impair_params *p)
{
	if (p->ge && p->loss)
		return "ge= and loss= are two loss models: give one";
	if (p->loss_burst) {
		uint64_t r = IMPAIR_ONE / p->loss_burst, pg;

		if (!p->loss || p->loss >= IMPAIR_ONE)
			return "loss-burst= needs a loss= between 0% and 100%";
		/* stationary share of the bad state p / (p + r) is the loss */
		pg = (uint64_t)p->loss * r / (IMPAIR_ONE - p->loss);
		if (pg > IMPAIR_ONE)
			return "loss-burst= too short for this loss (the bursts cannot be that far apart)";
		p->ge = 1;
		p->ge_p = (uint32_t)pg;
		p->ge_r = (uint32_t)r;
		p->ge_bad = IMPAIR_ONE;
		p->ge_good = 0;
	}
	if (p->reorder && !p->delay_us)
		return "reorder= needs a delay= (reordered frames skip it and overtake the others)";
	return NULL;
}

int impair_parse(const char *spec, struct impair_conf *c, char *why, size_t whylen)
{
	struct impair_params p;
	char buf[IMPAIR_SPEC_MAX], *save = NULL, *t;
	int dirs = 1 << IMPAIR_OUT, clear = 0, other = 0;
	const char *bad;

	params_default(&p);
	if (str_copy(buf, spec, sizeof(buf))) {
		snprintf(why, whylen, "impairment too long (at most %d characters)", IMPAIR_SPEC_MAX - 1);
		return -EINVAL;
	}
	if (!*buf) {
		snprintf(why, whylen, "empty impairment (give e.g. delay=50ms, or clear)");
		return -EINVAL;
	}
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *v = strchr(t, '=');
		uint64_t n;
		int rc = -EINVAL;

		if (!strcmp(t, "clear")) {
			clear = 1;
			continue;
		}
		if (!v) {
			snprintf(why, whylen, "'%s': KEY=VALUE expected", t);
			return -EINVAL;
		}
		*v++ = '\0';
		other += strcmp(t, "direction") != 0;
		if (!strcmp(t, "delay")) {
			rc = parse_time(v, &p.delay_us);
		} else if (!strcmp(t, "jitter")) {
			rc = parse_time(v, &p.jitter_us);
		} else if (!strcmp(t, "loss")) {
			rc = parse_pct(v, &p.loss);
		} else if (!strcmp(t, "loss-burst")) {
			rc = parse_count(v, 1, 1000000, &n);
			p.loss_burst = (uint32_t)n;
		} else if (!strcmp(t, "ge")) {
			p.ge = 1;
			rc = parse_ge(v, &p);
		} else if (!strcmp(t, "dup")) {
			rc = parse_pct(v, &p.dup);
		} else if (!strcmp(t, "reorder")) {
			rc = parse_pct(v, &p.reorder);
		} else if (!strcmp(t, "rate")) {
			rc = parse_rate(v, &p.rate_bps);
		} else if (!strcmp(t, "rate-burst")) {
			rc = parse_size(v, IMPAIR_BURST_MAX, &p.rate_burst);
		} else if (!strcmp(t, "queue")) {
			rc = parse_count(v, 1, IMPAIR_QUEUE_MAX, &n);
			p.queue = (uint32_t)n;
		} else if (!strcmp(t, "queue-bytes")) {
			rc = parse_size(v, IMPAIR_QBYTES_MAX, &p.queue_bytes);
			if (!rc && p.queue_bytes < IMPAIR_QBYTES_MIN)
				rc = -ERANGE;
		} else if (!strcmp(t, "seed")) {
			rc = parse_count(v, 1, UINT64_MAX, &p.seed);
		} else if (!strcmp(t, "direction")) {
			rc = 0;
			if (!strcmp(v, "in"))
				dirs = 1 << IMPAIR_IN;
			else if (!strcmp(v, "out"))
				dirs = 1 << IMPAIR_OUT;
			else if (!strcmp(v, "both"))
				dirs = (1 << IMPAIR_IN) | (1 << IMPAIR_OUT);
			else
				rc = -EINVAL;
		} else {
			snprintf(why, whylen, "unknown impairment '%s' (delay, jitter, loss, loss-burst, ge, "
				 "dup, reorder, rate, rate-burst, queue, queue-bytes, seed, direction, clear)", t);
			return -EINVAL;
		}
		if (rc) {
			static const char *const hint[][2] = {
				{ "delay", "a time: 50ms, 1.5s, 200us (at most 60s)" },
				{ "jitter", "a time: 5ms (at most 60s)" },
				{ "loss", "a percentage: 1%, 0.5%" },
				{ "loss-burst", "a mean burst length in frames, 1 to 1000000" },
				{ "ge", "P/R[/1-H[/1-K]], percentages (netem gemodel)" },
				{ "dup", "a percentage" },
				{ "reorder", "a percentage" },
				{ "rate", "bit, kbit, mbit or gbit per second: 10mbit (1kbit to 100gbit)" },
				{ "rate-burst", "bytes: 0, 1500, 64k (at most 64m)" },
				{ "queue", "frames, 1 to 100000" },
				{ "queue-bytes", "bytes: 1m, 4m (at least 129k, at most 256m)" },
				{ "seed", "a number from 1" },
				{ "direction", "in, out or both" },
			};
			const char *h = "";

			for (size_t i = 0; i < sizeof(hint) / sizeof(hint[0]); i++)
				if (!strcmp(hint[i][0], t))
					h = hint[i][1];
			snprintf(why, whylen, "%s=%s: %s", t, v, h);
			return -EINVAL;
		}
	}
	if (clear && other) {
		snprintf(why, whylen, "clear takes only direction=");
		return -EINVAL;
	}
	if (!clear && !other) {
		snprintf(why, whylen, "nothing to set (give e.g. delay=50ms, or clear)");
		return -EINVAL;
	}
	if (clear) {
		params_default(&p);
	} else if ((bad = params_check(&p))) {
		snprintf(why, whylen, "%s", bad);
		return -EINVAL;
	}
	for (int d = 0; d < IMPAIR_DIRS; d++)
		if (dirs & (1 << d))
			c->dir[d] = p;
	return 0;
}

int impair_active(const struct impair_params *p)
{
	return p->set && (p->delay_us || p->jitter_us || p->loss || p->ge || p->dup || p->reorder ||
			  p->rate_bps);
}

/* Append to @buf (of @len) without overflowing it. */
static void cat(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

static void fmt_time(char *buf, size_t len, const char *key, uint64_t us)
{
	if (us % MICRO == 0)
		cat(buf, len, ",%s=%llus", key, (unsigned long long)(us / MICRO));
	else if (us % 1000 == 0)
		cat(buf, len, ",%s=%llums", key, (unsigned long long)(us / 1000));
	else
		cat(buf, len, ",%s=%lluus", key, (unsigned long long)us);
}

/* ppb as a percentage, exactly (trailing zeros trimmed) */
static void fmt_pct(char *buf, size_t len, const char *sep, uint32_t ppb)
{
	char frac[8];
	int n;

	n = snprintf(frac, sizeof(frac), "%07u", ppb % 10000000);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	cat(buf, len, "%s%u%s%s%%", sep, ppb / 10000000, n ? "." : "", frac);
}

static void fmt_size(char *buf, size_t len, const char *key, uint32_t b)
{
	if (b && b % (1024 * 1024) == 0)
		cat(buf, len, ",%s=%um", key, b / (1024 * 1024));
	else if (b && b % 1024 == 0)
		cat(buf, len, ",%s=%uk", key, b / 1024);
	else
		cat(buf, len, ",%s=%u", key, b);
}

void impair_format(const struct impair_params *p, char *buf, size_t len)
{
	if (!len)
		return;
	*buf = '\0';
	if (!impair_active(p))
		return;
	if (p->delay_us)
		fmt_time(buf, len, "delay", p->delay_us);
	if (p->jitter_us)
		fmt_time(buf, len, "jitter", p->jitter_us);
	if (p->loss)
		fmt_pct(buf, len, ",loss=", p->loss);
	if (p->loss_burst) {
		cat(buf, len, ",loss-burst=%u", p->loss_burst);
	} else if (p->ge) {
		fmt_pct(buf, len, ",ge=", p->ge_p);
		fmt_pct(buf, len, "/", p->ge_r);
		fmt_pct(buf, len, "/", p->ge_bad);
		fmt_pct(buf, len, "/", p->ge_good);
	}
	if (p->dup)
		fmt_pct(buf, len, ",dup=", p->dup);
	if (p->reorder)
		fmt_pct(buf, len, ",reorder=", p->reorder);
	if (p->rate_bps) {
		static const struct { const char *u; uint64_t m; } u[] = {
			{ "gbit", 1000000000 }, { "mbit", 1000000 }, { "kbit", 1000 }, { "bit", 1 },
		};

		for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
			if (p->rate_bps % u[i].m == 0) {
				cat(buf, len, ",rate=%llu%s", (unsigned long long)(p->rate_bps / u[i].m), u[i].u);
				break;
			}
		}
	}
	if (p->rate_burst)
		fmt_size(buf, len, "rate-burst", p->rate_burst);
	if (p->queue != IMPAIR_QUEUE_DEF)
		cat(buf, len, ",queue=%u", p->queue);
	if (p->queue_bytes != IMPAIR_QBYTES_DEF)
		fmt_size(buf, len, "queue-bytes", p->queue_bytes);
	if (p->seed)
		cat(buf, len, ",seed=%llu", (unsigned long long)p->seed);
	memmove(buf, buf + 1, strlen(buf));	/* the leading comma */
}

/* --- one direction's queue --------------------------------------------------- */

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman, Vigna) */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* splitmix64 spreads one seed over the state (never all zero) */
static void rng_seed(uint64_t *s, uint64_t seed)
{
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += 0x9e3779b97f4a7c15ULL);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		s[i] = z ^ (z >> 31);
	}
}

int impair_q_chance(struct impair_q *q, uint32_t ppb)
{
	uint64_t u = rng_next(q->rng) >> 32;

	return ((u * IMPAIR_ONE) >> 32) < ppb;
}

struct impair_q *impair_q_new(const struct impair_params *p)
{
	struct impair_q *q = calloc(1, sizeof(*q));
	uint64_t seed = p->seed;

	if (!q)
		return NULL;
	q->p = *p;
	q->cap = p->queue;
	q->buf_cap = p->queue_bytes;
	q->fr = calloc(q->cap, sizeof(*q->fr));
	q->buf = malloc(q->buf_cap);	/* its pages arrive when frames do */
	if (!q->fr || !q->buf) {
		impair_q_free(q);
		return NULL;
	}
	q->tb_tokens = (uint64_t)p->rate_burst * 8 * MICRO;
	if (!seed && getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = now_us() ^ (uint64_t)(uintptr_t)q;
	rng_seed(q->rng, seed);
	return q;
}

void impair_q_free(struct impair_q *q)
{
	if (!q)
		return;
	free(q->fr);
	free(q->buf);
	free(q);
}

int impair_q_lost(struct impair_q *q)
{
	int lost;

	if (q->p.ge) {
		if (!q->bad ? impair_q_chance(q, q->p.ge_p) : impair_q_chance(q, q->p.ge_r))
			q->bad = !q->bad;
		lost = impair_q_chance(q, q->bad ? q->p.ge_bad : q->p.ge_good);
	} else {
		lost = q->p.loss && impair_q_chance(q, q->p.loss);
	}
	q->ctr.lost += (uint64_t)lost;
	return lost;
}

uint64_t impair_q_depart(struct impair_q *q, size_t len, uint64_t now)
{
	uint64_t rate = q->p.rate_bps, cap = (uint64_t)q->p.rate_burst * 8 * MICRO;
	uint64_t cost = (uint64_t)len * 8 * MICRO, start = now > q->tb_at ? now : q->tb_at;
	uint64_t dt = start - q->tb_at, wait;

	/* tokens are bit * 10^6: rate (bit/s) * microseconds */
	if (q->tb_tokens < cap) {
		uint64_t need = cap - q->tb_tokens;

		q->tb_tokens = dt > need / rate ? cap : q->tb_tokens + dt * rate;
	}
	if (q->tb_tokens >= cost) {
		q->tb_tokens -= cost;
		q->tb_at = start;
		return start;
	}
	wait = (cost - q->tb_tokens + rate - 1) / rate;
	q->tb_tokens = q->tb_tokens + wait * rate - cost;
	q->tb_at = start + wait;
	return q->tb_at;
}

/*
 * Where @len bytes fit in the storage ring, contiguous; -1: they do not.
 * Held bytes are [rd, wr) when wr > rd, else [rd, end) and [0, wr): wr ==
 * rd with frames held is a full wrapped ring.
 */
static long ring_fit(const struct impair_q *q, size_t len)
{
	if (!q->n)
		return len <= q->buf_cap ? 0 : -1;
	if (q->wr > q->rd) {
		if (q->buf_cap - q->wr >= len)
			return (long)q->wr;
		return len <= q->rd ? 0 : -1;
	}
	return q->wr + len <= q->rd ? (long)q->wr : -1;
}

int impair_q_hold(struct impair_q *q, const uint8_t *data, size_t len, uint32_t flags,
		  uint32_t net, uint32_t net_hash, uint64_t now, uint64_t *due)
{
	struct impair_frame *fr;
	uint64_t t = now;
	long off;

	*due = now;
	if (!len)
		return IMPAIR_PASS;
	off = ring_fit(q, len);
	if (q->n == q->cap || off < 0) {
		q->ctr.queue_full++;
		return IMPAIR_FULL;
	}
	if (q->p.rate_bps)
		t = impair_q_depart(q, len, now);
	t += q->p.delay_us;
	if (q->p.jitter_us) {
		uint64_t j = q->p.jitter_us, r = rng_next(q->rng) % (2 * j + 1);

		t = t + r < j ? 0 : t + r - j;
	}
	if (t < q->last_due)
		t = q->last_due;	/* a FIFO: jitter does not reorder */
	q->last_due = t;
	*due = t;
	if (t <= now && !q->n)
		return IMPAIR_PASS;
	fr = &q->fr[(q->head + q->n) % q->cap];
	fr->due_us = t;
	fr->off = (uint32_t)off;
	fr->len = (uint32_t)len;
	fr->flags = flags;
	fr->net = net;
	fr->net_hash = net_hash;
	memcpy(q->buf + off, data, len);
	q->wr = (size_t)off + len;
	q->bytes += len;
	q->n++;
	q->ctr.delayed++;
	return IMPAIR_HELD;
}

const struct impair_frame *impair_q_head(const struct impair_q *q, uint64_t now)
{
	if (!q->n || q->fr[q->head].due_us > now)
		return NULL;
	return &q->fr[q->head];
}

void impair_q_pop(struct impair_q *q)
{
	if (!q->n)
		return;
	q->bytes -= q->fr[q->head].len;
	q->head = (q->head + 1) % q->cap;
	if (!--q->n)
		q->rd = q->wr = 0;
	else
		q->rd = q->fr[q->head].off;
}

/* --- a switch's ports -------------------------------------------------------- */

static struct ratelimit rl_imp = RATELIMIT_INIT;

/* FNV-1a of a network name: a held trunk frame finds its network again */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/*
 * Direction @d of port name @pc: ctl over the option over @pol (the key's
 * policy, parsed, or NULL); NULL: not impaired.
 */
static const struct impair_params *effective(const struct port_conf *pc,
					     const struct impair_conf *pol, int d)
{
	const struct impair_params *p = NULL;

	if (pc && pc->imp_ctl.dir[d].set)
		p = &pc->imp_ctl.dir[d];
	else if (pc && pc->imp_opt.dir[d].set)
		p = &pc->imp_opt.dir[d];
	else if (pol && pol->dir[d].set)
		p = &pol->dir[d];
	return p && impair_active(p) ? p : NULL;
}

int impair_check(const char *spec, char *why, size_t whylen)
{
	struct impair_conf c;

	memset(&c, 0, sizeof(c));
	return impair_parse(spec, &c, why, whylen);
}

/* Drop what @q holds (counted), free it. */
static void q_drop(struct vswitch *sw, struct impair_q *q)
{
	if (!q)
		return;
	sw->ctr.impair_flushed += q->n;
	impair_q_free(q);
}

static void imp_unlink(struct vswitch *sw, struct impair *imp)
{
	for (struct impair **pp = &sw->impairs; *pp; pp = &(*pp)->next) {
		if (*pp == imp) {
			*pp = imp->next;
			return;
		}
	}
}

void impair_port_end(struct vswitch *sw, struct port *p)
{
	struct impair *imp = p->imp;

	if (!imp)
		return;
	for (int d = 0; d < IMPAIR_DIRS; d++)
		q_drop(sw, imp->q[d]);
	imp_unlink(sw, imp);
	free(imp);
	p->imp = NULL;
}

void impair_port_apply(struct vswitch *sw, struct port *p)
{
	const struct impair_params *eff[IMPAIR_DIRS];
	struct impair *imp = p->imp;
	struct impair_conf pol, *polp = NULL;

	if (p->pol && (p->pol->set & POLICY_IMPAIR)) {
		char why[256];

		/* checked when the certificate was read (policy_impair_check) */
		memset(&pol, 0, sizeof(pol));
		if (!impair_parse(p->pol->impair, &pol, why, sizeof(why)))
			polp = &pol;
	}
	for (int d = 0; d < IMPAIR_DIRS; d++)
		eff[d] = effective(p->pconf, polp, d);
	if (!eff[IMPAIR_IN] && !eff[IMPAIR_OUT]) {
		impair_port_end(sw, p);
		return;
	}
	if (!imp) {
		imp = calloc(1, sizeof(*imp));
		if (!imp)
			goto nomem;
		imp->port = p;
		imp->next = sw->impairs;
		sw->impairs = imp;
		p->imp = imp;
	}
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		struct impair_q *q = imp->q[d], *nq;

		if (!eff[d]) {
			q_drop(sw, q);
			imp->q[d] = NULL;
			continue;
		}
		if (q && q->p.queue == eff[d]->queue && q->p.queue_bytes == eff[d]->queue_bytes) {
			/* same storage: the held frames stay, the new setting applies to new ones */
			if (eff[d]->seed && eff[d]->seed != q->p.seed)
				rng_seed(q->rng, eff[d]->seed);
			if (eff[d]->rate_burst != q->p.rate_burst || !q->p.rate_bps)
				q->tb_tokens = (uint64_t)eff[d]->rate_burst * 8 * MICRO;
			q->p = *eff[d];
			q->bad = q->p.ge ? q->bad : 0;
			continue;
		}
		nq = impair_q_new(eff[d]);
		if (!nq)
			goto nomem;
		q_drop(sw, q);
		imp->q[d] = nq;
	}
	return;
nomem:
	log_rl(&rl_imp, LOG_ERR, "port %s: no memory for its impairment queues: left as it was",
	       p->name);
	if (imp && !imp->q[IMPAIR_IN] && !imp->q[IMPAIR_OUT])
		impair_port_end(sw, p);
}

int impair_take(struct vswitch *sw, struct port *p, int dir, struct network *n,
		const struct frame *f)
{
	struct impair_q *q = p->imp->q[dir];
	uint32_t net = 0, hash = 0;
	int copies = 1, now_n = 0;
	uint64_t now, due;

	/* runts go on to be dropped as such; a port removed in this pass gets nothing */
	if (!q || q->releasing || f->len < VMF_ETH_HLEN || !p->used)
		return 0;
	if (impair_q_lost(q)) {
		p->ctr.drops[DROP_impair_loss]++;
		return 1;
	}
	if (q->p.dup && impair_q_chance(q, q->p.dup)) {
		copies = 2;
		q->ctr.duplicated++;
		p->ctr.impair_dup++;
	}
	if (p->kind != PORT_PLAIN) {
		net = (uint32_t)(n - sw->nets);
		hash = name_hash(n->name);
	}
	now = now_us();
	for (int c = 0; c < copies; c++) {
		if (q->p.reorder && impair_q_chance(q, q->p.reorder)) {
			if (q->n) {
				q->ctr.reordered++;
				p->ctr.impair_reorder++;
			}
			now_n++;
			continue;
		}
		switch (impair_q_hold(q, f->data, f->len, f->flags, net, hash, now, &due)) {
		case IMPAIR_PASS:
			now_n++;
			break;
		case IMPAIR_FULL:
			p->ctr.drops[DROP_impair_queue]++;
			break;
		}
	}
	/* all but one of the copies that go now are sent here, the last by the caller */
	for (; now_n > 1; now_n--) {
		q->releasing = 1;
		switch_impair_deliver(sw, p, n, f, dir);
		q->releasing = 0;
		if (!p->used)
			return 1;
	}
	return !now_n;
}

long impair_timeout(const struct vswitch *sw, long timeout)
{
	uint64_t now;

	if (!sw->impairs)
		return timeout;
	now = now_us();
	for (const struct impair *imp = sw->impairs; imp; imp = imp->next) {
		for (int d = 0; d < IMPAIR_DIRS; d++) {
			const struct impair_q *q = imp->q[d];
			uint64_t due;
			long ms;

			if (!q || !q->n)
				continue;
			due = q->fr[q->head].due_us;
			ms = due <= now ? 0 : (long)((due - now + 999) / 1000);
			if (ms < timeout)
				timeout = ms;
		}
	}
	return timeout;
}

/* The network a held frame belongs to, if it is still there. */
static struct network *frame_net(struct vswitch *sw, const struct port *p,
				 const struct impair_frame *fr)
{
	struct network *n;

	if (p->kind == PORT_PLAIN)
		return p->net;
	if (fr->net >= (uint32_t)sw->conf.max_networks)
		return NULL;
	n = &sw->nets[fr->net];
	return n->used && name_hash(n->name) == fr->net_hash ? n : NULL;
}

void impair_run(struct vswitch *sw)
{
	uint64_t now;
	int sent = 0;

	if (!sw->impairs)
		return;
	now = now_us();
	/* "in" first: what they forward may be held by an "out" queue, never read yet in this run */
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		for (struct impair *imp = sw->impairs; imp; imp = imp->next) {
			struct impair_q *q = imp->q[d];
			struct port *p = imp->port;
			const struct impair_frame *fr;

			while (q && (fr = impair_q_head(q, now))) {
				struct frame f = { q->buf + fr->off, fr->len, (uint16_t)fr->flags, 0 };
				struct network *n = p->used ? frame_net(sw, p, fr) : NULL;

				if (n && p->pconf && p->pconf->link_down) {
					/* the cable was pulled while it was held: it dies with the link */
					p->ctr.drops[DROP_link_down]++;
				} else if (n) {
					q->releasing = 1;
					switch_impair_deliver(sw, p, n, &f, d);
					q->releasing = 0;
					sent = 1;
				} else {
					q->ctr.flushed++;
					sw->ctr.impair_flushed++;
				}
				impair_q_pop(q);
			}
		}
	}
	if (sent)
		switch_pass_end(sw);
}

/* --- settings ------------------------------------------------------------------ */

int impair_option(struct vswitch *sw, const char *arg, char *why, size_t whylen)
{
	const char *eq = strchr(arg, '=');
	char name[VMF_NAME_MAX];
	struct impair_conf c;
	struct port_conf *pc;
	int err = 0;

	if (!eq || (size_t)(eq - arg) >= sizeof(name)) {
		snprintf(why, whylen, "--impair needs PORT=SPEC (e.g. vm1/eth0=delay=50ms,loss=1%%)");
		return -EINVAL;
	}
	memcpy(name, arg, (size_t)(eq - arg));
	name[eq - arg] = '\0';
	if (!codec_valid_name(name)) {
		snprintf(why, whylen, "--impair: invalid port name '%s'", name);
		return -EINVAL;
	}
	pc = portconf_find(sw, name);
	memset(&c, 0, sizeof(c));
	if (pc)
		c = pc->imp_opt;
	if (impair_parse(eq + 1, &c, why, whylen))
		return -EINVAL;
	pc = portconf_get(sw, name, &err);
	if (!pc) {
		snprintf(why, whylen, "--impair %s: more port names with settings than --max-ports", name);
		return err;
	}
	pc->imp_opt = c;
	for (long i = 0; i < sw->conf.max_ports; i++)
		if (sw->ports[i].used && sw->ports[i].pconf == pc)
			impair_port_apply(sw, &sw->ports[i]);
	return 0;
}

int impair_control(struct vswitch *sw, int argc, char **argv, int json, FILE *out, char *why,
		   size_t whylen)
{
	char spec[IMPAIR_DIRS][IMPAIR_SPEC_MAX];
	struct impair_conf c;
	struct port_conf *pc;
	int err = 0, ports = 0;

	if (argc != 2 || !codec_valid_name(argv[0])) {
		snprintf(why, whylen, "usage: impair PORT SPEC");
		return -EINVAL;
	}
	pc = portconf_find(sw, argv[0]);
	memset(&c, 0, sizeof(c));
	if (pc)
		c = pc->imp_ctl;
	if (impair_parse(argv[1], &c, why, whylen))
		return -EINVAL;
	pc = portconf_get(sw, argv[0], &err);
	if (!pc) {
		snprintf(why, whylen, "%s: more port names with settings than --max-ports", argv[0]);
		return err;
	}
	pc->imp_ctl = c;
	for (long i = 0; i < sw->conf.max_ports; i++) {
		if (sw->ports[i].used && sw->ports[i].pconf == pc) {
			impair_port_apply(sw, &sw->ports[i]);
			ports++;
		}
	}
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		const struct impair_params *e = effective(pc, NULL, d);

		*spec[d] = '\0';
		if (e)
			impair_format(e, spec[d], sizeof(spec[d]));
	}
	info("control: impairment of %s: in %s, out %s (%d connected)", pc->name,
	     *spec[IMPAIR_IN] ? spec[IMPAIR_IN] : "none", *spec[IMPAIR_OUT] ? spec[IMPAIR_OUT] : "none",
	     ports);
	if (json) {
		fprintf(out, "{\"ok\":true,\"port\":");
		json_str(out, pc->name);
		fprintf(out, ",\"in\":");
		json_str(out, spec[IMPAIR_IN]);
		fprintf(out, ",\"out\":");
		json_str(out, spec[IMPAIR_OUT]);
		fprintf(out, ",\"connected\":%d}\n", ports);
	} else {
		fprintf(out, "%s: in %s, out %s (%d connected%s)\n", pc->name,
			*spec[IMPAIR_IN] ? spec[IMPAIR_IN] : "none",
			*spec[IMPAIR_OUT] ? spec[IMPAIR_OUT] : "none", ports,
			ports ? "" : "; applies when it joins");
	}
	return 0;
}

/* --- counters -------------------------------------------------------------------- */

#define U(x) ((unsigned long long)(x))

void impair_json(const struct port *p, FILE *f)
{
	if (!p->imp) {
		fputs("null", f);
		return;
	}
	fputc('{', f);
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		const struct impair_q *q = p->imp->q[d];
		char spec[IMPAIR_SPEC_MAX];

		fprintf(f, "%s\"%s\":", d ? "," : "", dir_name[d]);
		if (!q) {
			fputs("null", f);
			continue;
		}
		impair_format(&q->p, spec, sizeof(spec));
		fprintf(f, "{\"spec\":");
		json_str(f, spec);
		fprintf(f, ",\"held\":%u,\"held_bytes\":%zu,\"delayed\":%llu,\"lost\":%llu,"
			"\"queue_full\":%llu,\"duplicated\":%llu,\"reordered\":%llu,\"flushed\":%llu}",
			q->n, q->bytes, U(q->ctr.delayed), U(q->ctr.lost), U(q->ctr.queue_full),
			U(q->ctr.duplicated), U(q->ctr.reordered), U(q->ctr.flushed));
	}
	fputc('}', f);
}

void impair_text(const struct port *p, FILE *f)
{
	if (!p->imp)
		return;
	for (int d = 0; d < IMPAIR_DIRS; d++) {
		const struct impair_q *q = p->imp->q[d];
		char spec[IMPAIR_SPEC_MAX];

		if (!q)
			continue;
		impair_format(&q->p, spec, sizeof(spec));
		fprintf(f, "    impair %-3s %s\n      held %u (%zu bytes), delayed %llu, lost %llu, "
			"queue full %llu, duplicated %llu, reordered %llu, flushed %llu\n",
			dir_name[d], spec, q->n, q->bytes, U(q->ctr.delayed), U(q->ctr.lost),
			U(q->ctr.queue_full), U(q->ctr.duplicated), U(q->ctr.reordered),
			U(q->ctr.flushed));
	}
}
