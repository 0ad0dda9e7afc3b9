// SQLite backend: WAL, a busy timeout, BEGIN IMMEDIATE for every write transaction, and
// wfq_now_ms() bound to the injected clock so tests control time.
#include "../db.h"
#include "../migrations.h"
#include "dir_watch.h"

#include <wfq/clock.h>

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>
#include <unordered_map>

namespace wfq::store {
namespace {

[[noreturn]] void throw_sqlite(sqlite3* db, int rc, const std::string& what) {
    std::string msg = what + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    int primary = rc & 0xff;
    if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
        throw Error(ErrorCode::db_unavailable, "database is busy (" + msg + ")");
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) throw UniqueViolation(msg);
    if (primary == SQLITE_CANTOPEN || primary == SQLITE_NOTADB || primary == SQLITE_IOERR || primary == SQLITE_CORRUPT)
        throw Error(ErrorCode::db_unavailable, msg);
    throw Error(ErrorCode::failure, msg);
}

// Placeholders: the shared SQL uses $N; SQLite numbers them ?N.
std::string to_sqlite_placeholders(const std::string& sql) {
    std::string out;
    out.reserve(sql.size());
    for (std::size_t i = 0; i < sql.size(); ++i) {
        if (sql[i] == '$' && i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1])))
            out += '?';
        else
            out += sql[i];
    }
    return out;
}

sqlite3* open_handle(const std::string& path) {
    sqlite3* db = nullptr;
    int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        throw Error(ErrorCode::db_unavailable, "cannot open SQLite database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db, 10000);
    // The WAL is checkpointed as it grows (every 1000 pages), not by each process that exits:
    // a short-lived `wfq enqueue` then pays no checkpoint and its fsyncs.
    sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    sqlite3_extended_result_codes(db, 1);
    return db;
}

// The integer a one-row query on handle db returns (0 when it fails: callers poll again).
std::int64_t query_int64(sqlite3* db, const char* sql) {
    sqlite3_stmt* st = nullptr;
    std::int64_t v = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

std::int64_t data_version(sqlite3* db) { return query_int64(db, "PRAGMA data_version"); }

// Whether another connection committed since seen was read (PRAGMA data_version, which costs
// microseconds); seen moves on.
bool data_version_moved(sqlite3* db, std::int64_t& seen) {
    const std::int64_t v = data_version(db);
    if (v == seen) return false;
    seen = v;
    return true;
}

// Wakes an idle worker when another connection commits. A commit writes the WAL file, which
// inotify reports at once (the directory is watched: the WAL may not exist yet); data_version
// then tells a commit from other writes. Within 20 ms of arming the watch or of a write it looks
// every 2 ms (a commit is published just after its WAL write); otherwise it sleeps until the
// next write, 100 ms at most in case an event is missed. Without inotify it looks every 2 ms.
// The watch is armed only while the worker is idle (see DirWatch).
class SqliteWaker final : public Waker {
public:
    explicit SqliteWaker(const std::string& path) : m_db(open_handle(path)), m_watch(path) { m_last = data_version(m_db); }
    ~SqliteWaker() override { sqlite3_close(m_db); }
    bool wait(std::int64_t timeout_ms) override {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
        // Armed at the first wait after a busy spell and left armed while idle; disarmed when a
        // change is seen or the worker rests it (Waker::rest), so that the writes of a busy
        // spell (our own commits among them) cost the writers nothing.
        if (!m_watch.armed() && m_watch.arm()) m_armed_at = clock::now();
        while (clock::now() < deadline && !m_watch.stopped()) {
            if (changed()) {
                m_watch.disarm();
                return true;
            }
            if (!m_watch.armed()) {
                m_watch.sleep(std::chrono::milliseconds(2));
                continue;
            }
            // Within 20 ms of arming or of a write, look every 2 ms: a commit whose WAL was
            // written before the watch was armed, or one published after its write's event (the
            // WAL is written just before the commit is published in the shared index, and a
            // writer preempted in between publishes later). Otherwise sleep until the next write
            // (100 ms at most, in case an event is missed): an idle worker costs no CPU.
            const bool recent = clock::now() - std::max(m_armed_at, m_last_write) < std::chrono::milliseconds(20);
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            if (m_watch.wait(std::min<std::int64_t>(left, recent ? 2 : 100))) {
                m_last_write = clock::now();
                for (int i = 0; i < 5; ++i) {  // look again a few times, 100 us apart
                    if (changed()) {
                        m_watch.disarm();
                        return true;
                    }
                    std::this_thread::sleep_for(std::chrono::microseconds(100));
                }
            }
        }
        return false;
    }
    void interrupt() override { m_watch.interrupt(); }
    void rest() override { m_watch.disarm(); }

private:
    bool changed() { return data_version_moved(m_db, m_last); }
    sqlite3* m_db;
    DirWatch m_watch;
    std::int64_t m_last = 0;
    std::chrono::steady_clock::time_point m_last_write{};  // of the last write inotify reported
    std::chrono::steady_clock::time_point m_armed_at{};
};

// Reads the change log since the last version seen; a query on an indexed key every poll.
class SqliteConfigWatcher final : public ConfigWatcher {
public:
    explicit SqliteConfigWatcher(const std::string& path) : m_db(open_handle(path)), m_watch(path) {
        m_version = data_version(m_db);
        m_last = query_max();
    }
    ~SqliteConfigWatcher() override { sqlite3_close(m_db); }
    std::vector<std::string> poll(std::int64_t timeout_ms) override {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            // The change log is read only when another connection committed since the last look.
            const bool changed = data_version_moved(m_db, m_version);
            std::vector<std::string> scopes = changed ? changes() : std::vector<std::string>{};
            if (!scopes.empty() || clock::now() >= deadline || m_watch.stopped()) return scopes;
            // At most one look per 50 ms; while quiet, until the next write (1 s at most).
            m_watch.pause(deadline, std::chrono::milliseconds(50), std::chrono::milliseconds(1000), changed);
        }
    }
    void interrupt() override { m_watch.interrupt(); }

private:
    std::int64_t query_max() { return query_int64(m_db, "SELECT COALESCE(MAX(version), 0) FROM config_changes"); }
    std::vector<std::string> changes() {
        std::vector<std::string> out;
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(m_db, "SELECT version, scope FROM config_changes WHERE version > ?1 ORDER BY version", -1,
                               &st, nullptr) != SQLITE_OK)
            return {"*"};  // cannot tell: assume everything changed
        sqlite3_bind_int64(st, 1, m_last);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            m_last = sqlite3_column_int64(st, 0);
            out.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE) return {"*"};  // read in part (busy, say): assume everything changed
        return out;
    }
    sqlite3* m_db;
    DirWatch m_watch;
    std::int64_t m_version = 0, m_last = 0;
};

