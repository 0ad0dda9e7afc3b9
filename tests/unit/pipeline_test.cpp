// Signals that resume waiting pipelines: event, key and data are checked (libqueue/src/pipeline.cpp).
#include <wfq/errors.h>
#include <wfq/pipeline.h>

#include <gtest/gtest.h>

#include "test_util.h"

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

}  // namespace
}  // namespace wfq
