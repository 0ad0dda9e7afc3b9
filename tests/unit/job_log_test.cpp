// One attempt's log capped to its newest lines, and --log-cap's sizes (libqueue/src/job_log.cpp).
#include <wfq/errors.h>
#include <wfq/job_log.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace wfq {
namespace {

TEST(LogCapture, KeepsEveryLineUnderTheCap) {
    LogCapture c(100);
    c.add_line("one");
    c.add_line("two");
    auto log = c.take();
    EXPECT_EQ(log.text, "one\ntwo\n");
    EXPECT_EQ(log.dropped_bytes, 0);
    EXPECT_TRUE(c.take().empty()) << "take empties the capture";
}

TEST(LogCapture, KeepsTheNewestWholeLinesAndCountsWhatItDropped) {
    LogCapture c(10);
    for (int i = 0; i < 100; ++i) c.add_line("line" + std::to_string(i));  // "lineNN\n": 7 bytes
    auto log = c.take();
    EXPECT_EQ(log.text, "line99\n");
    std::int64_t total = 10 * 6 + 90 * 7;
    EXPECT_EQ(log.dropped_bytes, total - 7);
}

TEST(LogCapture, ALineLongerThanTheCapKeepsItsTail) {
    LogCapture c(4);
    c.add_line("abcdefgh");
    auto log = c.take();
    EXPECT_EQ(log.text, "fgh\n");
    EXPECT_EQ(log.dropped_bytes, 5);
}

TEST(LogCapture, CapZeroKeepsNothing) {
    LogCapture c(0);
    c.add_line("x");
    EXPECT_TRUE(c.take().empty());
}

TEST(LogCapture, StoresValidUtf8) {
    LogCapture c(100);
    c.add_line(std::string("bad \xff byte and a \0 nul", 22));
    auto log = c.take();
    EXPECT_EQ(log.text, "bad \xef\xbf\xbd byte and a \xef\xbf\xbd nul\n");
}

TEST(LogCap, ParsesSizes) {
    EXPECT_EQ(parse_log_cap("--log-cap", "0"), 0u);
    EXPECT_EQ(parse_log_cap("--log-cap", "65536"), 65536u);
    EXPECT_EQ(parse_log_cap("--log-cap", "64KiB"), 65536u);
    EXPECT_EQ(parse_log_cap("--log-cap", "64K"), 65536u);
    EXPECT_EQ(parse_log_cap("--log-cap", "1MiB"), 1048576u);
    EXPECT_EQ(parse_log_cap("--log-cap", "16MiB"), kMaxLogCap);
}

TEST(LogCap, RefusesOtherTextNamingTheFlag) {
    for (const char* bad : {"", "-1", "64 KiB", "64kb", "17MiB", "99999999999999999999", "KiB"}) {
        try {
            parse_log_cap("--log-cap", bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::usage) << bad;
            EXPECT_NE(std::string(e.what()).find("--log-cap"), std::string::npos) << e.what();
        }
    }
}

TEST(LogCapture, PeekKeepsTheLines) {
    LogCapture c(10);
    c.add_line("aaaa");
    c.add_line("bbbb");
    c.add_line("cccc");
    AttemptLog p = c.peek();
    EXPECT_EQ(p.text, "bbbb\ncccc\n");
    EXPECT_EQ(p.dropped_bytes, 5);
    AttemptLog t = c.take();
    EXPECT_EQ(t.text, p.text);
    EXPECT_EQ(t.dropped_bytes, p.dropped_bytes);
}

}  // namespace
}  // namespace wfq
