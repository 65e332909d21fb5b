// graphile-worker's batching preset, as in its own perfTest/graphile.config.js:
// each process locks and pulls down up to 500 jobs per fetch (localQueue) and
// completes finished jobs in batches without waiting (completeJobBatchDelay
// 0). The database comes from $DATABASE_URL; -j and -m (concurrency, pool)
// from bench_graphile.js.

/** @type {GraphileConfig.Preset} */
module.exports = {
  worker: {
    connectionString: process.env.DATABASE_URL,
    fileExtensions: [".js"],
    localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
  },
};
