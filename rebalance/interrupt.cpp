#include "rebalance/interrupt.h"

#include <csignal>

namespace sg::rebalance {

namespace {

// Written by the handler: only lock-free, async-signal-safe state.
volatile std::sig_atomic_t g_signal = 0;
volatile std::sig_atomic_t g_in_switch = 0;

extern "C" void on_signal(int sig) {
    if (!g_in_switch) {
        // No pause is held: die of the signal as before (signal() and raise() are
        // async-signal-safe).
        std::signal(sig, SIG_DFL);
        std::raise(sig);
        return;
    }
    g_signal = sig;
}

}  // namespace

void install_interrupt_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

int interrupt_signal() {
    return g_signal;
}
bool interrupted() {
    return g_signal != 0;
}

SwitchInProgress::SwitchInProgress() {
    g_in_switch = 1;
}
SwitchInProgress::~SwitchInProgress() {
    g_in_switch = 0;
}

}  // namespace sg::rebalance
