// Retry delays: the presets, the formula, seeded jitter (libqueue/src/backoff.cpp).
#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include "test_util.h"

namespace wfq {
namespace {

using wfq::test_util::code_of;

TEST(Backoff, PresetsMatchTheDesignTable) {
    auto s = *backoff_preset("standard");
    EXPECT_EQ(s.base_ms, 1000);
    EXPECT_EQ(s.max_ms, 30000);
    EXPECT_DOUBLE_EQ(s.jitter, 0.25);
    EXPECT_EQ(backoff_preset("Conservative")->multiplier, 3);
    EXPECT_EQ(backoff_preset("HEAVY_TASK")->base_ms, 5000);
    EXPECT_FALSE(backoff_preset("nope"));
    EXPECT_EQ(backoff_preset_names().size(), 6u);
}

TEST(Backoff, FollowsTheFormula) {
    auto s = *backoff_preset("STANDARD");
    EXPECT_EQ(s.capped_ms(0), 1000);
    EXPECT_EQ(s.capped_ms(1), 2000);
    EXPECT_EQ(s.capped_ms(4), 16000);
    EXPECT_EQ(s.capped_ms(5), 30000);  // 32000 capped
    EXPECT_EQ(s.delay_ms(0, -1.0), 750);
    EXPECT_EQ(s.delay_ms(0, 1.0), 1250);
    auto lin = *backoff_preset("LINEAR");
    EXPECT_EQ(lin.capped_ms(0), 5000);
    EXPECT_EQ(lin.capped_ms(2), 15000);
    EXPECT_EQ(lin.capped_ms(9), 30000);
    BackoffPolicy tiny{1, 1, 1.0, 2};
    EXPECT_EQ(tiny.delay_ms(0, -1.0), 1) << "at least 1 ms";
}

TEST(Backoff, SeededSamplesAreReproducibleAndWithinBounds) {
    auto s = *backoff_preset("FAST");
    DefaultRandom r1(42), r2(42);
    auto a = backoff_schedule(s, 6, &r1);
    auto b = backoff_schedule(s, 6, &r2);
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].sample_ms, b[i].sample_ms);
        EXPECT_GE(*a[i].sample_ms, a[i].min_ms);
        EXPECT_LE(*a[i].sample_ms, a[i].max_ms);
        EXPECT_EQ(a[i].retry, static_cast<int>(i) + 1);
    }
    EXPECT_EQ(code_of([] { BackoffPolicy{0, 10, 0.1, 2}.validate(); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { BackoffPolicy{10, 5, 0.1, 2}.validate(); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { BackoffPolicy{10, 50, 1.5, 2}.validate(); }), ErrorCode::usage);
}

}  // namespace
}  // namespace wfq
