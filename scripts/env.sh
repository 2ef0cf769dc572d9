# Source this file to run pulumi, buildx and the tests by hand against the local estate:
#   source scripts/env.sh && pulumi preview
# It points everything at this checkout's .tools and .local folders and never prints a secret.
# It is the one definition of that environment: the end-to-end harness (test/e2e/harness.ts) sources
# it too and changes only the stack and its state folder.
_dayu_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$_dayu_root/.tools/bin:$PATH"
export DOCKER_CONFIG="$_dayu_root/.local/docker"
export BUILDX_CONFIG="$_dayu_root/.local/docker/buildx"
export DOCKER_BUILDKIT=1
export DAYU_BUILDX="$_dayu_root/.tools/bin/buildx"
export PULUMI_BACKEND_URL="file://$_dayu_root/.local/state"
export PULUMI_SKIP_UPDATE_CHECK=1
# The CLI's home, with the plugin cache that scripts/toolchain.sh installs the docker-build provider into;
# plugins are not looked up on PATH (.tools/bin), which the CLI does with a warning at every load.
# DAYU_PULUMI_HOME names another (a checkout whose .tools it cannot write, e.g. a worktree sharing one).
export PULUMI_HOME="${DAYU_PULUMI_HOME:-$_dayu_root/.tools/pulumi}"
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
if ! compgen -G "$PULUMI_HOME/plugins/resource-docker-build-v*/pulumi-resource-docker-build" >/dev/null; then
  echo "scripts/env.sh: no docker-build provider in the plugin cache of $PULUMI_HOME: run scripts/toolchain.sh" >&2
fi
# Every plugin the local stack uses is built by scripts/toolchain.sh; without this the engine tries
# (and, offline, fails after retries) to download the aws, kubernetes and docker plugins that the
# program's package.json names but the local modes never use: about 2.5 s of every run.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# The program is type-checked by `npm run build` (and CI); skipping it in every pulumi run saves ~6 s.
export PULUMI_NODEJS_TRANSPILE_ONLY=true
export PULUMI_CONFIG_PASSPHRASE_FILE="$_dayu_root/.local/passphrase"
unset PULUMI_CONFIG_PASSPHRASE
# Node trusts the local CA for the estate's own registry reads (pre-flight, read-back).
export NODE_EXTRA_CA_CERTS="$_dayu_root/.local/pki/ca.crt"
export DAYU_REGISTRY_CA="$_dayu_root/.local/pki/ca.crt"
# The registry this checkout's services listen on: the port its last `local-services.sh start` used
# (another checkout may hold the default one).
_dayu_port="$(sed -n 's/^DAYU_REGISTRY_PORT=\([0-9]*\)$/\1/p' "$_dayu_root/.local/run/ports.env" 2>/dev/null)"
export DAYU_REGISTRY="registry.dayu.test:${_dayu_port:-5443}"
# The optional second registry standing for production (`local-services.sh start --prod-registry`),
# when it is on; its credentials are in .local/prod-credentials.env (never exported here).
_dayu_port="$(sed -n 's/^DAYU_PROD_REGISTRY_PORT=\([0-9]*\)$/\1/p' "$_dayu_root/.local/run/ports.env" 2>/dev/null)"
if [[ -n "$_dayu_port" ]]; then export DAYU_PROD_REGISTRY="registry.dayu.test:$_dayu_port"
else unset DAYU_PROD_REGISTRY; fi
export PULUMI_STACK="${PULUMI_STACK:-local}"
unset _dayu_root _dayu_port
