#!/usr/bin/env bash
# Debian's chromium (/usr/bin/chromium) for the browser tests, which drive it with Playwright.
# Idempotent: does nothing when /usr/bin/chromium is there. Never `playwright install`: that
# downloads Playwright's own browser build, which cannot be fetched (or run) on these machines.
#
#   scripts/install-browser.sh     install chromium if missing; one line says what happened
set -euo pipefail

browser=/usr/bin/chromium
say() { printf 'install-browser: %s\n' "$*"; }
die() { printf 'install-browser: error: %s\n' "$*" >&2; exit 1; }

if [ -x "$browser" ]; then
  say "$browser already installed ($("$browser" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || die "$browser is missing and installing it needs root: run 'sudo $0'"
command -v apt-get >/dev/null || die "$browser is missing and there is no apt-get here: install chromium yourself"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt_install() { apt-get install -y --no-install-recommends chromium >>"$log" 2>&1; }
apt_update() { apt-get update >>"$log" 2>&1; }

# Refresh the package lists only when the install needs it: no candidate known, or the known one
# could not be fetched (lists older than the mirror).
did="installed chromium"
candidate=$(apt-cache policy chromium 2>/dev/null | sed -n 's/^ *Candidate: //p')
if [ -z "$candidate" ] || [ "$candidate" = "(none)" ]; then
  apt_update || { tail -n 20 "$log" >&2; die "apt-get update failed"; }
  did="updated the package lists and installed chromium"
  apt_install || { tail -n 20 "$log" >&2; die "apt-get install chromium failed"; }
elif ! apt_install; then
  apt_update || { tail -n 20 "$log" >&2; die "apt-get install chromium failed, and so did apt-get update"; }
  did="installed chromium (after apt-get update: the package lists were stale)"
  apt_install || { tail -n 20 "$log" >&2; die "apt-get install chromium failed"; }
fi
[ -x "$browser" ] || die "chromium installed but $browser is missing"
say "$did: $("$browser" --version 2>/dev/null || echo "$browser")"
