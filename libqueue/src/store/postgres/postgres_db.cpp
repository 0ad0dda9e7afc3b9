// PostgreSQL backend (libpqxx 6.4). All libpqxx exceptions are translated here; nothing
// above the store sees them.
#include "../db.h"
#include "../fault.h"
#include "../migrations.h"
#include "../stop_signal.h"

#include <wfq/log.h>

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <regex>
#include <set>
#include <thread>
#include <tuple>
#include <utility>
#include <unordered_map>

namespace wfq::store {
namespace {

std::string hex_encode(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out = "\\x";
    out.reserve(2 + bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return 0;
}

std::string hex_decode(const char* text, std::size_t len) {
    std::string out;
    if (len < 2) return out;
    out.reserve((len - 2) / 2);
    for (std::size_t i = 2; i + 1 < len; i += 2) out += static_cast<char>(hex_value(text[i]) * 16 + hex_value(text[i + 1]));
    return out;
}

// Why the server refused a connection for good, or "" when the failure may pass by itself
// (server down, unreachable, starting up or shutting down, out of connection slots: those are
// retried, exit 69). A refusal is a configuration error: exit 78 at once, no retries, so that
// systemd (RestartPreventExitStatus=78) stops restarting a worker that cannot ever connect.
// libpqxx 6.4 reports a failed connection as broken_connection carrying libpq's text only (no
// SQLSTATE), so the server's text decides; errors that carry a SQLSTATE are classified by it
// (refusal_for_sqlstate). The texts are the server's English ones (lc_messages): a server
// that speaks another language gets the patient treatment, exit 69 after the retries.
std::string refusal_reason(const std::string& text) {
    static const std::regex missing_db(R"(database ".*" does not exist)");
    static const std::regex missing_role(R"(role ".*" does not exist)");
    static const std::regex no_login(R"(role ".*" is not permitted to log in)");
    if (text.find("password authentication failed") != std::string::npos)
        return "authentication failed: wrong password, or no such role";
    if (text.find("no password supplied") != std::string::npos)
        return "the server asks for a password and none was given (put it in the URL, PGPASSWORD or ~/.pgpass)";
    if (text.find("authentication failed") != std::string::npos) return "authentication failed";  // peer, ident, cert, ...
    if (std::regex_search(text, missing_db)) return "the database does not exist";
    if (std::regex_search(text, missing_role)) return "the role does not exist";
    if (std::regex_search(text, no_login)) return "the role may not log in";
    if (text.find("no pg_hba.conf entry") != std::string::npos || text.find("pg_hba.conf rejects") != std::string::npos)
        return "pg_hba.conf lets no such connection in";
    if (text.find("does not have CONNECT privilege") != std::string::npos)
        return "the role has no CONNECT privilege on the database";
    return "";
}

// The same for an error that carries a SQLSTATE (a server or pooler refusing after connect).
std::string refusal_for_sqlstate(const std::string& state, const std::string& text) {
    if (state == "28P01") return "authentication failed: wrong password, or no such role";
    if (state == "28000") {  // invalid_authorization_specification: no such role, no hba entry, ...
        std::string why = refusal_reason(text);
        return why.empty() ? "the server does not let this role connect" : why;
    }
    if (state == "3D000") return "the database does not exist";
    return "";
}

// The database a DSN names, for messages: redacted, never a password.
std::string target(const std::string& dsn) {
    if (dsn == "postgresql://" || dsn == "postgres://") return dsn + " (libpq's PG* environment)";
    return redact_dsn(dsn);
}

[[noreturn]] void throw_refusal(const std::string& dsn, const std::string& why, const std::string& text) {
    throw Error(ErrorCode::config, "PostgreSQL refused the connection to " + target(dsn) + ": " + why + " (" +
                                       redact_dsn(text) + "). Fix the database URL (--db, WFQ_DB or DATABASE_URL) or the credentials; "
                                       "a configuration error is not retried");
}

[[noreturn]] void translate(const std::exception& e) {
    if (dynamic_cast<const pqxx::broken_connection*>(&e))
        throw Error(ErrorCode::db_unavailable, std::string("database connection lost: ") + e.what());
    if (dynamic_cast<const pqxx::unique_violation*>(&e)) throw UniqueViolation(e.what());
    if (auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
        const std::string& state = sql->sqlstate();
        if (std::string why = refusal_for_sqlstate(state, e.what()); !why.empty())
            throw Error(ErrorCode::config, "PostgreSQL refused the connection: " + why + " (" + redact_dsn(e.what()) + ")");
        if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03")
            throw Error(ErrorCode::db_unavailable, std::string("database unavailable: ") + e.what());
        if (state == "3F000" || state == "42P01" || state == "42883")
            throw Error(ErrorCode::config, std::string("the wfq schema is missing or old; run `wfq migrate` (") +
                                               e.what() + ")");
    }
    throw Error(ErrorCode::failure, std::string("database error: ") + e.what());
}

// The settings of a wfq session: SET for the session, or SET LOCAL for one transaction (behind
// a pooler). JIT is off: wfq's statements touch a few rows through indexes, but the planner
// prices some by the whole table (the claim's LIMIT does not discount a scan whose anti-join
// it cannot estimate), and past jit_above_cost every execution compiled: with 200,000 jobs
// pending and the table analyzed, a claim took 200 ms instead of 0.2 (jit exists from 11).
std::string session_settings(const pqxx::connection_base& conn, const std::string& schema, bool local) {
    const std::string set = local ? "SET LOCAL " : "SET ";
    std::string sql = set + "search_path TO \"" + schema + "\"; " + set + "client_min_messages TO warning";
    if (conn.server_version() >= 110000) sql += "; " + set + "jit TO off";
    // The server notices a client cut off by a partition in seconds, not after its 2 h
    // keepalive default, so a dead worker's sessions (and their locks) do not linger.
    if (!local) {
        sql += "; SET tcp_keepalives_idle TO 5; SET tcp_keepalives_interval TO 2; SET tcp_keepalives_count TO 3";
        if (conn.server_version() >= 120000) sql += "; SET tcp_user_timeout TO 10000";
    }
    return sql;
}

}  // namespace

// A silent partition blocks a call until TCP gives up: minutes of retransmits, or hours for an
// idle connection. wfq sets libpq's timeouts unless the DSN (or PGCONNECT_TIMEOUT) says otherwise.
std::string with_network_timeouts(const std::string& dsn) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(dsn.c_str(), &error);
    if (!options) {
        if (error) PQfreemem(error);
        return dsn;  // libpq reports what is wrong with it when connecting
    }
    std::set<std::string> known, given;
    for (PQconninfoOption* o = options; o->keyword; ++o) {
        known.insert(o->keyword);
        if (o->val && *o->val) given.insert(o->keyword);
    }
    PQconninfoFree(options);
    if (std::getenv("PGCONNECT_TIMEOUT")) given.insert("connect_timeout");
    static const std::pair<const char*, const char*> kDefaults[] = {
        {"connect_timeout", "10"},    {"keepalives", "1"},       {"keepalives_idle", "5"},
        {"keepalives_interval", "2"}, {"keepalives_count", "3"}, {"tcp_user_timeout", "10000"}};
    const bool uri = dsn.rfind("postgresql://", 0) == 0 || dsn.rfind("postgres://", 0) == 0;
    std::string out = dsn;
    for (const auto& [key, value] : kDefaults) {
        if (given.count(key) || !known.count(key)) continue;  // an older libpq may not know tcp_user_timeout
        if (uri) out += out.find('?') == std::string::npos ? '?' : '&';
        else if (!out.empty()) out += ' ';
        out += std::string(key) + "=" + value;
    }
    return out;
}

namespace {

// pooled: behind a transaction pooler, where a SET would stick to a server session other
// clients share; the settings are then made per transaction (SET LOCAL) instead.
std::unique_ptr<pqxx::connection> connect(const std::string& dsn, const std::string& schema, bool pooled = false) {
    try {
        auto conn = std::make_unique<pqxx::connection>(with_network_timeouts(dsn));
        if (!pooled) {
            pqxx::nontransaction tx(*conn);
            tx.exec(session_settings(*conn, schema, false));
        }
        return conn;
    } catch (const pqxx::broken_connection& e) {
        // libpq's text may quote the connection string: redact it too.
        std::string msg = redact_dsn(e.what());
        while (!msg.empty() && std::isspace(static_cast<unsigned char>(msg.back()))) msg.pop_back();
        if (std::string why = refusal_reason(msg); !why.empty()) throw_refusal(dsn, why, msg);
        if (msg.find("invalid") != std::string::npos || msg.find("missing \"=\"") != std::string::npos)
            throw Error(ErrorCode::config, "bad PostgreSQL connection string: " + msg);
        throw Error(ErrorCode::db_unavailable, "cannot connect to PostgreSQL at " + target(dsn) + ": " + msg);
    } catch (const std::exception& e) {
        translate(e);
    }
}

class Listener final : public pqxx::notification_receiver {
public:
    Listener(pqxx::connection_base& c, const std::string& channel) : pqxx::notification_receiver(c, channel) {}
    void operator()(const std::string& payload, int) override {
        ++count;
        payloads.push_back(payload);
    }
    int count = 0;
    std::vector<std::string> payloads;
};

// A dedicated session LISTENing on one channel, reopened on the next call after a loss.
class ListeningSession {
public:
    ListeningSession(std::string dsn, std::string schema, std::string channel)
        : m_dsn(std::move(dsn)), m_schema(std::move(schema)), m_channel(std::move(channel)) {
        open();
    }
    // Waits up to timeout_ms and returns the payloads that arrived. reconnected is set when the
    // session had to be reopened first (notifications sent meanwhile are lost). Throws, and
    // drops the session, when it is lost.
    // Interrupted (interrupt()): empty at once.
    std::vector<std::string> await(std::int64_t timeout_ms, bool& reconnected) {
        reconnected = false;
        if (m_stop.raised()) return {};
        try {
            reconnected = !m_conn;
            if (!m_conn) open();
            m_listener->payloads.clear();
            // libpqxx's await_notification threw on a session without a socket; get_notifs()
            // just returns 0 there (LISTEN failing with the session is swallowed by
            // add_receiver), so a dead session must be noticed here to be reopened.
            if (!m_conn->is_open() || m_conn->sock() < 0) throw pqxx::broken_connection("the listening session is gone");
            if (m_conn->get_notifs() == 0)  // none waiting: wait for the socket, or interrupt()
                m_stop.wait_readable(m_conn->sock(), std::chrono::milliseconds(timeout_ms));
            while (m_conn->get_notifs() > 0) {
            }
            return m_listener->payloads;
        } catch (...) {
            m_listener.reset();
            m_conn.reset();
            throw;
        }
    }

