#include <wfq/config_cache.h>
#include <wfq/errors.h>
#include <wfq/state.h>
#include <wfq/store.h>
#include <wfq/text.h>

#include <nlohmann/json.hpp>

namespace wfq {

std::string CacheStats::to_json() const {
    nlohmann::json j{{"hits", hits},           {"misses", misses},   {"loads", loads},
                     {"load_failures", load_failures}, {"evictions", evictions}, {"expirations", expirations},
                     {"invalidations", invalidations}, {"entries", entries},   {"hit_ratio", hit_ratio()}};
    return j.dump();
}

std::optional<CacheStats> CacheStats::from_worker_stats(const std::string& stats_json) {
    auto stats = nlohmann::json::parse(stats_json, nullptr, false);
    if (stats.is_discarded() || !stats.is_object() || !stats.contains("cache") || !stats["cache"].is_object()) return std::nullopt;
    const auto& c = stats["cache"];
    auto count = [&](const char* name) -> std::int64_t {
        return c.contains(name) && c[name].is_number_integer() ? c[name].get<std::int64_t>() : 0;
    };
    CacheStats s;
    s.hits = count("hits");
    s.misses = count("misses");
    s.loads = count("loads");
    s.load_failures = count("load_failures");
    s.evictions = count("evictions");
    s.expirations = count("expirations");
    s.invalidations = count("invalidations");
    s.entries = count("entries");
    return s;
}

CacheStats& CacheStats::operator+=(const CacheStats& o) {
    hits += o.hits;
    misses += o.misses;
    loads += o.loads;
    load_failures += o.load_failures;
    evictions += o.evictions;
    expirations += o.expirations;
    invalidations += o.invalidations;
    entries += o.entries;
    return *this;
}

ConfigCache::ConfigCache(CacheOptions options, Clock& clock) : m_options(options), m_clock(clock) {
    if (m_options.max_entries < 1) throw Error(ErrorCode::usage, "cache size must be at least 1");
}

void ConfigCache::erase_locked(std::unordered_map<std::string, Entry>::iterator it) {
    m_lru.erase(it->second.lru);
    m_entries.erase(it);
}

void ConfigCache::insert_locked(const std::string& key, Value value) {
    auto it = m_entries.find(key);
    if (it != m_entries.end()) erase_locked(it);
    while (m_entries.size() >= m_options.max_entries) {
        erase_locked(m_entries.find(m_lru.back()));
        ++m_stats.evictions;
    }
    TimeMs ttl = value ? m_options.ttl_ms : m_options.negative_ttl_ms;
    m_lru.push_front(key);
    m_entries.emplace(key, Entry{std::move(value), m_clock.now_ms() + ttl, m_lru.begin()});
}

ConfigCache::Value ConfigCache::get(const std::string& key, const Loader& load) {
    std::unique_lock<std::mutex> lock(m_mutex);
    auto it = m_entries.find(key);
    if (it != m_entries.end()) {
        TimeMs now = m_clock.now_ms();
        if (now < it->second.expires_at) {
            ++m_stats.hits;
            m_lru.splice(m_lru.begin(), m_lru, it->second.lru);
            return it->second.value;
        }
        if (now < it->second.expires_at + m_options.stale_while_revalidate_ms && m_flights.count(key)) {
            ++m_stats.hits;  // someone is already reloading it: serve the stale value meanwhile
            return it->second.value;
        }
        if (now >= it->second.expires_at + m_options.stale_while_revalidate_ms) {
            ++m_stats.expirations;
            erase_locked(it);
        }
    }
    ++m_stats.misses;
    if (auto f = m_flights.find(key); f != m_flights.end()) {
        auto flight = f->second;
        m_cv.wait(lock, [&] { return flight->done; });
        if (flight->error) std::rethrow_exception(flight->error);
        return flight->value;
    }
    auto flight = std::make_shared<Flight>();
    m_flights.emplace(key, flight);
    std::uint64_t generation = m_generation;
    lock.unlock();
    Value value;
    try {
        value = load();
    } catch (...) {
        lock.lock();
        ++m_stats.load_failures;
        flight->error = std::current_exception();
        flight->done = true;
        m_flights.erase(key);
        m_cv.notify_all();
        throw;
    }
    lock.lock();
    ++m_stats.loads;
    if (generation == m_generation) insert_locked(key, value);
    flight->value = value;
    flight->done = true;
    m_flights.erase(key);
    m_cv.notify_all();
    return value;
}

void ConfigCache::invalidate_scope(const std::string& scope) {
    std::lock_guard<std::mutex> lock(m_mutex);
    ++m_generation;
    if (scope == "*" || scope == "global") {
        m_stats.invalidations += static_cast<std::int64_t>(m_entries.size());
        m_entries.clear();
        m_lru.clear();
        return;
    }
    bool is_org = scope.find("/repo:") == std::string::npos;
    for (auto it = m_entries.begin(); it != m_entries.end();) {
        const std::string& k = it->first;
        bool hit = k == scope || (is_org && k.compare(0, scope.size() + 1, scope + "/") == 0);
        if (hit) {
            ++m_stats.invalidations;
            m_lru.erase(it->second.lru);
            it = m_entries.erase(it);
        } else {
            ++it;
        }
    }
}

void ConfigCache::clear() { invalidate_scope("*"); }

CacheStats ConfigCache::stats() const {
    std::lock_guard<std::mutex> lock(m_mutex);
    CacheStats s = m_stats;
    s.entries = static_cast<std::int64_t>(m_entries.size());
    return s;
}

void validate_scope(const std::string& scope) {
    auto bad = [&](const std::string& why) {
        return Error(ErrorCode::usage, "invalid scope '" + scope + "': " + why + " (use global, org:O or org:O/repo:R)");
    };
    if (scope == "global") return;
    if (scope.rfind("org:", 0) != 0) throw bad("unknown kind");
    if (auto problem = name_problem(scope, 1000)) throw bad("it " + *problem);
    auto sep = scope.find("/repo:");
    std::string org = scope.substr(4, sep == std::string::npos ? std::string::npos : sep - 4);
    if (org.empty()) throw bad("empty org");
    if (sep != std::string::npos && scope.size() == sep + 6) throw bad("empty repo");
}

std::string scope_of(const std::string& org, const std::optional<std::string>& repo) {
    return "org:" + org + (repo ? "/repo:" + *repo : "");
}

std::optional<ResolvedConfig> resolve_config(Store& store, const std::string& org, const std::optional<std::string>& repo) {
    std::vector<std::string> scopes{"global", scope_of(org, std::nullopt)};
    if (repo) scopes.push_back(scope_of(org, repo));
    auto docs = store.config_load(scopes);
    if (docs.empty()) return std::nullopt;
    Json merged = Json::object();
    ResolvedConfig out;
    for (const auto& scope : scopes) {  // most specific last
        for (const auto& [s, text] : docs) {
            if (s != scope) continue;
            Json doc = Json::parse(text);
            merged = apply_merge_patch(merged, doc);
            for (auto it = doc.begin(); it != doc.end(); ++it) {
                if (it.value().is_null()) out.sources.erase(it.key());
                else out.sources[it.key()] = scope;
            }
        }
    }
    out.doc = canonical(merged);
    return out;
}

std::optional<std::string> resolve_config_cached(Store& store, ConfigCache& cache, const std::string& org,
                                                 const std::optional<std::string>& repo) {
    return cache.get(scope_of(org, repo), [&]() -> ConfigCache::Value {
        auto r = resolve_config(store, org, repo);
        if (!r) return std::nullopt;
        return r->doc;
    });
}

}  // namespace wfq
