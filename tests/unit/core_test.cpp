// Unit tests of the pieces that need no database.
#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/duration.h>
#include <wfq/errors.h>
#include <wfq/queue.h>
#include <wfq/retry.h>
#include <wfq/store.h>
#include <wfq/trace.h>

#include <gtest/gtest.h>

namespace wfq {
namespace {

ErrorCode code_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "no error thrown";
    return ErrorCode::failure;
}

TEST(Duration, ParsesUnitsAndCombinations) {
    EXPECT_EQ(parse_duration_ms("250ms"), 250);
    EXPECT_EQ(parse_duration_ms("30s"), 30000);
    EXPECT_EQ(parse_duration_ms("5m"), 300000);
    EXPECT_EQ(parse_duration_ms("2h"), 7200000);
    EXPECT_EQ(parse_duration_ms("1d"), 86400000);
    EXPECT_EQ(parse_duration_ms("1m30s"), 90000);
    EXPECT_EQ(parse_duration_ms("0"), 0);
}

TEST(Duration, RejectsMalformedText) {
    for (const char* bad : {"", "5", "-5s", "5x", "s", "1.5s", "5 s", "99999999999999999999d"})
        EXPECT_EQ(code_of([&] { parse_duration_ms(bad); }), ErrorCode::usage) << bad;
}

TEST(Duration, FormatsCompactly) {
    EXPECT_EQ(format_duration_ms(250), "250ms");
    EXPECT_EQ(format_duration_ms(1500), "1.5s");
    EXPECT_EQ(format_duration_ms(200000), "3m20s");
    EXPECT_EQ(format_duration_ms(7200000), "2h");
}

TEST(Time, RoundTripsRfc3339) {
    TimeMs t = parse_time("2026-11-25T16:49:55.123Z");
    EXPECT_EQ(format_time(t), "2026-11-25T16:49:55.123Z");
    EXPECT_EQ(parse_time("2026-11-25T18:49:55+02:00"), parse_time("2026-11-25T16:49:55Z"));
    EXPECT_EQ(code_of([] { parse_time("2026-11-25 16:49"); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { parse_time("2026-11-25T16:49:55"); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { parse_time("2026-13-25T16:49:55Z"); }), ErrorCode::usage);
}

TEST(Backoff, PresetsMatchTheDesignTable) {
    auto s = *backoff_preset("standard");
    EXPECT_EQ(s.base_ms, 1000);
    EXPECT_EQ(s.max_ms, 30000);
    EXPECT_DOUBLE_EQ(s.jitter, 0.25);
    EXPECT_EQ(backoff_preset("Conservative")->multiplier, 3);
    EXPECT_EQ(backoff_preset("HEAVY_TASK")->base_ms, 5000);
    EXPECT_FALSE(backoff_preset("nope"));
    EXPECT_EQ(backoff_preset_names().size(), 6u);
}

TEST(Backoff, FollowsTheFormula) {
    auto s = *backoff_preset("STANDARD");
    EXPECT_EQ(s.capped_ms(0), 1000);
    EXPECT_EQ(s.capped_ms(1), 2000);
    EXPECT_EQ(s.capped_ms(4), 16000);
    EXPECT_EQ(s.capped_ms(5), 30000);  // 32000 capped
    EXPECT_EQ(s.delay_ms(0, -1.0), 750);
    EXPECT_EQ(s.delay_ms(0, 1.0), 1250);
    auto lin = *backoff_preset("LINEAR");
    EXPECT_EQ(lin.capped_ms(0), 5000);
    EXPECT_EQ(lin.capped_ms(2), 15000);
    EXPECT_EQ(lin.capped_ms(9), 30000);
    BackoffPolicy tiny{1, 1, 1.0, 2};
    EXPECT_EQ(tiny.delay_ms(0, -1.0), 1) << "at least 1 ms";
}

TEST(Backoff, SeededSamplesAreReproducibleAndWithinBounds) {
    auto s = *backoff_preset("FAST");
    DefaultRandom r1(42), r2(42);
    auto a = backoff_schedule(s, 6, &r1);
    auto b = backoff_schedule(s, 6, &r2);
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].sample_ms, b[i].sample_ms);
        EXPECT_GE(*a[i].sample_ms, a[i].min_ms);
        EXPECT_LE(*a[i].sample_ms, a[i].max_ms);
        EXPECT_EQ(a[i].retry, static_cast<int>(i) + 1);
    }
    EXPECT_EQ(code_of([] { BackoffPolicy{0, 10, 0.1, 2}.validate(); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { BackoffPolicy{10, 5, 0.1, 2}.validate(); }), ErrorCode::usage);
    EXPECT_EQ(code_of([] { BackoffPolicy{10, 50, 1.5, 2}.validate(); }), ErrorCode::usage);
}

TEST(Retry, RetriesOnlyUnavailableDatabaseThenGivesUp) {
    RetryPolicy p;
    p.max_attempts = 3;
    std::vector<std::int64_t> slept;
    p.sleep = [&](std::int64_t ms) { slept.push_back(ms); };
    int calls = 0;
    EXPECT_EQ(retry([&] {
        if (++calls < 3) throw Error(ErrorCode::db_unavailable, "down");
        return 7;
    }, p), 7);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(slept, (std::vector<std::int64_t>{100, 200}));
    calls = 0;
    EXPECT_EQ(code_of([&] { retry([&] { ++calls; throw Error(ErrorCode::db_unavailable, "down"); }, p); }),
              ErrorCode::db_unavailable);
    EXPECT_EQ(calls, 3);
    calls = 0;
    EXPECT_EQ(code_of([&] { retry([&] { ++calls; throw Error(ErrorCode::bad_input, "no"); }, p); }), ErrorCode::bad_input);
    EXPECT_EQ(calls, 1) << "other errors are not retried";
}

TEST(Traceparent, AcceptsTheSpecExamples) {
    auto ctx = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    ASSERT_TRUE(ctx);
    EXPECT_EQ(ctx->trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(ctx->span_id, "00f067aa0ba902b7");
    EXPECT_TRUE(ctx->sampled());
    EXPECT_FALSE(parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled());
    // A future version may carry more fields.
    EXPECT_TRUE(parse_traceparent("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future"));
    EXPECT_EQ(ctx->to_traceparent(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
}

TEST(Traceparent, RejectsInvalidHeaders) {
    for (const char* bad : {
             "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
             "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
             "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
             "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
             "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // forbidden version
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
             "00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01",
             "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
             "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"})
        EXPECT_FALSE(parse_traceparent(bad)) << bad;
}

TEST(Tracestate, ValidatesMembers) {
    EXPECT_TRUE(valid_tracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
    EXPECT_TRUE(valid_tracestate("tenant@vendor=x"));
    EXPECT_FALSE(valid_tracestate("Rojo=1"));
    EXPECT_FALSE(valid_tracestate("novalue="));
    EXPECT_FALSE(valid_tracestate("=x"));
}

TEST(NewJob, PrepareValidatesAndFillsIn) {
    DefaultRandom random(1);
    NewJob j;
    j.type = "t";
    j.payload = R"({"a":1})";
    std::vector<std::string> warnings;
    j.traceparent = "garbage";
    prepare_new_job(j, random, &warnings);
    EXPECT_EQ(warnings.size(), 1u);
    EXPECT_TRUE(parse_traceparent(*j.traceparent)) << "a new trace starts";
    EXPECT_EQ(j.correlation_id.size(), 36u);
    NewJob bad = j;
    bad.payload = "[1,2]";
    EXPECT_EQ(code_of([&] { prepare_new_job(bad, random); }), ErrorCode::bad_input);
    bad.payload = "{not json";
    EXPECT_EQ(code_of([&] { prepare_new_job(bad, random); }), ErrorCode::bad_input);
    NewJob empty = j;
    empty.type = "";
    EXPECT_EQ(code_of([&] { prepare_new_job(empty, random); }), ErrorCode::usage);
    NewJob attempts = j;
    attempts.max_attempts = 0;
    EXPECT_EQ(code_of([&] { prepare_new_job(attempts, random); }), ErrorCode::usage);
    NewJob ctrl = j;
    ctrl.key = std::string("a\nb");
    EXPECT_EQ(code_of([&] { prepare_new_job(ctrl, random); }), ErrorCode::usage);
    NewJob huge = j;
    huge.lock_key = std::string(5000, 'k');
    EXPECT_EQ(code_of([&] { prepare_new_job(huge, random); }), ErrorCode::usage);
}

TEST(NewJob, ParsesNdjsonLines) {
    NewJob defaults;
    defaults.queue = "fromflag";
    auto j = parse_job_line(R"({"type":"t","payload":{"x":1},"priority":3,"delay":"5s","key":"k","org":"o"})", defaults);
    EXPECT_EQ(j.type, "t");
    EXPECT_EQ(j.queue, "fromflag");
    EXPECT_EQ(j.priority, 3);
    EXPECT_EQ(j.delay_ms, 5000);
    EXPECT_EQ(*j.key, "k");
    EXPECT_EQ(*j.org, "o");
    for (const char* bad : {"[]", "{", R"({"payload":{}})", R"({"type":1})", R"({"type":"t","payload":[]})",
                            R"({"type":"t","priority":"high"})", R"({"type":"t","delay":"soon"})",
                            R"({"type":"t","surprise":1})"})
        EXPECT_EQ(code_of([&] { parse_job_line(bad, defaults); }), ErrorCode::bad_input) << bad;
}

TEST(Policy, DecidesRetryOrDeadLetter) {
    DefaultRandom random(3);
    JobPolicy policy;
    policy.backoff = BackoffPolicy{1000, 30000, 0.0, 2};
    Job job;
    job.attempt = 1;
    job.max_attempts = 3;
    auto f = decide_failure(job, policy, "exit_code", "x", false, random);
    EXPECT_EQ(f.retry_in_ms, 1000);
    job.attempt = 2;
    EXPECT_EQ(decide_failure(job, policy, "exit_code", "x", false, random).retry_in_ms, 2000);
    job.attempt = 3;
    EXPECT_FALSE(decide_failure(job, policy, "exit_code", "x", false, random).retry_in_ms) << "exhausted";
    job.attempt = 1;
    EXPECT_FALSE(decide_failure(job, policy, "exit_code", "x", true, random).retry_in_ms) << "permanent";
    policy.max_attempts = 1;
    EXPECT_FALSE(decide_failure(job, policy, "exit_code", "x", false, random).retry_in_ms) << "policy override";
}

TEST(Dsn, PasswordsAreRedacted) {
    EXPECT_EQ(redact_dsn("postgresql://bob:s3cret@db:5432/q"), "postgresql://bob:***@db:5432/q");
    EXPECT_EQ(redact_dsn("host=db password=s3cret dbname=q"), "host=db password=*** dbname=q");
    EXPECT_EQ(redact_dsn("host=db password='a b' dbname=q"), "host=db password=*** dbname=q");
    EXPECT_EQ(redact_dsn("sqlite:/tmp/x.db"), "sqlite:/tmp/x.db");
}

TEST(Dsn, UnknownSchemesAreConfigurationErrors) {
    StoreOptions o;
    o.url = "mysql://x";
    EXPECT_EQ(code_of([&] { open_store(o); }), ErrorCode::config);
    o.url = "postgresql://";
    o.schema = "bad-schema; drop";
    EXPECT_EQ(code_of([&] { open_store(o); }), ErrorCode::usage);
}

TEST(DisplayState, RefinesPending) {
    EXPECT_EQ(display_state(JobState::pending, 200, 0, 100), "scheduled");
    EXPECT_EQ(display_state(JobState::pending, 50, 1, 100), "retrying");
    EXPECT_EQ(display_state(JobState::pending, 50, 0, 100), "pending");
    EXPECT_EQ(display_state(JobState::failed, 50, 3, 100), "failed");
}

}  // namespace
}  // namespace wfq
