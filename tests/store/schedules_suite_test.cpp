// Schedules: firing a tick is compare-and-set on next_run. (The suite: store_suite.h.)
#include "store_suite.h"

#include <atomic>
#include <thread>

namespace wfq {
namespace {

TEST_P(StoreSuite, ScheduleFireIsCompareAndSetOnNextRun) {
    Schedule s;
    s.name = "nightly";
    s.cron = "0 3 * * *";
    s.type = "report";
    s.next_run = 1000;
    m_store->schedule_put(s);
    NewJob j = job("report");
    std::vector<std::unique_ptr<Store>> racers;
    for (int i = 0; i < 3; ++i) racers.push_back(open(false));
    std::atomic<int> won{0};
    std::vector<std::thread> threads;
    for (auto& r : racers)
        threads.emplace_back([&, store = r.get()] {
            if (store->schedule_fire("nightly", 1000, 1000, 2000, j)) ++won;
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(won.load(), 1);
    auto all = m_store->schedules();
    ASSERT_EQ(all.size(), 1u);
    EXPECT_EQ(all[0].next_run, 2000);
    EXPECT_EQ(all[0].last_run, 1000);
    EXPECT_TRUE(all[0].last_job_id);
    EXPECT_FALSE(m_store->schedule_fire("nightly", 1000, 1000, 2000, j)) << "the tick is taken";
    EXPECT_TRUE(m_store->schedule_set_paused("nightly", true, std::nullopt));
    EXPECT_FALSE(m_store->schedule_fire("nightly", 2000, 2000, 3000, j)) << "paused";
    EXPECT_TRUE(m_store->schedule_remove("nightly"));
    EXPECT_FALSE(m_store->schedule_remove("nightly"));
}

}  // namespace
}  // namespace wfq
