#!/usr/bin/env bash
# Installs every Debian package the build, the tests, the demo and the benchmarks need.
# Idempotent: asks dpkg first and only runs apt-get when something is missing.
set -euo pipefail

# The driver matrix (tests/integration/test_driver_*.py) runs psycopg 3 (with its pool),
# asyncpg, SQLAlchemy, Ruby pg, ActiveRecord, PHP PDO and Go pgx v4 from Debian's packages.
# chromium renders the live report page headless in tests/integration/test_live_page.py.
# postgresql-client-15 also gives the rebalancer pg_dump and psql (the schema copy to a new
# shard). postgresql-server-dev-15 has the parse node headers router/raw_tree*.cpp read
# libpg_query's raw parse trees with. etcd-server/etcd-client run the 3-node etcd cluster
# the multi-proxy tests coordinate through (tests/harness/etcdcluster.py).
PKGS=(
  build-essential cmake pkg-config git ca-certificates
  libboost-dev libboost-system-dev libssl-dev libpq-dev
  libpg-query-dev libprotobuf-c-dev libxxhash-dev libspdlog-dev libfmt-dev
  postgresql-server-dev-15
  libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev clang-format clang-tidy
  postgresql-15 postgresql-client-15 pgbouncer prometheus
  etcd-server etcd-client
  python3 python3-psycopg2 python3-xxhash
  python3-psycopg python3-psycopg-pool python3-asyncpg python3-sqlalchemy
  ruby ruby-pg ruby-activerecord php-cli php-pgsql
  golang-go golang-github-jackc-pgx-v4-dev
  libpostgresql-jdbc-java default-jdk-headless libhikaricp-java
  nodejs npm
  chromium
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# node, npm and java may come from outside Debian on a developer machine; accept them there.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    nodejs|npm) command -v node >/dev/null && command -v npm >/dev/null && continue ;;
    default-jdk-headless) command -v javac >/dev/null && continue ;;
    chromium) command -v chromium >/dev/null && continue ;;
  esac
  filtered+=("$p")
done

if [ ${#filtered[@]} -gt 0 ]; then
  echo "deps: installing ${filtered[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${filtered[@]}" >/dev/null
fi

# The pgbouncer package starts a system service on 6432; we never use it (benchmarks run
# their own instance on a free port), so keep it from holding the port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
  systemctl stop pgbouncer || true
fi
# Likewise etcd-server starts a system member on 2379; tests run their own cluster.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
fi

# node-postgres, postgres.js, knex, Sequelize and TypeORM for the real-client tests (npm
# registry, tests/clients/node/package.json), only when one of them is not installed yet.
if [ -f tests/clients/node/package.json ]; then
  for m in pg postgres knex sequelize typeorm reflect-metadata; do
    if [ ! -d "tests/clients/node/node_modules/$m" ]; then
      (cd tests/clients/node && npm install --no-audit --no-fund --silent)
      break
    fi
  done
fi
echo "deps: ok"
