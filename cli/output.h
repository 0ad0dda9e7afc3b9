#pragma once
// Human tables and JSON on stdout; colour and progress only on a terminal without NO_COLOR.
#include <cstdint>
#include <string>
#include <vector>

namespace wfq::cli {

bool stdout_is_terminal();
bool stderr_is_terminal();
bool use_colour();
int terminal_width();

// Colours a state name (pending, running, failed, ...) when colour is on.
std::string colour_state(const std::string& state);

// Prints rows aligned under headers, fitted to the terminal width on a terminal.
void print_table(const std::vector<std::string>& headers, const std::vector<std::vector<std::string>>& rows);

// A one-line progress counter on stderr, only on a terminal.
class Progress {
public:
    explicit Progress(std::string label, bool enabled);
    ~Progress();
    void update(std::int64_t done);

private:
    std::string m_label;
    bool m_enabled;
    std::int64_t m_last_ns = 0;
    bool m_drawn = false;
};

// Reads a whole file, or stdin for "-"; Error(bad_input) when it cannot.
std::string read_input(const std::string& path);

}  // namespace wfq::cli
