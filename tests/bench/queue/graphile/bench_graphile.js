#!/usr/bin/env node
// The peer of bench_queue: no-op jobs claimed and completed per second by
// graphile-worker with its batching preset (graphile.config.js), measured
// the way graphile-worker's own perfTest/run.js does it: P worker processes
// `graphile-worker --once -j C -m C+1` drain N pre-added jobs; the rate is
// N / (their wall time - the wall time of the same processes on an empty
// queue), i.e. Node's start-up and schema check are not counted.
//
//   node bench_graphile.js --url URL [--database NAME] [--jobs N] [--processes P] [--concurrency C]
//
// URL is any database of the server; NAME (default evolve_bench_graphile) is
// dropped and created afresh. Run from the directory holding node_modules
// (tests/bench/run.sh copies this directory outside the repository and runs
// `npm install` there). Prints key=value lines.
"use strict";

const { spawn } = require("child_process");
const path = require("path");
const { Client } = require("pg");
const { runMigrations } = require("graphile-worker");

function parseArgs(argv) {
  const opts = { url: "", database: "evolve_bench_graphile", jobs: 100000, processes: 1, concurrency: 24 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "");
    const value = argv[i + 1];
    if (!(key in opts) || value === undefined) {
      throw new Error(`unknown or incomplete option ${argv[i]}`);
    }
    opts[key] = typeof opts[key] === "number" ? parseInt(value, 10) : value;
  }
  if (!opts.url) throw new Error("--url is required");
  return opts;
}

// The URL of database `name` on the server of `url`.
function databaseUrl(url, name) {
  const u = new URL(url);
  u.pathname = "/" + name;
  return u.toString();
}

async function withClient(url, fn) {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

// Runs P worker processes at once until each finds the queue empty; returns
// the wall seconds and the sum of their graphile_task_runs= lines.
function runWorkers(opts, env) {
  const cli = require.resolve("graphile-worker/dist/cli.js");
  const start = process.hrtime.bigint();
  const children = [];
  for (let i = 0; i < opts.processes; i++) {
    children.push(
      new Promise((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [cli, "--once", "-j", String(opts.concurrency), "-m", String(opts.concurrency + 1),
           "--config", path.join(__dirname, "graphile.config.js")],
          { cwd: __dirname, env, stdio: ["ignore", "pipe", "inherit"] },
        );
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("error", reject);
        child.on("close", (code) => {
          if (code !== 0) return reject(new Error(`graphile-worker exited with ${code}: ${out}`));
          const m = out.match(/graphile_task_runs=(\d+)/);
          resolve(m ? parseInt(m[1], 10) : 0);
        });
      }),
    );
  }
  return Promise.all(children).then((runs) => ({
    seconds: Number(process.hrtime.bigint() - start) / 1e9,
    runs: runs.reduce((a, b) => a + b, 0),
  }));
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const url = databaseUrl(opts.url, opts.database);
  await withClient(opts.url, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${opts.database}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${opts.database}"`);
  });
  await runMigrations({ connectionString: url });
  // NO_LOG_SUCCESS: no log line per completed job, as in perfTest.
  const env = { ...process.env, DATABASE_URL: url, NO_LOG_SUCCESS: "1" };

  const startup = await runWorkers(opts, env);

  // Added in bulk and not timed, like the jobs of bench_queue.
  await withClient(url, async (c) => {
    const chunk = 10000;
    for (let added = 0; added < opts.jobs; added += chunk) {
      await c.query(
        `SELECT count(*) FROM graphile_worker.add_jobs(ARRAY(
           SELECT ROW('noop', '{}'::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
           FROM generate_series(1, $1)))`,
        [Math.min(chunk, opts.jobs - added)],
      );
    }
    const { rows } = await c.query("SELECT count(*)::int AS n FROM graphile_worker._private_jobs");
    if (rows[0].n !== opts.jobs) throw new Error(`added ${rows[0].n} jobs, wanted ${opts.jobs}`);
    // As bench_queue does after its enqueue: statistics and hint bits
    // settled and dirty pages written, so that neither an autovacuum of the
    // new rows nor a checkpoint lands inside the timed run.
    await c.query("VACUUM ANALYZE graphile_worker._private_jobs");
    await c.query("CHECKPOINT");
  });

  const run = await runWorkers(opts, env);

  // A completed job is deleted; a failed one stays with its error.
  const left = await withClient(url, async (c) => {
    const { rows } = await c.query(
      "SELECT count(*)::int AS n, count(*) FILTER (WHERE last_error IS NOT NULL)::int AS failed " +
        "FROM graphile_worker._private_jobs",
    );
    return rows[0];
  });
  const seconds = run.seconds - startup.seconds;
  const verified = left.n === 0 && run.runs === opts.jobs;
  const lines = {
    graphile_version: require("graphile-worker/package.json").version,
    graphile_jobs: opts.jobs,
    graphile_processes: opts.processes,
    graphile_concurrency: opts.concurrency,
    graphile_wall_seconds: run.seconds.toFixed(3),
    graphile_startup_seconds: startup.seconds.toFixed(3),
    graphile_seconds: seconds.toFixed(3),
    graphile_jobs_per_second: (opts.jobs / seconds).toFixed(0),
    graphile_wall_jobs_per_second: (opts.jobs / run.seconds).toFixed(0),
    graphile_task_runs: run.runs,
    graphile_left: left.n,
    graphile_failed: left.failed,
    graphile_verified: verified ? "yes" : "no",
  };
  for (const [k, v] of Object.entries(lines)) console.log(`${k}=${v}`);
  process.exitCode = verified ? 0 : 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
