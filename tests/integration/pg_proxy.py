# SPDX-License-Identifier: MIT
"""A TCP proxy in front of the test cluster that misbehaves on demand, for the PostGIS store's
failure paths (issue 24): the network between a replica and its database, not the database.

  forward    every byte passes (the default)
  blackhole  new connections are accepted and never answered (a partition: connect_timeout)
  cut()      every open connection is closed at once (a database that went away)
  drop_on    the connection that is about to receive these bytes from the server is closed
             instead (the server ran a statement, its answer never arrives)
  stall()    bytes from the server stop being passed on, connections stay open (a slow or
             stuck network) until unstall()
  hold_cancels  a connection that carries a cancel request is held like blackhole's (the
             cancel never reaches the server, its sender waits) while others pass
Only plain (non-TLS) protocol traffic: the test cluster has no TLS."""
import socket
import struct
import threading

CANCEL_REQUEST = struct.pack("!ii", 16, 80877102)  # length and code of a CancelRequest


class Proxy:
    def __init__(self, upstream_port):
        self.upstream = upstream_port
        self.mode = "forward"
        self.drop_on = None
        self.hold_cancels = False
        self.held_cancels = 0
        self.dropped = 0
        self.accepted = 0
        self.bytes_down = 0  # bytes passed from the server
        self.lock = threading.Lock()
        self.pairs = []
        self.held = []
        self.flowing = threading.Event()
        self.flowing.set()
        self.stall_after = None  # bytes still passed before a stall() takes effect
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(256)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def uri(self, db):
        return f"postgresql://spp@127.0.0.1:{self.port}/{db}"

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                if self.mode == "blackhole":
                    self.held.append(c)
                    continue
                hold_cancels = self.hold_cancels
            if hold_cancels:
                threading.Thread(target=self._open, args=(c,), daemon=True).start()
            else:
                self._open(c)

    def _open(self, c):
        """Connects c to the server (hold_cancels: unless it carries a cancel request)."""
        if self.hold_cancels:
            c.settimeout(5)
            try:
                head = c.recv(8, socket.MSG_PEEK | socket.MSG_WAITALL)
            except OSError:
                head = b""
            c.settimeout(None)
            if head == CANCEL_REQUEST:
                with self.lock:
                    self.held.append(c)
                    self.held_cancels += 1
                return
        try:
            s = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            c.close()
            return
        with self.lock:
            self.pairs.append((c, s))
        threading.Thread(target=self._pump, args=(c, s, False), daemon=True).start()
        threading.Thread(target=self._pump, args=(s, c, True), daemon=True).start()

    def _close(self, a, b):
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            x.close()

    def _pump(self, src, dst, from_server):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server:
                    tail = b""
                    with self.lock:
                        drop = self.drop_on is not None and self.drop_on in data
                        if drop:
                            self.drop_on = None
                            self.dropped += 1
                        elif self.stall_after is not None and len(data) >= self.stall_after:
                            data, tail = data[:self.stall_after], data[self.stall_after:]
                            self.stall_after = None
                            self.flowing.clear()
                        elif self.stall_after is not None:
                            self.stall_after -= len(data)
                    if drop:
                        break
                    if data:
                        dst.sendall(data)
                        with self.lock:
                            self.bytes_down += len(data)
                    self.flowing.wait()
                    if self.closed:
                        break
                    if tail:
                        dst.sendall(tail)
                else:
                    dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def cut(self):
        """Closes every open connection and every held one."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
            held, self.held = self.held, []
        for c, s in pairs:
            self._close(c, s)
        for c in held:
            c.close()

    def stall(self, after_bytes=0):
        """Bytes from the server stop after after_bytes more have passed."""
        with self.lock:
            self.stall_after = after_bytes

    def unstall(self):
        with self.lock:
            self.stall_after = None
        self.flowing.set()

    def close(self):
        self.closed = True
        self.flowing.set()
        self.listener.close()
        self.cut()
