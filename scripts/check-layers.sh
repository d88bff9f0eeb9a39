#!/usr/bin/env bash
# Enforces the layering (DESIGN.md, with crypto and net below core): a folder includes only earlier ones; only
# src/store may include sqlite3.h, only src/http microhttpd.h. Run by ctest as check/layers.
set -euo pipefail
cd "$(dirname "$0")/.."
order=(basic store crypto net core services http daemon cli)
fail=0
for i in "${!order[@]}"; do
  layer=${order[$i]}
  [ -d "src/$layer" ] || continue
  allowed=("${order[@]:0:$((i+1))}")
  while IFS=: read -r file _ inc; do
    dep=$(sed -E 's/.*#include "([a-z]+)\/.*/\1/' <<<"$inc")
    ok=0
    for a in "${allowed[@]}"; do [ "$dep" = "$a" ] && ok=1; done
    # the CLI is a client: it may use basic and crypto, never the daemon's internals
    if [ "$layer" = cli ] && [[ ! "$dep" =~ ^(basic|crypto|cli)$ ]]; then ok=0; fi
    if [ $ok -eq 0 ]; then echo "layer violation: $file includes $dep/ ($inc)"; fail=1; fi
  done < <(grep -rn '#include "[a-z]*/' "src/$layer" || true)
done
bad=$(grep -rln '#include <sqlite3.h>' src | grep -v '^src/store/' || true)
[ -z "$bad" ] || { echo "sqlite3.h outside src/store: $bad"; fail=1; }
bad=$(grep -rln '#include <microhttpd.h>' src | grep -v '^src/http/' || true)
[ -z "$bad" ] || { echo "microhttpd.h outside src/http: $bad"; fail=1; }
[ $fail -eq 0 ] && echo "layers: ok"
exit $fail
