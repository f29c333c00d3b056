"""A tiny PostgreSQL client for scripts/bench (stdlib only): one connection, simple-query
protocol, trust authentication (the throwaway cluster of scripts/lib/postgres.sh). Values
come back as text (None for NULL). Enough to poll a table every few milliseconds without
starting a psql process each time."""

import socket
import struct


class PgError(Exception):
    pass


class Connection:
    def __init__(self, host, port, user="postgres", database="postgres", timeout=30):
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        params = b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                          for k, v in (("user", user), ("database", database),
                                       ("client_encoding", "UTF8"))) + b"\0"
        body = struct.pack("!I", 196608) + params
        self.sock.sendall(struct.pack("!I", len(body) + 4) + body)
        while True:
            kind, data = self._read()
            if kind == b"R":
                if struct.unpack("!I", data[:4])[0] != 0:
                    raise PgError("the server asks for a password: bench expects trust auth")
            elif kind == b"E":
                raise PgError(_error(data))
            elif kind == b"Z":
                return

    def _recv_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise PgError("connection closed by the server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read(self):
        head = self._recv_exact(5)
        kind, length = head[:1], struct.unpack("!I", head[1:])[0]
        return kind, self._recv_exact(length - 4)

    def query(self, sql):
        """Runs `sql` (one or more statements); returns the rows of the last result."""
        data = sql.encode() + b"\0"
        self.sock.sendall(b"Q" + struct.pack("!I", len(data) + 4) + data)
        rows, error = [], None
        while True:
            kind, data = self._read()
            if kind == b"T":
                rows = []
            elif kind == b"D":
                count = struct.unpack("!H", data[:2])[0]
                pos, row = 2, []
                for _ in range(count):
                    size = struct.unpack("!i", data[pos:pos + 4])[0]
                    pos += 4
                    if size < 0:
                        row.append(None)
                    else:
                        row.append(data[pos:pos + size].decode("utf-8"))
                        pos += size
                rows.append(tuple(row))
            elif kind == b"E":
                error = _error(data)
            elif kind == b"Z":
                if error:
                    raise PgError(error)
                return rows

    def close(self):
        try:
            self.sock.sendall(b"X" + struct.pack("!I", 4))
        except OSError:
            pass
        self.sock.close()


def _error(data):
    fields = {}
    for part in data.split(b"\0"):
        if part:
            fields[part[:1]] = part[1:].decode("utf-8", "replace")
    return f"{fields.get(b'S', 'ERROR')}: {fields.get(b'M', '?')}"
