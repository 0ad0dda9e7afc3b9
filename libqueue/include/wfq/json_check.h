#pragma once
// JSON documents the queue stores: payloads, handler results, config documents, signal data.
// One queue, one contract: both backends refuse what PostgreSQL's jsonb cannot hold (\u0000 in
// a string or key, a byte order mark, nesting deep enough to exhaust its stack), and what would
// exhaust ours, before anything reaches the database.
#include <nlohmann/json_fwd.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wfq {

constexpr int kMaxJsonDepth = 1000;                     // arrays and objects inside each other
constexpr std::size_t kMaxJsonBytes = std::size_t{64} << 20;  // 64 MiB of JSON text

// What makes text unfit to parse, before parsing it: "is too large (N bytes, at most M)", "has a
// NUL byte at byte N, …", "is nested more than 1000 levels deep"; nullopt when nothing does.
std::optional<std::string> json_text_problem(std::string_view text, std::size_t max_bytes);

// Parses text as JSON (RFC 8259) within bounds, for any JSON that comes from outside (files,
// handler output, stored blobs): at most max_bytes, nested at most kMaxJsonDepth deep, no raw
// NUL byte (nlohmann's lexer stops at one and would ignore what follows), numbers a double can
// hold (1e400 is refused). Throws Error(bad_input): "WHAT is too large (…)", "WHAT is nested
// more than 1000 levels deep", "WHAT is not valid JSON: …", "WHAT has a NUL byte at byte N …".
nlohmann::json parse_bounded_json(std::string_view text, const std::string& what, std::size_t max_bytes = kMaxJsonBytes);

// Parses text as a document the queue can store: JSON (RFC 8259) in UTF-8, at most
// kMaxJsonBytes, nested at most kMaxJsonDepth deep, no \u0000 in any string or key. Throws
// Error(bad_input) naming what: "WHAT is not valid JSON: …", "WHAT: the string at /a/b contains
// \u0000 …" (an empty what gives the problem alone). A leading UTF-8 byte order mark is refused
// too: PostgreSQL rejects it.
nlohmann::json parse_storable_json(std::string_view text, const std::string& what);

// Why a parsed document cannot be stored (a string or key holding \u0000, or nesting deeper
// than kMaxJsonDepth), naming where with a JSON pointer; nullopt when it can.
std::optional<std::string> storable_json_problem(const nlohmann::json& doc);

// A handler's stdout as the job's result: the compact JSON to keep, or nullopt. why_not says
// why output was not kept (over the cap, not JSON, not storable); it stays empty when there
// was no output.
std::optional<std::string> result_to_keep(const std::string& output, bool truncated, std::string& why_not);

// Appends s as a JSON string literal (quoted, escaped per RFC 8259), for JSON written by hand
// on hot paths and in SQL parameters.
void append_json_string(std::string& out, std::string_view s);

}  // namespace wfq
