// Workers: registration, heartbeats, the list. (The suite: store_suite.h.)
#include "store_suite.h"

namespace wfq {
namespace {

TEST_P(StoreSuite, WorkersRegisterHeartbeatAndLeave) {
    WorkerInfo w;
    w.id = "w-1";
    w.hostname = "host";
    w.pid = 42;
    w.queues = {"a", "b"};
    m_store->register_worker(w);
    m_store->heartbeat("w-1", 3, R"({"completed":7})");
    auto list = m_store->list_workers();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0].queues, (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(list[0].running, 3);
    EXPECT_EQ(list[0].stats, R"({"completed":7})");
    m_store->deregister_worker("w-1");
    EXPECT_TRUE(m_store->list_workers().empty());
}

}  // namespace
}  // namespace wfq
