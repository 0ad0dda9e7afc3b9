#pragma once
// gzip (RFC 1952) streams in memory, readable by gzip(1).
#include <cstddef>
#include <string>

namespace wfq {

// level 1..9 (6 is zlib's default); throws Error(usage) for another level.
std::string gzip_compress(const std::string& data, int level = 6);
// Throws Error(bad_input) for data that is not a complete, valid gzip stream (concatenated
// members are accepted, as gzip -d does), or that inflates to more than max_output bytes (a
// gzip bomb stops there, not when memory runs out).
std::string gzip_decompress(const std::string& data, std::size_t max_output = std::size_t{1} << 30);
bool looks_gzipped(const std::string& data);

}  // namespace wfq
