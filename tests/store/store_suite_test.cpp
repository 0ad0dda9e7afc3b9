// The behaviour suite every store implementation must pass. It runs against SQLite always and
// against PostgreSQL when a server is reachable (under pg_virtualenv in CI; set
// WFQ_REQUIRE_POSTGRES=1 to make its absence a failure rather than a skip).
#include <wfq/clock.h>
#include <wfq/config_cache.h>
#include <wfq/errors.h>
#include <wfq/lock.h>
#include <wfq/queue.h>
#include <wfq/store.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <thread>
#include <unistd.h>

namespace wfq {
namespace {

bool postgres_available() {
    static int available = -1;
    if (available < 0) {
        try {
            StoreOptions o;
            o.url = "postgresql://";
            o.schema = "wfq_probe";
            o.check_schema = false;
            setenv("WFQ_DB_RETRIES", "1", 0);
            open_store(o);
            available = 1;
        } catch (const std::exception&) {
            available = 0;
        }
    }
    return available == 1;
}

class StoreSuite : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override {
        m_backend = GetParam();
        auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        std::string name = info->name();
        for (auto& c : name) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        if (m_backend == "postgresql") {
            if (!postgres_available()) {
                if (std::getenv("WFQ_REQUIRE_POSTGRES")) FAIL() << "PostgreSQL is required but not reachable";
                GTEST_SKIP() << "no PostgreSQL server (run under pg_virtualenv)";
            }
            m_schema = "t_" + name.substr(0, 40) + "_" + std::to_string(getpid());
            m_url = "postgresql://";
            m_store = open(false);
            m_store->migrate();
        } else {
            m_dir = std::filesystem::temp_directory_path() / ("wfq-store-" + std::to_string(getpid()) + "-" + name);
            std::filesystem::remove_all(m_dir);
            m_url = "sqlite:" + (m_dir / "q.db").string();
            m_store = open(true);
        }
    }
    void TearDown() override {
        m_store.reset();
        if (!m_dir.empty()) std::filesystem::remove_all(m_dir);
    }

    std::unique_ptr<Store> open(bool check) {
        StoreOptions o;
        o.url = m_url;
        o.schema = m_schema.empty() ? "wfq" : m_schema;
        o.check_schema = check;
        o.clock = &m_clock;
        return open_store(o);
    }

    // Lets time pass: the injected clock on SQLite, real time on PostgreSQL (whose clock we
    // do not control). Callers keep durations short.
    void advance(std::int64_t ms) {
        if (m_backend == "sqlite") m_clock.advance_ms(ms);
        else std::this_thread::sleep_for(std::chrono::milliseconds(ms + 5));
    }

    NewJob job(const std::string& type, const std::string& payload = "{}") {
        NewJob j;
        j.type = type;
        j.payload = payload;
        j.correlation_id = "c-" + type;
        return j;
    }

    std::int64_t add(NewJob j) { return m_store->enqueue(j).id; }
    // A job of this type in this queue at this priority, due in delay_ms.
    std::int64_t add_to(const std::string& queue, const std::string& type, int priority, std::int64_t delay_ms = 0) {
        NewJob j = job(type);
        j.queue = queue;
        j.priority = priority;
        j.delay_ms = delay_ms;
        return add(j);
    }
    static std::vector<std::int64_t> ids(const std::vector<Job>& jobs) {
        std::vector<std::int64_t> v;
        for (const auto& j : jobs) v.push_back(j.id);
        return v;
    }

    std::vector<Job> claim(const std::string& worker, int limit = 10, std::int64_t lease = 30000) {
        return m_store->claim_batch({worker, {}, {}, limit, lease});
    }

    std::string m_backend, m_url, m_schema;
    std::filesystem::path m_dir;
    ManualClock m_clock{SystemClock::instance().now_ms()};
    std::unique_ptr<Store> m_store;
};

TEST_P(StoreSuite, EnqueueStoresEveryField) {
    NewJob j = job("review", R"({"pr": 7, "repo": "a/b"})");
    j.queue = "q1";
    j.priority = 5;
    j.max_attempts = 4;
    j.key = "k1";
    j.lock_key = "pr:7";
    j.org = "acme";
    j.repo = "widgets";
    j.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto r = m_store->enqueue(j);
    EXPECT_FALSE(r.duplicate);
    auto got = m_store->get_job(r.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->type, "review");
    EXPECT_EQ(got->queue, "q1");
    EXPECT_EQ(got->state, JobState::pending);
    EXPECT_EQ(got->priority, 5);
    EXPECT_EQ(got->max_attempts, 4);
    EXPECT_EQ(got->attempt, 0);
    EXPECT_EQ(*got->key, "k1");
    EXPECT_EQ(*got->lock_key, "pr:7");
    EXPECT_EQ(*got->org, "acme");
    EXPECT_EQ(*got->repo, "widgets");
    EXPECT_EQ(got->correlation_id, "c-review");
    EXPECT_EQ(*got->traceparent, *j.traceparent);
    EXPECT_NE(got->payload.find("\"pr\""), std::string::npos);
    EXPECT_FALSE(m_store->get_job(r.id + 1000));
    auto events = m_store->job_events(r.id);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, "enqueued");
}

