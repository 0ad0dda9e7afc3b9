// Config resolution with the cache and without it.
#include "bench_support.h"

#include <wfq/clock.h>
#include <wfq/config_cache.h>
#include <wfq/store.h>

#include <algorithm>

namespace wfq::bench {

// o.jobs resolutions spread over o.processes repositories (default 10) of one org: database
// reads (each uncached resolution is one read) and time; plus the latency of a cached lookup.
json config(const BenchOptions& o, BenchEnvironment& env) {
    Store& store = env.store();
    Clock& clock = *env.clock;
    int repos = std::max(1, o.processes > 1 ? o.processes : 10);
    store.config_set("global", R"({"model":"small","limits":{"files":50}})");
    store.config_set("org:bench", R"({"model":"large"})");
    for (int r = 0; r < repos; ++r)
        store.config_set("org:bench/repo:r" + std::to_string(r), R"({"limits":{"lines":)" + std::to_string(100 * r) + "}}");
    ConfigCache cache(CacheOptions{}, clock);
    auto start = clock.steady_ns();
    for (std::int64_t i = 0; i < o.jobs; ++i)
        resolve_config_cached(store, cache, "bench", std::string("r") + std::to_string(i % repos));
    double cached_s = seconds_since(start);
    std::int64_t cached_reads = cache.stats().loads;
    start = clock.steady_ns();
    for (std::int64_t i = 0; i < o.jobs; ++i) resolve_config(store, "bench", std::string("r") + std::to_string(i % repos));
    double uncached_s = seconds_since(start);
    // Latency of a hit: time each of many lookups of warm keys.
    std::vector<double> ns;
    const int samples = 200000;
    ns.reserve(samples);
    std::vector<std::string> keys;
    for (int r = 0; r < repos; ++r) keys.push_back("r" + std::to_string(r));
    for (int i = 0; i < samples; ++i) {
        const std::string& repo = keys[static_cast<std::size_t>(i % repos)];
        auto t0 = SystemClock::instance().steady_ns();
        resolve_config_cached(store, cache, "bench", repo);
        ns.push_back(static_cast<double>(SystemClock::instance().steady_ns() - t0));
    }
    std::sort(ns.begin(), ns.end());
    return {{"backend", store.backend()}, {"jobs", o.jobs}, {"repos", repos},
            {"db_reads_cached", cached_reads}, {"db_reads_uncached", o.jobs},
            {"seconds_cached", cached_s}, {"seconds_uncached", uncached_s},
            {"hit_p50_us", ns[ns.size() / 2] / 1000.0}, {"hit_p99_us", ns[ns.size() * 99 / 100] / 1000.0}};
}

}  // namespace wfq::bench
