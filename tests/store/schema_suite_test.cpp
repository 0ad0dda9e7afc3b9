// Schema and backend: migrations, the schema check, what the backend is and can do.
// (The suite: store_suite.h.)
#include "store_suite.h"

#include <cstdlib>
#include <unistd.h>

namespace wfq {
namespace {

TEST_P(StoreSuite, MigrateIsIdempotentAndReportsStatus) {
    EXPECT_TRUE(m_store->migrate().empty());
    auto status = m_store->migration_status();
    ASSERT_FALSE(status.empty());
    for (const auto& m : status) EXPECT_TRUE(m.applied_at) << m.version;
    EXPECT_NO_THROW(m_store->check_schema());
}

TEST(PostgresSchema, MissingSchemaIsAConfigurationError) {
    if (!postgres_available()) {
        if (std::getenv("WFQ_REQUIRE_POSTGRES")) FAIL() << "PostgreSQL is required but not reachable";
        GTEST_SKIP() << "no PostgreSQL server";
    }
    StoreOptions o;
    o.url = "postgresql://";
    o.schema = "never_migrated_" + std::to_string(getpid());
    try {
        open_store(o);
        FAIL() << "expected Error(config)";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::config);
        EXPECT_NE(std::string(e.what()).find("wfq migrate"), std::string::npos);
    }
}

// What the backend is and can do, asked of the store (nothing above it compares backend names).
TEST_P(StoreSuite, BackendNamesItselfAndItsCapabilities) {
    EXPECT_EQ(m_store->backend(), m_backend);
    m_store->set_in_doubt_wait_ms(2000);
    EXPECT_NO_THROW(m_store->db_now());
    auto sibling = m_store->open_sibling();
    if (m_backend == "sqlite") {
        EXPECT_EQ(m_store->describe(), m_url);
        EXPECT_EQ(m_store->parallel_enqueue_connections(), 1) << "one writer";
        EXPECT_FALSE(sibling) << "one connection per process";
        return;
    }
    EXPECT_NE(m_store->describe().find("(schema " + m_schema + ")"), std::string::npos) << m_store->describe();
    EXPECT_EQ(m_store->parallel_enqueue_connections(), 2);
    ASSERT_TRUE(sibling);
    auto id = sibling->enqueue(job("from-sibling")).id;
    EXPECT_EQ(m_store->get_job(id)->type, "from-sibling") << "the same database";
    StoreOptions pooled;
    pooled.url = m_url;
    pooled.schema = m_schema;
    pooled.check_schema = false;
    pooled.pooler = "transaction";
    EXPECT_EQ(open_store(pooled)->parallel_enqueue_connections(), 1) << "behind a transaction pooler";
}

}  // namespace
}  // namespace wfq