TEST_P(StoreSuite, IdempotencyKeyReturnsTheActiveJobAndFreesWhenFinished) {
    NewJob j = job("t");
    j.key = "same";
    auto first = m_store->enqueue(j);
    auto second = m_store->enqueue(j);
    EXPECT_TRUE(second.duplicate);
    EXPECT_EQ(first.id, second.id);
    auto claimed = claim("w1");
    ASSERT_EQ(claimed.size(), 1u);
    EXPECT_TRUE(m_store->enqueue(j).duplicate);  // still active while running
    ASSERT_TRUE(m_store->complete({first.id, "w1", 1}, std::nullopt));
    auto third = m_store->enqueue(j);
    EXPECT_FALSE(third.duplicate);
    EXPECT_NE(third.id, first.id);
}

TEST_P(StoreSuite, BatchEnqueueReportsDuplicatesInOrder) {
    std::vector<NewJob> batch;
    for (int i = 0; i < 1200; ++i) {
        NewJob j = job("bulk", "{\"i\":" + std::to_string(i) + "}");
        if (i % 100 == 0) j.key = "k" + std::to_string(i / 200);  // pairs of lines share a key
        batch.push_back(j);
    }
    auto results = m_store->enqueue_batch(batch);
    ASSERT_EQ(results.size(), batch.size());
    int dups = 0;
    std::set<std::int64_t> ids;
    for (std::size_t i = 0; i < results.size(); ++i) {
        if (results[i].duplicate) {
            ++dups;
            EXPECT_EQ(results[i].id, results[i - 100].id) << "line " << i;
        }
        ids.insert(results[i].id);
    }
    EXPECT_EQ(dups, 6);
    EXPECT_EQ(ids.size(), 1200u - 6u);
    EXPECT_EQ(m_store->count_jobs(JobState::pending), 1194);
}

TEST_P(StoreSuite, ClaimsByPriorityThenRunAtThenId) {
    auto low = add(job("a"));
    NewJob hi = job("b");
    hi.priority = 10;
    auto high = add(hi);
    NewJob later = job("c");
    later.delay_ms = 60000;
    add(later);
    auto low2 = add(job("d"));
    auto got = claim("w1");
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].id, high);
    EXPECT_EQ(got[1].id, low);
    EXPECT_EQ(got[2].id, low2);
    for (const auto& j : got) {
        EXPECT_EQ(j.state, JobState::running);
        EXPECT_EQ(j.attempt, 1);
        EXPECT_EQ(*j.lease_owner, "w1");
        EXPECT_TRUE(j.lease_expires_at);
    }
    EXPECT_TRUE(claim("w2").empty());  // the scheduled job is not due
    auto due = m_store->next_due({}, {});
    ASSERT_TRUE(due);
    EXPECT_GT(*due, m_store->db_now());
}

TEST_P(StoreSuite, ClaimFiltersByQueueAndTypeAndLimit) {
    NewJob a = job("x");
    a.queue = "other";
    add(a);
    add(job("y"));
    add(job("y"));
    add(job("z"));
    EXPECT_TRUE(m_store->claim_batch({"w", {"nope"}, {}, 10, 30000}).empty());
    auto got = m_store->claim_batch({"w", {"default"}, {"y"}, 1, 30000});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, "y");
    got = m_store->claim_batch({"w", {"other"}, {}, 10, 30000});
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].type, "x");
}

// A worker on several queues claims each queue's jobs from the claim index and takes the first
// of them all in one order (priority, then due time, then id): the same jobs as one sorted
// list, with type filters, paused queues, lock keys and a queue named twice.
TEST_P(StoreSuite, ClaimsAcrossQueuesInOneOrder) {
    auto a1 = add_to("a", "t", 0);
    auto b1 = add_to("b", "t", 5);
    add_to("c", "t", 9);  // not served
    auto a2 = add_to("a", "t", 5);
    auto b2 = add_to("b", "t", 0);
    auto a3 = add_to("a", "u", 7);  // another type
    auto b3 = add_to("b", "t", 1);
    EXPECT_EQ(ids(m_store->claim_batch({"w1", {"a", "b", "a"}, {"t"}, 3, 30000})), (std::vector<std::int64_t>{b1, a2, b3}));
    ASSERT_TRUE(m_store->set_queue_paused("b", true, "test"));
    ClaimRequest unkeyed{"w2", {"b", "a"}, {}, 10, 30000};
    unkeyed.unkeyed_only = true;
    EXPECT_EQ(ids(m_store->claim_batch(unkeyed)), (std::vector<std::int64_t>{a3, a1})) << "b is paused";
    ASSERT_TRUE(m_store->set_queue_paused("b", false, "test"));
    // Two jobs of one lock key in two queues: one batch holds only the older.
    NewJob k1 = job("t");
    k1.queue = "a";
    k1.lock_key = "repo";
    auto key1 = add(k1);
    NewJob k2 = job("t");
    k2.queue = "b";
    k2.lock_key = "repo";
    k2.priority = 9;
    add(k2);
    EXPECT_EQ(ids(m_store->claim_batch({"w3", {"a", "b"}, {}, 10, 30000})), (std::vector<std::int64_t>{b2, key1}));
    EXPECT_TRUE(m_store->claim_batch({"w4", {"a", "b"}, {}, 10, 30000}).empty()) << "the key's second job waits";
}

