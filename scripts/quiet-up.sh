#!/usr/bin/env bash
# scripts/quiet-up.sh <stack> <out-dir> [pulumi up flags...]
# `pulumi up` as the scripts run it (scripts/ci/up.sh, scripts/local-estate.sh), readable: the CLI's own
# output (one line per BuildKit progress line in a cold run) goes to <out>/up.log, the engine's events to
# <out>/events.jsonl; then a one-screen report of what changed (scripts/up-report.ts: image, arch, tag,
# digest; a failing build's errors and the end of its BuildKit log; warnings), and the full per-image
# summary written to <out>/summary.json (the stack output `summary`, which the CLI would otherwise print
# whole after every up). DAYU_VERBOSE=1 also shows the CLI's output as it runs.
# Exits with pulumi up's status.
set -euo pipefail
stack="${1:?usage: scripts/quiet-up.sh <stack> <out-dir> [pulumi up flags...]}"
out="${2:?usage: scripts/quiet-up.sh <stack> <out-dir> [pulumi up flags...]}"
shift 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
(umask 077; mkdir -p "$out")
out="$(cd "$out" && pwd)"
rm -f "$out/events.jsonl" "$out/summary.json"

# --event-log exists only with PULUMI_DEBUG_COMMANDS set (pkg/cmd/pulumi/operations/up.go).
up=(pulumi up --stack "$stack" --suppress-outputs --event-log "$out/events.jsonl" "$@")
set +e
if [[ "${DAYU_VERBOSE:-}" == 1 ]]; then
  PULUMI_DEBUG_COMMANDS=true "${up[@]}" 2>&1 | tee "$out/up.log"
  status=${PIPESTATUS[0]}
else
  PULUMI_DEBUG_COMMANDS=true "${up[@]}" >"$out/up.log" 2>&1
  status=$?
fi
set -e

report=(--events "$out/events.jsonl" --log "$out/up.log")
if [[ $status -eq 0 ]] && pulumi stack output --stack "$stack" --json summary >"$out/summary.json" 2>/dev/null &&
  [[ -s "$out/summary.json" ]]; then
  report+=(--summary "$out/summary.json")
else
  rm -f "$out/summary.json"
fi
(cd "$ROOT" && npx --no-install ts-node --transpile-only scripts/up-report.ts "${report[@]}") || true
if [[ $status -ne 0 && ! -s "$out/events.jsonl" ]]; then
  # The CLI stopped before the engine ran (a bad flag, a locked stack): its own words are the report.
  tail -n 20 "$out/up.log" >&2
fi
exit "$status"
