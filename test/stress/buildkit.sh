#!/usr/bin/env bash
# The push race as the estate meets it, through BuildKit: per round, a fresh layer shared by both
# architectures (COPY of the same new file gives the same layer digest on amd64 and arm64) is pushed
# at the same time by the amd64 build, the arm64 build, and both builds' registry cache exports
# (mode=max), all into ONE repository of this checkout's local registry (`stress/buildkit`). Then every
# per-arch tag is read back. Needs the local services (scripts/local-services.sh start); bounded in
# rounds (default 6, at most 20).
#
# Usage: test/stress/buildkit.sh [ROUNDS]    exit 0 when every build pushed and read back.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
ROUNDS="${1:-6}"
[[ "$ROUNDS" =~ ^[0-9]+$ ]] && ((ROUNDS >= 1 && ROUNDS <= 20)) || { echo "ROUNDS must be 1-20" >&2; exit 2; }
REPO="$DAYU_REGISTRY/stress/buildkit"
log() { printf '[stress-buildkit] %s\n' "$*" >&2; }

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
busybox_dir="$ROOT/.tools/busybox"
failed=0 pushes=0
for round in $(seq 1 "$ROUNDS"); do
  head -c 262144 /dev/urandom >"$work/shared.bin"
  pids=() names=()
  for arch in amd64 arm64; do
    ctx="$work/$arch"; mkdir -p "$ctx"
    cp "$busybox_dir/$arch/bin/busybox" "$ctx/busybox"
    cp -p "$work/shared.bin" "$ctx/shared.bin"   # same bytes and mtime: the same layer digest on both
    printf 'FROM scratch\nCOPY shared.bin /shared.bin\nCOPY busybox /bin/busybox\n' >"$ctx/Dockerfile"
    buildx build --builder "dayu-$arch" --platform "linux/$arch" --provenance=false \
      -t "$REPO:r$round-$arch" --push \
      --cache-to "type=registry,ref=$REPO:buildcache-$arch,mode=max" \
      --progress=plain "$ctx" >"$work/r$round-$arch.log" 2>&1 &
    pids+=($!) names+=("$arch")
  done
  for i in "${!pids[@]}"; do
    pushes=$((pushes + 1))
    if ! wait "${pids[$i]}"; then
      failed=$((failed + 1))
      log "round $round ${names[$i]}: FAILED: $(grep -iE 'error|failed' "$work/r$round-${names[$i]}.log" | tail -n2 | tr '\n' ' ')"
    elif ! buildx imagetools inspect --raw "$REPO:r$round-${names[$i]}" >/dev/null 2>&1; then
      failed=$((failed + 1))
      log "round $round ${names[$i]}: pushed but not readable back"
    fi
  done
done
log "$pushes builds (each an image push plus a cache export into $REPO at once), $failed failed"
((failed == 0))