// Each queue's pick must itself be ordered and limited: every queue has more jobs than the
// limit, and its best job is its newest.
TEST_P(StoreSuite, ClaimsAcrossQueuesTakeEachQueuesBestJobsFirst) {
    auto a_low1 = add_to("a", "t", 0), a_low2 = add_to("a", "t", 0), b_low = add_to("b", "t", 0), b_mid = add_to("b", "t", 3);
    auto a_hi = add_to("a", "t", 5), b_hi = add_to("b", "t", 8);
    auto claim_ids = [&](int limit) { return ids(m_store->claim_batch({"w", {"a", "b"}, {}, limit, 30000})); };
    EXPECT_EQ(claim_ids(1), (std::vector<std::int64_t>{b_hi}));
    EXPECT_EQ(claim_ids(2), (std::vector<std::int64_t>{a_hi, b_mid}));
    EXPECT_EQ(claim_ids(2), (std::vector<std::int64_t>{a_low1, a_low2}));
    EXPECT_EQ(claim_ids(2), (std::vector<std::int64_t>{b_low}));
    EXPECT_TRUE(claim_ids(2).empty());
}

// next_due reads each priority's first due time: the answer is the earliest over priorities,
// queues and types, without paused or unserved queues.
TEST_P(StoreSuite, NextDueIsTheEarliestOverPrioritiesQueuesAndTypes) {
    auto in = [&](const std::string& queue, const std::string& type, int priority, std::int64_t delay_s) {
        return m_store->get_job(add_to(queue, type, priority, delay_s * 1000))->run_at;
    };
    in("a", "t", 5, 60);
    auto a0 = in("a", "t", 0, 10);
    auto a3u = in("a", "u", 3, 30);
    in("a", "u", 3, 40);
    auto b1 = in("b", "t", 1, 20);
    in("c", "t", 9, 1);  // not served
    in("d", "t", 0, 2);  // paused below
    ASSERT_TRUE(m_store->set_queue_paused("d", true, "test"));
    EXPECT_EQ(m_store->next_due({"a", "b"}, {}), a0);
    EXPECT_EQ(m_store->next_due({"a", "a"}, {"u"}), a3u);
    EXPECT_EQ(m_store->next_due({"d", "b"}, {}), b1);
    EXPECT_EQ(m_store->next_due({"b"}, {"u"}), std::nullopt);
    EXPECT_EQ(m_store->next_due({"d"}, {}), std::nullopt);
    EXPECT_EQ(m_store->next_due({"nothing"}, {}), std::nullopt);
}

TEST_P(StoreSuite, FinishingIsCompareAndSetOnOwnerAndAttempt) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    EXPECT_FALSE(m_store->complete({id, "intruder", 1}, std::nullopt));
    EXPECT_FALSE(m_store->complete({id, "w1", 2}, std::nullopt));
    EXPECT_FALSE(m_store->fail({id, "intruder", 1}, {"exit_code", "x", std::nullopt}));
    EXPECT_TRUE(m_store->complete({id, "w1", 1}, std::string(R"({"ok":true})")));
    EXPECT_FALSE(m_store->complete({id, "w1", 1}, std::nullopt));  // already completed
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::completed);
    EXPECT_EQ(*j->result, R"({"ok":true})");
    EXPECT_FALSE(j->lease_owner);
    EXPECT_TRUE(j->finished_at);
}

TEST_P(StoreSuite, FailureRetriesWithDelayThenDeadLetters) {
    NewJob n = job("t");
    n.max_attempts = 2;
    auto id = add(n);
    ASSERT_EQ(claim("w1").size(), 1u);
    ASSERT_TRUE(m_store->fail({id, "w1", 1}, {"exit_code", "boom 1", std::int64_t(200)}));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 1);
    EXPECT_EQ(*j->error_class, "exit_code");
    EXPECT_EQ(*j->last_error, "boom 1");
    EXPECT_TRUE(claim("w1").empty()) << "backing off";
    advance(250);
    auto again = claim("w1");
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 2);
    ASSERT_TRUE(m_store->fail({id, "w1", 2}, {"timeout", "too slow", std::nullopt}));
    j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::failed);
    std::vector<std::string> kinds;
    for (const auto& e : m_store->job_events(id)) kinds.push_back(e.kind);
    EXPECT_EQ(kinds, (std::vector<std::string>{"enqueued", "claimed", "retry_scheduled", "claimed", "failed"}));
}

