#!/usr/bin/env python3
"""report.py - tables (markdown + JSON), plot and checks for tests/bench/run.sh.

  report.py --raw RAW.jsonl --out DIR --command CMD ...   results.json, results.md, plot.png
  report.py --readme README.md --out DIR                  results.md into README between the markers
  report.py --check DIR --paths LIST --ports LIST         the smoke test: outputs exist, numbers well formed
"""
import argparse
import datetime
import json
import math
import os
import platform
import sys

MARK_BEGIN = "<!-- bench-results:begin (tests/bench/run.sh --readme rewrites this part) -->"
MARK_END = "<!-- bench-results:end -->"
PATH_FIELDS = ("tcp1_gbit", "tcp4_gbit", "udp64_fps", "rtt_p50_us", "rtt_p99_us")
RATIO_FIELDS = ("tcp1_gbit", "tcp4_gbit", "udp64_fps", "rtt_p50_us", "rtt_p99_us")
SCALE_FIELDS = ("rate_fps", "load_lat_p50_us", "load_lat_p99_us", "rtt_p50_us", "rtt_p99_us",
                "mem_per_port_bytes", "switch_cpu_us_per_frame")

METHOD = {
    "paths": "two network-namespace hosts 192.0.2.1 -> 192.0.2.2; each path set up alone, one after the other",
    "tcp1_gbit": "iperf3 -t S, 1 stream, receiver's bits_per_second",
    "tcp4_gbit": "iperf3 -t S -P 4, receiver's sum",
    "udp64_fps": "iperf3 -u -b 0 -l 18 -t S (60-byte Ethernet frames, 64 with FCS): (packets - lost) / seconds",
    "rtt_p50_us, rtt_p99_us": "ping -i 0.002, N samples, percentiles of the per-packet times",
    "cpu_path_s_per_gb": "utime+stime (/proc/PID/stat, every thread) of the path's processes during the TCP 1-stream "
                         "test / GB received (vde_switch + 2 vde_plug2tap; vmfabric-switch + 2 vmfabric-nic; 0 for kernel paths)",
    "cpu_sys_s_per_gb": "busy time of the whole machine (/proc/stat: all but idle and iowait) during the TCP 1-stream "
                        "test / GB received: includes iperf3, the kernel and whatever else runs",
    "guests": "two QEMU TCG guests (vmlab, 256 MiB) in one namespace; guest b downloads guest a's 32 MiB "
              "/big.bin (tmpfs) over HTTP 4 times to /dev/null, timed with the guest's /proc/uptime; CPU s/GB = "
              "utime+stime of the NIC processes / of the switch / of both QEMUs between the guest's start and end "
              "markers, per GB downloaded",
    "gateway": "one QEMU TCG guest (vmlab, 256 MiB, DHCP) downloads a 32 MiB /big.bin from python3 http.server "
               "on its namespace's loopback via http://10.0.2.2/ 4 times (guest-http.sh); CPU s/GB per process "
               "over the download window; frames per message and segments per super-frame from the gateway's counters",
    "scaling": "vmf-loadgen: N DEALER ports in one process on loopback, each sending batches of 32 64-byte unicast "
               "frames to its pair, at most 8 batches per port and 8192 frames over all ports in flight; "
               "rate = frames received per second after a warm-up; one-way latency from timestamps in the frames; "
               "rtt = one pair ping-pongs one frame while N-2 ports idle; memory per port = (switch RSS with N idle "
               "ports - RSS before they connected) / N; marginal = (RSS with N idle ports - RSS with the fewest) / (N - fewest), "
               "each on a fresh switch; switch CPU per frame from /proc/PID/stat over the rate window",
}


