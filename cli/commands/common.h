#pragma once
#include "../context.h"
#include "../output.h"
#include "../table.h"

#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/json_out.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace wfq::cli {

using nlohmann::json;

// Binds a subcommand to a runner: parsing fills *options, then main calls run(ctx, *options).
template <typename Options>
void on_run(CLI::App* sub, Context& ctx, std::shared_ptr<Options> options, int (*run)(Context&, Options&)) {
    sub->callback([&ctx, options, run] { ctx.action = [&ctx, options, run] { return run(ctx, *options); }; });
}

inline std::int64_t duration_flag(const std::string& name, const std::string& value) {
    try {
        return parse_duration_ms(value);
    } catch (const Error& e) {
        throw Error(ErrorCode::usage, name + ": " + e.what());
    }
}

// An unknown queue name is most likely a typo (`wfq queues pause mial`): a warning on stderr,
// or Error(not_found) (exit 4) with --strict. (Defined in queues.cpp.)
void check_queues(Store& store, const std::vector<std::string>& queues, bool strict);

}  // namespace wfq::cli
