#include <wfq/backoff.h>
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/fencing.h>
#include <wfq/lock.h>
#include <wfq/process_runner.h>
#include <wfq/trace.h>
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
    return try_until<std::optional<LockGrant>>(
        [&] {
            if (options.attempt_started_ns) *options.attempt_started_ns = clock.steady_ns();
            return store.lock_acquire(key, options.owner, options.ttl_ms);
        },
        options.wait_ms, clock, random, sleep);
}

std::unique_ptr<AdvisoryLock> acquire_advisory_lock(Store& store, const std::string& key, std::int64_t wait_ms,
                                                    Clock& clock, Random& random, std::int64_t* attempt_started_ns) {
    validate_lock_key(key);
    return try_until<std::unique_ptr<AdvisoryLock>>(
        [&] {
            if (attempt_started_ns) *attempt_started_ns = clock.steady_ns();
            return store.try_advisory_lock(key);
        },
        wait_ms, clock, random, {});
}

LockHolder::LockHolder(Store& store, LockGrant grant, std::int64_t ttl_ms, std::function<void(const std::string&)> on_lost,
                       Clock& clock, std::int64_t held_since_ns)
    : m_store(&store), m_grant(std::move(grant)), m_period_ms(std::max<std::int64_t>(30, ttl_ms / 3)), m_ttl_ms(ttl_ms),
      m_on_lost(std::move(on_lost)), m_clock(clock) {
    m_held_since_ns = held_since_ns > 0 ? held_since_ns : m_clock.steady_ns();
    m_fence_deadline_ns = m_held_since_ns + (ttl_ms - fence_margin_ms(ttl_ms)) * 1'000'000;
    m_thread = std::thread([this] { run(); });
}

LockHolder::LockHolder(std::unique_ptr<AdvisoryLock> advisory, std::int64_t ttl_ms,
                       std::function<void(const std::string&)> on_lost, Clock& clock, std::int64_t held_since_ns)
    : m_advisory(std::move(advisory)), m_period_ms(std::max<std::int64_t>(30, advisory_fence_window_ms(ttl_ms) / 3)),
      m_ttl_ms(advisory_fence_window_ms(ttl_ms)), m_on_lost(std::move(on_lost)), m_clock(clock) {
    m_held_since_ns = held_since_ns > 0 ? held_since_ns : m_clock.steady_ns();
    m_fence_deadline_ns = m_held_since_ns + (m_ttl_ms - fence_margin_ms(m_ttl_ms)) * 1'000'000;
    m_thread = std::thread([this] { run(); });
}

LockHolder::~LockHolder() { stop(); }

bool LockHolder::fence_passed(std::int64_t now_ns) const {
    const std::int64_t deadline = m_fence_deadline_ns.load();
    return deadline > 0 && now_ns >= deadline;
}

