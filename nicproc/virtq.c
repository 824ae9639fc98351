/* virtq.c - guest memory regions and split virtqueues, as a vhost-user back-end sees them */

/*
 * DOC: Theory of operation
 *
 * Guest RAM arrives as up to VQ_MAX_REGIONS regions (SET_MEM_TABLE), each an
 * fd we map read-write. Descriptors carry guest physical addresses; the ring
 * addresses in SET_VRING_ADDR are QEMU's virtual addresses. Both are
 * translated here with overflow-safe bounds checks; a buffer that crosses
 * regions becomes several iovecs.
 *
 * The guest is untrusted and shares the memory: it can change anything at
 * any time. So every descriptor is read once into a local copy and checked
 * there; the avail index is checked against the ring size; a chain is
 * bounded by the ring size (or, indirect, by its table size), so a loop
 * ends; lengths are summed in 64 bits and a chain over 4 GiB, with a
 * readable buffer in a receive chain (or a writable one in a transmit
 * chain), an address outside guest RAM, a nested indirect table or an
 * indirect table without the feature is refused and counted (bad_chain);
 * the caller returns it to the guest as used with length 0. An avail index more than the
 * ring size ahead, or a head outside the ring, marks the queue broken
 * (bad_ring): it is not touched again until the front-end sets it up anew.
 *
 * Ordering: avail->idx is read with acquire before the ring entries; used
 * entries are written before used->idx is stored with release; a full
 * barrier separates the used->idx store from reading the guest's
 * notification hints (avail->flags, or used_event with VIRTIO_RING_F_EVENT_IDX).
 */

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "util.h"
#include "virtq.h"

void vq_mem_unmap(struct vq_mem *m)
{
	unsigned int i;

	if (!m)
		return;
	for (i = 0; i < m->n && i < VQ_MAX_REGIONS; i++)
		if (m->r[i].map)
			munmap(m->r[i].map, m->r[i].map_len);
	memset(m, 0, sizeof(*m));
}

int vq_mem_gpa(const struct vq_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
	       unsigned int *n, unsigned int max)
{
	while (len) {
		const struct vq_region *r = NULL;
		uint64_t off, piece;
		unsigned int i;

		for (i = 0; i < m->n; i++) {
			if (gpa >= m->r[i].gpa && gpa - m->r[i].gpa < m->r[i].size) {
				r = &m->r[i];
				break;
			}
		}
		if (!r)
			return -EFAULT;
		if (*n >= max)
			return -E2BIG;
		off = gpa - r->gpa;
		piece = r->size - off < len ? r->size - off : len;
		iov[*n].iov_base = r->host + off;
		iov[*n].iov_len = (size_t)piece;
		(*n)++;
		gpa += piece;
		len -= piece;
		if (len && !gpa)
			return -EFAULT;	/* wrapped around */
	}
	return 0;
}

void *vq_mem_uva(const struct vq_mem *m, uint64_t uva, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < m->n; i++) {
		const struct vq_region *r = &m->r[i];

		if (uva >= r->uva && uva - r->uva < r->size && len <= r->size - (uva - r->uva))
			return r->host + (uva - r->uva);
	}
	return NULL;
}

int vq_map(struct vq *q, const struct vq_mem *m)
{
	uint64_t n = q->num;

	if (!n || n > VQ_MAX_SIZE || (n & (n - 1)))
		return -EINVAL;
	if ((q->desc_uva & 15) || (q->avail_uva & 1) || (q->used_uva & 3))
		return -EINVAL;
	/* the extra 2 bytes are used_event / avail_event (EVENT_IDX) */
	q->desc = vq_mem_uva(m, q->desc_uva, 16 * n);
	q->avail = vq_mem_uva(m, q->avail_uva, 4 + 2 * n + 2);
	q->used = vq_mem_uva(m, q->used_uva, 4 + 8 * n + 2);
	if (!q->desc || !q->avail || !q->used) {
		q->desc = NULL;
		q->avail = NULL;
		q->used = NULL;
		return -EFAULT;
	}
	q->broken = 0;
	return 0;
}

void vq_reset(struct vq *q)
{
	struct vq_ctr ctr = q->ctr;

	memset(q, 0, sizeof(*q));
	q->ctr = ctr;
}

static uint16_t ld16(const uint16_t *p)
{
	return le16toh(__atomic_load_n(p, __ATOMIC_RELAXED));
}

unsigned int vq_avail(struct vq *q)
{
	uint16_t idx, n;

	if (!q->avail || q->broken)
		return 0;
	idx = le16toh(__atomic_load_n(&q->avail->idx, __ATOMIC_ACQUIRE));
	n = (uint16_t)(idx - q->last_avail);
	if (n > q->num) {
		q->broken = 1;
		q->ctr.bad_ring++;
		return 0;
	}
	return n;
}

/* Read descriptor @i of @table once, into host byte order. */
static struct vring_desc desc_read(const struct vring_desc *table, unsigned int i)
{
	struct vring_desc d;

