#pragma once
// Internal: the minimal SQL connection both backends provide, so that one SqlStore holds
// the queue's SQL. Only code under store/ includes this.
#include <wfq/errors.h>
#include <wfq/store.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace wfq::store {

// A bound parameter. Blobs travel as bytes; PostgreSQL receives them in bytea hex form.
struct Blob {
    std::string bytes;
};
using Param = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;
using Params = std::vector<Param>;

Param opt(const std::optional<std::string>& v);
Param opt(const std::optional<std::int64_t>& v);

// A result row: every value as text (blobs as raw bytes), or nullopt for NULL.
class Row {
public:
    explicit Row(std::vector<std::optional<std::string>> values) : m_values(std::move(values)) {}
    bool is_null(std::size_t i) const { return !m_values.at(i); }
    const std::string& str(std::size_t i) const;
    std::optional<std::string> opt_str(std::size_t i) const { return m_values.at(i); }
    // Move a value out, leaving the column empty: for reading a row once without copying.
    std::string take_str(std::size_t i);
    std::optional<std::string> take_opt_str(std::size_t i) { return std::move(m_values.at(i)); }
    std::int64_t i64(std::size_t i) const;
    std::optional<std::int64_t> opt_i64(std::size_t i) const;
    std::size_t size() const { return m_values.size(); }

private:
    std::vector<std::optional<std::string>> m_values;
};
using Rows = std::vector<Row>;

// Thrown by exec when a unique constraint rejects a row.
class UniqueViolation : public Error {
public:
    explicit UniqueViolation(const std::string& message) : Error(ErrorCode::failure, message) {}
};

struct Migration {
    int version;
    const char* name;
    const char* sql;  // may hold several statements
};

class Db {
public:
    virtual ~Db() = default;
    virtual std::string backend() const = 0;
    virtual std::string describe() const = 0;
    // Capabilities, asked instead of comparing backend names:
    // whether opening the store applies missing migrations itself (the embedded default, SQLite)
    // rather than asking for `wfq migrate`;
    virtual bool migrates_on_open() const = 0;
    // whether copy_jobs bulk-loads (PostgreSQL's COPY);
    virtual bool has_copy() const = 0;
    // how many jobs one multi-row INSERT of an enqueue carries;
    virtual std::size_t rows_per_statement() const = 0;
    // how many connections may usefully write enqueue batches at once (see
    // Store::parallel_enqueue_connections).
    virtual int parallel_enqueue_connections() const = 0;
    // SQL with $1..$n placeholders.
    virtual Rows exec(const std::string& sql, const Params& params = {}) = 0;
    // Runs a script of several statements without parameters.
    virtual void exec_script(const std::string& sql) = 0;
    // Starts a write transaction that serialises with other writers where the backend
    // needs it (SQLite: BEGIN IMMEDIATE).
    virtual void begin() = 0;
    // label names the operation for the test-only fault hook (WFQ_TEST_FAULT, see fault.h).
    // A commit whose reply is lost is resolved, not guessed: it returns when the transaction
    // is known to have committed, throws a retryable Error(db_unavailable) when it is known
    // not to have, and an Error marked in_doubt when that could not be learned in time.
    virtual void commit(const char* label = "") = 0;
    virtual void rollback() noexcept = 0;
    // Reconnects after a lost connection; throws Error(db_unavailable) when it cannot.
    virtual void reconnect() = 0;
    // In the transaction under way, a statement (or a wait for a row lock) that takes longer
    // than ms is cancelled: a lease renewal must not hang behind a stuck lock (SQLite: its busy
    // timeout already bounds it).
    virtual void limit_statement_time(std::int64_t /*ms*/) {}
    // The clause that makes a claim skip rows other claimers hold ("FOR UPDATE SKIP LOCKED").
    virtual std::string skip_locked() const = 0;
    // A statement returning the next fencing token from a non-cycling sequence.
    virtual std::string next_token_sql() const = 0;
    // Serialises migrations across processes for the current transaction.
    virtual void lock_for_migration() = 0;
    virtual const std::vector<Migration>& migrations() const = 0;
    // Tells listeners that jobs were enqueued (delivered at commit).
    virtual void notify_enqueued(const std::string& queue) = 0;
    virtual std::unique_ptr<Waker> open_waker() = 0;
    // Tells config watchers that scope changed (delivered at commit); the change log row is
    // written by the store on both backends.
    virtual void notify_config(const std::string& scope) = 0;
    virtual std::unique_ptr<ConfigWatcher> open_config_watcher() = 0;
    virtual std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string& key) = 0;
    // Serialises transactions that touch the same name (PostgreSQL: a transaction advisory
    // lock; SQLite: nothing, BEGIN IMMEDIATE already serialises writers).
    virtual void lock_name_for_transaction(const std::string& name) = 0;
    // Backend-specific health facts for `wfq doctor`.
    virtual std::vector<std::pair<std::string, double>> database_facts() = 0;
    // Bulk-loads rows into the jobs table with COPY (PostgreSQL): each row has exactly
    // kCopyJobColumns values in that order, nullopt for NULL. False where the backend has no
    // COPY (the caller inserts instead).
    static constexpr std::size_t kCopyJobColumns = 22;
    virtual bool copy_jobs(const std::vector<std::vector<std::optional<std::string>>>& rows) = 0;
    // A FROM item reading the JSON array in parameter param as rows named u with these
    // (name, SQL type) columns, so a batch travels as one parameter of one statement.
    virtual std::string json_rows(const std::string& param,
                                  const std::vector<std::pair<std::string, std::string>>& columns) const = 0;
    // A condition: column is one of the "id" fields of the JSON array in parameter param. With
    // it, an UPDATE ... FROM json_rows finds its rows by primary key whatever the statistics
    // say: PostgreSQL estimates a set-returning function at 100 rows, and with a cached
    // generic plan and a table of a few thousand rows it scanned the whole table per flush.
    virtual std::string json_ids_match(const std::string& column, const std::string& param) const = 0;
    // Whether a batch of rows is cheaper as one prepared statement per row than as one
    // statement over a JSON array (json_rows): true where a statement costs no round trip and
    // the JSON would be parsed once per column of every row (SQLite).
    virtual bool statement_per_row() const { return false; }
    // Another connection to the same database for a worker role of its own (PostgreSQL), or
    // nullptr where one connection per process is best (SQLite: one writer).
    virtual std::unique_ptr<Db> open_sibling() = 0;
    // How long a commit in doubt may wait for the database to come back to learn its outcome.
    virtual void set_in_doubt_wait_ms(std::int64_t ms) = 0;
    // True when the error means "the schema is not there" (missing table).
    virtual bool is_missing_table(const std::exception& e) const = 0;
    // Tells control wakers (see Store::open_control_waker) that an operator acted, e.g.
    // cancelled a running job (delivered at commit; SQLite: the store's control_changes row).
    virtual void notify_control(const std::string& what) = 0;
    virtual std::unique_ptr<Waker> open_control_waker() = 0;
};

std::unique_ptr<Db> open_sqlite_db(const std::string& path, Clock* clock);
// pooled: behind a transaction-pooling PgBouncer (see StoreOptions::pooler).
std::unique_ptr<Db> open_postgres_db(const std::string& dsn, const std::string& schema, bool pooled);
std::unique_ptr<Store> make_sql_store(std::unique_ptr<Db> db, bool check_schema);

// PostgreSQL: dsn with wfq's network timeouts added where the DSN sets none (connect_timeout,
// keepalives*, tcp_user_timeout), so a silent partition ends a call in seconds.
std::string with_network_timeouts(const std::string& dsn);

}  // namespace wfq::store
