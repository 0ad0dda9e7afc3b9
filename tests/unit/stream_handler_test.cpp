#include <wfq/errors.h>
#include <wfq/stream_handler.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <csignal>
#include <thread>

namespace wfq {
namespace {

Job job(std::int64_t id, const std::string& type = "t") {
    Job j;
    j.id = id;
    j.type = type;
    j.queue = "q";
    j.attempt = 1;
    j.max_attempts = 3;
    j.payload = "{\"a\":\n1}";
    j.correlation_id = "c";
    return j;
}

// The answer lines a handler writes, read without a process (tests/fuzz/stream_line_fuzzer.cpp
// feeds it anything).
TEST(StreamAnswer, ParsesTheProtocolAndRefusesTheRest) {
    auto ok = parse_stream_answer(R"({"id": 42, "ok": true, "result": {"n": 1}})");
    EXPECT_EQ(ok.id, 42);
    EXPECT_EQ(ok.result.outcome, HandlerResult::Outcome::success);
    EXPECT_EQ(*ok.result.output, R"({"n":1})");
    auto failed = parse_stream_answer(R"({"id": 7, "ok": false, "error": "boom", "permanent": true})");
    EXPECT_EQ(failed.result.outcome, HandlerResult::Outcome::failure);
    EXPECT_EQ(failed.result.error, "boom");
    EXPECT_TRUE(failed.result.permanent);
    auto snooze = parse_stream_answer(R"({"id": 7, "snooze": "30s"})");
    EXPECT_EQ(snooze.result.outcome, HandlerResult::Outcome::snoozed);
    EXPECT_EQ(snooze.result.delay_ms, 30000);
    EXPECT_EQ(parse_stream_answer(R"({"id": 7, "snooze": "99999999d"})").result.error_class, "bad_output");
    EXPECT_EQ(parse_stream_answer(R"({"id": 7})").result.error_class, "protocol");
    for (std::string bad : {std::string("not json"), std::string(R"({"ok": true})"), std::string(R"({"id": "7", "ok": true})"),
                            std::string("[") + std::string(5000, '[') + std::string(5001, ']'), std::string("{\"id\":1}\0x", 12)}) {
        try {
            parse_stream_answer(bad);
            ADD_FAILURE() << "accepted: " << bad.substr(0, 40);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::bad_input);
        }
    }
}

// The common answer {"id": N, "ok": true} is read without a JSON document; it must mean exactly
// what the full parser makes of it, and anything else must still reach the full parser.
TEST(StreamAnswer, PlainOkAnswerReadsLikeTheFullParser) {
    for (std::string line : {std::string(R"({"id":42,"ok":true})"), std::string(R"( { "id" : 42 , "ok" : true } )"),
                             std::string("{\"id\":\t42,\r\n\"ok\":true}")}) {
        auto a = parse_stream_answer(line);
        EXPECT_EQ(a.id, 42) << line;
        EXPECT_EQ(a.result.outcome, HandlerResult::Outcome::success) << line;
        EXPECT_FALSE(a.result.output) << line;
    }
    EXPECT_EQ(parse_stream_answer(R"({"id":0,"ok":true})").id, 0);
    EXPECT_EQ(parse_stream_answer(R"({"id":-3,"ok":true})").id, -3);                                 // the full parser's
    EXPECT_EQ(parse_stream_answer(R"({"id":1234567890123456789,"ok":true})").id, 1234567890123456789);  // 19 digits
    EXPECT_EQ(parse_stream_answer(R"({"id":7,"ok":false})").result.outcome, HandlerResult::Outcome::failure);
    EXPECT_EQ(parse_stream_answer(R"({"ok":true,"id":7})").id, 7);
    for (std::string bad : {std::string(R"({"id":07,"ok":true})"), std::string(R"({"id":7,"ok":true}x)"),
                            std::string(R"({"id":7,"ok":true)"), std::string(R"({"id":7.5,"ok":true})")}) {
        EXPECT_THROW(parse_stream_answer(bad), Error) << bad;
    }
}

// A result is the answer's own JSON, dumped once; one with a \u0000 in a string is not kept.
TEST(StreamAnswer, ResultIsKeptCompactAndStorable) {
    auto a = parse_stream_answer(R"({"id": 1, "ok": true, "result": {"b": [1, 2.5, "x"], "a": null}})");
    ASSERT_TRUE(a.result.output);
    EXPECT_EQ(*a.result.output, R"({"a":null,"b":[1,2.5,"x"]})");
    auto nul = parse_stream_answer(R"({"id": 1, "ok": true, "result": {"s": "a\u0000b"}})");
    EXPECT_EQ(nul.result.outcome, HandlerResult::Outcome::success);
    EXPECT_FALSE(nul.result.output);
}

StreamHandlerOptions sh(const std::string& script) {
    std::signal(SIGPIPE, SIG_IGN);  // as wfq does: a handler that exits must not kill us
    StreamHandlerOptions o;
    o.command = {"/bin/sh", "-c", script};
    o.restart_ms = 10;
    o.grace_ms = 1000;
    return o;
}

// Answers every job line with ok, echoing the id; a job of type "crash" ends the process.
const char* kEcho = R"(while IFS= read -r line; do
  case $line in
    *'"type":"crash"'*) exit 7 ;;
    '{"id":'*) id=${line#'{"id":'}; printf '{"id":%s,"ok":true,"result":{"n":%s}}\n' "${id%%,*}" "${id%%,*}" ;;
  esac
done)";

