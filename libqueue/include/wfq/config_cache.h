#pragma once
// Layered config (global, org:O, org:O/repo:R, merged per RFC 7396) and the in-process cache
// workers read it through: LRU with per-entry TTL, single-flight loads, negative caching and
// optional stale-while-revalidate. The cache is generic over string keys and usable alone.
#include <wfq/clock.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace wfq {

class Store;

struct CacheOptions {
    std::int64_t ttl_ms = 300000;          // a found value lives 5 minutes
    std::int64_t negative_ttl_ms = 30000;  // "no config" lives 30 seconds
    std::size_t max_entries = 50000;
    std::int64_t stale_while_revalidate_ms = 0;  // serve an expired value this long while one caller reloads
};

struct CacheStats {
    std::int64_t hits = 0, misses = 0, loads = 0, load_failures = 0, evictions = 0, expirations = 0,
                 invalidations = 0, entries = 0;
    double hit_ratio() const { return hits + misses ? static_cast<double>(hits) / static_cast<double>(hits + misses) : 0.0; }
    std::string to_json() const;
    CacheStats& operator+=(const CacheStats& o);
    // The counters a worker published with its heartbeat (WorkerInfo::stats, {"cache": {...}});
    // nullopt when it published none (no config cache, or not JSON).
    static std::optional<CacheStats> from_worker_stats(const std::string& stats_json);
};

class ConfigCache {
public:
    using Value = std::optional<std::string>;  // nullopt: there is no config (cached negatively)
    using Loader = std::function<Value()>;

    ConfigCache(CacheOptions options, Clock& clock);
    // The cached value, or load()'s: concurrent misses of one key share one load. A load that
    // throws is not cached; every caller waiting on it gets the exception.
    Value get(const std::string& key, const Loader& load);
    // Drops the entries a config change of scope affects: "*" or "global" all, "org:O" that org
    // and its repos, "org:O/repo:R" that repo.
    void invalidate_scope(const std::string& scope);
    void clear();
    CacheStats stats() const;

private:
    struct Entry {
        Value value;
        TimeMs expires_at;
        std::list<std::string>::iterator lru;
    };
    struct Flight {
        bool done = false;
        Value value;
        std::exception_ptr error;
    };
    void erase_locked(std::unordered_map<std::string, Entry>::iterator it);
    void insert_locked(const std::string& key, Value value);

    CacheOptions m_options;
    Clock& m_clock;
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    std::unordered_map<std::string, Entry> m_entries;
    std::list<std::string> m_lru;  // most recent first
    std::unordered_map<std::string, std::shared_ptr<Flight>> m_flights;
    std::uint64_t m_generation = 0;  // bumped by invalidation: loads that started before are not cached
    CacheStats m_stats;
};

// Throws Error(usage) unless scope is global, org:O or org:O/repo:R (O, R non-empty).
void validate_scope(const std::string& scope);
// "org:O" or "org:O/repo:R": the cache key, since the scope ids alone determine the result.
std::string scope_of(const std::string& org, const std::optional<std::string>& repo);

struct ResolvedConfig {
    std::string doc;                             // the effective config, canonical JSON
    std::map<std::string, std::string> sources;  // top-level key -> the scope it came from
};

// Effective config of (org, repo): the RFC 7396 merge of global, org and repo documents, most
// specific last, in one database read; nullopt when none of them exists.
std::optional<ResolvedConfig> resolve_config(Store& store, const std::string& org, const std::optional<std::string>& repo);

// resolve_config through a cache.
std::optional<std::string> resolve_config_cached(Store& store, ConfigCache& cache, const std::string& org,
                                                 const std::optional<std::string>& repo);

}  // namespace wfq
