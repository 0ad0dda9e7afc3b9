// Retrying database operations while the database is unavailable (header-only: <wfq/retry.h>).
#include <wfq/errors.h>
#include <wfq/retry.h>

#include <gtest/gtest.h>

#include "test_util.h"

#include <cstdint>
#include <vector>

namespace wfq {
namespace {

using wfq::test_util::code_of;

TEST(Retry, RetriesOnlyUnavailableDatabaseThenGivesUp) {
    RetryPolicy p;
    p.max_attempts = 3;
    std::vector<std::int64_t> slept;
    p.sleep = [&](std::int64_t ms) { slept.push_back(ms); };
    int calls = 0;
    EXPECT_EQ(retry([&] {
        if (++calls < 3) throw Error(ErrorCode::db_unavailable, "down");
        return 7;
    }, p), 7);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(slept, (std::vector<std::int64_t>{100, 200}));
    calls = 0;
    EXPECT_EQ(code_of([&] { retry([&] { ++calls; throw Error(ErrorCode::db_unavailable, "down"); }, p); }),
              ErrorCode::db_unavailable);
    EXPECT_EQ(calls, 3);
    calls = 0;
    EXPECT_EQ(code_of([&] { retry([&] { ++calls; throw Error(ErrorCode::bad_input, "no"); }, p); }), ErrorCode::bad_input);
    EXPECT_EQ(calls, 1) << "other errors are not retried";
}

}  // namespace
}  // namespace wfq
