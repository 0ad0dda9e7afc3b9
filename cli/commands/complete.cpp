// Shell completion and man pages, both generated from the command tree itself, so they can't
// drift from --help: the bash, zsh and fish scripts in completions/ call `wfq __complete`,
// and man/ holds what `wfq __man` prints (a test compares the two).
#include "common.h"

#include <wfq/bulk.h>

#include <wfq/backoff.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>

namespace wfq::cli {
namespace {

std::vector<CLI::App*> visible_subcommands(CLI::App* app) {
    return app->get_subcommands([](CLI::App* s) { return !s->get_group().empty() && s->get_name().rfind("__", 0) != 0; });
}

CLI::App* find_sub(CLI::App* app, const std::string& name) {
    for (auto* s : visible_subcommands(app))
        if (s->get_name() == name) return s;
    return nullptr;
}

const CLI::Option* find_option(CLI::App* app, const std::string& word) {
    for (CLI::App* a = app; a; a = a->get_parent())
        for (const auto* o : a->get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
            for (const auto& l : o->get_lnames())
                if (word == "--" + l) return o;
            for (const auto& s : o->get_snames())
                if (word == "-" + s) return o;
        }
    return nullptr;
}

bool takes_value(const CLI::Option* o) { return o->get_items_expected_max() > 0; }

std::vector<std::string> database_values(Context& ctx, const std::string& what) {
    std::vector<std::string> out;
    try {
        Store& store = ctx.store();
        if (what == "locks") {
            for (const auto& l : store.list_locks()) out.push_back(l.key);
        } else if (what == "queues") {
            for (const auto& q : store.queue_summaries()) out.push_back(q.queue);
        } else if (what == "schedules") {
            for (const auto& s : store.schedules()) out.push_back(s.name);
        } else {
            JobFilter f;
            f.limit = 200;
            std::set<std::string> types;
            for (const auto& j : store.list_jobs(f)) {
                if (what == "ids") out.push_back(std::to_string(j.id));
                else types.insert(j.type);
            }
            out.insert(out.end(), types.begin(), types.end());
        }
    } catch (...) {
        // Completion must fail silently and fast when the database is not there.
    }
    return out;
}

std::vector<std::string> option_values(Context& ctx, const std::string& option) {
    if (option == "--state")
        return {"pending", "running", "waiting", "completed", "failed", "cancelled", "scheduled", "retrying"};
    if (option == "--preset" || option == "--retry-preset") return backoff_preset_names();
    if (option == "--format") return {"json-patch", "merge-patch"};
    if (option == "--log-format") return {"text", "json"};
    if (option == "--log-level") return {"trace", "debug", "info", "warn", "error", "off"};
    if (option == "--type") return database_values(ctx, "types");
    if (option == "--queue") return database_values(ctx, "queues");
    if (option == "--error-class") return known_error_classes();  // the list --error-class checks against
    return {};
}

// What the positional argument number `index` (0-based) of the command at path takes, from the
// database: job ids, job types, lock keys, queue or schedule names ("" for none: files, say).
std::string positional_values(const std::string& path, std::size_t index) {
    if (path == "jobs retry" || path == "jobs cancel") return "ids";  // any number of ids
    if (index > 0) return "";
    if (path == "jobs show" || path == "jobs logs" || path == "wfq why" || path == "trace show") return "ids";
    if (path == "wfq enqueue") return "types";  // TYPE [PAYLOAD]
    if (path == "lock release" || path == "lock renew") return "locks";
    if (path == "queues pause" || path == "queues resume") return "queues";
    if (path == "schedule remove" || path == "schedule pause" || path == "schedule resume") return "schedules";
    return "";
}

std::vector<std::string> complete(CLI::App* root, Context& ctx, const std::vector<std::string>& words) {
    CLI::App* app = root;
    std::string cur = words.empty() ? "" : words.back();
    std::string prev;
    std::vector<std::string> given;  // the positional arguments already typed for app
    for (std::size_t i = 0; i + 1 < words.size(); ++i) {
        const std::string& w = words[i];
        if (w == "--exec" || w == "--") return {};  // the rest is another program's command line
        if (given.empty())
            if (auto* sub = find_sub(app, w)) {
                app = sub;
                prev.clear();
                continue;
            }
        prev = w;
        const auto* o = w.size() > 1 && w[0] == '-' ? find_option(app, w) : nullptr;
        if (o && takes_value(o) && i + 2 < words.size()) {
            ++i;  // skip its value
            prev.clear();
        } else if (!o && (w.empty() || w[0] != '-')) {
            given.push_back(w);
        }
    }
    std::vector<std::string> candidates;
    if (!prev.empty()) {
        if (const auto* o = find_option(app, prev); o && takes_value(o)) {
            candidates = option_values(ctx, prev);
            if (prev == "--exec" || candidates.empty()) return candidates;
        }
    }
    if (candidates.empty()) {
        if (!cur.empty() && cur[0] == '-') {
            for (CLI::App* a = app; a; a = a->get_parent())
                for (const auto* o : a->get_options([](const CLI::Option* o) { return o->nonpositional(); })) {
                    for (const auto& l : o->get_lnames()) candidates.push_back("--" + l);
                }
        } else {
            if (given.empty())
                for (auto* s : visible_subcommands(app)) candidates.push_back(s->get_name());
            std::string path = app->get_parent() ? app->get_parent()->get_name() + " " + app->get_name() : "";
            if (std::string what = positional_values(path, given.size()); !what.empty()) {
                candidates = database_values(ctx, what);
                // Ids of retry and cancel already on the line are not offered again.
                candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                                [&](const std::string& c) { return std::count(given.begin(), given.end(), c) > 0; }),
                                 candidates.end());
            }
        }
    }
    std::vector<std::string> out;
    std::set<std::string> seen;  // each candidate once: a shell shows a repeated one twice
    for (const auto& c : candidates)
        if (c.compare(0, cur.size(), cur) == 0 && seen.insert(c).second) out.push_back(c);
    return out;
}

