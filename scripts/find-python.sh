#!/usr/bin/env bash
# Prints the absolute path of a Python interpreter of the wanted minor version, or fails with a clear message.
#
# Usage: scripts/find-python.sh VERSION [CANDIDATE...]     e.g. scripts/find-python.sh 3.13 python3.13
#
# Tries, in order: each CANDIDATE (default pythonVERSION), then python3; then, with pyenv, the newest
# installed VERSION.x (pyenv's shim refuses `python3.13` unless 3.13 is the global or local version or
# PYENV_VERSION names it, which is the usual state of a fresh machine with several pyenv versions).
# The path printed is the interpreter's own sys.executable, usable without PYENV_VERSION.
set -euo pipefail

want="${1:?usage: find-python.sh VERSION [CANDIDATE...]}"
shift
candidates=("$@")
[[ ${#candidates[@]} -gt 0 ]] || candidates=("python$want")
candidates+=(python3)

probe() { # $1: interpreter (name or path); prints its sys.executable if it is Python $want
  local exe
  exe="$("$@" -c 'import sys; print(sys.executable if "%d.%d" % sys.version_info[:2] == sys.argv[1] else "")' "$want" 2>/dev/null)" || return 1
  [[ -n "$exe" ]] && printf '%s\n' "$exe"
}

for candidate in "${candidates[@]}"; do
  if command -v "$candidate" >/dev/null 2>&1 && probe "$candidate"; then
    exit 0
  fi
done

if command -v pyenv >/dev/null 2>&1; then
  version="$(pyenv versions --bare 2>/dev/null | grep -E "^${want//./\\.}\.[0-9]+$" | sort -t. -k3,3n | tail -n 1 || true)"
  if [[ -n "$version" ]] && PYENV_VERSION="$version" probe "python$want"; then
    exit 0
  fi
fi

{
  echo "error: Python $want not found (tried: ${candidates[*]}$(command -v pyenv >/dev/null 2>&1 && echo ", pyenv versions"))."
  echo "Install Python $want (e.g. \`pyenv install $want\`, or your OS package python$want), or run"
  echo "  make PYTHON=/path/to/python$want ..."
} >&2
exit 1
