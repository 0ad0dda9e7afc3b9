#include "output.h"
#include "table.h"

#include <wfq/errors.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <sys/ioctl.h>
#include <poll.h>
#include <termios.h>
#include <algorithm>
#include <vector>
#include <csignal>
#include <cerrno>
#include <unistd.h>

namespace wfq::cli {

bool stdout_is_terminal() { return isatty(STDOUT_FILENO); }
bool stderr_is_terminal() { return isatty(STDERR_FILENO); }

bool use_colour() {
    const char* no = std::getenv("NO_COLOR");
    if (no && *no) return false;
    const char* term = std::getenv("TERM");
    if (term && std::string(term) == "dumb") return false;
    return stdout_is_terminal();
}

int terminal_width() {
    winsize ws{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS")) return std::max(20, std::atoi(c));
    return 80;
}

std::string count_of(std::int64_t n, const std::string& noun) {
    return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

std::string colour_state(const std::string& state) {
    if (!use_colour()) return state;
    const char* code = "";
    if (state == "completed") code = "32";
    else if (state == "failed") code = "31";
    else if (state == "running") code = "36";
    else if (state == "retrying" || state == "waiting") code = "33";
    else if (state == "cancelled") code = "90";
    else if (state == "scheduled") code = "34";
    if (!*code) return state;
    return std::string("\x1b[") + code + "m" + state + "\x1b[0m";
}

Progress::Progress(std::string label, bool enabled) : m_label(std::move(label)), m_enabled(enabled && stderr_is_terminal()) {}

Progress::~Progress() {
    if (m_drawn) std::fprintf(stderr, "\r\x1b[K");
}

void Progress::update(std::int64_t done) {
    if (!m_enabled) return;
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    if (m_drawn && now - m_last_ns < 100'000'000) return;
    m_last_ns = now;
    m_drawn = true;
    std::fprintf(stderr, "\r%s %lld\x1b[K", m_label.c_str(), static_cast<long long>(done));
    std::fflush(stderr);
}

std::string read_input(const std::string& path) {
    std::ostringstream ss;
    if (path == "-") {
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorCode::bad_input, "cannot read " + path);
    ss << in.rdbuf();
    return ss.str();
}

namespace {
volatile std::sig_atomic_t g_live_signal = 0;
extern "C" void live_screen_on_signal(int sig) { g_live_signal = sig; }
}  // namespace

struct LiveScreen::Saved {
    termios tty{};
    bool have_tty = false;
    struct sigaction old_int {}, old_term {};
};

LiveScreen::LiveScreen() : m_saved(new Saved) {
    g_live_signal = 0;
    struct sigaction sa {};
    sa.sa_handler = live_screen_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR, so the loop sees the signal
    sigaction(SIGINT, &sa, &m_saved->old_int);
    sigaction(SIGTERM, &sa, &m_saved->old_term);
    if (tcgetattr(STDIN_FILENO, &m_saved->tty) == 0) {
        m_saved->have_tty = true;
        termios raw = m_saved->tty;
        raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;  // alternate screen, hide the cursor
}

LiveScreen::~LiveScreen() {
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;  // show the cursor, leave the alternate screen
    if (m_saved->have_tty) tcsetattr(STDIN_FILENO, TCSANOW, &m_saved->tty);
    sigaction(SIGINT, &m_saved->old_int, nullptr);
    sigaction(SIGTERM, &m_saved->old_term, nullptr);
    delete m_saved;
}

void LiveScreen::draw(const std::string& frame) {
    winsize ws{};
    int rows = 24, cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
        rows = ws.ws_row;
        cols = ws.ws_col;
    }
    std::vector<std::string> lines;
    std::istringstream in(frame);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    std::size_t room = rows > 1 ? static_cast<std::size_t>(rows - 1) : 0;  // the last row says how to quit
    if (lines.size() > room && room > 0) {  // a short terminal: say that lines are left off
        std::size_t left_off = lines.size() - room + 1;
        lines.resize(room - 1);
        lines.push_back("… " + std::to_string(left_off) + (left_off == 1 ? " more line" : " more lines") +
                        " (a taller terminal shows them)");
    }
    auto width = static_cast<std::size_t>(std::max(cols, 1));
    std::string out = "\x1b[H";
    for (const auto& line : lines) {
        std::string shown = fit_columns(line, width);
        // A line that fills the row leaves the cursor on its last cell, which \x1b[K would erase.
        out += shown + (visible_length(shown) < width ? "\x1b[K\n" : "\r\n");
    }
    out += fit_columns("q: quit", width) + "\x1b[K\x1b[J";
    std::cout << out << std::flush;
}

int LiveScreen::wait_key(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        if (g_live_signal) return -1;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) return 0;
        pollfd fd{STDIN_FILENO, POLLIN, 0};
        int r = poll(&fd, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return 0;
        char c = 0;
        if (::read(STDIN_FILENO, &c, 1) == 1) return static_cast<unsigned char>(c);
        return 0;
    }
}

int LiveScreen::signal() const { return g_live_signal; }

}  // namespace wfq::cli
