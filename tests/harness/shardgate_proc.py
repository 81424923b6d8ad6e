"""Runs the shardgate binary as a child process for tests and benchmarks.

    with ShardgateProcess(config_path, port) as sg:
        ...                                  # sg.port accepts connections here
    # stopped: SIGTERM (drain), then SIGKILL after a bound

The binary comes from $SHARDGATE_BIN. Its stdout/stderr go to a log file whose tail is attached
to every failure, because "the proxy did not start" is useless without the reason.
"""

import atexit
import os
import signal
import subprocess
import tempfile
import time
import weakref

from pgcluster import child_setup, free_port, log_tail, port_accepts

__all__ = ["ShardgateError", "ShardgateProcess", "free_port", "run_shardgate", "shardgate_bin"]

START_TIMEOUT_S = 30
STOP_TIMEOUT_S = 15
CLI_TIMEOUT_S = 120


class ShardgateError(RuntimeError):
    pass


def shardgate_bin():
    path = os.environ.get("SHARDGATE_BIN")
    if not path:
        raise ShardgateError("SHARDGATE_BIN is not set: point it at the built shardgate binary")
    if not os.access(path, os.X_OK):
        raise ShardgateError(f"SHARDGATE_BIN={path} is not an executable file (not built yet?)")
    return path


def run_shardgate(*args, timeout=CLI_TIMEOUT_S):
    """Runs `shardgate ARGS...` to completion; returns the CompletedProcess (text mode)."""
    return subprocess.run([shardgate_bin(), *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


_live = weakref.WeakSet()
atexit.register(lambda: [p.stop() for p in list(_live)])


class ShardgateProcess:
    """`shardgate serve -c CONFIG` as a child that dies with us (PR_SET_PDEATHSIG)."""

    def __init__(self, config_path, port, host="127.0.0.1", log_path=None, extra_args=(),
                 env=None, binary=None):
        self.config_path = config_path
        self.host = host
        self.port = port
        self.log_path = log_path or tempfile.mkstemp(prefix="shardgate-", suffix=".log")[1]
        self.extra_args = list(extra_args)
        self.env = env
        self.binary = binary or shardgate_bin()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        cmd = [self.binary, "serve", "-c", self.config_path, *self.extra_args]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env,
                                         preexec_fn=child_setup(signal.SIGKILL))
        _live.add(self)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                _live.discard(self)
                raise ShardgateError(f"shardgate exited with {code} while starting; log "
                                     f"{self.log_path}:\n{log_tail(self.log_path)}")
            if port_accepts(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise ShardgateError(f"shardgate did not accept on {self.host}:{self.port} within "
                             f"{START_TIMEOUT_S}s; log {self.log_path}:\n"
                             f"{log_tail(self.log_path)}")

    def stop(self):
        """SIGTERM (the proxy drains), SIGKILL when the drain outlasts STOP_TIMEOUT_S.
        Returns the exit code (None when it was not running)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        _live.discard(self)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        return proc.returncode

    def rss_kib(self):
        """Resident set size of the proxy (VmRSS from /proc), in KiB."""
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise ShardgateError("no VmRSS in /proc status")
