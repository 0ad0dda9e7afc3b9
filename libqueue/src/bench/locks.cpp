// Lease lock acquire+release cycles per second, alone or with forked processes on one key.
#include "bench_support.h"

#include <wfq/clock.h>
#include <wfq/errors.h>
#include <wfq/store.h>

#include <sys/wait.h>
#include <unistd.h>

namespace wfq::bench {

// With o.processes P above 1, P forked processes contend for one key, each on its own connection.
json locks(const BenchOptions& o, BenchEnvironment& env) {
    std::int64_t cycles = o.jobs;
    auto one = [&](Store& store, const std::string& key, bool contended) {
        std::int64_t done = 0, misses = 0;
        DefaultRandom random;
        while (done < cycles) {
            auto g = store.lock_acquire(key, "bench", 30000);
            if (!g) {
                ++misses;
                if (!contended) throw Error(ErrorCode::failure, "uncontended acquire failed");
                continue;
            }
            store.lock_release(key, g->token);
            ++done;
        }
        return misses;
    };
    std::string key = "bench:" + std::to_string(getpid());
    if (o.processes <= 1) {
        Store& store = env.store();
        auto start = env.clock->steady_ns();
        one(store, key, false);
        double s = seconds_since(start);
        return {{"backend", store.backend()}, {"processes", 1}, {"cycles", cycles}, {"seconds", s},
                {"cycles_per_s", static_cast<double>(cycles) / s}};
    }
    env.store();  // migrate / check before forking
    auto start = env.clock->steady_ns();
    std::vector<pid_t> children;
    for (int p = 0; p < o.processes; ++p) {
        pid_t pid = fork();
        if (pid == 0) {
            StoreOptions so;
            so.url = env.db_url;
            so.schema = env.schema;
            try {
                auto store = open_store(so);
                one(*store, key, true);
                _exit(0);
            } catch (...) {
                _exit(1);
            }
        }
        children.push_back(pid);
    }
    int failures = 0;
    for (pid_t c : children) {
        int st = 0;
        waitpid(c, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failures;
    }
    double s = seconds_since(start);
    return {{"backend", env.store().backend()}, {"processes", o.processes}, {"cycles", cycles * o.processes},
            {"seconds", s}, {"cycles_per_s", static_cast<double>(cycles * o.processes) / s},
            {"failed_processes", failures}};
}

}  // namespace wfq::bench
