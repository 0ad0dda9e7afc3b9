// RFC 3339 times in and out (libqueue/src/util/clock.cpp).
#include <wfq/clock.h>
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include "../test_util.h"

namespace wfq {
namespace {

using wfq::test_util::code_of;

TEST(Time, RoundTripsRfc3339) {
    TimeMs t = parse_time("2026-11-25T16:49:55.123Z");
    EXPECT_EQ(format_time(t), "2026-11-25T16:49:55.123Z");
    EXPECT_EQ(parse_time("2026-11-25T18:49:55+02:00"), parse_time("2026-11-25T16:49:55Z"));
    EXPECT_EQ(code_of([] { parse_time("2026-11-25 16:49"); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { parse_time("2026-11-25T16:49:55"); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { parse_time("2026-13-25T16:49:55Z"); }), ErrorCode::usage);
}

// Found by fuzzing: sscanf's %4d took "+026" (year 26) and %2d took "-1", so
// 2026-11-25T-1:-5:-9Z was a time. The grammar is now RFC 3339's, digit for digit.
TEST(Time, TakesExactlyTheRfc3339Grammar) {
    for (const char* bad : {"+026-11-25T17:00:00Z", "2026-11-25T-1:-5:-9Z", " 2026-11-25T17:00:00Z", "2026-1-25T17:00:00Z",
                            "2026-11-25T17:00:00+2:00", "2026-11-25T17:00:00+02", "2026-11-25T17:00:00+24:00",
                            "2026-11-25T17:00:00+02:60", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-11-25T24:00:00Z",
                            "2026-11-25T17:60:00Z", "2026-11-25T17:00:61Z", "2026-11-25T17:00:00.Z", "2026-11-25T17:00:00Zx",
                            "2026-11-25X17:00:00Z", "20261-11-25T17:00:00Z", "2026-11-25T17:00:00\xff", ""})
        EXPECT_EQ(code_of([&] { parse_time(bad); }), ErrorCode::usage) << bad;
    EXPECT_EQ(format_time(parse_time("2028-02-29T00:00:00Z")), "2028-02-29T00:00:00.000Z");
    EXPECT_EQ(format_time(parse_time("2000-02-29t12:00:00.5z")), "2000-02-29T12:00:00.500Z");
    EXPECT_EQ(format_time(parse_time("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00.000Z");
    EXPECT_EQ(format_time(parse_time("9999-12-31 23:59:59.999999-00:30")), "10000-01-01T00:29:59.999Z");
    EXPECT_EQ(parse_time("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_time("1969-12-31T23:59:59.001Z"), -999);
    // A leap second counts as the next second.
    EXPECT_EQ(parse_time("2016-12-31T23:59:60Z"), parse_time("2017-01-01T00:00:00Z"));
}

}  // namespace
}  // namespace wfq
