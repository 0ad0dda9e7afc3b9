// The store's facade: opening (and migrating the embedded default), and what it passes
// through to the Db. The statements are in one file per table family (see sql_store.h).
#include "sql_store.h"

namespace wfq::store {

SqlStore::SqlStore(std::unique_ptr<Db> db, bool check) : m_db(std::move(db)) {
    // The embedded default migrates itself; a read first, so that opening an up-to-date
    // database takes no write lock.
    if (m_db->migrates_on_open() && !schema_current()) migrate();
    else if (check) check_schema();
}

std::string SqlStore::backend() const { return m_db->backend(); }

std::string SqlStore::describe() const { return m_db->describe(); }

int SqlStore::parallel_enqueue_connections() const { return m_db->parallel_enqueue_connections(); }

std::unique_ptr<Store> SqlStore::open_sibling() {
    auto db = retry([&] { return m_db->open_sibling(); }, default_db_retry_policy());
    if (!db) return nullptr;
    return std::make_unique<SqlStore>(std::move(db), false);
}

void SqlStore::set_in_doubt_wait_ms(std::int64_t ms) { m_db->set_in_doubt_wait_ms(ms); }

Rows SqlStore::run(const std::string& sql, const Params& params) {
    std::lock_guard<std::recursive_mutex> lock(m_mutex);
    return retry([&] { return m_db->exec(sql, params); }, default_db_retry_policy());
}

std::unique_ptr<Store> make_sql_store(std::unique_ptr<Db> db, bool check_schema) {
    return std::make_unique<SqlStore>(std::move(db), check_schema);
}

}  // namespace wfq::store
