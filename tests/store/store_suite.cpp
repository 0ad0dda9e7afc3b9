// The suite's fixture: a fresh database per test (a schema of its own on PostgreSQL, a
// directory of its own on SQLite), and the two backends every TEST_P of StoreSuite runs on.
#include "store_suite.h"

#include <cstdlib>
#include <unistd.h>

namespace wfq {

bool postgres_available() {
    static int available = -1;
    if (available < 0) {
        try {
            StoreOptions o;
            o.url = "postgresql://";
            o.schema = "wfq_probe";
            o.check_schema = false;
            setenv("WFQ_DB_RETRIES", "1", 0);
            open_store(o);
            available = 1;
        } catch (const std::exception&) {
            available = 0;
        }
    }
    return available == 1;
}

void StoreSuite::SetUp() {
    m_backend = GetParam();
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    for (auto& c : name) if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    if (m_backend == "postgresql") {
        if (!postgres_available()) {
            if (std::getenv("WFQ_REQUIRE_POSTGRES")) FAIL() << "PostgreSQL is required but not reachable";
            GTEST_SKIP() << "no PostgreSQL server (run under pg_virtualenv)";
        }
        m_schema = "t_" + name.substr(0, 40) + "_" + std::to_string(getpid());
        m_url = "postgresql://";
        m_store = open(false);
        m_store->migrate();
    } else {
        m_dir = std::filesystem::temp_directory_path() / ("wfq-store-" + std::to_string(getpid()) + "-" + name);
        std::filesystem::remove_all(m_dir);
        m_url = "sqlite:" + (m_dir / "q.db").string();
        m_store = open(true);
    }
}

void StoreSuite::TearDown() {
    m_store.reset();
    if (!m_dir.empty()) std::filesystem::remove_all(m_dir);
}

std::unique_ptr<Store> StoreSuite::open(bool check) {
    StoreOptions o;
    o.url = m_url;
    o.schema = m_schema.empty() ? "wfq" : m_schema;
    o.check_schema = check;
    o.clock = &m_clock;
    return open_store(o);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreSuite, ::testing::Values("sqlite", "postgresql"),
                         [](const auto& info) { return info.param; });

}  // namespace wfq
