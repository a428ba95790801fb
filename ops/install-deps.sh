#!/bin/sh
# Installs every Debian package masterfarm's build, tests and benchmarks
# need. Non-interactive and idempotent; run as root (or with sudo).
set -eu

PACKAGES="
  build-essential cmake pkg-config git
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
  libsndfile1-dev libflac-dev libebur128-dev libsoxr-dev libfftw3-dev
  libsqlite3-dev libjansson-dev libcmocka-dev libmicrohttpd-dev
  chromium prometheus
  clang libclang-rt-14-dev
  ffmpeg sox flac cuetools sqlite3 loudgain
  iproute2 iptables
  python3 python3-zmq python3-protobuf python3-yaml protobuf-compiler
  curl systemd
"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if dpkg-query -W -f='${Status}\n' $PACKAGES 2>/dev/null | grep -qv "install ok installed" \
   || [ "$(dpkg-query -W -f='${Status}\n' $PACKAGES 2>/dev/null | wc -l)" -lt "$(echo $PACKAGES | wc -w)" ]; then
    $SUDO apt-get update -q
    # shellcheck disable=SC2086
    $SUDO apt-get install -y -q --no-install-recommends $PACKAGES
else
    echo "install-deps: all packages present"
fi
