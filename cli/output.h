#pragma once
// The terminal: its width, colour and progress only on a terminal without NO_COLOR, the live
// screen of `wfq top` (tables: table.h).
#include <cstdint>
#include <string>
#include <vector>

namespace wfq::cli {

bool stdout_is_terminal();
bool stderr_is_terminal();
bool use_colour();
int terminal_width();

// A count and its noun for messages: "1 job", "0 jobs", "3 jobs" (the plural adds "s").
std::string count_of(std::int64_t n, const std::string& noun);

// Colours a state name (pending, running, failed, ...) when colour is on.
std::string colour_state(const std::string& state);

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

// A full-screen view on the terminal (`wfq top`): the alternate screen, a hidden cursor and keys
// read one at a time while it lives; the terminal is restored by the destructor, which also
// runs after SIGINT or SIGTERM (they end wait_key instead of the process).
class LiveScreen {
public:
    LiveScreen();
    ~LiveScreen();
    LiveScreen(const LiveScreen&) = delete;
    LiveScreen& operator=(const LiveScreen&) = delete;
    // Replaces the screen with frame, cut to the terminal's size.
    void draw(const std::string& frame);
    // Waits up to timeout_ms for a key: the key, 0 for none, -1 after SIGINT/SIGTERM.
    int wait_key(int timeout_ms);
    // The signal that ended it (0: none).
    int signal() const;

private:
    struct Saved;
    Saved* m_saved;
};

// Reads a whole file, or stdin for "-"; Error(bad_input) when it cannot.
std::string read_input(const std::string& path);

}  // namespace wfq::cli
