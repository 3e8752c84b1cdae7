"""One CRI call with the standard library only: RuntimeService.Status (verbose), over the runtime's unix socket.

The DaemonSet's installer asks it whether the node's runtime has loaded the chain (Status's
info["cniconfig"], what `crictl info` prints). It runs frozen into the installer image, which carries
neither grpcio nor crictl, so this speaks the little of gRPC that one unary call needs: HTTP/2 without
TLS (prior knowledge), one stream, the request's headers as HPACK literals, flow-control windows large
enough for the whole answer, and the protobuf fields of StatusResponse read by hand. Response headers are
not decoded (that would need HPACK's Huffman table): a call that ends without a message is a gRPC error.
"""

from __future__ import annotations

import socket
import struct
import time

STATUS_PATH = "/runtime.v1.RuntimeService/Status"
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# frame types and flags (RFC 9113)
DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE = 0x0, 0x1, 0x3, 0x4, 0x6, 0x7, 0x8
END_STREAM, ACK, END_HEADERS, PADDED = 0x1, 0x1, 0x4, 0x8
SETTINGS_ENABLE_PUSH, SETTINGS_INITIAL_WINDOW_SIZE = 0x2, 0x4
DEFAULT_WINDOW = 65535
WINDOW = 16 * 2**20  # what this client accepts of one answer (containerd's verbose info is some 10 KiB)
STREAM = 1


class CriError(Exception):
    """The call failed; the message says where (connect, the runtime's answer) and why."""


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value: int, prefix_bits: int, first: int = 0) -> bytes:
    """An HPACK integer with an N-bit prefix (RFC 7541 5.1); first holds the bits above the prefix."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name: str, value: str) -> bytes:
    """A header as a literal without indexing, new name, no Huffman coding (RFC 7541 6.2.2)."""
    out = b"\x00"
    for text in (name.encode(), value.encode()):
        out += hpack_int(len(text), 7) + text
    return out


def request_headers(path: str = STATUS_PATH) -> bytes:
    fields = [
        (":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
        ("content-type", "application/grpc"), ("te", "trailers"), ("user-agent", "cniqs-installer"),
    ]  # fmt: skip
    return b"".join(hpack_literal(name, value) for name, value in fields)


def grpc_message(message: bytes) -> bytes:
    """A gRPC length-prefixed message, uncompressed."""
    return b"\x00" + struct.pack(">I", len(message)) + message


# StatusRequest{verbose: true}: field 1, wire type 0 (varint), value 1
STATUS_REQUEST = b"\x08\x01"


def varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise CriError("a truncated protobuf varint in the runtime's answer")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A protobuf message's fields in order: (number, int for varints and fixed, bytes for length-delimited)."""
    found: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        number, wire = key >> 3, key & 7
        value: int | bytes
        if wire == 0:
            value, pos = varint(data, pos)
        elif wire == 1 or wire == 5:
            size = 8 if wire == 1 else 4
            if pos + size > len(data):
                raise CriError("a truncated protobuf field in the runtime's answer")
            value, pos = int.from_bytes(data[pos : pos + size], "little"), pos + size
        elif wire == 2:
            size, pos = varint(data, pos)
            if pos + size > len(data):
                raise CriError("a truncated protobuf field in the runtime's answer")
            value, pos = data[pos : pos + size], pos + size
        else:
            raise CriError(f"protobuf wire type {wire} in the runtime's answer")
        found.append((number, value))
    return found


def status_info(message: bytes) -> dict[str, str]:
    """StatusResponse's info (field 2: map<string, string>, each entry a message of key 1 and value 2)."""
    info: dict[str, str] = {}
    for number, value in fields(message):
        if number == 2 and isinstance(value, bytes):
            entry = {n: v for n, v in fields(value) if isinstance(v, bytes)}
            info[entry.get(1, b"").decode()] = entry.get(2, b"").decode()
    return info


