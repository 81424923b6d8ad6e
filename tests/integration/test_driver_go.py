"""Driver matrix: Go pgx v4 (Debian's golang-go and golang-github-jackc-pgx-v4-dev, built in
GOPATH mode from /usr/share/gocode) through the proxy to 2 shards, in transaction and session
pooling. tests/clients/go/pgx_driver.go does what an application does (a pool of 20 with 24
goroutines, CRUD by key through pgx's statement cache, transactions over two shards with a
savepoint, *pgconn.PgError 23505 then 25P02, a batch over both shards with a failing row, a
cursor declared on one shard fetched after a statement on the other, CopyFrom in binary) and
checks its own answers; the rows it leaves are checked here straight on the shards.
SG_TARGET=direct runs it against one PostgreSQL."""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

import client_target
import driver_suite

M = None
GO_DIR = os.path.join(driver_suite.CLIENTS, "go")
GOPATH = "/usr/share/gocode"
BINARY = None


def setUpModule():
    global M, BINARY
    driver_suite.require_tool("go", "golang-go")
    driver_suite.require_tool(os.path.join(GOPATH, "src", "github.com", "jackc", "pgx", "v4"),
                              "golang-github-jackc-pgx-v4-dev")
    out = tempfile.mkdtemp(prefix="sg-pgx-")
    unittest.addModuleCleanup(shutil.rmtree, out, ignore_errors=True)
    BINARY = os.path.join(out, "pgx_driver")
    # The build cache is kept between runs (a cold build of pgx takes ~10 s).
    env = dict(os.environ, GO111MODULE="off", GOPATH=GOPATH, GOFLAGS="",
               GOCACHE=os.path.join(tempfile.gettempdir(), "sg-go-build-cache"))
    r = subprocess.run(["go", "build", "-o", BINARY, "pgx_driver.go"], cwd=GO_DIR, env=env,
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"go build of {GO_DIR}/pgx_driver.go failed:\n{r.stdout}{r.stderr}")
    M = client_target.start_matrix("driver_go")
    unittest.addModuleCleanup(M.close)


class Cases(driver_suite.AccountsChecks):

    def test_pgx_application(self):
        s0, s1 = self.T.keys_on_two_shards(3)
        out = driver_suite.run_client(
            [BINARY], self.T, cwd=GO_DIR, timeout=90,
            env={"SG_S0": ",".join(map(str, s0)), "SG_S1": ",".join(map(str, s1))})
        total = json.loads(out.strip().splitlines()[-1])["total"]
        # 4 accounts of 100, +1 +2 in the savepoint case, 2 copied of 7.
        self.assertEqual(total, 417)
        rows = self.shard_accounts()
        self.assertEqual(sum(r[2] for r in rows), 417)
        self.assertEqual(sorted(r[0] for r in rows), sorted(s0 + s1))
        self.assertEqual({r[0]: r[1] for r in rows}[s1[1]], "renamed")
        self.assertEqual(self.T.placement_errors("accounts"), [])
        self.assertEqual(self.T.prepared_xacts(), [])


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
