#include <wfq/process_runner.h>
#include <wfq/text.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>

namespace wfq {
namespace {

ProcessSpec sh(const std::string& script) {
    ProcessSpec s;
    s.argv = {"/bin/sh", "-c", script};
    s.env = current_environment();
    return s;
}

TEST(ProcessRunner, PassesStdinAndCapturesStdoutAndExitCode) {
    auto spec = sh("cat; echo done >&2; exit 3");
    spec.stdin_data = std::string(300000, 'x');  // larger than a pipe buffer
    std::vector<std::string> lines;
    spec.on_stderr_line = [&](const std::string& l) { lines.push_back(l); };
    auto r = run_process(spec);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_EQ(r.stdout_data.size(), 300000u);
    EXPECT_EQ(lines, std::vector<std::string>{"done"});
    EXPECT_EQ(r.stderr_tail, "done\n");
}

TEST(ProcessRunner, ExportsTheEnvironmentItIsGiven) {
    auto spec = sh("printf %s \"$WFQ_TEST_VALUE\"");
    spec.env.push_back("WFQ_TEST_VALUE=hello");
    EXPECT_EQ(run_process(spec).stdout_data, "hello");
}

TEST(ProcessRunner, TimeoutStopsTheWholeProcessGroup) {
    auto spec = sh("sleep 30 & sleep 30; echo never");
    spec.timeout_ms = 200;
    spec.kill_grace_ms = 200;
    auto start = std::chrono::steady_clock::now();
    auto r = run_process(spec);
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.stdout_data, "");
    EXPECT_LT(took, std::chrono::seconds(5));
}

TEST(ProcessRunner, CancelStopsTheCommand) {
    std::atomic<bool> cancel{true};
    auto spec = sh("sleep 30");
    spec.cancel = &cancel;
    auto r = run_process(spec);
    EXPECT_TRUE(r.cancelled);
    EXPECT_EQ(r.term_signal, 15);
}

TEST(ProcessRunner, MissingCommandIsASpawnFailure) {
    ProcessSpec spec;
    spec.argv = {"/no/such/handler"};
    auto r = run_process(spec);
    EXPECT_TRUE(r.spawn_failed);
    EXPECT_NE(r.spawn_error.find("No such file"), std::string::npos);
}

TEST(ProcessRunner, StderrWithoutNewlinesIsLoggedInBoundedPieces) {
    auto spec = sh("head -c 100000 /dev/zero | tr '\\0' x >&2");
    spec.stderr_line_cap = 1000;
    std::size_t lines = 0, longest = 0;
    spec.on_stderr_line = [&](const std::string& l) {
        ++lines;
        longest = std::max(longest, l.size());
    };
    auto r = run_process(spec);
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(lines, 100u);
    EXPECT_LE(longest, 1000u + sizeof " [line cut]");
}

TEST(ProcessRunner, StdoutIsCapped) {
    auto spec = sh("head -c 100000 /dev/zero");
    spec.stdout_cap = 1000;
    auto r = run_process(spec);
    EXPECT_EQ(r.stdout_data.size(), 1000u);
    EXPECT_TRUE(r.stdout_truncated);
    EXPECT_EQ(r.exit_code, 0);
}

TEST(ProcessRunner, StderrTailIsValidUtf8CutAtACharacter) {
    std::atomic<bool> cancel{false};
    ProcessSpec spec;
    // 3000 two-byte characters (6000 bytes), then x NUL y and a bad byte: the last 4096 of these
    // 6005 bytes start inside a character unless the runner realigns the tail.
    spec.argv = {"sh", "-c", "i=0; while [ $i -lt 3000 ]; do printf '\\303\\251' >&2; i=$((i+1)); done; printf 'x\\000y\\377' >&2; exit 1"};
    spec.cancel = &cancel;
    spec.stderr_tail_cap = 4096;
    ProcessResult r = run_process(spec);
    EXPECT_TRUE(is_valid_utf8(r.stderr_tail));
    EXPECT_EQ(r.stderr_tail.find('\0'), std::string::npos);
    EXPECT_EQ(r.stderr_tail.rfind("\xc3\xa9", 0), 0u) << "the tail starts at a character";
    EXPECT_NE(r.stderr_tail.find("x\xef\xbf\xbdy\xef\xbf\xbd"), std::string::npos);
}

}  // namespace
}  // namespace wfq
