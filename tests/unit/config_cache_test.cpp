#include <wfq/config_cache.h>
#include <wfq/errors.h>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace wfq {
namespace {

ConfigCache::Loader value(const std::string& v, int* calls) {
    return [v, calls]() -> ConfigCache::Value {
        ++*calls;
        return v;
    };
}

TEST(ConfigCache, HitsWithinTtlAndReloadsAfter) {
    ManualClock clock;
    ConfigCache cache({1000, 100, 10, 0}, clock);
    int calls = 0;
    EXPECT_EQ(cache.get("org:a", value("1", &calls)), "1");
    EXPECT_EQ(cache.get("org:a", value("2", &calls)), "1");
    EXPECT_EQ(calls, 1);
    clock.advance_ms(999);
    EXPECT_EQ(cache.get("org:a", value("2", &calls)), "1");
    clock.advance_ms(1);
    EXPECT_EQ(cache.get("org:a", value("2", &calls)), "2");
    auto s = cache.stats();
    EXPECT_EQ(s.hits, 2);
    EXPECT_EQ(s.misses, 2);
    EXPECT_EQ(s.loads, 2);
    EXPECT_EQ(s.expirations, 1);
    EXPECT_DOUBLE_EQ(s.hit_ratio(), 0.5);
}

TEST(ConfigCache, NegativeEntriesUseTheShorterTtl) {
    ManualClock clock;
    ConfigCache cache({1000, 100, 10, 0}, clock);
    int calls = 0;
    auto none = [&]() -> ConfigCache::Value {
        ++calls;
        return std::nullopt;
    };
    EXPECT_FALSE(cache.get("org:x", none));
    EXPECT_FALSE(cache.get("org:x", none));
    EXPECT_EQ(calls, 1);
    clock.advance_ms(100);
    EXPECT_FALSE(cache.get("org:x", none));
    EXPECT_EQ(calls, 2);
}

TEST(ConfigCache, EvictsTheLeastRecentlyUsed) {
    ManualClock clock;
    ConfigCache cache({100000, 100, 3, 0}, clock);
    int calls = 0;
    cache.get("a", value("a", &calls));
    cache.get("b", value("b", &calls));
    cache.get("c", value("c", &calls));
    cache.get("a", value("a", &calls));  // a is now most recent; b is the oldest
    cache.get("d", value("d", &calls));
    EXPECT_EQ(cache.stats().evictions, 1);
    EXPECT_EQ(cache.stats().entries, 3);
    calls = 0;
    cache.get("a", value("a", &calls));
    cache.get("c", value("c", &calls));
    cache.get("d", value("d", &calls));
    EXPECT_EQ(calls, 0);
    cache.get("b", value("b", &calls));
    EXPECT_EQ(calls, 1) << "b was evicted";
}

TEST(ConfigCache, ConcurrentMissesShareOneLoad) {
    ManualClock clock;
    ConfigCache cache({100000, 100, 10, 0}, clock);
    std::atomic<int> loads{0};
    std::atomic<bool> release{false};
    std::atomic<int> waiting{0};
    auto slow = [&]() -> ConfigCache::Value {
        ++loads;
        while (!release) std::this_thread::yield();
        return std::string("v");
    };
    std::vector<std::thread> threads;
    std::vector<std::string> got(8);
    for (int i = 0; i < 8; ++i)
        threads.emplace_back([&, i] {
            ++waiting;
            got[i] = *cache.get("org:a", slow);
        });
    while (waiting < 8) std::this_thread::yield();
    // Every thread is inside get(): the first loads, the others wait on its flight.
    while (cache.stats().misses < 8) std::this_thread::yield();
    release = true;
    for (auto& t : threads) t.join();
    EXPECT_EQ(loads, 1);
    for (const auto& g : got) EXPECT_EQ(g, "v");
}

TEST(ConfigCache, FailedLoadsAreNotCachedAndReachEveryWaiter) {
    ManualClock clock;
    ConfigCache cache({100000, 100, 10, 0}, clock);
    EXPECT_THROW(cache.get("k", []() -> ConfigCache::Value { throw Error(ErrorCode::db_unavailable, "down"); }), Error);
    EXPECT_EQ(cache.stats().load_failures, 1);
    int calls = 0;
    EXPECT_EQ(cache.get("k", value("ok", &calls)), "ok");
    EXPECT_EQ(calls, 1);
}

TEST(ConfigCache, InvalidationFollowsScopes) {
    ManualClock clock;
    ConfigCache cache({100000, 100, 100, 0}, clock);
    int calls = 0;
    for (const char* k : {"org:a", "org:a/repo:x", "org:a/repo:y", "org:ab", "org:b/repo:x"}) cache.get(k, value(k, &calls));
    cache.invalidate_scope("org:a/repo:x");
    EXPECT_EQ(cache.stats().entries, 4);
    cache.invalidate_scope("org:a");
    EXPECT_EQ(cache.stats().entries, 2) << "org:a and its repos, not org:ab";
    cache.invalidate_scope("global");
    EXPECT_EQ(cache.stats().entries, 0);
    EXPECT_EQ(cache.stats().invalidations, 5);
}

TEST(ConfigCache, AnInvalidationDuringALoadIsNotLost) {
    ManualClock clock;
    ConfigCache cache({100000, 100, 10, 0}, clock);
    int calls = 0;
    auto racing = [&]() -> ConfigCache::Value {
        cache.invalidate_scope("org:a");  // a change lands while we read the old value
        return std::string("old");
    };
    EXPECT_EQ(cache.get("org:a", racing), "old");
    EXPECT_EQ(cache.get("org:a", value("new", &calls)), "new") << "the old value was not cached";
}

TEST(ConfigCache, StaleWhileRevalidateServesOthersDuringTheReload) {
    ManualClock clock;
    ConfigCache cache({1000, 100, 10, 5000}, clock);
    int calls = 0;
    cache.get("k", value("old", &calls));
    clock.advance_ms(1500);
    std::atomic<bool> in_load{false}, release{false};
    std::thread reloader([&] {
        cache.get("k", [&]() -> ConfigCache::Value {
            in_load = true;
            while (!release) std::this_thread::yield();
            return std::string("new");
        });
    });
    while (!in_load) std::this_thread::yield();
    EXPECT_EQ(cache.get("k", value("x", &calls)), "old") << "served stale while reloading";
    release = true;
    reloader.join();
    EXPECT_EQ(cache.get("k", value("x", &calls)), "new");
    clock.advance_ms(7000);
    EXPECT_EQ(cache.get("k", value("x", &calls)), "x") << "past the stale window: a plain miss";
}

TEST(Scopes, Validate) {
    for (const char* ok : {"global", "org:acme", "org:acme/repo:widgets", "org:a/repo:b/c"}) EXPECT_NO_THROW(validate_scope(ok)) << ok;
    for (const char* bad : {"", "org:", "org:/repo:x", "org:a/repo:", "team:x", "Global"}) EXPECT_THROW(validate_scope(bad), Error) << bad;
    EXPECT_EQ(scope_of("a", std::nullopt), "org:a");
    EXPECT_EQ(scope_of("a", std::string("r")), "org:a/repo:r");
}

}  // namespace
}  // namespace wfq
