// PostgresStore: artifacts (ArtifactStore), in chunks, on libpq's own
// connections (postgres_libpq.h) so that their bytes travel in binary
// format both ways.
//
// An artifact is its row of `artifacts` (size, number of chunks) and the
// rows of artifact_chunks (seq 0, 1, ...) that hold its bytes
// (sql/postgres/0006_artifact_chunks.sql).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "postgres_backend.h"

namespace evolve::postgres {
namespace {

// A big-endian integer of `size` bytes (a binary int8 or int4), sign
// included.
int64_t BigEndian(const char* bytes, int size) {
  uint64_t value = static_cast<unsigned char>(bytes[0]) >= 0x80 ? ~uint64_t{0} : 0;
  for (int i = 0; i < size; ++i) value = value << 8 | static_cast<unsigned char>(bytes[i]);
  return static_cast<int64_t>(value);
}

}  // namespace

Status PostgresStore::PutArtifact(const std::string& key, const std::string& bytes) {
  if (key.empty()) return InvalidArgumentError("artifact key: must not be empty");
  const uint64_t chunk = artifact_chunk_bytes_;
  const uint64_t chunks = (bytes.size() + chunk - 1) / chunk;
  return artifacts_.Run(/*transaction=*/true, [&](LibpqSession& session) -> Status {
    // Keys name immutable content: the first write stays, and a later one
    // writes nothing (a concurrent one waits for the first to commit, then
    // finds its row).
    EVOLVE_ASSIGN_OR_RETURN(
        const int inserted,
        session.Exec("INSERT INTO artifacts (key, size, chunks, created_at) VALUES ($1, $2, $3, now()) "
                     "ON CONFLICT (key) DO NOTHING RETURNING 1",
                     {LibpqParam::Text(key), LibpqParam::Text(std::to_string(bytes.size())),
                      LibpqParam::Text(std::to_string(chunks))}));
    if (inserted == 0) return Status::Ok();
    for (uint64_t seq = 0; seq < chunks; ++seq) {
      EVOLVE_RETURN_IF_ERROR(
          session
              .Exec("INSERT INTO artifact_chunks (key, seq, bytes) VALUES ($1, $2, $3)",
                    {LibpqParam::Text(key), LibpqParam::Text(std::to_string(seq)),
                     LibpqParam::Binary(std::string_view(bytes).substr(seq * chunk, chunk))})
              .status());
    }
    return Status::Ok();
  });
}

Result<std::string> PostgresStore::GetArtifact(const std::string& key) {
  std::string bytes;
  int64_t rows = 0;
  int64_t size = 0;
  int64_t chunks = 0;
  int64_t read = 0;  // chunks copied into `bytes`
  const auto corrupt = [&](const std::string& problem) { return rows_.Corrupt("artifacts", key, problem); };
  EVOLVE_RETURN_IF_ERROR(artifacts_.Run(/*transaction=*/false, [&](LibpqSession& session) -> Status {
    rows = size = chunks = read = 0;  // a retried call starts over
    bytes.clear();
    // One statement: one snapshot of the row and its chunks. A LEFT JOIN: an
    // empty artifact is its row alone, with a NULL chunk.
    return session.ForEachRow(
        "SELECT a.size, a.chunks, c.bytes FROM artifacts a LEFT JOIN artifact_chunks c ON c.key = a.key "
        "WHERE a.key = $1 ORDER BY c.seq",
        {LibpqParam::Text(key)}, [&](const PGresult& row) -> Status {
          if (rows++ == 0) {
            if (PQgetlength(&row, 0, 0) != 8 || PQgetlength(&row, 0, 1) != 4) {
              return corrupt("size and chunks are not int8 and int4");
            }
            size = BigEndian(PQgetvalue(&row, 0, 0), 8);
            chunks = BigEndian(PQgetvalue(&row, 0, 1), 4);
            // A bytea value is below 1 GB: a larger size is not an artifact's.
            if (size < 0 || chunks < 0 || size > chunks * (int64_t{1} << 30)) {
              return corrupt("size " + std::to_string(size) + " in " + std::to_string(chunks) + " chunks");
            }
            // The one allocation: the chunks are appended to it.
            bytes.reserve(static_cast<size_t>(size));
          }
          if (PQgetisnull(&row, 0, 2) != 0) return Status::Ok();
          const auto length = static_cast<size_t>(PQgetlength(&row, 0, 2));
          if (length > static_cast<size_t>(size) - bytes.size())
            return corrupt("chunks larger than its size");
          bytes.append(PQgetvalue(&row, 0, 2), length);
          ++read;
          return Status::Ok();
        });
  }));
  if (rows == 0) return NotFoundError("artifact " + key + " not found");
  if (read != chunks || bytes.size() != static_cast<size_t>(size)) {
    return corrupt("its chunks do not add up to its size " + std::to_string(size) + " in " +
                   std::to_string(chunks) + " chunks");
  }
  return bytes;
}

}  // namespace evolve::postgres
