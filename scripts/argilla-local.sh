#!/usr/bin/env bash
# A real Argilla 2.8 server on this machine, without Docker: argilla-server in its own virtualenv,
# SQLite as its database (the source of truth), and noida-db as the Elasticsearch-compatible
# search backend and the Redis for its background worker.
#
#   scripts/argilla-local.sh up        install (first time), start, wait until the API answers
#   scripts/argilla-local.sh down      stop exactly what `up` started (data is kept)
#   scripts/argilla-local.sh status    what runs; exit 0 only when everything answers
#   scripts/argilla-local.sh env       print the ARGILLA_API_URL / ARGILLA_API_KEY exports
#   scripts/argilla-local.sh reindex   rebuild the search index from SQLite
#   scripts/argilla-local.sh purge     down, then delete the data (keeps the virtualenv)
#
# Settings (environment): FTKIT_ARGILLA_HOME (state folder, default .argilla-local in the repo),
# FTKIT_ARGILLA_PORT (6900), FTKIT_ARGILLA_ES_PORT (19200), FTKIT_ARGILLA_REDIS_PORT (16379),
# FTKIT_ARGILLA_VENV (the server's virtualenv, default venv in the state folder: a second instance
# can share the first one's), PYTHON (interpreter for the server's virtualenv, default python3).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state=${FTKIT_ARGILLA_HOME:-$repo/.argilla-local}
port=${FTKIT_ARGILLA_PORT:-6900}
es_port=${FTKIT_ARGILLA_ES_PORT:-19200}
redis_port=${FTKIT_ARGILLA_REDIS_PORT:-16379}
python=${PYTHON:-python3}
constraints=$repo/constraints/argilla-server.txt
venv=${FTKIT_ARGILLA_VENV:-$state/venv}
url=http://127.0.0.1:$port
credentials=$state/owner.env

say() { printf 'argilla-local: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# Server-side settings, read by argilla_server through its ARGILLA_ prefix. Exported only into the
# processes this script starts, never into the caller's shell.
server_env() {
  # shellcheck disable=SC1090
  . "$credentials"
  export ARGILLA_HOME_PATH=$state/home
  export ARGILLA_DATABASE_URL=sqlite+aiosqlite:///$state/argilla.db
  export ARGILLA_ELASTICSEARCH=http://127.0.0.1:$es_port
  export ARGILLA_SEARCH_ENGINE=elasticsearch
  export ARGILLA_REDIS_URL=redis://127.0.0.1:$redis_port/0
  export ARGILLA_ENABLE_TELEMETRY=0
  export ARGILLA_AUTH_SECRET_KEY=$FTKIT_ARGILLA_AUTH_SECRET
  export FTKIT_OWNER_API_KEY=$ARGILLA_API_KEY FTKIT_OWNER_PASSWORD=$FTKIT_ARGILLA_OWNER_PASSWORD
}

# A component is alive while a live process of the session `up` gave it still runs its command.
# By process group, not pid: noida-db's Python wrapper exits before the binary it started, which
# takes a few seconds to snapshot its index on SIGTERM.
alive() {
  local name=$1 pid
  [ -f "$state/$name.pid" ] || return 1
  pid=$(cat "$state/$name.pid")
  [ -n "$pid" ] && pgrep -g "$pid" -f -- "$(marker "$name")" >/dev/null
}

marker() {
  case $1 in
    search) echo "noida-db" ;;
    server) echo "argilla_server start" ;;
    worker) echo "argilla_server worker" ;;
  esac
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
  say "$what is ready"
}

api_answers() { curl -sf --max-time 2 "$url/api/v1/version" >/dev/null; }

start_detached() {  # start_detached NAME COMMAND...: own session (setsid) so `down` can stop exactly it
  local name=$1; shift
  setsid "$@" >>"$state/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$state/$name.pid"
}

ensure_venv() {
  local stamp wanted
  wanted=$(sha256sum "$constraints" | cut -d' ' -f1)
  stamp=$(cat "$venv/.ftkit-constraints" 2>/dev/null || true)
  # The stamp is written only after a complete install (importing argilla_server to check costs ~6 s).
  if [ "$stamp" = "$wanted" ] && [ -x "$venv/bin/python" ]; then
    return
  fi
  say "installing argilla-server 2.8.0 and noida-db into $venv (first run only)"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    argilla-server==2.8.0 noida-db -c "$constraints" 2>&1 | grep -v '^WARNING: Location' >&2 || true
  "$venv/bin/python" -c 'import argilla_server' || die "argilla-server did not install into $venv"
  echo "$wanted" > "$venv/.ftkit-constraints"
}