TEST(StreamHandler, JobLineIsOneLineWithEveryField) {
    Job j = job(42);
    j.config = "{\"model\":\n\"x\"}";
    j.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    std::string line = stream_job_line(j, 1'700'000'000'000);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    auto m = nlohmann::json::parse(line);
    EXPECT_EQ(m["id"], 42);
    EXPECT_EQ(m["type"], "t");
    EXPECT_EQ(m["queue"], "q");
    EXPECT_EQ(m["attempt"], 1);
    EXPECT_EQ(m["max_attempts"], 3);
    EXPECT_EQ(m["snoozes"], 0);
    EXPECT_EQ(m["payload"]["a"], 1);
    EXPECT_EQ(m["correlation_id"], "c");
    EXPECT_EQ(m["traceparent"], *j.traceparent);
    EXPECT_EQ(m["config"]["model"], "x");
    EXPECT_EQ(m["deadline"], "2023-11-14T22:13:20.000Z");
    EXPECT_TRUE(nlohmann::json::parse(stream_job_line(job(1), 0))["config"].is_null());
}

TEST(StreamHandler, ServesManyJobsFromOneProcessConcurrently) {
    auto handler = make_stream_handler(sh(kEcho));
    std::atomic<bool> cancel{false};
    std::vector<std::thread> threads;
    std::atomic<int> ok{0};
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < 25; ++i) {
                auto r = handler->run(job(t * 100 + i + 1), cancel);
                if (r.outcome == HandlerResult::Outcome::success && r.output == "{\"n\":" + std::to_string(t * 100 + i + 1) + "}") ++ok;
            }
        });
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok, 100);
}

TEST(StreamHandler, CrashFailsTheUnansweredJobAndRestarts) {
    auto handler = make_stream_handler(sh(kEcho));
    std::atomic<bool> cancel{false};
    auto r = handler->run(job(1, "crash"), cancel);
    EXPECT_EQ(r.outcome, HandlerResult::Outcome::crash);
    EXPECT_NE(r.error.find("exited with code 7"), std::string::npos) << r.error;
    EXPECT_EQ(handler->run(job(2), cancel).outcome, HandlerResult::Outcome::success);  // restarted
}

