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

// Found by fuzzing: parts that each fit but whose sum overflowed wrapped (--delay ...d...d gave
// 1.6 s); durations of 10^10 days were taken. Every part and the sum are capped at 100 years.
TEST(Duration, RefusesWhatExceedsTheCapWithoutWrapping) {
    EXPECT_EQ(parse_duration_ms("36500d"), kMaxDurationMs);
    EXPECT_EQ(parse_duration_ms("36499d23h59m59s1000ms"), kMaxDurationMs);
    for (const char* bad : {"36500d1ms", "36501d", "53375995583d53375995583d", "106751991167d106751991167d",
                            "10000000000000d", "9223372036854775807ms", "3153600000001ms", "1d1d1d99999999999999999ms"}) {
        std::string msg = test_util::error_of([&] { parse_duration_ms(bad); }, ErrorCode::usage);
        EXPECT_NE(msg.find("too large (at most 36500d)"), std::string::npos) << bad << ": " << msg;
    }
    std::string many;
    for (int i = 0; i < 1100; ++i) many += "36d";  // 39600d in parts that each fit
    EXPECT_EQ(code_of([&] { parse_duration_ms(many); }), ErrorCode::usage);
}

TEST(Duration, FormatsCompactly) {
    EXPECT_EQ(format_duration_ms(250), "250ms");
    EXPECT_EQ(format_duration_ms(1500), "1.5s");
    EXPECT_EQ(format_duration_ms(200000), "3m20s");
    EXPECT_EQ(format_duration_ms(7200000), "2h");
}

}  // namespace
}  // namespace wfq
