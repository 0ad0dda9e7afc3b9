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

TEST(BulkFilter, ScopeNamesAreCheckedByOneRule) {
    BulkRequest r;
    r.scope.orgs = {""};
    EXPECT_THROW(make_bulk_filter(BulkAction::cancel, r), Error);
    r.scope.orgs = {"acme"};
    r.scope.error_classes = {"timeout", "no_such_class"};
    EXPECT_THROW(make_bulk_filter(BulkAction::retry, r), Error);
    r.scope.error_classes = {"timeout"};
    r.scope.running_longer_than = "5m";
    EXPECT_THROW(make_bulk_filter(BulkAction::prune, r), Error) << "prune never touches running jobs";
    auto f = make_bulk_filter(BulkAction::retry, r);
    EXPECT_EQ(f.scope.orgs, std::vector<std::string>{"acme"});
    EXPECT_EQ(*f.scope.running_longer_than_ms, 300000);
    EXPECT_EQ(f.states, std::vector<JobState>{JobState::running}) << "--running-longer-than retries hung jobs";
}

// `jobs retry|cancel ID...`: exit 0 when all were acted on, 4 when a single id named no job,
// 1 otherwise (a job in the wrong state, or one of several ids unknown).
TEST(ActOnJobs, TheExitFollowsWhatHappenedToEachId) {
    auto r = [](AdminResult a) { return JobActionResult{1, a, std::nullopt}; };
    EXPECT_EQ(act_on_jobs_error({r(AdminResult::done), r(AdminResult::done)}), std::nullopt);
    EXPECT_EQ(act_on_jobs_error({r(AdminResult::not_found)}), ErrorCode::not_found);
    EXPECT_EQ(act_on_jobs_error({r(AdminResult::done), r(AdminResult::not_found)}), ErrorCode::failure);
    EXPECT_EQ(act_on_jobs_error({r(AdminResult::wrong_state)}), ErrorCode::failure);
    EXPECT_EQ(act_on_jobs_error({r(AdminResult::not_found), r(AdminResult::wrong_state)}), ErrorCode::failure);
}

}  // namespace
}  // namespace wfq
