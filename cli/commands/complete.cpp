// Shell completion and man pages, both generated from the command tree itself, so they can't
// drift from --help: the bash, zsh and fish scripts in completions/ call `wfq __complete`,
// and man/ holds what `wfq __man` prints (a test compares the two).
#include "common.h"

#include <wfq/bulk.h>

#include <wfq/backoff.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
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
    if (option == "--key-mode") return {"keep", "replace", "preserve-run-at"};
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

// The reference prose of a page (docs/reference/PAGE.md, a small subset of Markdown) as roff for
// its DESCRIPTION: "## " headings, paragraphs, "- " bullets, ``` blocks and | tables shown as
// written, **bold**. `after_text` says whether a paragraph break is needed before the first line.
std::string man_reference(const std::string& markdown, bool after_text) {
    std::string out;
    std::istringstream lines(markdown);
    std::vector<std::string> table;
    bool code = false, in_list = false, in_item = false, pending_break = after_text, after_heading = false;
    auto text = [](std::string line) {
        line = roff_escape(line);
        for (std::size_t at; (at = line.find("**")) != std::string::npos;) {
            std::size_t end = line.find("**", at + 2);
            if (end == std::string::npos) break;
            line = line.substr(0, at) + "\\fB" + line.substr(at + 2, end - at - 2) + "\\fR" + line.substr(end + 2);
        }
        return line + "\n";
    };
    auto width_of = [](const std::string& s) {  // UTF-8 characters, not bytes, so columns line up
        std::size_t chars = 0;
        for (unsigned char c : s) chars += (c & 0xC0) != 0x80;
        return chars;
    };
    // A table is shown as written, its columns aligned, when it fits 78 columns; a wider one as a
    // list, each row's first cell the tag of the others ("header: cell", after the first column).
    auto flush_table = [&] {
        if (table.empty()) return;
        std::vector<std::vector<std::string>> rows;
        std::vector<std::size_t> width;
        for (const auto& row : table) {
            if (row.find_first_not_of("|-: ") == std::string::npos) continue;  // the |---| line
            std::vector<std::string> cells{""};
            bool in_code = false;  // a | inside `...` is text, not a column
            for (std::size_t i = 1; i < row.size(); ++i) {
                if (row[i] == '`') in_code = !in_code;
                if (row[i] == '|' && !in_code) cells.emplace_back();
                else cells.back() += row[i];
            }
            if (cells.back().find_first_not_of(' ') == std::string::npos) cells.pop_back();
            for (std::size_t i = 0; i < cells.size(); ++i) {
                cells[i].erase(0, cells[i].find_first_not_of(' '));
                cells[i].erase(cells[i].find_last_not_of(' ') + 1);
                if (width.size() <= i) width.push_back(0);
                width[i] = std::max(width[i], width_of(cells[i]));
            }
            rows.push_back(cells);
        }
        std::size_t total = 0;
        for (auto w : width) total += w + 2;
        if (total <= 80) {
            out += (pending_break ? ".PP\n" : "") + std::string(".RS 4\n.nf\n");
            for (const auto& cells : rows) {
                std::string line;
                for (std::size_t i = 0; i < cells.size(); ++i)
                    line += cells[i] + (i + 1 < cells.size() ? std::string(width[i] - width_of(cells[i]) + 2, ' ') : "");
                out += roff_escape(line) + "\n";
            }
            out += ".fi\n.RE\n";
        } else {
            for (std::size_t r = 1; r < rows.size(); ++r) {
                std::string body;
                for (std::size_t i = 1; i < rows[r].size(); ++i) {
                    if (rows[r][i].empty()) continue;
                    if (!body.empty()) body += "; ";
                    body += (rows.front().size() > 2 && i < rows.front().size() ? rows.front()[i] + ": " : "") + rows[r][i];
                }
                out += ".TP\n" + text(rows[r][0]) + text(body);
            }
        }
        table.clear();
        pending_break = true;
    };
    for (std::string line; std::getline(lines, line);) {
        bool heading = !code && (line.rfind("## ", 0) == 0 || line.rfind("### ", 0) == 0);
        if (!line.empty() && !heading) after_heading = false;  // no paragraph break right after a heading
        if (line.rfind("```", 0) == 0) {
            if (!code) out += (pending_break ? ".PP\n" : "") + std::string(".RS 4\n.nf\n");
            else out += ".fi\n.RE\n", pending_break = true;
            code = !code;
            continue;
        }
        if (code) {
            out += line.empty() ? ".sp\n" : roff_escape(line) + "\n";
            continue;
        }
        if (line.rfind("|", 0) == 0) {
            table.push_back(line);
            continue;
        }
        flush_table();
        if (line.rfind("# ", 0) == 0) continue;  // the file's title, for readers of the Markdown
        if (line.empty()) {
            pending_break = pending_break || (!out.empty() && !after_heading);
            in_item = false;
            continue;
        }
        if (heading) {
            out += ".SS " + roff_escape(line.substr(line.find(' ') + 1)) + "\n";
            in_list = in_item = pending_break = false;
            after_heading = true;
            continue;
        }
        if (line.rfind("- ", 0) == 0) {
            out += ".IP \\(bu 2\n" + text(line.substr(2));
            in_list = in_item = true;
            pending_break = false;
            continue;
        }
        std::string words = line.substr(std::min(line.find_first_not_of(' '), line.size()));
        if (in_item) {  // a bullet's next line, indented or not
            out += text(words);
            continue;
        }
        if (in_list && line[0] == ' ') out += ".IP \"\" 2\n", in_item = true;  // a bullet's next paragraph
        else if (pending_break) out += ".PP\n", in_list = false;
        pending_break = false;
        out += text(words);
    }
    flush_table();
    if (code) out += ".fi\n.RE\n";
    return out;
}