// Operator actions (a running job cancelled): data_version is checked when the database's
// directory is written (at most every 10 ms), and only when it moved is the control_changes
// counter read.
class SqliteControlWaker final : public Waker {
public:
    explicit SqliteControlWaker(const std::string& path) : m_db(open_handle(path)), m_watch(path) {
        m_version = data_version(m_db);
        m_last = counter();
    }
    ~SqliteControlWaker() override { sqlite3_close(m_db); }
    bool wait(std::int64_t timeout_ms) override {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            const bool changed = data_version_moved(m_db, m_version);
            if (changed) {
                std::int64_t c = counter();
                if (c != m_last) {
                    m_last = c;
                    return true;
                }
            }
            if (clock::now() >= deadline || m_watch.stopped()) return false;
            // At most one look per 10 ms however busy the database is; while quiet, until the
            // next write (100 ms at most).
            m_watch.pause(deadline, std::chrono::milliseconds(10), std::chrono::milliseconds(100), changed);
        }
    }
    void interrupt() override { m_watch.interrupt(); }

private:
    std::int64_t counter() { return query_int64(m_db, "SELECT COALESCE(MAX(version), 0) FROM control_changes"); }
    sqlite3* m_db;
    DirWatch m_watch;
    std::int64_t m_version = 0, m_last = 0;
};

class SqliteDb final : public Db {
public:
    SqliteDb(std::string path, Clock* clock) : m_path(std::move(path)), m_clock(clock ? clock : &SystemClock::instance()) {
        create_private_file();
        m_db = open_handle(m_path);
        sqlite3_create_function(m_db, "wfq_now_ms", 0, SQLITE_UTF8, this, &SqliteDb::now_fn, nullptr, nullptr);
        // Flow control reads the time after its lock; on SQLite that is the same clock.
        sqlite3_create_function(m_db, "wfq_clock_ms", 0, SQLITE_UTF8, this, &SqliteDb::now_fn, nullptr, nullptr);
        exec_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;");
    }
    ~SqliteDb() override {
        for (auto& [sql, st] : m_statements) sqlite3_finalize(st);
        sqlite3_close(m_db);
    }

    std::string backend() const override { return "sqlite"; }
    std::string describe() const override { return "sqlite:" + m_path; }
    bool migrates_on_open() const override { return true; }
    bool has_copy() const override { return false; }
    // SQLite compiles ?NNN parameters in time quadratic in their number: a statement of 64 rows
    // (960 parameters) prepares in a blink and still saves most per-statement work.
    std::size_t rows_per_statement() const override { return 64; }
    int parallel_enqueue_connections() const override { return 1; }  // one writer

