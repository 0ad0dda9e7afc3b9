// Filters of the bulk actions (jobs retry, cancel, prune): states and durations (libqueue/src/bulk.cpp).
#include <wfq/bulk.h>
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include <vector>

namespace wfq {
namespace {

TEST(BulkFilter, ValidatesStatesAndDurations) {
    BulkRequest r;
    EXPECT_EQ(make_bulk_filter(BulkAction::retry, r).states, std::vector<JobState>{JobState::failed});
    EXPECT_EQ(make_bulk_filter(BulkAction::cancel, r).states.size(), 3u);
    r.states = {"running"};
    EXPECT_THROW(make_bulk_filter(BulkAction::retry, r), Error) << "retry never touches running jobs";
    r.states = {"finished"};
    EXPECT_THROW(make_bulk_filter(BulkAction::cancel, r), Error);
    r.states = {"failed"};
    r.scope.older_than = "ten minutes";
    EXPECT_THROW(make_bulk_filter(BulkAction::retry, r), Error);
    r.scope.older_than = "10m";
    EXPECT_EQ(*make_bulk_filter(BulkAction::retry, r).scope.older_than_ms, 600000);
}

}  // namespace
}  // namespace wfq
