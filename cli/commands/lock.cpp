#include "common.h"

namespace wfq::cli {
void add_lock_command(CLI::App&, Context&) {}
}  // namespace wfq::cli
