"""The setup of the benchmarks that compare shardgate with one PostgreSQL: a cluster of shards
behind a proxy, and a separate one-shard cluster reached directly, both given the same schema.

    sys.path.insert(0, "<repo>/bench")   # importing this module adds tests/harness too
    with sharded_vs_direct.targets(4, SCHEMA, TABLES, "bench_pipeline") as targets:
        host, port, dbname, user = targets["shardgate"]   # and targets["direct"]

The proxy is stopped, then both clusters, when the block ends (also on an error).
"""
import contextlib
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "harness"))
import pgcluster  # noqa: E402
from sgfixture import Proxy, shard_conn, shard_rows  # noqa: E402


@contextlib.contextmanager
def targets(n_shards, schema, tables, name):
    """Yields {"direct": (host, port, dbname, user), "shardgate": (...)}: one PostgreSQL, and
    the proxy `name` (default config, `tables`) over `n_shards` shards."""
    with pgcluster.Cluster(n_shards) as shards, pgcluster.Cluster(1) as direct:
        for cl, n in ((shards, n_shards), (direct, 1)):
            for i in range(n):
                c = shard_conn(cl, i)
                shard_rows(c, schema)
                c.close()
        sg = Proxy(shards, name, tables=tables).start()
        try:
            d = direct.shards[0]
            yield {
                "direct": (d.host, d.port, direct.dbname, direct.superuser),
                "shardgate": ("127.0.0.1", sg.port, shards.dbname, shards.superuser),
            }
        finally:
            sg.stop()
