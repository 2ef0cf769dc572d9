#!/usr/bin/env bash
# scripts/ci/preview.sh <stack> [pulumi preview flags...]
# Previews one stack as the pull-request workflow does: `pulumi preview --json` with the policy pack
# on every non-dev stack, the engine's event log for the policy results, then the reviewer's comment
# (scripts/preview-comment.ts). Writes preview.json, events.jsonl and comment.md into $DAYU_CI_OUT
# (default .local/ci/<stack>), prints the comment, and exits with the preview's status: a mandatory
# policy violation or a program error fails it, after the comment is written. Extra flags go to
# `pulumi preview` (drift.sh passes --refresh --expect-no-changes).
set -euo pipefail
# shellcheck source=scripts/ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack="${1:-}"
[[ -n "$stack" ]] || die "usage: scripts/ci/preview.sh <stack> [pulumi preview flags...]   (stacks: ${CI_STACKS[*]})"
shift
out="${DAYU_CI_OUT:-.local/ci/$stack}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

env="$(stack_environment "$stack")"
policy=()
policy_flags="$(policy_args "$stack" "$out")" # a bad enforcement level stops here
if [[ -n "$policy_flags" ]]; then mapfile -t policy <<<"$policy_flags"; fi
use_stack "$stack"
log "preview $stack ($env, pulumi stack $TARGET_STACK)${policy:+ with the policy pack}"

status=0
# --event-log exists only with PULUMI_DEBUG_COMMANDS set (pkg/cmd/pulumi/operations/preview.go).
PULUMI_DEBUG_COMMANDS=true pulumi preview --stack "$TARGET_STACK" --non-interactive --json \
  --event-log "$out/events.full.jsonl" "${policy[@]}" "$@" >"$out/preview.json" || status=$?

# The digest carries no policy events (the CLI leaves them out of --json); the event log does.
grep -E '"(policyEvent|policyLoadEvent|summaryEvent)"' "$out/events.full.jsonl" >"$out/events.jsonl" || true
rm -f "$out/events.full.jsonl"

comment=(--stack "$stack" --preview "$out/preview.json" --out "$out/comment.md")
if [[ "$env" != dev ]]; then comment+=(--events "$out/events.jsonl" --policy-pack "$POLICY_PACK"); fi
if [[ -s "$out/preview.json" ]]; then
  npx --no-install ts-node --transpile-only scripts/preview-comment.ts "${comment[@]}"
else
  # No JSON at all (the CLI failed before the engine ran): say so in the comment rather than nothing.
  # shellcheck disable=SC2016 # the backquotes are Markdown
  printf '%s\n### Estate preview: `%s`\n\n❌ The preview printed nothing: see the job log.\n' \
    "<!-- dayu-estate-preview stack=$stack -->" "$stack" >"$out/comment.md"
fi
cat "$out/comment.md"
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then cat "$out/comment.md" >>"$GITHUB_STEP_SUMMARY"; fi
exit "$status"
