<?php
// Driver matrix: PHP PDO (Debian's php-pgsql) doing what an application does, through the
// target in PG* variables, once with native (server-side) prepares and once with emulated
// ones (argv[1]: native|emulated). SG_S0 / SG_S1: comma-separated keys on shard s0 / s1.
// Each step checks its answers and throws on a wrong one (exit 1); the final rows are
// checked on the shards by tests/integration/test_driver_php.py.

$mode = $argv[1];
$s0 = array_map('intval', explode(',', getenv('SG_S0')));
$s1 = array_map('intval', explode(',', getenv('SG_S1')));

function check($what, $got, $want) {
    if ($got !== $want) {
        throw new RuntimeException("$what: got " . var_export($got, true) . ", want " . var_export($want, true));
    }
}

function connect($mode) {
    $dsn = sprintf("pgsql:host=%s;port=%s;dbname=%s;application_name=pdo-test", getenv('PGHOST'),
                   getenv('PGPORT'), getenv('PGDATABASE'));
    return new PDO($dsn, getenv('PGUSER'), getenv('PGPASSWORD'), [
        PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
        PDO::ATTR_EMULATE_PREPARES => $mode === 'emulated',
        PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_NUM,
    ]);
}

$db = connect($mode);
$db->exec("DROP TABLE IF EXISTS accounts");
$db->exec("CREATE TABLE accounts (id bigint PRIMARY KEY, owner text NOT NULL, balance bigint NOT NULL DEFAULT 0)");

// CRUD by key with one prepared statement executed many times.
$keys = array_merge(array_slice($s0, 0, 2), array_slice($s1, 0, 2));
$ins = $db->prepare("INSERT INTO accounts (id, owner, balance) VALUES (?, ?, ?)");
foreach ($keys as $k) $ins->execute([$k, "o$k", 100]);
$get = $db->prepare("SELECT owner, balance FROM accounts WHERE id = :id");
foreach ($keys as $k) {
    $get->execute([':id' => $k]);
    check("get $k", $get->fetchAll(), [["o$k", 100]]);
}
$upd = $db->prepare("UPDATE accounts SET owner = ? WHERE id = ?");
$upd->execute(["renamed", $s1[1]]);
check("update count", $upd->rowCount(), 1);
check("count", $db->query("SELECT count(*) FROM accounts")->fetchColumn(), 4);

// A transaction over two shards: commit, and roll back.
$move = $db->prepare("UPDATE accounts SET balance = balance + ? WHERE id = ?");
$db->beginTransaction();
$move->execute([-30, $s0[0]]);
$move->execute([30, $s1[0]]);
$db->commit();
$db->beginTransaction();
$move->execute([-1000, $s0[0]]);
$move->execute([1000, $s1[0]]);
$db->rollBack();

// Savepoints.
$db->beginTransaction();
$move->execute([1, $s0[1]]);
$db->exec("SAVEPOINT sp");
$move->execute([500, $s1[1]]);
$db->exec("ROLLBACK TO SAVEPOINT sp");
$move->execute([2, $s1[1]]);
$db->commit();

// A unique violation: PDOException with SQLSTATE 23505, then 25P02 until rollBack.
$db->beginTransaction();
$move->execute([5, $s0[0]]);
try {
    $ins->execute([$s1[0], "dup", 0]);
    throw new RuntimeException("the duplicate was accepted");
} catch (PDOException $e) {
    check("unique violation", $e->getCode(), "23505");
}
try {
    $db->query("SELECT 1");
    throw new RuntimeException("the failed transaction went on");
} catch (PDOException $e) {
    check("failed transaction", $e->getCode(), "25P02");
}
$db->rollBack();
check("usable again", $db->query("SELECT 2")->fetchColumn(), 2);

// A statement that fails outside a transaction leaves the connection usable.
try {
    $db->query("SELECT * FROM no_such_table_here");
} catch (PDOException $e) {
    check("undefined table", $e->getCode(), "42P01");
}

// A cursor in a transaction (a scrollable PDO statement is a server-side cursor), declared on
// s1 and fetched after a statement on s0. PDO declares it WITH HOLD: through the proxy in
// transaction pooling that is refused with 0A000 (an expected refusal: a held cursor outlives
// the transaction on its server connection), and the transaction rolls back.
$expect_refusal = getenv('SG_MODE') === 'shardgate' && getenv('SG_POOL_MODE') === 'transaction';
$cursor = 'ok';
$db->beginTransaction();
try {
    $cur = $db->prepare("SELECT id FROM accounts WHERE id = ANY(?::bigint[]) ORDER BY id",
                        [PDO::ATTR_CURSOR => PDO::CURSOR_SCROLL]);
    $cur->execute(['{' . $s1[0] . ',' . $s1[1] . '}']);
    $first = $cur->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_NEXT);
    $move->execute([0, $s0[0]]);
    $second = $cur->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_NEXT);
    $again = $cur->fetch(PDO::FETCH_NUM, PDO::FETCH_ORI_FIRST);
    $sorted = [$s1[0], $s1[1]];
    sort($sorted);
    check("cursor", [$first[0], $second[0], $again[0]], [$sorted[0], $sorted[1], $sorted[0]]);
    $cur->closeCursor();
    $db->commit();
} catch (PDOException $e) {
    if (!$expect_refusal || $e->getCode() !== '0A000' || strpos($e->getMessage(), 'WITH HOLD') === false) throw $e;
    $cursor = 'refused';
    $db->rollBack();
}
check("cursor refused as expected", $cursor, $expect_refusal ? 'refused' : 'ok');

// LISTEN/NOTIFY (one LISTEN through PDO::exec, one through a prepared statement: server-side
// with native prepares): a NOTIFY from another connection arrives with its payload
// (pgsqlGetNotify); after UNLISTEN only the channel still listened on is heard.
$listener = connect($mode);
$listener->exec("LISTEN pdo_ch");
$listener->prepare("LISTEN pdo_sync")->execute();
$heard = function () use ($listener) {
    $n = $listener->pgsqlGetNotify(PDO::FETCH_ASSOC, 10000);
    return $n === false ? false : [$n['message'], $n['payload']];
};
$db->prepare("SELECT pg_notify(?, ?)")->execute(["pdo_ch", "hello"]);
check("notification", $heard(), ["pdo_ch", "hello"]);
$listener->exec("UNLISTEN pdo_ch");
$db->exec("NOTIFY pdo_ch, 'after UNLISTEN'");
$db->exec("NOTIFY pdo_sync, 'last'");
check("after UNLISTEN", $heard(), ["pdo_sync", "last"]);
$listener = null;

// COPY both ways over both shards.
check("copy in", $db->pgsqlCopyFromArray("accounts", ["$s0[2]\tcopied\t7", "$s1[2]\tcopied\t7"]), true);
$out = $db->pgsqlCopyToArray("accounts");
check("copy out", count($out), 6);

echo json_encode(["total" => $db->query("SELECT sum(balance) FROM accounts")->fetchColumn(),
                  "cursor" => $cursor]), "\n";
