#include "fuzz_util.h"

#include <wfq/log.h>

namespace wfq::fuzz {

void quiet_logs() {
    static const bool done = [] {
        log::configure("off", "text");
        return true;
    }();
    (void)done;
}

}  // namespace wfq::fuzz
