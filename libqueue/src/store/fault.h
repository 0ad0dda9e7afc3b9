#pragma once
// Internal, test-only: a fault injected at commit time, compiled in but inert unless the
// environment variable WFQ_TEST_FAULT names it, e.g. "commit_lost:enqueue" (the COMMIT runs
// but its reply is lost) or "commit_cut:complete" (the connection is cut before COMMIT).
// An optional third field ":N" fires on the Nth matching commit (default: the first).
#include <string>

namespace wfq::store {

enum class CommitFault { none, lost_reply, cut_before };

// The fault to inject into this commit of operation label (fires once per process).
CommitFault take_commit_fault(const char* label);

}  // namespace wfq::store
