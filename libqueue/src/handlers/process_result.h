#pragma once
// Internal: how a handler process ended, as the handler's intent for its attempt. One mapping
// for the exec handler and the pipeline's exec stages, so the same event reads the same.
#include <wfq/worker.h>

#include <cstdint>
#include <string>

namespace wfq {

struct ProcessResult;

// The result for a process that did not exit cleanly: could not start (failure, exit code 127),
// cancelled, timed out after timeout_ms, killed by a signal, or a non-zero exit. where prefixes
// the messages and ended_by ("stage NAME: " for a pipeline stage, "" for the exec handler).
// A clean exit (code 0) gives outcome success with error and output empty: the caller reads
// the process's stdout.
HandlerResult handler_result_of(const ProcessResult& p, std::int64_t timeout_ms, const std::string& where = "");

}  // namespace wfq
