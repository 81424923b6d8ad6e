"""Driver matrix: JDBC (Debian's libpostgresql-jdbc-java) behind HikariCP (Debian's
libhikaricp-java) through the proxy to 2 shards, in transaction and session pooling.
tests/clients/java/HikariDriver.java does what an application does (the schema through the
driver, CRUD by key with prepared statements, transactions over both shards committed and
rolled back, a savepoint rolled back to, PSQLException 23505 then 25P02, 24 threads on a
HikariCP pool of 20 each running transactions over both shards, LISTEN / NOTIFY with
PGConnection.getNotifications, also LISTEN inside a committed and a rolled-back transaction)
and checks its own answers; the rows it leaves are checked here straight on the shards.
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
JAVA_DIR = os.path.join(driver_suite.CLIENTS, "java")
CLASSPATH = ["/usr/share/java/postgresql.jar", "/usr/share/java/HikariCP.jar",
             "/usr/share/java/slf4j-api.jar", "/usr/share/java/slf4j-nop.jar"]
CLASSES = None


def setUpModule():
    global M, CLASSES
    driver_suite.require_tool("javac", "default-jdk-headless")
    for jar in CLASSPATH:
        driver_suite.require_tool(jar, "libpostgresql-jdbc-java libhikaricp-java")
    CLASSES = tempfile.mkdtemp(prefix="sg-hikari-")
    unittest.addModuleCleanup(shutil.rmtree, CLASSES, ignore_errors=True)
    r = subprocess.run(["javac", "-Xlint:all", "-Werror", "-cp", ":".join(CLASSPATH), "-d", CLASSES,
                        os.path.join(JAVA_DIR, "HikariDriver.java")],
                       capture_output=True, text=True, timeout=180)
    if r.returncode != 0:
        raise RuntimeError(f"javac HikariDriver.java failed:\n{r.stdout}{r.stderr}")
    M = client_target.start_matrix("driver_jdbc")
    unittest.addModuleCleanup(M.close)


class Cases(driver_suite.AccountsChecks):

    def test_hikaricp_application(self):
        s0, s1 = self.T.keys_on_two_shards(2)
        out = driver_suite.run_client(
            ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp",
             ":".join([CLASSES] + CLASSPATH), "HikariDriver"], self.T, timeout=150,
            env={"SG_S0": ",".join(map(str, s0)), "SG_S1": ",".join(map(str, s1))})
        result = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(result["total"], 400)  # money moved, never made or lost
        self.assertEqual(result["notifications"], ["jdbc_plain:one", "jdbc_committed:two"])
        self.assert_accounts([(s0[0], f"owner{s0[0]}", 95), (s0[1], f"owner{s0[1]}", 100),
                              (s1[0], f"owner{s1[0]}", 105), (s1[1], "renamed", 100)])


TransactionPooling, SessionPooling = driver_suite.per_pool_mode(Cases, lambda: M)
del Cases

if __name__ == "__main__":
    unittest.main()
