#include "common.h"

namespace wfq::cli {
void add_bench_command(CLI::App&, Context&) {}
}  // namespace wfq::cli
