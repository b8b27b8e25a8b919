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
  spec="."
  [ -n "$extra" ] && spec=".[${extra}]"
  # pip's chatter goes to a log, shown only if the install fails.
  if ! { .venv/bin/python -m pip install --upgrade pip && .venv/bin/python -m pip install -e "$spec"; } \
      > .venv/pip.log 2>&1; then
    cat .venv/pip.log >&2
    echo "handoff: installing dependencies failed (log above, also in .venv/pip.log)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
