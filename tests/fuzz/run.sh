#!/usr/bin/env bash
# Builds the libFuzzer targets with Debian's clang (no CMake needed) and runs each in turn:
#   frontend_decoder_fuzz  startup/normal framing, every frontend decoder, server-side auth
#   session_core_fuzz      the session core (proxy/core): client machine and reply expectations
#   tests/fuzz/run.sh [SECONDS]      seconds per target, default 60
# Prints each target's executions and whether its run was clean; exits non-zero on a crash,
# leaving the crashing input under $FUZZ_ARTIFACTS (default /tmp).
set -euo pipefail

seconds="${1:-60}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
artifacts="${FUZZ_ARTIFACTS:-/tmp}"
cxx="${CXX_FUZZ:-clang++}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "building fuzzers in $work"
cflags=(-std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -I"$root")
wire_srcs=("$root"/proxy/wire/*.cpp "$root"/proxy/wire/messages/*.cpp)
"$cxx" "${cflags[@]}" "$root/tests/fuzz/frontend_decoder_fuzz.cpp" "${wire_srcs[@]}" \
    "$root"/proxy/auth/*.cpp -lssl -lcrypto -o "$work/frontend_decoder_fuzz"
"$cxx" "${cflags[@]}" "$root/tests/fuzz/session_core_fuzz.cpp" "${wire_srcs[@]}" \
    "$root"/proxy/core/*.cpp -o "$work/session_core_fuzz"

# A small seed corpus of valid traffic, so mutations start from real message shapes.
corpus="$work/corpus"
mkdir -p "$corpus"
be32() { printf '%b' "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' \
    $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
# msg TYPE BODY: one framed message (BODY in printf %b notation); TYPE "" for startup packets.
msg() {
    local len
    len=$(($(printf '%b' "$2" | wc -c) + 4))
    printf '%s' "$1"
    be32 "$len"
    printf '%b' "$2"
}
seed() { local name=$1; shift; "$@" > "$corpus/$name"; }
seed startup      msg '' '\x00\x03\x00\x00user\x00alice\x00database\x00app\x00\x00'
seed ssl_request  msg '' '\x04\xd2\x16\x2f'
seed cancel       msg '' '\x04\xd2\x16\x2e\x00\x00\x04\xd2\x00\x00\x00\x2a'
seed query        msg Q 'SELECT 1; SELECT 2\x00'
seed parse        msg P 's1\x00SELECT $1\x00\x00\x01\x00\x00\x00\x17'
seed bind         msg B 'p1\x00s1\x00\x00\x01\x00\x01\x00\x00\x00\x0242\x00\x01\x00\x00'
seed bind_null    msg B '\x00\x00\x00\x00\x00\x02\xff\xff\xff\xff\x00\x00\x00\x00\x00\x00'
seed describe     msg D 'Pp1\x00'
seed execute      msg E 'p1\x00\x00\x00\x00\x00'
seed close        msg C 'Ss1\x00'
seed sync         msg S ''
seed copy_data    msg d '1\tone\n2\ttwo\n'
seed copy_fail    msg f 'oops\x00'
seed sasl_initial msg p 'SCRAM-SHA-256\x00\x00\x00\x00\x11n,,n=,r=abcdefghi'
seed sasl_final   msg p 'c=biws,r=abcdefghisrv,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='
seed password     msg p 'md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x00'

# run_target NAME: fuzzes NAME for $seconds from the seed corpus; returns its exit status.
run_target() {
    local name=$1 log="$work/$1.log" status executions
    echo "fuzzing $name for ${seconds}s"
    mkdir -p "$work/corpus_$name"
    cp "$corpus"/* "$work/corpus_$name/"
    set +e
    "$work/$name" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts/sg-$name-" "$work/corpus_$name" > "$log" 2>&1
    status=$?
    set -e
    executions="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    echo "$name executions: ${executions:-unknown}"
    if [[ $status -eq 0 ]]; then
        echo "$name result: clean (no crash, leak, sanitizer report or broken invariant)"
    else
        echo "$name result: FAILED (exit $status); crash input under $artifacts/sg-$name-*"
        grep -m1 -A30 -E '^==[0-9]+==ERROR|runtime error|deadly signal' "$log" || tail -40 "$log"
    fi
    return "$status"
}

failed=0
run_target frontend_decoder_fuzz || failed=1
run_target session_core_fuzz || failed=1
exit "$failed"
