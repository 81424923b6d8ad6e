"""A small raw PostgreSQL v3 frontend for tests: exact control over every byte a client sends.

Used where a driver hides what matters: extended-protocol batches (several Binds before one
Sync, text and binary parameters), COPY data split at arbitrary points, and hostile input
(malformed frames, wrong lengths, garbage) whose answer must be read byte by byte. Stdlib only.

    with WireConn("127.0.0.1", port) as c:
        c.startup("postgres", "app")                       # trust/password/md5/SCRAM
        [r] = c.query("SELECT 1")                          # simple protocol
        r.rows                                             # [("1",)]  (text, NULL -> None)
        rs = c.batch([Stmt("INSERT INTO t VALUES ($1)", [b"\\x00\\x00\\x00\\x2a"],
                           types=[INT4], formats=[1])])    # Parse/Bind/Describe/Execute..Sync

Every read is bounded by the connection's timeout (socket.timeout is raised, never a hang).
"""

import base64
import hashlib
import hmac
import os
import socket
import struct
import time
import uuid as uuid_mod

__all__ = ["WireConn", "PgError", "Result", "Stmt", "parse_error_fields",
           "stmt_frames", "INT2", "INT4", "INT8", "TEXT", "VARCHAR", "UUID", "UNKNOWN",
           "PROTOCOL_3", "SSL_REQUEST", "GSSENC_REQUEST", "CANCEL_REQUEST",
           "startup_packet", "frame", "int8_bin", "int4_bin", "int2_bin", "uuid_bin"]

UNKNOWN, INT8, INT2, INT4, TEXT, VARCHAR, UUID = 0, 20, 21, 23, 25, 1043, 2950
PROTOCOL_3 = 196608
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


def int8_bin(v):
    return struct.pack(">q", v)


def int4_bin(v):
    return struct.pack(">i", v)


def int2_bin(v):
    return struct.pack(">h", v)


def uuid_bin(u):
    return (u if isinstance(u, uuid_mod.UUID) else uuid_mod.UUID(str(u))).bytes


def frame(mtype, payload=b""):
    """One typed frontend message: type byte, int32 length (self-inclusive), payload."""
    if isinstance(mtype, str):
        mtype = mtype.encode()
    return mtype + struct.pack(">i", len(payload) + 4) + payload