void LockHolder::stop() {
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void LockHolder::run() {
    std::int64_t last_ok_ns = m_held_since_ns;
    auto lose = [&](const std::string& why) {
        if (!m_lost.exchange(true) && m_on_lost) m_on_lost(why);
    };
    while (!m_lost) {
        {
            std::unique_lock<std::mutex> lock(m_mutex);
            if (m_cv.wait_for(lock, std::chrono::milliseconds(m_period_ms), [&] { return m_stop.load(); })) return;
        }
        if (m_advisory) {
            const std::int64_t sent_ns = m_clock.steady_ns();
            if (!m_advisory->alive()) lose("the advisory lock's database session ended");
            else if (fence_passed(m_clock.steady_ns()))
                lose("no session check answered before the lock's local deadline (self-fencing)");
            else
                m_fence_deadline_ns = sent_ns + (m_ttl_ms - fence_margin_ms(m_ttl_ms)) * 1'000'000;
            continue;
        }
        try {
            const std::int64_t sent_ns = m_clock.steady_ns();
            LockStatus s = m_store->lock_renew(m_grant->key, m_grant->token, m_ttl_ms);
            if (s == LockStatus::ok && !fence_passed(m_clock.steady_ns())) {
                last_ok_ns = m_clock.steady_ns();
                m_fence_deadline_ns = sent_ns + (m_ttl_ms - fence_margin_ms(m_ttl_ms)) * 1'000'000;
            } else if (s == LockStatus::ok) {
                // A renewal that answers after the deadline does not revive the lock: its command is being stopped.
                lose("no renewal succeeded before the lock's local deadline (self-fencing)");
            } else {
                lose(s == LockStatus::unknown_key ? "the lock was released by someone else"
                                                   : "the lock expired or was taken over (token " +
                                                         std::to_string(m_grant->token) + " no longer holds it)");
            }
        } catch (const std::exception& e) {
            // Unsure whether we still hold it: once a whole TTL passes without a renewal, we don't.
            if (m_clock.steady_ns() - last_ok_ns >= m_ttl_ms * 1'000'000)
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

int run_with_lock(Store& store, Tracer& tracer, const LockedRunOptions& o, Clock& clock, Random& random,
                  const std::atomic<bool>& stop_requested, const std::function<void(const std::string&)>& warning) {
    validate_lock_key(o.key);
    if (o.command.empty()) throw Error(ErrorCode::usage, "lock run needs a command after --");
    std::atomic<bool> lost{false};
    std::string lost_reason;
    std::mutex reason_mutex;
    auto on_lost = [&](const std::string& why) {
        {
            std::lock_guard<std::mutex> lock(reason_mutex);
            if (lost_reason.empty()) lost_reason = why;  // the first reason: later ones follow from it
        }
        lost = true;
    };
    std::unique_ptr<LockHolder> holder;
    std::string token = "advisory";
    // A span for the wait, in the caller's trace when it has one.
    std::optional<TraceContext> parent;
    if (o.parent) parent = parse_traceparent(*o.parent);
    SpanRecord wait_span = tracer.start("lock wait " + o.key, SpanKind::internal, parent);
    wait_span.set("wfq.lock.key", o.key);
    wait_span.set("wfq.lock.kind", std::string(o.advisory ? "advisory" : "lease"));
    auto finish_wait = [&](bool acquired) {
        tracer.end(wait_span);
        if (!acquired) wait_span.fail("not acquired");
        else wait_span.set("wfq.lock.token", token);
        tracer.export_span(wait_span);
        tracer.flush();
    };
    if (o.advisory) {
        std::int64_t attempt_started_ns = 0;
        auto adv = acquire_advisory_lock(store, o.key, o.wait_ms, clock, random, &attempt_started_ns);
        finish_wait(adv != nullptr);
        if (!adv) throw Error(ErrorCode::lock_conflict, "advisory lock '" + o.key + "' is held by another session");
        holder = std::make_unique<LockHolder>(std::move(adv), o.ttl_ms, on_lost, clock, attempt_started_ns);
    } else {
        std::int64_t attempt_started_ns = 0;
        AcquireOptions a{o.ttl_ms, o.wait_ms, o.owner, &attempt_started_ns};
        auto grant = acquire_lock(store, o.key, a, clock, random);
        if (grant) token = std::to_string(grant->token);
        finish_wait(grant.has_value());
        if (!grant) throw Error(ErrorCode::lock_conflict, "lock '" + o.key + "' is held by another owner; not acquired");
        holder = std::make_unique<LockHolder>(store, *grant, o.ttl_ms, on_lost, clock, attempt_started_ns);
    }

    if (o.on_acquired) o.on_acquired();
    // The command stops when the lock is lost, when its local deadline passes whatever the
    // database does (this thread never calls it), or when we are asked to stop.
    std::atomic<bool> stop{false};
    std::thread watcher([&] {
        while (!stop) {
            if (!lost && holder->fence_passed(clock.steady_ns()))
                on_lost("no renewal succeeded before the lock's local deadline (self-fencing: the database did not "
                        "answer in time)");
            if (lost || stop_requested) {
                stop = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    });
    ProcessSpec spec;
    spec.argv = o.command;
    spec.env = current_environment({"WFQ_LOCK_TOKEN", "WFQ_LOCK_KEY"});
    spec.env.push_back("WFQ_LOCK_TOKEN=" + token);
    spec.env.push_back("WFQ_LOCK_KEY=" + o.key);
    spec.inherit_stdio = true;
    spec.cancel = &stop;
    spec.kill_grace_ms = fence_kill_grace_ms(o.advisory ? advisory_fence_window_ms(o.ttl_ms) : o.ttl_ms, spec.kill_grace_ms);
    ProcessResult r = run_process(spec);
    stop = true;
    watcher.join();
    LockStatus released = holder->release();
    if (r.spawn_failed) throw Error(ErrorCode::failure, r.spawn_error);
    if (lost) {
        std::lock_guard<std::mutex> lock(reason_mutex);
        // r.cancelled: the stop reached the command before it ended.
        const std::string what = r.cancelled ? "the command was stopped"
                                 : r.term_signal ? "the command had already ended by itself (signal " + std::to_string(r.term_signal) + ")"
                                                 : "the command had already ended by itself (exit code " + std::to_string(r.exit_code) + ")";
        throw Error(ErrorCode::lock_conflict, "lock '" + o.key + "' was lost while the command ran (" + lost_reason + "); " + what);
    }
    if (released != LockStatus::ok && warning) warning("lock '" + o.key + "' was no longer held at release");
    if (r.term_signal) return 128 + r.term_signal;
    return r.exit_code;
}

}  // namespace wfq
