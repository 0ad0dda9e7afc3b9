// `wfq top`: the live view on a terminal; one frame with --once or when stdout is no terminal.
#include "common.h"

#include "../top_frame.h"

#include <algorithm>

namespace wfq::cli {
namespace {

struct TopOptions {
    bool once = false, json = false;
    std::string interval = "1s";
    int rows = 5;
};

// The snapshot, with the limit keys holding the most jobs back (at most rows of them).
TopSnapshot snapshot(Store& store, int rows) {
    TopSnapshot s = store.top_snapshot(rows);
    for (const auto& u : store.limit_usage())
        for (const auto& k : u.keys)
            if (k.held > 0) s.limits.push_back({u.rule.pattern, k.key, k.running, k.held, u.rule.concurrency});
    std::sort(s.limits.begin(), s.limits.end(), [](const auto& a, const auto& b) { return a.held > b.held; });
    if (s.limits.size() > static_cast<std::size_t>(rows)) s.limits.resize(static_cast<std::size_t>(rows));
    return s;
}

int run_top(Context& ctx, TopOptions& o) {
    std::int64_t interval = duration_flag("--interval", o.interval);
    if (interval < 100) throw Error(ErrorCode::usage, "--interval must be at least 100ms");
    if (o.rows < 1 || o.rows > 100) throw Error(ErrorCode::usage, "--rows must be 1 to 100");
    Store& store = ctx.store();
    if (o.once || o.json || !stdout_is_terminal()) {
        TopSnapshot s = snapshot(store, o.rows);
        // On a terminal (--once) the frame fits its width; in a pipe nothing is cut.
        std::cout << (o.json ? top_to_json(s) + "\n" : render_top_text(s, stdout_is_terminal() ? terminal_width() : 0));
        return 0;
    }
    LiveScreen screen;
    for (;;) {
        // The width is read after the snapshot's queries, just before drawing, so a resize while
        // they run lays out the next frame for the new width rather than cutting one laid out for
        // the old (draw still cuts what a resize in the last moment would wrap).
        TopSnapshot s = snapshot(store, o.rows);
        screen.draw(render_top_text(s, terminal_width()));
        int key = screen.wait_key(static_cast<int>(interval));
        if (key == 'q' || key == 'Q') return 0;
        if (key < 0) throw Error(ErrorCode::interrupted);  // SIGINT/SIGTERM: the screen's destructor restores the terminal
    }
}

}  // namespace

void add_top_command(CLI::App& app, Context& ctx) {
    auto o = std::make_shared<TopOptions>();
    auto* top = app.add_subcommand("top", "Live view: queues (depth, rates, oldest age), workers, recent failures, longest running and stuck jobs");
    top->add_flag("--once", o->once,
                  "Print one frame and exit (also when stdout is not a terminal, uncut). On a terminal a frame fits its width: "
                  "long names end in …, and columns left out end the header line with … and are named in the table's title");
    top->add_flag("--json", o->json, "Print one frame as a JSON object and exit");
    top->add_option("--interval", o->interval, "Refresh interval (duration)")->capture_default_str();
    top->add_option("--rows", o->rows, "Recent failures, longest running and stuck jobs shown")->capture_default_str();
    on_run(top, ctx, o, run_top);
}

}  // namespace wfq::cli
