/* impair.h - link impairment per port and direction: delay, jitter, loss, duplication, reordering, rate */
#ifndef VMF_IMPAIR_H
#define VMF_IMPAIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "switch.h"

/* Directions, as the port sees them: in = frames from the port, out = frames to it. */
enum impair_dir { IMPAIR_IN, IMPAIR_OUT, IMPAIR_DIRS };

#define IMPAIR_ONE		1000000000u	/* probabilities are in parts per billion */
#define IMPAIR_DELAY_MAX	(60ULL * 1000000)	/* us: delay and jitter bounds */
#define IMPAIR_RATE_MIN		1000ULL		/* bit/s */
#define IMPAIR_RATE_MAX		(100ULL * 1000000000)
#define IMPAIR_QUEUE_DEF	1000		/* frames held per direction (netem's limit) */
#define IMPAIR_QUEUE_MAX	100000
#define IMPAIR_QBYTES_DEF	(4u << 20)	/* bytes held per direction */
#define IMPAIR_QBYTES_MIN	(2u * VMF_MAX_FRAME)	/* any frame fits */
#define IMPAIR_QBYTES_MAX	(256u << 20)
#define IMPAIR_BURST_MAX	(64u << 20)	/* token bucket depth, bytes */
#define IMPAIR_SPEC_MAX		512		/* a formatted spec, with NUL */

/**
 * struct impair_params - what one direction of a port does to its frames
 * @set:	this source says something about this direction (a cleared
 *		direction is set with nothing active: it overrides weaker sources)
 * @loss:	random loss (ppb); with @loss_burst the average of a Gilbert model
 * @loss_burst:	mean length of a loss burst in frames (wirefilter -L); 0: none
 * @ge:		Gilbert-Elliott given as netem's gemodel p, r, 1-h, 1-k (ppb):
 *		@ge_p good->bad, @ge_r bad->good, @ge_bad / @ge_good loss in each
 * @dup:	share of frames sent twice (ppb)
 * @reorder:	share of frames that skip the delay and overtake held ones (ppb)
 * @rate_bps:	token bucket rate, bit/s (0: none); @rate_burst its depth in bytes
 * @queue, @queue_bytes: most frames / bytes held; more are dropped (impair_queue)
 * @seed:	random seed (0: from getrandom)
 */
struct impair_params {
	int set;
	uint64_t delay_us, jitter_us;
	uint32_t loss, loss_burst;
	int ge;
	uint32_t ge_p, ge_r, ge_bad, ge_good;
	uint32_t dup, reorder;
	uint64_t rate_bps;
	uint32_t rate_burst;
	uint32_t queue, queue_bytes;
	uint64_t seed;
};

/** struct impair_conf - one source's setting of a port name (portconf.h) */
struct impair_conf {
	struct impair_params dir[IMPAIR_DIRS];
};

/* --- the setting: parse and format ------------------------------------- */

/**
 * impair_parse() - apply @spec ("delay=50ms,jitter=5ms,loss=1%,rate=10mbit,
 * direction=out", or "clear[,direction=...]") to @c: each direction the
 * spec names (default out) is replaced by what it says.
 * Return: 0, or -EINVAL with the reason in @why (@c unchanged)
 */
int impair_parse(const char *spec, struct impair_conf *c, char *why, size_t whylen);

/** impair_check() - @spec parses (policy_impair_check of tls/policy.h). Return: 0 or -EINVAL, @why */
int impair_check(const char *spec, char *why, size_t whylen);

/** impair_active() - @p changes anything (a set but cleared direction does not) */
int impair_active(const struct impair_params *p);

/** impair_format() - @p as a spec impair_parse() reads back ("" when not active) */
void impair_format(const struct impair_params *p, char *buf, size_t len);

/* --- one direction's queue, without a switch (unit tests, fuzzing) ----- */

/* What impair_q_hold() did with a frame. */
enum { IMPAIR_PASS, IMPAIR_HELD, IMPAIR_FULL };

/** struct impair_frame - a held frame: its bytes are at buf + @off */
struct impair_frame {
	uint64_t due_us;
	uint32_t off, len;
	uint32_t net;		/* trunks: index of its network in sw->nets */
	uint32_t net_hash;	/* and a hash of its name, against a reused slot */
	uint32_t flags;		/* its struct frame flags (FRAME_VNET) */
};

struct impair_ctr {
	uint64_t delayed;	/* frames that went through the queue */
	uint64_t lost, queue_full, duplicated, reordered, flushed;
};

