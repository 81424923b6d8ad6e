#include "proxy/analysis_workers.h"

namespace sg::proxy {

AnalysisWorkers::AnalysisWorkers(int threads)
    : threads_(threads < 1 ? 1 : threads), pool_(size_t(threads_)) {}

AnalysisWorkers::~AnalysisWorkers() {
    pool_.join();
}

}  // namespace sg::proxy
