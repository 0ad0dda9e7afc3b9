// Durations as operators type them (30s, 1m30s) and as wfq prints them (libqueue/src/util/duration.cpp).
#include <wfq/duration.h>
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include "../test_util.h"

namespace wfq {
namespace {

using wfq::test_util::code_of;

TEST(Duration, ParsesUnitsAndCombinations) {
    EXPECT_EQ(parse_duration_ms("250ms"), 250);
    EXPECT_EQ(parse_duration_ms("30s"), 30000);
    EXPECT_EQ(parse_duration_ms("5m"), 300000);
    EXPECT_EQ(parse_duration_ms("2h"), 7200000);
    EXPECT_EQ(parse_duration_ms("1d"), 86400000);
    EXPECT_EQ(parse_duration_ms("1m30s"), 90000);
    EXPECT_EQ(parse_duration_ms("0"), 0);
}

TEST(Duration, RejectsMalformedText) {
    for (const char* bad : {"", "5", "-5s", "5x", "s", "1.5s", "5 s", "99999999999999999999d"})
        EXPECT_EQ(code_of([&] { parse_duration_ms(bad); }), ErrorCode::usage) << bad;
}

TEST(Duration, FormatsCompactly) {
    EXPECT_EQ(format_duration_ms(250), "250ms");
    EXPECT_EQ(format_duration_ms(1500), "1.5s");
    EXPECT_EQ(format_duration_ms(200000), "3m20s");
    EXPECT_EQ(format_duration_ms(7200000), "2h");
}

}  // namespace
}  // namespace wfq
