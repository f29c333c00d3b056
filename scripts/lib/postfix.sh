# shellcheck shell=bash
#
# Throwaway Postfix SMTP server for the test suite, delivering into the test
# Dovecot (scripts/lib/dovecot.sh) over LMTP.
#
# Sourced by scripts/test (one lib file per server, like postgres.sh).  When
# sourced it only defines functions and variables; nothing runs.  Run as a
# program it offers `start DIR` and `stop DIR` on an instance that
# postfix_start set up (that is what MAILDESK_TEST_POSTFIX_START / _STOP call).
#
# Public interface
#   postfix_ensure_installed  find (or apt-install `postfix`, preseeded to "No
#                             configuration") the binaries; sets POSTFIX_BIN.
#                             Installing never leaves a system-wide Postfix
#                             running or enabled, and refuses to replace
#                             another installed MTA.
#   postfix_start DIR         set up and start a private Postfix under
#                             DIR/postfix (DIR must exist; normally the
#                             script's mktemp -d dir).  dovecot_start must have
#                             run first (same shell).  Everything lives under
#                             DIR/postfix: main.cf, master.cf, queue and data
#                             directories, logs (postfix.log, startup.log).
#                             Listens on 127.0.0.1 only, on two free high
#                             ports: SMTP (plain, STARTTLS offered) and SMTPS
#                             (implicit TLS), both with the Dovecot test CA's
#                             server certificate.  Accepts mail for
#                             <user>[+anything]@<domain>, with <domain> one of
#                             helpdesk.example example.com example.org
#                             example.net and <user> a Dovecot test user
#                             (dovecot_users), and delivers it over LMTP into
#                             the INBOX of Dovecot user <user>, with a
#                             `Delivered-To: <the address as sent>` header.
#                             Any other local part of those domains: 550 5.1.1
#                             at RCPT; any other domain: 554 5.7.1 (relay
#                             access denied).  AUTH PLAIN/LOGIN (the Dovecot
#                             users and password) is offered but not needed.
#                             Deferred mail is retried every 1-5 s.
#                             Exports:
#                               MAILDESK_TEST_SMTP_HOST      127.0.0.1
#                               MAILDESK_TEST_SMTP_PORT      plain/STARTTLS port
#                               MAILDESK_TEST_SMTPS_PORT     implicit TLS port
#                               MAILDESK_TEST_SMTP_CA        CA (PEM) of the server
#                                                            cert (= ..._IMAP_CA)
#                               MAILDESK_TEST_SMTP_PASSWORD  Pw-7qX9-maildesk-test (AUTH)
#                               MAILDESK_TEST_SMTP_DOMAINS   the four domains,
#                                                            space separated
#                               MAILDESK_TEST_POSTFIX_LOG    Postfix's log file
#                               MAILDESK_TEST_POSTFIX_STOP   shell command (for
#                                   `sh -c`): stop Postfix; returns once every
#                                   process is gone and the ports refuse
#                                   connections.  Queued mail stays queued.
#                               MAILDESK_TEST_POSTFIX_START  shell command: start
#                                   it again, same config and ports; returns once
#                                   the SMTP port greets (a no-op if running).
#   postfix_stop              stop the server (SIGTERM, SIGKILL as last resort).
#                             Idempotent, never fails, safe to call if
#                             postfix_start never ran or failed half way.
#
# Optional inputs
#   apt_install PKG...        function provided by scripts/test; if it is not
#                             defined and the binaries are missing we just fail.
#
# What bites (see also shared NOTES): Postfix runs only as root; its
# data_directory must be owned by postfix; it waits until its config files
# are >= 2 s old (so we backdate them) and runs a 1.5-2.5 s integrity check
# unless the queue directories exist and a `quick-start` marker is in the
# queue directory (removed by every start, so written before each one);
# logging to a file needs maillog_file + the postlog service.
#
# How processes are found: the Postfix master daemonizes with setsid(), so
# every process of one instance shares the master's session id.  Each started
# master's pid and session id are appended to DIR/postfix/masters; stopping
# kills exactly those sessions' Postfix processes.

# shellcheck disable=SC2034 # POSTFIX_PORT / POSTFIX_SMTPS_PORT are for callers
POSTFIX_BIN=${POSTFIX_BIN:-}
POSTFIX_DIR=
POSTFIX_PORT=
POSTFIX_SMTPS_PORT=

