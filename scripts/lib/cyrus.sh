# shellcheck shell=bash
#
# Throwaway Cyrus IMAP server for the test suite: Debian's own cyrus-imapd,
# unpacked (not installed), with Debian's stock namespace.
#
# Sourced by scripts/test (one lib file per server, like dovecot.sh).  When
# sourced it only defines functions and variables; nothing runs.
#
# Public interface
#   cyrus_ensure_installed    get Debian's cyrus-common + cyrus-imapd (and
#                             sasl2-bin, for saslpasswd2) as .deb files into
#                             the cache (see below; `apt-get download`, with an
#                             `apt-get update` first if that fails), check with
#                             ldd that their shared libraries are there, and
#                             apt-install the missing library packages (e.g.
#                             libical3 libpcre3 libwrap0 libxapian30 on a fresh
#                             Debian 12).  Never installs cyrus-imapd,
#                             cyrus-common or sasl2-bin themselves: the first
#                             two conflict with dovecot-imapd, and sasl2-bin
#                             would bring a system-wide saslauthd.  Also builds
#                             (cc, once, cached) the small syslog-to-file shim
#                             described below.  Sets CYRUS_VERSION.
#   cyrus_start DIR           unpack the packages into DIR/cyrus/pkg and run
#                             that Cyrus (master, imapd, lmtpd, idled) with its
#                             own imapd.conf (-C) and cyrus.conf (-M).
#                             Everything lives under DIR/cyrus: config
#                             directory (config/), partition (spool/), sasldb,
#                             pid file, logs.  Nothing system-wide is written.
#                             Processes run as `nobody` (as the caller when not
#                             root).  Listens on 127.0.0.1 only, on three free
#                             high ports: IMAP (plain LOGIN / AUTHENTICATE
#                             PLAIN without TLS; no STARTTLS), a second IMAP
#                             listener on the same data whose CAPABILITY lacks
#                             IDLE MOVE UIDPLUS CONDSTORE QRESYNC (its own
#                             imapd-bare.conf: suppress_capabilities, and
#                             imapidlepoll: 0 as IDLE is not suppressible;
#                             there IDLE answers BAD Unrecognized command,
#                             while UID MOVE, APPENDUID/COPYUID and ENABLE
#                             CONDSTORE QRESYNC still work and the Cyrus
#                             extension XMOVE is still listed), and
#                             LMTP (no AUTH needed; RCPT TO:<user[+x]@any.domain>
#                             delivers into user.<user> = that user's INBOX,
#                             unknown users get 550 5.1.1).
#                             Debian's stock namespace: altnamespace: no,
#                             unixhierarchysep: no, i.e. NAMESPACE
#                             (("INBOX." ".")) (("user." ".")) (("" ".")): a
#                             user's folders are INBOX.<name>, a top-level
#                             `CREATE x` is refused (NO Permission denied).
#                             Users `support`, `box01` ... `box20`, `other`
#                             (list: cyrus_users), password `secret`, each
#                             INBOX created at start; admin `cyrusadmin` (same
#                             password) sees them as user.<name>[.<folder>]
#                             and may SETQUOTA / SETACL on them.  Over quota
#                             Cyrus 3.6 answers `NO Over quota` (no
#                             [OVERQUOTA] code) to APPEND, COPY and MOVE;
#                             STORAGE counts whole KiB, so under (STORAGE 1)
#                             a message below 1 KiB may still fit, while
#                             (STORAGE 0) refuses everything.  PERMANENTFLAGS
#                             include \* (keywords like $maildesk-done can be
#                             stored).  IDLE is pushed by idled (EXISTS within
#                             a millisecond of the APPEND's OK).
#                             Exports:
#                               MAILDESK_TEST_CYRUS_HOST      127.0.0.1
#                               MAILDESK_TEST_CYRUS_PORT      IMAP port
#                               MAILDESK_TEST_CYRUS_BARE_PORT IMAP port without
#                                   IDLE MOVE UIDPLUS CONDSTORE QRESYNC in CAPABILITY
#                               MAILDESK_TEST_CYRUS_LMTP_PORT LMTP port
#                               MAILDESK_TEST_CYRUS_PASSWORD  secret
#                               MAILDESK_TEST_CYRUS_ADMIN     cyrusadmin (in admins:)
#                               MAILDESK_TEST_CYRUS_LOG       Cyrus' log (its syslog)
#   cyrus_users               print the test user names, one a line.
#   cyrus_stop                stop the server (SIGTERM, SIGKILL as last resort).
#                             Idempotent, never fails, safe to call if
#                             cyrus_start never ran or failed half way.
#
# Optional inputs
#   apt_install PKG...        function provided by scripts/test; if it is not
#                             defined and libraries are missing we just fail.
#   MAILDESK_CACHE            cache dir (default $HOME/.cache/maildesk); the
#                             .deb files are kept in its debs/ (downloaded
#                             once), the syslog shim in its cyrus/.
#
# What bites
#   - master passes neither -C nor -M on to what it starts: every command in
#     cyrus.conf carries its own `-C imapd.conf`.
#   - Cyrus refuses to run as root; master switches to cyrus_user (here
#     nobody), so the binaries must be reachable by nobody: they are unpacked
#     into DIR on every start (~0.1 s), not run from $HOME/.cache (/root is 0700).
#   - Cyrus logs only to syslog, and there is no /dev/log here (glibc then
#     drops the messages; nothing hangs).  An LD_PRELOAD shim (built from the
#     C source below) writes syslog() lines to DIR/cyrus/cyrus.log instead;
#     master's own stdout/stderr go to master.log.  Without a C compiler the
#     server still runs, only without cyrus.log.
#   - saslpasswd2 keys the sasldb by realm = Cyrus' servername; both are set.
#   - A port that cannot be bound does not stop master: it logs "unable to
#     bind" and runs on without that service, so we look for that line.
#   - Deliberate deviations from Debian's stock imapd.conf besides paths:
#     sasl_mech_list PLAIN LOGIN (the same on every machine, whatever SASL
#     plugins are installed), duplicatesuppression 0 (LMTP delivers a repeated
#     Message-ID again), idled + imapidlepoll 1 (prompt IDLE), admins.
#
# How processes are found: master is started in a new session (setsid); every
# process it spawns stays in that session.  Each started master's pid and
# session id are appended to DIR/cyrus/masters; stopping kills exactly those
# sessions' processes whose executable lies under DIR/cyrus/pkg.

