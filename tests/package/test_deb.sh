# Builds the Debian package with CPack, installs it with apt-get, uses it, removes it.
# Needs root (CI runs as root); skipped otherwise: exit 77, which CTest reports as skipped.
set -euo pipefail
: "${WFQ_BUILD_DIR:?}"
[ "$(id -u)" = 0 ] || { echo "SKIP: installing a package needs root"; exit 77; }
if dpkg-query -W -f='${Status}' wfq 2>/dev/null | grep -q "install ok installed"; then
    echo "SKIP: a wfq package is already installed; not touching it"; exit 77
fi
fail() { echo "FAIL: $*" >&2; apt-get remove -y -qq wfq > /dev/null 2>&1 || true; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cpack --config "$WFQ_BUILD_DIR/CPackConfig.cmake" -G DEB -B "$TMP" > "$TMP/cpack.log" 2>&1 || { cat "$TMP/cpack.log"; exit 1; }
deb=$(ls "$TMP"/wfq_*_amd64.deb)
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libpqxx libsqlite3 zlib1g libstdc++; do
    case "$depends" in *"$lib"*) ;; *) fail "Depends lacks $lib: $depends" ;; esac
done
echo "ok: built $(basename "$deb"), Depends: $depends"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" > "$TMP/install.log" 2>&1 || { cat "$TMP/install.log"; fail "apt-get install"; }
/usr/bin/wfq --version | grep -E '^wfq [0-9.]+ \(git ' > /dev/null || fail "wfq --version"
MANPAGER=cat MANWIDTH=80 man wfq 2> /dev/null | grep "operate a workflow job queue" > /dev/null || fail "man wfq"
MANPAGER=cat man 7 wfq-handler 2> /dev/null | grep "WFQ_ATTEMPT" > /dev/null || fail "man 7 wfq-handler"
[ "$(bash -c 'source /usr/share/bash-completion/completions/wfq; COMP_WORDS=(wfq jo); COMP_CWORD=1; _wfq; echo "${COMPREPLY[*]}"')" = jobs ] \
    || fail "bash completion from the package"
[ -f /usr/share/zsh/site-functions/_wfq ] && [ -f /usr/share/fish/vendor_completions.d/wfq.fish ] || fail "zsh/fish completions"
echo "ok: installed; wfq --version, man wfq, man 7 wfq-handler and bash completion work"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq wfq > /dev/null 2>&1 || fail "apt-get remove"
[ ! -e /usr/bin/wfq ] && [ ! -e /usr/share/man/man1/wfq.1.gz ] && [ ! -e /usr/share/bash-completion/completions/wfq ] || fail "files left after remove"
echo "ok: removed cleanly"
