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

}  // namespace
}  // namespace wfq
