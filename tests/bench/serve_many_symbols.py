#!/usr/bin/env python3
"""Many runs through one `evolve serve` (issue 19): 20 symbols x 200,000 bars.

Generates SYMBOLS symbols of BARS one-minute bars each (bench_evolution
--generate-bars, a different seed per symbol), starts `evolve serve` on a
fresh SQLite file with its defaults (in-process workers: the number of
cores), POSTs one run per symbol at once, and polls GET /runs until every
run has ended. Reports how long each POST /evolve took to answer, the time
from the first POST to the first finished run and to the last, and the
service's peak RSS. Run it against two builds to compare (e.g. one of the
commit before the change):

  tests/bench/serve_many_symbols.py --build build [--symbols 20] [--bars 200000] [--generations 2]
  tests/bench/serve_many_symbols.py --build /tmp/before/build --data-dir DIR   (reuse generated data)

Not a test: one summary line on stdout.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def request(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def peak_rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default=os.path.join(ROOT, "build"))
    p.add_argument("--symbols", type=int, default=20)
    p.add_argument("--bars", type=int, default=200000)
    p.add_argument("--generations", type=int, default=2)
    p.add_argument("--data-dir", help="bars generated earlier (SYM00.csv ...); generated into a temp dir if absent")
    p.add_argument("--gen-build", help="the build whose bench_evolution generates the bars (default --build)")
    p.add_argument("--serve-args", default="", help="extra evolve serve options, space separated")
    args = p.parse_args()
    evolve = os.path.join(args.build, "services/orchestrator/evolve")
    work = tempfile.mkdtemp(prefix="evolve-many-symbols-")
    symbols = [f"SYM{i:02d}" for i in range(args.symbols)]
    try:
        data_dir = args.data_dir or os.path.join(work, "data")
        if not args.data_dir:
            gen = os.path.join(args.gen_build or args.build, "tests/bench/bench_evolution")
            for i, s in enumerate(symbols):
                subprocess.run([gen, "--generate-bars", str(args.bars), "--out-dir", data_dir, "--symbol", s,
                                "--seed", str(1000 + i)], check=True, stdout=subprocess.DEVNULL)
        load_before = open("/proc/loadavg").read().split()[:3]
        log = open(os.path.join(work, "serve.log"), "w")
        serve = subprocess.Popen([evolve, "serve", "--port", "0", "--db", os.path.join(work, "evolve.db"),
                                  "--data-dir", data_dir] + args.serve_args.split(),
                                 stdout=subprocess.PIPE, stderr=log, text=True)
        first = serve.stdout.readline()
        # "evolve serve: listening on http://127.0.0.1:PORT (store ...)"
        base = first.split("listening on ", 1)[1].split()[0].rstrip("/")
        start = time.monotonic()
        post_seconds, run_ids = [], []
        for s in symbols:
            t0 = time.monotonic()
            code, body = request("POST", base + "/evolve", {"symbol": s, "timeframe": "1m",
                                                           "max_generations": args.generations})
            post_seconds.append(time.monotonic() - t0)
            if code != 202:
                raise SystemExit(f"POST /evolve {s}: {code} {body}")
            run_ids.append(body["run_id"])
        ended = {}
        while len(ended) < len(run_ids):
            time.sleep(0.2)
            for rid in run_ids:
                if rid in ended:
                    continue
                _, doc = request("GET", base + "/runs/" + rid)
                status = (doc.get("run") or doc).get("status")
                if status not in ("PENDING", "RUNNING"):
                    ended[rid] = (time.monotonic() - start, status)
        rss = peak_rss_mb(serve.pid)
        serve.terminate()
        serve.wait(timeout=120)
        load_after = open("/proc/loadavg").read().split()[:3]
        times = sorted(t for t, _ in ended.values())
        statuses = sorted({s for _, s in ended.values()})
        print(f"serve_many_symbols build={args.build} symbols={args.symbols} bars={args.bars} "
              f"generations={args.generations} post_median_s={statistics.median(post_seconds):.3f} "
              f"post_max_s={max(post_seconds):.3f} first_finished_s={times[0]:.1f} last_finished_s={times[-1]:.1f} "
              f"statuses={','.join(statuses)} serve_peak_rss_mb={rss:.0f} load_before={'/'.join(load_before)} "
              f"load_after={'/'.join(load_after)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
