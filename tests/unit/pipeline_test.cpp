// Workflow files as they come (bounds, byte order mark, exact integers) and signals that resume
// waiting pipelines: event, key and data are checked (libqueue/src/pipeline.cpp).
#include <wfq/errors.h>
#include <wfq/pipeline.h>

#include <gtest/gtest.h>

#include "test_util.h"

#include <chrono>
#include <string>

namespace wfq {
namespace {

using wfq::test_util::error_of;

TEST(Signals, EventKeyAndDataAreChecked) {
    EXPECT_EQ(prepare_signal("approved", "7", R"({"by": "alice"})"), R"({"by":"alice"})");
    EXPECT_EQ(prepare_signal("approved", "", "null"), "null");
    error_of([] { prepare_signal("", "7", "null"); }, ErrorCode::usage);
    error_of([] { prepare_signal("approved", std::string(1001, 'k'), "null"); }, ErrorCode::usage);
    error_of([] { prepare_signal("approved", "k\n", "null"); }, ErrorCode::usage);
    std::string msg = error_of([] { prepare_signal("approved", "7", R"({"by": "\u0000"})"); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("--data: the string at /by contains \\u0000"), std::string::npos) << msg;
}

const std::string kWorkflow = R"({"type": "t", "stages": [{"name": "a", "exec": ["true"]}]})";

// Found by fuzzing (workflow check): each of these crashed or took 870 MB.
TEST(WorkflowFile, HostileTextIsRefusedWithinBounds) {
    // A byte order mark, as some editors write, is skipped (it broke the line map: heap overflow).
    Workflow w = parse_workflow("\xef\xbb\xbf" + kWorkflow, "w.json");
    EXPECT_EQ(w.type, "t");
    std::string msg = error_of([] { parse_workflow("\xef\xbb\xbf{\n\"type\": 1}", "w.json"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "w.json:2: type: must be a string");
    // A NUL byte ended nlohmann's parse early ("0\0]": a 3-byte file), the line map did not stop.
    msg = error_of([] { parse_workflow(std::string("0\0]", 3), "w.json"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "w.json: has a NUL byte at byte 2, which JSON text cannot hold");
    // 40 KB of nesting: refused before parsing, at once.
    auto start = std::chrono::steady_clock::now();
    msg = error_of([] { parse_workflow(R"({"type":"t","x":)" + std::string(20000, '[') + std::string(20000, ']') + "}", "w.json"); },
                   ErrorCode::bad_input);
    EXPECT_EQ(msg, "w.json: is nested more than 1000 levels deep");
    // Deep but within the limit: the line map records only what could be named.
    msg = error_of([] { parse_workflow(R"({"type":"t","x":)" + std::string(999, '[') + std::string(999, ']') + "}", "w.json"); },
                   ErrorCode::bad_input);
    EXPECT_EQ(msg, "w.json:1: x: unknown field");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    msg = error_of([] { parse_workflow(std::string(2 << 20, ' ') + kWorkflow, "w.json"); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "w.json: is too large (" + std::to_string((2 << 20) + kWorkflow.size()) + " bytes, at most 1 MiB)");
    // A number too large for a double: bad input (65), not the JSON library's exception (1).
    msg = error_of([] { parse_workflow(R"({"type":"t","state":{"compress_above":1e400},"stages":[]})", "w.json"); },
                   ErrorCode::bad_input);
    EXPECT_NE(msg.find("w.json: invalid JSON: "), std::string::npos) << msg;
}

TEST(WorkflowFile, IntegersAreCheckedBeforeNarrowing) {
    auto with = [](const std::string& fields) {
        return R"({"type": "t", )" + fields + R"(, "stages": [{"name": "a", "exec": ["true"]}]})";
    };
    for (const char* bad : {R"("retry": {"max_attempts": 4294967297})", R"("retry": {"max_attempts": 18446744073709551615})",
                            R"("state": {"snapshot_every": 4294967297})", R"("state": {"compress_above": 18446744073709551615})",
                            R"("state": {"compress_above": -1})"}) {
        std::string msg = error_of([&] { parse_workflow(with(bad), "w.json"); }, ErrorCode::bad_input);
        EXPECT_NE(msg.find("must be between"), std::string::npos) << bad << ": " << msg;
    }
    std::string msg = error_of([&] { parse_workflow(with(R"("retry": {"permanent_exit_codes": [4294967361]})"), "w.json"); },
                               ErrorCode::bad_input);
    EXPECT_NE(msg.find("permanent_exit_codes.0: must be an exit code 1..255"), std::string::npos) << msg;
    Workflow w = parse_workflow(with(R"("retry": {"max_attempts": 1000, "permanent_exit_codes": [65, 255]})"), "w.json");
    EXPECT_EQ(*w.policy.max_attempts, 1000);
    EXPECT_EQ(w.policy.permanent_exit_codes.count(255), 1u);
}

}  // namespace
}  // namespace wfq