# shellcheck disable=SC2034 # CYRUS_PORT / ..._BARE_PORT / ..._LMTP_PORT are for callers
CYRUS_VERSION=${CYRUS_VERSION:-}
CYRUS_DIR=
CYRUS_PORT=
CYRUS_BARE_PORT=
CYRUS_LMTP_PORT=
CYRUS_ADMIN=cyrusadmin
CYRUS_RUN_USER=
CYRUS_SERVERNAME=maildesk-cyrus

_CYRUS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$_CYRUS_LIB")/common.sh"
_CYRUS_DEB_COMMON=
_CYRUS_DEB_IMAPD=
_CYRUS_DEB_SASL=
_CYRUS_SHIM=
# Binaries we run (from DIR/cyrus/pkg/usr/lib/cyrus/bin) + saslpasswd2.
_CYRUS_BINS=(master imapd lmtpd idled ctl_cyrusdb)

_cyrus_log() { printf 'cyrus.sh: %s\n' "$*" >&2; }

_cyrus_cache() { printf '%s\n' "${MAILDESK_CACHE:-${HOME:-/root}/.cache/maildesk}"; }

_cyrus_sudo() {
    _CYRUS_SUDO=()
    [[ $(id -u) -eq 0 ]] || _CYRUS_SUDO=(sudo)
}