// A handler's stderr becomes last_error: not always UTF-8, perhaps with NUL. Both forms of the
// outcome flush (one statement over a JSON array on PostgreSQL, one per row on SQLite) store the
// same cleaned text, in the job and in its event, and PostgreSQL's jsonb takes it.
TEST_P(StoreSuite, FailureTextsAreStoredAsValidUtf8WithoutNul) {
    const std::string raw = std::string("bad \xff\xfe byte, a NUL \0 and cut \xe2\x82", 31);
    const std::string clean = "bad \xef\xbf\xbd\xef\xbf\xbd byte, a NUL \xef\xbf\xbd and cut \xef\xbf\xbd\xef\xbf\xbd";
    auto id = add(job("t"));
    auto other = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 2u);
    Outcome a;
    a.job = {id, "w1", 1};
    a.kind = Outcome::Kind::retry;
    a.error_class = "exit\xff";
    a.message = raw;
    a.delay_ms = 60000;
    Outcome b = a;  // two in one flush: the JSON form's batch
    b.job.id = other;
    b.kind = Outcome::Kind::failed;
    auto status = m_store->record_outcomes({a, b});
    ASSERT_EQ(status, (std::vector<OutcomeStatus>{OutcomeStatus::recorded, OutcomeStatus::recorded}));
    for (auto jid : {id, other}) {
        auto j = m_store->get_job(jid);
        ASSERT_TRUE(j->last_error);
        EXPECT_EQ(*j->last_error, clean);
        EXPECT_EQ(*j->error_class, "exit\xef\xbf\xbd");
        auto events = m_store->job_events(jid);
        ASSERT_FALSE(events.empty());
        ASSERT_TRUE(events.back().message);
        EXPECT_EQ(*events.back().message, clean) << events.back().kind;
    }
}

TEST_P(StoreSuite, ReleaseGivesTheAttemptBack) {
    auto id = add(job("t"));
    ASSERT_EQ(claim("w1").size(), 1u);
    EXPECT_TRUE(m_store->release({id, "w1", 1}, "stopping"));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_EQ(claim("w2").at(0).attempt, 1);
}

TEST_P(StoreSuite, RescueRequeuesExpiredLeasesAndNeverOverwritesACompletedJob) {
    NewJob once = job("t");
    once.max_attempts = 1;
    auto exhausted = add(once);
    auto id = add(job("t"));
    auto got = claim("w1", 10, 50);
    ASSERT_EQ(got.size(), 2u);
    EXPECT_TRUE(m_store->rescue(60000).requeued.empty()) << "leases not yet expired";
    advance(100);
    auto report = m_store->rescue(60000);
    EXPECT_EQ(report.requeued, std::vector<std::int64_t>{id});
    EXPECT_EQ(report.failed, std::vector<std::int64_t>{exhausted});
    // The old holder finishing late changes nothing.
    EXPECT_FALSE(m_store->complete({id, "w1", 1}, std::nullopt));
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(*j->error_class, "lease_expired");
    EXPECT_EQ(m_store->get_job(exhausted)->state, JobState::failed);
    // A job completed before the rescue is not touched by it.
    auto again = claim("w2", 10, 50);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 2);
    ASSERT_TRUE(m_store->complete({id, "w2", 2}, std::nullopt));
    advance(100);
    EXPECT_TRUE(m_store->rescue(60000).requeued.empty());
    EXPECT_EQ(m_store->get_job(id)->state, JobState::completed);
}

TEST_P(StoreSuite, RescueTakesJobsOfDeadWorkers) {
    WorkerInfo w;
    w.id = "dead-worker";
    w.hostname = "h";
    w.pid = 1;
    m_store->register_worker(w);
    auto id = add(job("t"));
    ASSERT_EQ(claim("dead-worker", 1, 600000).size(), 1u);
    EXPECT_TRUE(m_store->rescue(200).requeued.empty());
    advance(300);
    EXPECT_EQ(m_store->rescue(200).requeued, std::vector<std::int64_t>{id});
    // A rescued job's lock key is free again.
    NewJob keyed = job("keyed");
    keyed.lock_key = "pr:9";
    auto kid = add(keyed);
    ASSERT_EQ(m_store->claim_batch({"dead-worker", {}, {"keyed"}, 1, 600000}).size(), 1u);
    NewJob next = job("keyed");
    next.lock_key = "pr:9";
    auto nid = add(next);
    m_store->heartbeat("dead-worker", 1, "{}");
    advance(300);
    EXPECT_EQ(m_store->rescue(200).requeued, std::vector<std::int64_t>{kid});
    auto after = m_store->claim_batch({"w2", {}, {"keyed"}, 5, 30000});
    ASSERT_EQ(after.size(), 1u) << "one of the key's jobs runs again";
    EXPECT_EQ(after[0].id, kid);
    EXPECT_NE(after[0].id, nid);
    JobFilter f;
    f.stuck = true;
    EXPECT_TRUE(m_store->list_jobs(f).empty());
}

