// The watchers: an operator's cancel wakes the lease keeper at once, and closing interrupts the
// long waits under way.
#include "engine/watchers.h"

#include "../../support/fake_store.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>

namespace wfq::engine {
namespace {

// Reports one cancel, then waits until interrupted.
class OneCancel final : public Waker {
public:
    bool wait(std::int64_t) override {
        std::unique_lock<std::mutex> lock(m_mutex);
        if (!m_fired) {
            m_fired = true;
            return true;
        }
        m_cv.wait(lock, [&] { return m_interrupted; });
        return false;
    }
    void interrupt() override {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_interrupted = true;
        m_cv.notify_all();
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_fired = false, m_interrupted = false;
};

class ControlStore final : public test::FakeStore {
public:
    using FakeStore::FakeStore;
    std::unique_ptr<Waker> open_control_waker() override { return std::make_unique<OneCancel>(); }
};

TEST(Watchers, AnOperatorsCancelAsksTheKeeperToRenewNow) {
    ManualClock clock;
    ControlStore store(clock);
    SlotTable table("w1", 30000, 1, 0, 0);
    Watchers watchers(store, table, nullptr, 250, "w1");
    watchers.start();
    std::vector<std::shared_ptr<Slot>> slots;
    table.keeper_wait(60000, slots);  // returns when the renewal is asked for
    EXPECT_TRUE(table.take_renewal_request());
    watchers.close();  // interrupts the wait that follows: no 60 s shutdown
    watchers.join();
}

}  // namespace
}  // namespace wfq::engine