std::string read_reference(const std::string& dir, const std::string& page) {
    if (dir.empty()) return "";
    std::ifstream in(dir + "/" + page + ".md");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

const char* kDate = "2026-11-25";

// The page: flags from the command tree, DESCRIPTION from the group's footer and then from
// reference_dir/PAGE.md when reference_dir is given (scripts/gen-docs.sh gives docs/reference).
std::string man_page(CLI::App* root, const std::string& page, const std::string& reference_dir) {
    std::string out = ".\\\" Generated by `wfq __man " + page + "`; edit cli/commands/*.cpp or docs/reference/" + page +
                      ".md, then scripts/gen-docs.sh\n";
    if (page == "wfq") {
        out += ".TH WFQ 1 " + std::string(kDate) + " \"wfq " WFQ_VERSION "\" \"wfq manual\"\n";
        out += ".SH NAME\nwfq \\- operate a workflow job queue\n.SH SYNOPSIS\n.B wfq\n[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]\n";
        out += ".SH DESCRIPTION\n" + roff_escape(root->get_description()) +
               " It runs on an embedded SQLite file by default and on PostgreSQL for many workers on many hosts.\n";
        out += man_reference(read_reference(reference_dir, page), true);
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
            {"0", "success"}, {"1", "failure not listed below (e.g. jobs cancel of a finished job)"},
            {"2", "usage error (unknown flag, bad argument, malformed duration)"},
            {"3", "lock not acquired, or not held by that token"}, {"4", "not found (job, lock, config scope)"},
            {"65", "bad input data (invalid JSON, malformed NDJSON line, corrupt state blob)"},
            {"69", "database unavailable"},
            {"78", "configuration error, at once, no retries (bad DSN, schema missing or old, authentication failed, "
                   "database or role does not exist, SQLite path not writable)"},
            {"130", "interrupted (SIGINT)"}};
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
    std::string reference = read_reference(reference_dir, page);
    if (!group->get_footer().empty() || !reference.empty()) out += ".SH DESCRIPTION\n";
    if (!group->get_footer().empty()) {
        // The group's --help footer opens its DESCRIPTION: a blank line between paragraphs,
        // indented lines a display block (examples, not filled or hyphenated).
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
    out += man_reference(reference, !group->get_footer().empty());
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
    auto reference = std::make_shared<std::string>();
    man->add_option("--reference", *reference, "Directory of the pages' reference prose (docs/reference)");
    man->callback([&app, &ctx, page, list, reference] {
        ctx.action = [&app, page, list, reference] {
            if (*list) {
                for (const auto& n : man_page_names(app)) std::cout << n << "\n";
                return 0;
            }
            std::cout << man_page(&app, page->empty() ? "wfq" : *page, *reference);
            return 0;
        };
    });
}

}  // namespace wfq::cli