TEST(StreamHandler, CancelAndTimeoutReturnPromptly) {
    auto o = sh("while read -r line; do :; done");  // never answers
    o.timeout_ms = 200;
    o.cancel_grace_ms = 200;
    auto handler = make_stream_handler(o);
    std::atomic<bool> cancel{false};
    auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(handler->run(job(1), cancel).outcome, HandlerResult::Outcome::timeout);
    cancel = true;
    EXPECT_EQ(handler->run(job(2), cancel).outcome, HandlerResult::Outcome::cancelled);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

// Answers each job with its process's pid, at once or (type "slow") after 30 s; {"cancel": N}
// is answered at once unless the script ignores cancels.
std::string pid_echo(bool answers_cancel) {
    return std::string(R"(slow_pid=
while IFS= read -r line; do
  case $line in
    '{"cancel":'*) id=${line#'{"cancel":'}; )") +
           (answers_cancel ? R"([ -n "$slow_pid" ] && kill $slow_pid; printf '{"id":%s,"ok":false,"error":"cancelled"}
' "${id%%\}*}")" : ":") +
           R"( ;;
    *'"type":"slow"'*) id=${line#'{"id":'}; (sleep 30; printf '{"id":%s,"ok":true}
' "${id%%,*}") & slow_pid=$! ;;
    '{"id":'*) id=${line#'{"id":'}; printf '{"id":%s,"ok":true,"result":{"pid":%s}}
' "${id%%,*}" $$ ;;
  esac
done)";
}

// A job that must stop (lease lost, cancelled) is stopped by its cancel grace, whatever the
// handler does: one that answers {"cancel": N} keeps its process; one that does not is stopped
// (its other jobs in flight fail as crash) and restarted for the next jobs.
TEST(StreamHandler, AJobThatMustStopIsStoppedWithinTheCancelGrace) {
    for (bool answers : {true, false}) {
        SCOPED_TRACE(answers ? "answers cancel" : "ignores cancel");
        auto o = sh(pid_echo(answers));
        o.cancel_grace_ms = 400;
        auto handler = make_stream_handler(o);
        std::atomic<bool> no{false}, stop{false};
        auto first = handler->run(job(1), no);
        ASSERT_EQ(first.outcome, HandlerResult::Outcome::success) << first.error;
        HandlerResult other;
        std::thread beside([&] { other = handler->run(job(2, "slow"), no); });
        std::thread stopper([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both jobs in flight
            stop = true;
        });
        auto start = std::chrono::steady_clock::now();
        EXPECT_EQ(handler->run(job(3, "slow"), stop).outcome, HandlerResult::Outcome::cancelled);
        auto took = std::chrono::steady_clock::now() - start;
        stopper.join();
        EXPECT_LT(took, std::chrono::milliseconds(200 + 400 + 1500));
        if (answers) {
            // Not stopped: the same process answers the next job; the other job goes on.
            auto next = handler->run(job(4), no);
            EXPECT_EQ(next.output, first.output);
            handler.reset();  // stops the process: the other job fails with it
            beside.join();
        } else {
            beside.join();
            EXPECT_EQ(other.outcome, HandlerResult::Outcome::crash);
            EXPECT_NE(other.error.find("did not answer {\"cancel\": 3}"), std::string::npos) << other.error;
            auto next = handler->run(job(4), no);  // a new process
            EXPECT_EQ(next.outcome, HandlerResult::Outcome::success) << next.error;
            EXPECT_NE(next.output, first.output);
        }
    }
}

// Collects results handed over by an asynchronous start(), and the thread each came on.
struct Results {
    std::mutex mutex;
    std::condition_variable cv;
    std::map<std::int64_t, HandlerResult> by_id;
    std::set<std::thread::id> threads;
    std::function<void(HandlerResult)> for_job(std::int64_t id) {
        return [this, id](HandlerResult r) {
            std::lock_guard<std::mutex> lock(mutex);
            by_id[id] = std::move(r);
            threads.insert(std::this_thread::get_id());
            cv.notify_all();
        };
    }
    HandlerResult wait(std::int64_t id) {
        std::unique_lock<std::mutex> lock(mutex);
        cv.wait(lock, [&] { return by_id.count(id) > 0; });
        return by_id[id];
    }
};

// start() returns before the answer: one thread starts both jobs, and the handler answers the
// first only once it has read the second (a blocking start would never return).
TEST(StreamHandler, StartReturnsAtOnceAndTheAnswerComesOnTheReadersThread) {
    auto handler = make_stream_handler(sh(R"(IFS= read -r a; IFS= read -r b
for l in "$b" "$a"; do id=${l#'{"id":'}; printf '{"id":%s,"ok":true}\n' "${id%%,*}"; done
while IFS= read -r l; do :; done)"));
    ASSERT_TRUE(handler->asynchronous());
    Results results;
    std::atomic<bool> no{false};
    handler->start(job(1), no, results.for_job(1));
    handler->start(job(2), no, results.for_job(2));
    EXPECT_EQ(results.wait(1).outcome, HandlerResult::Outcome::success);
    EXPECT_EQ(results.wait(2).outcome, HandlerResult::Outcome::success);
    std::lock_guard<std::mutex> lock(results.mutex);
    EXPECT_EQ(results.threads.count(std::this_thread::get_id()), 0u);
}

// A process that stops reading its stdin: a job whose line waits whole in wfq's buffer is
// given up unsent (its process lives on); one whose line is half written restarts the process.
TEST(StreamHandler, AJobThatMustStopBeforeItsLineIsSentIsGivenUpUnsent) {
    auto o = sh("exec sleep 1000");  // never reads its stdin
    o.grace_ms = 100;
    o.kill_grace_ms = 100;
    auto handler = make_stream_handler(o);
    Results results;
    std::atomic<bool> stop_big{false}, stop_queued{false};
    Job big = job(1);
    big.payload = "{\"s\":\"" + std::string(1 << 20, 'x') + "\"}";  // more than the pipe holds
    handler->start(big, stop_big, results.for_job(1));
    handler->start(job(2), stop_queued, results.for_job(2));
    stop_queued = true;
    HandlerResult queued = results.wait(2);
    EXPECT_EQ(queued.outcome, HandlerResult::Outcome::cancelled);
    {
        std::lock_guard<std::mutex> lock(results.mutex);
        EXPECT_EQ(results.by_id.count(1), 0u) << "the process was not stopped for a line it never got";
    }
    stop_big = true;
    HandlerResult half = results.wait(1);
    EXPECT_EQ(half.outcome, HandlerResult::Outcome::cancelled) << half.error;
}

TEST(StreamHandler, MissingCommandFailsJobs) {
    StreamHandlerOptions o;
    o.command = {"/no/such/handler"};
    auto handler = make_stream_handler(o);
    std::atomic<bool> cancel{false};
    auto r = handler->run(job(1), cancel);
    EXPECT_EQ(r.outcome, HandlerResult::Outcome::failure);
    EXPECT_NE(r.error.find("cannot execute"), std::string::npos) << r.error;
}

}  // namespace
}  // namespace wfq
