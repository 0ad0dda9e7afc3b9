#!/bin/sh
# Installs the Debian 12 packages wfq needs to build and test, when they are missing.
set -eu
PACKAGES="build-essential cmake pkg-config git python3 ccache \
  libpqxx-dev libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev libsqlite3-dev zlib1g-dev libhowardhinnant-date-dev libcpp-httplib-dev \
  libprotobuf-dev protobuf-compiler libcurl4-openssl-dev \
  libgtest-dev postgresql postgresql-common zsh fish mandoc man-db gzip prometheus tmux pgbouncer faketime nodejs time \
  iproute2 python3-psycopg2 clang-14 libclang-rt-14-dev"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# npm: Debian's nodejs (18) needs the npm package; NodeSource's nodejs carries npm itself and
# conflicts with Debian's, so npm is asked for only when no npm command exists.
command -v npm > /dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
