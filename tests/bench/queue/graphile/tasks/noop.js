// The no-op job of the queue benchmark. It counts its runs, and the count is
// printed when the worker process exits, so bench_graphile.js can check that
// no job ran twice (completed jobs are deleted: the table alone cannot tell).
let runs = 0;
process.on("exit", () => {
  // Synchronous on Linux for pipes and files, so it is not lost at exit.
  process.stdout.write(`graphile_task_runs=${runs}\n`);
});
module.exports = async () => {
  runs += 1;
};