    void interrupt() { m_stop.raise(); }
    bool interrupted() const { return m_stop.raised(); }

private:
    void open() {
        m_conn = connect(m_dsn, m_schema);
        m_listener = std::make_unique<Listener>(*m_conn, m_channel);
    }
    StopSignal m_stop;
    std::string m_dsn, m_schema, m_channel;
    std::unique_ptr<pqxx::connection> m_conn;
    std::unique_ptr<Listener> m_listener;
};

// Config changes: after a lost session it reports "*", since notifications sent while
// disconnected are gone.
class PgConfigWatcher final : public ConfigWatcher {
public:
    PgConfigWatcher(const std::string& dsn, const std::string& schema, const std::string& channel)
        : m_session(dsn, schema, channel) {}
    std::vector<std::string> poll(std::int64_t timeout_ms) override {
        try {
            bool reconnected = false;
            auto payloads = m_session.await(timeout_ms, reconnected);
            if (reconnected) return {"*"};
            return payloads;
        } catch (const std::exception&) {
            return {"*"};
        }
    }
    void interrupt() override { m_session.interrupt(); }

private:
    ListeningSession m_session;
};

class PgWaker final : public Waker {
public:
    PgWaker(const std::string& dsn, const std::string& schema, const std::string& channel)
        : m_session(dsn, schema, channel) {}
    bool wait(std::int64_t timeout_ms) override {
        try {
            bool reconnected = false;
            return !m_session.await(timeout_ms, reconnected).empty() || reconnected;
        } catch (const std::exception&) {
            return !m_session.interrupted();  // lost the listening session: poll now, reconnect on the next wait
        }
    }
    void interrupt() override { m_session.interrupt(); }

private:
    ListeningSession m_session;
};

class PgAdvisoryLock final : public AdvisoryLock {
public:
    explicit PgAdvisoryLock(std::unique_ptr<pqxx::connection> conn) : m_conn(std::move(conn)) {}
    bool alive() override {
        try {
            pqxx::nontransaction tx(*m_conn);
            tx.exec("SELECT 1");
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }

private:
    std::unique_ptr<pqxx::connection> m_conn;  // closing the session releases the lock
};

template <std::size_t... I>
auto as_tuple(const std::vector<const char*>& v, std::index_sequence<I...>) {
    return std::make_tuple(v[I]...);
}

// Behind a transaction pooler there is no LISTEN: a waker polls a counter every 50 ms (the
// jobs' id sequence, non-transactional and cheap; or the control change log) and wakes when it
// moved.
class PooledWaker final : public Waker {
public:
    PooledWaker(std::string dsn, std::string schema, std::string counter_sql)
        : m_dsn(std::move(dsn)), m_schema(std::move(schema)), m_sql(std::move(counter_sql)) {}
    bool wait(std::int64_t timeout_ms) override {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            std::int64_t v = last_id();
            if (v != m_last) {
                bool first = m_last < 0;
                m_last = v;
                if (!first) return true;
            }
            auto now = std::chrono::steady_clock::now();
            if (now >= deadline) return false;
            if (!m_stop.sleep(std::min(std::chrono::ceil<std::chrono::milliseconds>(deadline - now), std::chrono::milliseconds(50))))
                return false;
        }
    }
    void interrupt() override { m_stop.raise(); }

private:
    std::int64_t last_id() {
        try {
            if (!m_conn) m_conn = connect(m_dsn, m_schema, true);
            pqxx::nontransaction tx(*m_conn);
            auto r = tx.exec(m_sql);
            return r[0][0].as<std::int64_t>();
        } catch (const std::exception&) {
            m_conn.reset();
            return m_last;
        }
    }
    std::string m_dsn, m_schema, m_sql;
    std::unique_ptr<pqxx::connection> m_conn;
    std::int64_t m_last = -1;
    StopSignal m_stop;
};

// Behind a transaction pooler: config changes are read from the change log, as on SQLite.
class PooledConfigWatcher final : public ConfigWatcher {
public:
    PooledConfigWatcher(std::string dsn, std::string schema) : m_dsn(std::move(dsn)), m_schema(std::move(schema)) {
        m_last = query("SELECT COALESCE(MAX(version), 0), '' FROM \"" + m_schema + "\".config_changes", 0).at(0).first;
    }
    std::vector<std::string> poll(std::int64_t timeout_ms) override {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            std::vector<std::string> scopes;
            try {
                for (auto& [version, scope] : query("SELECT version, scope FROM \"" + m_schema +
                                                        "\".config_changes WHERE version > $1 ORDER BY version",
                                                    m_last)) {
                    m_last = version;
                    scopes.push_back(scope);
                }
            } catch (const std::exception&) {
                return {"*"};  // changes made while unreachable are unknown
            }
            if (!scopes.empty() || std::chrono::steady_clock::now() >= deadline || !m_stop.sleep(std::chrono::milliseconds(50)))
                return scopes;
        }
    }
    void interrupt() override { m_stop.raise(); }

private:
    std::vector<std::pair<std::int64_t, std::string>> query(const std::string& sql, std::int64_t after) {
        try {
            if (!m_conn) m_conn = connect(m_dsn, m_schema, true);
            pqxx::nontransaction tx(*m_conn);
            auto r = sql.find("$1") == std::string::npos ? tx.exec(sql) : tx.exec_params(sql, after);
            std::vector<std::pair<std::int64_t, std::string>> out;
            for (const auto& row : r) out.emplace_back(row[0].as<std::int64_t>(), row[1].c_str());
            return out;
        } catch (...) {
            m_conn.reset();
            throw;
        }
    }
    std::string m_dsn, m_schema;
    std::unique_ptr<pqxx::connection> m_conn;
    std::int64_t m_last = 0;
    StopSignal m_stop;
};

class PostgresDb final : public Db {
public:
    PostgresDb(std::string dsn, std::string schema, bool pooled)
        : m_dsn(std::move(dsn)), m_schema(std::move(schema)), m_conn(connect(m_dsn, m_schema, pooled)), m_pooled(pooled) {
        // Behind a transaction-pooling PgBouncer a prepared statement may not outlive its
        // transaction, so none are made there.
        m_prepare = !pooled;
    }

