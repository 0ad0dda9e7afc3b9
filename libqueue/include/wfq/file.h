#pragma once
#include <string>

namespace wfq {

// Writes path.tmp then renames it over path, so a reader never sees half a file and a failure
// never leaves one. Throws Error(failure).
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace wfq