	memcpy(&d, (const void *)&table[i], sizeof(d));
	d.addr = le64toh(d.addr);
	d.len = le32toh(d.len);
	d.flags = le16toh(d.flags);
	d.next = le16toh(d.next);
	return d;
}

/* Walk the chain at @head into @c. Return: 0 or -EINVAL (bad chain) */
static int walk(struct vq *q, const struct vq_mem *m, int writable, uint16_t head,
		struct vq_chain *c)
{
	const struct vring_desc *table = q->desc;
	unsigned int size = q->num, i = head, seen = 0, indirect = 0;
	uint64_t total = 0;

	c->n = 0;
	for (;;) {
		struct vring_desc d;

		if (i >= size || ++seen > size)
			return -EINVAL;	/* out of the table, or a loop */
		d = desc_read(table, i);
		if (d.flags & VRING_DESC_F_INDIRECT) {
			struct iovec t;
			unsigned int tn = 0;

			/* only as the one descriptor of a direct chain */
			if (!q->indirect || indirect || c->n || (d.flags & VRING_DESC_F_NEXT) ||
			    !d.len || d.len % sizeof(struct vring_desc) ||
			    d.len / sizeof(struct vring_desc) > VQ_MAX_SIZE)
				return -EINVAL;
			/* the table must be contiguous in our mapping and aligned */
			if (vq_mem_gpa(m, d.addr, d.len, &t, &tn, 1) || (d.addr & 15) ||
			    ((uintptr_t)t.iov_base & 15))
				return -EINVAL;
			table = t.iov_base;
			size = d.len / (unsigned int)sizeof(struct vring_desc);
			i = 0;
			seen = 0;
			indirect = 1;
			continue;
		}
		if (!!(d.flags & VRING_DESC_F_WRITE) != !!writable)
			return -EINVAL;
		total += d.len;
		if (total > UINT32_MAX)
			return -EINVAL;
		if (d.len && vq_mem_gpa(m, d.addr, d.len, c->iov, &c->n, VQ_MAX_IOV))
			return -EINVAL;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
	}
	c->len = (uint32_t)total;
	return 0;
}

int vq_pop(struct vq *q, const struct vq_mem *m, int writable, struct vq_chain *c)
{
	uint16_t head;

	if (!vq_avail(q))
		return q->broken ? -EIO : 0;
	head = ld16(&q->avail->ring[q->last_avail & (q->num - 1)]);
	if (head >= q->num) {
		q->broken = 1;
		q->ctr.bad_ring++;
		return -EIO;
	}
	q->last_avail++;
	c->head = head;
	if (walk(q, m, writable, head, c)) {
		q->ctr.bad_chain++;
		return -EINVAL;
	}
	return 1;
}

void vq_unpop(struct vq *q, unsigned int n)
{
	q->last_avail = (uint16_t)(q->last_avail - n);
}

void vq_push(struct vq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &q->used->ring[q->used_idx & (q->num - 1)];

	e->id = htole32(head);
	e->len = htole32(len);
	q->used_idx++;
	q->pending_used++;
}

void vq_flush(struct vq *q)
{
	if (!q->used)
		return;
	__atomic_store_n(&q->used->idx, htole16(q->used_idx), __ATOMIC_RELEASE);
	if (q->event_idx && !q->kicks_off) {	/* the next kick: right after what we took */
		__atomic_store_n((uint16_t *)&q->used->ring[q->num], htole16(q->last_avail),
				 __ATOMIC_RELAXED);
		/* before the caller looks at avail->idx again (a buffer added meanwhile) */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
}

int vq_need_call(struct vq *q)
{
	uint16_t old = q->signalled_used, now = q->used_idx, ev;

	if (!q->used || !q->pending_used)
		return 0;
	q->pending_used = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->signalled_used = now;
	if (!q->event_idx)
		return !(ld16(&q->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	/* vring_need_event(): did we just pass the guest's used_event? */
	ev = ld16(&q->avail->ring[q->num]);
	return (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
}

void vq_notify_on(struct vq *q, int on)
{
	if (!q->used)
		return;
	q->kicks_off = !on;
	if (q->event_idx) {
		/* off: an avail_event half the index space away is never passed */
		__atomic_store_n((uint16_t *)&q->used->ring[q->num],
				 htole16((uint16_t)(q->last_avail + (on ? 0 : 0x7fff))), __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&q->used->flags, htole16(on ? 0 : VRING_USED_F_NO_NOTIFY),
				 __ATOMIC_RELAXED);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Copy between @buf and @iov from offset @off, towards @iov if @to_iov. */
static size_t iov_copy(const struct iovec *iov, unsigned int n, size_t off, uint8_t *buf,
		       size_t len, int to_iov)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *p;

		if (off >= l) {
			off -= l;
			continue;
		}
		p = (uint8_t *)iov[i].iov_base + off;
		l = MIN(l - off, len - done);
		memcpy(to_iov ? p : buf + done, to_iov ? buf + done : p, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len)
{
	return iov_copy(iov, n, off, buf, len, 0);
}

size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t off, const void *buf, size_t len)
{
	return iov_copy(iov, n, off, (uint8_t *)(uintptr_t)buf, len, 1);
}
