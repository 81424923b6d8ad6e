#!/usr/bin/env bash
# Every C++ source the repository tracks is formatted by .clang-format (`make format` fixes it):
# a review reads behaviour changes, not whitespace. Prints clang-format's findings and exits 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    echo "not a git checkout: format check needs git ls-files"; exit 1
fi
mapfile -t files < <(git ls-files '*.cpp' '*.h')
clang-format --dry-run --Werror "${files[@]}"
echo "clang-format: ${#files[@]} files clean"