TEST_P(StoreSuite, LockKeyAllowsOneRunningJobWhileOthersFlow) {
    NewJob a = job("a");
    a.lock_key = "pr:1";
    NewJob b = job("b");
    b.lock_key = "pr:1";
    auto ida = add(a);
    auto idb = add(b);
    auto free_job = add(job("c"));
    auto got = claim("w1");
    ASSERT_EQ(got.size(), 2u);
    std::set<std::int64_t> ids{got[0].id, got[1].id};
    EXPECT_EQ(ids, (std::set<std::int64_t>{ida, free_job}));
    EXPECT_TRUE(claim("w2").empty()) << "b waits for a's key";
    EXPECT_EQ(m_store->get_job(idb)->attempt, 0) << "waiting burns no attempt";
    ASSERT_TRUE(m_store->complete({ida, "w1", 1}, std::nullopt));
    auto next = claim("w2");
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].id, idb);
}

TEST_P(StoreSuite, ConcurrentClaimersNeverShareAJob) {
    std::vector<NewJob> batch;
    for (int i = 0; i < 300; ++i) {
        NewJob j = job("t");
        if (i % 3 == 0) j.lock_key = "k" + std::to_string(i % 7);
        batch.push_back(j);
    }
    m_store->enqueue_batch(batch);
    std::mutex mutex;
    std::vector<std::int64_t> seen;
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
        threads.emplace_back([&, t] {
            auto store = open(false);
            std::string me = "w" + std::to_string(t);
            int idle = 0;
            while (idle < 50) {
                auto jobs = store->claim_batch({me, {}, {}, 5, 30000});
                if (jobs.empty()) {
                    ++idle;
                    std::this_thread::yield();
                    continue;
                }
                idle = 0;
                for (const auto& j : jobs) {
                    {
                        std::lock_guard<std::mutex> lock(mutex);
                        seen.push_back(j.id);
                    }
                    EXPECT_TRUE(store->complete({j.id, me, j.attempt}, std::nullopt));
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    std::set<std::int64_t> unique(seen.begin(), seen.end());
    EXPECT_EQ(seen.size(), unique.size()) << "a job was claimed twice";
    EXPECT_EQ(m_store->count_jobs(JobState::completed), 300);
}

TEST_P(StoreSuite, OperatorRetryAndCancel) {
    NewJob n = job("t");
    n.max_attempts = 1;
    auto id = add(n);
    auto pending = add(job("p"));
    EXPECT_EQ(m_store->retry_job(id + 100), AdminResult::not_found);
    EXPECT_EQ(m_store->cancel_job(id + 100), AdminResult::not_found);
    ASSERT_EQ(claim("w1", 1).size(), 1u);
    EXPECT_EQ(m_store->retry_job(id), AdminResult::wrong_state) << "running";
    ASSERT_TRUE(m_store->fail({id, "w1", 1}, {"exit_code", "no", std::nullopt}));
    EXPECT_EQ(m_store->cancel_job(id), AdminResult::wrong_state) << "finished";
    EXPECT_EQ(m_store->retry_job(id), AdminResult::done);
    auto j = m_store->get_job(id);
    EXPECT_EQ(j->state, JobState::pending);
    EXPECT_EQ(j->attempt, 0);
    EXPECT_EQ(m_store->cancel_job(pending), AdminResult::done);
    EXPECT_EQ(m_store->get_job(pending)->state, JobState::cancelled);
    // Cancelling a running job takes its lease away: the worker cannot complete it.
    auto running = claim("w2", 1);
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(m_store->cancel_job(running[0].id), AdminResult::done);
    EXPECT_FALSE(m_store->complete({running[0].id, "w2", running[0].attempt}, std::nullopt));
    EXPECT_EQ(m_store->renew_leases({{running[0].id, "w2", running[0].attempt}}, 30000),
              std::vector<std::int64_t>{running[0].id});
}

TEST_P(StoreSuite, PruneDeletesOnlyOldFinishedJobs) {
    for (int i = 0; i < 5; ++i) add(job("t"));
    auto keep = add(job("keep"));
    auto jobs = claim("w", 5);
    for (const auto& j : jobs) ASSERT_TRUE(m_store->complete({j.id, "w", 1}, std::nullopt));
    advance(200);
    std::vector<std::int64_t> progress;
    auto n = m_store->prune(100, {JobState::completed}, 2, [&](std::int64_t d) { progress.push_back(d); });
    EXPECT_EQ(n, 5);
    EXPECT_EQ(progress.back(), 5);
    EXPECT_GE(progress.size(), 3u) << "batched";
    EXPECT_TRUE(m_store->get_job(keep));
    EXPECT_TRUE(m_store->job_events(jobs[0].id).empty());
}

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

TEST_P(StoreSuite, LeaseLocksUseGrowingFencingTokens) {
    auto a = m_store->lock_acquire("pr:1", "alice", 100);
    ASSERT_TRUE(a);
    EXPECT_FALSE(m_store->lock_acquire("pr:1", "bob", 100)) << "held";
    EXPECT_EQ(m_store->lock_renew("pr:1", a->token + 1, 100), LockStatus::not_held);
    EXPECT_EQ(m_store->lock_renew("nope", 1, 100), LockStatus::unknown_key);
    EXPECT_EQ(m_store->lock_renew("pr:1", a->token, 100), LockStatus::ok);
    advance(150);
    auto list = m_store->list_locks();
    ASSERT_EQ(list.size(), 1u);
    EXPECT_TRUE(list[0].expired);
    EXPECT_EQ(m_store->lock_renew("pr:1", a->token, 100), LockStatus::not_held) << "expired";
    auto b = m_store->lock_acquire("pr:1", "bob", 10000);
    ASSERT_TRUE(b);
    EXPECT_GT(b->token, a->token);
    EXPECT_EQ(m_store->lock_release("pr:1", a->token), LockStatus::not_held) << "stale holder";
    EXPECT_EQ(m_store->lock_release("pr:1", b->token), LockStatus::ok);
    EXPECT_EQ(m_store->lock_release("pr:1", b->token), LockStatus::unknown_key);
    auto c = m_store->lock_acquire("pr:1", "carol", 10000);
    ASSERT_TRUE(c);
    EXPECT_GT(c->token, b->token);
}

TEST_P(StoreSuite, LockHolderRenewsAndReportsLossAtOnce) {
    auto holder_store = open(false);
    DefaultRandom random(7);
    auto grant = acquire_lock(*m_store, "held", {300, 0, "me"}, m_clock, random);
    ASSERT_TRUE(grant);
    std::mutex mutex;
    std::condition_variable cv;
    std::string reason;
    LockHolder holder(*holder_store, *grant, 300, [&](const std::string& why) {
        std::lock_guard<std::mutex> lock(mutex);
        reason = why;
        cv.notify_all();
    });
    // While renewed, nobody else gets it even after several TTLs of real time.
    for (int i = 0; i < 4; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(150));
        EXPECT_FALSE(m_store->lock_acquire("held", "thief", 300)) << "renewals keep it";
    }
    EXPECT_FALSE(holder.lost());
    // A pause longer than the TTL (the holder cannot renew in time): someone else takes it.
    auto other = open(false);
    std::optional<LockGrant> stolen;
    for (int i = 0; i < 100 && !stolen; ++i) {
        m_clock.advance_ms(1000);  // SQLite: time jumps; PostgreSQL: we race the holder's renewals
        stolen = other->lock_acquire("held", "thief", 60000);
        if (!stolen && m_backend == "postgresql") break;
    }
    if (m_backend == "postgresql") GTEST_SKIP() << "the database clock cannot be moved past a live holder";
    ASSERT_TRUE(stolen);
    std::unique_lock<std::mutex> lock(mutex);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return !reason.empty(); }));
    EXPECT_NE(reason.find("taken over"), std::string::npos) << reason;
    EXPECT_TRUE(holder.lost());
    lock.unlock();
    EXPECT_EQ(holder.release(), LockStatus::not_held);
    EXPECT_GT(stolen->token, grant->token);
}

