// Domain types as the JSON wfq prints (libqueue/src/json_out.cpp): field names, nulls, times
// and the states a job shows, which scripts read.
#include <wfq/job.h>
#include <wfq/json_out.h>

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

namespace wfq {
namespace {

constexpr TimeMs kNow = 1'764'000'000'000;  // 2025-11-24T16:00:00Z

Job running_job() {
    Job j;
    j.id = 42;
    j.type = "review";
    j.queue = "default";
    j.payload = R"({"pr":7})";
    j.state = JobState::running;
    j.attempt = 1;
    j.max_attempts = 3;
    j.run_at = kNow - 60000;
    j.started_at = kNow - 12500;
    j.lease_owner = "host:1:abc";
    j.created_at = j.updated_at = kNow - 60000;
    return j;
}

TEST(JsonOut, ARunningJobShowsHowLongItsHandlerHasRun) {
    auto j = job_json(running_job(), kNow);
    EXPECT_EQ(j["id"], 42);
    EXPECT_EQ(j["state"], "running");
    EXPECT_EQ(j["display_state"], "running");
    EXPECT_EQ(j["running_ms"], 12500);
    EXPECT_EQ(j["prefetched"], false);
    EXPECT_EQ(j["payload"]["pr"], 7) << "the payload is JSON, not a string";
    EXPECT_EQ(j["started_at"], "2025-11-24T15:59:47.500Z");
    // Absent optional fields are present and null, so scripts can test them.
    for (const char* field : {"key", "lock_key", "org", "repo", "last_error", "error_class", "result", "finished_at",
                              "wait_event", "wait_deadline", "current_stage"}) {
        ASSERT_TRUE(j.contains(field)) << field;
        EXPECT_TRUE(j[field].is_null()) << field;
    }
}

TEST(JsonOut, APrefetchedJobIsNotRunningYet) {
    Job job = running_job();
    job.prefetched = true;
    auto j = job_json(job, kNow);
    EXPECT_EQ(j["state"], "running");
    EXPECT_EQ(j["display_state"], "prefetched");
    EXPECT_EQ(j["prefetched"], true);
    EXPECT_TRUE(j["running_ms"].is_null());
}

TEST(JsonOut, PendingJobsShowWhyTheyWait) {
    Job job = running_job();
    job.state = JobState::pending;
    job.attempt = 0;
    job.run_at = kNow + 1000;
    EXPECT_EQ(job_json(job, kNow)["display_state"], "scheduled");
    job.attempt = 1;
    EXPECT_EQ(job_json(job, kNow)["display_state"], "retrying");
    job.run_at = kNow - 1;
    job.attempt = 0;
    EXPECT_EQ(job_json(job, kNow)["display_state"], "pending");
    EXPECT_TRUE(job_json(job, kNow)["running_ms"].is_null());
}

TEST(JsonOut, AResultThatIsNotJsonIsKeptAsText) {
    Job job = running_job();
    job.state = JobState::completed;
    job.result = R"({"ok":true})";
    EXPECT_EQ(job_json(job, kNow)["result"]["ok"], true);
    job.result = "plain words";
    EXPECT_EQ(job_json(job, kNow)["result"], "plain words");
    EXPECT_EQ(job_to_json(job, kNow).find('\n'), std::string::npos) << "one line by default";
}

TEST(JsonOut, TimelineEntriesCarryTheirData) {
    JobEvent e;
    e.at = kNow;
    e.kind = "failed";
    e.state = "failed";
    e.attempt = 2;
    e.message = "exit 3";
    e.data = R"({"exit_code":3,"permanent":false})";
    auto j = job_event_json(e);
    EXPECT_EQ(j["at"], "2025-11-24T16:00:00.000Z");
    EXPECT_EQ(j["data"]["exit_code"], 3);
    EXPECT_TRUE(j["worker"].is_null());
}

}  // namespace
}  // namespace wfq
