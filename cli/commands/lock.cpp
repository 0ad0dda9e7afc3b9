#include "common.h"

#include <wfq/bulk.h>
#include <wfq/lock.h>
#include <wfq/process_runner.h>
#include <wfq/trace.h>

#include <csignal>
#include <unistd.h>

namespace wfq::cli {
namespace {

std::atomic<bool> g_lock_run_stop{false};
extern "C" void on_lock_run_signal(int) { g_lock_run_stop = true; }

// USER@HOST:PID: the name every operator action records (operator_name(): $USER, else $LOGNAME,
// else the effective user's name, as `jobs cancel` and `queues pause` write it), and the process
// holding the lock. Under cron, which sets LOGNAME but not USER, a lock and a cancel name the same user.
std::string default_owner() { return operator_name() + ":" + std::to_string(getpid()); }

std::int64_t parse_token(const std::string& text) {
    try {
        std::size_t used = 0;
        long long v = std::stoll(text, &used);
        if (used == text.size() && v > 0) return v;
    } catch (const std::exception&) {
    }
    throw Error(ErrorCode::usage, "--token must be a positive integer, not '" + text + "'");
}

void check_status(LockStatus s, const std::string& key, const std::string& token) {
    if (s == LockStatus::unknown_key) throw Error(ErrorCode::not_found, "no lock named '" + key + "'");
    if (s == LockStatus::not_held)
        throw Error(ErrorCode::lock_conflict, "token " + token + " does not hold lock '" + key + "' (expired, or taken by another)");
}

struct AcquireCmd {
    std::string key, ttl = "30s", wait = "0", owner;
    bool json = false;
};

int run_acquire(Context& ctx, AcquireCmd& o) {
    AcquireOptions a;
    a.ttl_ms = duration_flag("--ttl", o.ttl);
    a.wait_ms = duration_flag("--wait", o.wait);
    a.owner = o.owner.empty() ? default_owner() : o.owner;
    validate_lock_key(o.key);
    auto grant = acquire_lock(ctx.store(), o.key, a, ctx.clock(), ctx.random());
    if (!grant) throw Error(ErrorCode::lock_conflict, "lock '" + o.key + "' is held by another owner; not acquired" +
                                                          (a.wait_ms ? " within " + format_duration_ms(a.wait_ms) : ""));
    if (o.json) std::cout << lock_grant_json(*grant).dump() << "\n";
    else std::cout << grant->token << "\n";
    return 0;
}

struct TokenCmd {
    std::string key, token, ttl = "30s";
    bool json = false;
};

int run_release(Context& ctx, TokenCmd& o) {
    validate_lock_key(o.key);
    check_status(ctx.store().lock_release(o.key, parse_token(o.token)), o.key, o.token);
    if (o.json) std::cout << json{{"key", o.key}, {"released", true}}.dump() << "\n";
    return 0;
}

int run_renew(Context& ctx, TokenCmd& o) {
    validate_lock_key(o.key);
    std::int64_t ttl = duration_flag("--ttl", o.ttl);
    check_status(ctx.store().lock_renew(o.key, parse_token(o.token), ttl), o.key, o.token);
    if (o.json) std::cout << json{{"key", o.key}, {"renewed", true}, {"ttl_ms", ttl}}.dump() << "\n";
    return 0;
}

struct ListCmd {
    bool json = false;
};

int run_list(Context& ctx, ListCmd& o) {
    Store& store = ctx.store();
    auto locks = store.list_locks();
    if (o.json) {
        json out = json::array();
        for (const auto& l : locks) out.push_back(lock_grant_json(l));
        std::cout << out.dump() << "\n";
        return 0;
    }
    TimeMs now = store.db_now();
    std::vector<std::vector<std::string>> rows;
    for (const auto& l : locks)
        rows.push_back({l.key, l.owner, std::to_string(l.token), format_time(l.acquired_at), format_time(l.expires_at),
                        l.expired ? colour_state("expired") : "held, " + format_duration_ms(l.expires_at - now) + " left"});
    print_table({"KEY", "OWNER", "TOKEN", "ACQUIRED", "EXPIRES", "STATUS"}, rows);
    return 0;
}

struct RunCmd {
    std::string key, ttl = "30s", wait = "0", owner;
    bool advisory = false;
    std::vector<std::string> command;
};

int run_run(Context& ctx, RunCmd& o) {
    LockedRunOptions r;
    r.key = o.key;
    r.owner = o.owner.empty() ? default_owner() : o.owner;
    r.ttl_ms = duration_flag("--ttl", o.ttl);
    r.wait_ms = duration_flag("--wait", o.wait);
    r.advisory = o.advisory;
    r.command = o.command;
    if (const char* tp = std::getenv("TRACEPARENT"); tp && *tp) r.parent = std::string(tp);
    validate_lock_key(r.key);
    if (r.command.empty()) throw Error(ErrorCode::usage, "lock run needs a command after --");
    Store& store = ctx.store();
    r.on_acquired = [] {
        struct sigaction sa {};
        sa.sa_handler = on_lock_run_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGTERM, &sa, nullptr);
        sigaction(SIGINT, &sa, nullptr);
        sigaction(SIGHUP, &sa, nullptr);
    };
    return run_with_lock(store, ctx.tracer(), r, ctx.clock(), ctx.random(), g_lock_run_stop,
                         [](const std::string& w) { std::cerr << "wfq: warning: " << w << "\n"; });
}

}  // namespace

