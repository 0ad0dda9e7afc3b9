// Running attempts' logs, written while they run (libqueue/src/live_log.cpp).
#include <wfq/live_log.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace wfq {
namespace {

TEST(LiveLogs, GivesTheLogsThatChangedOnceAndForgetsClosedOnes) {
    LiveLogs logs;
    auto a = logs.open(1, 1, 100);
    auto b = logs.open(2, 3, 100);
    EXPECT_TRUE(logs.changed(1 << 20).empty());
    a->add_line("one");
    auto first = logs.changed(1 << 20);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].job_id, 1);
    EXPECT_EQ(first[0].attempt, 1);
    EXPECT_EQ(first[0].log.text, "one\n");
    EXPECT_TRUE(logs.changed(1 << 20).empty());  // nothing new
    a->add_line("two");
    b->add_line("bee");
    EXPECT_EQ(logs.changed(1 << 20).size(), 2u);
    a->add_line("three");
    AttemptLog final_log = logs.close(a);
    EXPECT_EQ(final_log.text, "one\ntwo\nthree\n");
    EXPECT_TRUE(logs.changed(1 << 20).empty());  // closed: its final log goes with the outcome
    EXPECT_EQ(logs.open_count(), 1u);
}

TEST(LiveLogs, ABudgetCutLeavesTheRestForNextTimeInTurn) {
    LiveLogs logs;
    std::vector<std::shared_ptr<LiveLog>> open;
    for (int id = 1; id <= 4; ++id) {
        open.push_back(logs.open(id, 1, 100));
        open.back()->add_line(std::string(10, 'x'));
    }
    auto first = logs.changed(15);  // two logs of 11 bytes: the second passes the budget
    ASSERT_EQ(first.size(), 2u);
    EXPECT_EQ(first[0].job_id, 1);
    EXPECT_EQ(first[1].job_id, 2);
    open[0]->add_line("again");
    auto second = logs.changed(15);
    ASSERT_EQ(second.size(), 2u);
    EXPECT_EQ(second[0].job_id, 3);  // the ones left over come first
    EXPECT_EQ(second[1].job_id, 4);
    auto third = logs.changed(15);
    ASSERT_EQ(third.size(), 1u);
    EXPECT_EQ(third[0].job_id, 1);
    EXPECT_EQ(third[0].log.text, std::string(10, 'x') + "\nagain\n");
}

TEST(LiveLogs, CapZeroRegistersNothing) {
    LiveLogs logs;
    auto a = logs.open(1, 1, 0);
    a->add_line("x");
    EXPECT_TRUE(logs.changed(1 << 20).empty());
    EXPECT_TRUE(logs.close(a).empty());
}

}  // namespace
}  // namespace wfq
