/* stream.h - QEMU stream framing: 4-byte big-endian length + frame, both directions */
#ifndef VMF_STREAM_H
#define VMF_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

/**
 * struct stream_rx - reassembles frames across partial reads
 * @buf:	receive buffer; frames handed out point into it
 * @cap:	its size (at least max_frame + 4)
 * @start:	first byte not yet parsed
 * @end:	end of data read so far
 * @max_frame:	a longer length prefix is a framing error
 */
struct stream_rx {
	uint8_t *buf;
	size_t cap;
	size_t start;
	size_t end;
	size_t max_frame;
};

int stream_rx_init(struct stream_rx *rx, size_t cap, size_t max_frame);
void stream_rx_free(struct stream_rx *rx);
void stream_rx_reset(struct stream_rx *rx);

/** stream_rx_space() - where the next read() goes, and how much fits */
uint8_t *stream_rx_space(struct stream_rx *rx, size_t *len);

/** stream_rx_commit() - @n bytes were read into stream_rx_space() */
void stream_rx_commit(struct stream_rx *rx, size_t n);

/**
 * stream_rx_next() - the next complete frame, if any
 * Return: 1 with @frame/@len set (valid until stream_rx_compact()),
 * 0 if more bytes are needed, -EBADMSG if the length prefix exceeds max_frame
 */
int stream_rx_next(struct stream_rx *rx, const uint8_t **frame, size_t *len);

/** stream_rx_compact() - move the unparsed tail to the front (invalidates frames) */
void stream_rx_compact(struct stream_rx *rx);

/**
 * struct stream_tx - what a non-blocking writer could not write yet
 * Frames are written with one writev() per batch; the part the socket did not
 * take waits here (whole frames only are ever queued or dropped, so the
 * framing on the wire never breaks).
 */
struct stream_tx {
	uint8_t *buf;
	size_t cap;
	size_t start;
	size_t end;
	uint64_t oversize;	/* datagrams the socket refused as too long (EMSGSIZE): dropped */
};

int stream_tx_init(struct stream_tx *tx, size_t cap);
void stream_tx_free(struct stream_tx *tx);
static inline size_t stream_tx_pending(const struct stream_tx *tx)
{
	return tx->end - tx->start;
}

/**
 * stream_tx_write() - write @n frames to @fd, queueing what does not fit now
 * Return: frames accepted (written or queued); the rest were dropped for lack
 * of queue space; -errno on a fatal socket error
 */
ssize_t stream_tx_write(struct stream_tx *tx, int fd, const struct frame *f, size_t n);

/** stream_tx_flush() - write queued bytes; Return: 0, or -errno if fatal */
int stream_tx_flush(struct stream_tx *tx, int fd);

/**
 * dgram_tx_write() - send @n frames as datagrams on the connected socket @fd,
 * queueing (in the same record format as stream_tx) what the peer cannot
 * take now (EAGAIN: its receive queue is full). QEMU's unix datagram socket
 * queues only net.unix.max_dgram_qlen (10) datagrams, so bursts need this.
 * A frame too long for the socket (EMSGSIZE: over 65507 bytes on UDP) is
 * dropped and counted in tx->oversize; the peer is still there.
 * Return: frames accepted (sent or queued); -errno if the peer is gone
 */
ssize_t dgram_tx_write(struct stream_tx *tx, int fd, const struct frame *f, size_t n);

/**
 * dgram_tx_flush() - send queued datagrams (one too long is dropped and counted)
 * Return: 0, or -errno if the peer is gone
 */
int dgram_tx_flush(struct stream_tx *tx, int fd);

#endif /* VMF_STREAM_H */
