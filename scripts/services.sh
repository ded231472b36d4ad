#!/usr/bin/env bash
# Starts (or stops) the PostgreSQL and Redis the tests use: private instances on loopback in a
# temporary directory, never the system services.
#   eval "$(scripts/services.sh start DIR)"   prints the exports the tests read
#   scripts/services.sh stop DIR
# PostgreSQL refuses to run as root, so as root it runs as the unprivileged `postgres` account
# (created by Debian's postgresql package); Redis runs as the current user.
set -euo pipefail
cmd="${1:?start|stop}"
dir="${2:?directory}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

as_pg() {
  if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

case "$cmd" in
start)
  mkdir -p "$dir/pg" "$dir/redis"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$dir" "$dir/pg"
  pg_port=$(free_port)
  as_pg "$pg_bin/initdb" -D "$dir/pg/data" -U gatehouse --auth=trust -E UTF8 --locale=C.UTF-8 \
    >"$dir/pg/initdb.log" 2>&1 || { cat "$dir/pg/initdb.log" >&2; exit 1; }
  # Loopback TCP only; the socket directory is private. fsync off: throw-away test data (the
  # benchmarks set GATEHOUSE_PG_FSYNC=on, so commits cost what they cost in production).
  as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -l "$dir/pg/server.log" -w -t 60 \
    -o "-h 127.0.0.1 -p $pg_port -k $dir/pg -c fsync=${GATEHOUSE_PG_FSYNC:-off} -c max_connections=200" start >/dev/null \
    || { cat "$dir/pg/server.log" >&2; exit 1; }
  as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U gatehouse gatehouse
  redis_port=$(free_port)
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --daemonize yes \
    --dir "$dir/redis" --pidfile "$dir/redis/redis.pid" --logfile "$dir/redis/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$redis_port" ping >/dev/null
  echo "export GATEHOUSE_TEST_POSTGRES_URL=postgresql://gatehouse@127.0.0.1:$pg_port/gatehouse"
  echo "export GATEHOUSE_TEST_PG_BIN=$pg_bin"
  echo "export GATEHOUSE_TEST_REDIS_URL=redis://127.0.0.1:$redis_port"
  ;;
stop)
  # Wait for Redis to be gone: whoever runs this next (a throw-away root's cleanup, the next
  # run) must not find it still shutting down.
  if [[ -f "$dir/redis/redis.pid" ]]; then
    redis_pid="$(cat "$dir/redis/redis.pid")"
    kill "$redis_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.05; done
  fi
  [[ -d "$dir/pg/data" ]] && as_pg "$pg_bin/pg_ctl" -D "$dir/pg/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
