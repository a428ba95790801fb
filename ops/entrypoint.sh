#!/bin/sh
# Container entrypoint for masterfarm (see ops/Containerfile, ops/DEPLOY.md).
#
#   broker [ARGS...]       masterfarm-broker
#   worker [ARGS...]       masterfarm-worker
#   masterfarm [ARGS...]   the client (submit, status, keygen, ...)
#
# Given ARGS, the program gets exactly them. Given none, broker and worker
# take their flags from the same variables as the systemd units (the
# ops/systemd/*.env.example files work with `--env-file`), CURVE included;
# MF_BROKER_OPTS / MF_WORKER_OPTS are split into words.
set -eu

unquote () {  # unquote VALUE: VALUE without one pair of enclosing double
              # quotes (docker/podman --env-file keep them, systemd and sh do not)
    v=$1
    case "$v" in
        \"*\") v=${v#\"}; v=${v%\"} ;;
    esac
    printf '%s' "$v"
}

need () {  # need VAR...: every VAR set and not empty, or exit 2 naming it
    for v in "$@"; do
        eval "val=\${$v:-}"
        if [ -z "$val" ]; then
            echo "entrypoint: $v is not set (see ops/systemd/*.env.example)" >&2
            exit 2
        fi
    done
}

role=${1:-}
[ $# -gt 0 ] && shift
case "$role" in
    broker)
        [ $# -gt 0 ] && exec masterfarm-broker "$@"
        need MF_BIND MF_STATE MF_INPUT_ROOT MF_OUTPUT_ROOT MF_STORAGE MF_CURVE_KEY MF_ALLOW
        # shellcheck disable=SC2046  # the options are split into words on purpose
        exec masterfarm-broker --bind "$MF_BIND" --state "$MF_STATE" \
            --input-root "$MF_INPUT_ROOT" --output-root "$MF_OUTPUT_ROOT" \
            --storage "$MF_STORAGE" --curve-key "$MF_CURVE_KEY" --allow "$MF_ALLOW" \
            $(unquote "${MF_BROKER_OPTS:-}")
        ;;
    worker)
        [ $# -gt 0 ] && exec masterfarm-worker "$@"
        need MF_CONNECT MF_CURVE_KEY MF_BROKER_KEY
        # shellcheck disable=SC2046  # the options are split into words on purpose
        exec masterfarm-worker --connect "$MF_CONNECT" \
            --curve-key "$MF_CURVE_KEY" --broker-key "$MF_BROKER_KEY" \
            $(unquote "${MF_WORKER_OPTS:-}")
        ;;
    masterfarm)
        exec masterfarm "$@"
        ;;
    *)
        echo "usage: entrypoint.sh broker|worker|masterfarm [ARGS...]" >&2
        exit 2
        ;;
esac
