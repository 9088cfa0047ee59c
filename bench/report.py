#!/usr/bin/env python3
"""report.py - turn bench/run's raw key=value files into a Markdown report and a chart.

Reads, from --dir, for --date D:
  D-env.kv      machine, kernel, versions, sizes
  D-runs.kv     one line per (repetition, workload, monitor) run
  D-profile.kv  BPF program run time per workload (herdwatch-agent only)
  D-rate.kv     max sustained event rate ladder (herdwatch-agent only)
Writes D.md, D-chart.dat, D.png (gnuplot, when installed).

Definitions (also in docs/performance.md):
  slowdown        wall(monitor) / wall(none) - 1, paired within one repetition, median over reps
  cpu slowdown    the same with the workload's own CPU time (user + sys, children included)
  monitor CPU     CPU of the monitor's processes (+ kauditd for auditd) while the workload ran
                  and until the monitor had written the workload's last event; shown as a
                  share of the workload's wall time without a monitor
  total overhead  slowdown + monitor CPU share (the workload's lost time plus the monitor's own)
  captured        operations the monitor's events of the workload stand for / operations the
                  workload made (summed over repetitions); a folded herdwatch event stands
                  for what it carries (HOW_COUNTED); in watch mode herdwatch's file opens are
                  counted in reports (one per process, file and 10 s window), as fanotify
                  merges the opens themselves
A run whose workload did no operation (a service run without a request: wrk missing or
failed) is a failed run: there is nothing to divide its time by.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

MONITOR_ORDER = ["none", "herdwatch", "floor", "hooks", "slowpath", "cap_empty", "auditd", "bpftrace"]
WORKLOAD_ORDER = ["exec", "connect", "open", "watched", "cap", "service"]
WORKLOAD_TEXT = {
    "exec": "exec storm: fork + exec + wait of /bin/true",
    "connect": "loopback TCP connect + accept + close",
    "open": "open + read 4 KiB + close of an unwatched file",
    "watched": "open + read + close of /etc/shadow (watched)",
    "cap": "fchown + setsockopt(SO_RCVBUFFORCE): CAP_CHOWN and CAP_NET_ADMIN checks",
    "service": "HTTP server on loopback under wrk (file read per request, reconnect every "
               "10 requests, helper exec every 100)",
}
CATEGORY_PROBE = {
    "exec": "process.exec",
    "connect": "net.connect",
    "accept": "net.accept",
    "file": "file.open",
    "file_reports": "file.open",
    "cap_chown": "process.capability",
    "cap_net_admin": "process.capability",
}
CATEGORY_ORDER = ["exec", "connect", "accept", "file", "file_reports", "cap_chown",
                  "cap_net_admin"]
# what one herdwatch event of a category stands for (bench/parse_events.sh counts it so)
HOW_COUNTED = {
    "connect": "Σ net.count",
    "accept": "Σ net.count",
    "file": "Σ 1 + file.repeats",
    "cap_chown": "Σ cap.checks",
    "cap_net_admin": "Σ cap.checks",
}


def read_kv(path):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            d = {}
            for tok in line.split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    d[k] = v
            if d:
                rows.append(d)
    return rows


def num(d, k, default=0.0):
    try:
        return float(d.get(k, default))
    except ValueError:
        return default


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def pct(x, digits=1):
    if x != x:  # nan
        return "–"
    return f"{x * 100:+.{digits}f}%"


def spread(xs, digits=1):
    if len(xs) < 2:
        return ""
    return f" ({min(xs) * 100:+.{digits}f} … {max(xs) * 100:+.{digits}f})"


def how_counted(mon, c, rr):
    """How the captured count of category c was made: ' in N events (Σ field)' when herdwatch's
    events stand for more than one operation each; for watch-mode file reports, what they
    stand for against the opens made."""
    if mon != "herdwatch":
        return ""
    rr = list(rr)
    if c == "file_reports":
        opens = sum(int(num(r, "ops")) for r in rr)
        rep = sum(int(num(r, "got_file")) for r in rr)
        return (f" (watch mode: fanotify merges a process's opens of a file, one report per "
                f"process, file and 10 s window; the reports stand for {rep} of {opens} opens)")
    if c not in HOW_COUNTED or not any(("got_" + c + "_events") in r for r in rr):
        return ""
    ev = sum(int(num(r, "got_" + c + "_events")) for r in rr)
    return f" in {ev} events ({HOW_COUNTED[c]})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--date", required=True)
    ap.add_argument("--publish", metavar="DOC",
                    help="also put the results into DOC between the bench:results markers "
                         "and copy the chart next to it as performance.png")
    a = ap.parse_args()
    base = os.path.join(a.dir, a.date)

    env = {}
    for d in read_kv(base + "-env.kv"):
        env.update(d)
    allruns = read_kv(base + "-runs.kv")
    for r in allruns:
        # nothing to divide by: a run without an operation is a failed one (older raw files
        # wrote such service runs as ok=1 with ops=0)
        if r.get("ok") == "1" and num(r, "ops") <= 0:
            r["ok"], r["error"] = "0", "no_operations"
    runs = [r for r in allruns if r.get("ok") == "1"]
    failed = [r for r in allruns if r.get("ok") != "1"]
    prof = read_kv(base + "-profile.kv")
    rate = read_kv(base + "-rate.kv")

    by = {}
    for r in runs:
        by.setdefault((r["workload"], r["monitor"]), {})[int(r["rep"])] = r
    workloads = [w for w in WORKLOAD_ORDER if any(k[0] == w for k in by)]
    monitors = [m for m in MONITOR_ORDER if any(k[1] == m for k in by)]

    out = []
    w = out.append
    w(f"# herdwatch benchmark — {a.date}\n")
    method = env.get("method", "fresh")
    how = (f"pinned to CPU {env.get('cpu', '?')}, one agent switched by SIGHUP, the base "
           "(none) being that agent with every probe off" if method == "pinned"
           else "every monitor started afresh for every run")
    w(f"Taken {env.get('date', '?')} by `bench/run` (mode {env.get('mode', '?')}, method "
      f"{method}: {how}; {env.get('reps', '?')} rounds, interleaved). Machine: {env.get('cpus', '?')} CPUs "
      f"({env.get('model', '?').replace('_', ' ')}), "
      f"{int(num(env, 'mem_kb') / 1024 / 1024 + 0.5)} GiB, Linux {env.get('kernel', '?')}; "
      f"load average {env.get('loadavg_start', '?')} at the start, "
      f"{env.get('loadavg_end', '?')} at the end. herdwatch-agent {env.get('agent', '?').replace('herdwatch-agent_', '')}, "
      f"bpftrace {env.get('bpftrace', '?')}, auditd {env.get('auditd', '?')}. "
      f"Sizes: {env.get('sizes', '?')}. At the start {env.get('bpf_progs_start', '?')} BPF "
      f"programs were loaded on the host and {env.get('agents_start', '?')} other "
      f"herdwatch-agent processes ran (other work on the shared machine).\n")

    # ---- main table ------------------------------------------------------------------------
    summary = {}  # (wl, mon) -> dict of medians
    bpf_share = {}  # wl -> BPF time per op / best op time without a monitor
    w("## Cost per workload\n")
    w("Per operation (one exec, one connect+accept, one open, one loop iteration, one HTTP "
      "request). "
      "Medians over the repetitions; slowdowns are paired with the run without a monitor of the "
      "same repetition, (min … max) in brackets. *Monitor CPU, all* is the monitor's own CPU "
      "(for auditd with the kernel's kauditd thread) as a share of the workload's time without "
      "a monitor; it includes the events of every other process that ran meanwhile on this "
      "shared machine. *Workload's share* scales it by the workload's part of the monitor's "
      "output (lines or audit records of the workload, its children and its client). "
      "*Total overhead* = slowdown + the workload's share of monitor CPU; *× auditd* divides it "
      "by auditd's. *Captured* is the operations the monitor's events of the workload stand "
      "for against the operations the workload made, summed over all repetitions: one per "
      "audit record or bpftrace line (bpftrace's capability map: its counts); for herdwatch "
      "what each event carries, as the column says (*in N events (Σ net.count)*: folded "
      "connects and accepts, the first event and the summary after the window; *Σ 1 + "
      "file.repeats*: opens folded in exact mode; *Σ cap.checks*: the capability summaries "
      "of each window). In watch mode (fanotify) the kernel merges a process's opens of a "
      "file before herdwatch reads them, so the opens are not known: herdwatch's *file_reports* "
      "counts its reports, one per process, file and 10 s window, against the windows of "
      "the run.\n")
    w("| workload | monitor | µs/op | slowdown | CPU slowdown | monitor CPU, all "
      "| monitor CPU, workload's share | total overhead | × auditd | RSS (MiB) | captured "
      "| lost / gaps |")
    w("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for wl in workloads:
        base_runs = by.get((wl, "none"), {})
        for mon in monitors:
            rr = by.get((wl, mon), {})
            if not rr:
                continue
            # per operation, so that the service workload (fixed duration, varying number of
            # requests) compares like the fixed-count ones
            def per_op(r, k):
                return num(r, k) / max(num(r, "ops"), 1)
            usop = [per_op(r, "wall_ns") / 1000 for r in rr.values()]
            slow, cslow, mcpu, mcpu_all, total, host = [], [], [], [], [], []
            for rep, r in rr.items():
                b = base_runs.get(rep)
                if not b or num(b, "wall_ns") <= 0:
                    continue
                bw, bc = per_op(b, "wall_ns"), per_op(b, "cpu_ns")
                s = per_op(r, "wall_ns") / bw - 1
                m = (num(r, "mon_cpu_ns") + num(r, "kaudit_ns")) / (bw * max(num(r, "ops"), 1))
                # the workload's share of the monitor's output (the rest is other processes'
                # events on a shared host); without that count, all of the monitor's CPU
                own_share = (num(r, "got_own") / num(r, "got_lines")
                             if "got_own" in r and num(r, "got_lines") > 0 else 1.0)
                mcpu_all.append(m)
                m *= min(own_share, 1.0)
                slow.append(s)
                cslow.append(per_op(r, "cpu_ns") / bc - 1 if bc > 0 else float("nan"))
                mcpu.append(m)
                total.append(s + m)
                if num(b, "host_ns") > 0:
                    host.append(num(r, "host_ns") / num(b, "host_ns") - 1)
            rss = med([num(r, "rss_kb") / 1024 for r in rr.values()])
            best_usop = min(usop) if usop else float("nan")
            exp_tot, got_tot, cats = 0, 0, []
            probes = set()
            for r in rr.values():
                probes.update(x for x in r.get("got_probes", "").split(",") if x)
            for c in CATEGORY_ORDER:
                if ("exp_" + c) not in next(iter(rr.values())):
                    continue
                e = sum(int(num(r, "exp_" + c)) for r in rr.values())
                g = sum(int(num(r, "got_" + c)) for r in rr.values())
                exp_tot += e
                got_tot += min(g, e) if e else 0
                if mon == "none":
                    continue
                note = ""
                if mon == "herdwatch" and probes and CATEGORY_PROBE[c] not in probes:
                    note = " (no probe)"
                if mon == "auditd" and c == "cap_net_admin":
                    note = " (no rule)"
                if e:
                    note += how_counted(mon, c, rr.values())
                if e == 0:
                    cats.append(f"{c} {g} (none expected){note}")
                else:
                    cats.append(f"{c} {g}/{e}{note}")
            missing = sorted(set(CATEGORY_PROBE[c] for c in CATEGORY_ORDER
                                 if ("exp_" + c) in next(iter(rr.values())))
                             - probes) if mon == "herdwatch" and probes else []
            lost = sum(int(num(r, "got_lost")) for r in rr.values())
            gaps = sum(int(num(r, "got_gaps")) for r in rr.values())
            summary[(wl, mon)] = {
                "slow": med(slow), "cslow": med(cslow), "mcpu": med(mcpu), "mcpu_all": med(mcpu_all),
                "total": med(total), "rss": rss, "exp": exp_tot, "got": got_tot,
                "complete": exp_tot == got_tot and lost == 0 and gaps == 0,
                "lost": lost, "gaps": gaps,
                "host": med(host), "n": len(rr), "best_usop": best_usop, "missing": missing,
            }
            if mon == "none":
                m_ = med(usop)
                noise = (f"runs {min(usop) / m_ * 100 - 100:+.0f} … {max(usop) / m_ * 100 - 100:+.0f}% "
                         "of their median" if len(usop) > 1 and m_ > 0 else "")
                w(f"| {wl} | none | {m_:.2f} | {noise} | | | | | | | | |")
                continue
            w(f"| {wl} | {mon} | {med(usop):.2f} | {pct(med(slow))}{spread(slow)} "
              f"| {pct(med(cslow))} | {med(mcpu_all) * 100:.1f}% | {med(mcpu) * 100:.1f}% "
              f"| {pct(med(total))} | {{x_{wl}_{mon}}} "
              f"| {rss:.1f} | {'; '.join(cats) or '–'} | {lost} / {gaps} |")
    # ratios of total overhead against auditd
    text = "\n".join(out)
    for (wl, mon), s in summary.items():
        a_ = summary.get((wl, "auditd"))
        key = "{x_%s_%s}" % (wl, mon)
        if a_ and a_["total"] > 0 and mon != "auditd":
            text = text.replace(key, f"{s['total'] / a_['total']:.3f}")
        else:
            text = text.replace(key, "")
    out = [text]
    w = out.append
    w("")
    w("Workloads: " + "; ".join(f"**{k}** {WORKLOAD_TEXT[k]}" for k in workloads) + ".\n")
    if failed:
        groups = {}
        for r in failed:
            groups.setdefault((r.get("workload"), r.get("monitor"), r.get("error")),
                              []).append(r.get("rep"))
        w(f"{len(failed)} run(s) failed and are left out: " +
          ", ".join(f"{wl_}/{m_} ({e_}) round{'s' if len(reps) > 1 else ''} {','.join(reps)}"
                    for (wl_, m_, e_), reps in groups.items()) + ".\n")

    for wl in set(d["workload"] for d in prof):
        rows = [d for d in prof if d["workload"] == wl]
        b = summary.get((wl, "none"), {}).get("best_usop", float("nan"))
        tot = sum(num(d, "ns") for d in rows) / max(num(rows[0], "ops"), 1) / 1000
        bpf_share[wl] = tot / b if b == b and b > 0 else float("nan")

    # ---- targets -----------------------------------------------------------------------------
    if any(m == "herdwatch" for (_, m) in summary):
        w("## Targets (issue 17; issues 2–5 and 8 before it)\n")
        w("| target | measured | met |")
        w("|---|---|---|")
        for wl in workloads:
            s = summary.get((wl, "herdwatch"))
            if not s:
                continue
            # issue 17: unwatched opens ≤ 2%, connect and exec ≤ 3%, watched opens ≤ 10%, the
            # capability loop ≤ the empty cap_capable program + 3 points (≤ 2% without that
            # monitor, the older target), the service no measurable effect (≤ 3% here)
            limit = {"open": 0.02, "watched": 0.10, "cap": 0.02}.get(wl, 0.03)
            ref, ref_s = 0.0, ""
            ce = summary.get((wl, "cap_empty"))
            if wl == "cap" and ce:
                ref, limit = ce["slow"], 0.03
                ref_s = f"the empty cap_capable program ({pct(ce['slow'])}) + "
            ok = s["slow"] <= ref + limit
            est = bpf_share.get(wl, float("nan"))
            est_s = f"; BPF time {est * 100:.2f}% of the op" if est == est else ""
            w(f"| {wl}: slowdown ≤ {ref_s}{limit * 100:.0f}{' points' if ref_s else '%'} | wall "
              f"{pct(s['slow'])}, CPU {pct(s['cslow'])}{est_s} | {'yes' if ok else 'no'} (wall) |")
        for wl in workloads:
            s = summary.get((wl, "herdwatch"))
            if not s or s["exp"] == 0:
                continue
            miss = (f" (this agent has no {', '.join(s['missing'])} probe)"
                    if s.get("missing") else "")
            met = "yes" if s["complete"] else "no"
            if not s["complete"] and s["got"] == s["exp"] and s["gaps"] == 0:
                # agent.loss announced possible losses (e.g. runs the kernel skipped, counted
                # whatever state change they were for) that missed none of the workload's
                met = (f"yes; {s['lost']} possible losses announced (agent.loss), "
                       "none of the workload's")
            w(f"| {wl}: every event captured | {s['got']}/{s['exp']}{miss} | {met} |")
        for wl in ("connect", "exec"):
            s, a_ = summary.get((wl, "herdwatch")), summary.get((wl, "auditd"))
            if s and a_ and a_["total"] > 0:
                r = s["total"] / a_["total"]
                w(f"| {wl}: total overhead ≤ 1/20 of auditd's | {pct(s['total'])} vs "
                  f"{pct(a_['total'])} = 1/{(1 / r) if r > 0 else float('inf'):.1f} "
                  f"| {'yes' if r <= 0.05 else 'no'} |")
        rss = [s["rss"] for (wl, m), s in summary.items() if m == "herdwatch"]
        if rss:
            w(f"| agent RSS ≤ 32 MiB | {max(rss):.1f} MiB (largest median over workloads) "
              f"| {'yes' if max(rss) <= 32 else 'no'} |")
        if rate:
            best = [r for r in rate if int(num(r, "got")) >= int(num(r, "ops"))
                    and num(r, "gaps") == 0 and num(r, "lost") == 0]
            if best:
                b = max(best, key=lambda r: num(r, "ops") / num(r, "wall_ns", 1) * 1e9)
                rt = num(b, "ops") / num(b, "wall_ns") * 1e9
                cores = num(b, "agent_cpu_ns") / 1e9 / (num(b, "wall_ns") / 1e9 +
                                                       max(num(b, "drain_ms"), 0) / 1000)
                pc = f"; {rt / cores:,.0f} events/s per agent core" if cores > 0 else ""
                w(f"| max sustained rate ≥ 500,000 events/s | {rt:,.0f}/s without loss "
                  f"({b.get('mode')} events{pc}) | {'yes' if rt >= 500000 else 'no'} |")
        w("")

    # ---- profile -----------------------------------------------------------------------------
    if prof:
        w("## Where herdwatch's time goes\n")
        w("One run per workload with `kernel.bpf_stats_enabled=1` (which itself adds a little to "
          "every program run). BPF time runs inside the workload's own syscalls; the agent's "
          "user-space CPU is what it spends decoding and writing the events.\n")
        w("| workload | BPF program | runs | ns/run | BPF µs per op | agent CPU µs per op "
          "| BPF time / op time |")
        w("|---|---|---:|---:|---:|---:|---:|")
        for wl in [x for x in WORKLOAD_ORDER if any(d["workload"] == x for d in prof)]:
            rows = [d for d in prof if d["workload"] == wl]
            ops = max(num(rows[0], "ops"), 1)
            tot = sum(num(d, "ns") for d in rows)
            for d in sorted(rows, key=lambda d: -num(d, "ns")):
                runs_, ns = num(d, "runs"), num(d, "ns")
                w(f"| {wl} | {d['prog']} | {int(runs_)} | {ns / max(runs_, 1):.0f} "
                  f"| {ns / ops / 1000:.3f} | | |")
            b = summary.get((wl, "none"), {}).get("best_usop", float("nan"))
            share = f"**{tot / ops / 1000 / b * 100:.2f}%**" if b == b and b > 0 else ""
            w(f"| {wl} | **all** | | | **{tot / ops / 1000:.3f}** "
              f"| **{num(rows[0], 'agent_cpu_ns') / ops / 1000:.2f}** | {share} |")
        w("")
        w("Runs include every process on the host, not only the workload's; the agent's CPU "
          "also covers the other processes' events during the run. *BPF time / op time* "
          "divides the BPF time per operation by the fastest time per operation without a "
          "monitor: the in-kernel part of the slowdown, measured by the kernel itself and so "
          "free of the machine's noise (it leaves out indirect costs such as wake-ups and "
          "cache misses).\n")

    # ---- rate ----------------------------------------------------------------------------------
    if rate:
        w("## Max sustained event rate (herdwatch-agent into its JSON file)\n")
        w("A generator (`build/bench/rate`, 2 threads) makes traced events at a fixed rate for "
          "a few seconds; the agent writes them to its JSON file. A step passes when every "
          "event is in the file, `seq` has no gap and the agent reports no loss. *Agent CPU* "
          "is the agent's CPU over the step (1.0 = one core busy).\n")
        w("| mode | target /s | reached /s | captured | gaps | lost | agent CPU (cores) "
          "| events/s per agent core | drain (ms) | JSON MB/s |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rate:
            wall = num(r, "wall_ns", 1) / 1e9
            reached = num(r, "ops") / wall
            cores = num(r, "agent_cpu_ns") / 1e9 / (wall + max(num(r, "drain_ms"), 0) / 1000)
            per_core = reached / cores if cores > 0 else float("nan")
            tgt = f"{int(num(r, 'target')):,}" if num(r, "target") > 0 else "as fast as it goes"
            w(f"| {r.get('mode')} | {tgt} | {reached:,.0f} "
              f"| {int(num(r, 'got'))}/{int(num(r, 'ops'))} | {int(num(r, 'gaps'))} "
              f"| {int(num(r, 'lost'))} | {cores:.2f} | {per_core:,.0f} "
              f"| {int(num(r, 'drain_ms'))} | {num(r, 'bytes') / wall / 1e6:.0f} |")
        w("")

    # ---- chart -------------------------------------------------------------------------------
    dat = base + "-chart.dat"
    mons = [m for m in monitors if m != "none"]
    with open(dat, "w") as f:
        f.write("# workload " + " ".join(f"{m}_slow {m}_cpu" for m in mons) + "\n")
        for wl in workloads:
            vals = []
            for m in mons:
                s = summary.get((wl, m))
                # log scale: clamp at 0.1% (noise can make a small slowdown negative)
                vals += [max(s["slow"] * 100, 0.1) if s else 0.1,
                         max(s["mcpu"] * 100, 0.1) if s else 0.1]
            f.write(wl + " " + " ".join(f"{v:.3f}" for v in vals) + "\n")
    png = base + ".png"
    if mons and summary and shutil.which("gnuplot"):
        n = len(mons)
        plot_slow = ", ".join(
            f"'{dat}' using {2 + 2 * i}:xtic(1) title '{m}' lc {i + 1}" for i, m in enumerate(mons))
        plot_cpu = ", ".join(
            f"'{dat}' using {3 + 2 * i}:xtic(1) title '{m}' lc {i + 1}" for i, m in enumerate(mons))
        gp = f"""
