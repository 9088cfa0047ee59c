#!/usr/bin/env python3
"""Hostile and well-formed frames sent to a collector over mutual TLS, written independently of
common/wire.c (so the format documented there is checked by a second implementation).

usage: frames.py PORT CA CERT KEY CASE [HOST [RUN]]
cases: good (a valid 2-event batch, waits for its ACK), good_v1 (the same as a version 1 frame,
       without run id), mixed (first event of HOST, second of another host), garbage,
       oversized, truncated, bad_version, bad_count, decompress, no_cert (TLS without a client
       certificate); strict JSON (issue 15), each a batch of a good event then a hostile one:
       dup_key (host.name twice: HOST, then db-1), nul_host (host.name holding an escaped NUL), bad_utf8
       (a raw 0xff byte in proc.exe), seq_exp (seq 1e2), seq_float (3002.7), seq_str ("5"),
       pid_float (proc.pid 3002.7); utf8_ok (valid non-ASCII, escaped bytes and NUL in args: stored)
HOST: host.name of the events (default frames-host: the certificate must be issued for it);
RUN: the frame's run id (default 1).
Prints "closed" when the collector closed the connection, "ack <stored> <dups>" for an ACK.
"""
import socket, ssl, struct, sys, json, time

port, ca, cert, key, case = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
hostname = sys.argv[6] if len(sys.argv) > 6 else "frames-host"
run_id = int(sys.argv[7]) if len(sys.argv) > 7 else 1


def zstd_raw(data):
    # one zstd frame holding one raw (uncompressed) block: magic, frame header descriptor
    # (single segment, 4-byte content size), content size, block header (last, raw, size)
    fhd = 0x80 | 0x20
    bh = (len(data) << 3) | (0 << 1) | 1
    return struct.pack("<IB", 0xFD2FB528, fhd) + struct.pack("<I", len(data)) + \
        struct.pack("<I", bh)[:3] + data


def batch(lines, count=None, version=2, zdata=None):
    # version 2: batch id, first seq, count, raw_len, run id, host_len, boot_len, ids, zstd;
    # version 1: the same without the run id
    raw = b"".join(l + b"\n" for l in lines)
    z = zdata if zdata is not None else zstd_raw(raw)
    host, boot = b"frames-id", b"frames-boot"
    payload = struct.pack(">QQII", 7, 1, len(lines) if count is None else count, len(raw))
    if version != 1:
        payload += struct.pack(">Q", run_id)
    payload += bytes([len(host), len(boot)]) + host + boot + z
    return struct.pack(">IBBHI", 0x48574652, version, 1, 0, len(payload)) + payload


ev = lambda seq, h=None: json.dumps({"seq": seq, "time": "2026-11-27T10:00:00Z", "kind": "process.exec",
                                     "host": {"name": h or hostname, "id": "frames-id", "boot_id": "frames-boot"},
                                     "proc": {"exe": "/usr/bin/true"}}).encode()

def hostile(seq, case):
    h = hostname.encode()
    pre = b'{"seq":%d,"time":"2026-11-27T10:00:00Z","kind":"process.exec",' % seq
    host = b'"host":{"name":"' + h + b'","id":"frames-id","boot_id":"frames-boot"}'
    proc = b'"proc":{"exe":"/usr/bin/true"}'
    if case == "dup_key":
        host = b'"host":{"name":"' + h + b'","id":"frames-id","name":"db-1"}'
    elif case == "nul_host":
        host = b'"host":{"name":"' + h + b'\\u0000db-1","id":"frames-id"}'
    elif case == "bad_utf8":
        proc = b'"proc":{"exe":"/usr/bin/tr\xffue"}'
    elif case in ("seq_exp", "seq_float", "seq_str"):
        pre = pre.replace(b'"seq":%d' % seq, {"seq_exp": b'"seq":1e2', "seq_float": b'"seq":3002.7',
                                              "seq_str": b'"seq":"5"'}[case])
    elif case == "pid_float":
        proc = b'"proc":{"exe":"/usr/bin/true","pid":3002.7}'
    elif case == "utf8_ok":
        proc = '"proc":{"exe":"/usr/bin/caf\u00e9 \u20ac","args":["\\u00ff\\u00fe","a\\u0000b"]}'.encode()
    return pre + host + b"," + proc + b"}"


HOSTILE = ("dup_key", "nul_host", "bad_utf8", "seq_exp", "seq_float", "seq_str", "pid_float", "utf8_ok")

ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca)
if case != "no_cert":
    ctx.load_cert_chain(cert, key)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    if case == "good":
        t.sendall(batch([ev(1), ev(2)]))
    elif case == "good_v1":
        t.sendall(batch([ev(1), ev(2)], version=1))
    elif case == "mixed":
        t.sendall(batch([ev(1), ev(2, hostname + "-other")]))
    elif case == "garbage":
        t.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" + bytes(range(256)))
    elif case == "oversized":
        t.sendall(struct.pack(">IBBHI", 0x48574652, 1, 1, 0, 100 << 20) + b"x" * 1000)
    elif case == "truncated":
        t.sendall(struct.pack(">IBBHI", 0x48574652, 1, 1, 0, 1000) + b"y" * 10)
        time.sleep(0.2)
        t.close()
        print("sent")
        sys.exit(0)
    elif case == "bad_version":
        t.sendall(batch([ev(3)], version=9))
    elif case == "bad_count":
        t.sendall(batch([ev(4), ev(5)], count=3))
    elif case == "decompress":
        t.sendall(batch([ev(6)], zdata=b"\x28\xb5\x2f\xfd" + b"\xff" * 40))
    elif case in HOSTILE:
        t.sendall(batch([ev(run_id * 100 + 1), hostile(run_id * 100 + 2, case)]))
    elif case == "no_cert":
        t.sendall(batch([ev(9)]))
    data = t.recv(64)
    if not data:
        print("closed")
    elif len(data) >= 36 and data[:4] == b"HWFR" and data[5] == 2:
        bid, stored, dups, rej, status = struct.unpack(">QIIII", data[12:36])
        print("ack %d %d" % (stored, dups))
    else:
        print("other %r" % data)
except (ssl.SSLError, ConnectionResetError, BrokenPipeError, OSError) as e:
    print("closed", type(e).__name__)
