# shellcheck shell=bash
#
# Throwaway Dovecot IMAP server for the test suite.
#
# Sourced by scripts/test (one lib file per server, like postgres.sh).  When
# sourced it only defines functions and variables; nothing runs.  Run as a
# program it offers `restart DIR` and `stop DIR` on an instance that
# dovecot_start set up (that is what MAILDESK_TEST_DOVECOT_RESTART calls).
#
# Public interface
#   dovecot_ensure_installed  find (or apt-install dovecot-imapd, dovecot-lmtpd
#                             and openssl) the binaries; sets DOVECOT_BIN.
#                             Installing never leaves a system-wide Dovecot
#                             running or enabled.
#   dovecot_start DIR         set up and start a private Dovecot under DIR/dovecot
#                             (DIR must exist; normally the script's mktemp -d dir).
#                             Everything lives there: config, certificates, users,
#                             maildirs (owned by nobody), logs, runtime base_dir.
#                             Listens on 127.0.0.1 only, on two free high ports:
#                             IMAP (plain LOGIN allowed, STARTTLS offered) and
#                             IMAPS (implicit TLS).  Users `support`, `box01` ...
#                             `box60`, `other`, `customer1` ... `customer20`,
#                             `staff1` ... `staff5` and `stranger`, all with
#                             password `secret` (list: dovecot_users).  Also an
#                             LMTP unix socket (DOVECOT_LMTP_SOCKET: recipient
#                             `user+detail@any.domain` goes to INBOX of `user`,
#                             with `Delivered-To: <user+detail@any.domain>`) and
#                             a SASL auth socket for Postfix (DOVECOT_AUTH_SOCKET),
#                             both mode 0666; postfix.sh uses them.
#                             Exports:
#                               MAILDESK_TEST_IMAP_HOST      127.0.0.1
#                               MAILDESK_TEST_IMAP_PORT      plain/STARTTLS port
#                               MAILDESK_TEST_IMAPS_PORT     implicit TLS port
#                               MAILDESK_TEST_IMAP_CA        CA (PEM) that signed the
#                                                            server cert (SAN localhost,
#                                                            127.0.0.1)
#                               MAILDESK_TEST_IMAP_WRONG_CA  an unrelated CA (PEM)
#                               MAILDESK_TEST_IMAP_PASSWORD  Pw-7qX9-maildesk-test
#                               MAILDESK_TEST_DOVECOT_CONF   the dovecot.conf path
#                               MAILDESK_TEST_DOVECOT_RESTART
#                                   shell command (for `sh -c`): stops Dovecot (all
#                                   client connections drop) and starts it again
#                                   with the same config and ports; returns once
#                                   the IMAP port greets again.
#   dovecot_users             print the test user names, one a line.
#   dovecot_stop              stop the server (SIGTERM, SIGKILL as last resort).
#                             Idempotent, never fails, safe to call if
#                             dovecot_start never ran or failed half way.
#
# Optional inputs
#   apt_install PKG...        function provided by scripts/test; if it is not
#                             defined and the binaries are missing we just fail.
#
# How processes are found: the Dovecot master daemonizes with setsid(), so every
# process of one instance (master, login, imap, auth, ...) shares the master's
# session id.  Each started master's pid and session id are appended to
# DIR/dovecot/masters; stopping kills exactly those sessions' Dovecot processes.

# shellcheck disable=SC2034 # DOVECOT_PORT / DOVECOT_IMAPS_PORT / ..._SOCKET are for callers
DOVECOT_BIN=${DOVECOT_BIN:-}
DOVECOT_DIR=
DOVECOT_CONF=
DOVECOT_PORT=
DOVECOT_IMAPS_PORT=
DOVECOT_LMTP_SOCKET=
DOVECOT_AUTH_SOCKET=

_DOVECOT_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$_DOVECOT_LIB")/common.sh"
_DOVECOT_POLICY_MARK='written by maildesk scripts/lib/dovecot.sh'
_DOVECOT_LOCK_FD=

_dovecot_log() { printf 'dovecot.sh: %s\n' "$*" >&2; }