_POSTFIX_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$_POSTFIX_LIB")/common.sh"
_POSTFIX_POLICY_MARK='written by maildesk scripts/lib/postfix.sh'
_POSTFIX_LOCK_FD=
_POSTFIX_DOMAINS=(helpdesk.example example.com example.org example.net)
_POSTFIX_DAEMON_DIR=/usr/lib/postfix/sbin

_postfix_log() { printf 'postfix.sh: %s\n' "$*" >&2; }

# Sets POSTFIX_BIN when the postfix command and the daemons we use exist.
_postfix_find() {
    local bin d
    bin=$(command -v postfix 2>/dev/null) || bin=/usr/sbin/postfix
    [[ -x $bin ]] || return 1
    for d in master smtpd lmtp qmgr cleanup postlogd trivial-rewrite; do
        [[ -x $_POSTFIX_DAEMON_DIR/$d ]] || return 1
    done
    POSTFIX_BIN=$bin
}

postfix_ensure_installed() {
    if _postfix_find; then
        return 0
    fi
    if ! declare -F apt_install >/dev/null; then
        _postfix_log "postfix not found; install the 'postfix' package"
        return 1
    fi
    local sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)

    # Installing postfix would remove another MTA (they conflict): refuse.
    local other
    other=$(dpkg-query -W -f='${db:Status-Abbrev} ${Package} ${Provides}\n' 2>/dev/null |
        awk '$1 ~ /^.i/ && $2 != "postfix" && /mail-transport-agent/ { print $2 }' || true)
    if [[ -n $other ]]; then
        _postfix_log "another MTA is installed (${other//$'\n'/ }); installing postfix would remove it." \
            "Install 'postfix' by hand if that is what you want."
        return 1
    fi

    # "No configuration": the package writes no main.cf and starts nothing.
    if command -v debconf-set-selections >/dev/null 2>&1; then
        echo 'postfix postfix/main_mailer_type select No configuration' |
            "${sudo[@]}" debconf-set-selections || true
    fi
    # Belt and braces: a policy-rc.d that says "no" keeps invoke-rc.d and
    # deb-systemd-invoke from starting it during the install; one that an
    # interrupted run of ours (or of dovecot.sh) left behind counts as ours.
    local policy=/usr/sbin/policy-rc.d ours=
    if [[ ! -e $policy ]] || grep -qF -e "$_POSTFIX_POLICY_MARK" \
        -e 'written by maildesk scripts/lib/dovecot.sh' "$policy" 2>/dev/null; then
        if printf '#!/bin/sh\n# %s during apt-get install; removed right after\nexit 101\n' \
            "$_POSTFIX_POLICY_MARK" | "${sudo[@]}" tee "$policy" >/dev/null &&
            "${sudo[@]}" chmod 0755 "$policy"; then
            ours=1
        fi
    fi
    # In a subshell: apt_install exits on failure, and the policy file must
    # go away whatever happens.
    local rc=0
    (apt_install postfix) || rc=$?
    if [[ -n $ours ]]; then
        "${sudo[@]}" rm -f "$policy" || true
    fi
    ((rc == 0)) || return "$rc"
    # Tell scripts/test's apt_install that the package lists are fresh now.
    _apt_updated=1

    # Nothing enabled for the next boot, nothing running now.
    if command -v systemctl >/dev/null 2>&1; then
        "${sudo[@]}" systemctl disable --quiet postfix.service >/dev/null 2>&1 || true
        if [[ -d /run/systemd/system ]]; then
            "${sudo[@]}" systemctl stop postfix.service 'postfix@*.service' >/dev/null 2>&1 || true
        fi
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
        "${sudo[@]}" update-rc.d postfix disable >/dev/null 2>&1 || true
    fi
    local pid
    pid=$(head -n1 /var/spool/postfix/pid/master.pid 2>/dev/null | tr -d ' ' || true)
    if [[ $pid =~ ^[0-9]+$ ]] && [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == */postfix/sbin/master ]]; then
        _postfix_log "stopping the system-wide Postfix the package started (pid $pid)"
        "${sudo[@]}" kill -TERM "$pid" 2>/dev/null || true
    fi

    if ! _postfix_find; then
        _postfix_log "installed 'postfix' but still no postfix/master/smtpd/lmtp binaries"
        return 1
    fi
}

