# shellcheck shell=bash
#
# Throwaway PostgreSQL server for the test suite.
#
# Sourced by scripts/test (one lib file per server: postgres.sh now,
# dovecot.sh / postfix.sh later).  It only defines functions and variables;
# nothing runs at source time.
#
# Public interface
#   pg_ensure_installed   find (or apt-install) the server binaries; sets PG_BINDIR
#   pg_start DIR          initdb + start a private cluster under DIR/pg (DIR must
#                         exist; it is normally the script's mktemp -d dir).
#                         Listens on 127.0.0.1:<free port> only, unix socket in
#                         DIR/pg/sock, trust auth, fsync=off.  Exports:
#                           MAILDESK_TEST_PG_URL   postgres://postgres@127.0.0.1:PORT/postgres
#                           MAILDESK_TEST_PG_HOST  127.0.0.1
#                           MAILDESK_TEST_PG_PORT  PORT
#                           MAILDESK_TEST_PG_SOCKET_DIR  DIR/pg/sock
#   pg_stop               stop the server (immediate mode, SIGKILL as last resort).
#                         Idempotent, never fails, safe to call if pg_start never
#                         ran or failed half way -- meant for EXIT traps.
#
# Optional inputs
#   MAILDESK_TEST_PG_BINDIR  use this directory instead of /usr/lib/postgresql/*/bin
#   apt_install PKG...       function provided by scripts/test; if it is not
#                            defined and the binaries are missing we just fail.
#
# PostgreSQL refuses to run as root, so when we are root every server command
# runs as the `postgres` OS user (created by the Debian package) via runuser.

# shellcheck disable=SC2034 # PG_PORT is for callers
PG_BINDIR=${PG_BINDIR:-}
PG_DIR=
PG_DATADIR=
PG_SOCKETDIR=
PG_LOGFILE=
PG_PORT=

_pg_log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# Newest /usr/lib/postgresql/<ver>/bin that has initdb, pg_ctl and postgres.
_pg_find_bindir() {
    local d candidates=()
    if [[ -n ${MAILDESK_TEST_PG_BINDIR:-} ]]; then
        candidates=("$MAILDESK_TEST_PG_BINDIR")
    else
        # Debian layout; sort -V so 16 beats 9.6.
        while IFS= read -r d; do
            candidates+=("$d")
        done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -rV)
    fi
    for d in "${candidates[@]}"; do
        if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
            PG_BINDIR=$d
            return 0
        fi
    done
    return 1
}

pg_ensure_installed() {
    if _pg_find_bindir; then
        return 0
    fi
    if [[ -n ${MAILDESK_TEST_PG_BINDIR:-} ]]; then
        _pg_log "MAILDESK_TEST_PG_BINDIR=$MAILDESK_TEST_PG_BINDIR has no initdb/pg_ctl/postgres"
        return 1
    fi
    if ! declare -F apt_install >/dev/null; then
        _pg_log "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install the 'postgresql' package"
        return 1
    fi
    # The Debian package would otherwise create and start a system-wide
    # "main" cluster on port 5432 that we neither need nor want running.
    if [[ ! -d /etc/postgresql ]] && [[ $(id -u) -eq 0 ]]; then
        mkdir -p /etc/postgresql-common/createcluster.d
        printf '# written by maildesk scripts/test: no default cluster needed\ncreate_main_cluster = false\n' \
            >/etc/postgresql-common/createcluster.d/maildesk-test.conf
    fi
    apt_install postgresql
    if ! _pg_find_bindir; then
        _pg_log "installed 'postgresql' but still no server binaries under /usr/lib/postgresql/*/bin"
        return 1
    fi
}

# Run a server-side command as the cluster owner, from a directory that user
# can read (avoids "could not change directory" noise).
_pg_as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd "$PG_DIR" && runuser -u postgres -- "$@")
    else
        (cd "$PG_DIR" && "$@")
    fi
}

