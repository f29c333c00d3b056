# shellcheck shell=bash
#
# Headless Chromium behind a throwaway chromedriver, for the portal's browser
# tests (tests/browser.rs, helpers in tests/common/browser.rs).
#
# Sourced by scripts/test (one lib file per server, like dovecot.sh).  When
# sourced it only defines functions and variables; nothing runs.
#
# Public interface
#   chromium_ensure_installed  find Debian's chromium and chromedriver, or
#                              apt-install `chromium chromium-driver
#                              fonts-liberation` (the fonts are only a
#                              Recommends of chromium, and without any font
#                              a page screenshots as empty boxes).  Sets
#                              CHROMIUM_BIN, CHROMEDRIVER_BIN.
#   chromium_start DIR         run chromedriver on a free high port of
#                              127.0.0.1 (it binds loopback only when not
#                              given --allowed-ips; see below), in its own
#                              session, with HOME, TMPDIR and the XDG
#                              directories under DIR/chromium, so neither
#                              it nor the browsers it starts write to the
#                              real home.  Its log: DIR/chromium/chromedriver.log;
#                              the browsers' profiles belong under
#                              DIR/chromium/profiles (the tests make one per
#                              session there).  Exports:
#                                MAILDESK_TEST_WEBDRIVER  http://127.0.0.1:PORT
#                                MAILDESK_TEST_CHROMIUM   the browser binary
#                                MAILDESK_TEST_CHROMIUM_PROFILES  DIR/chromium/profiles
#                                MAILDESK_TEST_CHROMEDRIVER_LOG   its log
#   chromium_stop              stop chromedriver and every browser it started
#                              (SIGTERM, then SIGKILL): each process of its
#                              session, and any process whose command line
#                              names DIR/chromium (a browser whose test never
#                              closed its session).  Idempotent, never fails.
#
# Optional inputs
#   apt_install PKG...         function provided by scripts/test; if it is not
#                              defined and the packages are missing we fail.
#
# What bites
#   - chromedriver binds 127.0.0.1 (and ::1) only as long as --allowed-ips is
#     NOT given; with --allowed-ips it listens on every interface and filters
#     by address.  So we pass neither it nor a host, and check with
#     /proc/net/tcp6 that nothing listens on a wildcard address.
#   - Chromium refuses to start as root without --no-sandbox; the tests pass
#     it (and --headless) in goog:chromeOptions.args, not here.

CHROMIUM_BIN=${CHROMIUM_BIN:-}
CHROMEDRIVER_BIN=${CHROMEDRIVER_BIN:-}
CHROMIUM_DIR=
CHROMEDRIVER_PID=

_CHROMIUM_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")
# shellcheck source=scripts/lib/common.sh
source "$(dirname "$_CHROMIUM_LIB")/common.sh"

_chromium_log() { printf 'chromium.sh: %s\n' "$*" >&2; }

_chromium_find() {
    CHROMIUM_BIN=$(command -v chromium 2>/dev/null) || CHROMIUM_BIN=
    CHROMEDRIVER_BIN=$(command -v chromedriver 2>/dev/null) || CHROMEDRIVER_BIN=
    [[ -n $CHROMIUM_BIN && -n $CHROMEDRIVER_BIN ]] && _chromium_have_font
}

# Whether any TrueType/OpenType font is installed.
_chromium_have_font() {
    [[ -n $(find /usr/share/fonts -type f \( -name '*.ttf' -o -name '*.otf' \) -print -quit 2>/dev/null) ]]
}

