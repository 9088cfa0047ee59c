#!/usr/bin/env python3
# dns_client.py - DNS traffic for tests/probes/test_dns.sh through real sockets and syscalls.
#   query SERVER MODE NAME [PORT]  one A query; MODE picks the socket and syscalls:
#       udp (unconnected: sendto, recvfrom), udpmsg (unconnected: sendto, recvmsg),
#       udpc (connected: send, recv), udpread (connected: write, read),
#       tcp1 (length and message in one write; the answer in one read),
#       tcp2 (the 2-byte length read alone, then the message);
#     prints "PID ADDRESS" (the first A record, or "-"); with PORT it then connects (TCP) to
#     ADDRESS:PORT (refused on loopback: the attempt is what counts).
#   connect ADDR PORT               a TCP connect; prints its PID first.
#   hostile IP                      a responder on IP:53 (UDP) answering every query with a
#                                   compression loop; prints "ready" once bound.
#   unsolicited IP PORT             from IP:53, one answer-shaped datagram to 127.0.0.1:PORT, to
#                                   a socket that never sent a query; prints the receiver's PID.
import os, select, socket, struct, sys


def query(name, qid=0x5151):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", 1, 1)


def first_a(m):
    """The first A record's address in answer m (enough parsing for well-formed test answers)."""
    p, an = 12, struct.unpack(">H", m[6:8])[0]
    while m[p]:
        p += 1 + m[p]
    p += 5
    for _ in range(an):
        p += 2 if m[p] & 0xC0 else m.index(0, p) - p + 1
        t, _c, _ttl, ln = struct.unpack(">HHIH", m[p:p + 10])
        p += 10
        if t == 1:
            return socket.inet_ntoa(m[p:p + 4])
        p += ln
    return "-"


def do_query(server, mode, name):
    msg, dst = query(name), (server, 53)
    if mode in ("udp", "udpmsg"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(msg, dst)
        return s.recvfrom(1500)[0] if mode == "udp" else s.recvmsg(1500)[0]
    if mode in ("udpc", "udpread"):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.connect(dst)
        if mode == "udpc":
            s.send(msg)
            return s.recv(1500)
        os.write(s.fileno(), msg)
        select.select([s], [], [], 3)  # the socket is non-blocking (timeout)
        return os.read(s.fileno(), 1500)
    s = socket.create_connection(dst, timeout=3)
    s.sendall(struct.pack(">H", len(msg)) + msg)
    if mode == "tcp1":
        buf = b""
        while len(buf) < 2 or len(buf) < 2 + struct.unpack(">H", buf[:2])[0]:
            buf += s.recv(4096)
        return buf[2:]
    ln = struct.unpack(">H", s.recv(2, socket.MSG_WAITALL))[0]
    return s.recv(ln, socket.MSG_WAITALL)


def connect(addr, port):
    c = socket.socket()
    c.settimeout(2)
    try:
        c.connect((addr, port))
    except OSError:
        pass


def hostile(ip):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 53))
    print("ready", flush=True)
    while True:
        q, peer = s.recvfrom(1500)
        qend = 12
        while qend < len(q) and q[qend]:
            qend += 1 + q[qend]
        qend += 5
        # header: the query's id, QR RD RA, one question, one answer; the answer's name is a
        # pointer to itself (offset qend): a loop
        hdr = q[:2] + struct.pack(">HHHHH", 0x8180, 1, 1, 0, 0)
        rr = struct.pack(">HHHIH", 0xC000 | qend, 1, 1, 60, 4) + bytes([10, 9, 9, 9])
        s.sendto(hdr + q[12:qend] + rr, peer)


def unsolicited(ip, port):
    r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    r.bind(("127.0.0.1", port))
    r.settimeout(3)
    print(os.getpid(), flush=True)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, 53))
    ans = struct.pack(">HHHHHH", 0x7777, 0x8180, 1, 1, 0, 0) + query("x.test")[12:]
    ans += struct.pack(">HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([10, 7, 7, 7])
    s.sendto(ans, ("127.0.0.1", port))
    r.recvfrom(1500)


def main():
    cmd = sys.argv[1]
    if cmd == "query":
        server, mode, name = sys.argv[2:5]
        addr = first_a(do_query(server, mode, name))
        print(os.getpid(), addr, flush=True)
        if len(sys.argv) > 5 and addr != "-":
            connect(addr, int(sys.argv[5]))
    elif cmd == "connect":
        print(os.getpid(), flush=True)
        connect(sys.argv[2], int(sys.argv[3]))
    elif cmd == "hostile":
        hostile(sys.argv[2])
    elif cmd == "unsolicited":
        unsolicited(sys.argv[2], int(sys.argv[3]))


main()
