// Ctrl-C and SIGTERM while an engine runs jobs: caught for the scope of the guard so the engine
// can stop or cancel its jobs in order and record what happened, then the old handlers return.
#pragma once

#include <signal.h>

#include <csignal>

namespace imx {

class InterruptGuard {
public:
    InterruptGuard() {
        flag() = 0;
        struct sigaction sa {};
        sa.sa_handler = [](int) { flag() = 1; };
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int_);
        sigaction(SIGTERM, &sa, &old_term_);
    }
    ~InterruptGuard() {
        sigaction(SIGINT, &old_int_, nullptr);
        sigaction(SIGTERM, &old_term_, nullptr);
    }
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

    bool interrupted() const { return flag() != 0; }
    void clear() { flag() = 0; }

private:
    static volatile std::sig_atomic_t& flag() {
        static volatile std::sig_atomic_t f = 0;
        return f;
    }
    struct sigaction old_int_ {}, old_term_ {};
};

}  // namespace imx
