#!/usr/bin/env bash
# Installs PostgreSQL with pgvector from Debian's packages, for the Postgres test tier and for
# operators who want the real server on one machine. Idempotent: it exits at once when the server
# and the `vector` extension are already there.
#   Debian 13: postgresql-17 and postgresql-17-pgvector are packages.
#   Debian 12: postgresql-15 is a package; pgvector 0.8 is built from Debian's trixie source
#   package against it (a deb-src line for trixie on the mirror the apt sources already name).
# Prints the server's bin folder on its last line.
set -euo pipefail
sudo=$([ "$(id -u)" = 0 ] || echo sudo)
debian_major=$(cut -d. -f1 /etc/debian_version 2>/dev/null || echo 0)
case "$debian_major" in
  13) major=17 ;;
  12) major=15 ;;
  *) echo "tools/postgres/install.sh knows Debian 12 and 13; here: $(cat /etc/debian_version 2>/dev/null)" >&2; exit 1 ;;
esac
bindir=/usr/lib/postgresql/$major/bin
sharedir=/usr/share/postgresql/$major
if [ -x "$bindir/initdb" ] && [ -f "$sharedir/extension/vector.control" ]; then
  echo "$bindir"
  exit 0
fi
apt_install() { DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2; }
$sudo apt-get update -qq >&2
if [ "$major" = 17 ]; then
  apt_install postgresql-17 postgresql-17-pgvector
else
  apt_install postgresql-15 postgresql-server-dev-15 make gcc libc6-dev
  # the mirror this machine's apt sources already use (deb822 "URIs:" or one-line "deb URL")
  mirror=$( { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } |
    awk '$1 == "URIs:" || $1 == "deb" { print $2 }' | grep -v security | head -n 1)
  [ -n "$mirror" ] || { echo "no Debian mirror found in the apt sources" >&2; exit 1; }
  list=/etc/apt/sources.list.d/neglabel-trixie-src.sources
  printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" | $sudo tee "$list" >/dev/null
  $sudo apt-get update -qq >&2
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get source --download-only pgvector >&2)
  tar -xf "$work"/pgvector_*.orig.tar.* -C "$work"
  src=$(find "$work" -maxdepth 1 -type d -name 'pgvector-*' | head -n 1)
  # no LLVM bitcode: the JIT is off in our clusters, and it would need clang
  make -C "$src" PG_CONFIG="$bindir/pg_config" with_llvm=no >&2
  $sudo make -C "$src" PG_CONFIG="$bindir/pg_config" with_llvm=no install >&2
fi
[ -f "$sharedir/extension/vector.control" ] || { echo "pgvector did not install" >&2; exit 1; }
echo "$bindir"
