"""Soak: does `edgegrade watch` hold its memory and file descriptors over a long live run?
`watch` runs as its own process on a live moving source (the synthetic dish feed at camera
rate: a capture thread, the newest frame only, embryos coming and going, snapshots on every
change); its resident memory (VmRSS), open descriptors and threads are read from /proc every
`--interval` seconds; after `--minutes` it gets SIGINT, as an operator would send.

    python benchmarks/soak.py --bundle bundles/quickstart --minutes 10 --out runs/soak

Targets (issue 17): RSS at the end within 5 % of RSS at 60 s; no growth in descriptors (or
threads) after the first minute. Writes OUT/soak.csv (the samples) and OUT/soak.json (the
verdict, with watch's own summary). Linux only (/proc). Not a test: it takes minutes.
"""

import argparse
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def sample(pid: int) -> dict:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(status["VmRSS"].split()[0]) / 1024, "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "threads": int(status["Threads"])}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bundle", required=True)
    p.add_argument("--source", default="synthetic-dish@15#1000000", help="A live source (camera rate).")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--interval", type=float, default=10.0, help="Seconds between samples.")
    p.add_argument("--warmup", type=float, default=60.0, help="The reference sample: seconds after the start.")
    p.add_argument("--threads", type=int, default=0, help="watch --threads (ONNX Runtime; 0: all cores).")
    p.add_argument("--out", default="runs/soak")
    a = p.parse_args()

    out = Path(a.out)
    watch_out = out / "watch"
    out.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "edgegrade", "watch", "--bundle", a.bundle, "--source", a.source, "--headless",
           "--out", str(watch_out), "--threads", str(a.threads)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    start, rows = time.monotonic(), []
    try:
        while (t := time.monotonic() - start) < a.minutes * 60 + a.interval / 2 and proc.poll() is None:
            log = watch_out / "grades.jsonl"
            rows.append({"t_s": round(t, 1), **sample(proc.pid),
                         "log_lines": sum(1 for _ in open(log)) if log.exists() else 0})
            print("  ".join(f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in rows[-1].items()),
                  flush=True)
            time.sleep(max(0.0, (len(rows)) * a.interval - (time.monotonic() - start)))
    finally:
        stopped = time.monotonic()
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    if proc.returncode != 0:
        sys.exit(f"watch exited {proc.returncode}:\n{output[-2000:]}")
    summary = json.loads((watch_out / "summary.json").read_text())
    with open(out / "soak.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ref = min(rows, key=lambda r: abs(r["t_s"] - a.warmup))
    after = [r for r in rows if r["t_s"] >= ref["t_s"]]
    last = rows[-1]
    verdict = {
        "command": " ".join(cmd), "minutes": a.minutes, "samples": len(rows),
        "rss_mb_at": {"ref_s": ref["t_s"], "ref": round(ref["rss_mb"], 1), "end_s": last["t_s"],
                      "end": round(last["rss_mb"], 1), "max_after_ref": round(max(r["rss_mb"] for r in after), 1)},
        "rss_change": round(last["rss_mb"] / ref["rss_mb"] - 1, 4),
        "fds": {"ref": ref["fds"], "end": last["fds"], "max_after_ref": max(r["fds"] for r in after)},
        "threads": {"ref": ref["threads"], "end": last["threads"], "max_after_ref": max(r["threads"] for r in after)},
        "frames": summary["frames"], "fps": summary["fps"], "dropped_frames": summary["dropped_frames"],
        "snapshots": summary["snapshots"], "latency_ms": summary["latency_ms"]["result"],
        "stop_s": round(time.monotonic() - stopped, 2),
    }
    verdict["rss_within_5_percent"] = abs(verdict["rss_change"]) <= 0.05
    verdict["no_fd_growth"] = verdict["fds"]["max_after_ref"] <= ref["fds"]
    (out / "soak.json").write_text(json.dumps(verdict, indent=2))
    print(json.dumps({k: verdict[k] for k in ("rss_mb_at", "rss_change", "rss_within_5_percent", "fds",
                                             "no_fd_growth", "threads", "frames", "fps")}, indent=2))


if __name__ == "__main__":
    main()
