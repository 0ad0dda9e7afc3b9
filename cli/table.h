#pragma once
// Every table wfq prints: rows aligned under headers, measured in terminal columns.
#include <cstddef>
#include <string>
#include <vector>

namespace wfq::cli {

// Terminal columns a string takes: one per code point, colour escapes not counted (wfq's names
// are not East Asian wide).
std::size_t visible_length(const std::string& s);
// s in at most cols columns: cut at a code point and ended with "…" when it is longer.
std::string fit_columns(const std::string& s, std::size_t cols);

// Prints rows aligned under headers on stdout; on a terminal the last column (free text) is cut
// to fit its width.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);

// A column of a table that fits a width (`wfq top`). To add one, add a Column and a cell to each row.
struct Column {
    std::string header;
    std::string short_header;  // used when the table does not fit its width ("": the header)
    int drop = 0;              // 0: always shown; others are dropped, highest first, when it still does not fit
    bool text = false;         // a name: may be cut with "…" (never a number, a duration or a state)
};

struct FittedTable {
    std::string text;                 // the header line and the rows
    std::vector<std::string> hidden;  // headers of the columns not shown
};

// Rows aligned under the headers. With width > 0 every line fits it: short headers first, then
// text columns cut (widest first, each ending in "…"), then columns dropped in their drop order
// (the header line then ends in "…" and hidden names them); a value is never cut mid-word
// without a mark. Trailing spaces are trimmed.
FittedTable fit_table(const std::vector<Column>& cols, std::vector<std::vector<std::string>> rows, int width);

}  // namespace wfq::cli
