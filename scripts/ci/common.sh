# Shared by the CI scripts (sourced, not run). Each script is what a workflow step calls and what a
# person runs by hand: same stacks, same policy gates, same flags.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT" || exit 1

# The committed stacks the workflows deploy, in rollout order (one declaration; changed-stacks.sh and
# drift.sh read it). Pulumi.prod-*.yaml are commented examples of the production modes, not stacks.
CI_STACKS=(dev staging prod)
# The policy pack (policy/package.json's name), as the comment and the summary event name it.
export POLICY_PACK="dayu-estate-policies"

die() {
  printf 'error: %s\n' "$*" >&2
  exit 2
}

log() { printf '[ci %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# stack_value <stack> <key>: a value of Pulumi.<stack>.yaml's config (JSON for objects), "" if absent.
# Read with the yaml package, not `pulumi config get`: it needs no backend login, so the scripts can
# decide the gates before touching a stack.
stack_value() {
  local file="Pulumi.$1.yaml"
  [[ -f "$file" ]] || die "$file: no such stack file (stacks: ${CI_STACKS[*]})"
  # shellcheck disable=SC2016 # JavaScript, expanded by node, not by bash
  node -e '
    const fs = require("fs");
    const { parse } = require("yaml");
    const [file, key] = process.argv.slice(1);
    const v = ((parse(fs.readFileSync(file, "utf8")) || {}).config || {})[key];
    if (v !== undefined) process.stdout.write(typeof v === "string" ? v : JSON.stringify(v));
  ' "$file" "$2"
}

# stack_environment <stack>: dev, staging or prod; a stack file without it is refused here too.
stack_environment() {
  local env
  env="$(stack_value "$1" dayu-estate:environment)"
  case "$env" in
    dev | staging | prod) printf '%s' "$env" ;;
    "") die "dayu-estate:environment in Pulumi.$1.yaml: is required (dev, staging or prod)" ;;
    *) die "dayu-estate:environment in Pulumi.$1.yaml: must be dev, staging or prod, got \"$env\"" ;;
  esac
}

# policy_args <stack> <tmpdir>: the policy pack flags for a stack, one per line. Every non-dev stack
# runs the pack, through policy/analyzer (docs/policy.md "Running it": the Node.js language host we
# build cannot start packs as plugins; the analyzer works with every CLI). `dayu-policy:enforcement`
# in the stack file, when set, overrides the levels: a level for every policy ("mandatory") or a map
# of policy name → level; it becomes the pack's --policy-pack-config.
policy_args() {
  local stack="$1" dir="$2" env enforcement
  env="$(stack_environment "$stack")"
  [[ "$env" == dev ]] && return 0
  printf '%s\n' --policy-pack policy/analyzer
  enforcement="$(stack_value "$stack" dayu-policy:enforcement)"
  if [[ -n "$enforcement" ]]; then
    # shellcheck disable=SC2016 # JavaScript, expanded by node, not by bash
    node -e '
      const [raw, out, file] = process.argv.slice(1);
      const levels = ["advisory", "mandatory", "remediate", "disabled"];
      let v = raw;
      try { v = JSON.parse(raw); } catch {}
      const cfg = typeof v === "string" ? { all: v } : v;
      for (const [k, l] of Object.entries(cfg)) {
        if (!levels.includes(l)) {
          console.error(`error: dayu-policy:enforcement in ${file}: ${k}: "${l}" is not one of ${levels.join(", ")}`);
          process.exit(2);
        }
      }
      require("fs").writeFileSync(out, JSON.stringify(cfg));
    ' "$enforcement" "$dir/policy-config.json" "Pulumi.$stack.yaml" || exit 2
    printf '%s\n' --policy-pack-config "$dir/policy-config.json"
  fi
}

# use_stack <stack>: sets TARGET_STACK, the Pulumi stack that runs <stack>'s settings. dev is the local default: its registry and builders
# run on the machine itself (scripts/local-services.sh), its state stays in the file backend
# (.local/state), and this machine's copy of it is the `local` stack made by `npm run local`.
# Other stacks use the shared backend the environment names (PULUMI_BACKEND_URL, or a Pulumi Cloud
# login by PULUMI_ACCESS_TOKEN).
use_stack() {
  local stack="$1"
  if [[ "$(stack_environment "$stack")" == dev && "$stack" == dev ]]; then
    [[ -f Pulumi.local.yaml ]] || die "the dev stack runs as this machine's local stack: run 'npm run local' once (Pulumi.local.yaml is missing)"
    scripts/local-services.sh start >&2
    # shellcheck source=scripts/env.sh
    source scripts/env.sh
    TARGET_STACK=local
  else
    TARGET_STACK="$stack"
  fi
  # Every pulumi call passes --stack "$TARGET_STACK": never a stack selected earlier on this machine.
  export TARGET_STACK
  command -v pulumi >/dev/null || die "no pulumi on PATH (CI: pulumi/actions installs it; by hand: source scripts/env.sh)"
}
