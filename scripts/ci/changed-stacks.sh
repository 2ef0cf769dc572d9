#!/usr/bin/env bash
# scripts/ci/changed-stacks.sh [base-ref | --all]
# Which stacks a change touches, as a JSON list for a workflow matrix (e.g. ["dev","staging"]):
#   - Pulumi.<stack>.yaml changed → that stack;
#   - the program, the catalog, the Dockerfiles, the policy pack or the dependencies changed → every
#     stack (any of them can change what every stack builds or checks);
#   - anything else (docs, tests, workflows, these scripts) → none.
# The change is `git diff <base-ref>...HEAD` (default origin/main; the PR workflow passes the PR's
# base). --all lists every stack (the nightly drift check). With GITHUB_OUTPUT set, also writes
# `stacks=<json>` there.
set -euo pipefail
# shellcheck source=scripts/ci/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

base="${1:-origin/main}"
declare -A hit=()
if [[ "$base" == --all ]]; then
  for s in "${CI_STACKS[@]}"; do hit[$s]=1; done
  files=()
else
  git rev-parse --verify --quiet "$base^{commit}" >/dev/null ||
    die "base $base is not a commit here (fetch it: git fetch origin <branch>, or actions/checkout with fetch-depth: 0)"
  mapfile -t files < <(git diff --name-only "$base...HEAD")
fi

# touched_by <file>: prints "all", a stack name, or nothing.
touched_by() {
  case "$1" in
    index.ts | config.ts | Pulumi.yaml | estate.yaml | estate.schema.json | package.json | \
      package-lock.json | tsconfig.json | components/* | estate/* | lib/* | policy/* | dockerfiles/*)
      echo all ;;
    Pulumi.*.yaml)
      local s="${1#Pulumi.}"
      s="${s%.yaml}"
      local known
      for known in "${CI_STACKS[@]}"; do
        if [[ "$s" == "$known" ]]; then echo "$s"; fi
      done
      ;;
  esac
}

for f in ${files[@]+"${files[@]}"}; do
  t="$(touched_by "$f")"
  if [[ "$t" == all ]]; then
    for s in "${CI_STACKS[@]}"; do hit[$s]=1; done
  elif [[ -n "$t" ]]; then
    hit[$t]=1
  fi
done
# In rollout order, as JSON.
list=()
for s in "${CI_STACKS[@]}"; do
  if [[ -n "${hit[$s]:-}" ]]; then list+=("\"$s\""); fi
done
json="[$(IFS=,; printf '%s' "${list[*]}")]"
printf '%s\n' "$json"
if [[ -n "${GITHUB_OUTPUT:-}" ]]; then printf 'stacks=%s\n' "$json" >>"$GITHUB_OUTPUT"; fi