TEST_P(StoreSuite, AcquireWaitsWithBackoffUntilTheDeadline) {
    DefaultRandom random(1);
    ASSERT_TRUE(m_store->lock_acquire("busy", "a", 600000));
    std::vector<std::int64_t> pauses;
    ManualClock steady;
    auto got = acquire_lock(*m_store, "busy", {1000, 2000, "b"}, steady, random, [&](std::int64_t ms) {
        pauses.push_back(ms);
        steady.advance_ms(ms);
    });
    EXPECT_FALSE(got);
    ASSERT_GE(pauses.size(), 3u);
    std::int64_t total = 0;
    for (auto p : pauses) total += p;
    EXPECT_EQ(total, 2000) << "waits exactly up to the deadline";
    EXPECT_LT(pauses[0], pauses[2]) << "backs off";
    EXPECT_THROW(acquire_lock(*m_store, "", {1000, 0, "b"}, steady, random), Error);
}

TEST_P(StoreSuite, NamesWithSqlMetacharactersRoundTrip) {
    NewJob j = job("x'); DROP TABLE jobs; --", R"({"q":"'\"; --"})");
    j.key = "k' OR '1'='1";
    j.lock_key = "$1 \\ %_";
    auto id = add(j);
    auto got = m_store->get_job(id);
    EXPECT_EQ(got->type, j.type);
    EXPECT_EQ(*got->key, *j.key);
    EXPECT_EQ(*got->lock_key, *j.lock_key);
    JobFilter f;
    f.types = {j.type};
    EXPECT_EQ(m_store->list_jobs(f).size(), 1u);
    EXPECT_TRUE(m_store->lock_acquire("'; DELETE FROM locks; --", "o'wner", 1000));
    EXPECT_EQ(m_store->list_locks().size(), 1u);
}

TEST_P(StoreSuite, MigrateIsIdempotentAndReportsStatus) {
    EXPECT_TRUE(m_store->migrate().empty());
    auto status = m_store->migration_status();
    ASSERT_FALSE(status.empty());
    for (const auto& m : status) EXPECT_TRUE(m.applied_at) << m.version;
    EXPECT_NO_THROW(m_store->check_schema());
}

TEST_P(StoreSuite, WakerWakesOnEnqueueFromAnotherConnection) {
    auto waker = m_store->open_waker();
    auto other = open(false);
    std::thread producer([&] { other->enqueue(job("wake")); });
    bool woke = false;
    auto start = std::chrono::steady_clock::now();
    while (!woke && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) woke = waker->wait(500);
    producer.join();
    EXPECT_TRUE(woke);
}

TEST_P(StoreSuite, ListFiltersByDisplayStates) {
    NewJob later = job("later");
    later.delay_ms = 600000;
    add(later);
    auto now_id = add(job("now"));
    JobFilter f;
    f.scheduled_only = true;
    auto scheduled = m_store->list_jobs(f);
    ASSERT_EQ(scheduled.size(), 1u);
    EXPECT_EQ(scheduled[0].type, "later");
    ASSERT_EQ(claim("w").size(), 1u);
    ASSERT_TRUE(m_store->fail({now_id, "w", 1}, {"exit_code", "x", std::int64_t(1)}));
    JobFilter r;
    r.retrying_only = true;
    auto retrying = m_store->list_jobs(r);
    ASSERT_EQ(retrying.size(), 1u);
    EXPECT_EQ(retrying[0].id, now_id);
}

TEST_P(StoreSuite, ConfigDocumentsMergeMostSpecificLast) {
    EXPECT_FALSE(resolve_config(*m_store, "acme", std::string("widgets"))) << "nothing stored";
    m_store->config_set("global", R"({"model":"small","limits":{"files":50,"lines":1000},"lang":"en"})");
    m_store->config_set("org:acme", R"({"model":"large","limits":{"files":100},"lang":null})");
    m_store->config_set("org:acme/repo:widgets", R"({"limits":{"lines":5000},"strict":true})");
    auto r = resolve_config(*m_store, "acme", std::string("widgets"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->doc, R"({"limits":{"files":100,"lines":5000},"model":"large","strict":true})");
    EXPECT_EQ(r->sources.at("model"), "org:acme");
    EXPECT_EQ(r->sources.at("limits"), "org:acme/repo:widgets");
    EXPECT_EQ(r->sources.count("lang"), 0u);
    auto org_only = resolve_config(*m_store, "acme", std::nullopt);
    EXPECT_EQ(org_only->doc, R"({"limits":{"files":100,"lines":1000},"model":"large"})");
    EXPECT_EQ(*m_store->config_get("org:acme/repo:widgets"), m_backend == "sqlite" ? R"({"limits":{"lines":5000},"strict":true})"
                                                                                   : R"({"limits": {"lines": 5000}, "strict": true})");
    EXPECT_TRUE(m_store->config_unset("org:acme"));
    EXPECT_FALSE(m_store->config_unset("org:acme"));
    EXPECT_FALSE(m_store->config_get("org:acme"));
}

TEST_P(StoreSuite, ConfigWatcherSeesChangesFromAnotherConnection) {
    auto watcher = m_store->open_config_watcher();
    auto other = open(false);
    other->config_set("org:acme", R"({"a":1})");
    other->config_invalidate("*");
    std::vector<std::string> seen;
    auto start = std::chrono::steady_clock::now();
    while (seen.size() < 2 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
        for (const auto& s : watcher->poll(200)) seen.push_back(s);
    EXPECT_EQ(seen, (std::vector<std::string>{"org:acme", "*"}));
    EXPECT_TRUE(watcher->poll(50).empty());
}

// ---- operating the queue ------------------------------------------------------------------
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

TEST_P(StoreSuite, BulkActionsAreCompareAndSetOnTheStateSeen) {
    NewJob a = job("a");
    a.max_attempts = 1;
    std::vector<std::int64_t> ids;
    for (int i = 0; i < 4; ++i) ids.push_back(add(a));
    auto running = claim("w1", 4);
    ASSERT_EQ(running.size(), 4u);
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(m_store->fail({ids[i], "w1", 1}, {i == 0 ? "timeout" : "crash", "x", std::nullopt}));
    BulkFilter f;
    f.states = {JobState::failed};
    f.error_classes = {"crash"};
    EXPECT_EQ(m_store->count_matching(f), 2);
    auto seen = m_store->find_matching(f, 0, 10);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].id, ids[1]);
    // Meanwhile one of them is retried by someone else (and claimed again): it is skipped.
    EXPECT_EQ(m_store->retry_job(ids[2]), AdminResult::done);
    auto changed = m_store->apply_bulk(BulkAction::retry, f, seen, "ops@host");
    EXPECT_EQ(changed, std::vector<std::int64_t>{ids[1]});
    EXPECT_EQ(m_store->get_job(ids[1])->state, JobState::pending);
    EXPECT_EQ(m_store->get_job(ids[0])->state, JobState::failed) << "another class";
    // A stale candidate that says "failed" for a running job changes nothing.
    BulkFilter any;
    any.states = {JobState::failed, JobState::pending};
    EXPECT_TRUE(m_store->apply_bulk(BulkAction::retry, any, {{ids[3], JobState::failed}}, "ops@host").empty());
    EXPECT_EQ(m_store->get_job(ids[3])->state, JobState::running);
    // Cancel of a running job: its timeline names who did it, and its worker's renewal fails.
    BulkFilter active;
    active.states = {JobState::running};
    EXPECT_EQ(m_store->apply_bulk(BulkAction::cancel, active, {{ids[3], JobState::running}}, "ops@host"),
              std::vector<std::int64_t>{ids[3]});
    auto events = m_store->job_events(ids[3]);
    EXPECT_EQ(events.back().kind, "cancelled");
    EXPECT_EQ(events.back().message.value_or(""), "cancelled by ops@host");
    EXPECT_EQ(m_store->renew_leases({{ids[3], "w1", 1}}, 30000), std::vector<std::int64_t>{ids[3]});
    // Prune deletes finished jobs with their events.
    BulkFilter finished;
    finished.states = {JobState::cancelled};
    finished.older_than_ms = 0;
    advance(5);
    EXPECT_EQ(m_store->apply_bulk(BulkAction::prune, finished, m_store->find_matching(finished, 0, 10), "ops@host"),
              std::vector<std::int64_t>{ids[3]});
    EXPECT_FALSE(m_store->get_job(ids[3]));
    EXPECT_TRUE(m_store->job_events(ids[3]).empty());
}

TEST_P(StoreSuite, ControlWakerWakesWhenARunningJobIsCancelled) {
    auto id = add(job("c"));
    ASSERT_EQ(claim("w1", 1).size(), 1u);
    auto waker = m_store->open_control_waker();
    auto other = open(false);
    std::thread op([&] { EXPECT_EQ(other->cancel_job(id + 1000), AdminResult::not_found); });
    op.join();
    EXPECT_FALSE(waker->wait(200)) << "nothing running was cancelled";
    BulkFilter f;
    f.states = {JobState::running};
    std::thread cancel([&] { other->apply_bulk(BulkAction::cancel, f, {{id, JobState::running}}, "ops@host"); });
    bool woke = false;
    auto start = std::chrono::steady_clock::now();
    while (!woke && std::chrono::steady_clock::now() - start < std::chrono::seconds(5)) woke = waker->wait(500);
    cancel.join();
    EXPECT_TRUE(woke);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
}

// A closing worker interrupts its watchers so that they can wait long while idle: every
// waiter returns at once however long its timeout, whether the interrupt comes before the wait
// or during it (another thread), and every later wait returns at once too. Also behind a
// transaction pooler, where the PostgreSQL waiters poll instead of LISTENing.
TEST_P(StoreSuite, WaitersReturnAtOnceWhenInterrupted) {
    std::vector<std::unique_ptr<Store>> stores;
    stores.push_back(open(false));
    if (m_backend == "postgresql") {
        StoreOptions o;
        o.url = m_url;
        o.schema = m_schema;
        o.check_schema = false;
        o.pooler = "transaction";
        stores.push_back(open_store(o));
    }
    for (auto& store : stores) {
        std::vector<std::unique_ptr<Waker>> wakers;
        wakers.push_back(store->open_waker());
        wakers.push_back(store->open_control_waker());
        auto watcher = store->open_config_watcher();
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> waiting;
        std::atomic<int> woke{0};
        for (auto& w : wakers) waiting.emplace_back([&, raw = w.get()] { woke += raw->wait(60000) ? 1 : 0; });
        waiting.emplace_back([&] { woke += watcher->poll(60000).empty() ? 0 : 1; });
        for (auto& w : wakers) w->interrupt();
        watcher->interrupt();
        for (auto& t : waiting) t.join();
        EXPECT_EQ(woke.load(), 0) << "an interrupted wait reports nothing";
        for (auto& w : wakers) EXPECT_FALSE(w->wait(60000));
        EXPECT_TRUE(watcher->poll(60000).empty());
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << "a wait ran to its timeout";
    }
}

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

INSTANTIATE_TEST_SUITE_P(Backends, StoreSuite, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

TEST(PostgresSchema, MissingSchemaIsAConfigurationError) {
    if (!postgres_available()) {
        if (std::getenv("WFQ_REQUIRE_POSTGRES")) FAIL() << "PostgreSQL is required but not reachable";
        GTEST_SKIP() << "no PostgreSQL server";
    }
    StoreOptions o;
    o.url = "postgresql://";
    o.schema = "never_migrated_" + std::to_string(getpid());
    try {
        open_store(o);
        FAIL() << "expected Error(config)";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::config);
        EXPECT_NE(std::string(e.what()).find("wfq migrate"), std::string::npos);
    }
}

}  // namespace
}  // namespace wfq