    Rows exec(const std::string& sql, const Params& params) override {
        sqlite3_stmt* st = prepare(sql);
        bind(st, params);
        Rows rows;
        for (;;) {
            int rc = sqlite3_step(st);
            if (rc == SQLITE_ROW) {
                int n = sqlite3_column_count(st);
                std::vector<std::optional<std::string>> values;
                values.reserve(n);
                for (int i = 0; i < n; ++i) {
                    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
                        values.emplace_back(std::nullopt);
                    } else {
                        const void* p = sqlite3_column_blob(st, i);
                        int len = sqlite3_column_bytes(st, i);
                        values.emplace_back(std::string(static_cast<const char*>(p), len));
                    }
                }
                rows.emplace_back(std::move(values));
                continue;
            }
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            if (rc == SQLITE_DONE) return rows;
            throw_sqlite(m_db, rc, "query failed");
        }
    }

    void exec_script(const std::string& sql) override {
        char* err = nullptr;
        int rc = sqlite3_exec(m_db, sql.c_str(), nullptr, nullptr, &err);
        if (rc != SQLITE_OK) {
            std::string msg = err ? err : "";
            sqlite3_free(err);
            throw_sqlite(m_db, rc, "script failed: " + msg);
        }
    }

    void begin() override { exec_script("BEGIN IMMEDIATE"); }
    void commit(const char*) override { exec_script("COMMIT"); }
    std::string json_rows(const std::string& param,
                          const std::vector<std::pair<std::string, std::string>>& columns) const override {
        std::string s = "(SELECT ";
        for (std::size_t i = 0; i < columns.size(); ++i)
            s += (i ? ", " : "") + std::string("json_extract(value, '$.") + columns[i].first + "') AS " + columns[i].first;
        // LIMIT -1 keeps the rows materialised once: otherwise the planner may loop over the
        // jobs table (by its state index) and parse the JSON again for every row.
        return s + " FROM json_each(" + param + ") LIMIT -1) AS u";
    }
    std::string json_ids_match(const std::string& column, const std::string& param) const override {
        return column + " IN (SELECT json_extract(value, '$.id') FROM json_each(" + param + "))";
    }
    bool statement_per_row() const override { return true; }
    std::unique_ptr<Db> open_sibling() override { return nullptr; }
    bool copy_jobs(const std::vector<std::vector<std::optional<std::string>>>&) override { return false; }
    void set_in_doubt_wait_ms(std::int64_t) override {}
    void rollback() noexcept override {
        if (!sqlite3_get_autocommit(m_db)) sqlite3_exec(m_db, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    void reconnect() override {}
    std::string skip_locked() const override { return ""; }
    std::string next_token_sql() const override {
        return "UPDATE sequences SET value = value + 1 WHERE name = 'lock_token' RETURNING value";
    }
    void lock_for_migration() override {}  // BEGIN IMMEDIATE already serialises writers
    const std::vector<Migration>& migrations() const override { return sqlite_migrations(); }
    void notify_enqueued(const std::string&) override {}
    void notify_config(const std::string&) override {}
    std::unique_ptr<ConfigWatcher> open_config_watcher() override { return std::make_unique<SqliteConfigWatcher>(m_path); }
    std::unique_ptr<Waker> open_waker() override { return std::make_unique<SqliteWaker>(m_path); }
    void notify_control(const std::string&) override {}  // the control_changes row is the signal
    std::unique_ptr<Waker> open_control_waker() override { return std::make_unique<SqliteControlWaker>(m_path); }
    std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string&) override {
        throw Error(ErrorCode::usage, "advisory locks need PostgreSQL; use a lease lock (omit --advisory) on SQLite");
    }
    void lock_name_for_transaction(const std::string&) override {}
    std::vector<std::pair<std::string, double>> database_facts() override {
        auto one = [&](const char* sql) { return static_cast<double>(exec(sql, {}).at(0).i64(0)); };
        double page = one("PRAGMA page_size");
        return {{"database_bytes", one("PRAGMA page_count") * page}, {"free_bytes", one("PRAGMA freelist_count") * page}};
    }
    // SQLite keeps no row estimates: counts there are exact (one host, a file of modest size).
    bool is_missing_table(const std::exception& e) const override {
        return std::string(e.what()).find("no such table") != std::string::npos;
    }

private:
    static void now_fn(sqlite3_context* ctx, int, sqlite3_value**) {
        auto* self = static_cast<SqliteDb*>(sqlite3_user_data(ctx));
        sqlite3_result_int64(ctx, self->m_clock->now_ms());
    }

    // Creates the database file (0600) and its directory. A path that cannot be written (no
    // permission, a read-only file system, a file where a directory should be or a directory
    // where the file should be) is a configuration error, exit 78 at once: it will not pass by
    // itself. Other failures (disk full, out of file descriptors, I/O errors) stay 69.
    void create_private_file() {
        namespace fs = std::filesystem;
        if (m_path == ":memory:" || m_path.empty()) return;
        fs::path p(m_path);
        const fs::path dir = p.has_parent_path() ? p.parent_path() : fs::path(".");
        std::error_code ec;
        if (p.has_parent_path() && !fs::is_directory(dir, ec)) {
            if (fs::exists(fs::symlink_status(dir, ec)))  // a file (or a dangling link) is in the way
                path_error(ENOTDIR, "cannot use " + dir.string() + " as the directory of the SQLite database " + m_path);
            ec.clear();
            fs::create_directories(dir, ec);
            if (ec) path_error(ec.value(), "cannot create the directory " + dir.string() + " for the SQLite database " + m_path);
        }
        int fd = ::open(m_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) {
            const int err = errno;
            path_error(err, "cannot open the SQLite database " + m_path + " for writing");
        }
        ::close(fd);
        // WAL mode creates PATH-wal and PATH-shm beside the file, so unless they are there
        // already, the directory must be writable too (a writable file in a read-only directory
        // would fail at the first write).
        const bool wal_files = ::access((m_path + "-wal").c_str(), W_OK) == 0 && ::access((m_path + "-shm").c_str(), W_OK) == 0;
        if (!wal_files && ::access(dir.c_str(), W_OK | X_OK) != 0) {
            const int err = errno;
            path_error(err, "the directory " + dir.string() + " of the SQLite database " + m_path +
                                " is not writable (SQLite writes its -wal and -shm files there)");
        }
    }

    [[noreturn]] static void path_error(int err, const std::string& what) {
        const bool config = err == EACCES || err == EPERM || err == EROFS || err == ENOTDIR || err == EISDIR ||
                            err == EEXIST || err == ELOOP || err == ENAMETOOLONG || err == ENOENT;
        std::string msg = what + ": " + std::strerror(err);
        if (config) msg += ". Fix the path (--db, WFQ_DB or DATABASE_URL) or its permissions; a configuration error is not retried";
        throw Error(config ? ErrorCode::config : ErrorCode::db_unavailable, msg);
    }

    sqlite3_stmt* prepare(const std::string& sql) {
        auto it = m_statements.find(sql);
        if (it != m_statements.end()) return it->second;
        sqlite3_stmt* st = nullptr;
        std::string translated = to_sqlite_placeholders(sql);
        int rc = sqlite3_prepare_v2(m_db, translated.c_str(), -1, &st, nullptr);
        if (rc != SQLITE_OK) throw_sqlite(m_db, rc, "prepare failed");
        // Only cache statements of bounded variety (not multi-row inserts of every size).
        if (m_statements.size() < 256) m_statements.emplace(sql, st);
        else m_uncached.reset(st);
        return st;
    }

    void bind(sqlite3_stmt* st, const Params& params) {
        for (std::size_t i = 0; i < params.size(); ++i) {
            int idx = static_cast<int>(i + 1);
            int rc = std::visit(
                [&](const auto& v) -> int {
                    using T = std::decay_t<decltype(v)>;
                    if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(st, idx);
                    else if constexpr (std::is_same_v<T, std::int64_t>) return sqlite3_bind_int64(st, idx, v);
                    else if constexpr (std::is_same_v<T, double>) return sqlite3_bind_double(st, idx, v);
                    else if constexpr (std::is_same_v<T, std::string>)
                        return sqlite3_bind_text(st, idx, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
                    else return sqlite3_bind_blob(st, idx, v.bytes.data(), static_cast<int>(v.bytes.size()), SQLITE_TRANSIENT);
                },
                params[i]);
            if (rc != SQLITE_OK) throw_sqlite(m_db, rc, "bind failed");
        }
    }

    struct StmtDeleter {
        void operator()(sqlite3_stmt* st) const { sqlite3_finalize(st); }
    };

    std::string m_path;
    Clock* m_clock;
    sqlite3* m_db = nullptr;
    std::unordered_map<std::string, sqlite3_stmt*> m_statements;
    std::unique_ptr<sqlite3_stmt, StmtDeleter> m_uncached;
};

}  // namespace

std::unique_ptr<Db> open_sqlite_db(const std::string& path, Clock* clock) {
    return std::make_unique<SqliteDb>(path, clock);
}

}  // namespace wfq::store
