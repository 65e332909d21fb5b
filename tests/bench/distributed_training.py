#!/usr/bin/env python3
"""Training on the workers (issue 19): where a run's CPU goes, and its wall time.

One run of `evolve run` on 1,000,000 generated one-minute bars (one symbol,
`bench_evolution --generate-bars`), on a throwaway PostgreSQL server
(scripts/test-postgres.sh), in four setups, each on a fresh database:

  before       evolve run --workers 0 --training inline  + 2 evolve-worker processes
               (what could be spread before issue 19: the simulations only)
  distributed  evolve run --workers 0 --training workers + 2 evolve-worker processes
  in-process   evolve run --workers 2 --training workers (one host, one process)
  inline       evolve run --workers 2 --training inline  (the old default)

The CPU time and peak RSS of every process come from wait4(2) on it (the
workers are stopped with SIGTERM once the run has ended; an idle worker
costs next to nothing). The distributable share of a setup is the CPU of
its evolve-worker processes over the CPU of all its processes. Prints one
line per setup and run, then a Markdown table of medians. Not a test.

  tests/bench/distributed_training.py [--build build] [--bars 1000000] [--runs 1] [--generations 4]
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_usage(proc):
    """Waits for `proc`; returns (exit status, cpu seconds, peak RSS in MB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def psql(url, sql):
    return subprocess.run(["psql", "-Atq", url, "-c", sql], check=True, capture_output=True, text=True).stdout


def fresh_database(admin_url, name):
    psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
    psql(admin_url, f"CREATE DATABASE {name}")
    return admin_url.rsplit("/", 1)[0] + "/" + name


def run_setup(args, setup, url, data_dir, log):
    evolve = os.path.join(args.build, "services/orchestrator/evolve")
    worker = os.path.join(args.build, "services/worker/evolve-worker")
    subprocess.run([evolve, "migrate", "--store", url], check=True, capture_output=True)
    external = setup in ("before", "distributed")
    training = "inline" if setup in ("before", "inline") else "workers"
    workers = []
    homes = []
    if external:
        for i in range(2):
            home = tempfile.mkdtemp(prefix="evolve-bench-worker-")  # no data directory there
            homes.append(home)
            workers.append(subprocess.Popen(
                [worker, "--store", url, "--worker-id", f"bench-{setup}-{i}", "--poll-interval", "0.2",
                 "--max-jobs-per-claim", "16"],
                cwd=home, stdout=log, stderr=log, env=dict(os.environ, LOG_LEVEL="WARNING")))
        time.sleep(0.5)  # registered and polling before the run starts
    cmd = [evolve, "run", "--store", url, "--data-dir", data_dir, "--symbol", "SYN", "--timeframe", "1m",
           "--generations", str(args.generations), "--workers", "0" if external else "2",
           "--training", training, "--json"]
    start = time.monotonic()
    stepper = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
    out = stepper.stdout.read()
    code, step_cpu, step_rss = wait_usage(stepper)
    wall = time.monotonic() - start
    if code != 0:
        raise SystemExit(f"{setup}: evolve run exited {code}; see {log.name}")
    worker_cpu, worker_rss = [], []
    for w in workers:
        w.send_signal(signal.SIGTERM)
        _, cpu, rss = wait_usage(w)
        worker_cpu.append(cpu)
        worker_rss.append(rss)
    for home in homes:
        shutil.rmtree(home, ignore_errors=True)
    status = "?"
    for token in out.decode(errors="replace").split('"status":')[1:2]:
        status = token.split('"')[1]
    total = step_cpu + sum(worker_cpu)
    return {
        "setup": setup, "status": status, "wall": wall, "stepper_cpu": step_cpu, "stepper_rss": step_rss,
        "worker_cpu": worker_cpu, "worker_rss": worker_rss, "total_cpu": total,
        "distributable": (sum(worker_cpu) / total) if total > 0 else 0.0,
        "stepper_share": step_cpu / total if total > 0 else 0.0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--bars", type=int, default=1000000)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--setups", default="before,distributed,in-process,inline")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="evolve-distributed-bench-")
    pg_dir = os.path.join(work, "pg")
    load_before = open("/proc/loadavg").read().split()[:3]
    try:
        data_dir = os.path.join(work, "data")
        subprocess.run([os.path.join(args.build, "tests/bench/bench_evolution"), "--generate-bars", str(args.bars),
                        "--out-dir", data_dir, "--symbol", "SYN"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run([os.path.join(ROOT, "scripts/test-postgres.sh"), "start", pg_dir], check=True,
                       stdout=subprocess.DEVNULL)
        admin = open(os.path.join(pg_dir, "url")).read().strip()
        results = {}
        with open(os.path.join(work, "bench.log"), "w") as log:
            for r in range(args.runs):
                for setup in args.setups.split(","):
                    url = fresh_database(admin, f"bench_{setup.replace('-', '_')}_{r}")
                    res = run_setup(args, setup, url, data_dir, log)
                    results.setdefault(setup, []).append(res)
                    print(f"distributed_training run setup={setup} status={res['status']} wall_s={res['wall']:.2f} "
                          f"stepper_cpu_s={res['stepper_cpu']:.2f} worker_cpu_s="
                          f"{','.join(f'{c:.2f}' for c in res['worker_cpu']) or '-'} "
                          f"stepper_share={res['stepper_share']:.3f} distributable={res['distributable']:.3f} "
                          f"stepper_rss_mb={res['stepper_rss']:.0f} worker_rss_mb="
                          f"{','.join(f'{m:.0f}' for m in res['worker_rss']) or '-'}", file=sys.stderr)
        load_after = open("/proc/loadavg").read().split()[:3]
        med = {s: {k: statistics.median(x[k] for x in rs) for k in ("wall", "stepper_cpu", "total_cpu",
                                                                       "distributable", "stepper_share")}
               for s, rs in results.items()}
        print(f"| setup | wall (median of {args.runs}) | CPU of the stepping process | CPU of all processes "
              f"| stepping process's share | distributable share |")
        print("|---|---|---|---|---|---|")
        for s in args.setups.split(","):
            m = med[s]
            print(f"| {s} | {m['wall']:.1f} s | {m['stepper_cpu']:.1f} s | {m['total_cpu']:.1f} s "
                  f"| {100 * m['stepper_share']:.1f}% | {100 * m['distributable']:.1f}% |")
        if "distributed" in med and "in-process" in med:
            print(f"\ndistributed / in-process wall: {med['distributed']['wall'] / med['in-process']['wall']:.2f}x "
                  f"(target <= 1.2x); stepping process share {100 * med['distributed']['stepper_share']:.1f}% "
                  f"(target < 10%); load average before {' '.join(load_before)}, after {' '.join(load_after)}")
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/test-postgres.sh"), "stop", pg_dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
