// Queues: pauses and per-queue counts, `wfq top`, database facts. (The suite: store_suite.h.)
#include "store_suite.h"

#include <map>
#include <set>

namespace wfq {
namespace {

TEST_P(StoreSuite, PausedQueuesAreNotClaimedButAcceptJobs) {
    NewJob mail = job("m");
    mail.queue = "mail";
    auto paused = add(mail);
    EXPECT_TRUE(m_store->set_queue_paused("mail", true, "ops@host"));
    EXPECT_FALSE(m_store->set_queue_paused("mail", true, "ops@host")) << "already paused";
    auto later = add(mail);
    auto other = add(job("d"));
    auto claimed = m_store->claim_batch({"w1", {"mail", "default"}, {}, 10, 30000});
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_EQ(claimed[0].id, other);
    EXPECT_FALSE(m_store->next_due({"mail"}, {})) << "a paused queue has nothing due for the idle loop";
    auto pauses = m_store->queue_pauses();
    ASSERT_EQ(pauses.size(), 1u);
    EXPECT_EQ(pauses[0].paused_by, "ops@host");
    auto summaries = m_store->queue_summaries();
    ASSERT_EQ(summaries.size(), 2u);
    EXPECT_EQ(summaries[1].queue, "mail");
    EXPECT_TRUE(summaries[1].paused);
    EXPECT_EQ(summaries[1].pending, 2);
    EXPECT_EQ(summaries[0].running, 1);
    EXPECT_EQ(m_store->queue_metrics(60000).paused_queues, std::vector<std::string>{"mail"});
    EXPECT_TRUE(m_store->set_queue_paused("mail", false, "ops@host"));
    EXPECT_FALSE(m_store->set_queue_paused("mail", false, "ops@host"));
    std::set<std::int64_t> ids;
    for (const auto& j : m_store->claim_batch({"w1", {"mail"}, {}, 10, 30000})) ids.insert(j.id);
    EXPECT_EQ(ids, (std::set<std::int64_t>{paused, later}));
}

// `wfq top` in one statement: the queues with their counts and rates, the workers, the latest
// failures and the jobs running past their lease (at most rows of each of the last two).
TEST_P(StoreSuite, TopSnapshotShowsQueuesWorkersFailuresAndStuckJobs) {
    WorkerInfo w;
    w.id = "w1";
    w.hostname = "host";
    w.pid = 7;
    m_store->register_worker(w);
    m_store->heartbeat("w1", 2, "{}");
    auto failed = add_to("mail", "send", 0);
    auto stuck = add_to("mail", "send", 0);
    add_to("mail", "send", 0);
    add_to("mail", "send", 0, 600000);  // scheduled
    ASSERT_EQ(m_store->claim_batch({"w1", {"mail"}, {}, 2, 50}).size(), 2u);
    ASSERT_TRUE(test::fail(*m_store, {failed, "w1", 1}, {"timeout", "slow", std::nullopt}));
    advance(100);  // the other one's lease expires
    auto snap = m_store->top_snapshot(10);
    EXPECT_GT(snap.now, 0);
    ASSERT_EQ(snap.queues.size(), 1u);
    const auto& q = snap.queues[0];
    EXPECT_EQ(q.summary.queue, "mail");
    EXPECT_EQ(q.summary.pending, 1);
    EXPECT_EQ(q.summary.scheduled, 1);
    EXPECT_EQ(q.summary.running, 1);
    EXPECT_EQ(q.summary.failed, 1);
    EXPECT_TRUE(q.summary.oldest_pending_age_ms);
    EXPECT_FALSE(q.summary.paused);
    EXPECT_EQ(q.failed_last_minute, 1);
    EXPECT_EQ(q.completed_last_minute, 0);
    ASSERT_EQ(snap.workers.size(), 1u);
    EXPECT_EQ(snap.workers[0].id, "w1");
    EXPECT_EQ(snap.workers[0].hostname, "host");
    EXPECT_EQ(snap.workers[0].running, 2);
    ASSERT_EQ(snap.recent_failures.size(), 1u);
    EXPECT_EQ(snap.recent_failures[0].id, failed);
    EXPECT_EQ(snap.recent_failures[0].error_class, "timeout");
    EXPECT_EQ(snap.recent_failures[0].type, "send");
    EXPECT_EQ(snap.recent_failures[0].queue, "mail");
    ASSERT_EQ(snap.stuck.size(), 1u);
    EXPECT_EQ(snap.stuck[0].id, stuck);
    EXPECT_EQ(snap.stuck[0].worker, "w1");
    auto none = m_store->top_snapshot(0);
    EXPECT_TRUE(none.recent_failures.empty());
    EXPECT_TRUE(none.stuck.empty());
    EXPECT_EQ(none.queues.size(), 1u);
}

// `wfq doctor` reads backend facts: the file's size on SQLite, the jobs table's on PostgreSQL.
TEST_P(StoreSuite, DatabaseFactsNameTheBackendsSizes) {
    add(job("t"));
    std::map<std::string, double> facts;
    for (const auto& [name, value] : m_store->database_facts()) facts[name] = value;
    if (m_backend == "sqlite") {
        EXPECT_GT(facts["database_bytes"], 0);
        EXPECT_TRUE(facts.count("free_bytes"));
    } else {
        EXPECT_GT(facts["jobs_table_bytes"], 0);
        EXPECT_TRUE(facts.count("oldest_transaction_age_s"));
        EXPECT_TRUE(facts.count("inactive_replication_slots"));
    }
}

}  // namespace
}  // namespace wfq