def fnum(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def fmt(x, spec):
    return spec % x if fnum(x) else "-"


def row(label, d, cols):
    """a markdown table row: @label, then d's values for (key, format) in cols"""
    return "| %s | %s |" % (label, " | ".join(fmt(d.get(k), spec) for k, spec in cols))


def ratio(a, b):
    return a / b if fnum(a) and fnum(b) and b else None


def generate(a):
    paths, scaling = [], []
    with open(a.raw) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            d = json.loads(line)
            if d.get("id") == "scale":
                d.pop("id")
                scaling.append(d)
            else:
                paths.append(d)
    guests = [p for p in paths if p["id"].startswith("guest-")]
    gws = [p for p in paths if p["id"].startswith("gw-")]
    paths = [p for p in paths if not p["id"].startswith(("guest-", "gw-"))]
    gwd = {g["id"]: g for g in gws}
    for g in gws:
        g["x_user"] = ratio(g.get("http_mbit"), gwd.get("gw-user", {}).get("http_mbit"))
    gd = {g["id"]: g for g in guests}
    for g in guests:
        g["x_direct"] = ratio(g.get("http_mbit"), gd.get("guest-direct", {}).get("http_mbit"))
    by = {p["id"]: p for p in paths}
    for p in paths:
        for ref in ("vde", "veth"):
            r = by.get(ref)
            p["x_" + ref] = {k: ratio(p.get(k), r.get(k) if r else None) for k in RATIO_FIELDS}
    base = {}
    for s in scaling:
        if s["ports"] == min(x["ports"] for x in scaling if x["mode"] == s["mode"]):
            base[s["mode"]] = s
    for s in scaling:
        b = base.get(s["mode"])
        s["rate_x_min_ports"] = ratio(s.get("rate_fps"), b.get("rate_fps") if b else None)
        # what one more port costs, without the one-time cost of the first (network, FDB, buffers)
        s["mem_marginal_bytes"] = None
        if b and s["ports"] > b["ports"] and fnum(s.get("switch_rss_idle_kib")) and fnum(b.get("switch_rss_idle_kib")):
            s["mem_marginal_bytes"] = (s["switch_rss_idle_kib"] - b["switch_rss_idle_kib"]) * 1024 / (s["ports"] - b["ports"])

    def sc(mode, n):
        for s in scaling:
            if s["mode"] == mode and s["ports"] == n:
                return s
        return {}

    def pv(i, k):
        return by.get(i, {}).get(k)

    nmax = max([s["ports"] for s in scaling] or [0])
    nmin = min([s["ports"] for s in scaling] or [0])
    targets = []

    def target(name, value, goal, ok, what):
        targets.append({"target": name, "measured": value, "goal": goal,
                        "met": (bool(ok(value)) if fnum(value) else None), "how": what})

    target("CURVE TCP >= 1.2x vde (no super-frames)", ratio(pv("vmf-curve-nooff", "tcp1_gbit"), pv("vde", "tcp1_gbit")),
           1.2, lambda v: v >= 1.2, "TCP 1 stream, vmf-curve-nooff / vde")
    target("--insecure TCP >= 2x vde (no super-frames)", ratio(pv("vmf-insecure-nooff", "tcp1_gbit"), pv("vde", "tcp1_gbit")),
           2.0, lambda v: v >= 2.0, "TCP 1 stream, vmf-insecure-nooff / vde")
    target("CURVE TCP >= 4x vde with TSO super-frames", ratio(pv("vmf-curve", "tcp1_gbit"), pv("vde", "tcp1_gbit")),
           4.0, lambda v: v >= 4.0, "TCP 1 stream, vmf-curve (offloads on) / vde")
    target("p50 latency <= 1.5x vde's", ratio(pv("vmf-curve", "rtt_p50_us"), pv("vde", "rtt_p50_us")),
           1.5, lambda v: v <= 1.5, "ping p50, vmf-curve / vde")
    target("p50 latency <= 1.5x vde's, switch --busy-poll 5000", ratio(pv("vmf-curve-bp", "rtt_p50_us"), pv("vde", "rtt_p50_us")),
           1.5, lambda v: v <= 1.5, "ping p50, vmf-curve-bp / vde")
    target("64-byte fps >= vde's", ratio(pv("vmf-curve", "udp64_fps"), pv("vde", "udp64_fps")),
           1.0, lambda v: v >= 1.0, "UDP 64-byte frames/s received, vmf-curve / vde")
    target("site -> root -> site: TCP >= 0.9x one switch (3 switches on the same cores; per switch: tests/bench/trunk.sh)",
           ratio(pv("vmf-curve-trunk", "tcp1_gbit"), pv("vmf-curve", "tcp1_gbit")),
           0.9, lambda v: v >= 0.9, "TCP 1 stream, vmf-curve-trunk / vmf-curve")
    for mode in ("curve", "insecure"):
        target("forwarding rate at %d ports within 20%% of %d ports (%s)" % (nmax, nmin, mode),
               ratio(sc(mode, nmax).get("rate_fps"), sc(mode, nmin).get("rate_fps")),
               0.8, lambda v: v >= 0.8, "vmf-loadgen frames/s, %d ports / %d ports" % (nmax, nmin))
    for mode in ("curve", "insecure"):
        m = sc(mode, nmax).get("mem_per_port_bytes")
        target("memory per idle port < 64 KiB (%s, %d ports)" % (mode, nmax), m / 1024 if fnum(m) else None,
               64, lambda v: v < 64, "KiB: (switch RSS with %d idle ports - RSS before) / %d" % (nmax, nmax))

    if guests:
        target("vhost-user guests: HTTP >= 2x the same guests on QEMU's -netdev socket (issue 17)",
               gd.get("guest-vhost", {}).get("x_direct"), 2.0, lambda v: v >= 2.0,
               "guest HTTP Mbit/s, guest-vhost / guest-direct")
        target("dgram guests: HTTP vs QEMU's -netdev socket (reported)", gd.get("guest-dgram", {}).get("x_direct"),
               None, lambda v: True, "guest HTTP Mbit/s, guest-dgram / guest-direct")
        target("NIC process CPU per GB, vhost-user / dgram (reported; lower is better)",
               ratio(gd.get("guest-vhost", {}).get("cpu_nic_s_per_gb"), gd.get("guest-dgram", {}).get("cpu_nic_s_per_gb")),
               None, lambda v: True, "CPU s/GB of both NIC processes, guest-vhost / guest-dgram")
    if gws:
        target("guest download through the gateway, vhost-user: >= 0.9x QEMU's -netdev user (issue 17)",
               gwd.get("gw-vhost", {}).get("x_user"), 0.9, lambda v: v >= 0.9,
               "guest HTTP Mbit/s, gw-vhost / gw-user")
        target("guest download through the gateway, dgram: >= 0.9x QEMU's -netdev user (issue 17)",
               gwd.get("gw-dgram", {}).get("x_user"), 0.9, lambda v: v >= 0.9,
               "guest HTTP Mbit/s, gw-dgram / gw-user")
    res = {
        "command": a.command,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": {"cpus": os.cpu_count(), "kernel": platform.release(),
                 "load_average_start": a.load_start, "load_average_end": a.load_end},
        "seconds_per_measurement": a.seconds, "pings": a.pings, "elapsed_s": a.elapsed,
        "method": METHOD, "paths": paths, "guests": guests, "gateway": gws, "scaling": scaling, "targets": targets,
    }
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(markdown(res))
    plot(res, os.path.join(a.out, "plot.png"))


