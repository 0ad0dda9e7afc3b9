#pragma once
// The behaviour suite every store implementation must pass, one file per table family
// (<family>_suite_test.cpp, every test a TEST_P of StoreSuite). It runs against SQLite always
// and against PostgreSQL when a server is reachable (under pg_virtualenv in CI; set
// WFQ_REQUIRE_POSTGRES=1 to make its absence a failure rather than a skip). Every virtual
// method of Store is named by some suite file (check_suite_names.sh keeps it so).
#include "../support/store_helpers.h"

#include <wfq/bulk.h>
#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/store.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace wfq {

// Whether a PostgreSQL server answers at the libpq defaults (PGHOST etc.).
bool postgres_available();

class StoreSuite : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override;
    void TearDown() override;

    // Another store on the same database (its own connection on PostgreSQL).
    std::unique_ptr<Store> open(bool check);

    // Lets time pass: the injected clock on SQLite, real time on PostgreSQL (whose clock we
    // do not control). Callers keep durations short.
    void advance(std::int64_t ms) {
        if (m_backend == "sqlite") m_clock.advance_ms(ms);
        else std::this_thread::sleep_for(std::chrono::milliseconds(ms + 5));
    }

    NewJob job(const std::string& type, const std::string& payload = "{}") {
        NewJob j;
        j.type = type;
        j.payload = payload;
        j.correlation_id = "c-" + type;
        return j;
    }

    std::int64_t add(NewJob j) { return m_store->enqueue(j).id; }
    // A job of this type in this queue at this priority, due in delay_ms.
    std::int64_t add_to(const std::string& queue, const std::string& type, int priority, std::int64_t delay_ms = 0) {
        NewJob j = job(type);
        j.queue = queue;
        j.priority = priority;
        j.delay_ms = delay_ms;
        return add(j);
    }
    static std::vector<std::int64_t> ids(const std::vector<Job>& jobs) {
        std::vector<std::int64_t> v;
        for (const auto& j : jobs) v.push_back(j.id);
        return v;
    }

    std::vector<Job> claim(const std::string& worker, int limit = 10, std::int64_t lease = 30000) {
        return m_store->claim_batch({worker, {}, {}, limit, lease});
    }

    std::string m_backend, m_url, m_schema;
    std::filesystem::path m_dir;
    ManualClock m_clock{SystemClock::instance().now_ms()};
    std::unique_ptr<Store> m_store;
};

}  // namespace wfq