# Sets DOVECOT_BIN when dovecot, its imap + imap-login + lmtp binaries and
# openssl exist.
_dovecot_find() {
    local bin
    bin=$(command -v dovecot 2>/dev/null) || bin=/usr/sbin/dovecot
    [[ -x $bin ]] || return 1
    [[ -x /usr/lib/dovecot/imap && -x /usr/lib/dovecot/imap-login ]] || return 1
    [[ -x /usr/lib/dovecot/lmtp ]] || return 1
    command -v openssl >/dev/null 2>&1 || return 1
    DOVECOT_BIN=$bin
}

dovecot_ensure_installed() {
    if _dovecot_find; then
        return 0
    fi
    if ! declare -F apt_install >/dev/null; then
        _dovecot_log "dovecot (with imap and lmtp) or openssl not found; install the 'dovecot-imapd', 'dovecot-lmtpd' and 'openssl' packages"
        return 1
    fi
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)

    # The package would start a system-wide Dovecot on ports 143/993 (where
    # an init system runs).  A policy-rc.d that says "no" keeps invoke-rc.d
    # and deb-systemd-invoke from starting it during the install; one we
    # wrote earlier and could not remove (interrupted run) counts as ours.
    local policy=/usr/sbin/policy-rc.d ours=
    if [[ ! -e $policy ]] || grep -qF "$_DOVECOT_POLICY_MARK" "$policy" 2>/dev/null; then
        if printf '#!/bin/sh\n# %s during apt-get install; removed right after\nexit 101\n' \
            "$_DOVECOT_POLICY_MARK" | "${sudo[@]}" tee "$policy" >/dev/null &&
            "${sudo[@]}" chmod 0755 "$policy"; then
            ours=1
        fi
    fi
    # In a subshell: apt_install exits on failure, and the policy file must
    # go away whatever happens.
    local rc=0
    (apt_install dovecot-imapd dovecot-lmtpd openssl) || rc=$?
    if [[ -n $ours ]]; then
        "${sudo[@]}" rm -f "$policy" || true
    fi
    ((rc == 0)) || return "$rc"
    # Tell scripts/test's apt_install that the package lists are fresh now.
    _apt_updated=1

    # Belt and braces: nothing enabled for the next boot, nothing running now.
    if command -v systemctl >/dev/null 2>&1; then
        "${sudo[@]}" systemctl disable --quiet dovecot.service dovecot.socket >/dev/null 2>&1 || true
        if [[ -d /run/systemd/system ]]; then
            "${sudo[@]}" systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
        fi
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        "${sudo[@]}" update-rc.d dovecot disable >/dev/null 2>&1 || true
    fi
    local pid
    pid=$(head -n1 /run/dovecot/master.pid 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */dovecot ]]; then
        _dovecot_log "stopping the system-wide Dovecot the package started (pid $pid)"
        "${sudo[@]}" kill -TERM "$pid" 2>/dev/null || true
    fi

    if ! _dovecot_find; then
        _dovecot_log "installed 'dovecot-imapd', 'dovecot-lmtpd' and 'openssl' but still no dovecot/imap/lmtp/openssl binaries"
        return 1
    fi
}

# CA + leaf for localhost/127.0.0.1, and an unrelated second CA, in $1.
_dovecot_make_certs() {
    local tls=$1
    mkdir -p "$tls"
    # Our own openssl config: independent of /etc/ssl/openssl.cnf defaults.
    cat >"$tls/openssl.cnf" <<'EOF'
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ leaf_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    local ossl=(openssl)
    local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    local serial
    serial=0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
    (
        cd "$tls" &&
            umask 077 &&
            "${ossl[@]}" req -config openssl.cnf -x509 "${newkey[@]}" -days 3650 \
                -subj '/O=maildesk tests/CN=maildesk test CA' -extensions ca_ext \
                -keyout ca.key -out ca.pem &&
            "${ossl[@]}" req -config openssl.cnf -x509 "${newkey[@]}" -days 3650 \
                -subj '/O=maildesk tests/CN=maildesk unrelated test CA' -extensions ca_ext \
                -keyout wrong-ca.key -out wrong-ca.pem &&
            "${ossl[@]}" req -config openssl.cnf -new "${newkey[@]}" \
                -subj '/O=maildesk tests/CN=localhost' -keyout server.key -out server.csr &&
            "${ossl[@]}" x509 -req -in server.csr -CA ca.pem -CAkey ca.key \
                -set_serial "$serial" -days 3650 -extfile openssl.cnf -extensions leaf_ext \
                -out server.pem &&
            chmod 0644 ca.pem wrong-ca.pem server.pem
    ) >>"$DOVECOT_DIR/startup.log" 2>&1
}

