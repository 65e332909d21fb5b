#!/usr/bin/env node
// The Parquet side of the bar-file benchmark (bench_bar_files): converts the
// benchmark's CSV (Datetime,Open,High,Low,Close,Volume, UTC) to Parquet with
// DuckDB's defaults (snappy, its own choice of encodings and row groups), in
// the layout of a bars table: symbol, ts (TIMESTAMP WITH TIME ZONE), open,
// high, low, close (DOUBLE), volume (BIGINT). That is the file a user who
// exports bars from DuckDB has.
//
//   node write_parquet.mjs BARS.csv BARS.parquet [SYMBOL]
//
// Run from the directory holding node_modules (tests/bench/run.sh copies
// this directory into the build tree and runs `npm install` there). Prints
// key=value lines.
import { DuckDBInstance } from '@duckdb/node-api';

const [csv, parquet, symbol = 'BENCH'] = process.argv.slice(2);
if (!csv || !parquet) {
  console.error('usage: node write_parquet.mjs BARS.csv BARS.parquet [SYMBOL]');
  process.exit(2);
}
const quote = (s) => `'${s.replaceAll("'", "''")}'`;
const db = await DuckDBInstance.create(':memory:');
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");
const start = process.hrtime.bigint();
await con.run(`COPY (
  SELECT ${quote(symbol)} AS symbol, CAST(Datetime || '+00' AS TIMESTAMPTZ) AS ts,
         CAST(Open AS DOUBLE) AS open, CAST(High AS DOUBLE) AS high, CAST(Low AS DOUBLE) AS low,
         CAST(Close AS DOUBLE) AS close,
         CAST(CAST(Volume AS DOUBLE) AS BIGINT) AS volume  -- the CSV may write 1e+06
  FROM read_csv(${quote(csv)}, header = true, all_varchar = true)
) TO ${quote(parquet)} (FORMAT parquet)`);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
const meta = (await con.runAndReadAll(`SELECT num_rows, num_row_groups, created_by FROM parquet_file_metadata(${quote(parquet)})`)).getRowObjects()[0];
const version = (await con.runAndReadAll('SELECT version() AS v')).getRowObjects()[0].v;
console.log(`duckdb_version=${version}`);
console.log(`duckdb_write_seconds=${seconds.toFixed(3)}`);
console.log(`parquet_rows=${meta.num_rows}`);
console.log(`parquet_row_groups=${meta.num_row_groups}`);
