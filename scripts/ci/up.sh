#!/usr/bin/env bash
# scripts/ci/up.sh <stack> [pulumi up flags...]
# Deploys one stack as the main-branch and release workflows do: `pulumi up` with the policy pack on
# every non-dev stack (a mandatory violation stops the update before the resource it concerns).
#
# --skip-preview on dev and staging (issue 11): the pull request's preview, posted per stack and
# reviewed, *is* the preview of what merges; running it again inside `up` costs a second program run
# and a read of every index for nothing, and the policy pack still checks every resource during the
# update itself. prod keeps its preview: it deploys from a release tag, possibly long after the
# pull requests were previewed, and the reviewers of the prod environment approve that very run.
# DAYU_RELEASE_TAG (set by the release workflow): the tag being deployed; it must equal the stack's
# `release`, so a tag never deploys a stack configured for another release.
set -euo pipefail
# shellcheck source=scripts/ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stack="${1:-}"
[[ -n "$stack" ]] || die "usage: scripts/ci/up.sh <stack> [pulumi up flags...]   (stacks: ${CI_STACKS[*]})"
shift
out="${DAYU_CI_OUT:-.local/ci/$stack}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

env="$(stack_environment "$stack")"
if [[ -n "${DAYU_RELEASE_TAG:-}" ]]; then
  release="$(stack_value "$stack" dayu-estate:release)"
  [[ "$release" == "$DAYU_RELEASE_TAG" ]] ||
    die "dayu-estate:release in Pulumi.$stack.yaml is \"$release\", but the tag being deployed is $DAYU_RELEASE_TAG: set release to the tag in the release's commit"
fi
policy=()
policy_flags="$(policy_args "$stack" "$out")" # a bad enforcement level stops here
if [[ -n "$policy_flags" ]]; then mapfile -t policy <<<"$policy_flags"; fi
flags=(--yes --non-interactive)
case "$env" in
  dev | staging) flags+=(--skip-preview) ;;
  prod) ;;
esac

if [[ "$stack" == dev && "$env" == dev ]]; then
  # The local default: scripts/local-estate.sh brings up the services, keeps the local stack's secrets
  # and pins current, then runs `pulumi up --yes --non-interactive --skip-preview` with these flags.
  log "up dev (the local estate on this machine)"
  exec scripts/local-estate.sh "$@"
fi
use_stack "$stack"
log "up $stack ($env)${policy:+ with the policy pack}: pulumi up ${flags[*]} $*"
# The CLI's full output, the engine's events and the full summary go to $out (scripts/quiet-up.sh); the
# job log and the job summary get the table of what changed.
status=0
scripts/quiet-up.sh "$TARGET_STACK" "$out" "${flags[@]}" "${policy[@]}" "$@" | tee "$out/report.txt" || status=${PIPESTATUS[0]}
if [[ -n "${GITHUB_STEP_SUMMARY:-}" ]]; then
  # shellcheck disable=SC2016 # the backquotes are Markdown
  printf '### up `%s`\n\n```\n%s\n```\n' "$stack" "$(cat "$out/report.txt")" >>"$GITHUB_STEP_SUMMARY"
fi
exit "$status"