_pg_free_port() {
    local port
    if command -v python3 >/dev/null 2>&1 &&
        port=$(python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' 2>/dev/null) && [[ $port =~ ^[0-9]+$ ]]; then
        echo "$port"
    else
        echo $((40000 + RANDOM % 20000))
    fi
}

pg_start() {
    local base=${1:?pg_start: need a base directory (e.g. the mktemp -d dir)}
    [[ -d $base ]] || { _pg_log "pg_start: $base is not a directory"; return 1; }
    [[ -z $PG_DIR ]] || { _pg_log "pg_start: already started in $PG_DIR"; return 1; }
    [[ -n $PG_BINDIR ]] || pg_ensure_installed || return 1

    PG_DIR=$(cd "$base" && pwd)/pg
    PG_DATADIR=$PG_DIR/data
    PG_SOCKETDIR=$PG_DIR/sock
    PG_LOGFILE=$PG_DIR/postgres.log

    # Unix socket paths are limited to 107 bytes.
    if ((${#PG_SOCKETDIR} + 20 > 107)); then
        _pg_log "socket dir path too long: $PG_SOCKETDIR (set TMPDIR to something shorter)"
        return 1
    fi

    mkdir -p "$PG_SOCKETDIR"
    : >"$PG_LOGFILE"
    if [[ $(id -u) -eq 0 ]]; then
        if ! id postgres >/dev/null 2>&1; then
            useradd --system --user-group --no-create-home \
                --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres
        fi
        # The postgres user must be able to traverse down to its directory.
        chmod 0711 "$base"
        chown -R postgres: "$PG_DIR"
        if ! runuser -u postgres -- test -w "$PG_DIR"; then
            _pg_log "user postgres cannot write $PG_DIR (is a parent directory of \$TMPDIR private?)"
            return 1
        fi
    fi

    if ! _pg_as_owner "$PG_BINDIR/initdb" -D "$PG_DATADIR" -U postgres \
        --auth=trust --encoding=UTF8 --locale=C --no-sync --no-instructions \
        >>"$PG_LOGFILE" 2>&1; then
        _pg_log "initdb failed; log follows"
        cat "$PG_LOGFILE" >&2
        return 1
    fi

    # Loopback only; the port is passed on the command line per attempt.
    cat >>"$PG_DATADIR/postgresql.conf" <<EOF

# --- maildesk scripts/test ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCKETDIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
log_min_messages = warning
EOF
    cat >"$PG_DATADIR/pg_hba.conf" <<'EOF'
# maildesk scripts/test: throwaway cluster, loopback only, no passwords
local   all  all                 trust
host    all  all  127.0.0.1/32   trust
host    all  all  ::1/128        trust
EOF

    # A free port can be taken between probing and binding (e.g. by a
    # concurrent scripts/test), so retry on bind failures.
    local attempt port offset
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        port=$(_pg_free_port)
        offset=$(wc -c <"$PG_LOGFILE")
        # pg_ctl puts the postmaster in its own session with stdio on the
        # log file; pg_ctl's own output goes to the log as well.
        # shellcheck disable=SC2094 # both only append
        if _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATADIR" -l "$PG_LOGFILE" \
            -o "-p $port" -w -t 60 start </dev/null >>"$PG_LOGFILE" 2>&1; then
            PG_PORT=$port
            export MAILDESK_TEST_PG_HOST=127.0.0.1
            export MAILDESK_TEST_PG_PORT=$port
            export MAILDESK_TEST_PG_SOCKET_DIR=$PG_SOCKETDIR
            export MAILDESK_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/postgres"
            _pg_log "PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data $PG_DATADIR)"
            return 0
        fi
        # (process substitution, not a pipe: grep -q + pipefail = SIGPIPE races)
        if grep -qiE 'could not bind|address already in use' < <(tail -c +"$((offset + 1))" "$PG_LOGFILE"); then
            _pg_log "port $port taken, retrying (attempt $attempt)"
            continue
        fi
        break
    done
    _pg_log "could not start PostgreSQL; end of $PG_LOGFILE follows"
    tail -n 40 "$PG_LOGFILE" >&2
    pg_stop
    return 1
}

pg_stop() {
    [[ -n ${PG_DATADIR:-} && -n ${PG_BINDIR:-} ]] || return 0
    local pidfile=$PG_DATADIR/postmaster.pid pid=
    if [[ -f $pidfile ]]; then
        pid=$(head -n1 "$pidfile" 2>/dev/null || true)
        _pg_as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATADIR" -m immediate -w -t 30 stop \
            </dev/null >>"$PG_LOGFILE" 2>&1 || true
    fi
    # Last resort: postmaster did not go away (or pg_ctl timed out during start).
    if [[ -f $pidfile && $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null; then
        _pg_log "postmaster $pid still running; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    # Backends notice postmaster death and exit by themselves; wait for
    # that, then kill whatever is left (every server process has its cwd in
    # the data directory, so /proc tells us which ones are ours).
    local _ left
    for _ in $(seq 50); do
        left=$(_pg_leftover_pids)
        [[ -n $left ]] || break
        sleep 0.1
    done
    if [[ -n $left ]]; then
        _pg_log "killing leftover server processes: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
    fi
    # shellcheck disable=SC2034
    PG_PORT=
    return 0
}

# PIDs of processes whose working directory is inside our cluster directory.
_pg_leftover_pids() {
    [[ -n ${PG_DIR:-} ]] || return 0
    # find complains (and fails) about processes vanishing under it; ignore.
    { find /proc -mindepth 2 -maxdepth 2 -name cwd \
        \( -lname "$PG_DIR" -o -lname "$PG_DIR/*" \) 2>/dev/null || true; } |
        awk -F/ '{ printf "%s%s", sep, $3; sep = " " }'
}