def markdown(res):
    h = res["host"]
    o = []
    o.append("```\n%s\n```\n" % res["command"])
    o.append("%s; %s CPUs, Linux %s; load average %s at the start, %s at the end; %s s per measurement, "
             "%s pings; %s s in all.\n" % (res["date"], h["cpus"], h["kernel"], h["load_average_start"],
                                          h["load_average_end"], res["seconds_per_measurement"], res["pings"],
                                          res["elapsed_s"]))
    o.append("**Paths between two namespace hosts**\n")
    o.append("| path | TCP 1 stream Gbit/s | TCP 4 streams Gbit/s | UDP 64 B frames/s rx | RTT p50 µs | RTT p99 µs "
             "| CPU s/GB, path processes | CPU s/GB, machine |")
    o.append("|---|---:|---:|---:|---:|---:|---:|---:|")
    for p in res["paths"]:
        o.append(row(p["label"], p, [("tcp1_gbit", "%.2f"), ("tcp4_gbit", "%.2f"), ("udp64_fps", "%.0f"),
                                     ("rtt_p50_us", "%.0f"), ("rtt_p99_us", "%.0f"),
                                     ("cpu_path_s_per_gb", "%.2f"), ("cpu_sys_s_per_gb", "%.2f")]))
    o.append("\n**Ratios: path / vde_switch and path / veth** (latency: lower is better)\n")
    o.append("| path | TCP 1 stream | TCP 4 streams | UDP 64 B frames/s | RTT p50 | RTT p99 |")
    o.append("|---|---:|---:|---:|---:|---:|")
    for p in res["paths"]:
        cells = []
        for k in RATIO_FIELDS:
            cells.append("%s vde, %s veth" % (fmt(p["x_vde"].get(k), "%.2fx"), fmt(p["x_veth"].get(k), "%.2fx")))
        o.append("| %s | %s |" % (p["label"], " | ".join(cells)))
    if res.get("guests"):
        o.append("\n**Guest to guest** (QEMU TCG guests, HTTP download of 4 x 32 MiB)\n")
        o.append("| path | HTTP Mbit/s | vs -netdev socket | CPU s/GB NIC processes | CPU s/GB switch | CPU s/GB QEMUs |")
        o.append("|---|---:|---:|---:|---:|---:|")
        for g in res["guests"]:
            o.append(row(g["label"], g, [("http_mbit", "%.0f"), ("x_direct", "%.2fx"), ("cpu_nic_s_per_gb", "%.2f"),
                                         ("cpu_switch_s_per_gb", "%.2f"), ("cpu_qemu_s_per_gb", "%.1f")]))
    if res.get("gateway"):
        o.append("\n**Guest download through the gateway** (one QEMU TCG guest, HTTP download of 4 x 32 MiB "
                 "from the host's loopback via 10.0.2.2)\n")
        o.append("| path | HTTP Mbit/s | vs -netdev user | CPU s/GB QEMU | gateway | switch | NIC process "
                 "| HTTP server | gateway frames/message | segments/super-frame |")
        o.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for g in res["gateway"]:
            o.append(row(g["label"], g, [("http_mbit", "%.0f"), ("x_user", "%.2fx"), ("cpu_qemu_s_per_gb", "%.1f"),
                                         ("cpu_gateway_s_per_gb", "%.2f"), ("cpu_switch_s_per_gb", "%.2f"),
                                         ("cpu_nic_s_per_gb", "%.2f"), ("cpu_http_s_per_gb", "%.2f"),
                                         ("gw_frames_per_msg", "%.1f"), ("gw_segments_per_super", "%.1f")]))
    if res["scaling"]:
        s0 = res["scaling"][0]
        o.append("\n**Switch scaling**: vmf-loadgen ports on loopback, %d-byte frames in batches of %d, every port "
                 "to its pair\n" % (s0.get("size", 64), s0.get("batch", 32)))
        o.append("| switch | ports | forwarding, frames/s | vs fewest ports | one-way latency under load p50 / p99 µs "
                 "| RTT one pair, others idle p50 / p99 µs | switch CPU µs/frame | switch memory per idle port KiB "
                 "| marginal, KiB/port over the fewest ports |")
        o.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s in res["scaling"]:
            m = s.get("mem_per_port_bytes")
            mm = s.get("mem_marginal_bytes")
            o.append("| %s | %d | %s | %s | %s / %s | %s / %s | %s | %s | %s |" % (
                "CURVE" if s["mode"] == "curve" else "--insecure", s["ports"], fmt(s.get("rate_fps"), "%.0f"),
                fmt(s.get("rate_x_min_ports"), "%.2fx"), fmt(s.get("load_lat_p50_us"), "%.0f"),
                fmt(s.get("load_lat_p99_us"), "%.0f"), fmt(s.get("rtt_p50_us"), "%.0f"),
                fmt(s.get("rtt_p99_us"), "%.0f"), fmt(s.get("switch_cpu_us_per_frame"), "%.2f"),
                fmt(m / 1024 if fnum(m) else None, "%.1f"), fmt(mm / 1024 if fnum(mm) else None, "%.1f")))
    o.append("\n**Targets from issues 5 and 17** (reported, not asserted)\n")
    o.append("| target | measured | met | how |")
    o.append("|---|---:|---|---|")
    for t in res["targets"]:
        o.append("| %s | %s | %s | %s |" % (t["target"], fmt(t["measured"], "%.2f"),
                                           {True: "yes", False: "no", None: "-"}[t["met"]]
                                           if t["goal"] is not None else "-", t["how"]))
    return "\n".join(o) + "\n"