    std::string backend() const override { return "postgresql"; }
    std::string describe() const override { return redact_dsn(m_dsn) + " (schema " + m_schema + ")"; }
    bool migrates_on_open() const override { return false; }
    bool has_copy() const override { return true; }
    // Multi-row statements save round trips.
    std::size_t rows_per_statement() const override { return 500; }
    // PostgreSQL applies a COPY on one core; a second connection writes the next batch on
    // another meanwhile. Not behind a transaction pooler: a batch waiting for its turn holds a
    // server connection, which the batch before it might need.
    int parallel_enqueue_connections() const override { return m_pooled ? 1 : 2; }

    Rows exec(const std::string& sql, const Params& params) override {
        if (m_pooled && !m_in_tx) return in_own_transaction([&] { return exec(sql, params); });
        try {
            if (!m_conn) reconnect();
            std::vector<std::string> storage(params.size());
            std::vector<const char*> values(params.size(), nullptr);
            for (std::size_t i = 0; i < params.size(); ++i) {
                const Param& p = params[i];
                if (std::holds_alternative<std::nullptr_t>(p)) continue;
                if (auto* s = std::get_if<std::string>(&p)) storage[i] = *s;
                else if (auto* n = std::get_if<std::int64_t>(&p)) storage[i] = std::to_string(*n);
                else if (auto* d = std::get_if<double>(&p)) storage[i] = std::to_string(*d);
                else storage[i] = hex_encode(std::get<Blob>(p).bytes);
                values[i] = storage[i].c_str();
            }
            auto& tx = session();
            pqxx::result r;
            if (const std::string* name = prepared_name(sql, params.size()))
                r = tx.exec_prepared(*name, pqxx::prepare::make_dynamic_params(values));
            else
                r = tx.exec_params(sql, pqxx::prepare::make_dynamic_params(values));
            return to_rows(r);
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            on_exception(e);
        }
    }

