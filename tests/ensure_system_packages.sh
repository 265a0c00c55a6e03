#!/bin/sh
# Idempotent: install the Debian packages the tests drive for real (called by `make test`):
# chromium (report rendering in a headless browser) and docker-compose (validates docker/).
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
