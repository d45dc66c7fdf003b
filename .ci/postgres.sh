# Source this file: starts a throwaway PostgreSQL on a free loopback port and exports
# SEG_TEST_POSTGRES_URL. PostgreSQL refuses to run as root, so it runs as the postgres user.
# The server is stopped when the sourcing shell exits (trap on EXIT).

pg_bin=""
for dir in /usr/lib/postgresql/*/bin; do
  [ -x "$dir/initdb" ] && pg_bin="$dir"
done
if [ -z "$pg_bin" ]; then
  echo "PostgreSQL not found; installing it" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && pg_bin="$dir"
  done
fi
[ -n "$pg_bin" ] || { echo "cannot find or install PostgreSQL" >&2; return 1; }

pg_user=postgres
id "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home "$pg_user"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$pg_user" -- "$@"; else "$@"; fi; }

pg_dir=$(mktemp -d /tmp/seg-pg.XXXXXX)
[ "$(id -u)" = 0 ] && chown "$pg_user" "$pg_dir"
pg_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
  || { cat "$pg_dir/initdb.log" >&2; return 1; }
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
  -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
  || { cat "$pg_dir/server.log" >&2; return 1; }
as_pg "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres seg_test
export SEG_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$pg_port/seg_test"
stop_postgres() { as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast stop >/dev/null 2>&1; rm -rf "$pg_dir"; }
trap stop_postgres EXIT
echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$pg_port" >&2