# Whether the WebDriver on 127.0.0.1:PORT answers /status with ready: true
# (bash's /dev/tcp: a fresh Debian has no curl).  chromedriver keeps the
# connection open despite `Connection: close`, so the body is read by its
# Content-Length.
_chromium_ready() {
    # shellcheck disable=SC2016 # $1 expands in the inner bash
    timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" >&3
        len=0
        while IFS= read -r line <&3; do
            [[ -n ${line//[[:space:]]/} ]] || break
            [[ ${line,,} != content-length:* ]] || len=${line//[!0-9]/}
        done
        read -r -N "$((len))" body <&3
        [[ $body == *\"ready\":*true* ]]' _ "$1" 2>/dev/null
}

chromium_ensure_installed() {
    _chromium_find && return 0
    if ! declare -F apt_install >/dev/null; then
        _chromium_log "chromium, chromedriver or a font missing; install Debian's chromium chromium-driver fonts-liberation"
        return 1
    fi
    apt_install chromium chromium-driver fonts-liberation
    _chromium_find || {
        _chromium_log "installed chromium chromium-driver fonts-liberation, but chromium, chromedriver or a font is still missing"
        return 1
    }
}

# Whether a process is still ours to kill: its command line names CHROMIUM_DIR
# (chromedriver's own does, through --log-path) or it is a browser helper.
_chromium_is_ours() {
    local cmd
    cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline") || return 1
    [[ $cmd == *"$CHROMIUM_DIR"* || $cmd == "$CHROMIUM_BIN"* || $cmd == /usr/lib/chromium/* ]]
}

# PIDs of chromedriver's session, plus any process naming CHROMIUM_DIR.
_chromium_pids() {
    local pids=() f cmd pid
    [[ -z $CHROMEDRIVER_PID ]] || read -r -a pids <<<"$(lib_session_pids _chromium_is_ours "$CHROMEDRIVER_PID")"
    for f in /proc/[0-9]*/cmdline; do
        cmd=$(tr '\0' ' ' 2>/dev/null <"$f") || continue
        [[ $cmd == *"$CHROMIUM_DIR/"* ]] || continue
        pid=${f#/proc/}
        pids+=("${pid%/cmdline}")
    done
    ((${#pids[@]} == 0)) || printf '%s\n' "${pids[@]}" | sort -un | xargs
}

# Whether a socket listening on PORT is bound to anything but loopback.
_chromium_listens_widely() {
    local port hex
    port=$1
    hex=$(printf '%04X' "$port")
    # local_address is field 2 (ADDR:PORT in hex), state 0A = LISTEN.
    awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $2 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null |
        grep -vqE '^(0100007F|00000000000000000000000001000000|0000000000000000FFFF00000100007F):'
}

chromium_start() {
    local base=${1:?chromium_start: need a base directory (e.g. the mktemp -d dir)}
    [[ -d $base ]] || { _chromium_log "chromium_start: $base is not a directory"; return 1; }
    [[ -z $CHROMIUM_DIR ]] || { _chromium_log "chromium_start: already started in $CHROMIUM_DIR"; return 1; }
    [[ -n $CHROMIUM_BIN && -n $CHROMEDRIVER_BIN ]] || chromium_ensure_installed || return 1

    local t0=$EPOCHREALTIME d
    CHROMIUM_DIR=$(cd "$base" && pwd -P)/chromium
    d=$CHROMIUM_DIR
    mkdir -p "$d"/{home,tmp,profiles,xdg/config,xdg/cache,xdg/data}
    local log=$d/chromedriver.log

    local attempt port='' _
    for attempt in 1 2 3 4 5 6 7 8 9 10; do
        read -r port _ < <(lib_free_ports) || true
        [[ -n $port ]] || continue
        : >"$log"
        # setsid: its own session, so that stopping finds every browser it
        # started; stdio on files, so no caller reading a pipe waits on it.
        HOME=$d/home TMPDIR=$d/tmp XDG_CONFIG_HOME=$d/xdg/config XDG_CACHE_HOME=$d/xdg/cache \
            XDG_DATA_HOME=$d/xdg/data \
            setsid "$CHROMEDRIVER_BIN" --port="$port" --log-path="$log" --log-level=INFO \
            </dev/null >>"$d/stdout.log" 2>&1 &
        CHROMEDRIVER_PID=$!
        local i
        for ((i = 0; i < 250; i++)); do
            kill -0 "$CHROMEDRIVER_PID" 2>/dev/null || break
            ! _chromium_ready "$port" || break
            sleep 0.02
        done
        if ! kill -0 "$CHROMEDRIVER_PID" 2>/dev/null; then
            wait "$CHROMEDRIVER_PID" 2>/dev/null || true
            CHROMEDRIVER_PID=
            if grep -qiE 'bind|address already in use' "$log" "$d/stdout.log" 2>/dev/null; then
                _chromium_log "port $port taken, retrying (attempt $attempt)"
                continue
            fi
            break
        fi
        if ((i == 250)); then
            _chromium_log "chromedriver not ready on port $port"
            break
        fi
        if _chromium_listens_widely "$port"; then
            _chromium_log "chromedriver listens on more than loopback on port $port; refusing to go on"
            break
        fi
        export MAILDESK_TEST_WEBDRIVER=http://127.0.0.1:$port
        export MAILDESK_TEST_CHROMIUM=$CHROMIUM_BIN
        export MAILDESK_TEST_CHROMIUM_PROFILES=$d/profiles
        export MAILDESK_TEST_CHROMEDRIVER_LOG=$log
        local ms version
        ms=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }')
        version=$("$CHROMEDRIVER_BIN" --version 2>/dev/null | awk '{ print $2 }')
        _chromium_log "chromedriver $version on 127.0.0.1:$port for $CHROMIUM_BIN, started in ${ms} ms (dir $d)"
        return 0
    done
    _chromium_log "could not start chromedriver; end of its log follows"
    tail -n 40 "$d/stdout.log" "$log" >&2 2>/dev/null
    chromium_stop
    return 1
}

chromium_stop() {
    [[ -n ${CHROMIUM_DIR:-} ]] || return 0
    local pids _ all pid left
    pids=$(_chromium_pids)
    all=$pids
    if [[ -n $pids ]]; then
        # shellcheck disable=SC2086 # one argument per pid
        kill -TERM $pids 2>/dev/null || true
        for _ in $(seq 50); do
            [[ -n $(_chromium_pids) ]] || break
            sleep 0.05
        done
        pids=$(_chromium_pids)
        if [[ -n $pids ]]; then
            _chromium_log "killing what is left: $pids"
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
        [[ -z $CHROMEDRIVER_PID ]] || wait "$CHROMEDRIVER_PID" 2>/dev/null || true
        # Browsers are not our children: they linger as zombies until init reaps them,
        # and `pgrep chromium` would still list them.
        for _ in $(seq 60); do
            left=
            for pid in $all; do
                [[ ! -e /proc/$pid ]] || left=$pid
            done
            [[ -n $left ]] || break
            sleep 0.05
        done
    fi
    [[ -z $CHROMEDRIVER_PID ]] || wait "$CHROMEDRIVER_PID" 2>/dev/null || true
    CHROMEDRIVER_PID=
    unset MAILDESK_TEST_WEBDRIVER
    return 0
}
