/* capture.c - live capture on the switch: BPF in the loop, pcap records to a control client */

/*
 * DOC: Theory of operation
 *
 * A capture session belongs to one management client (control.c starts
 * and stops it). The capture point sees every frame a port sends to the
 * switch (before any drop decision) and, for a port capture, every frame
 * the switch sends to that port; a network capture sees every frame
 * entering the network once. The BPF filter (libpcap syntax, compiled with
 * pcap_compile on a dead handle) runs in the switch, so only matching
 * frames cross the channel. Records collect in a per-capture buffer during
 * a loop pass and leave in one message at its end, sent without blocking:
 * a slow client loses captured records (counted), the traffic never waits.
 * A client that goes away is noticed on the next send (EHOSTUNREACH) and
 * its capture ends.
 */

#include <errno.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <zmq.h>

#include "capture.h"
#include "log.h"
#include "util.h"

#define CAP_BUF		(1024 * 1024)

struct capture {
	struct capture *next;
	void *sock;		/* the management socket its client is on */
	uint8_t rid[RID_MAX];
	uint8_t rid_len;
	uint32_t id;
	char port[VMF_NAME_MAX];	/* capture this port, or */
	char net[VMF_NAME_MAX];		/* this network */
	struct bpf_program prog;
	int has_prog;
	uint64_t remaining;		/* records still wanted; 0 = no limit */
	int ending;
	uint8_t *buf;
	size_t len;
	uint64_t pending;		/* records in buf */
	uint64_t captured, dropped;	/* records matched; of them, lost */
};

/* --- capture ------------------------------------------------------------ */

void capture_frame(struct vswitch *sw, const struct port *p, const char *net,
		   const struct frame *f, int dir)
{
	/* captures see Ethernet frames: a virtio-net header is skipped */
	const uint8_t *eth = frame_eth(f);
	size_t len = frame_eth_len(f);
	struct timeval tv;
	int have_tv = 0;

	for (struct capture *c = sw->captures; c; c = c->next) {
		uint32_t rec[4];

		if (c->ending)
			continue;
		if (*c->port ? strcmp(c->port, p->name) || (*c->net && strcmp(c->net, net))
			     : dir != CAP_IN || strcmp(c->net, net))
			continue;
		if (c->has_prog && !bpf_filter(c->prog.bf_insns, eth, (u_int)len, (u_int)len))
			continue;
		if (CAP_BUF - c->len < sizeof(rec) + len) {
			c->captured++;	/* matched but lost: "sent" is captured - dropped */
			c->dropped++;
			continue;
		}
		if (!have_tv) {
			gettimeofday(&tv, NULL);
			have_tv = 1;
		}
		rec[0] = (uint32_t)tv.tv_sec;
		rec[1] = (uint32_t)tv.tv_usec;
		rec[2] = rec[3] = (uint32_t)MIN(len, (size_t)CAP_SNAPLEN);
		memcpy(c->buf + c->len, rec, sizeof(rec));
		memcpy(c->buf + c->len + sizeof(rec), eth, rec[2]);
		c->len += sizeof(rec) + rec[2];
		c->pending++;
		c->captured++;
		if (c->remaining && !--c->remaining)
			c->ending = 1;
	}
}

static void capture_free(struct vswitch *sw, struct capture *c)
{
	struct capture **pp;

	for (pp = &sw->captures; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	info("capture %u ended: %llu records sent, %llu dropped (client too slow)", c->id,
	     (unsigned long long)(c->captured - c->dropped), (unsigned long long)c->dropped);
	if (c->has_prog)
		pcap_freecode(&c->prog);
	free(c->buf);
	free(c);
}

/* Send @len bytes to the capture's client; Return: 0 or -errno. */
static int capture_send(struct capture *c, const void *data, size_t len)
{
	if (zmq_send(c->sock, c->rid, c->rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(c->sock, data, len, ZMQ_DONTWAIT) < 0)
		return -errno;
	return 0;
}

void capture_flush(struct vswitch *sw)
{
	struct capture *c = sw->captures, *next;

	for (; c; c = next) {
		int rc = 0;

		next = c->next;
		if (c->len) {
			rc = capture_send(c, c->buf, c->len);
			if (rc == -EAGAIN)
				c->dropped += c->pending;
			c->len = 0;
			c->pending = 0;
		}
		if (rc == -EHOSTUNREACH) {
			capture_free(sw, c);
			continue;
		}
		if (c->ending) {
			capture_send(c, "", 0);
			capture_free(sw, c);
		}
	}
}

int capture_start(struct vswitch *sw, void *sock, const uint8_t *rid, size_t rid_len,
		  const char *port, const char *net, uint64_t count, const char *filter,
		  char *why, size_t whylen)
{
	static uint32_t next_id;
	struct capture *cap = calloc(1, sizeof(*cap));

	if (!cap || !(cap->buf = malloc(CAP_BUF)) || rid_len > sizeof(cap->rid)) {
		if (cap)
			free(cap->buf);
		free(cap);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	if (*filter) {
		pcap_t *dead = pcap_open_dead(DLT_EN10MB, CAP_SNAPLEN);
		int bad = !dead || pcap_compile(dead, &cap->prog, filter, 1, PCAP_NETMASK_UNKNOWN);

		if (bad) {
			snprintf(why, whylen, "bad filter expression '%s': %s", filter,
				 dead ? pcap_geterr(dead) : "pcap_open_dead failed");
			if (dead)
				pcap_close(dead);
			free(cap->buf);
			free(cap);
			return -EINVAL;
		}
		pcap_close(dead);
		cap->has_prog = 1;
	}
	cap->sock = sock;
	cap->id = ++next_id;
	memcpy(cap->rid, rid, rid_len);
	cap->rid_len = (uint8_t)rid_len;
	if (port)
		str_copy(cap->port, port, sizeof(cap->port));
	if (net)
		str_copy(cap->net, net, sizeof(cap->net));
	cap->remaining = count;
	cap->next = sw->captures;
	sw->captures = cap;
	info("capture %u started: %s %s%s%s", cap->id, port ? "port" : "network", port ? port : net,
	     *filter ? " filter " : "", filter);
	return (int)cap->id;
}

int capture_stop_client(struct vswitch *sw, const uint8_t *rid, size_t rid_len)
{
	struct capture *cap, *next;
	int n = 0;

	for (cap = sw->captures; cap; cap = next) {
		next = cap->next;
		if (cap->rid_len == rid_len && !memcmp(cap->rid, rid, rid_len)) {
			capture_free(sw, cap);
			n++;
		}
	}
	return n;
}

unsigned int capture_count(const struct vswitch *sw)
{
	unsigned int n = 0;

	for (const struct capture *c = sw->captures; c; c = c->next)
		n++;
	return n;
}

void capture_stop_all(struct vswitch *sw)
{
	while (sw->captures)
		capture_free(sw, sw->captures);
}
