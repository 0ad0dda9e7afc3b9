// One mapping from how a handler process ended to the attempt's intent, for the exec handler and
// the pipeline's stages (prefixed "stage NAME: ").
#include "handlers/exec_handler.h"
#include "handlers/process_result.h"

#include <wfq/process_runner.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>

namespace wfq {
namespace {

using O = HandlerResult::Outcome;

ProcessResult ended(int exit_code, const std::string& tail = "") {
    ProcessResult p;
    p.exit_code = exit_code;
    p.stderr_tail = tail;
    return p;
}

TEST(ProcessResult, ExitCodes) {
    auto r = handler_result_of(ended(0, "a warning"), 0);
    EXPECT_EQ(r.outcome, O::success);
    EXPECT_EQ(r.error, "") << "stderr of a clean exit is no error";
    r = handler_result_of(ended(3, "boom"), 0);
    EXPECT_EQ(r.outcome, O::failure);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.error, "boom");
    EXPECT_EQ(r.ended_by, "") << "derived from the exit code (exit code 3)";
    EXPECT_EQ(handler_result_of(ended(3), 0).error, "exit code 3");
    EXPECT_EQ(handler_result_of(ended(3), 0, "stage build: ").error, "stage build: exit code 3");
}

TEST(ProcessResult, TimeoutsSignalsAndSpawnFailuresReadTheSameForExecAndStages) {
    ProcessResult t = ended(-1, "slow");
    t.timed_out = true;
    auto r = handler_result_of(t, 2000);
    EXPECT_EQ(r.outcome, O::timeout);
    EXPECT_EQ(r.ended_by, "timeout after 2s");
    EXPECT_EQ(r.error, "timed out after 2s: slow");
    r = handler_result_of(t, 2000, "stage build: ");
    EXPECT_EQ(r.ended_by, "stage build: timeout after 2s");
    EXPECT_EQ(r.error, "stage build: timed out after 2s: slow");

    ProcessResult k = ended(-1);
    k.term_signal = SIGKILL;
    r = handler_result_of(k, 0);
    EXPECT_EQ(r.outcome, O::crash);
    EXPECT_EQ(r.ended_by, describe_signal(SIGKILL));
    EXPECT_EQ(r.error, "killed by " + describe_signal(SIGKILL));
    EXPECT_EQ(handler_result_of(k, 0, "stage x: ").error, "stage x: killed by " + describe_signal(SIGKILL));

    ProcessResult s;
    s.spawn_failed = true;
    s.spawn_error = "no such file";
    r = handler_result_of(s, 0);
    EXPECT_EQ(r.outcome, O::failure);
    EXPECT_EQ(r.exit_code, 127);
    EXPECT_EQ(r.ended_by, "could not start (exit code 127)");
    EXPECT_EQ(r.error, "no such file");
    EXPECT_EQ(handler_result_of(s, 0, "stage x: ").error, "stage x: no such file");

    ProcessResult c = ended(-1);
    c.cancelled = true;
    EXPECT_EQ(handler_result_of(c, 0).outcome, O::cancelled);
}

TEST(ExecHandler, SnoozeRequests) {
    std::string error;
    EXPECT_EQ(snooze_request(nlohmann::json::parse(R"({"$snooze": "30s"})"), error), 30000);
    EXPECT_EQ(error, "");
    EXPECT_FALSE(snooze_request(nlohmann::json::parse(R"({"$snooze": "30s", "x": 1})"), error)) << "only $snooze";
    EXPECT_EQ(error, "");
    EXPECT_FALSE(snooze_request(nlohmann::json::parse(R"({"$snooze": 30})"), error));
    EXPECT_NE(error.find("invalid $snooze"), std::string::npos);
}

TEST(ExecHandler, StderrOfACleanExitIsNotAMalformedSnooze) {
    ExecHandlerOptions o;
    o.command = {"/bin/sh", "-c", "echo note >&2; echo '{\"text\": \"$snooze\"}'"};
    auto handler = make_exec_handler(o);
    Job job;
    job.id = 1;
    job.type = "t";
    job.payload = "{}";
    std::atomic<bool> cancel{false};
    HandlerResult r = handler->run(job, cancel);
    EXPECT_EQ(r.outcome, O::success);
    EXPECT_EQ(r.output.value_or(""), R"({"text":"$snooze"})");
}

}  // namespace
}  // namespace wfq
