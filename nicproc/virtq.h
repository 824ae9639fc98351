/* virtq.h - guest memory regions and split virtqueues, as a vhost-user back-end sees them */
#ifndef VMF_VIRTQ_H
#define VMF_VIRTQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define VQ_MAX_REGIONS		8	/* VHOST_MEMORY_BASELINE_NREGIONS */
#define VQ_MAX_SIZE		32768	/* largest split ring */
#define VQ_MAX_IOV		1024	/* pieces one descriptor chain may map to */

/* struct vring_desc flags */
#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_AVAIL_F_NO_INTERRUPT	1
#define VRING_USED_F_NO_NOTIFY		1

/**
 * struct vq_region - one piece of guest RAM mapped from QEMU's fd
 * @gpa:	guest physical address of the first byte
 * @uva:	QEMU's virtual address of the same byte (ring addresses use these)
 * @size:	bytes
 * @host:	our mapping of @gpa
 * @map, @map_len:	what to munmap() (the mapping starts at the fd's offset 0)
 */
struct vq_region {
	uint64_t gpa, uva, size;
	uint8_t *host;
	void *map;
	size_t map_len;
};

struct vq_mem {
	struct vq_region r[VQ_MAX_REGIONS];
	unsigned int n;
};

/* The split ring, in guest memory (little-endian; read with care, written by us) */
struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

struct vring_used {
	uint16_t flags;
	uint16_t idx;
	struct vring_used_elem ring[];
};

struct vq_ctr {
	uint64_t bad_chain;	/* chains refused: loop, bad address, bad flags, too long */
	uint64_t bad_ring;	/* avail index or head out of range: queue stopped */
	uint64_t calls;		/* interrupts sent to the guest */
};

/**
 * struct vq - one split virtqueue
 * @num:	ring size (power of 2), 0 until set
 * @desc, @avail, @used:	our pointers into guest memory, NULL until mapped
 * @last_avail:	next avail ring entry we will take
 * @used_idx:	our copy of used->idx
 * @signalled_used:	used->idx at the last interrupt (EVENT_IDX)
 * @event_idx, @indirect:	negotiated ring features
 * @broken:	the guest broke the ring protocol: not processed until reset
 */
struct vq {
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint64_t desc_uva, avail_uva, used_uva;
	uint16_t last_avail, used_idx, signalled_used;
	int event_idx, indirect;
	int broken;
	int kicks_off;		/* vq_notify_on(0): the guest should not kick */
	unsigned int pending_used;	/* used entries since the last vq_need_call() */
	struct vq_ctr ctr;
};

/** vq_mem_gpa() - map [@gpa, @gpa + @len) to host iovecs at @iov[*n..]; Return: 0, -EFAULT, -E2BIG */
int vq_mem_gpa(const struct vq_mem *m, uint64_t gpa, uint64_t len, struct iovec *iov,
	       unsigned int *n, unsigned int max);

/** vq_mem_uva() - host pointer for QEMU address [@uva, @uva + @len) in one region, or NULL */
void *vq_mem_uva(const struct vq_mem *m, uint64_t uva, uint64_t len);

/** vq_mem_unmap() - unmap every region (accepts an empty or NULL table) */
void vq_mem_unmap(struct vq_mem *m);

/**
 * vq_map() - resolve the ring addresses (QEMU virtual addresses) in @m;
 * checks sizes and alignment. Return: 0 or -EFAULT / -EINVAL
 */
int vq_map(struct vq *q, const struct vq_mem *m);

/** vq_reset() - back to the state before SET_VRING_NUM (counters kept) */
void vq_reset(struct vq *q);

/**
 * struct vq_chain - one descriptor chain, mapped
 * @head:	its head index (for vq_push())
 * @iov, @n:	the buffers, in order
 * @len:	their total length (fits 32 bits: a longer chain is refused)
 */
struct vq_chain {
	uint16_t head;
	unsigned int n;
	uint32_t len;
	struct iovec iov[VQ_MAX_IOV];
};

/**
 * vq_pop() - take the next available chain
 * @writable:	1 for a receive queue (every buffer device-writable), 0 for transmit
 * Return: 1 with @c filled, 0 if the ring is empty, -EINVAL if the chain was
 * bad (counted; @c->head is set and the caller must vq_push() it with length
 * 0), -EIO if the ring itself is broken (queue stopped, counted)
 */
int vq_pop(struct vq *q, const struct vq_mem *m, int writable, struct vq_chain *c);

/** vq_avail() - chains ready in the avail ring (0 if broken or unmapped) */
unsigned int vq_avail(struct vq *q);

/** vq_unpop() - give back the last @n chains taken by vq_pop() (not yet pushed) */
void vq_unpop(struct vq *q, unsigned int n);

/** vq_push() - return chain @head to the guest, @len bytes written; visible after vq_flush() */
void vq_push(struct vq *q, uint16_t head, uint32_t len);

/** vq_flush() - publish the pushed used entries (release order for the guest) */
void vq_flush(struct vq *q);

/** vq_need_call() - the guest wants an interrupt for what was flushed since the last call */
int vq_need_call(struct vq *q);

/**
 * vq_notify_on() - ask for (1) or suppress (0) kicks from the guest. When
 * asking again, the caller must check vq_avail() afterwards (a buffer may
 * have come while kicks were off).
 */
void vq_notify_on(struct vq *q, int on);

/** iov_to_buf() - copy @len bytes from offset @off of @iov into @buf; Return: bytes copied */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len);

/** buf_to_iov() - copy @len bytes of @buf into @iov from offset @off; Return: bytes copied */
size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t off, const void *buf, size_t len);

#endif /* VMF_VIRTQ_H */
