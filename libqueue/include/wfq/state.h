#pragma once
// Pipeline state: JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7396), and checkpoint
// encoding (delta or snapshot, gzip above a threshold) with restore.
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace wfq {

using Json = nlohmann::json;

enum class JsonEquality {
    numeric,    // RFC 6902's "test": numbers equal by value, exactly (1 == 1.0, 2^53 + 1 != 2^53)
    same_text,  // what canonical() writes is the same: also 1 != 1.0 and 0.0 != -0.0
};
// Compares two documents with exact numbers (nlohmann's == rounds integers to doubles and takes
// 2^64 - 1 for -1). Iterative: no recursion whatever their depth.
bool json_equal(const Json& a, const Json& b, JsonEquality mode);

// RFC 6902: applies patch to doc and returns the result. Throws Error(bad_input) naming the
// failing operation for anything the RFC says to reject (missing members, bad pointers,
// out-of-range indices, add/remove under a primitive, move into its own child, failed test).
Json apply_json_patch(const Json& doc, const Json& patch);
// A patch p with canonical(apply_json_patch(a, p)) == canonical(b): every difference json_equal
// (same_text) sees, numbers exactly.
Json diff_json_patch(const Json& a, const Json& b);

// RFC 7396.
Json apply_merge_patch(const Json& doc, const Json& patch);
// A merge patch p with apply_merge_patch(a, p) == b (where one exists: b's nulls can't be set).
Json diff_merge_patch(const Json& a, const Json& b);

// The one serialisation we store and compare: compact, object keys sorted.
std::string canonical(const Json& doc);

struct StateOptions {
    std::vector<std::string> summary;         // JSON pointers kept in the minimal state
    std::size_t compress_above = 1024;        // gzip blobs larger than this (bytes)
    int snapshot_every = 10;                  // a full snapshot at least every K checkpoints
    double delta_ratio = 0.5;                 // ...or when the delta is not this much smaller
};

struct Checkpoint {
    int seq = 0;              // 1-based
    std::string stage;
    std::string kind;         // "snapshot" or "delta"
    bool gzipped = false;
    std::size_t raw_bytes = 0, stored_bytes = 0;
    std::string blob;         // what is stored
    std::string summary;      // the minimal state, JSON
};

// Encodes the checkpoint after one stage. previous is the context of the last checkpoint
// (null for the first), since_snapshot how many deltas follow the last snapshot.
Checkpoint encode_checkpoint(int seq, const std::string& stage, const Json& previous, const Json& context,
                             int since_snapshot, const StateOptions& options);
// The same with context already serialised by canonical(), so the caller serialises it once
// and can reuse the text (e.g. as the next stage's stdin).
Checkpoint encode_checkpoint(int seq, const std::string& stage, const Json& previous, const Json& context,
                             const std::string& serialized, int since_snapshot, const StateOptions& options);
// Rebuilds the context at the last of checkpoints (last snapshot + deltas in order).
// Throws Error(bad_input) naming the checkpoint for corrupt gzip or a patch that does not apply.
Json restore_context(const std::vector<Checkpoint>& checkpoints);
// The minimal state: each summary pointer's value (null when absent) and, for every array at
// the top level, its length under "counts".
Json minimal_state(const Json& context, const std::vector<std::string>& pointers);

}  // namespace wfq
