#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/lock.h>
#include <wfq/text.h>

#include <chrono>

namespace wfq {

void validate_lock_key(const std::string& key) { check_name("lock key", key, 1000); }

namespace {

const BackoffPolicy kLockWait{50, 1000, 0.25, 2};

void default_sleep(std::int64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Calls attempt() until it succeeds or wait_ms passes on clock.
template <typename T, typename Attempt>
T try_until(Attempt attempt, std::int64_t wait_ms, Clock& clock, Random& random,
            const std::function<void(std::int64_t)>& sleep) {
    const std::int64_t deadline = clock.steady_ns() / 1'000'000 + wait_ms;
    for (int n = 0;; ++n) {
        T got = attempt();
        if (got) return got;
        std::int64_t left = deadline - clock.steady_ns() / 1'000'000;
        if (left <= 0) return got;
        std::int64_t pause = std::min(left, kLockWait.delay_ms(std::min(n, 10), random));
        (sleep ? sleep : default_sleep)(pause);
    }
}

}  // namespace

std::optional<LockGrant> acquire_lock(Store& store, const std::string& key, const AcquireOptions& options, Clock& clock,
                                      Random& random, const std::function<void(std::int64_t)>& sleep) {
    validate_lock_key(key);
    check_name("lock owner", options.owner, 1000);
    if (options.ttl_ms < 100) throw Error(ErrorCode::usage, "lock TTL must be at least 100ms");
    if (options.wait_ms < 0) throw Error(ErrorCode::usage, "lock wait must not be negative");
    return try_until<std::optional<LockGrant>>([&] { return store.lock_acquire(key, options.owner, options.ttl_ms); },
                                               options.wait_ms, clock, random, sleep);
}

std::unique_ptr<AdvisoryLock> acquire_advisory_lock(Store& store, const std::string& key, std::int64_t wait_ms,
                                                    Clock& clock, Random& random) {
    validate_lock_key(key);
    return try_until<std::unique_ptr<AdvisoryLock>>([&] { return store.try_advisory_lock(key); }, wait_ms, clock,
                                                    random, {});
}

LockHolder::LockHolder(Store& store, LockGrant grant, std::int64_t ttl_ms, std::function<void(const std::string&)> on_lost)
    : m_store(&store), m_grant(std::move(grant)), m_period_ms(std::max<std::int64_t>(30, ttl_ms / 3)), m_ttl_ms(ttl_ms),
      m_on_lost(std::move(on_lost)) {
    m_thread = std::thread([this] { run(); });
}

LockHolder::LockHolder(std::unique_ptr<AdvisoryLock> advisory, std::int64_t check_ms,
                       std::function<void(const std::string&)> on_lost)
    : m_advisory(std::move(advisory)), m_period_ms(check_ms), m_ttl_ms(0), m_on_lost(std::move(on_lost)) {
    m_thread = std::thread([this] { run(); });
}

LockHolder::~LockHolder() { stop(); }

void LockHolder::stop() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void LockHolder::run() {
    auto last_ok = std::chrono::steady_clock::now();
    auto lose = [&](const std::string& why) {
        if (!m_lost.exchange(true) && m_on_lost) m_on_lost(why);
    };
    while (!m_lost) {
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            if (m_cv.wait_for(lock, std::chrono::milliseconds(m_period_ms), [&] { return m_stop.load(); })) return;
        }
        if (m_advisory) {
            if (!m_advisory->alive()) lose("the advisory lock's database session ended");
            continue;
        }
        try {
            LockStatus s = m_store->lock_renew(m_grant->key, m_grant->token, m_ttl_ms);
            if (s == LockStatus::ok) last_ok = std::chrono::steady_clock::now();
            else lose(s == LockStatus::unknown_key ? "the lock was released by someone else"
                                                   : "the lock expired or was taken over (token " +
                                                         std::to_string(m_grant->token) + " no longer holds it)");
        } catch (const std::exception& e) {
            // Unsure whether we still hold it: once a whole TTL passes without a renewal, we don't.
            if (std::chrono::steady_clock::now() - last_ok >= std::chrono::milliseconds(m_ttl_ms))
                lose(std::string("could not renew for a whole TTL: ") + e.what());
        }
    }
}

LockStatus LockHolder::release() {
    stop();
    if (m_advisory) {
        m_advisory.reset();  // closing the session releases it
        return m_lost ? LockStatus::not_held : LockStatus::ok;
    }
    return m_store->lock_release(m_grant->key, m_grant->token);
}

}  // namespace wfq
