#!/usr/bin/env bash
# scripts/ci/cleanup.sh: the last step of every estate job (if: always()). Removes what
# .github/actions/estate-setup put on the runner: the buildx client key and the job's SSH agent.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
# Only on a runner: on a person's machine pki/buildx-client.key is their own key.
[[ "${GITHUB_ACTIONS:-}" == true ]] || { echo "cleanup.sh runs in GitHub Actions only" >&2; exit 2; }
rm -f pki/buildx-client.key
if [[ -n "${SSH_AGENT_PID:-}" ]]; then kill "$SSH_AGENT_PID" 2>/dev/null || true; fi
