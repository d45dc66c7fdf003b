#!/usr/bin/env bash
# The setup-seg action's install step (action.yml says why it installs from its own files).
# In: GITHUB_ACTION_PATH (this directory), RUNNER_TEMP, GITHUB_PATH, GITHUB_OUTPUT, and
# SEG_RELEASE (the release name, or empty). A plain script so tests run it as the runner does.
set -euo pipefail

source_dir=$(cd "$GITHUB_ACTION_PATH/../../.." && pwd)
venv="$RUNNER_TEMP/setup-seg/venv"
wheels="$RUNNER_TEMP/setup-seg/wheel"

if [ -n "$SEG_RELEASE" ]; then
  if ! [[ "$SEG_RELEASE" =~ ^[0-9]+\.[0-9]+\.[0-9]+([a-z]+[0-9]+)?$ ]]; then
    echo "::error::setup-seg: version \"$SEG_RELEASE\" is not a release number like 0.2.0"
    exit 1
  fi
  if ! grep -qF "## [$SEG_RELEASE]" "$source_dir/CHANGELOG.md"; then
    echo "::error::setup-seg: the pinned commit is not release $SEG_RELEASE (its CHANGELOG.md has no [$SEG_RELEASE]): pin the action to that release's commit"
    exit 1
  fi
fi

rm -rf "$wheels"
python -m venv --clear "$venv"
# The wheel first, alone, with the release's version (hatch-vcs cannot read a tag without git
# history), then seg and its dependencies without that override.
if [ -n "$SEG_RELEASE" ]; then
  SETUPTOOLS_SCM_PRETEND_VERSION="$SEG_RELEASE" \
    "$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --wheel-dir "$wheels" "$source_dir"
else
  "$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps \
    --wheel-dir "$wheels" "$source_dir"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-compile "$wheels"/seg-*.whl

version=$("$venv/bin/seg" --version)
version=${version#seg }
if [ -n "$SEG_RELEASE" ] && [ "$version" != "$SEG_RELEASE" ]; then
  echo "::error::setup-seg: installed seg $version, not $SEG_RELEASE"
  exit 1
fi
echo "$venv/bin" >> "$GITHUB_PATH"
{
  echo "seg=$venv/bin/seg"
  echo "version=$version"
} >> "$GITHUB_OUTPUT"
echo "seg $version installed in $venv"
