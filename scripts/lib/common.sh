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