def startup_packet(params, version=PROTOCOL_3):
    body = struct.pack(">i", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack(">i", len(body) + 4) + body


def _cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def parse_error_fields(payload):
    """ErrorResponse/NoticeResponse body -> {field letter: text}."""
    fields = {}
    for part in payload.split(b"\0"):
        if part:
            fields[chr(part[0])] = part[1:].decode("utf-8", "replace")
    return fields


class PgError(Exception):
    """An ErrorResponse: .sqlstate, .severity, .message, .fields."""

    def __init__(self, fields):
        self.fields = fields
        self.sqlstate = fields.get("C")
        self.severity = fields.get("V") or fields.get("S")
        self.message = fields.get("M", "")
        super().__init__(f"{self.severity} {self.sqlstate}: {self.message}")


class Result:
    """One statement's outcome: columns (names), rows (tuples of str/bytes/None), tag."""

    def __init__(self):
        self.columns = []
        self.formats = []
        self.types = []             # RowDescription type OIDs
        self.typmods = []           # RowDescription type modifiers
        self.rows = []
        self.tag = None
        self.error = None           # PgError when this statement failed

    @property
    def rowcount(self):
        """The count of a CommandComplete tag ('INSERT 0 5' -> 5, 'SELECT 3' -> 3)."""
        if not self.tag:
            return None
        last = self.tag.split()[-1]
        return int(last) if last.isdigit() else None

    def __repr__(self):
        return f"Result(tag={self.tag!r}, rows={self.rows!r}, error={self.error!r})"


class Stmt:
    """One Parse(+)Bind/Describe/Execute of a batch.

    params: list of str/bytes/None (str is sent as UTF-8). formats: per-parameter format codes
    (0 text, 1 binary) or one code for all. types: parameter type OIDs for Parse (0 = infer).
    name: a statement name; with prepare=False only Bind/Execute are sent (reuse a named
    statement parsed earlier in the batch or on the connection)."""

    def __init__(self, sql=None, params=(), types=(), formats=(), result_formats=(),
                 name="", prepare=True, describe=True):
        self.sql = sql
        self.params = list(params)
        self.types = list(types)
        self.formats = list(formats)
        self.result_formats = list(result_formats)
        self.name = name
        self.prepare = prepare and sql is not None
        self.describe = describe


class WireConn:
    def __init__(self, host, port, timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.buf = b""
        self.params = {}
        self.backend_key = None
        self.tx_status = None
        self.notices = []

    # -- plumbing ------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Vanishes abruptly: RST instead of FIN, no Terminate."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, mtype, payload=b""):
        self.sock.sendall(frame(mtype, payload))

    def _fill(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out waiting for the server")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return False
            self.buf += chunk
        return True

    def recv_byte(self, timeout=None):
        """One raw byte (the answer to SSLRequest/GSSENCRequest); None on EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if not self._fill(1, deadline):
            return None
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def recv_msg(self, timeout=None):
        """(type char, payload) of the next backend message; None when the server closed."""
        deadline = time.monotonic() + (timeout or self.timeout)
        if not self._fill(5, deadline):
            return None
        mtype = chr(self.buf[0])
        (length,) = struct.unpack(">i", self.buf[1:5])
        if length < 4 or length > 1 << 30:
            raise ValueError(f"bad backend message length {length} for type {mtype!r}")
        if not self._fill(1 + length, deadline):
            return None
        payload = self.buf[5:1 + length]
        self.buf = self.buf[1 + length:]
        return mtype, payload

    def recv_until_closed(self, timeout=None):
        """Every message until the server closes the connection: a list of (type, payload).
        Raises socket.timeout when the server keeps it open past the timeout (what arrived
        until then is in .last_messages either way)."""
        self.last_messages = []
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self.recv_msg(timeout=max(0.01, deadline - time.monotonic()))
            if m is None:
                return self.last_messages
            self.last_messages.append(m)

    def wait_closed(self, timeout=None):
        """True when the server closes the connection within `timeout` (the messages it sent
        first are in .last_messages); False when it is still open."""
        try:
            self.recv_until_closed(timeout)
            return True
        except socket.timeout:
            return False

    # -- startup -------------------------------------------------------------------------

    def startup(self, user, database, password=None, **params):
        """Logs in (trust, cleartext, md5 or SCRAM-SHA-256). Returns the ParameterStatus
        values; raises PgError on an ErrorResponse."""
        self.send_raw(startup_packet({"user": user, "database": database, **params}))
        while True:
            m = self.recv_msg()
            if m is None:
                raise ConnectionError("server closed the connection during startup")
            t, p = m
            if t == "R":
                (code,) = struct.unpack(">i", p[:4])
                if code == 0:
                    continue
                if code == 3:
                    self.send("p", _cstr(password or ""))
                elif code == 5:
                    salt = p[4:8]
                    inner = hashlib.md5((password or "").encode() + user.encode()).hexdigest()
                    outer = hashlib.md5(inner.encode() + salt).hexdigest()
                    self.send("p", _cstr("md5" + outer))
                elif code == 10:
                    mechs = [m.decode() for m in p[4:].split(b"\0") if m]
                    if "SCRAM-SHA-256" not in mechs:
                        raise NotImplementedError(f"SASL mechanisms {mechs}")
                    scram = _Scram(password or "")
                    first = scram.client_first().encode()
                    self.send("p", _cstr("SCRAM-SHA-256") + struct.pack(">i", len(first)) +
                              first)
                elif code == 11:
                    self.send("p", scram.client_final(p[4:].decode()).encode())
                elif code == 12:
                    scram.verify_server(p[4:].decode())
                else:
                    raise NotImplementedError(f"authentication request {code}")
            elif t == "S":
                k, v = p.split(b"\0")[:2]
                self.params[k.decode()] = v.decode()
            elif t == "K":
                self.backend_key = struct.unpack(">ii", p[:8])
            elif t == "E":
                raise PgError(parse_error_fields(p))
            elif t == "N":
                self.notices.append(parse_error_fields(p))
            elif t == "Z":
                self.tx_status = p.decode()
                return self.params
            else:
                raise ValueError(f"unexpected message {t!r} during startup")

    # -- simple protocol -----------------------------------------------------------------

    def query(self, sql, copy_data=None, raise_error=True):
        """Sends one Query; returns a Result per statement. copy_data: an iterable of byte
        chunks sent as CopyData messages when the server asks for COPY FROM STDIN. The first
        ErrorResponse is raised (after ReadyForQuery) unless raise_error is False."""
        self.send("Q", _cstr(sql))
        return self._collect(copy_data, raise_error)

    def _collect(self, copy_data=None, raise_error=True, expect_syncs=1):
        results, cur, first_error = [], Result(), None
        syncs = 0
        while True:
            m = self.recv_msg()
            if m is None:
                raise ConnectionError("server closed the connection mid-reply")
            t, p = m
            if t == "T":
                cur.columns, cur.formats, cur.types, cur.typmods = _row_description(p)
            elif t == "D":
                cur.rows.append(_data_row(p, cur.formats))
            elif t == "C":
                cur.tag = p.rstrip(b"\0").decode()
                results.append(cur)
                cur = Result()
            elif t == "I":
                cur.tag = ""
                results.append(cur)
                cur = Result()
            elif t == "E":
                err = PgError(parse_error_fields(p))
                cur.error = err
                results.append(cur)
                cur = Result()
                first_error = first_error or err
            elif t == "N":
                self.notices.append(parse_error_fields(p))
            elif t == "G":           # CopyInResponse
                for chunk in (copy_data or []):
                    self.send("d", chunk)
                self.send("c")
            elif t == "H":           # CopyOutResponse: rows arrive as CopyData
                pass
            elif t == "d":
                cur.rows.append(p)
            elif t in ("1", "2", "3", "n", "s", "t", "S", "A", "c"):
                if t == "t":
                    cur.param_types = list(struct.unpack(f">{struct.unpack('>h', p[:2])[0]}I",
                                                         p[2:]))
                if t == "n":
                    cur.columns = []
            elif t == "Z":
                self.tx_status = p.decode()
                syncs += 1
                if syncs >= expect_syncs:
                    break
            else:
                raise ValueError(f"unexpected backend message {t!r}")
        if first_error is not None and raise_error:
            raise first_error
        return results

    # -- extended protocol ---------------------------------------------------------------

    def batch(self, stmts, sync=True, raise_error=False):
        """Pipelines Parse/Bind/Describe/Execute for every Stmt, then one Sync; returns one
        Result per Execute that ran (an error stops the rest, as PostgreSQL does: the failing
        statement's Result has .error set). With sync=False nothing is read."""
        out = b""
        for s in stmts:
            out += stmt_frames(s)
        if sync:
            out += frame("S")
        self.send_raw(out)
        if not sync:
            return None
        return self._collect(raise_error=raise_error)

    def execute(self, sql, params=(), types=(), formats=(), result_formats=()):
        """One statement through the extended protocol (unnamed), Sync'ed; returns its
        Result or raises PgError."""
        rs = self.batch([Stmt(sql, params, types, formats, result_formats)], raise_error=True)
        return rs[0]

    def terminate(self):
        try:
            self.send("X")
        except OSError:
            pass
        self.close()


def stmt_frames(s):
    """The frames of one Stmt (Parse unless prepare=False, Bind, Describe, Execute)."""
    out = b""
    if s.prepare:
        body = _cstr(s.name) + _cstr(s.sql) + struct.pack(">h", len(s.types))
        body += b"".join(struct.pack(">I", t) for t in s.types)
        out += frame("P", body)
    body = _cstr("") + _cstr(s.name)
    body += struct.pack(">h", len(s.formats)) + b"".join(struct.pack(">h", f)
                                                         for f in s.formats)
    body += struct.pack(">h", len(s.params))
    for v in s.params:
        if v is None:
            body += struct.pack(">i", -1)
        else:
            b = v.encode() if isinstance(v, str) else bytes(v)
            body += struct.pack(">i", len(b)) + b
    body += struct.pack(">h", len(s.result_formats))
    body += b"".join(struct.pack(">h", f) for f in s.result_formats)
    out += frame("B", body)
    if s.describe:
        out += frame("D", b"P\0")
    out += frame("E", b"\0" + struct.pack(">i", 0))
    return out


class _Scram:
    """SCRAM-SHA-256 client side (RFC 5802/7677), no channel binding."""

    def __init__(self, password):
        self.password = password.encode()
        self.nonce = base64.b64encode(os.urandom(18)).decode()

    def client_first(self):
        self.first_bare = f"n=,r={self.nonce}"
        return "n,," + self.first_bare

    def client_final(self, server_first):
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        if not attrs["r"].startswith(self.nonce):
            raise ValueError("SCRAM: server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", self.password, base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={attrs['r']}"
        auth = f"{self.first_bare},{server_first},{without_proof}".encode()
        sig = hmac.new(stored_key, auth, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.expected_server_sig = base64.b64encode(
            hmac.new(server_key, auth, hashlib.sha256).digest()).decode()
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def verify_server(self, server_final):
        if server_final != f"v={self.expected_server_sig}":
            raise ValueError(f"SCRAM: bad server signature {server_final!r}")


def _row_description(p):
    """RowDescription -> (names, format codes, type OIDs, type modifiers)."""
    (n,) = struct.unpack(">h", p[:2])
    pos, names, formats, types, typmods = 2, [], [], [], []
    for _ in range(n):
        end = p.index(b"\0", pos)
        names.append(p[pos:end].decode())
        pos = end + 1
        _table, _col, typ, _size, mod, fmt = struct.unpack(">IhIhih", p[pos:pos + 18])
        formats.append(fmt)
        types.append(typ)
        typmods.append(mod)
        pos += 18
    return names, formats, types, typmods



def _data_row(p, formats):
    (n,) = struct.unpack(">h", p[:2])
    pos, row = 2, []
    for i in range(n):
        (length,) = struct.unpack(">i", p[pos:pos + 4])
        pos += 4
        if length < 0:
            row.append(None)
            continue
        v = p[pos:pos + length]
        pos += length
        binary = i < len(formats) and formats[i] == 1
        row.append(v if binary else v.decode("utf-8", "replace"))
    return tuple(row)
