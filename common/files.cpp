#include "common/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>

namespace sg {
namespace {

std::string errno_text() {
    return std::strerror(errno);
}

// write(2) until done; short writes are legal for regular files too.
bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

}  // namespace

std::optional<FileProblem> replace_file_atomically(const std::string& path,
                                                   std::string_view content) {
    // A temporary name of this writer's own: two writers of one file (a proxy's etcd watch and
    // a rebalancer sharing its config, both writing a version they just saw published) must
    // not write into, or rename away, each other's temporary file. Each rename is whole.
    static std::atomic<uint64_t> seq{0};
    const std::string tmp =
        path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(++seq);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return FileProblem{tmp, "cannot create: " + errno_text()};
    bool ok = write_all(fd, content) && ::fsync(fd) == 0;
    std::string err = ok ? "" : errno_text();
    ::close(fd);
    if (!ok) {
        ::unlink(tmp.c_str());
        return FileProblem{tmp, "write failed: " + err};
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        err = errno_text();
        ::unlink(tmp.c_str());
        return FileProblem{path, "rename failed: " + err};
    }
    // The rename is durable only once the directory entry is.
    std::string dir = std::filesystem::path(path).parent_path().string();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return FileProblem{dir, "cannot open for fsync: " + errno_text()};
    int rc = ::fsync(dfd);
    err = rc != 0 ? errno_text() : "";
    ::close(dfd);
    if (rc != 0) return FileProblem{dir, "fsync failed: " + err};
    return std::nullopt;
}

}  // namespace sg