void add_lock_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("lock", "Distributed locks with fencing tokens");
    group->require_subcommand(1);

    auto a = std::make_shared<AcquireCmd>();
    auto* acquire = group->add_subcommand("acquire", "Take a lease lock; prints its fencing token");
    acquire->add_option("key", a->key, "Lock key")->required();
    acquire->add_option("--ttl", a->ttl, "Lease length (duration)")->capture_default_str();
    acquire->add_option("--wait", a->wait, "Keep trying this long (duration)")->capture_default_str();
    acquire->add_option("--owner", a->owner, "Who holds it (default user@host:pid)");
    acquire->add_flag("--json", a->json, "Print JSON: key, token, owner, acquired_at, expires_at");
    on_run(acquire, ctx, a, run_acquire);

    auto r = std::make_shared<TokenCmd>();
    auto* release = group->add_subcommand("release", "Release a lease lock held by TOKEN");
    release->add_option("key", r->key, "Lock key")->required();
    release->add_option("--token", r->token, "The fencing token acquire printed")->required();
    release->add_flag("--json", r->json, "Print JSON");
    on_run(release, ctx, r, run_release);

    auto n = std::make_shared<TokenCmd>();
    auto* renew = group->add_subcommand("renew", "Extend a lease lock held by TOKEN");
    renew->add_option("key", n->key, "Lock key")->required();
    renew->add_option("--token", n->token, "The fencing token acquire printed")->required();
    renew->add_option("--ttl", n->ttl, "New lease length from now (duration)")->capture_default_str();
    renew->add_flag("--json", n->json, "Print JSON");
    on_run(renew, ctx, n, run_renew);

    auto l = std::make_shared<ListCmd>();
    auto* list = group->add_subcommand("list", "List lease locks");
    list->add_flag("--json", l->json, "Print a JSON array");
    on_run(list, ctx, l, run_list);

    auto u = std::make_shared<RunCmd>();
    auto* run = group->add_subcommand("run", "Run a command while holding a lock (flock(1) for a fleet)");
    run->add_option("key", u->key, "Lock key")->required();
    run->add_option("--ttl", u->ttl, "Lease length, renewed every ttl/3 (duration); --advisory: the session is checked every W/3 and CMD stopped W - W/5 after the last answer, W = min(ttl, 10s)")
        ->capture_default_str();
    run->add_option("--wait", u->wait, "Keep trying to acquire this long (duration)")->capture_default_str();
    run->add_option("--owner", u->owner, "Who holds it (default user@host:pid)");
    run->add_flag("--advisory", u->advisory, "Use a PostgreSQL session advisory lock instead of a lease");
    run->add_option("command", u->command, "-- CMD [ARG...]")->required();
    on_run(run, ctx, u, run_run);
}

}  // namespace wfq::cli