    void exec_script(const std::string& sql) override {
        if (m_pooled && !m_in_tx) return in_own_transaction([&] { exec_script(sql); });
        try {
            if (!m_conn) reconnect();
            session().exec(sql);
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            on_exception(e);
        }
    }

    // Transactions are driven by hand on one autocommit session so that BEGIN and the
    // transaction id travel in one round trip; the id lets a commit in doubt be resolved.
    void begin() override {
        try {
            if (!m_conn) reconnect();
            auto r = session().exec(m_pooled ? "BEGIN; " + session_settings(*m_conn, m_schema, true) + "; SELECT txid_current()"
                                             : std::string("BEGIN; SELECT txid_current()"));
            m_txid = r[0][0].as<std::int64_t>();
            m_in_tx = true;
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            on_exception(e);
        }
    }

    void commit(const char* label) override {
        const std::int64_t txid = m_txid;
        CommitFault fault = take_commit_fault(label);
        try {
            if (fault == CommitFault::cut_before) {
                m_nt.reset();
                m_conn.reset();  // the server sees the session end: it aborts the transaction
                throw pqxx::broken_connection("injected fault: connection cut before COMMIT");
            }
            session().exec("COMMIT");
            m_in_tx = false;
            if (fault == CommitFault::lost_reply) {
                m_nt.reset();
                m_conn.reset();
                throw pqxx::broken_connection("injected fault: the reply to COMMIT was lost");
            }
        } catch (const std::exception& e) {
            m_in_tx = false;
            // A session that ended during COMMIT (a lost socket, or the server shutting down:
            // 57P01 can arrive after the commit is durable) leaves the outcome unknown.
            auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
            bool session_ended = dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
                                 dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr || !m_conn || !m_conn->is_open() ||
                                 (sql && (sql->sqlstate().rfind("08", 0) == 0 || sql->sqlstate().rfind("57P", 0) == 0));
            if (!session_ended) on_exception(e);
            m_nt.reset();
            m_conn.reset();
            resolve_in_doubt(txid, e.what());
        }
    }

