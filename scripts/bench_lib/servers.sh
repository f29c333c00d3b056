#!/usr/bin/env bash
#
# scripts/bench_lib/servers.sh DIR SERVER... -- the test servers of scripts/lib/*.sh for
# scripts/bench, as one child process that owns them.
#
#   SERVER: pg | dovecot | postfix | cyrus (start order; postfix needs dovecot before it)
#
# Installs what is missing (Debian packages, like scripts/test), starts each server under
# DIR on 127.0.0.1, prints the MAILDESK_TEST_* variables as NAME=VALUE lines on stdout,
# then a line READY, and waits until its standard input reaches end of file (the bench
# closes it, or dies). Then, or on SIGINT/SIGTERM, it stops every server it started, in
# reverse order. All server chatter goes to stderr.

set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DIR=${1:?usage: servers.sh DIR SERVER...}
shift

_apt_updated=
apt_install() {
    command -v apt-get >/dev/null 2>&1 || { echo "servers.sh: need Debian package(s) $*" >&2; return 1; }
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    echo "servers.sh: installing Debian package(s): $*" >&2
    if [[ -z $_apt_updated ]]; then
        "${sudo[@]}" apt-get update >&2
        _apt_updated=1
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" >&2
}

# shellcheck source=scripts/lib/postgres.sh
source "$ROOT/scripts/lib/postgres.sh"
# shellcheck source=scripts/lib/dovecot.sh
source "$ROOT/scripts/lib/dovecot.sh"
# shellcheck source=scripts/lib/postfix.sh
source "$ROOT/scripts/lib/postfix.sh"
# shellcheck source=scripts/lib/cyrus.sh
source "$ROOT/scripts/lib/cyrus.sh"

STARTED=()
_stopped=
stop_all() {
    [[ -z $_stopped ]] || return 0
    _stopped=1
    trap '' INT TERM
    # A trap can fire inside `IFS= read`, whose IFS would then leak into the stop functions.
    IFS=$' \t\n'
    local i
    for ((i = ${#STARTED[@]} - 1; i >= 0; i--)); do
        "${STARTED[i]}_stop" >&2 2>&1
    done
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for s in "$@"; do
    case $s in pg | dovecot | postfix | cyrus) ;; *) echo "servers.sh: unknown server $s" >&2; exit 2 ;; esac
    "${s}_ensure_installed" >&2 || { echo "servers.sh: cannot install $s" >&2; exit 1; }
done
for s in "$@"; do
    STARTED+=("$s")
    "${s}_start" "$DIR" >&2 || { echo "servers.sh: $s did not start" >&2; exit 1; }
done

env | grep '^MAILDESK_TEST_' || true
[[ -n ${PG_BINDIR:-} ]] && echo "BENCH_PG_BINDIR=$PG_BINDIR"
echo READY

# Wait for end of file on stdin (read returns non-zero); a line also works.
while read -r line; do
    [[ $line == stop ]] && break
done
exit 0
