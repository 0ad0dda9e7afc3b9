#pragma once
// retry(fn, policy): rerun an operation that failed because the database was unavailable.
#include <wfq/backoff.h>
#include <wfq/errors.h>

#include <chrono>
#include <functional>
#include <thread>

namespace wfq {

struct RetryPolicy {
    int max_attempts = 5;  // total tries, including the first
    BackoffPolicy backoff{100, 2000, 0.25, 2.0};
    // Sleeps between tries; replaced in tests.
    std::function<void(std::int64_t ms)> sleep = [](std::int64_t ms) {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    };
};

// The process-wide default, shortened by WFQ_DB_RETRIES (number of tries) when set.
const RetryPolicy& default_db_retry_policy();

// Calls fn; when it throws Error(db_unavailable), waits per policy and tries again, up to
// policy.max_attempts tries in all; then rethrows the last error. Other errors, and commits in
// doubt, pass through.
template <typename Fn>
auto retry(Fn&& fn, const RetryPolicy& policy) -> decltype(fn()) {
    for (int attempt = 0;; ++attempt) {
        try {
            return fn();
        } catch (const Error& e) {
            if (e.code() != ErrorCode::db_unavailable || e.in_doubt() || attempt + 1 >= policy.max_attempts) throw;
            policy.sleep(policy.backoff.delay_ms(attempt, 0.0));
        }
    }
}

}  // namespace wfq
