# Sourced by scripts/serve and scripts/test: make sure .venv exists and holds the project.
#
# The project is installed in editable mode, so source changes need no reinstall; only
# pyproject.toml (dependencies, entry points) does. A stamp per set of extras records the
# hash of the pyproject.toml it was installed from, and the install (several seconds) runs
# only when that hash changed. The test extras include everything serve needs.

ensure_venv() {
  local extras="$1"  # "" for the server, "test" for the checks
  if [ ! -x .venv/bin/python ]; then
    "${PYTHON:-python3}" -m venv .venv
  fi
  local hash stamp
  hash="$(.venv/bin/python -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')"
  stamp=".venv/.orchestrion-installed-${extras:-base}"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$hash" ]; then
    return 0
  fi
  if [ -z "$extras" ] && [ "$(cat .venv/.orchestrion-installed-test 2>/dev/null)" = "$hash" ]; then
    return 0
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  echo "$hash" > "$stamp"
}
