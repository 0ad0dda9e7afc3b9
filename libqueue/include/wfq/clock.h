#pragma once
// Time and randomness come through these interfaces so backoff, leases and TTLs
// can be tested without sleeping.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <string>

namespace wfq {

// Milliseconds since the Unix epoch.
using TimeMs = std::int64_t;

class Clock {
public:
    virtual ~Clock() = default;
    // Wall-clock time in milliseconds since the epoch.
    virtual TimeMs now_ms() const = 0;
    // Monotonic time in nanoseconds, for measuring durations.
    virtual std::int64_t steady_ns() const = 0;
};

class SystemClock final : public Clock {
public:
    TimeMs now_ms() const override;
    std::int64_t steady_ns() const override;
    static SystemClock& instance();
};

// A clock that only moves when told to; for tests.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimeMs start = 1'700'000'000'000) : m_now(start) {}
    TimeMs now_ms() const override;
    std::int64_t steady_ns() const override;
    void advance_ms(std::int64_t ms);
    void set_ms(TimeMs t);

private:
    mutable std::mutex m_mutex;
    TimeMs m_now;
};

// Test-only, inert unless WFQ_TEST_CLOCK_FILE names a file: a clock running that file's number
// of milliseconds ahead of the system clock (re-read every 50 ms), so CLI tests can move
// SQLite's database clock (wfq_now_ms) without sleeping. nullptr when the variable is unset.
Clock* test_clock_from_environment();

class Random {
public:
    virtual ~Random() = default;
    // Uniform in [0, 1).
    virtual double uniform() = 0;
    virtual std::uint64_t next_u64() = 0;
};

// Deterministic when seeded; seeded from std::random_device otherwise.
class DefaultRandom final : public Random {
public:
    DefaultRandom();
    explicit DefaultRandom(std::uint64_t seed);
    double uniform() override;
    std::uint64_t next_u64() override;

private:
    std::mutex m_mutex;
    std::mt19937_64 m_engine;
};

// RFC 3339 UTC text with milliseconds ("2026-11-25T16:49:55.123Z").
std::string format_time(TimeMs t);
// Parses RFC 3339 ("2026-11-25T16:49:55Z", offsets and fractions allowed); throws Error(usage).
TimeMs parse_time(const std::string& text);
// A random RFC 4122 version-4 UUID.
std::string make_uuid(Random& random);

}  // namespace wfq