# Write DIR/dovecot.conf for the given ports.
_dovecot_write_conf() {
    local port=$1 imaps_port=$2 d=$DOVECOT_DIR
    cat >"$DOVECOT_CONF" <<EOF
# maildesk scripts/test: throwaway Dovecot, loopback only.  Written by
# scripts/lib/dovecot.sh; nothing here refers to system-wide files.
instance_name = maildesk-test
base_dir = $d/run
state_dir = $d/state
protocols = imap lmtp
listen = 127.0.0.1

log_path = $d/dovecot.log
info_log_path = $d/info.log
debug_log_path = $d/info.log
log_timestamp = "%Y-%m-%d %H:%M:%S.%{usecs} "
shutdown_clients = yes
default_process_limit = 1000
default_client_limit = 4000

ssl = yes
ssl_cert = <$d/tls/server.pem
ssl_key = <$d/tls/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
# Failed logins must be answered at once (tests try wrong passwords).
# auth_failure_delay = 0 alone does not do that: failures are still queued
# and flushed every 0.5 s unless the request carries the field nodelay,
# and fields set by a passdb that fails are dropped.  So the first passdb
# only adds nodelay (noauthenticate: it authenticates nobody, the lookup
# goes on to the next passdb, which checks the password as usual).
auth_failure_delay = 0
passdb {
  driver = static
  args = nopassword=y noauthenticate=y nodelay=yes
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN $d/users
}
userdb {
  driver = passwd-file
  args = $d/users
}

mail_location = maildir:~/Maildir:LAYOUT=fs
mail_fsync = never
namespace inbox {
  inbox = yes
  separator = /
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox Sent {
    special_use = \Sent
  }
  mailbox Trash {
    special_use = \Trash
  }
  mailbox Junk {
    special_use = \Junk
  }
}
mailbox_idle_check_interval = 1 secs

protocol imap {
  imap_idle_notify_interval = 5 secs
  mail_max_userip_connections = 1000
}

service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $imaps_port
    ssl = yes
  }
}

# After a failed login Dovecot would delay the next one from the same IP by
# 2-15 s; without this socket the auth process cannot ask for a penalty.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}

# LMTP for the test Postfix (scripts/lib/postfix.sh), unix socket only.
# RCPT TO:<user+detail@domain> is delivered to INBOX of the user "user":
# recipient_delimiter strips +detail, the userdb lookup drops the domain
# (for LMTP only: IMAP logins keep the user name as given), and the
# Delivered-To header keeps the address as it was sent.
recipient_delimiter = +
lmtp_save_to_detail_mailbox = no
lmtp_hdr_delivery_address = final
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
protocol lmtp {
  auth_username_format = %Ln
}

# SASL for the test Postfix (smtpd_sasl_type = dovecot).
service auth {
  unix_listener auth-postfix {
    mode = 0666
  }
}
EOF
}

# True when 127.0.0.1:$1 accepts a connection (and, with $2 = greet, sends
# an IMAP "* OK" greeting within a second).
_dovecot_port_ready() {
    if [[ -n ${2:-} ]]; then lib_port_ready "$1" "a LOGOUT" '\* OK*'; else lib_port_ready "$1"; fi
}

