// Job logs: each attempt's handler stderr, written in the completer's flush, read by `jobs logs`
// and pruned with the job. (The suite: store_suite.h.)
#include "store_suite.h"

namespace wfq {
namespace {

Outcome with_log(Outcome o, const std::string& text, std::int64_t dropped = 0) {
    o.log.text = text;
    o.log.dropped_bytes = dropped;
    return o;
}

Outcome completed(const JobRef& ref) {
    Outcome o;
    o.job = ref;
    o.kind = Outcome::Kind::completed;
    return o;
}

Outcome retried(const JobRef& ref) {
    Outcome o;
    o.job = ref;
    o.kind = Outcome::Kind::retry;
    o.error_class = "exit_code";
    o.message = "exit code 1";
    o.delay_ms = 0;
    return o;
}

TEST_P(StoreSuite, AttemptLogsAreKeptPerAttemptWithTheOutcomesFlush) {
    auto a = add(job("t"));
    auto b = add(job("t"));
    auto c = add(job("t"));
    auto d = add(job("t"));
    ASSERT_EQ(claim("w1", 4).size(), 4u);
    // One flush: a retried with a log, b completed with a truncated log, c completed with none,
    // and an outcome whose lease is gone (its log is not kept).
    auto status = m_store->record_outcomes({with_log(retried({a, "w1", 1}), "a1 first\na1 second\n"),
                                            with_log(completed({b, "w1", 1}), "b newest\n", 4096), completed({c, "w1", 1}),
                                            with_log(completed({d, "intruder", 1}), "not mine\n")});
    ASSERT_EQ(status.size(), 4u);
    EXPECT_EQ(status[3], OutcomeStatus::lost);
    auto again = claim("w1");
    ASSERT_EQ(again.size(), 1u);
    ASSERT_EQ(again[0].id, a);
    ASSERT_TRUE(test::record(*m_store, with_log(completed({a, "w1", 2}), "a2 ünïcode\n")));

    auto logs = m_store->job_logs(a, std::nullopt);
    ASSERT_EQ(logs.size(), 2u);
    EXPECT_EQ(logs[0].attempt, 1);
    EXPECT_EQ(logs[0].log.text, "a1 first\na1 second\n");
    EXPECT_EQ(logs[0].log.dropped_bytes, 0);
    EXPECT_GT(logs[0].at_ms, 0);
    EXPECT_EQ(logs[1].attempt, 2);
    EXPECT_EQ(logs[1].log.text, "a2 ünïcode\n");
    auto second = m_store->job_logs(a, 2);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_EQ(second[0].log.text, "a2 ünïcode\n");
    EXPECT_TRUE(m_store->job_logs(a, 3).empty());

    auto bl = m_store->job_logs(b, std::nullopt);
    ASSERT_EQ(bl.size(), 1u);
    EXPECT_EQ(bl[0].log.text, "b newest\n");
    EXPECT_EQ(bl[0].log.dropped_bytes, 4096);
    EXPECT_TRUE(m_store->job_logs(c, std::nullopt).empty());
    EXPECT_TRUE(m_store->job_logs(d, std::nullopt).empty());
}

// A snoozed (or deferred, released) run gives its attempt back: the next run of that number
// replaces its log, so the cap holds per attempt.
TEST_P(StoreSuite, ARerunOfTheSameAttemptReplacesItsLog) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    Outcome snooze;
    snooze.job = {id, "w1", 1};
    snooze.kind = Outcome::Kind::snoozed;
    snooze.delay_ms = 0;
    ASSERT_TRUE(test::record(*m_store, with_log(snooze, "first run\n")));
    ASSERT_EQ(claim("w1").size(), 1u);
    ASSERT_TRUE(test::record(*m_store, with_log(completed({id, "w1", 1}), "second run\n")));
    auto logs = m_store->job_logs(id, std::nullopt);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].log.text, "second run\n");
}

// A running attempt's log as it is so far (the completer's live-log writes): replaced by each
// write and then by the outcome's; a job deleted meanwhile gets none.
TEST_P(StoreSuite, RunningLogsAreWrittenWhileTheAttemptRunsAndTheOutcomeReplacesThem) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    auto live = [](std::int64_t job_id, const std::string& text, std::int64_t dropped = 0) {
        StoredAttemptLog l;
        l.job_id = job_id;
        l.attempt = 1;
        l.log.text = text;
        l.log.dropped_bytes = dropped;
        return l;
    };
    m_store->write_running_logs({live(id, "first line\n"), live(987654321, "nobody's\n")});
    auto logs = m_store->job_logs(id, 1);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].log.text, "first line\n");
    EXPECT_TRUE(m_store->job_logs(987654321, std::nullopt).empty());  // no job: no log
    m_store->write_running_logs({live(id, "second line\n", 11)});
    logs = m_store->job_logs(id, 1);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].log.text, "second line\n");
    EXPECT_EQ(logs[0].log.dropped_bytes, 11);
    ASSERT_TRUE(test::record(*m_store, with_log(completed({id, "w1", 1}), "second line\nlast line\n", 11)));
    logs = m_store->job_logs(id, std::nullopt);
    ASSERT_EQ(logs.size(), 1u);
    EXPECT_EQ(logs[0].log.text, "second line\nlast line\n");
    m_store->write_running_logs({});  // nothing to write: no statement
}

TEST_P(StoreSuite, AttemptLogsArePrunedWithTheirJob) {
    auto old_job = add(job("t"));
    auto keep = add(job("keep"));
    ASSERT_EQ(claim("w", 2).size(), 2u);
    ASSERT_TRUE(test::record(*m_store, with_log(completed({old_job, "w", 1}), "old\n")));
    advance(200);
    ASSERT_TRUE(test::record(*m_store, with_log(completed({keep, "w", 1}), "kept\n")));
    EXPECT_EQ(m_store->prune(100, {JobState::completed}, 10, [](std::int64_t) {}), 1);
    EXPECT_TRUE(m_store->job_logs(old_job, std::nullopt).empty());
    ASSERT_EQ(m_store->job_logs(keep, std::nullopt).size(), 1u);
    // and by `jobs prune` (the bulk path)
    advance(200);
    BulkFilter finished;
    finished.states = {JobState::completed};
    finished.scope.older_than_ms = 100;
    EXPECT_EQ(m_store->apply_bulk(BulkAction::prune, finished, m_store->find_matching(finished, 0, 10), "ops@host").size(), 1u);
    EXPECT_TRUE(m_store->job_logs(keep, std::nullopt).empty());
}

}  // namespace
}  // namespace wfq