    void rollback() noexcept override {
        if (!m_in_tx) return;
        m_in_tx = false;
        try {
            if (m_nt) m_nt->exec("ROLLBACK");
        } catch (...) {
            m_nt.reset();
            m_conn.reset();
        }
    }

    void limit_statement_time(std::int64_t ms) override {
        const std::string n = std::to_string(std::max<std::int64_t>(1, ms));
        exec_script("SET LOCAL statement_timeout = " + n + "; SET LOCAL lock_timeout = " + n);
    }

    // A refusal on reconnecting (authentication failed, database or role missing) is treated as
    // an outage, not as a configuration error: the same settings connected before, so the cause
    // is a change on the server's side that may be undone or finished (a password rotated
    // before the new one was deployed, a database being restored). The caller retries it like
    // any outage; a worker gives up after --max-outage (exit 69). A fresh start with settings
    // that are refused exits 78 at once.
    void reconnect() override {
        m_in_tx = false;
        m_nt.reset();
        m_conn.reset();
        m_prepared.clear();
        try {
            m_conn = connect(m_dsn, m_schema, m_pooled);
        } catch (const Error& e) {
            if (e.code() != ErrorCode::config) throw;
            log::debug("reconnect refused; treated as an outage, since these settings connected before", {{"error", e.what()}});
            throw Error(ErrorCode::db_unavailable, std::string("reconnecting failed, treated as an outage since these settings "
                                                               "connected before: ") + e.what());
        }
    }

