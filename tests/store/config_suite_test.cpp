// Config documents per scope, their merge, loading and the change watcher.
// (The suite: store_suite.h.)
#include "store_suite.h"

#include <wfq/config_cache.h>

#include <algorithm>

namespace wfq {
namespace {

TEST_P(StoreSuite, ConfigDocumentsMergeMostSpecificLast) {
    EXPECT_FALSE(resolve_config(*m_store, "acme", std::string("widgets"))) << "nothing stored";
    m_store->config_set("global", R"({"model":"small","limits":{"files":50,"lines":1000},"lang":"en"})");
    m_store->config_set("org:acme", R"({"model":"large","limits":{"files":100},"lang":null})");
    m_store->config_set("org:acme/repo:widgets", R"({"limits":{"lines":5000},"strict":true})");
    auto r = resolve_config(*m_store, "acme", std::string("widgets"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->doc, R"({"limits":{"files":100,"lines":5000},"model":"large","strict":true})");
    EXPECT_EQ(r->sources.at("model"), "org:acme");
    EXPECT_EQ(r->sources.at("limits"), "org:acme/repo:widgets");
    EXPECT_EQ(r->sources.count("lang"), 0u);
    auto org_only = resolve_config(*m_store, "acme", std::nullopt);
    EXPECT_EQ(org_only->doc, R"({"limits":{"files":100,"lines":1000},"model":"large"})");
    EXPECT_EQ(*m_store->config_get("org:acme/repo:widgets"), m_backend == "sqlite" ? R"({"limits":{"lines":5000},"strict":true})"
                                                                                   : R"({"limits": {"lines": 5000}, "strict": true})");
    EXPECT_TRUE(m_store->config_unset("org:acme"));
    EXPECT_FALSE(m_store->config_unset("org:acme"));
    EXPECT_FALSE(m_store->config_get("org:acme"));
}

TEST_P(StoreSuite, ConfigWatcherSeesChangesFromAnotherConnection) {
    auto watcher = m_store->open_config_watcher();
    auto other = open(false);
    other->config_set("org:acme", R"({"a":1})");
    other->config_invalidate("*");
    std::vector<std::string> seen;
    auto start = std::chrono::steady_clock::now();
    while (seen.size() < 2 && std::chrono::steady_clock::now() - start < std::chrono::seconds(5))
        for (const auto& s : watcher->poll(200)) seen.push_back(s);
    EXPECT_EQ(seen, (std::vector<std::string>{"org:acme", "*"}));
    EXPECT_TRUE(watcher->poll(50).empty());
}

// A worker reads every scope of a job's config in one statement: those that exist.
TEST_P(StoreSuite, ConfigLoadReadsTheScopesThatExist) {
    m_store->config_set("global", R"({"a": 1})");
    m_store->config_set("org:acme", R"({"b": 2})");
    m_store->config_set("org:other", R"({"c": 3})");
    auto loaded = m_store->config_load({"global", "org:acme", "org:acme/repo:w"});
    std::sort(loaded.begin(), loaded.end());
    EXPECT_EQ(loaded, (std::vector<std::pair<std::string, std::string>>{{"global", R"({"a": 1})"}, {"org:acme", R"({"b": 2})"}}));
    EXPECT_TRUE(m_store->config_load({"org:none"}).empty());
}

}  // namespace
}  // namespace wfq
