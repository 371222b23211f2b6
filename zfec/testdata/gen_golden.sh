#!/bin/sh
# Regenerate golden.json from Tahoe's real zfec (Debian's python3-zfec).
# Uses /usr/bin/python3 (the Debian interpreter) on purpose: another python
# on PATH would not see the Debian package.
set -eu
cd "$(dirname "$0")"
if ! /usr/bin/python3 -c 'import zfec' 2>/dev/null; then
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update
	$SUDO apt-get install -y python3-zfec
fi
exec /usr/bin/python3 gen_golden.py