ensure_credentials() {
  [ -f "$credentials" ] && return
  say "creating the local owner's credentials in $credentials (mode 600)"
  local key password secret
  key=$("$python" -c 'import secrets; print("ftkit.owner." + secrets.token_urlsafe(24))')
  password=$("$python" -c 'import secrets; print(secrets.token_urlsafe(12))')
  secret=$("$python" -c 'import secrets; print(secrets.token_hex(32))')
  (umask 077; printf 'ARGILLA_API_KEY=%s\nFTKIT_ARGILLA_OWNER_PASSWORD=%s\nFTKIT_ARGILLA_AUTH_SECRET=%s\n' \
    "$key" "$password" "$secret" > "$credentials")
}

print_env() {
  # shellcheck disable=SC1090
  . "$credentials"
  printf 'export ARGILLA_API_URL=%s\nexport ARGILLA_API_KEY=%s\n' "$url" "$ARGILLA_API_KEY"
}

cmd_up() {
  mkdir -p "$state/logs" "$state/home"
  ensure_venv
  ensure_credentials
  server_env
  # Each component is checked: a search backend or worker that died alone is restarted below.
  if alive search && alive server && alive worker && api_answers; then
    say "already running at $url"
    print_env
    return
  fi
  port_open "$port" && ! alive server && die "port $port is taken by another program (set FTKIT_ARGILLA_PORT)"

  if ! alive search; then
    # A search backend that died without its SIGTERM snapshot lost recent index writes.
    [ -f "$state/search.pid" ] && touch "$state/reindex-needed"
    port_open "$es_port" && die "port $es_port is taken by another program (set FTKIT_ARGILLA_ES_PORT)"
    start_detached search "$venv/bin/noida-db" start --only elasticsearch,redis \
      --data-dir "$state/search" --elasticsearch-port "$es_port" --redis-port "$redis_port"
    wait_for 30 "search backend (:$es_port)" \
      curl -sf --max-time 2 "http://127.0.0.1:$es_port" -o /dev/null \
      || die "search backend did not start; see $state/logs/search.log"
    wait_for 10 "redis (:$redis_port)" port_open "$redis_port" || die "redis did not start"
  fi

  # Migrating and creating the owner in one interpreter: each argilla_server import costs ~6 s.
  "$venv/bin/python" "$repo/scripts/argilla_bootstrap.py" >>"$state/logs/bootstrap.log" 2>&1 \
    || die "database migration failed; see $state/logs/bootstrap.log"
  if [ -f "$state/reindex-needed" ]; then
    say "search backend stopped uncleanly last time: rebuilding the index from SQLite"
    "$venv/bin/python" -m argilla_server search-engine reindex >>"$state/logs/bootstrap.log" 2>&1 \
      || die "reindex failed; see $state/logs/bootstrap.log"
    rm -f "$state/reindex-needed"
  fi

  alive server || start_detached server "$venv/bin/python" -m argilla_server start --host 127.0.0.1 --port "$port"
  alive worker || start_detached worker "$venv/bin/python" -m argilla_server worker --num-workers 2
  wait_for 120 "Argilla API ($url)" api_answers || {
    tail -n 20 "$state/logs/server.log" >&2
    die "Argilla did not answer within 120 s; see $state/logs/server.log"
  }
  say "UI: $url  (sign in as 'argilla'; password in $credentials)"
  print_env
}

stop() {
  local name=$1 pid started=$SECONDS
  if alive "$name"; then
    pid=$(cat "$state/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 120); do alive "$name" || break; sleep 0.25; done
    if alive "$name"; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      # Killed before its snapshot: the next `up` rebuilds the index from SQLite.
      [ "$name" = search ] && touch "$state/reindex-needed"
      say "$name did not stop within 30 s: killed"
    else
      say "stopped $name ($((SECONDS - started)) s)"
    fi
  fi
  rm -f "$state/$name.pid"
}

cmd_down() {
  # Worker and server first, so nothing writes to the index while it snapshots on SIGTERM.
  stop worker
  stop server
  stop search
}

cmd_status() {
  local rc=0 name
  for name in search server worker; do
    if alive "$name"; then echo "$name: running (pid $(cat "$state/$name.pid"))"; else echo "$name: stopped"; rc=3; fi
  done
  if api_answers; then echo "api: $url answers $(curl -s "$url/api/v1/version")"; else echo "api: $url not answering"; rc=3; fi
  return $rc
}

cmd_reindex() {
  [ -f "$credentials" ] || die "nothing to reindex: run 'up' first"
  server_env
  "$venv/bin/python" -m argilla_server search-engine reindex
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) [ -f "$credentials" ] || die "no local server set up yet: run 'up' first"; print_env ;;
  reindex) cmd_reindex ;;
  purge) cmd_down; rm -rf "$state/argilla.db" "$state/search" "$state/home" "$credentials"; say "data deleted" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
