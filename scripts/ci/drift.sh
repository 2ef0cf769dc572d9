#!/usr/bin/env bash
# scripts/ci/drift.sh [stack...]
# The nightly drift check (default: every stack, in rollout order): `pulumi preview --refresh
# --expect-no-changes` through preview.sh, so each stack runs with its policy gates and gets the same
# report a pull request gets. Refresh reads every index back from the registry (IndexGuard), so a tag
# moved behind the program's back shows as a change, and the report names it with its live and
# published digests. Every stack is checked even after one fails; the exit status is 1 if any stack
# drifted or failed. Repair: scripts/ci/up.sh <stack> --refresh (or the up workflow's refresh input).
set -euo pipefail
# shellcheck source=scripts/ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stacks=("$@")
if [[ ${#stacks[@]} -eq 0 ]]; then stacks=("${CI_STACKS[@]}"); fi
failed=()
for stack in "${stacks[@]}"; do
  log "drift check: $stack"
  if ! DAYU_CI_OUT="${DAYU_CI_OUT:-.local/ci}/drift-$stack" \
    scripts/ci/preview.sh "$stack" --refresh --expect-no-changes; then
    failed+=("$stack")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  log "drift or failure on: ${failed[*]} (reports above; the comment files are in ${DAYU_CI_OUT:-.local/ci}/drift-<stack>/)"
  exit 1
fi
log "no drift on: ${stacks[*]}"
