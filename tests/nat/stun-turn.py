#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Small STUN/TURN client for the NAT lab's own checks (lab.sh).

  stun-turn.py mapping LOCAL_PORT SERVER:PORT...
      From one UDP port, a Binding request to each server; prints one
      "mapped IP:PORT" (or "timeout") line per server.  The same mapped
      port for every server: endpoint-independent mapping (cone); a
      different one each time: endpoint-dependent (symmetric).
  stun-turn.py allocate udp|tcp|tls SERVER PORT USER PASS [CAFILE]
      A TURN Allocate with long-term credentials (RFC 5766, RFC 5389),
      then a Refresh with lifetime 0.  For tls, the certificate is
      verified against CAFILE for the IP address.  Prints "ALLOCATED
      relayed=IP:PORT mapped=IP:PORT" and exits 0, else exits 1 with why.
"""
import hashlib
import hmac
import os
import socket
import ssl
import struct
import sys
import zlib

MAGIC = 0x2112A442


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def build(mtype, attrs, key=None):
    tid = os.urandom(12)
    body = b"".join(attrs)
    if key is not None:
        hdr = struct.pack("!HHI", mtype, len(body) + 24, MAGIC) + tid
        body += attr(0x0008, hmac.new(key, hdr + body, hashlib.sha1).digest())
    hdr = struct.pack("!HHI", mtype, len(body) + 8, MAGIC) + tid
    crc = (zlib.crc32(hdr + body) ^ 0x5354554E) & 0xFFFFFFFF
    body += attr(0x8028, struct.pack("!I", crc))
    return struct.pack("!HHI", mtype, len(body), MAGIC) + tid + body


def parse(data):
    mtype, length = struct.unpack("!HH", data[:4])
    attrs, i = {}, 20
    while i + 4 <= 20 + length:
        t, n = struct.unpack("!HH", data[i:i + 4])
        attrs.setdefault(t, data[i + 4:i + 4 + n])
        i += 4 + n + ((4 - n % 4) % 4)
    return mtype, attrs


def xaddr(v):
    port = struct.unpack("!H", v[2:4])[0] ^ (MAGIC >> 16)
    ip = struct.unpack("!I", v[4:8])[0] ^ MAGIC
    return "%s:%d" % (socket.inet_ntoa(struct.pack("!I", ip)), port)


def mapping(lport, servers):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", lport))
    s.settimeout(1.0)
    for srv in servers:
        host, port = srv.rsplit(":", 1)
        s.sendto(build(0x0001, []), (host, int(port)))
        try:
            _, a = parse(s.recv(2048))
            print(srv, "mapped", xaddr(a[0x0020]) if 0x0020 in a else "?")
        except socket.timeout:
            print(srv, "timeout")


class Conn:
    def __init__(self, proto, ip, port, cafile):
        self.udp = proto == "udp"
        if self.udp:
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.s.connect((ip, port))
        else:
            self.s = socket.create_connection((ip, port), timeout=3)
            if proto == "tls":
                ctx = ssl.create_default_context(cafile=cafile)
                self.s = ctx.wrap_socket(self.s, server_hostname=ip)
        self.s.settimeout(2)

    def recv_exact(self, n):
        b = b""
        while len(b) < n:
            chunk = self.s.recv(n - len(b))
            if not chunk:
                raise SystemExit("connection closed by the server")
            b += chunk
        return b

    def request(self, msg):
        for _ in range(3 if self.udp else 1):
            self.s.send(msg)
            try:
                if self.udp:
                    return self.s.recv(4096)
                hdr = self.recv_exact(20)
                return hdr + self.recv_exact(struct.unpack("!H", hdr[2:4])[0])
            except socket.timeout:
                continue
        raise SystemExit("no answer from the TURN server")


def allocate(proto, ip, port, user, pw, cafile):
    try:
        c = Conn(proto, ip, port, cafile)
        transport = attr(0x0019, bytes([17, 0, 0, 0]))  # UDP
        mtype, a = parse(c.request(build(0x0003, [transport])))
        if mtype != 0x0113 or 0x0014 not in a or 0x0015 not in a:
            raise SystemExit("expected a 401 with REALM and NONCE, got 0x%04x" % mtype)
        realm, nonce = a[0x0014], a[0x0015]
        key = hashlib.md5(b"%s:%s:%s" % (user.encode(), realm, pw.encode())).digest()
        auth = [attr(0x0006, user.encode()), attr(0x0014, realm), attr(0x0015, nonce)]
        mtype, a = parse(c.request(build(0x0003, [transport] + auth, key)))
        if mtype != 0x0103:
            err = a.get(0x0009, b"\0\0\0\0")
            raise SystemExit("Allocate failed: error %d" % (err[2] * 100 + err[3]))
        print("ALLOCATED relayed=%s mapped=%s" % (
            xaddr(a[0x0016]), xaddr(a[0x0020]) if 0x0020 in a else "?"))
        c.request(build(0x0004, [attr(0x000D, b"\0\0\0\0")] + auth, key))
    except (OSError, ssl.SSLError) as e:
        raise SystemExit("%s: %s" % (type(e).__name__, e))


def main():
    if len(sys.argv) > 3 and sys.argv[1] == "mapping":
        mapping(int(sys.argv[2]), sys.argv[3:])
    elif len(sys.argv) in (7, 8) and sys.argv[1] == "allocate":
        allocate(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5],
                 sys.argv[6], sys.argv[7] if len(sys.argv) == 8 else None)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
