#!/usr/bin/env python3
"""Measure dissector against tshark and ssldump on the captures of make_captures.py, in one run.

Usage (from the repository root):

    python benchmarks/make_captures.py --out bench-data          # once: sessions.pcap, bulk.pcap, keys, manifest
    python benchmarks/run.py --data bench-data [--tools dissector,tshark,ssldump] [--repeat 1] [--markdown]
                             [--dissector "python -m dissector"] [--captures sessions,bulk]
                             [--modes label,decrypt] [--timeout SECONDS] [--json results.json] [--no-check]

For each capture (sessions, bulk), each mode and each tool it runs one command with stdout to /dev/null:

  label    dissector analyze FILE --format jsonl -q -o /dev/null
           tshark -r FILE -Y tls.handshake -T fields -e tls.handshake.type
           ssldump -n -r FILE
  decrypt  dissector analyze FILE --keylog K --format jsonl -q -o /dev/null
           tshark -r FILE -o tls.keylog_file:K -Y http.request -T fields -e http.request.uri
           ssldump -n -r FILE -l K -d

and reports wall time, CPU time (user + system of the process and the children it waited for), packets/s
(packets counted from the capture's own record headers), MB/s (capture bytes / wall time; MB = 10^6 bytes),
decrypted MB/s (application bytes from manifest.json / wall time), sessions/s (sessions capture), peak RSS and
the speed relative to tshark. Peak RSS is the tool's `ru_maxrss`, as reported by `/usr/bin/time -f %M` (GNU
time; without it, `os.wait4` on the child, whose figure cannot go below this script's own RSS, see `measure`), or,
when the tool runs several processes at once (e.g. a `--jobs` option), the largest sum of their RSS seen by
sampling /proc every 0.2 s, whichever is larger.

Before the timed runs every command runs once on the small check files (check-sessions.pcap, check-bulk.pcap)
with its output kept, to make sure it did the work: exit status 0, and dissector's Session lines (and decrypted
sessions), tshark's ClientHellos (or decrypted HTTP requests), ssldump's connections and ClientHellos (or the
HTTP request lines it decrypted) must match what manifest.json says the check file holds. The timed runs must
exit with status 0 too. The `check` column says ok, partial (with what was missing) or FAIL.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from tabulate import tabulate

MB = 1_000_000
TOOLS = ("dissector", "tshark", "ssldump")
MODES = ("label", "decrypt")
CAPTURES = ("sessions", "bulk")
PAGE = os.sysconf("SC_PAGE_SIZE")
IGNORED_STDERR = ("Running as user",)  # tshark's warning when run as root


# ---------------------------------------------------------------------------------------------------
# the capture itself
# ---------------------------------------------------------------------------------------------------

def count_packets(path: str) -> int:
    """Packets in a pcap (either byte order, us/ns) or pcapng file, from the record headers alone."""
    with open(path, "rb", buffering=1 << 20) as f:
        head = f.read(24)
        magic = head[:4]
        n = 0
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            rec = struct.Struct("<IIII" if magic[0] in (0xD4, 0x4D) else ">IIII")
            read, seek, unpack = f.read, f.seek, rec.unpack
            while len(h := read(16)) == 16:
                seek(unpack(h)[2], 1)
                n += 1
            return n
        if magic == b"\x0a\x0d\x0d\x0a":
            order = "<" if head[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
            blk = struct.Struct(order + "II")
            f.seek(0)
            while len(h := f.read(8)) == 8:
                btype, blen = blk.unpack(h)
                if btype in (2, 3, 6):  # packet, simple packet, enhanced packet blocks
                    n += 1
                if blen < 12:
                    break
                f.seek(blen - 8, 1)
            return n
        raise SystemExit(f"run.py: error: {path}: not a pcap or pcapng file")


def warm(path: str) -> None:
    """Read a file once so that every tool finds it in the page cache."""
    buf = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass


# ---------------------------------------------------------------------------------------------------
# running one command
# ---------------------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def _tree_rss(root: int, include_root: bool = True) -> tuple[int, int]:
    """(sum of RSS in bytes, number of processes) of `root`'s descendants, and `root` itself if asked."""
    total, count, todo = 0, 0, [root] if include_root else _children(root)
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/statm") as f:
                total += int(f.read().split()[1]) * PAGE
            count += 1
        except (OSError, IndexError, ValueError):
            continue
        todo += _children(pid)
    return total, count


