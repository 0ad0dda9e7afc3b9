#pragma once
// `wfq top`: one frame of the live view as plain text, from one TopSnapshot (JSON: wfq/json_out.h).
#include <wfq/operating.h>

#include <string>

namespace wfq::cli {

// The frame: a summary line, then queues (depth, rates, oldest due age), workers, recent
// failures, the longest running jobs and stuck jobs. With width > 0 every line fits in width columns: tables use short
// headers, cut names with "…", then leave out their least needed columns (the header line ends
// in "…" and the section's title names them); 0: nothing is cut.
std::string render_top_text(const TopSnapshot& snapshot, int width = 0);

}  // namespace wfq::cli
