# shellcheck shell=bash
#
# Small helpers the server libs share (sourced by dovecot.sh and postfix.sh, also when
# those run as programs). Defines functions only.

# Two distinct free TCP ports on 127.0.0.1, space separated.
lib_free_ports() {
    local ports
    if command -v python3 >/dev/null 2>&1 &&
        ports=$(python3 -c 'import socket
a = socket.socket(); a.bind(("127.0.0.1", 0))
b = socket.socket(); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])' 2>/dev/null) &&
        [[ $ports =~ ^[0-9]+\ [0-9]+$ ]]; then
        echo "$ports"
    else
        local p=$((40000 + RANDOM % 20000))
        echo "$p $((p + 1))"
    fi
}

# Quote a string for sh (POSIX single quotes).
lib_shquote() {
    local s=${1//\'/\'\\\'\'}
    printf "'%s'" "$s"
}

# lib_port_ready PORT [QUIT GREETING]: true when 127.0.0.1:PORT accepts a
# connection and, given a QUIT command and a GREETING (a glob), sends a first
# line matching GREETING within a second (QUIT is then sent back).
lib_port_ready() {
    local port=$1 quit=${2:-} greeting=${3:-}
    # shellcheck disable=SC2016 # $1..$3 expand in the inner bash
    if [[ -n $quit ]]; then
        timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
            IFS= read -r line <&3 || exit 1
            printf "%s\r\n" "$2" >&3 2>/dev/null
            [[ $line == $3 ]]' _ "$port" "$quit" "$greeting" 2>/dev/null
    else
        timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null
    fi
}

# lib_session_pids IS_OURS SID...: PIDs (space separated) of the processes in
# any of the sessions SID for which the function IS_OURS PID succeeds.
lib_session_pids() {
    local is_ours=$1
    shift
    (($# > 0)) || return 0
    local stat line pid f out=() sid
    for stat in /proc/[0-9]*/stat; do
        IFS= read -r line 2>/dev/null <"$stat" || continue
        # Fields after "(comm)": state ppid pgrp session ...
        read -r -a f <<<"${line##*) }"
        for sid in "$@"; do
            if [[ ${f[3]:-} == "$sid" ]]; then
                pid=${stat#/proc/}
                pid=${pid%/stat}
                ! "$is_ours" "$pid" || out+=("$pid")
                break
            fi
        done
    done
    echo "${out[*]}"
}
