#!/usr/bin/env python3
"""A very long series (issue 19): 50M one-minute bars of one symbol, run to the end on each store.

Generates the bars once (`bench_evolution --generate-bars`, one SYN.csv; or
reuses --data-dir), then runs `evolve run` on them:

  sqlite       evolve run --store sqlite://... --workers 2 (training on the
               queue, two in-process workers: one process)
  postgresql   evolve run --store postgresql://... --workers 0 --training workers
               + 2 evolve-worker processes without the data directory, on a
               throwaway server (scripts/test-postgres.sh)

For every process it reports the CPU time and peak RSS (wait4(2) for our own
processes; VmHWM from /proc, sampled every second, for the PostgreSQL
server's processes, whose shared buffers count in their RSS), and the wall
time and the store's size at the end (the SQLite file with its WAL;
pg_database_size). Not a test: a 50M-bar generation takes tens of minutes on
2 cores.

  tests/bench/long_series.py [--build build] [--bars 50000000] [--generations 1]
                             [--stores sqlite,postgresql] [--data-dir DIR]
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def wait_usage(proc):
    """Waits for `proc`; returns (exit status, cpu seconds, peak RSS in MB)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


class PostgresPeaks:
    """Samples VmHWM of every `postgres` process once a second."""

    def __init__(self):
        self.peaks = {}  # pid -> (peak MB, name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/status") as f:
                        fields = dict(line.split(":", 1) for line in f if ":" in line)
                    if fields.get("Name", "").strip() != "postgres":
                        continue
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        name = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
                    mb = int(fields.get("VmHWM", "0 kB").split()[0]) / 1024.0
                    if mb > self.peaks.get(pid, (0, ""))[0]:
                        self.peaks[pid] = (mb, name[:60])
                except (OSError, ValueError):
                    continue
            self._stop.wait(1.0)

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.peaks


def run_sqlite(args, evolve, data_dir, work, log):
    db = os.path.join(work, "long.db")
    cmd = [evolve, "run", "--store", "sqlite://" + db, "--data-dir", data_dir, "--symbol", "SYN", "--timeframe",
           "1m", "--generations", str(args.generations), "--workers", "2", "--json"]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
    out = proc.stdout.read()
    code, cpu, rss = wait_usage(proc)
    wall = time.monotonic() - start
    size = sum(os.path.getsize(p) for p in (db, db + "-wal") if os.path.exists(p))
    return {"store": "sqlite", "code": code, "status": run_status(out), "wall": wall,
            "processes": [("evolve run --workers 2", cpu, rss)], "store_bytes": size}


def run_postgres(args, evolve, worker, data_dir, work, log):
    pg_dir = os.path.join(work, "pg")
    subprocess.run([os.path.join(ROOT, "scripts/test-postgres.sh"), "start", pg_dir], check=True,
                   stdout=subprocess.DEVNULL)
    try:
        url = open(os.path.join(pg_dir, "url")).read().strip()
        subprocess.run([evolve, "migrate", "--store", url], check=True, capture_output=True)
        peaks = PostgresPeaks()
        workers, homes = [], []
        for i in range(2):
            home = tempfile.mkdtemp(prefix="evolve-long-worker-", dir=work)  # no data directory there
            homes.append(home)
            workers.append(subprocess.Popen(
                [worker, "--store", url, "--worker-id", f"long-{i}", "--poll-interval", "0.5"],
                cwd=home, stdout=log, stderr=log))
        cmd = [evolve, "run", "--store", url, "--data-dir", data_dir, "--symbol", "SYN", "--timeframe", "1m",
               "--generations", str(args.generations), "--workers", "0", "--training", "workers", "--json"]
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log)
        out = proc.stdout.read()
        code, cpu, rss = wait_usage(proc)
        wall = time.monotonic() - start
        processes = [("evolve run --workers 0 (stepping)", cpu, rss)]
        for i, w in enumerate(workers):
            w.send_signal(signal.SIGTERM)
            _, wcpu, wrss = wait_usage(w)
            processes.append((f"evolve-worker {i}", wcpu, wrss))
        size = int(subprocess.run(["psql", "-Atq", url, "-c", "SELECT pg_database_size(current_database())"],
                                  check=True, capture_output=True, text=True).stdout.strip())
        for pid, (mb, name) in sorted(peaks.stop().items(), key=lambda kv: -kv[1][0])[:4]:
            processes.append((f"postgres pid {pid} ({name})", None, mb))
        return {"store": "postgresql", "code": code, "status": run_status(out), "wall": wall,
                "processes": processes, "store_bytes": size}
    finally:
        subprocess.run([os.path.join(ROOT, "scripts/test-postgres.sh"), "stop", pg_dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)


def run_status(out):
    for token in out.decode(errors="replace").split('"status":')[1:2]:
        return token.split('"')[1]
    return "?"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=os.path.join(ROOT, "build"))
    parser.add_argument("--bars", type=int, default=50000000)
    parser.add_argument("--generations", type=int, default=1)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--data-dir", help="a directory with SYN.csv to use instead of generating one")
    args = parser.parse_args()
    args.build = os.path.abspath(args.build)
    evolve = os.path.join(args.build, "services/orchestrator/evolve")
    worker = os.path.join(args.build, "services/worker/evolve-worker")
    work = tempfile.mkdtemp(prefix="evolve-long-bench-")
    try:
        data_dir = args.data_dir
        if not data_dir:
            data_dir = os.path.join(work, "data")
            subprocess.run([os.path.join(args.build, "tests/bench/bench_evolution"), "--generate-bars",
                            str(args.bars), "--out-dir", data_dir, "--symbol", "SYN"], check=True,
                           stdout=subprocess.DEVNULL)
        csv_bytes = os.path.getsize(os.path.join(data_dir, "SYN.csv"))
        print(f"long_series bars_file={csv_bytes / 1e9:.2f}GB generations={args.generations} "
              f"load_before={' '.join(open('/proc/loadavg').read().split()[:3])}", file=sys.stderr)
        with open(os.path.join(work, "bench.log"), "w") as log:
            for store in args.stores.split(","):
                if store == "sqlite":
                    res = run_sqlite(args, evolve, data_dir, work, log)
                else:
                    res = run_postgres(args, evolve, worker, data_dir, work, log)
                load = " ".join(open("/proc/loadavg").read().split()[:3])
                print(f"long_series store={res['store']} exit={res['code']} status={res['status']} "
                      f"wall_s={res['wall']:.1f} store_gb={res['store_bytes'] / 1e9:.2f} load_after={load}",
                      file=sys.stderr)
                for name, cpu, rss in res["processes"]:
                    cpu_text = f"{cpu:.1f}" if cpu is not None else "-"
                    print(f"long_series   process={name!r} cpu_s={cpu_text} peak_rss_mb={rss:.0f}",
                          file=sys.stderr)
                if res["code"] != 0:
                    shutil.copy(os.path.join(work, "bench.log"), "/tmp/long_series-failed.log")
                    raise SystemExit(f"{store}: evolve run exited {res['code']}; log in /tmp/long_series-failed.log")
                sys.stdout.flush()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
