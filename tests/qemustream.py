"""qemustream.py - QEMU's stream framing (4-byte big-endian length, then the frame), for the tests
that play QEMU to a NIC process (integration/backends.py, faults/hijack.py)."""
import select, struct, time


class Stream:
    """one stream connection as QEMU sees it"""

    def __init__(self, sock):
        self.s, self.buf = sock, b""

    def send(self, f, chunk=0):
        """send frame f; with chunk, in pieces, so the NIC process must reassemble partial reads"""
        data = struct.pack(">I", len(f)) + f
        if not chunk:
            self.s.sendall(data)
            return
        for i in range(0, len(data), chunk):
            self.s.sendall(data[i:i + chunk])
            time.sleep(0.002)

    def recv(self, secs=None):
        """the next frame; with secs, None once secs have passed; EOFError when the peer closed"""
        end = None if secs is None else time.time() + secs
        while True:
            if self.buffered():
                n = struct.unpack(">I", self.buf[:4])[0]
                f, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
                return f
            if end is not None:
                r, _, _ = select.select([self.s], [], [], max(0, end - time.time()))
                if not r:
                    return None
            d = self.s.recv(65536)
            if not d:
                raise EOFError
            self.buf += d

    def buffered(self):
        """a complete frame waits in self.buf, where select() cannot see it"""
        return len(self.buf) >= 4 and len(self.buf) >= 4 + struct.unpack(">I", self.buf[:4])[0]

    def fileno(self):
        return self.s.fileno()