def busy_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has spent busy since boot (from /proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


TIME = shutil.which("time", path="/usr/bin:/bin")  # GNU time, for an exact peak RSS of the tool itself


def measure(argv: list[str], stdout_path: str, timeout: float | None = None) -> dict:
    """Run `argv` with stdout to `stdout_path`; wall and CPU seconds, peak RSS, exit status, stderr.

    The child's `ru_maxrss` from `os.wait4` also counts the address space it was forked from: Python starts
    children with vfork, and the kernel records the parent's high-water RSS when the child execs, so a small
    tool would show this script's own peak. So the tool runs under `/usr/bin/time -f %M` (a 1 MB process)
    when that exists, and its %M is the peak; without it, wait4's figure is used (a floor of our own RSS)."""
    with open(stdout_path, "wb") as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", prefix="dissector-bench-time-") as tfile:
        full = [TIME, "-f", "%M %U %S", "-o", tfile.name, "--"] + argv if TIME else argv
        busy0 = busy_cpu_seconds()
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)
        peak = {"rss": 0, "procs": 1, "timed_out": False}
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.2):
                rss, count = _tree_rss(proc.pid, include_root=not TIME)  # not /usr/bin/time itself
                peak["rss"] = max(peak["rss"], rss)
                peak["procs"] = max(peak["procs"], count)
                if timeout and time.perf_counter() - t0 > timeout and not peak["timed_out"]:
                    peak["timed_out"] = True
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except OSError:
                        pass

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        busy1 = busy_cpu_seconds()
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        maxrss, cpu = ru.ru_maxrss * 1024, ru.ru_utime + ru.ru_stime
        if TIME:
            fields = (tfile.read().strip().splitlines() or [""])[-1].split()
            try:
                maxrss, cpu = int(fields[0]) * 1024, float(fields[1]) + float(fields[2])
            except (IndexError, ValueError):
                maxrss = 0  # killed before time could report: the samples below are all we have
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith(IGNORED_STDERR)]
    # with several processes at once, the sampled sum of their RSS is the better figure
    tree = peak["rss"] if peak["procs"] > 1 or not maxrss else 0
    # CPU time the rest of the machine used meanwhile: other processes competing for the cores
    others = max(0.0, busy1 - busy0 - cpu) if busy0 is not None and busy1 is not None else None
    return {
        "argv": argv, "wall": wall, "cpu": cpu, "rss": max(maxrss, tree),
        "ru_maxrss": maxrss, "tree_rss": peak["rss"], "procs": peak["procs"], "rc": proc.returncode,
        "other_cpu": others, "timed_out": peak["timed_out"], "stderr_lines": len(lines), "stderr_head": lines[:3],
    }


def command(tool: str, mode: str, capture: str, keys: str, out: str, dissector: list[str]) -> tuple[list[str], str]:
    """(argv, where stdout goes) for one measurement; `out` is the output file (/dev/null when timed)."""
    if tool == "dissector":
        # "--dissector 'dissector analyze --jobs 2'": options of analyze come after the word analyze
        base = dissector if "analyze" in dissector else dissector + ["analyze"]
        argv = base + [capture] + (["--keylog", keys] if mode == "decrypt" else []) \
            + ["--format", "jsonl", "-q", "-o", out]
        return argv, os.devnull
    if tool == "tshark":
        if mode == "decrypt":
            return ["tshark", "-r", capture, "-o", f"tls.keylog_file:{keys}", "-Y", "http.request",
                    "-T", "fields", "-e", "http.request.uri"], out
        return ["tshark", "-r", capture, "-Y", "tls.handshake", "-T", "fields", "-e", "tls.handshake.type"], out
    if tool == "ssldump":
        return ["ssldump", "-n", "-r", capture] + (["-l", keys, "-d"] if mode == "decrypt" else []), out
    raise ValueError(tool)


# ---------------------------------------------------------------------------------------------------
# checks: did the tool do the work?
# ---------------------------------------------------------------------------------------------------

