"""Opens N idle, fully authenticated client connections (psycopg2) and holds them.

Used by bench.py to measure a proxy's memory with 1000 idle clients:

    with IdleClients(dsn, 1000) as clients:    # all N are logged in here
        rss = read_rss(pid)
"""

import resource

import psycopg2


def raise_fd_limit(needed):
    """Each connection is a file descriptor: lift the soft limit to the hard one if needed.
    Children started afterwards (the proxies) inherit it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(needed, soft)), hard))


def read_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class IdleClients:
    def __init__(self, dsn, n):
        self.dsn = dsn
        self.n = n
        self.conns = []

    def __enter__(self):
        raise_fd_limit(self.n + 256)
        try:
            for _ in range(self.n):
                c = psycopg2.connect(self.dsn)
                c.autocommit = True
                # One round trip so the session is past login and idle, not half-open.
                with c.cursor() as cur:
                    cur.execute("SELECT 1")
                self.conns.append(c)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for c in self.conns:
            c.close()
        self.conns = []