// ---- man pages ---------------------------------------------------------------------------

std::string roff_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '\\') out += "\\e";
        else if (c == '-') out += "\\-";
        else out += c;
    }
    if (!out.empty() && (out[0] == '.' || out[0] == '\'')) out = "\\&" + out;
    return out;
}

std::string option_synopsis(const CLI::Option* o) {
    std::string names;
    for (const auto& s : o->get_snames()) names += (names.empty() ? "" : ", ") + std::string("-") + s;
    for (const auto& l : o->get_lnames()) names += (names.empty() ? "" : ", ") + std::string("--") + l;
    return names;
}

void man_options(std::string& out, CLI::App* app, bool with_help) {
    for (const auto* o : app->get_options()) {
        if (!o->nonpositional()) continue;
        if (!with_help && o->get_lnames().size() == 1 && o->get_lnames()[0] == "help") continue;
        out += ".TP\n.B " + roff_escape(option_synopsis(o)) + (takes_value(o) ? " \\fIVALUE\\fR" : "") + "\n" +
               roff_escape(o->get_description()) + "\n";
    }
}

void man_command(std::string& out, CLI::App* app, const std::string& path) {
    std::string synopsis = "wfq " + path;
    for (const auto* o : app->get_options())
        if (o->get_positional()) synopsis += " " + o->get_name();
    out += ".SS " + roff_escape(synopsis) + "\n" + roff_escape(app->get_description()) + "\n";
    man_options(out, app, false);
    for (auto* s : visible_subcommands(app)) man_command(out, s, path + " " + s->get_name());
}

const char* kDate = "2026-11-25";