# _dovecot_is_ours PID: the process runs a Dovecot binary.
_dovecot_is_ours() {
    local exe
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    exe=${exe% (deleted)}
    [[ $exe == "${DOVECOT_BIN:-/usr/sbin/dovecot}" || $exe == /usr/sbin/dovecot || $exe == /usr/lib/dovecot/* ]]
}

# PIDs (space separated) of Dovecot processes in any of the sessions given.
_dovecot_session_pids() { lib_session_pids _dovecot_is_ours "$@"; }

# _dovecot_kill_all DIR: stop every master started for DIR (see DIR/masters)
# and all their processes.  SIGTERM goes to all of them at once: sent to the
# master alone, shutdown takes ~10 s (the imap and log processes linger), this
# way ~0.1 s; clients get "* BYE Server shutting down." either way.  A master
# whose children are all gone but that still dawdles (it sometimes waits 1 s)
# gets SIGKILL after 0.1 s, and so does anything else left after 5 s.
_dovecot_kill_all() {
    local dir=$1 pid sid sids=() masters=() left _ i p only_masters
    [[ -f $dir/masters ]] || return 0
    while read -r pid sid; do
        if [[ $pid =~ ^[0-9]+$ && $sid =~ ^[0-9]+$ ]]; then
            sids+=("$sid")
            masters+=("$pid")
        fi
    done <"$dir/masters"
    ((${#sids[@]} > 0)) || return 0
    left=$(_dovecot_session_pids "${sids[@]}")
    # shellcheck disable=SC2086
    [[ -z $left ]] || kill -TERM $left 2>/dev/null || true
    for i in $(seq 100); do
        left=$(_dovecot_session_pids "${sids[@]}")
        [[ -n $left ]] || break
        only_masters=1
        for p in $left; do
            [[ " ${masters[*]} " == *" $p "* ]] || only_masters=
        done
        if [[ -n $only_masters ]] && ((i >= 2)); then
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
        elif ((i % 10 == 0)); then
            # Anything spawned while the master got the signal needs one too.
            # shellcheck disable=SC2086
            kill -TERM $left 2>/dev/null || true
        fi
        sleep 0.05
    done
    if [[ -n $left ]]; then
        _dovecot_log "killing leftover Dovecot processes: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -n $(_dovecot_session_pids "${sids[@]}") ]] || break
            sleep 0.05
        done
    fi
    : >"$dir/masters"
}

# _dovecot_launch DIR [TRIES]: start the master once DIR's config is in place;
# wait until both ports accept connections.  Returns 2 when the ports could
# not be bound (taken), 1 on other failures.
_dovecot_launch() {
    local dir=$1 port imaps_port bin pid sid _ offset
    local DOVECOT_BIN DOVECOT_PORT DOVECOT_IMAPS_PORT
    # shellcheck disable=SC1091
    source "$dir/instance.env" || return 1
    port=$DOVECOT_PORT imaps_port=$DOVECOT_IMAPS_PORT bin=$DOVECOT_BIN
    offset=$(wc -c <"$dir/startup.log")
    rm -f "$dir/run/master.pid"
    # The master daemonizes (fork + setsid) after binding its listeners; its
    # stdio must not be the caller's (a pipe reader would wait forever).
    # Nor may it keep the restart lock (_dovecot_restart) open forever.
    local rc=0
    if [[ -n ${_DOVECOT_LOCK_FD:-} ]]; then
        "$bin" -c "$dir/dovecot.conf" </dev/null >>"$dir/startup.log" 2>&1 {_DOVECOT_LOCK_FD}>&- || rc=$?
    else
        "$bin" -c "$dir/dovecot.conf" </dev/null >>"$dir/startup.log" 2>&1 || rc=$?
    fi
    if ((rc != 0)); then
        if grep -qiE 'address already in use|bind\(' < <(tail -c +"$((offset + 1))" "$dir/startup.log"); then
            return 2
        fi
        return 1
    fi
    for _ in $(seq 100); do
        pid=$(head -n1 "$dir/run/master.pid" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] && break
        sleep 0.02
    done
    if [[ $pid =~ ^[0-9]+$ ]]; then
        sid=$(awk '{ sub(/.*\) /, ""); print $4 }' "/proc/$pid/stat" 2>/dev/null || true)
        [[ $sid =~ ^[0-9]+$ ]] || sid=$pid
        echo "$pid $sid" >>"$dir/masters"
    else
        echo "dovecot.sh: no master.pid appeared in $dir/run" >>"$dir/startup.log"
        return 1
    fi
    for _ in $(seq 200); do
        if _dovecot_port_ready "$port" greet && _dovecot_port_ready "$imaps_port" &&
            [[ -S $dir/run/lmtp ]]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    echo "dovecot.sh: ports $port/$imaps_port not ready" >>"$dir/startup.log"
    return 1
}

# Stop and start again with the same config and ports (MAILDESK_TEST_DOVECOT_RESTART).
_dovecot_restart() {
    local dir=${1:?_dovecot_restart: need the instance directory} rc _
    [[ -f $dir/dovecot.conf && -f $dir/instance.env ]] || {
        _dovecot_log "restart: $dir is not a dovecot_start instance"
        return 1
    }
    # shellcheck disable=SC1091
    source "$dir/instance.env" || return 1
    # Tests running in parallel may restart at the same time: one at a time.
    if command -v flock >/dev/null 2>&1; then
        exec {_DOVECOT_LOCK_FD}>>"$dir/restart.lock" && flock "$_DOVECOT_LOCK_FD"
    fi
    _dovecot_kill_all "$dir"
    # The ports were ours a moment ago; allow a few seconds for them to free.
    for _ in $(seq 50); do
        rc=0
        _dovecot_launch "$dir" || rc=$?
        ((rc == 2)) || break
        sleep 0.1
    done
    if ((rc != 0)); then
        _dovecot_log "restart failed; end of $dir/startup.log and dovecot.log follow"
        tail -n 20 "$dir/startup.log" "$dir/dovecot.log" >&2 2>/dev/null
        return 1
    fi
}

dovecot_start() {
    local base=${1:?dovecot_start: need a base directory (e.g. the mktemp -d dir)}
    [[ -d $base ]] || { _dovecot_log "dovecot_start: $base is not a directory"; return 1; }
    [[ -z $DOVECOT_DIR ]] || { _dovecot_log "dovecot_start: already started in $DOVECOT_DIR"; return 1; }
    [[ -n $DOVECOT_BIN ]] || dovecot_ensure_installed || return 1
    if [[ $(id -u) -ne 0 ]]; then
        _dovecot_log "dovecot_start: must run as root (Dovecot switches to the mail user nobody)"
        return 1
    fi

    DOVECOT_DIR=$(cd "$base" && pwd)/dovecot
    DOVECOT_CONF=$DOVECOT_DIR/dovecot.conf
    # Unix sockets (base_dir/login/..., token-login/imap-urlauth) max 107 bytes.
    if ((${#DOVECOT_DIR} + 40 > 107)); then
        _dovecot_log "directory path too long: $DOVECOT_DIR (set TMPDIR to something shorter)"
        DOVECOT_DIR=
        return 1
    fi

    local t0=$EPOCHREALTIME
    mkdir -p "$DOVECOT_DIR"/{run,state,mail}
    : >"$DOVECOT_DIR/startup.log"
    : >"$DOVECOT_DIR/masters"
    # Login, auth and mail processes run as dovenull, dovecot and nobody:
    # they must be able to traverse down to their files.
    chmod 0711 "$base"
    chmod 0755 "$DOVECOT_DIR"
    chown nobody:nogroup "$DOVECOT_DIR/mail"
    chmod 0755 "$DOVECOT_DIR/mail"

    if ! _dovecot_make_certs "$DOVECOT_DIR/tls"; then
        _dovecot_log "certificate generation failed; log follows"
        cat "$DOVECOT_DIR/startup.log" >&2
        return 1
    fi

    local uid gid u
    uid=$(id -u nobody 2>/dev/null || true)
    gid=$(getent group nogroup 2>/dev/null | cut -d: -f3)
    if [[ ! $uid =~ ^[0-9]+$ || ! $gid =~ ^[0-9]+$ ]]; then
        _dovecot_log "user nobody / group nogroup missing"
        return 1
    fi
    {
        for u in $(dovecot_users); do
            printf '%s:{PLAIN}Pw-7qX9-maildesk-test:%s:%s::%s/mail/%s::\n' "$u" "$uid" "$gid" "$DOVECOT_DIR" "$u"
        done
    } >"$DOVECOT_DIR/users"
    chmod 0644 "$DOVECOT_DIR/users"

    # A free port can be taken between probing and binding (e.g. by a
    # concurrent scripts/test), so retry with new ports on bind failures.
    local attempt ports port imaps_port rc
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        ports=$(lib_free_ports)
        port=${ports% *} imaps_port=${ports#* }
        _dovecot_write_conf "$port" "$imaps_port"
        {
            printf 'DOVECOT_BIN=%q\n' "$DOVECOT_BIN"
            printf 'DOVECOT_PORT=%q\n' "$port"
            printf 'DOVECOT_IMAPS_PORT=%q\n' "$imaps_port"
        } >"$DOVECOT_DIR/instance.env"
        rc=0
        _dovecot_launch "$DOVECOT_DIR" || rc=$?
        if ((rc == 0)); then
            DOVECOT_PORT=$port
            DOVECOT_IMAPS_PORT=$imaps_port
            DOVECOT_LMTP_SOCKET=$DOVECOT_DIR/run/lmtp
            DOVECOT_AUTH_SOCKET=$DOVECOT_DIR/run/auth-postfix
            export MAILDESK_TEST_IMAP_HOST=127.0.0.1
            export MAILDESK_TEST_IMAP_PORT=$port
            export MAILDESK_TEST_IMAPS_PORT=$imaps_port
            export MAILDESK_TEST_IMAP_CA=$DOVECOT_DIR/tls/ca.pem
            export MAILDESK_TEST_IMAP_WRONG_CA=$DOVECOT_DIR/tls/wrong-ca.pem
            export MAILDESK_TEST_IMAP_PASSWORD=Pw-7qX9-maildesk-test
            export MAILDESK_TEST_DOVECOT_CONF=$DOVECOT_CONF
            MAILDESK_TEST_DOVECOT_RESTART="bash $(lib_shquote "$_DOVECOT_LIB") restart $(lib_shquote "$DOVECOT_DIR")"
            export MAILDESK_TEST_DOVECOT_RESTART
            local ms
            ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
            _dovecot_log "Dovecot $("$DOVECOT_BIN" --version | awk '{print $1}') on 127.0.0.1:$port (IMAP/STARTTLS) and :$imaps_port (IMAPS), started in ${ms} ms (dir $DOVECOT_DIR)"
            return 0
        fi
        _dovecot_kill_all "$DOVECOT_DIR"
        if ((rc == 2)); then
            _dovecot_log "port $port or $imaps_port taken, retrying (attempt $attempt)"
            continue
        fi
        break
    done
    _dovecot_log "could not start Dovecot; end of startup.log and dovecot.log follow"
    tail -n 40 "$DOVECOT_DIR/startup.log" "$DOVECOT_DIR/dovecot.log" >&2 2>/dev/null
    dovecot_stop
    return 1
}

# The test users (password `secret`), one a line.
dovecot_users() {
    printf '%s\n' support
    seq -f 'box%02g' 1 60
    printf '%s\n' other
    seq -f 'customer%g' 1 20
    seq -f 'staff%g' 1 5
    printf '%s\n' stranger
}

dovecot_stop() {
    [[ -n ${DOVECOT_DIR:-} && -d ${DOVECOT_DIR:-} ]] || return 0
    _dovecot_kill_all "$DOVECOT_DIR" || true
    DOVECOT_PORT=
    DOVECOT_IMAPS_PORT=
    DOVECOT_LMTP_SOCKET=
    DOVECOT_AUTH_SOCKET=
    return 0
}

# Run as a program: `bash dovecot.sh restart DIR` / `bash dovecot.sh stop DIR`
# (DIR is the instance directory, i.e. dovecot_start's DIR + /dovecot).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    case ${1:-} in
    restart)
        _dovecot_restart "${2:?usage: dovecot.sh restart DIR}"
        ;;
    stop)
        _dovecot_kill_all "${2:?usage: dovecot.sh stop DIR}"
        ;;
    *)
        echo "usage: bash ${BASH_SOURCE[0]} restart|stop DIR" >&2
        exit 2
        ;;
    esac
fi
