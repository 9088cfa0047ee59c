#!/usr/bin/env python3
"""Slow clients for the collector's TLS port: N connections from ADDRS source addresses
(127.0.0.2, 127.0.0.3, ...) that each dribble one byte of a TLS ClientHello every INTERVAL
seconds and never finish the handshake; a connection the collector closes is opened again
after 0.2 s. Runs SECONDS, then prints JSON: connections opened, closed by the collector, and
the longest time the collector held one of them open.

usage: slow_clients.py PORT SECONDS N ADDRS INTERVAL
"""
import json, os, resource, selectors, socket, sys, time

port, secs, n, naddr, interval = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), float(sys.argv[5])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
hello = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + bytes(500)
sel = selectors.DefaultSelector()
slots = [{"sock": None, "t0": 0, "off": 0, "next": 0} for _ in range(n)]
opened = closed = 0
held = 0.0
end = time.time() + secs


def close(s, now, by_peer):
    global closed, held
    if by_peer:
        closed += 1
        held = max(held, now - s["t0"])
    try:
        sel.unregister(s["sock"])
    except Exception:
        pass
    s["sock"].close()
    s["sock"] = None
    s["next"] = now + 0.2


while time.time() < end:
    now = time.time()
    for i, s in enumerate(slots):
        if s["sock"] is None and now >= s["next"]:
            try:
                k = socket.socket()
                k.setblocking(False)
                k.bind(("127.0.0.%d" % (2 + i % naddr), 0))
                k.connect_ex(("127.0.0.1", port))
            except OSError:
                s["next"] = now + 0.2
                continue
            s.update(sock=k, t0=now, off=0, next=now)
            sel.register(k, selectors.EVENT_READ, s)
            opened += 1
        elif s["sock"] is not None and now >= s["next"]:
            try:
                s["sock"].send(hello[s["off"] % len(hello):][:1])
                s["off"] += 1
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                close(s, now, True)
                continue
            s["next"] = now + interval
    for key, _ in sel.select(timeout=0.05):
        s = key.data
        try:
            if not s["sock"].recv(4096):
                close(s, time.time(), True)
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            close(s, time.time(), True)
# still open at the end: held for their whole life
now = time.time()
for s in slots:
    if s["sock"] is not None:
        held = max(held, now - s["t0"])
print(json.dumps({"opened": opened, "closed_by_collector": closed, "max_held_s": round(held, 2)}))
