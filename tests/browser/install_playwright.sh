#!/usr/bin/env bash
# CTest fixture of the browser test: installs playwright-core VERSION from
# npm into DIR (in the build tree, never the source tree), unless that
# version is there already. The browser is Debian's chromium
# (scripts/install-deps.sh); playwright downloads none.
set -euo pipefail
version=$1
dir=$2
installed=$(node -p "require('$dir/node_modules/playwright-core/package.json').version" 2>/dev/null || true)
if [ "$installed" = "$version" ]; then
  echo "playwright-core $version already in $dir"
  exit 0
fi
mkdir -p "$dir"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "playwright-core@$version"
node -p "'installed playwright-core ' + require('$dir/node_modules/playwright-core/package.json').version"