def judge(tool: str, mode: str, output_path: str, expect: dict) -> tuple[str, str]:
    """('ok' | 'partial' | 'FAIL', detail) from a tool's output on a check file."""
    sessions, requests = expect["sessions"], expect["requests"]
    tls12_requests = expect["tls12_requests"]
    if tool == "dissector":
        seen = decrypted = http = 0
        with open(output_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                head = line[:40]  # parse only the lines that can be Session or HTTPRequest events
                if '"Session"' not in head and '"HTTPRequest"' not in head:
                    continue
                doc = json.loads(line)
                if doc.get("event") == "Session":
                    seen += 1
                    if (doc.get("decryption") or {}).get("status") == "decrypted":
                        decrypted += 1
                elif doc.get("event") == "HTTPRequest":
                    http += 1
        if seen != sessions:
            return "FAIL", f"{seen} Session lines, expected {sessions}"
        if mode == "label":
            return "ok", f"{seen}/{sessions} sessions"
        if decrypted == sessions:
            return "ok", f"{decrypted}/{sessions} sessions decrypted" + (f", {http} HTTP requests" if http else "")
        return ("partial" if decrypted else "FAIL"), f"{decrypted}/{sessions} sessions decrypted"
    with open(output_path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    if tool == "tshark":
        if mode == "label":
            hellos = sum(line.replace(";", ",").split(",").count("1") for line in text.splitlines())
            return ("ok" if hellos == sessions else "FAIL"), f"{hellos}/{sessions} ClientHellos"
        uris = sum(1 for line in text.splitlines() if line.strip())
        status = "ok" if uris == requests else ("partial" if uris else "FAIL")
        return status, f"{uris}/{requests} HTTP requests decrypted"
    if tool == "ssldump":
        conns = text.count("New TCP connection")
        hellos = text.count("ClientHello")
        if mode == "label":
            ok = conns == sessions and hellos == sessions
            return ("ok" if ok else "FAIL"), f"{conns}/{sessions} connections, {hellos} ClientHellos"
        got = text.count("GET /catalog/") + text.count("GET /downloads/")
        if got == requests:
            return "ok", f"{got}/{requests} HTTP requests decrypted"
        if got and got == tls12_requests:
            return "partial", f"{got}/{requests} HTTP requests decrypted: the TLS 1.2 ones only"
        return ("partial" if got else "FAIL"), f"{got}/{requests} HTTP requests decrypted"
    raise ValueError(tool)


# ---------------------------------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------------------------------

def tool_version(tool: str, dissector: list[str]) -> str:
    prog = dissector[:dissector.index("analyze")] if "analyze" in dissector else dissector
    argv = {"dissector": prog + ["--version"], "tshark": ["tshark", "--version"], "ssldump": ["ssldump", "-v"]}[tool]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"? ({exc})"
    return ((p.stdout or p.stderr).strip().splitlines() or ["?"])[0]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def fmt(x: float | None, digits: int = 1) -> str:
    if x is None:
        return ""
    return f"{x:,.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, metavar="DIR", help="the --out directory of make_captures.py")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated: dissector,tshark,ssldump")
    ap.add_argument("--captures", default=",".join(CAPTURES), help="comma-separated: sessions,bulk")
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated: label,decrypt")
    ap.add_argument("--repeat", type=int, default=1, metavar="N", help="runs per measurement; the fastest run and the "
                    "largest peak RSS are reported (default 1)")
    ap.add_argument("--dissector", default=None, metavar="CMD",
                    help='how to run dissector (default: "dissector" if on PATH, else "PYTHON -m dissector"); '
                         'e.g. --dissector "python -m dissector", or with options of analyze: '
                         '--dissector "dissector analyze --jobs 2"')
    ap.add_argument("--timeout", type=float, default=None, metavar="S", help="kill a run after S seconds (default: none)")
    ap.add_argument("--markdown", action="store_true", help="also print the table as Markdown (for the README)")
    ap.add_argument("--json", metavar="FILE", help="write every measurement to FILE")
    ap.add_argument("--no-check", action="store_true", help="skip the runs on the check files")
    args = ap.parse_args(argv)

    data = args.data
    manifest_path = os.path.join(data, "manifest.json")
    try:
        with open(manifest_path) as f:
            manifest = json.load(f)
    except OSError as exc:
        ap.error(f"{manifest_path}: {exc.strerror} (run benchmarks/make_captures.py --out {data} first)")
    dissector = shlex.split(args.dissector) if args.dissector else (
        ["dissector"] if shutil.which("dissector") else [sys.executable, "-m", "dissector"])
    tools = [t for t in args.tools.split(",") if t]
    captures = [c for c in args.captures.split(",") if c]
    modes = [m for m in args.modes.split(",") if m]
    for name, chosen, allowed in (("tools", tools, TOOLS), ("captures", captures, CAPTURES), ("modes", modes, MODES)):
        bad = [x for x in chosen if x not in allowed]
        if bad:
            ap.error(f"--{name}: unknown {', '.join(bad)} (choose from {', '.join(allowed)})")
    missing = [t for t in tools if shutil.which(dissector[0] if t == "dissector" else t) is None]
    if missing:
        print(f"run.py: not installed, skipped: {', '.join(missing)}", file=sys.stderr)
        tools = [t for t in tools if t not in missing]

    caps = {}
    for name in captures:
        c = dict(manifest["captures"][name])
        c["path"] = os.path.join(data, c["file"])
        c["keys_path"] = os.path.join(data, c["keys"])
        c["size"] = os.path.getsize(c["path"])
        t = time.perf_counter()
        c["counted_packets"] = count_packets(c["path"])
        if c["counted_packets"] != c["packets"]:
            print(f"run.py: warning: {c['file']} holds {c['counted_packets']} packets, manifest.json says "
                  f"{c['packets']}", file=sys.stderr)
        warm(c["path"])
        warm(c["keys_path"])
        caps[name] = c
        print(f"{c['file']}: {c['counted_packets']:,} packets (counted in {time.perf_counter() - t:.1f} s), "
              f"{c['size'] / MB:,.1f} MB, {c['sessions']:,} sessions, {c['requests']:,} HTTP requests, "
              f"{c['app_bytes'] / MB:,.1f} MB of application data", flush=True)

    versions = {t: tool_version(t, dissector) for t in tools}
    for t in tools:
        print(f"{t}: {versions[t]}" + (f"  [{shlex.join(dissector)}]" if t == "dissector" else ""), flush=True)

    # checks on the small files
    checks: dict[tuple[str, str, str], tuple[str, str]] = {}
    if not args.no_check:
        with tempfile.TemporaryDirectory(prefix="dissector-bench-") as tmp:
            for cname, c in caps.items():
                chk = c["check"]
                path = os.path.join(data, chk["file"])
                for mode in modes:
                    for tool in tools:
                        outfile = os.path.join(tmp, f"{cname}-{mode}-{tool}.out")
                        cmd, stdout = command(tool, mode, path, c["keys_path"], outfile, dissector)
                        r = measure(cmd, stdout, args.timeout)
                        if r["rc"] != 0:
                            checks[cname, mode, tool] = ("FAIL", f"exit {r['rc']} on {chk['file']}: "
                                                         + "; ".join(r["stderr_head"]))
                        else:
                            checks[cname, mode, tool] = judge(tool, mode, outfile, chk)
                        status, detail = checks[cname, mode, tool]
                        print(f"check {chk['file']} {mode:<7} {tool:<9} {status}: {detail}"
                              + (f" ({r['stderr_lines']} stderr lines, e.g. {r['stderr_head'][0]!r})"
                                 if r["stderr_lines"] else ""), flush=True)
                        os.unlink(outfile)

    # the timed runs
    runs: dict[tuple[str, str, str], list[dict]] = {}
    for rep in range(args.repeat):
        for cname, c in caps.items():
            for mode in modes:
                for tool in tools:
                    cmd, stdout = command(tool, mode, c["path"], c["keys_path"], os.devnull, dissector)
                    print(f"[{rep + 1}/{args.repeat}] {cname} {mode} {tool}: {shlex.join(cmd)}", flush=True)
                    r = measure(cmd, stdout, args.timeout)
                    runs.setdefault((cname, mode, tool), []).append(r)
                    print(f"    {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU, peak RSS {r['rss'] / MB:,.0f} MB, exit {r['rc']}"
                          + (f", other processes used {r['other_cpu']:.1f} CPU s meanwhile" if r["other_cpu"] else "")
                          + (" (timed out)" if r["timed_out"] else "")
                          + (f"; stderr: {r['stderr_head'][0]!r}" if r["stderr_lines"] else ""), flush=True)

    # the table
    rows, records = [], []
    notes: list[str] = []
    for cname, c in caps.items():
        for mode in modes:
            # best of --repeat: other load on the machine only ever makes a run slower
            best = {t: min(runs[cname, mode, t], key=lambda r: r["wall"]) for t in tools}
            walls = {t: best[t]["wall"] for t in tools}
            for tool in tools:
                rs = runs[cname, mode, tool]
                wall, cpu, others = walls[tool], best[tool]["cpu"], best[tool]["other_cpu"] or 0.0
                rss = max(r["rss"] for r in rs)
                procs = max(r["procs"] for r in rs)
                bad = [r for r in rs if r["rc"] != 0 or r["timed_out"]]
                status, detail = checks.get((cname, mode, tool), ("unchecked", "--no-check"))
                if bad:
                    r = bad[0]
                    status, detail = "FAIL", ("timed out" if r["timed_out"] else f"exit {r['rc']}") + (
                        f": {r['stderr_head'][0]}" if r["stderr_head"] else "")
                dec_bytes = None
                if mode == "decrypt" and status in ("ok", "unchecked"):
                    dec_bytes = c["app_bytes"]
                elif mode == "decrypt" and status == "partial" and "TLS 1.2 ones only" in detail:
                    dec_bytes = c["tls12_app_bytes"]
                dec = dec_bytes / MB / wall if dec_bytes is not None else None
                if status == "partial" and dec is not None:
                    notes.append(f"{tool} on {cname} ({mode}): {detail}; decrypted MB/s counts the TLS 1.2 "
                                 f"application bytes only ({c['tls12_app_bytes'] / MB:,.1f} of {c['app_bytes'] / MB:,.1f} MB)")
                elif status not in ("ok", "unchecked"):
                    notes.append(f"{tool} on {cname} ({mode}): {status}: {detail}")
                if others > max(1.0, 0.1 * wall):
                    notes.append(f"{tool} on {cname} ({mode}): other processes used {others:.1f} CPU s during the "
                                 f"{wall:.1f} s run: its wall time is pessimistic, CPU s much less affected")
                if procs > 1:
                    notes.append(f"{tool} on {cname} ({mode}) ran up to {procs} processes at once: peak RSS is "
                                 "the largest sum of their RSS")
                vs = walls["tshark"] / wall if "tshark" in walls and wall > 0 else None
                rec = {
                    "capture": cname, "mode": mode, "tool": tool, "version": versions[tool],
                    "argv": rs[0]["argv"], "wall_s": wall, "walls_s": [r["wall"] for r in rs], "cpu_s": cpu,
                    "packets": c["counted_packets"], "bytes": c["size"], "sessions": c["sessions"],
                    "packets_per_s": c["counted_packets"] / wall, "mb_per_s": c["size"] / MB / wall,
                    "decrypted_mb_per_s": dec, "sessions_per_s": c["sessions"] / wall if cname == "sessions" else None,
                    "peak_rss_mb": rss / MB, "processes": procs, "other_cpu_s": others, "vs_tshark": vs, "check": status, "check_detail": detail,
                }
                records.append(rec)
                rows.append([
                    cname, mode, tool, fmt(wall, 2 if wall < 10 else 1), fmt(cpu, 2 if cpu < 10 else 1), fmt(rec["packets_per_s"], 0), fmt(rec["mb_per_s"]),
                    fmt(dec) + ("†" if status == "partial" and dec is not None else ""),
                    fmt(rec["sessions_per_s"], 0), fmt(rss / MB, 0), f"{vs:.2f}x" if vs else "", status,
                ])
    headers = ["capture", "mode", "tool", "wall s", "CPU s", "packets/s", "MB/s", "decrypted MB/s", "sessions/s",
               "peak RSS MB", "speed vs tshark", "check"]
    align = ["left"] * 3 + ["right"] * 8 + ["left"]
    print()
    print(tabulate(rows, headers, tablefmt="simple", colalign=align, disable_numparse=True))
    for n in notes:
        print(f"  note: {n}")
    env = (f"{cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
           + "; ".join(f"{t}: {versions[t]}" for t in tools))
    print(f"  {env}")
    if args.markdown:
        print()
        print(tabulate(rows, headers, tablefmt="github", colalign=align, disable_numparse=True))
        print()
        for c in caps.values():
            print(f"- `{c['file']}`: {c['counted_packets']:,} packets, {c['size'] / MB:,.1f} MB, {c['sessions']:,} "
                  f"sessions, {c['app_bytes'] / MB:,.1f} MB of application data")
        for n in notes:
            n = n.replace("†", "")
            print(f"- {n}" + (" (†)" if "TLS 1.2 ones only" in n else ""))
        print(f"- {env}; dissector run as `{shlex.join(dissector)}`")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"environment": env, "manifest": manifest, "checks": {" ".join(k): v for k, v in checks.items()},
                       "results": records, "runs": {" ".join(k): v for k, v in runs.items()}}, f, indent=2)
            f.write("\n")
    return 1 if any(r["check"] == "FAIL" for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
