#include "common.h"

#include <wfq/file.h>
#include <wfq/gzip.h>
#include <wfq/json_check.h>
#include <wfq/state.h>


namespace wfq::cli {
namespace {

json read_json(const std::string& path, const char* what) {
    return parse_bounded_json(read_input(path), std::string(what) + " " + path);
}

void check_format(const std::string& f) {
    if (f != "json-patch" && f != "merge-patch")
        throw Error(ErrorCode::usage, "unknown --format '" + f + "' (json-patch, merge-patch)");
}

void write_output(const std::string& path, const std::string& data) {
    if (path.empty() || path == "-") {
        std::cout.write(data.data(), static_cast<std::streamsize>(data.size()));
        std::cout.flush();
        return;
    }
    write_file_atomically(path, data);
}

struct DiffCmd {
    std::string old_path, new_path, format = "json-patch";
    bool stats = false;
};

int run_diff(Context&, DiffCmd& o) {
    check_format(o.format);
    json a = read_json(o.old_path, "OLD"), b = read_json(o.new_path, "NEW");
    json patch = o.format == "json-patch" ? diff_json_patch(a, b) : diff_merge_patch(a, b);
    if (!o.stats) {
        std::cout << canonical(patch) << "\n";
        return 0;
    }
    std::string full = canonical(b), p = canonical(patch);
    json s{{"full_bytes", full.size()},
           {"full_gzip_bytes", gzip_compress(full).size()},
           {"patch_bytes", p.size()},
           {"patch_gzip_bytes", gzip_compress(p).size()},
           {"operations", patch.is_array() ? patch.size() : 1}};
    std::cout << s.dump() << "\n";
    return 0;
}

struct PatchCmd {
    std::string doc_path, patch_path, format = "json-patch";
};

int run_patch(Context&, PatchCmd& o) {
    check_format(o.format);
    if (o.doc_path == "-" && o.patch_path == "-") throw Error(ErrorCode::usage, "only one of DOC and PATCH can be stdin");
    json doc = read_json(o.doc_path, "DOC"), patch = read_json(o.patch_path, "PATCH");
    json out = o.format == "json-patch" ? apply_json_patch(doc, patch) : apply_merge_patch(doc, patch);
    std::cout << canonical(out) << "\n";
    return 0;
}

struct GzipCmd {
    std::string in = "-", out;
    int level = 6;
};

int run_compress(Context&, GzipCmd& o) {
    write_output(o.out, gzip_compress(read_input(o.in), o.level));
    return 0;
}

int run_decompress(Context&, GzipCmd& o) {
    write_output(o.out, gzip_decompress(read_input(o.in)));
    return 0;
}

}  // namespace

void add_state_command(CLI::App& app, Context& ctx) {
    auto* group = app.add_subcommand("state", "Pipeline state tools: JSON patches and gzip");
    group->require_subcommand(1);

    auto d = std::make_shared<DiffCmd>();
    auto* diff = group->add_subcommand("diff", "Print the patch that turns OLD into NEW");
    diff->add_option("old", d->old_path, "Old JSON document (- for stdin)")->required();
    diff->add_option("new", d->new_path, "New JSON document")->required();
    diff->add_option("--format", d->format, "json-patch (RFC 6902) or merge-patch (RFC 7396)")->capture_default_str();
    diff->add_flag("--stats", d->stats, "Print sizes (full, patch, gzip of each) instead of the patch");
    on_run(diff, ctx, d, run_diff);

    auto p = std::make_shared<PatchCmd>();
    auto* patch = group->add_subcommand("patch", "Apply PATCH to DOC and print the result");
    patch->add_option("doc", p->doc_path, "JSON document (- for stdin)")->required();
    patch->add_option("patch", p->patch_path, "The patch")->required();
    patch->add_option("--format", p->format, "json-patch (RFC 6902) or merge-patch (RFC 7396)")->capture_default_str();
    on_run(patch, ctx, p, run_patch);

    auto c = std::make_shared<GzipCmd>();
    auto* compress = group->add_subcommand("compress", "gzip a file (RFC 1952; gzip -d reads it)");
    compress->add_option("in", c->in, "Input file (default stdin)");
    compress->add_option("-o,--output", c->out, "Output file (default stdout)");
    compress->add_option("--level", c->level, "1 (fast) to 9 (small)")->capture_default_str()->check(CLI::Range(1, 9));
    on_run(compress, ctx, c, run_compress);

    auto x = std::make_shared<GzipCmd>();
    auto* decompress = group->add_subcommand("decompress", "gunzip a file (what gzip wrote)");
    decompress->add_option("in", x->in, "Input file (default stdin)");
    decompress->add_option("-o,--output", x->out, "Output file (default stdout)");
    on_run(decompress, ctx, x, run_decompress);

    add_pipeline_commands(app, ctx, *group);
}

}  // namespace wfq::cli
