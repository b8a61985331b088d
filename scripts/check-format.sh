#!/usr/bin/env bash
# Fails if a tracked C++ file differs from what clang-format (with .clang-format) makes.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' 2>/dev/null || true)
[ ${#files[@]} -eq 0 ] && exit 0
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if [ ${#bad[@]} -ne 0 ]; then
  echo "check-format: not formatted (run clang-format -i): ${bad[*]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files ok"
