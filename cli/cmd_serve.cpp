// `shardgate serve`: run the proxy until SHUTDOWN or SIGTERM.
#include "cli/commands.h"
#include "proxy/proxy.h"

namespace sg::cli {

int run_serve(const Config& cfg, const std::string& config_path) {
    return proxy::run_proxy(cfg, config_path);
}

}  // namespace sg::cli
