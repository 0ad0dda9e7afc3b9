// DSNs and libpq keyword strings, differential against libpq's own parser: every password
// PQconninfoParse finds must be gone from redact_dsn's text (read again by libpq it is "***" or
// absent), and redaction takes linear time whatever the input (a regex overflowed the stack).
#include "fuzz_util.h"

#include <cstring>

#include <wfq/store.h>

#include <libpq-fe.h>

#include <memory>
#include <optional>

namespace {

struct Parsed {
    bool ok = false;
    std::optional<std::string> password;
    std::vector<std::string> others;  // every other option's value, and the keywords
};

Parsed parse(const std::string& conninfo) {
    Parsed p;
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &err);
    if (err) PQfreemem(err);
    if (!options) return p;
    p.ok = true;
    for (PQconninfoOption* o = options; o->keyword; ++o) {
        p.others.emplace_back(std::string(o->keyword) + "=");
        if (!o->val) continue;
        if (std::string(o->keyword) == "password") p.password = o->val;
        else p.others.emplace_back(o->val);
    }
    PQconninfoFree(options);
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string text(wfq::fuzz::as_text(data, size));
    const std::string redacted = wfq::redact_dsn(text);
    if (text.find('\0') != std::string::npos) return 0;  // libpq reads a C string
    const Parsed before = parse(text);
    if (!before.ok || !before.password || before.password->empty()) return 0;
    const std::string& password = *before.password;
    // Read again by libpq, the redacted DSN gives no password but "***".
    const Parsed after = parse(redacted);
    if (after.ok && after.password)
        FUZZ_CHECK(*after.password == "***" || after.password->empty(),
                   "libpq reads password '" + *after.password + "' in '" + redacted + "' from '" + text + "'");
    // And the password's text is not there, unless what is shown on purpose holds it too: other
    // values, keywords ("ssword=" is in "password="), the URI prefix, the "***".
    if (redacted.find(password) != std::string::npos && password.size() >= 3) {
        bool elsewhere = std::string("postgresql://***").find(password) != std::string::npos;
        for (const auto& v : before.others) elsewhere = elsewhere || v.find(password) != std::string::npos;
        // A password made only of keywords, blanks (libpq's isspace), separators and the mask's
        // asterisks (`password=' password='`, `password='password=***'`) is text the redacted DSN
        // shows anyway.
        std::string rest = password;
        for (const auto& v : before.others)
            for (std::size_t at; !v.empty() && (at = rest.find(v)) != std::string::npos;) rest.erase(at, v.size());
        elsewhere = elsewhere || rest.find_first_not_of(" \t\n\v\f\r='\\*") == std::string::npos;
        // The password's text is found only across what the redacted DSN shows as its structure,
        // its keywords and the mask (`ord=*` and `d= ` in `password= ***`): with those taken out,
        // it is not there. (A real leak into a value stays, and the re-parse above catches one
        // into the password.)
        {
            std::string masked = redacted;
            auto erase_all = [&](const std::string& shown) {
                for (std::size_t at; !shown.empty() && (at = masked.find(shown)) != std::string::npos;) masked.erase(at, shown.size());
            };
            for (const auto& v : before.others)
                if (!v.empty() && v.back() == '=') erase_all(v);
            erase_all("***");
            elsewhere = elsewhere || masked.find(password) == std::string::npos;
        }
        // The input holds the password's text a second time outside the password (across the host
        // and the port in `postgresql://u:b:pw@ob:pw@h`): the host and port are shown on purpose.
        if (const auto at = text.find(password); at != std::string::npos) {
            std::string without = text;
            without.replace(at, password.size(), "\x01");
            elsewhere = elsewhere || without.find(password) != std::string::npos;
        }
        FUZZ_CHECK(elsewhere, "password '" + password + "' shows in '" + redacted + "' from '" + text + "'");
    }
    return 0;
}