# Sets _CYRUS_DEB_* to the newest cached cyrus-imapd with its matching
# cyrus-common, and the newest cached sasl2-bin; fails if any is missing.
_cyrus_pick_debs() {
    local debs=$1 arch=$2 f v
    _CYRUS_DEB_COMMON= _CYRUS_DEB_IMAPD= _CYRUS_DEB_SASL= CYRUS_VERSION=
    while IFS= read -r f; do
        v=${f##*/cyrus-imapd_}
        v=${v%_"$arch".deb}
        if [[ -s $debs/cyrus-common_${v}_$arch.deb ]]; then
            _CYRUS_DEB_IMAPD=$f
            _CYRUS_DEB_COMMON=$debs/cyrus-common_${v}_$arch.deb
            CYRUS_VERSION=${v//%3a/:}
            break
        fi
    done < <(ls -1 "$debs"/cyrus-imapd_*_"$arch".deb 2>/dev/null | sort -rV || true)
    _CYRUS_DEB_SASL=$(ls -1 "$debs"/sasl2-bin_*_"$arch".deb 2>/dev/null | sort -rV | head -n1 || true)
    [[ -n $_CYRUS_DEB_IMAPD && -n $_CYRUS_DEB_SASL ]]
}

# apt-get download the three packages into $1 (via a temp dir, so a half
# downloaded file never carries the final name).
_cyrus_download() {
    local debs=$1 tmp rc=0 opts=()
    _cyrus_sudo
    [[ $(id -u) -ne 0 ]] || opts=(-o APT::Sandbox::User=root)
    tmp=$(mktemp -d "$debs/.download.XXXXXX") || return 1
    _cyrus_log "downloading Debian packages cyrus-common cyrus-imapd sasl2-bin into $debs (not installing them)"
    (cd "$tmp" && apt-get -q "${opts[@]}" download cyrus-common cyrus-imapd sasl2-bin) >&2 || rc=$?
    if ((rc != 0)) && [[ -z ${_apt_updated:-} ]]; then
        # A fresh machine may have no package lists yet.
        _cyrus_log "apt-get download failed; running apt-get update and trying again"
        rc=0
        "${_CYRUS_SUDO[@]}" apt-get update >&2 && _apt_updated=1 || rc=$?
        if ((rc == 0)); then
            (cd "$tmp" && apt-get -q "${opts[@]}" download cyrus-common cyrus-imapd sasl2-bin) >&2 || rc=$?
        fi
    fi
    if ((rc == 0)); then
        mv -f "$tmp"/*.deb "$debs"/ || rc=$?
    fi
    rm -rf -- "$tmp"
    return "$rc"
}

# Unpack the packages into $1 (cyrus-common + cyrus-imapd whole, sasl2-bin's
# saslpasswd2 only).
_cyrus_unpack() {
    local root=$1
    mkdir -p "$root" &&
        dpkg-deb -x "$_CYRUS_DEB_COMMON" "$root" &&
        dpkg-deb -x "$_CYRUS_DEB_IMAPD" "$root" &&
        dpkg-deb --fsys-tarfile "$_CYRUS_DEB_SASL" | tar -x -C "$root" ./usr/sbin/saslpasswd2
}

# Shared libraries (sonames) that the unpacked binaries under $1 lack.
_cyrus_missing_libs() {
    local root=$1 b lib
    lib=$(_cyrus_libdir "$root")
    for b in "${_CYRUS_BINS[@]/#/$root/usr/lib/cyrus/bin/}" "$root/usr/sbin/saslpasswd2"; do
        LD_LIBRARY_PATH=$lib ldd "$b" 2>/dev/null
    done | awk '/not found/ { print $1 }' | sort -u | xargs
}

# The directory of Cyrus' own shared libraries under the unpacked root $1
# (usr/lib/<multiarch triplet>).
_cyrus_libdir() {
    local f
    for f in "$1"/usr/lib/*/libcyrus.so.0; do
        [[ -e $f ]] && dirname "$f" && return 0
    done
    echo "$1/usr/lib"
}

# The not yet installed library packages the Cyrus binaries and saslpasswd2
# depend on (taken from the packages' Depends), plus the SASL plugins
# (PLAIN/LOGIN, sasldb).  libclamav12 (cyr_virusscan) and libzephyr4 are left
# out: nothing we run needs them.
_cyrus_lib_packages() {
    local tmp
    tmp=$(mktemp) || return 1
    {
        dpkg-deb -f "$_CYRUS_DEB_COMMON" Depends
        dpkg-deb -f "$_CYRUS_DEB_IMAPD" Depends
        dpkg-deb -f "$_CYRUS_DEB_SASL" Depends
    } | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/:any//' -e 's/[[:space:]]//g' |
        grep -E '^lib' | grep -vxE 'libclamav[0-9]*|libzephyr[0-9]*' |
        { cat; printf '%s\n' libsasl2-modules libsasl2-modules-db; } | sort -u >"$tmp"
    # One dpkg-query for all (it skips unknown names, with a message we drop).
    # shellcheck disable=SC2046
    dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' $(cat "$tmp") 2>/dev/null |
        awk '$1 == "ii" { print $2 }' | sort -u | comm -23 "$tmp" - | xargs
    rm -f "$tmp"
}

# The LD_PRELOAD shim: syslog() appends to $MAILDESK_SYSLOG_FILE.
_cyrus_shim_source() {
    cat <<'EOF'
/* maildesk scripts/lib/cyrus.sh: LD_PRELOAD shim that appends syslog()
 * messages (LOG_DEBUG dropped) to the file named by $MAILDESK_SYSLOG_FILE. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static char ident_buf[64];
static int log_mask = LOG_UPTO(LOG_INFO);
static int log_fd = -1;

void openlog(const char *ident, int option, int facility)
{
    (void)option;
    (void)facility;
    if (ident)
        snprintf(ident_buf, sizeof ident_buf, "%s", ident);
}

void closelog(void) {}

int setlogmask(int mask)
{
    int old = log_mask;
    if (mask)
        log_mask = mask & LOG_UPTO(LOG_INFO);
    return old;
}

void vsyslog(int pri, const char *fmt, va_list ap)
{
    static const char *lv[] = {"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"};
    int saved = errno;
    if (!(log_mask & LOG_MASK(LOG_PRI(pri))))
        return;
    if (log_fd < 0) {
        const char *path = getenv("MAILDESK_SYSLOG_FILE");
        if (!path || (log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)) < 0) {
            errno = saved;
            return;
        }
    }
    char msg[8192], line[8448];
    errno = saved; /* for %m */
    vsnprintf(msg, sizeof msg, fmt, ap);
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02d %02d:%02d:%02d.%06ld %s[%d]: %s: %s\n",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (long)tv.tv_usec, ident_buf[0] ? ident_buf : "?", (int)getpid(),
                     lv[LOG_PRI(pri)], msg);
    if (n > (int)sizeof line - 1) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    if (n > 0 && write(log_fd, line, n) < 0) {
        /* nowhere to report it */
    }
    errno = saved;
}

void syslog(int pri, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsyslog(pri, fmt, ap);
    va_end(ap);
}

void __vsyslog_chk(int pri, int flag, const char *fmt, va_list ap)
{
    (void)flag;
    vsyslog(pri, fmt, ap);
}

void __syslog_chk(int pri, int flag, const char *fmt, ...)
{
    va_list ap;
    (void)flag;
    va_start(ap, fmt);
    vsyslog(pri, fmt, ap);
    va_end(ap);
}
EOF
}

