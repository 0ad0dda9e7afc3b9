// New jobs (flags and NDJSON lines) and the retry-or-dead-letter decision (libqueue/src/queue.cpp).
#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/limits.h>
#include <wfq/queue.h>
#include <wfq/trace.h>

#include <gtest/gtest.h>

#include "test_util.h"

#include <string>
#include <vector>

namespace wfq {
namespace {

using wfq::test_util::code_of;
using wfq::test_util::error_of;

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

// Found by fuzzing: priority 4294967296 and max_attempts 4294967297 were narrowed to int before
// any check and stored as 0 and 1.
TEST(NewJob, NdjsonIntegersAreCheckedBeforeNarrowing) {
    for (const char* bad : {R"({"type":"t","priority":4294967296})", R"({"type":"t","priority":-4294967296})",
                            R"({"type":"t","priority":18446744073709551615})", R"({"type":"t","priority":1000001})",
                            R"({"type":"t","max_attempts":4294967297})", R"({"type":"t","max_attempts":0})",
                            R"({"type":"t","max_attempts":18446744073709551615})"}) {
        std::string msg = error_of([&] { parse_job_line(bad, NewJob{}); }, ErrorCode::bad_input);
        EXPECT_NE(msg.find("must be between"), std::string::npos) << bad << ": " << msg;
    }
    auto j = parse_job_line(R"({"type":"t","priority":-1000000,"max_attempts":1000})", NewJob{});
    EXPECT_EQ(j.priority, -1000000);
    EXPECT_EQ(j.max_attempts, 1000);
}

// A long limit key is named by its first 40 bytes, cut before a character that would not fit:
// the message stays valid UTF-8 (and says what the SQL API says for it).
TEST(NewJob, ALongLimitKeyIsNamedByWholeCharacters) {
    std::string key;
    for (int i = 0; i < 130; ++i) key += "\xc3\xa9";  // é, 2 bytes
    std::string msg = error_of([&] { parse_job_line(R"({"type":"t","limits":[")" + key + R"("]})", NewJob{}); },
                               ErrorCode::bad_input);
    EXPECT_EQ(msg, "field 'limits' key '" + key.substr(0, 40) + "\u2026' is too long (260 bytes, at most 200)");
    key = "a" + key;  // byte 40 now falls inside a character: 39 bytes are named
    msg = error_of([&] { parse_job_line(R"({"type":"t","limits":[")" + key + R"("]})", NewJob{}); }, ErrorCode::bad_input);
    EXPECT_EQ(msg, "field 'limits' key '" + key.substr(0, 39) + "\u2026' is too long (261 bytes, at most 200)");
}

TEST(NewJob, TheGroupIsGivenOrTheOrg) {
    DefaultRandom random(1);
    NewJob given = parse_job_line(R"({"type":"t","group":"g","org":"o"})", NewJob{});
    prepare_new_job(given, random);
    EXPECT_EQ(given.group, "g");
    NewJob from_org = parse_job_line(R"({"type":"t","org":"o"})", NewJob{});
    prepare_new_job(from_org, random);
    EXPECT_EQ(from_org.group, "o");
    NewJob none = parse_job_line(R"({"type":"t"})", NewJob{});
    prepare_new_job(none, random);
    EXPECT_FALSE(none.group);
    NewJob long_org;
    long_org.type = "t";
    long_org.org = std::string(201, 'o');
    prepare_new_job(long_org, random);
    EXPECT_FALSE(long_org.group);  // longer than a group may be: none
    NewJob too_long;
    too_long.type = "t";
    too_long.group = std::string(201, 'g');
    EXPECT_EQ(error_of([&] { prepare_new_job(too_long, random); }, ErrorCode::usage),
              "group is too long (201 bytes, at most 200)");
    EXPECT_EQ(error_of([&] { parse_job_line(R"({"type":"t","group":1})", NewJob{}); }, ErrorCode::bad_input),
              "field 'group' must be a string");
}

TEST(Limits, AGroupsWeightIsItsMostSpecificRules) {
    std::vector<LimitRule> rules(3);
    rules[0].pattern = "group:*";
    rules[0].weight = 2;
    rules[1].pattern = "group:acme";
    rules[1].weight = 5;
    rules[2].pattern = "group:b*";
    rules[2].concurrency = 1;  // no weight: the default
    EXPECT_EQ(group_weight(rules, "acme"), 5);
    EXPECT_EQ(group_weight(rules, "other"), 2);
    EXPECT_EQ(group_weight(rules, "bee"), 1);
    EXPECT_EQ(group_weight({}, "acme"), 1);
}

TEST(NewJobs, BadPayloadsAndNamesAreRefused) {
    DefaultRandom random;
    auto with = [&](auto change) {
        NewJob job;
        job.type = "t";
        change(job);
        prepare_new_job(job, random);
    };
    std::string msg = error_of([&] { with([](NewJob& j) { j.payload = R"({"x": "a\u0000b"})"; }); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("payload: the string at /x contains \\u0000"), std::string::npos) << msg;
    error_of([&] { with([](NewJob& j) { j.type = "\xff"; }); }, ErrorCode::usage);
    error_of([&] { with([](NewJob& j) { j.key = "k\xc3"; }); }, ErrorCode::usage);
    error_of([&] { with([](NewJob& j) { j.lock_key = std::string(1001, 'k'); }); }, ErrorCode::usage);
    error_of([&] { with([](NewJob& j) { j.org = "a\tb"; }); }, ErrorCode::usage);
    msg = error_of([] { parse_job_line(R"({"type": "t", "payload": {"x": "\u0000"}})", NewJob{}); }, ErrorCode::bad_input);
    EXPECT_NE(msg.find("/payload/x"), std::string::npos) << msg;
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

}  // namespace
}  // namespace wfq