def plot(res, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    P = res["paths"]
    labels = [p["label"].replace("vmfabric ", "vmfabric\n").replace(" + ", "+\n").replace(", ", "\n")
              .replace(" (", "\n(") for p in P]
    x = range(len(P))
    fig, ax = plt.subplots(2, 2, figsize=(15, 10))

    def bars(a, keys, names, title, ylabel, log=False):
        w = 0.8 / len(keys)
        for i, (k, n) in enumerate(zip(keys, names)):
            v = [p.get(k) if fnum(p.get(k)) else 0 for p in P]
            a.bar([xi + (i - (len(keys) - 1) / 2) * w for xi in x], v, w, label=n)
        a.set_xticks(list(x))
        a.set_xticklabels(labels, fontsize=7)
        a.set_title(title)
        a.set_ylabel(ylabel)
        if log:
            a.set_yscale("log")
        a.legend(fontsize=8)
        a.grid(axis="y", alpha=0.3)

    bars(ax[0][0], ("tcp1_gbit", "tcp4_gbit"), ("1 stream", "4 streams"), "iperf3 TCP throughput", "Gbit/s")
    bars(ax[0][1], ("rtt_p50_us", "rtt_p99_us"), ("p50", "p99"), "ping round trip", "µs (log)", log=True)
    bars(ax[1][0], ("udp64_fps",), ("received",), "UDP 64-byte frames", "frames/s")
    a = ax[1][1]
    for mode in ("insecure", "curve"):
        s = [e for e in res["scaling"] if e["mode"] == mode]
        if s:
            a.plot([e["ports"] for e in s], [e.get("rate_fps") or 0 for e in s], "o-",
                   label="forwarding, %s" % ("CURVE" if mode == "curve" else "--insecure"))
    a.set_xscale("log", base=2)
    a.set_xlabel("ports")
    a.set_ylabel("frames/s")
    a.set_title("switch scaling (vmf-loadgen, 64-byte frames)")
    a.grid(alpha=0.3)
    a.legend(fontsize=8)
    a2 = a.twinx()
    for mode in ("insecure", "curve"):
        s = [e for e in res["scaling"] if e["mode"] == mode]
        if s:
            a2.plot([e["ports"] for e in s], [e.get("rtt_p99_us") or 0 for e in s], "x--",
                    label="RTT p99 µs, %s" % ("CURVE" if mode == "curve" else "--insecure"))
    a2.set_ylabel("RTT p99 µs (one pair)")
    a2.legend(fontsize=8, loc="lower left")
    fig.suptitle("vmfabric benchmark, %s (load average %s)" % (res["date"], res["host"]["load_average_start"]))
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def readme(a):
    with open(os.path.join(a.out, "results.md")) as f:
        table = f.read()
    with open(a.readme) as f:
        text = f.read()
    i, j = text.find(MARK_BEGIN), text.find(MARK_END)
    if i < 0 or j < i:
        sys.exit("report.py: the bench markers are missing from %s" % a.readme)
    text = text[:i + len(MARK_BEGIN)] + "\n" + table + text[j:]
    tmp = a.readme + ".bench.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, a.readme)


def check(a):
    bad = []
    try:
        with open(os.path.join(a.check, "results.json")) as f:
            res = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("smoke: results.json: %s" % e)
    by = {p["id"]: p for p in res.get("paths", [])}
    for i in a.paths.split():
        p = by.get(i)
        if not p:
            bad.append("path %s missing" % i)
            continue
        for k in PATH_FIELDS + ("cpu_sys_s_per_gb",):
            if not fnum(p.get(k)) or p[k] <= 0:
                bad.append("%s.%s = %r" % (i, k, p.get(k)))
        if not fnum(p.get("cpu_path_s_per_gb")) or p["cpu_path_s_per_gb"] < 0:
            bad.append("%s.cpu_path_s_per_gb = %r" % (i, p.get("cpu_path_s_per_gb")))
        for ref in ("vde", "veth"):
            for k in RATIO_FIELDS:
                v = p.get("x_" + ref, {}).get(k)
                if not fnum(v) or v <= 0:
                    bad.append("%s.x_%s.%s = %r" % (i, ref, k, v))
    for mode in ("insecure", "curve"):
        for n in a.ports.split():
            s = [e for e in res.get("scaling", []) if e.get("mode") == mode and e.get("ports") == int(n)]
            if not s:
                bad.append("scaling %s %s ports missing" % (mode, n))
                continue
            for k in SCALE_FIELDS:
                v = s[0].get(k)
                if not fnum(v) or (k != "mem_per_port_bytes" and v <= 0):
                    bad.append("scaling %s %s: %s = %r" % (mode, n, k, v))
    for t in res.get("targets", []):
        if not fnum(t.get("measured")):
            bad.append("target %r: measured %r" % (t.get("target"), t.get("measured")))
    try:
        with open(os.path.join(a.check, "results.md")) as f:
            md = f.read()
        for p in by.values():
            if "| %s |" % p["label"] not in md:
                bad.append("results.md: no row for %s" % p["label"])
        if res.get("command", "") not in md:
            bad.append("results.md: no command")
    except OSError as e:
        bad.append("results.md: %s" % e)
    try:
        with open(os.path.join(a.check, "plot.png"), "rb") as f:
            png = f.read()
        if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 10000:
            bad.append("plot.png: not a PNG or too small (%d bytes)" % len(png))
    except OSError as e:
        bad.append("plot.png: %s" % e)
    for b in bad:
        print("smoke: bad output: %s" % b)
    sys.exit(1 if bad else 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw")
    ap.add_argument("--out")
    ap.add_argument("--command", default="")
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--pings", type=int)
    ap.add_argument("--load-start", default="")
    ap.add_argument("--load-end", default="")
    ap.add_argument("--elapsed", type=int)
    ap.add_argument("--readme")
    ap.add_argument("--check")
    ap.add_argument("--paths", default="")
    ap.add_argument("--ports", default="")
    a = ap.parse_args()
    if a.check:
        check(a)
    elif a.readme:
        readme(a)
    else:
        generate(a)


if __name__ == "__main__":
    main()
