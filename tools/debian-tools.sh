#!/usr/bin/env bash
# The Debian programs `make test` runs beside tlsprobe as oracles (curl; prometheus, promtool and
# blackbox_exporter), installed with apt-get when one is missing. A machine where that cannot be
# done (not root, no sudo) gets one line saying so: the tests that need the program then fail,
# naming the package; they never skip.
set -euo pipefail
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl ca-certificates)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-blackbox-exporter >/dev/null 2>&1 || missing+=(prometheus-blackbox-exporter)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "make test: cannot install ${missing[*]} (not root, no sudo): apt-get install them" >&2
  exit 0
fi
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