set terminal pngcairo size 1000,760 font ',10'
set output '{png}'
set multiplot layout 2,1 title 'herdwatch vs auditd vs bpftrace ({a.date}, {env.get('cpus', '?')} CPUs, Linux {env.get('kernel', '?')})'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [0.1:*]
set grid ytics
set key top left
set ylabel 'workload slowdown (%)'
plot {plot_slow}
set ylabel 'monitor CPU, workload share (% of workload time)'
plot {plot_cpu}
unset multiplot
"""
        r = subprocess.run(["gnuplot"], input=gp, text=True, capture_output=True)
        if r.returncode != 0:
            print("report: gnuplot failed: " + r.stderr, file=sys.stderr)
        else:
            w(f"![slowdown and monitor CPU per workload]({os.path.basename(png)})\n")
            w("Log scale; values below 0.1% (including small negative slowdowns, which are noise) "
              "are drawn at 0.1%.\n")

    text = "\n".join(out).rstrip() + "\n"
    with open(base + ".md", "w") as f:
        f.write(text)
    print(text)
    if a.publish:
        publish(a.publish, text, png, os.path.basename(png))


def publish(doc, text, png, png_name):
    """Replace the block between the markers in DOC; headings move down one level."""
    begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
    with open(doc) as f:
        cur = f.read()
    if begin not in cur or end not in cur:
        sys.exit(f"report: {doc} has no {begin} ... {end} block")
    body = []
    for line in text.splitlines():
        if line.startswith("# "):
            continue
        if line.startswith("#"):
            line = "#" + line
        body.append(line.replace(f"]({png_name})", "](performance.png)"))
    new = cur[:cur.index(begin) + len(begin)] + "\n" + "\n".join(body).strip() + "\n" + \
        cur[cur.index(end):]
    with open(doc, "w") as f:
        f.write(new)
    if os.path.exists(png):
        shutil.copyfile(png, os.path.join(os.path.dirname(os.path.abspath(doc)), "performance.png"))


if __name__ == "__main__":
    main()
