// Lease locks with fencing tokens (expiry by the database's clock), and advisory locks.
#include "sql_store.h"

#include "rows.h"

#include <algorithm>

namespace wfq::store {

std::optional<LockGrant> SqlStore::lock_acquire(const std::string& key, const std::string& owner, std::int64_t ttl_ms) {
    return transact("lock_acquire", [&]() -> std::optional<LockGrant> {
        std::int64_t token = m_db->exec(m_db->next_token_sql(), {}).at(0).i64(0);
        auto rows = m_db->exec(
            "INSERT INTO locks (key, owner, token, acquired_at, expires_at) VALUES ($1, $2, $3, wfq_now_ms(), "
            "wfq_now_ms() + $4) ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, token = excluded.token, "
            "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at "
            "WHERE locks.expires_at <= wfq_now_ms() RETURNING token, acquired_at, expires_at",
            {key, owner, token, ttl_ms});
        if (rows.empty()) return std::nullopt;
        return LockGrant{key, owner, rows[0].i64(0), rows[0].i64(1), rows[0].i64(2), false};
    });
}

LockStatus SqlStore::lock_renew(const std::string& key, std::int64_t token, std::int64_t ttl_ms) {
    return transact([&] {
        m_db->limit_statement_time(std::max<std::int64_t>(1000, ttl_ms / 3));
        auto rows = m_db->exec(
            "UPDATE locks SET expires_at = wfq_now_ms() + $3 WHERE key = $1 AND token = $2 AND expires_at > wfq_now_ms() "
            "RETURNING token",
            {key, token, ttl_ms});
        return rows.empty() ? lock_missing(key) : LockStatus::ok;
    });
}

LockStatus SqlStore::lock_release(const std::string& key, std::int64_t token) {
    return transact([&] {
        auto rows = m_db->exec(
            "DELETE FROM locks WHERE key = $1 AND token = $2 AND expires_at > wfq_now_ms() RETURNING token",
            {key, token});
        return rows.empty() ? lock_missing(key) : LockStatus::ok;
    });
}

std::vector<LockGrant> SqlStore::list_locks() {
    std::vector<LockGrant> out;
    for (const auto& r : run(std::string("SELECT ") + kLockColumns + " FROM locks ORDER BY key", {}))
        out.push_back(lock_from_row(r));
    return out;
}

LockStatus SqlStore::lock_missing(const std::string& key) {
    return m_db->exec("SELECT 1 FROM locks WHERE key = $1", {key}).empty() ? LockStatus::unknown_key
                                                                           : LockStatus::not_held;
}

std::unique_ptr<AdvisoryLock> SqlStore::try_advisory_lock(const std::string& key) {
    return retry([&] { return m_db->try_advisory_lock(key); }, default_db_retry_policy());
}

}  // namespace wfq::store
