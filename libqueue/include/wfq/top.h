#pragma once
// `wfq top`: one frame of the live view as plain text or JSON, from one TopSnapshot.
#include <wfq/operating.h>

#include <string>

namespace wfq {

// The frame: a header line, then queues (depth, rates, oldest due age), workers, recent
// failures and stuck jobs; lines cut to width columns (0: not cut).
std::string render_top_text(const TopSnapshot& snapshot, int width = 0);
// The same as one JSON object: {"now", "queues", "workers", "recent_failures", "stuck"}.
std::string top_to_json(const TopSnapshot& snapshot);

}  // namespace wfq