# Write DIR/main.cf + master.cf for the given ports.
_postfix_write_conf() {
    local port=$1 smtps_port=$2 d=$POSTFIX_DIR
    cat >"$d/main.cf" <<EOF
# maildesk scripts/test: throwaway Postfix, loopback only, delivering into the
# test Dovecot over LMTP.  Written by scripts/lib/postfix.sh; started with
# \`postfix -c $d start\`; nothing here refers to system-wide files.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $d/postfix.log
maillog_file_prefixes = $d/
syslog_name = maildesk-test-postfix

myhostname = smtp.helpdesk.example
mydomain = helpdesk.example
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_banner = \$myhostname ESMTP maildesk test Postfix
biff = no
append_dot_mydomain = no

# No local delivery at all; only the virtual domains below exist.
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 no local delivery in the maildesk test Postfix
alias_maps =
alias_database =
relay_domains =
relay_transport = error:5.7.1 the maildesk test Postfix delivers only to its test domains
default_transport = \$relay_transport
smtpd_relay_restrictions = reject_unauth_destination
notify_classes =

# <user>[+detail]@<domain> -> Dovecot user <user> (LMTP strips both).
virtual_mailbox_domains = ${_POSTFIX_DOMAINS[*]}
virtual_mailbox_maps = texthash:$d/recipients
virtual_alias_maps =
virtual_transport = lmtp:unix:$DOVECOT_LMTP_SOCKET
recipient_delimiter = +
unknown_virtual_mailbox_reject_code = 550

# Tests provoke errors on purpose: no tarpitting, no error limits.
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_junk_command_limit = 1000
message_size_limit = 52428800
# Mail deferred while Dovecot restarts goes out again within seconds.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 5s
delay_warning_time = 0

smtpd_tls_security_level = may
smtpd_tls_cert_file = $DOVECOT_DIR/tls/server.pem
smtpd_tls_key_file = $DOVECOT_DIR/tls/server.key
smtpd_tls_loglevel = 0
smtpd_tls_auth_only = no
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = $DOVECOT_AUTH_SOCKET
smtpd_sasl_security_options = noanonymous
EOF
    cat >"$d/master.cf" <<EOF
# maildesk scripts/test: throwaway Postfix (scripts/lib/postfix.sh).
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$port inet n - n - - smtpd
127.0.0.1:$smtps_port inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

# Queue and data directories, owned the way `postfix check` would set them up
# (with them in place and a quick-start marker, start skips that 2 s check).
_postfix_make_dirs() {
    local q=$POSTFIX_DIR/queue sub
    install -d -o root -g root -m 0755 "$q" "$q/pid" || return 1
    for sub in active bounce corrupt defer deferred flush hold incoming private saved trace; do
        install -d -o postfix -g root -m 0700 "$q/$sub" || return 1
    done
    install -d -o postfix -g postdrop -m 0730 "$q/maildrop" || return 1
    install -d -o postfix -g postdrop -m 0710 "$q/public" || return 1
    install -d -o postfix -g root -m 0700 "$POSTFIX_DIR/data" || return 1
}

# Postfix ignores (waits for) config files younger than 2 s: make them old.
_postfix_backdate() {
    local dir=$1
    touch -d "@$(($(date +%s) - 60))" "$dir/main.cf" "$dir/master.cf" "$dir/recipients"
}

# True when 127.0.0.1:$1 accepts a connection (and, with $2 = greet, sends
# an SMTP 220 greeting within a second).
_postfix_port_ready() {
    if [[ -n ${2:-} ]]; then lib_port_ready "$1" QUIT '220[ -]*'; else lib_port_ready "$1"; fi
}

# _postfix_is_ours PID: the process runs a Postfix binary.
_postfix_is_ours() {
    local exe
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    exe=${exe% (deleted)}
    [[ $exe == "$_POSTFIX_DAEMON_DIR"/* ]]
}

# PIDs (space separated) of Postfix processes in any of the sessions given.
_postfix_session_pids() { lib_session_pids _postfix_is_ours "$@"; }

# _postfix_kill_all DIR: stop every master started for DIR (see DIR/masters)
# and all their processes (SIGTERM to all at once; SIGKILL for anything left
# after 5 s), then wait until the ports refuse connections.
_postfix_kill_all() {
    local dir=$1 pid sid sids=() left _ i
    [[ -f $dir/masters ]] || return 0
    while read -r pid sid; do
        [[ $pid =~ ^[0-9]+$ && $sid =~ ^[0-9]+$ ]] && sids+=("$sid")
    done <"$dir/masters"
    if ((${#sids[@]} > 0)); then
        left=$(_postfix_session_pids "${sids[@]}")
        # shellcheck disable=SC2086
        [[ -z $left ]] || kill -TERM $left 2>/dev/null || true
        for i in $(seq 100); do
            left=$(_postfix_session_pids "${sids[@]}")
            [[ -n $left ]] || break
            if ((i % 10 == 0)); then
                # Anything spawned while the master got the signal needs one too.
                # shellcheck disable=SC2086
                kill -TERM $left 2>/dev/null || true
            fi
            sleep 0.05
        done
        if [[ -n $left ]]; then
            _postfix_log "killing leftover Postfix processes: $left"
            # shellcheck disable=SC2086
            kill -KILL $left 2>/dev/null || true
            for _ in $(seq 50); do
                [[ -n $(_postfix_session_pids "${sids[@]}") ]] || break
                sleep 0.05
            done
        fi
    fi
    : >"$dir/masters"
}

# _postfix_running DIR: a master recorded for DIR is alive.
_postfix_running() {
    local dir=$1 pid sid
    [[ -f $dir/masters ]] || return 1
    while read -r pid sid; do
        [[ $pid =~ ^[0-9]+$ ]] || continue
        if kill -0 "$pid" 2>/dev/null && _postfix_is_ours "$pid"; then
            return 0
        fi
    done <"$dir/masters"
    return 1
}

# _postfix_launch DIR: start the master once DIR's config is in place; wait
# until the SMTP port greets and the SMTPS port accepts connections.  Returns
# 2 when the ports could not be bound (taken), 1 on other failures.
_postfix_launch() {
    local dir=$1 port smtps_port bin pid sid _ offset logoff
    local POSTFIX_BIN POSTFIX_PORT POSTFIX_SMTPS_PORT
    # shellcheck disable=SC1091
    source "$dir/instance.env" || return 1
    port=$POSTFIX_PORT smtps_port=$POSTFIX_SMTPS_PORT bin=$POSTFIX_BIN
    offset=$(wc -c <"$dir/startup.log")
    logoff=$(wc -c 2>/dev/null <"$dir/postfix.log" || echo 0)
    rm -f "$dir/queue/pid/master.pid"
    # Skip the integrity check (the directories are fine: we made them).
    : >"$dir/queue/quick-start"
    _postfix_backdate "$dir"
    # `postfix start` returns once the master (daemonized, its own session)
    # has bound its listeners.  Its stdio must not be the caller's (a pipe
    # reader would wait forever), nor may it keep the start/stop lock open.
    local rc=0
    if [[ -n ${_POSTFIX_LOCK_FD:-} ]]; then
        "$bin" -c "$dir" start </dev/null >>"$dir/startup.log" 2>&1 {_POSTFIX_LOCK_FD}>&- || rc=$?
    else
        "$bin" -c "$dir" start </dev/null >>"$dir/startup.log" 2>&1 || rc=$?
    fi
    if ((rc != 0)); then
        if grep -qiE 'address already in use|bind .* port' < <(
            tail -c +"$((offset + 1))" "$dir/startup.log"
            tail -c +"$((logoff + 1))" "$dir/postfix.log" 2>/dev/null
        ); then
            return 2
        fi
        return 1
    fi
    for _ in $(seq 100); do
        pid=$(tr -d ' \n' <"$dir/queue/pid/master.pid" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] && break
        sleep 0.02
    done
    if [[ $pid =~ ^[0-9]+$ ]]; then
        sid=$(awk '{ sub(/.*\) /, ""); print $4 }' "/proc/$pid/stat" 2>/dev/null || true)
        [[ $sid =~ ^[0-9]+$ ]] || sid=$pid
        echo "$pid $sid" >>"$dir/masters"
    else
        echo "postfix.sh: no master.pid appeared in $dir/queue/pid" >>"$dir/startup.log"
        return 1
    fi
    for _ in $(seq 200); do
        if _postfix_port_ready "$port" greet && _postfix_port_ready "$smtps_port"; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.02
    done
    echo "postfix.sh: ports $port/$smtps_port not ready" >>"$dir/startup.log"
    return 1
}

# Take the start/stop lock (tests running in parallel may call both).
_postfix_lock() {
    if command -v flock >/dev/null 2>&1; then
        exec {_POSTFIX_LOCK_FD}>>"$1/startstop.lock" && flock "$_POSTFIX_LOCK_FD"
    fi
}

# MAILDESK_TEST_POSTFIX_STOP: stop, wait until the ports refuse connections.
_postfix_stop_cmd() {
    local dir=${1:?_postfix_stop_cmd: need the instance directory} _
    [[ -f $dir/instance.env ]] || {
        _postfix_log "stop: $dir is not a postfix_start instance"
        return 1
    }
    local POSTFIX_BIN POSTFIX_PORT POSTFIX_SMTPS_PORT
    # shellcheck disable=SC1091
    source "$dir/instance.env" || return 1
    _postfix_lock "$dir"
    _postfix_kill_all "$dir"
    for _ in $(seq 100); do
        if ! _postfix_port_ready "$POSTFIX_PORT" && ! _postfix_port_ready "$POSTFIX_SMTPS_PORT"; then
            return 0
        fi
        sleep 0.05
    done
    _postfix_log "stop: port $POSTFIX_PORT or $POSTFIX_SMTPS_PORT still accepts connections"
    return 1
}

# MAILDESK_TEST_POSTFIX_START: start again with the same config and ports.
_postfix_start_cmd() {
    local dir=${1:?_postfix_start_cmd: need the instance directory} rc _
    [[ -f $dir/main.cf && -f $dir/instance.env ]] || {
        _postfix_log "start: $dir is not a postfix_start instance"
        return 1
    }
    local POSTFIX_BIN POSTFIX_PORT POSTFIX_SMTPS_PORT
    # shellcheck disable=SC1091
    source "$dir/instance.env" || return 1
    _postfix_lock "$dir"
    if _postfix_running "$dir"; then
        for _ in $(seq 200); do
            _postfix_port_ready "$POSTFIX_PORT" greet && return 0
            sleep 0.02
        done
        _postfix_log "start: Postfix runs but port $POSTFIX_PORT does not greet; restarting it"
    fi
    _postfix_kill_all "$dir"
    # The ports were ours a moment ago; allow a few seconds for them to free.
    for _ in $(seq 50); do
        rc=0
        _postfix_launch "$dir" || rc=$?
        ((rc == 2)) || break
        _postfix_kill_all "$dir"
        sleep 0.1
    done
    if ((rc != 0)); then
        _postfix_log "start failed; end of $dir/startup.log and postfix.log follow"
        tail -n 20 "$dir/startup.log" "$dir/postfix.log" >&2 2>/dev/null
        _postfix_kill_all "$dir"
        return 1
    fi
}

postfix_start() {
    local base=${1:?postfix_start: need a base directory (e.g. the mktemp -d dir)}
    [[ -d $base ]] || { _postfix_log "postfix_start: $base is not a directory"; return 1; }
    [[ -z $POSTFIX_DIR ]] || { _postfix_log "postfix_start: already started in $POSTFIX_DIR"; return 1; }
    [[ -n $POSTFIX_BIN ]] || postfix_ensure_installed || return 1
    if [[ $(id -u) -ne 0 ]]; then
        _postfix_log "postfix_start: must run as root (Postfix refuses anything else)"
        return 1
    fi
    if [[ -z ${DOVECOT_DIR:-} || -z ${DOVECOT_LMTP_SOCKET:-} ]] || ! declare -F dovecot_users >/dev/null; then
        _postfix_log "postfix_start: start Dovecot first (scripts/lib/dovecot.sh, dovecot_start)"
        return 1
    fi

    POSTFIX_DIR=$(cd "$base" && pwd)/postfix
    local t0=$EPOCHREALTIME
    mkdir -p "$POSTFIX_DIR"
    chmod 0755 "$POSTFIX_DIR"
    # Postfix processes (user postfix) must be able to traverse down.
    chmod go+x "$base"
    : >"$POSTFIX_DIR/startup.log"
    : >"$POSTFIX_DIR/masters"
    if ! _postfix_make_dirs >>"$POSTFIX_DIR/startup.log" 2>&1; then
        _postfix_log "could not create the queue directories; log follows"
        cat "$POSTFIX_DIR/startup.log" >&2
        POSTFIX_DIR=
        return 1
    fi

    local u dom
    {
        for u in $(dovecot_users); do
            for dom in "${_POSTFIX_DOMAINS[@]}"; do
                printf '%s@%s OK\n' "$u" "$dom"
            done
        done
    } >"$POSTFIX_DIR/recipients"
    chmod 0644 "$POSTFIX_DIR/recipients"

    # A free port can be taken between probing and binding (e.g. by a
    # concurrent scripts/test), so retry with new ports on bind failures.
    local attempt ports port smtps_port rc
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        ports=$(lib_free_ports)
        port=${ports% *} smtps_port=${ports#* }
        _postfix_write_conf "$port" "$smtps_port"
        {
            printf 'POSTFIX_BIN=%q\n' "$POSTFIX_BIN"
            printf 'POSTFIX_PORT=%q\n' "$port"
            printf 'POSTFIX_SMTPS_PORT=%q\n' "$smtps_port"
        } >"$POSTFIX_DIR/instance.env"
        rc=0
        _postfix_launch "$POSTFIX_DIR" || rc=$?
        if ((rc == 0)); then
            POSTFIX_PORT=$port
            POSTFIX_SMTPS_PORT=$smtps_port
            export MAILDESK_TEST_SMTP_HOST=127.0.0.1
            export MAILDESK_TEST_SMTP_PORT=$port
            export MAILDESK_TEST_SMTPS_PORT=$smtps_port
            export MAILDESK_TEST_SMTP_CA=$DOVECOT_DIR/tls/ca.pem
            export MAILDESK_TEST_SMTP_PASSWORD=Pw-7qX9-maildesk-test
            export MAILDESK_TEST_SMTP_DOMAINS="${_POSTFIX_DOMAINS[*]}"
            export MAILDESK_TEST_POSTFIX_LOG=$POSTFIX_DIR/postfix.log
            MAILDESK_TEST_POSTFIX_STOP="bash $(lib_shquote "$_POSTFIX_LIB") stop $(lib_shquote "$POSTFIX_DIR")"
            MAILDESK_TEST_POSTFIX_START="bash $(lib_shquote "$_POSTFIX_LIB") start $(lib_shquote "$POSTFIX_DIR")"
            export MAILDESK_TEST_POSTFIX_STOP MAILDESK_TEST_POSTFIX_START
            local ms version
            ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
            version=$(postconf -c "$POSTFIX_DIR" -h mail_version 2>/dev/null || true)
            _postfix_log "Postfix ${version:-?} on 127.0.0.1:$port (SMTP/STARTTLS) and :$smtps_port (SMTPS), delivering to Dovecot over LMTP, started in ${ms} ms (dir $POSTFIX_DIR)"
            return 0
        fi
        _postfix_kill_all "$POSTFIX_DIR"
        if ((rc == 2)); then
            _postfix_log "port $port or $smtps_port taken, retrying (attempt $attempt)"
            continue
        fi
        break
    done
    _postfix_log "could not start Postfix; end of startup.log and postfix.log follow"
    tail -n 40 "$POSTFIX_DIR/startup.log" "$POSTFIX_DIR/postfix.log" >&2 2>/dev/null
    postfix_stop
    return 1
}

postfix_stop() {
    [[ -n ${POSTFIX_DIR:-} && -d ${POSTFIX_DIR:-} ]] || return 0
    _postfix_kill_all "$POSTFIX_DIR" || true
    POSTFIX_PORT=
    POSTFIX_SMTPS_PORT=
    return 0
}

# Run as a program: `bash postfix.sh start DIR` / `bash postfix.sh stop DIR`
# (DIR is the instance directory, i.e. postfix_start's DIR + /postfix).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    set -uo pipefail
    case ${1:-} in
    start)
        _postfix_start_cmd "${2:?usage: postfix.sh start DIR}"
        ;;
    stop)
        _postfix_stop_cmd "${2:?usage: postfix.sh stop DIR}"
        ;;
    *)
        echo "usage: bash ${BASH_SOURCE[0]} start|stop DIR" >&2
        exit 2
        ;;
    esac
fi
