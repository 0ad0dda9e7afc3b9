#include "outcome.h"

namespace wfq::engine {

const std::string& decision_name(Decision decision) {
    static const std::string names[] = {"completed", "retried",  "failed",   "snoozed",
                                        "parked",    "deferred", "released", "lost"};
    return names[static_cast<int>(decision)];
}

}  // namespace wfq::engine
