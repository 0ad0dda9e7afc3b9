#pragma once
// Distributed locks over the store: lease locks with fencing tokens (both backends) and
// PostgreSQL session advisory locks; a holder that keeps a lock alive and says when it is lost.
#include <wfq/clock.h>
#include <wfq/store.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace wfq {

// Throws Error(usage) for an empty key, one over 1000 bytes, or one with control characters.
void validate_lock_key(const std::string& key);

struct AcquireOptions {
    std::int64_t ttl_ms = 30000;
    std::int64_t wait_ms = 0;  // 0: try once
    std::string owner;
    // Set to the steady time (Clock::steady_ns) at which the try that took the lock began: the
    // lease is surely held from then until then + TTL.
    std::int64_t* attempt_started_ns = nullptr;
};

// Tries to take a lease lock until wait_ms has passed, backing off between tries (50ms
// doubling to 1s, jittered). nullopt when it was not acquired in time.
std::optional<LockGrant> acquire_lock(Store& store, const std::string& key, const AcquireOptions& options, Clock& clock,
                                      Random& random, const std::function<void(std::int64_t)>& sleep = {});

// The same for an advisory lock; nullptr when not acquired in time. attempt_started_ns as above.
std::unique_ptr<AdvisoryLock> acquire_advisory_lock(Store& store, const std::string& key, std::int64_t wait_ms,
                                                    Clock& clock, Random& random, std::int64_t* attempt_started_ns = nullptr);

// Keeps a held lock alive from its own thread: renews a lease lock every ttl/3 (or checks an
// advisory session), and calls on_lost once, at once, when a renewal is rejected or when the
// database has been unreachable for a whole TTL (as clock measures it). The destructor stops
// renewing; it does not release.
// A lease lock also has a local deadline (self-fencing, see <wfq/fencing.h>): the start of the
// last renewal that succeeded (held_since_ns, steady, for the acquire; 0: now) + TTL - margin.
// fence_passed() reads it without waiting for the renewal thread, which a partition may block.
// An advisory lock's session is checked every window/3 and its local deadline is the start of
// the last answered check + window - margin, the window being advisory_fence_window_ms(ttl_ms).
class LockHolder {
public:
    LockHolder(Store& store, LockGrant grant, std::int64_t ttl_ms, std::function<void(const std::string&)> on_lost,
               Clock& clock = SystemClock::instance(), std::int64_t held_since_ns = 0);
    LockHolder(std::unique_ptr<AdvisoryLock> advisory, std::int64_t ttl_ms, std::function<void(const std::string&)> on_lost,
               Clock& clock = SystemClock::instance(), std::int64_t held_since_ns = 0);
    ~LockHolder();
    bool lost() const { return m_lost; }
    // The local deadline (steady ns).
    std::int64_t fence_deadline_ns() const { return m_fence_deadline_ns.load(); }
    // True once now_ns (steady) is past the local deadline: stop using the lock.
    bool fence_passed(std::int64_t now_ns) const;
    // Stops renewing and releases the lock if it is still held; returns the release outcome.
    LockStatus release();

private:
    void run();
    void stop();
    Store* m_store = nullptr;
    std::optional<LockGrant> m_grant;
    std::unique_ptr<AdvisoryLock> m_advisory;
    std::int64_t m_period_ms;
    std::int64_t m_ttl_ms;
    std::function<void(const std::string&)> m_on_lost;
    Clock& m_clock;
    std::atomic<bool> m_lost{false};
    std::atomic<bool> m_stop{false};
    std::int64_t m_held_since_ns = 0;
    std::atomic<std::int64_t> m_fence_deadline_ns{0};
    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::thread m_thread;
};

class Tracer;
struct TraceContext;

struct LockedRunOptions {
    std::string key, owner;
    std::int64_t ttl_ms = 30000, wait_ms = 0;
    bool advisory = false;
    std::vector<std::string> command;    // run directly, with the caller's stdio
    std::optional<std::string> parent;   // traceparent of the caller: the wait span's parent
    std::function<void()> on_acquired;   // called once the lock is held (e.g. to install signal handlers)
};

// `wfq lock run`: takes the lock (a "lock wait KEY" span records the wait), runs command with
// WFQ_LOCK_TOKEN and WFQ_LOCK_KEY while a LockHolder keeps the lock alive, stops the command when
// the lock is lost, its local deadline passes, or stop becomes true (SIGTERM, SIGKILL after
// fence_kill_grace_ms), and releases the lock. The lock_conflict message says whether the
// command was stopped or had already ended by itself. Returns the command's exit code
// (128 + N when killed by signal N). Error(lock_conflict) when the lock is not acquired in time
// or is lost while the command runs; Error(failure) when the command cannot be started.
// warning receives "lock was no longer held at release" cases.
int run_with_lock(Store& store, Tracer& tracer, const LockedRunOptions& options, Clock& clock, Random& random,
                  const std::atomic<bool>& stop, const std::function<void(const std::string&)>& warning = {});

}  // namespace wfq