    std::string json_rows(const std::string& param,
                          const std::vector<std::pair<std::string, std::string>>& columns) const override {
        std::string s = "jsonb_to_recordset(" + param + "::jsonb) AS u(";
        for (std::size_t i = 0; i < columns.size(); ++i) s += (i ? ", " : "") + columns[i].first + " " + columns[i].second;
        return s + ")";
    }

    std::string json_ids_match(const std::string& column, const std::string& param) const override {
        // An array from an InitPlan: the planner counts on 10 ids and looks each up by key.
        return column + " = ANY(ARRAY(SELECT (e->>'id')::bigint FROM jsonb_array_elements(" + param + "::jsonb) e))";
    }

    std::unique_ptr<Db> open_sibling() override {
        auto db = std::make_unique<PostgresDb>(m_dsn, m_schema, m_pooled);
        db->m_in_doubt_wait_ms = m_in_doubt_wait_ms;
        return db;
    }

    void set_in_doubt_wait_ms(std::int64_t ms) override { m_in_doubt_wait_ms = ms; }

    bool copy_jobs(const std::vector<std::vector<std::optional<std::string>>>& rows) override {
        static const std::vector<std::string> columns = {
            "id", "type", "queue", "payload", "priority", "run_at", "max_attempts", "lock_key", "org", "repo",
            "correlation_id", "traceparent", "tracestate", "state", "attempt", "created_at", "updated_at",
            "limit_keys", "held", "held_by", "grp", "turn_lag"};
        try {
            if (!m_conn) reconnect();
            pqxx::stream_to copy(session(), "jobs", columns);
            std::vector<const char*> values(kCopyJobColumns);
            for (const auto& row : rows) {
                if (row.size() != kCopyJobColumns) throw Error(ErrorCode::failure, "copy_jobs: wrong column count");
                for (std::size_t i = 0; i < kCopyJobColumns; ++i) values[i] = row[i] ? row[i]->c_str() : nullptr;
                copy << as_tuple(values, std::make_index_sequence<kCopyJobColumns>{});
            }
            copy.complete();
            return true;
        } catch (const Error&) {
            throw;
        } catch (const std::exception& e) {
            on_exception(e);
        }
    }