def grpc_payload(data: bytes) -> bytes:
    """The one message of a unary answer's DATA (length-prefixed); CriError when there is none."""
    if len(data) < 5:
        raise CriError(
            "the runtime answered without a message: a gRPC error (its status is in the HTTP/2 trailers; "
            "`crictl info` on the node shows it)"
        )
    if data[0] != 0:
        raise CriError("the runtime answered with a compressed message, which was not asked for")
    size = struct.unpack(">I", data[1:5])[0]
    if len(data) < 5 + size:
        raise CriError(f"the runtime's answer is truncated ({len(data) - 5} of {size} bytes)")
    return data[5 : 5 + size]


class _Reader:
    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise CriError("the runtime did not answer in time")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(max(65536, size - len(self.buffer)))
            except TimeoutError:
                raise CriError("the runtime did not answer in time") from None
            if not chunk:
                raise CriError("the runtime closed the connection before it answered")
            self.buffer += chunk
        out, self.buffer = self.buffer[:size], self.buffer[size:]
        return out

    def frame(self) -> tuple[int, int, int, bytes]:
        head = self.exactly(9)
        size = int.from_bytes(head[:3], "big")
        stream = struct.unpack(">I", head[5:9])[0] & 0x7FFFFFFF
        return head[3], head[4], stream, self.exactly(size)


def _unpad(flags: int, payload: bytes) -> bytes:
    if flags & PADDED:
        if not payload or payload[0] >= len(payload):
            raise CriError("a malformed padded frame in the runtime's answer")
        return payload[1 : len(payload) - payload[0]]
    return payload


def call(sock: socket.socket, path: str, request: bytes, timeout: float) -> bytes:
    """One unary gRPC call on a connected socket; the answer's DATA bytes (CriError on an HTTP/2 error)."""
    settings = struct.pack(">HI", SETTINGS_ENABLE_PUSH, 0) + struct.pack(">HI", SETTINGS_INITIAL_WINDOW_SIZE, WINDOW)
    sock.sendall(
        PREFACE
        + frame(SETTINGS, 0, 0, settings)
        + frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", WINDOW - DEFAULT_WINDOW))
        + frame(HEADERS, END_HEADERS, STREAM, request_headers(path))
        + frame(DATA, END_STREAM, STREAM, grpc_message(request))
    )
    reader = _Reader(sock, time.monotonic() + timeout)
    data = b""
    while True:
        kind, flags, stream, payload = reader.frame()
        if kind == SETTINGS and not flags & ACK:
            sock.sendall(frame(SETTINGS, ACK, 0))
        elif kind == PING and not flags & ACK:
            sock.sendall(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            code = struct.unpack(">I", payload[4:8])[0] if len(payload) >= 8 else -1
            raise CriError(f"the runtime closed the connection (HTTP/2 GOAWAY, error code {code}): {payload[8:]!r}")
        elif stream == STREAM and kind == RST_STREAM:
            code = struct.unpack(">I", payload[:4])[0] if len(payload) >= 4 else -1
            raise CriError(f"the runtime reset the call (HTTP/2 RST_STREAM, error code {code})")
        elif stream == STREAM and kind == DATA:
            data += _unpad(flags, payload)
            if len(data) > WINDOW:
                raise CriError(f"the runtime's answer is larger than {WINDOW} bytes")
        if stream == STREAM and kind in (DATA, HEADERS) and flags & END_STREAM:
            return data


def status(socket_path: str, timeout: float = 15) -> dict[str, str]:
    """RuntimeService.Status(verbose=true)'s info from the CRI runtime at socket_path."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        try:
            sock.connect(socket_path)
        except OSError as exc:
            raise CriError(f"cannot connect to {socket_path}: {exc.strerror or exc}") from None
        try:
            return status_info(grpc_payload(call(sock, STATUS_PATH, STATUS_REQUEST, timeout)))
        except OSError as exc:
            raise CriError(f"the connection to {socket_path} failed: {exc.strerror or exc}") from None
    finally:
        sock.close()
