#!/usr/bin/env bash
# bench/dayu-script.sh: what Dayu's build scripts do, on this checkout's builders and registry, for the
# bench (bench/README.md) to time against the program. Sequential, nothing skipped, nothing shared:
#   - each mirror copied with `buildx imagetools create` (the program copies them too);
#   - per image (in dependency order), per variant, per platform: one `buildx build --push` on that
#     platform's builder, pushed as <variant tag>-<arch>, bases by tag (REG=<registry>/<prefix>, so
#     `FROM ${REG}/dayuhub/dayubase:${TAG}` pulls whatever that tag holds now; no dedup: the amd64
#     half of every JetPack variant is built again);
#   - then per index (image, tag): `buildx imagetools create` from its per-arch tags.
# No registry cache (Dayu's scripts use the daemons' own caches only).
#
# Usage: bench/dayu-script.sh --steps FILE [--log FILE]
#        bench/dayu-script.sh --stack STACK --prefix PREFIX [--log FILE]
# FILE: the tab-separated steps of bench/scriptPlan.ts (the driver writes it first, so planning is not
# timed: Dayu's scripts have their lists written in). Prints one JSON line when done:
#   {"builds":N,"indexes":N,"mirrors":N,"seconds":S,"failed":"<step>"|null}
# and exits non-zero on the first failed step (as `set -e` scripts do).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steps="" stack="" prefix="" log=/dev/null
while (($#)); do
  case "$1" in
    --steps) steps="$2"; shift 2 ;;
    --stack) stack="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    *) echo "dayu-script: unknown argument $1" >&2; exit 2 ;;
  esac
done
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
BUILDX="${DAYU_BUILDX:-$ROOT/.tools/bin/buildx}"
if [[ -z "$steps" ]]; then
  [[ -n "$stack" ]] || { echo "dayu-script: give --steps FILE or --stack STACK [--prefix P]" >&2; exit 2; }
  steps="$(mktemp)"; trap 'rm -f "$steps"' EXIT
  node -r "$ROOT/node_modules/ts-node/register/transpile-only" "$ROOT/bench/scriptPlan.ts" \
    --stack "$stack" --prefix "$prefix" >"$steps"
fi
[[ -s "$steps" ]] || { echo "dayu-script: no steps in $steps" >&2; exit 2; }

builds=0 indexes=0 mirrors=0 failed=null
t0="$(date +%s.%N)"
done_json() {
  local t1; t1="$(date +%s.%N)"
  printf '{"builds":%d,"indexes":%d,"mirrors":%d,"seconds":%s,"failed":%s}\n' \
    "$builds" "$indexes" "$mirrors" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')" "$failed"
}
fail() { failed="\"$1\""; done_json; exit 1; }

while IFS=$'\t' read -r -a f; do
  case "${f[0]}" in
    mirror)
      # mirror NAME SOURCE TARGET
      echo "== mirror ${f[1]} -> ${f[3]}" >>"$log"
      "$BUILDX" imagetools create --progress=plain -t "${f[3]}" "${f[2]}" >>"$log" 2>&1 || fail "mirror ${f[1]}"
      mirrors=$((mirrors + 1))
      ;;
    build)
      # build IMAGE VARIANT PLATFORM BUILDER CONTEXT DOCKERFILE REF K=V...
      args=()
      for kv in "${f[@]:8}"; do args+=(--build-arg "$kv"); done
      echo "== build ${f[1]} ${f[2]} ${f[3]} -> ${f[7]}" >>"$log"
      b0="$(date +%s.%N)"
      "$BUILDX" build --builder "${f[4]}" --platform "${f[3]}" --provenance=false \
        -f "${f[6]}" "${args[@]}" -t "${f[7]}" --push --progress=plain "${f[5]}" >>"$log" 2>&1 \
        || fail "build ${f[1]} ${f[2]} ${f[3]}"
      # One line per build with its wall time, for the per-architecture figures of the bench.
      awk -v a="$b0" -v b="$(date +%s.%N)" -v w="${f[1]} ${f[2]} ${f[3]}" 'BEGIN{printf "-- built %s %.3f\n", w, b-a}' >>"$log"
      builds=$((builds + 1))
      ;;
    index)
      # index IMAGE REF SOURCE...
      echo "== index ${f[2]}" >>"$log"
      "$BUILDX" imagetools create --progress=plain -t "${f[2]}" "${f[@]:3}" >>"$log" 2>&1 || fail "index ${f[2]}"
      indexes=$((indexes + 1))
      ;;
    "") ;;
    *) fail "unknown step ${f[0]}" ;;
  esac
done <"$steps"
done_json
