# Sourced by scripts/run and scripts/test: make .venv and install the project when needed.
# $1: the pip extra to install ("" for the app, "dev" for the tests).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
extra="${1:-}"
if [ ! -x .venv/bin/python ]; then
  echo "handoff: creating .venv (first run only)"
  "$python" -m venv .venv
fi
# Reinstall only when pyproject.toml changed since the last install of this extra.
stamp=".venv/.installed-${extra:-app}"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "handoff: installing dependencies into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip
  spec="."
  [ -n "$extra" ] && spec=".[${extra}]"
  .venv/bin/python -m pip install --quiet -e "$spec"
  echo "$want" > "$stamp"
fi
