// The state a job is shown in (libqueue/src/job.cpp).
#include <wfq/job.h>

#include <gtest/gtest.h>

namespace wfq {
namespace {

TEST(DisplayState, RefinesPending) {
    EXPECT_EQ(display_state(JobState::pending, 200, 0, 100), "scheduled");
    EXPECT_EQ(display_state(JobState::pending, 50, 1, 100), "retrying");
    EXPECT_EQ(display_state(JobState::pending, 50, 0, 100), "pending");
    EXPECT_EQ(display_state(JobState::failed, 50, 3, 100), "failed");
}

}  // namespace
}  // namespace wfq
