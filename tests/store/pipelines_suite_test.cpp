// Pipelines: stages and checkpoints under the lease, signals stored, consumed, resumed, cleared.
// (The suite: store_suite.h.)
#include "store_suite.h"

namespace wfq {
namespace {

// A pipeline's writes are compare-and-set on the job's lease, like finishing: the current stage
// and checkpoints (a blob may hold any byte), read back in order.
TEST_P(StoreSuite, StagesAndCheckpointsAreWrittenUnderTheLease) {
    auto id = add(job("p"));
    ASSERT_EQ(claim("w1").size(), 1u);
    const JobRef lease{id, "w1", 1}, stale{id, "w1", 2};
    EXPECT_TRUE(m_store->set_current_stage(lease, "build"));
    EXPECT_FALSE(m_store->set_current_stage(stale, "test"));
    EXPECT_EQ(m_store->get_job(id)->current_stage.value_or(""), "build");
    Checkpoint c;
    c.seq = 1;
    c.stage = "build";
    c.kind = "snapshot";
    c.gzipped = true;
    c.raw_bytes = 100;
    c.stored_bytes = 6;
    c.blob = std::string("\x1f\x8b\0\xff z", 6);
    c.summary = R"({"n": 1})";
    EXPECT_TRUE(m_store->add_checkpoint(lease, c));
    Checkpoint d = c;
    d.seq = 2;
    d.kind = "delta";
    d.gzipped = false;
    d.blob = "[]";
    EXPECT_FALSE(m_store->add_checkpoint(stale, d)) << "not its lease";
    EXPECT_TRUE(m_store->add_checkpoint(lease, d));
    auto got = m_store->load_checkpoints(id);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].seq, 1);
    EXPECT_EQ(got[0].stage, "build");
    EXPECT_EQ(got[0].kind, "snapshot");
    EXPECT_TRUE(got[0].gzipped);
    EXPECT_EQ(got[0].raw_bytes, 100u);
    EXPECT_EQ(got[0].stored_bytes, 6u);
    EXPECT_EQ(got[0].blob, c.blob);
    EXPECT_EQ(got[0].summary, c.summary);
    EXPECT_EQ(got[1].seq, 2);
    EXPECT_EQ(got[1].kind, "delta");
    EXPECT_FALSE(got[1].gzipped);
    EXPECT_EQ(got[1].blob, "[]");
    EXPECT_TRUE(m_store->load_checkpoints(id + 1000).empty());
}

// A signal no job waits for is stored, and a job parked for it later consumes it at once. A
// signal a job waits for resumes it: the attempt given back, the signal's data its context
// until its next checkpoint.
TEST_P(StoreSuite, SignalsResumeParkedJobsOrWaitForThem) {
    auto early = add(job("p")), late = add(job("p"));
    ASSERT_EQ(claim("w1", 2).size(), 2u);
    EXPECT_TRUE(m_store->signal("approved", "pr-1", R"({"by": "ann"})").empty()) << "nobody waits: stored";
    auto stored = m_store->stored_signals();
    ASSERT_EQ(stored.size(), 1u);
    EXPECT_EQ(stored[0].event, "approved");
    EXPECT_EQ(stored[0].key, "pr-1");
    EXPECT_EQ(stored[0].data, R"({"by": "ann"})");
    EXPECT_FALSE(stored[0].expires_at) << "kept until consumed";
    auto park = [&](std::int64_t id, const std::string& key) {
        Outcome o;
        o.job = {id, "w1", 1};
        o.kind = Outcome::Kind::parked;
        o.wait_event = "approved";
        o.wait_key = key;
        o.wait_spec = "{}";
        o.wait_timeout_ms = 600000;
        o.max_attempts = 3;
        return m_store->record_outcomes({o}).at(0);
    };
    EXPECT_EQ(park(early, "pr-1"), OutcomeStatus::resumed) << "the stored signal";
    EXPECT_TRUE(m_store->stored_signals().empty()) << "consumed";
    auto j = m_store->get_job(early);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_NE(j->signal_data.value_or("").find(R"("by": "ann")"), std::string::npos);
    EXPECT_EQ(park(late, "pr-2"), OutcomeStatus::recorded);
    j = m_store->get_job(late);
    EXPECT_EQ(j->state, JobState::waiting);
    EXPECT_EQ(j->wait_event.value_or(""), "approved");
    EXPECT_EQ(m_store->signal("approved", "pr-2", R"({"by": "bob"})"), std::vector<std::int64_t>{late});
    j = m_store->get_job(late);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_FALSE(j->wait_event);
    EXPECT_NE(j->signal_data.value_or("").find(R"("by": "bob")"), std::string::npos);
    EXPECT_TRUE(m_store->stored_signals().empty());
    // Claimed again, the job's first checkpoint holds that context: the row forgets it.
    ASSERT_EQ(claim("w2", 5).size(), 2u);
    Checkpoint c;
    c.seq = 1;
    c.stage = "s";
    c.kind = "snapshot";
    c.summary = "{}";
    ASSERT_TRUE(m_store->add_checkpoint({late, "w2", 1}, c));
    EXPECT_FALSE(m_store->get_job(late)->signal_data);
    EXPECT_TRUE(m_store->get_job(early)->signal_data);
}

// Stored signals expire after their --keep; clear_signals deletes them by event (and key).
TEST_P(StoreSuite, StoredSignalsExpireAndAreCleared) {
    m_store->signal("deploy", "a", "{}");
    m_store->signal("deploy", "b", "{}");
    m_store->signal("review", "a", "{}");
    m_store->signal("brief", "a", "{}", 100);
    auto names = [&] {
        std::vector<std::string> v;
        for (const auto& s : m_store->stored_signals()) v.push_back(s.event + "/" + s.key);
        return v;
    };
    EXPECT_EQ(names(), (std::vector<std::string>{"deploy/a", "deploy/b", "review/a", "brief/a"}));
    auto brief = m_store->stored_signals().back();
    ASSERT_TRUE(brief.expires_at);
    EXPECT_GE(*brief.expires_at, brief.created_at + 100);
    advance(150);
    EXPECT_EQ(names(), (std::vector<std::string>{"deploy/a", "deploy/b", "review/a"})) << "brief expired";
    EXPECT_EQ(m_store->clear_signals("deploy", std::string("a")), 1);
    EXPECT_EQ(m_store->clear_signals("deploy", std::nullopt), 1);
    EXPECT_EQ(m_store->clear_signals("deploy", std::nullopt), 0);
    EXPECT_EQ(names(), std::vector<std::string>{"review/a"});
}

}  // namespace
}  // namespace wfq