    std::string skip_locked() const override { return " FOR UPDATE SKIP LOCKED"; }
    std::string next_token_sql() const override { return "SELECT nextval('lock_token_seq')"; }
    void lock_for_migration() override {
        exec("SELECT pg_advisory_xact_lock(hashtext('wfq-migrate'))", {});
        exec_script("CREATE SCHEMA IF NOT EXISTS \"" + m_schema + "\"");
    }
    const std::vector<Migration>& migrations() const override { return postgres_migrations(); }
    void notify_enqueued(const std::string& queue) override { exec("SELECT pg_notify($1, $2)", {channel(), queue}); }
    void notify_config(const std::string& scope) override { exec("SELECT pg_notify($1, $2)", {config_channel(), scope}); }
    std::unique_ptr<ConfigWatcher> open_config_watcher() override {
        if (m_pooled) return std::make_unique<PooledConfigWatcher>(m_dsn, m_schema);
        return std::make_unique<PgConfigWatcher>(m_dsn, m_schema, config_channel());
    }
    std::unique_ptr<Waker> open_waker() override {
        if (m_pooled)
            return std::make_unique<PooledWaker>(m_dsn, m_schema, "SELECT last_value FROM \"" + m_schema + "\".jobs_id_seq");
        return std::make_unique<PgWaker>(m_dsn, m_schema, channel());
    }
    void notify_control(const std::string& what) override { exec("SELECT pg_notify($1, $2)", {control_channel(), what}); }
    std::unique_ptr<Waker> open_control_waker() override {
        if (m_pooled)
            return std::make_unique<PooledWaker>(m_dsn, m_schema,
                                                 "SELECT COALESCE(MAX(version), 0) FROM \"" + m_schema + "\".control_changes");
        return std::make_unique<PgWaker>(m_dsn, m_schema, control_channel());
    }
    std::unique_ptr<AdvisoryLock> try_advisory_lock(const std::string& key) override {
        if (m_pooled)
            throw Error(ErrorCode::config,
                        "advisory locks need a database session of their own, which a transaction-pooling PgBouncer "
                        "(WFQ_POOLER=transaction) does not give: the lock would protect nothing. Use a lease lock "
                        "(without --advisory), or connect to PostgreSQL directly");
        auto conn = connect(m_dsn, m_schema);
        try {
            pqxx::nontransaction tx(*conn);
            auto r = tx.exec_params("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", key);
            if (!r[0][0].as<bool>()) return nullptr;
        } catch (const std::exception& e) {
            translate(e);
        }
        return std::make_unique<PgAdvisoryLock>(std::move(conn));
    }
    void lock_name_for_transaction(const std::string& name) override {
        exec("SELECT pg_advisory_xact_lock(hashtextextended($1, 1))", {name});
    }
    std::vector<std::pair<std::string, double>> database_facts() override {
        auto one = [&](const std::string& sql) {
            auto rows = exec(sql, {});
            return rows.empty() || rows[0].is_null(0) ? 0.0 : std::stod(rows[0].str(0));
        };
        return {
            {"jobs_table_bytes", one("SELECT pg_total_relation_size('jobs')")},
            {"jobs_dead_rows", one("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass")},
            {"jobs_live_rows", one("SELECT n_live_tup FROM pg_stat_user_tables WHERE relid = 'jobs'::regclass")},
            {"oldest_transaction_age_s",
             one("SELECT COALESCE(EXTRACT(EPOCH FROM MAX(now() - xact_start)), 0) FROM pg_stat_activity "
                 "WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND datname = current_database()")},
            {"inactive_replication_slots", one("SELECT COUNT(*) FROM pg_replication_slots WHERE NOT active")},
            // 1 when this session would JIT-compile statements (session_settings turns it off).
            {"session_jit", one("SELECT CASE WHEN current_setting('jit', true) = 'on' THEN 1 ELSE 0 END")},
        };
    }
    bool is_missing_table(const std::exception& e) const override {
        auto* err = dynamic_cast<const Error*>(&e);
        return err && err->code() == ErrorCode::config;
    }

private:
    std::string channel() const { return "wfq_jobs_" + m_schema; }
    std::string config_channel() const { return "wfq_config_" + m_schema; }
    std::string control_channel() const { return "wfq_control_" + m_schema; }

    // Translates e; whenever the session may be gone (lost connection, a commit in doubt, an
    // administrator's termination, a closed socket) drops it so the next call reconnects.
    [[noreturn]] void on_exception(const std::exception& e) {
        bool lost = dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr || dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
                    (m_conn && !m_conn->is_open());
        if (m_in_tx && !lost) {
            // A failed statement leaves the transaction aborted; rollback() ends it.
        }
        try {
            if (lost) throw Error(ErrorCode::db_unavailable, std::string("database connection lost: ") + e.what());
            translate(e);
        } catch (const Error& err) {
            if (err.code() == ErrorCode::db_unavailable) {
                m_in_tx = false;
                m_nt.reset();
                m_conn.reset();
                m_prepared.clear();
            }
            throw;
        }
    }

