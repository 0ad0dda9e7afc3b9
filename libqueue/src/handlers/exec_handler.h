#pragma once
// Internal: the exec handler's pieces that tests reach directly (make_exec_handler and
// handler_process are public, in wfq/worker.h).
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>

namespace wfq {

// {"$snooze": "30s"} and nothing else: the delay. error is set when $snooze is malformed.
std::optional<std::int64_t> snooze_request(const nlohmann::json& out, std::string& error);

// A private (0600) temporary file holding data; the caller removes it.
std::string write_temp_file(const std::string& data);

}  // namespace wfq