# Sets _CYRUS_SHIM to the built shim (cached by source hash); empty when there
# is no C compiler.
_cyrus_build_shim() {
    local dir cc sum tmp
    _CYRUS_SHIM=
    dir=$(_cyrus_cache)/cyrus
    sum=$(_cyrus_shim_source | sha256sum | cut -c1-16)
    if [[ -s $dir/syslog-shim-$sum.so ]]; then
        _CYRUS_SHIM=$dir/syslog-shim-$sum.so
        return 0
    fi
    cc=$(command -v "${CC:-cc}" 2>/dev/null || command -v gcc 2>/dev/null) || {
        _cyrus_log "no C compiler: Cyrus will run without a log file (it logs to syslog only)"
        return 0
    }
    mkdir -p "$dir" || return 1
    tmp=$(mktemp "$dir/.shim.XXXXXX") || return 1
    if _cyrus_shim_source | "$cc" -x c -O2 -Wall -shared -fPIC -o "$tmp" - >&2; then
        mv -f "$tmp" "$dir/syslog-shim-$sum.so"
        _CYRUS_SHIM=$dir/syslog-shim-$sum.so
    else
        rm -f "$tmp"
        _cyrus_log "building the syslog shim failed: Cyrus will run without a log file"
    fi
}

cyrus_ensure_installed() {
    local debs arch check missing pkgs rc
    command -v dpkg-deb >/dev/null 2>&1 || { _cyrus_log "dpkg-deb not found (Debian needed)"; return 1; }
    arch=$(dpkg --print-architecture) || return 1
    debs=$(_cyrus_cache)/debs
    mkdir -p "$debs" || return 1
    if ! _cyrus_pick_debs "$debs" "$arch"; then
        command -v apt-get >/dev/null 2>&1 || {
            _cyrus_log "need Debian's cyrus-common, cyrus-imapd and sasl2-bin .deb files in $debs, and apt-get is not available"
            return 1
        }
        _cyrus_download "$debs" || { _cyrus_log "apt-get download cyrus-common cyrus-imapd sasl2-bin failed"; return 1; }
        _cyrus_pick_debs "$debs" "$arch" || {
            _cyrus_log "downloaded, but no matching cyrus-common/cyrus-imapd/sasl2-bin .deb files in $debs"
            return 1
        }
    fi

    pkgs=$(_cyrus_lib_packages)
    if ! command -v python3 >/dev/null 2>&1; then
        pkgs+=" python3"
    fi
    if [[ -n ${pkgs// /} ]]; then
        if ! declare -F apt_install >/dev/null; then
            _cyrus_log "Cyrus needs the Debian package(s) $pkgs; install them"
            return 1
        fi
        rc=0
        # shellcheck disable=SC2086 # a list of package names
        (apt_install $pkgs) || rc=$?
        ((rc == 0)) || return "$rc"
        # Tell scripts/test's apt_install that the package lists are fresh now.
        _apt_updated=1
    fi

    check=$(mktemp -d "${TMPDIR:-/tmp}/maildesk-cyrus-check.XXXXXX") || return 1
    rc=0
    _cyrus_unpack "$check" || rc=$?
    if ((rc == 0)); then
        missing=$(_cyrus_missing_libs "$check")
        if [[ -n $missing ]]; then
            _cyrus_log "Cyrus $CYRUS_VERSION still lacks shared libraries: $missing"
            rc=1
        fi
    else
        _cyrus_log "could not unpack $_CYRUS_DEB_COMMON / $_CYRUS_DEB_IMAPD / $_CYRUS_DEB_SASL"
    fi
    rm -rf -- "$check"
    ((rc == 0)) || return "$rc"
    _cyrus_build_shim || return 1
}

# The test users (password `secret`), one a line.
cyrus_users() {
    printf '%s\n' support
    seq -f 'box%02g' 1 20
    printf '%s\n' other
}

# Three distinct free TCP ports on 127.0.0.1, space separated.
_cyrus_free_ports() {
    local ports p1 p2 p
    if command -v python3 >/dev/null 2>&1 &&
        ports=$(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*(x.getsockname()[1] for x in s))' 2>/dev/null) &&
        [[ $ports =~ ^[0-9]+\ [0-9]+\ [0-9]+$ ]]; then
        echo "$ports"
        return 0
    fi
    p1=$(lib_free_ports) p2=$(lib_free_ports)
    for p in ${p2}; do
        [[ " $p1 " == *" $p "* ]] || { echo "$p1 $p"; return 0; }
    done
}

# Write imapd.conf, imapd-bare.conf and cyrus.conf into $CYRUS_DIR.
_cyrus_write_conf() {
    local port=$1 bare_port=$2 lmtp_port=$3 d=$CYRUS_DIR user=$4
    local bin=$d/pkg/usr/lib/cyrus/bin
    cat >"$d/imapd.conf" <<EOF
# maildesk scripts/test: throwaway Cyrus IMAP, loopback only.  Written by
# scripts/lib/cyrus.sh.  The settings of Debian's stock /etc/imapd.conf (see
# $d/pkg/etc/imapd.conf) that matter here, every path moved under $d:
# the /run/cyrus sockets, proc and lock dirs take their defaults under
# configdirectory; the news, http and TLS settings are left out.
configdirectory: $d/config
defaultpartition: default
partition-default: $d/spool
sievedir: $d/sieve

# Debian's stock namespace: folders under INBOX., '.' as separator, no
# top-level folders for users.  The tests are about exactly this; keep it.
altnamespace: no
unixhierarchysep: no

# The rest of Debian's stock settings.
lmtp_downcase_rcpt: yes
allowanonymouslogin: no
popminpoll: 1
autocreate_quota: 0
umask: 077
sieveusehomedir: false
hashimapspool: true
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auto_transition: no
syslog_prefix: cyrus

# Ours.
cyrus_user: $user
servername: $CYRUS_SERVERNAME
admins: $CYRUS_ADMIN
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: $d/sasldb2
sasl_mech_list: PLAIN LOGIN
duplicatesuppression: 0
# idled pushes changes to idling clients; polling only if it is unreachable.
imapidlepoll: 1
EOF
    # The second listener: a server without these extensions.  IDLE is not
    # subject to suppress_capabilities (imapd lists it whenever IDLE is
    # enabled); imapidlepoll: 0 is what disables IDLE.
    sed -e 's/^imapidlepoll: .*/imapidlepoll: 0/' "$d/imapd.conf" >"$d/imapd-bare.conf"
    printf '%s\n' '' '# The second listener (imapbare): a server without these extensions.' \
        'suppress_capabilities: IDLE MOVE UIDPLUS CONDSTORE QRESYNC' >>"$d/imapd-bare.conf"
    cat >"$d/cyrus.conf" <<EOF
# maildesk scripts/test: throwaway Cyrus IMAP (scripts/lib/cyrus.sh).
# master passes no -C on: every command names its imapd.conf.
START {
  recover   cmd="$bin/ctl_cyrusdb -C $d/imapd.conf -r"
}
SERVICES {
  imap      cmd="$bin/imapd -C $d/imapd.conf" listen="127.0.0.1:$port" prefork=0
  imapbare  cmd="$bin/imapd -C $d/imapd-bare.conf" listen="127.0.0.1:$bare_port" prefork=0
  lmtp      cmd="$bin/lmtpd -C $d/imapd.conf -a" listen="127.0.0.1:$lmtp_port" prefork=0
}
DAEMON {
  idled     cmd="$bin/idled -C $d/imapd.conf"
}
EOF
}

# _cyrus_is_ours PID: the process runs a binary of our unpacked Cyrus.
_cyrus_is_ours() {
    local exe
    exe=$(readlink "/proc/$1/exe" 2>/dev/null) || return 1
    exe=${exe% (deleted)}
    [[ -n ${_CYRUS_KILL_ROOT:-} && $exe == "$_CYRUS_KILL_ROOT"/* ]]
}

# _cyrus_kill_all DIR: stop every master started for DIR (see DIR/masters) and
# all processes of their sessions: SIGTERM to all at once (each logs "graceful
# shutdown" and exits within ~20-80 ms; clients see their connection close, no
# BYE), again after 1 s and 3 s, SIGKILL to whatever is left after 5 s.
_cyrus_kill_all() {
    local dir=$1 pid sid sids=() left i _
    [[ -f $dir/masters ]] || return 0
    while read -r pid sid; do
        if [[ $pid =~ ^[0-9]+$ && $sid =~ ^[0-9]+$ ]]; then
            sids+=("$sid")
        fi
    done <"$dir/masters"
    ((${#sids[@]} > 0)) || return 0
    local _CYRUS_KILL_ROOT=$dir/pkg
    for i in $(seq 100); do
        left=$(lib_session_pids _cyrus_is_ours "${sids[@]}")
        [[ -n $left ]] || break
        if ((i == 1 || i == 20 || i == 60)); then
            # shellcheck disable=SC2086
            kill -TERM $left 2>/dev/null || true
        fi
        sleep 0.05
    done
    if [[ -n $left ]]; then
        _cyrus_log "killing leftover Cyrus processes: $left"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -n $(lib_session_pids _cyrus_is_ours "${sids[@]}") ]] || break
            sleep 0.05
        done
    fi
    : >"$dir/masters"
}

# _cyrus_alive PID: the process exists and is no zombie (master's parent is
# setsid's, i.e. init, which need not reap it at once).
_cyrus_alive() {
    local line
    IFS= read -r line 2>/dev/null <"/proc/$1/stat" || return 1
    line=${line##*) }
    [[ ${line:0:1} != Z ]]
}

# _cyrus_launch PORT BARE_PORT LMTP_PORT: start master on $CYRUS_DIR's config;
# wait until the three ports greet.  Returns 2 when a port could not be bound
# (taken), 1 on other failures.
_cyrus_launch() {
    local port=$1 bare_port=$2 lmtp_port=$3 d=$CYRUS_DIR pid= sid _ env
    local lib
    lib=$(_cyrus_libdir "$d/pkg")
    : >"$d/cyrus.log"
    : >"$d/master.log"
    chown "$CYRUS_RUN_USER" "$d/cyrus.log" "$d/master.log"
    rm -f "$d/run/master.pid"
    env=(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LD_LIBRARY_PATH="$lib" MAILDESK_SYSLOG_FILE="$d/cyrus.log")
    [[ -z $_CYRUS_SHIM ]] || env+=(LD_PRELOAD="$d/pkg/syslog-shim.so")
    # setsid -f: master gets a session of its own whether or not we are a
    # process group leader; it stays in the foreground there (no -d), its
    # stdout/stderr go to master.log (-L).
    setsid -f "${env[@]}" "$d/pkg/usr/lib/cyrus/bin/master" -C "$d/imapd.conf" -M "$d/cyrus.conf" \
        -p "$d/run/master.pid" -L "$d/master.log" -l 64 </dev/null >>"$d/startup.log" 2>&1 || return 1
    for _ in $(seq 100); do
        pid=$(head -n1 "$d/run/master.pid" 2>/dev/null | tr -d ' ' || true)
        [[ $pid =~ ^[0-9]+$ ]] && break
        sleep 0.02
    done
    if [[ ! $pid =~ ^[0-9]+$ ]]; then
        echo "cyrus.sh: no master.pid appeared in $d/run" >>"$d/startup.log"
        return 1
    fi
    sid=$(awk '{ sub(/.*\) /, ""); print $4 }' "/proc/$pid/stat" 2>/dev/null || true)
    [[ $sid =~ ^[0-9]+$ ]] || sid=$pid
    echo "$pid $sid" >>"$d/masters"
    for _ in $(seq 250); do
        if grep -q 'unable to bind' "$d/cyrus.log" 2>/dev/null; then
            return 2
        fi
        if lib_port_ready "$port" "a LOGOUT" '\* OK*' &&
            lib_port_ready "$bare_port" "a LOGOUT" '\* OK*' &&
            lib_port_ready "$lmtp_port" "QUIT" '220 *'; then
            return 0
        fi
        _cyrus_alive "$pid" || {
            echo "cyrus.sh: master exited" >>"$d/startup.log"
            return 1
        }
        sleep 0.02
    done
    echo "cyrus.sh: ports $port/$bare_port/$lmtp_port not ready" >>"$d/startup.log"
    return 1
}

# Create every test user's INBOX (as admin) and check that a user can log in.
_cyrus_create_mailboxes() {
    # shellcheck disable=SC2046 # one argument per user
    python3 - "$CYRUS_PORT" "$CYRUS_ADMIN" $(cyrus_users) <<'EOF' >>"$CYRUS_DIR/startup.log" 2>&1
import imaplib, sys
port, admin, users = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
a = imaplib.IMAP4("127.0.0.1", port, timeout=10)
a.login(admin, "secret")
for u in users:
    typ, data = a.create("user." + u)
    if typ != "OK" and b"already exists" not in b" ".join(d or b"" for d in data).lower():
        sys.exit("CREATE user.%s: %s %s" % (u, typ, data))
a.logout()
s = imaplib.IMAP4("127.0.0.1", port, timeout=10)
s.login(users[0], "secret")
typ, data = s.select("INBOX")
if typ != "OK":
    sys.exit("%s: SELECT INBOX: %s %s" % (users[0], typ, data))
s.logout()
print("cyrus.sh: created the INBOX of", " ".join(users))
EOF
}

cyrus_start() {
    local base=${1:?cyrus_start: need a base directory (e.g. the mktemp -d dir)}
    [[ -d $base ]] || { _cyrus_log "cyrus_start: $base is not a directory"; return 1; }
    [[ -z $CYRUS_DIR ]] || { _cyrus_log "cyrus_start: already started in $CYRUS_DIR"; return 1; }
    [[ -n $CYRUS_VERSION && -n $_CYRUS_DEB_IMAPD ]] || cyrus_ensure_installed || return 1

    CYRUS_DIR=$(cd "$base" && pwd -P)/cyrus
    # Unix sockets (config/socket/idle, lmtp, notify) max 107 bytes.
    if ((${#CYRUS_DIR} + 30 > 107)); then
        _cyrus_log "directory path too long: $CYRUS_DIR (set TMPDIR to something shorter)"
        CYRUS_DIR=
        return 1
    fi
    # Cyrus refuses to run as root: as root it runs as nobody, else as us.
    local group
    if [[ $(id -u) -eq 0 ]]; then
        CYRUS_RUN_USER=nobody
        group=$(id -gn nobody 2>/dev/null) || { _cyrus_log "user nobody missing"; CYRUS_DIR=; return 1; }
    else
        CYRUS_RUN_USER=$(id -un)
        group=$(id -gn)
    fi

    local t0=$EPOCHREALTIME d=$CYRUS_DIR
    mkdir -p "$d"/config/{db,proc,socket,log,msg,user,quota,lock} "$d"/{spool,sieve,run}
    : >"$d/startup.log"
    : >"$d/masters"
    # nobody must be able to traverse down to everything (and run pkg/).
    chmod 0711 "$base"
    chmod 0755 "$d"
    if ! _cyrus_unpack "$d/pkg" >>"$d/startup.log" 2>&1; then
        _cyrus_log "could not unpack the Cyrus packages; log follows"
        cat "$d/startup.log" >&2
        CYRUS_DIR=
        return 1
    fi
    [[ -z $_CYRUS_SHIM ]] || install -m 0644 "$_CYRUS_SHIM" "$d/pkg/syslog-shim.so"

    # The sasldb: every user and the admin, password secret, realm = servername.
    local u
    for u in $(cyrus_users) "$CYRUS_ADMIN"; do
        if ! printf 'secret' | "$d/pkg/usr/sbin/saslpasswd2" -f "$d/sasldb2" \
            -u "$CYRUS_SERVERNAME" -c -p "$u" >>"$d/startup.log" 2>&1; then
            _cyrus_log "saslpasswd2 failed for $u; log follows"
            cat "$d/startup.log" >&2
            cyrus_stop
            CYRUS_DIR=
            return 1
        fi
    done
    chown -R "$CYRUS_RUN_USER:$group" "$d/config" "$d/spool" "$d/sieve" "$d/run" "$d/sasldb2"

    local attempt port= bare_port= lmtp_port= rc
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        read -r port bare_port lmtp_port < <(_cyrus_free_ports) || true
        [[ -n $lmtp_port ]] || continue
        _cyrus_write_conf "$port" "$bare_port" "$lmtp_port" "$CYRUS_RUN_USER"
        rc=0
        _cyrus_launch "$port" "$bare_port" "$lmtp_port" || rc=$?
        if ((rc == 0)); then
            CYRUS_PORT=$port
            CYRUS_BARE_PORT=$bare_port
            CYRUS_LMTP_PORT=$lmtp_port
            if ! _cyrus_create_mailboxes; then
                _cyrus_log "creating the users' mailboxes failed"
                break
            fi
            export MAILDESK_TEST_CYRUS_HOST=127.0.0.1
            export MAILDESK_TEST_CYRUS_PORT=$port
            export MAILDESK_TEST_CYRUS_BARE_PORT=$bare_port
            export MAILDESK_TEST_CYRUS_LMTP_PORT=$lmtp_port
            export MAILDESK_TEST_CYRUS_PASSWORD=secret
            export MAILDESK_TEST_CYRUS_ADMIN=$CYRUS_ADMIN
            export MAILDESK_TEST_CYRUS_LOG=$d/cyrus.log
            local ms
            ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
            _cyrus_log "Cyrus IMAP $CYRUS_VERSION on 127.0.0.1:$port (IMAP), :$bare_port (IMAP without IDLE MOVE UIDPLUS CONDSTORE QRESYNC) and :$lmtp_port (LMTP), started in ${ms} ms (dir $d)"
            return 0
        fi
        _cyrus_kill_all "$d"
        if ((rc == 2)); then
            _cyrus_log "port $port, $bare_port or $lmtp_port taken, retrying (attempt $attempt)"
            continue
        fi
        break
    done
    _cyrus_log "could not start Cyrus; end of startup.log, master.log and cyrus.log follow"
    tail -n 40 "$d/startup.log" "$d/master.log" "$d/cyrus.log" >&2 2>/dev/null
    cyrus_stop
    return 1
}

cyrus_stop() {
    [[ -n ${CYRUS_DIR:-} && -d ${CYRUS_DIR:-} ]] || return 0
    _cyrus_kill_all "$CYRUS_DIR" || true
    CYRUS_PORT=
    CYRUS_BARE_PORT=
    CYRUS_LMTP_PORT=
    return 0
}