/**
 * struct impair_q - one direction of one port: its setting and its state
 * @fr:		ring of @cap held frames, from @head, @n of them
 * @buf:	their bytes: a ring of @buf_cap bytes, written at @wr, the
 *		oldest at @rd; @bytes held
 * @last_due:	due time of the newest held frame (the queue is a FIFO)
 * @tb_at, @tb_tokens: token bucket: tokens (bit * 10^6) at time @tb_at
 * @bad:	Gilbert-Elliott state
 * @releasing:	frames handed to the switch now pass this direction untouched
 */
struct impair_q {
	struct impair_params p;
	struct impair_frame *fr;
	uint32_t cap, head, n;
	uint8_t *buf;
	size_t buf_cap, rd, wr, bytes;
	uint64_t last_due;
	uint64_t tb_at, tb_tokens;
	int bad;
	int releasing;
	uint64_t rng[4];
	struct impair_ctr ctr;
};

/** impair_q_new() - a queue for @p (its storage allocated now). Return: it, or NULL */
struct impair_q *impair_q_new(const struct impair_params *p);
void impair_q_free(struct impair_q *q);

/** impair_q_lost() - the loss model's verdict on the next frame (counts it) */
int impair_q_lost(struct impair_q *q);

/** impair_q_chance() - an event of probability @ppb, from @q's random stream */
int impair_q_chance(struct impair_q *q, uint32_t ppb);

/**
 * impair_q_depart() - token bucket: when a frame of @len bytes arriving at
 * @now leaves the rate stage (and its tokens are taken)
 */
uint64_t impair_q_depart(struct impair_q *q, size_t len, uint64_t now);

/**
 * impair_q_hold() - a frame that survived the loss: IMPAIR_PASS (due now and
 * nothing held before it: the caller sends it, nothing copied), IMPAIR_HELD
 * (copied, due at *@due), IMPAIR_FULL (over a bound: the caller drops it)
 */
int impair_q_hold(struct impair_q *q, const uint8_t *data, size_t len, uint32_t flags,
		  uint32_t net, uint32_t net_hash, uint64_t now, uint64_t *due);

/** impair_q_head() - the oldest held frame if it is due at @now, else NULL */
const struct impair_frame *impair_q_head(const struct impair_q *q, uint64_t now);

/** impair_q_pop() - forget the oldest held frame (its bytes stay until the next hold) */
void impair_q_pop(struct impair_q *q);

/* --- a switch's ports ---------------------------------------------------- */

/** struct impair - a port's impairment: the port's directions, on sw->impairs */
struct impair {
	struct impair *next;
	struct port *port;
	struct impair_q *q[IMPAIR_DIRS];
};

/**
 * impair_option() - "--impair NAME=SPEC" into the option's setting of port
 * name NAME. Return: 0 or -errno with the reason in @why
 */
int impair_option(struct vswitch *sw, const char *arg, char *why, size_t whylen);

/**
 * impair_control() - "vmfabric-ctl impair PORT SPEC" (@argv: PORT, SPEC):
 * the live setting, applied at once to the ports of that name; the answer
 * (JSON if @json) goes to @out. Return: 0 or -errno with the reason in @why
 */
int impair_control(struct vswitch *sw, int argc, char **argv, int json, FILE *out, char *why,
		   size_t whylen);

/**
 * impair_port_apply() - give @p (a new session, or its setting changed) the
 * impairment its name has now; at Hello and on every change. Between passes.
 */
void impair_port_apply(struct vswitch *sw, struct port *p);

/** impair_port_end() - @p is reaped: what its impairment held is dropped (impair_flushed) */
void impair_port_end(struct vswitch *sw, struct port *p);

/**
 * impair_take() - a frame reaches direction @dir of @p (which has p->imp).
 * Return: 1 if the impairment took it (dropped or held), 0 if the caller
 * sends it now as usual (duplicates it wants sent now it sends itself)
 */
int impair_take(struct vswitch *sw, struct port *p, int dir, struct network *n,
		const struct frame *f);

/** impair_timeout() - @timeout (ms), or less if a held frame is due sooner */
long impair_timeout(const struct vswitch *sw, long timeout);

/** impair_run() - send every held frame that is due, as one pass of its own */
void impair_run(struct vswitch *sw);

/** impair_json() / impair_text() - @p's impairment and counters for "vmfabric-ctl ports" */
void impair_json(const struct port *p, FILE *f);
void impair_text(const struct port *p, FILE *f);

/**
 * switch_impair_deliver() - (fwd.c) a frame an impairment lets go: in, it
 * is forwarded from @p; out, it joins @p's batch
 */
void switch_impair_deliver(struct vswitch *sw, struct port *p, struct network *n,
			   const struct frame *f, int dir);

#endif /* VMF_IMPAIR_H */