    static Rows to_rows(const pqxx::result& r) {
        Rows rows;
        rows.reserve(r.size());
        const auto cols = r.columns();
        std::vector<bool> is_bytea(cols);
        for (pqxx::row_size_type c = 0; c < cols; ++c) is_bytea[c] = r.column_type(c) == 17;
        for (const auto& row : r) {
            std::vector<std::optional<std::string>> values;
            values.reserve(cols);
            for (pqxx::row_size_type c = 0; c < cols; ++c) {
                const auto& f = row[c];
                if (f.is_null()) values.emplace_back(std::nullopt);
                else if (is_bytea[c]) values.emplace_back(hex_decode(f.c_str(), f.size()));
                else values.emplace_back(std::string(f.c_str(), f.size()));
            }
            rows.emplace_back(std::move(values));
        }
        return rows;
    }

    pqxx::nontransaction& session() {
        if (!m_nt) m_nt = std::make_unique<pqxx::nontransaction>(*m_conn);
        return *m_nt;
    }

    // The name of the prepared statement for sql, preparing it on first use; nullptr when
    // this statement is run unprepared (pooler mode, or one of too many shapes).
    const std::string* prepared_name(const std::string& sql, std::size_t nparams) {
        if (!m_prepare) return nullptr;
        auto it = m_prepared.find(sql);
        if (it != m_prepared.end()) return &it->second;
        if (m_prepared.size() >= 200 || nparams > 40) return nullptr;
        std::string name = "wfq_" + std::to_string(m_prepared.size());
        m_conn->prepare(name, sql);
        return &m_prepared.emplace(sql, name).first->second;
    }

    // Learns the outcome of transaction txid after its COMMIT reply was lost: returns when it
    // committed, throws a retryable error when it did not, and an in-doubt error when the
    // database stayed away longer than m_in_doubt_wait_ms.
    void resolve_in_doubt(std::int64_t txid, const std::string& why) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(m_in_doubt_wait_ms);
        std::int64_t pause_ms = 50;
        for (;;) {
            try {
                if (!m_conn) reconnect();
                auto r = session().exec_params("SELECT txid_status($1)", txid);
                std::string status = r[0][0].is_null() ? "unknown" : r[0][0].c_str();
                if (status == "committed") return;
                if (status != "in progress")
                    throw Error(ErrorCode::db_unavailable, "connection lost at commit; the transaction did not commit (" + why + ")");
            } catch (const Error&) {
                throw;
            } catch (const std::exception&) {
                m_nt.reset();
                m_conn.reset();
            }
            if (std::chrono::steady_clock::now() >= deadline) {
                Error e(ErrorCode::db_unavailable, "connection lost at commit and the database did not come back to tell "
                                                   "whether the transaction committed (" + why + ")");
                throw e.mark_in_doubt();
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
            pause_ms = std::min<std::int64_t>(1000, pause_ms * 2);
        }
    }

    // One statement in a transaction of its own (pooled: the schema is set per transaction).
    template <typename Fn>
    auto in_own_transaction(Fn&& fn) -> decltype(fn()) {
        begin();
        try {
            if constexpr (std::is_void_v<decltype(fn())>) {
                fn();
                commit("");
            } else {
                auto result = fn();
                commit("");
                return result;
            }
        } catch (...) {
            rollback();
            throw;
        }
    }

    std::string m_dsn, m_schema;
    std::unique_ptr<pqxx::connection> m_conn;
    bool m_pooled = false;
    std::unique_ptr<pqxx::nontransaction> m_nt;
    bool m_in_tx = false, m_prepare = true;
    std::int64_t m_txid = 0;
    std::int64_t m_in_doubt_wait_ms = 300000;
    std::unordered_map<std::string, std::string> m_prepared;
};

}  // namespace

std::unique_ptr<Db> open_postgres_db(const std::string& dsn, const std::string& schema, bool pooled) {
    static const std::regex ident("[A-Za-z_][A-Za-z0-9_]{0,62}");
    if (!std::regex_match(schema, ident))
        throw Error(ErrorCode::usage, "invalid schema name '" + schema + "': use letters, digits and _ (at most 63)");
    return std::make_unique<PostgresDb>(dsn, schema, pooled);
}

}  // namespace wfq::store