std::string man_page(CLI::App* root, const std::string& page) {
    std::string out = ".\\\" Generated by `wfq __man " + page + "`; edit cli/commands/*.cpp, then scripts/gen-docs.sh\n";
    if (page == "wfq") {
        out += ".TH WFQ 1 " + std::string(kDate) + " \"wfq " WFQ_VERSION "\" \"wfq manual\"\n";
        out += ".SH NAME\nwfq \\- operate a workflow job queue\n.SH SYNOPSIS\n.B wfq\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n";
        out += ".SH DESCRIPTION\n" + roff_escape(root->get_description()) +
               " It runs on an embedded SQLite file by default and on PostgreSQL for many workers on many hosts.\n";
        out += ".SH COMMANDS\n";
        for (auto* s : visible_subcommands(root))
            out += ".TP\n.BR wfq\\-" + roff_escape(s->get_name()) + " (1)\n" + roff_escape(s->get_description()) + "\n";
        out += ".SH GLOBAL OPTIONS\n";
        man_options(out, root, true);
        out += ".SH ENVIRONMENT\n"
               ".TP\n.B WFQ_DB\nDatabase URL when \\-\\-db is not given; then DATABASE_URL.\n"
               ".TP\n.B WFQ_SCHEMA\nPostgreSQL schema (default wfq).\n"
               ".TP\n.B WFQ_DB_RETRIES\nHow many times an operation is tried when the database is unavailable (default 5).\n"
               ".TP\n.B TRACEPARENT\nW3C trace context that \\fBwfq enqueue\\fR continues.\n"
               ".TP\n.B NO_COLOR\nNo colour even on a terminal.\n";
        out += ".SH FILES\n.TP\n.I $XDG_STATE_HOME/wfq/wfq.db\nThe default SQLite database (~/.local/state/wfq/wfq.db), created mode 0600.\n";
        out += ".SH EXIT STATUS\n";
        const std::pair<const char*, const char*> codes[] = {
            {"0", "success"}, {"1", "failure not listed below"}, {"2", "usage error (unknown flag, bad argument)"},
            {"3", "lock not acquired, or not held by that token"}, {"4", "not found (job, lock, config scope)"},
            {"65", "bad input data (invalid JSON, malformed NDJSON line, corrupt state blob)"},
            {"69", "database unavailable"}, {"78", "configuration error (bad DSN, schema missing or old)"},
            {"130", "interrupted"}};
        for (auto [c, m] : codes) out += ".TP\n.B " + std::string(c) + "\n" + m + "\n";
        out += ".SH EXAMPLES\n.nf\n"
               "wfq enqueue code_review '{\"pr\": 7}' \\-\\-key pr\\-7\n"
               "wfq process \\-\\-concurrency 4 \\-\\-until\\-empty \\-\\-exec ./review.sh\n"
               "wfq jobs list \\-\\-state failed\n"
               "wfq lock run nightly \\-\\-ttl 1m \\-\\- ./report.sh\n.fi\n";
        out += ".SH SEE ALSO\n.BR wfq\\-handler (7)\n";
        return out;
    }
    CLI::App* group = find_sub(root, page.substr(4));
    if (page.rfind("wfq-", 0) != 0 || !group) throw Error(ErrorCode::usage, "no man page named " + page);
    std::string upper;
    for (char c : page) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out += ".TH " + roff_escape(upper) + " 1 " + kDate + " \"wfq " WFQ_VERSION "\" \"wfq manual\"\n";
    out += ".SH NAME\n" + roff_escape(page) + " \\- " + roff_escape(group->get_description()) + "\n";
    if (!group->get_footer().empty()) {
        // The group's --help footer is its DESCRIPTION: a blank line between paragraphs, indented
        // lines a display block (examples, not filled or hyphenated).
        out += ".SH DESCRIPTION\n";
        std::istringstream lines(group->get_footer());
        bool display = false;
        for (std::string line; std::getline(lines, line);) {
            bool indented = !line.empty() && line[0] == ' ';
            if (display && !indented) out += ".fi\n.RE\n";
            if (!display && indented) out += ".RS 4\n.nf\n";
            display = indented;
            out += line.empty() ? ".PP" : roff_escape(indented ? line.substr(line.find_first_not_of(' ')) : line);
            out += "\n";
        }
        if (display) out += ".fi\n.RE\n";
    }
    out += ".SH COMMANDS\n";
    man_command(out, group, group->get_name());
    out += ".SH SEE ALSO\n.BR wfq (1),\n.BR wfq\\-handler (7)\n";
    return out;
}


}  // namespace

std::vector<std::string> man_page_names(CLI::App& root) {
    std::vector<std::string> names{"wfq"};
    for (auto* s : visible_subcommands(&root)) names.push_back("wfq-" + s->get_name());
    return names;
}

int run_completion(CLI::App& app, Context& ctx, const std::vector<std::string>& words) {
    setenv("WFQ_DB_RETRIES", "1", 1);
    setenv("PGCONNECT_TIMEOUT", "1", 0);
    for (const auto& c : complete(&app, ctx, words)) std::cout << c << "\n";
    return 0;
}

void add_internal_commands(CLI::App& app, Context& ctx) {
    auto* man = app.add_subcommand("__man", "")->group("");
    auto page = std::make_shared<std::string>();
    man->add_option("page", *page, "wfq or wfq-GROUP; --list lists them");
    auto list = std::make_shared<bool>(false);
    man->add_flag("--list", *list, "List the pages");
    man->callback([&app, &ctx, page, list] {
        ctx.action = [&app, page, list] {
            if (*list) {
                for (const auto& n : man_page_names(app)) std::cout << n << "\n";
                return 0;
            }
            std::cout << man_page(&app, page->empty() ? "wfq" : *page);
            return 0;
        };
    });
}

}  // namespace wfq::cli
