#!/usr/bin/env bash
# Makes the stand-ins for the third-party images the catalog mirrors (redis, node, the TensorRT and
# ultralytics Jetson bases), since nothing can be pulled here: busybox from Debian, one image per
# platform the mirror declares, built on that platform's local builder and joined into an index at
# <registry>/upstream/<mirror>:stand-in. Prints `<mirror> <ref@digest>` lines for mirrorSources.
# An existing stand-in is reused, so its digest (and so every pin downstream) stays stable.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/env.sh
source "$ROOT/scripts/env.sh"
REGISTRY="$DAYU_REGISTRY"   # from scripts/env.sh: the port this checkout's registry uses
log() { printf '[standins] %s\n' "$*" >&2; }
# The digest of what a tag points at: sha256 of the raw manifest bytes, or nothing when absent.
digest_of() {
  local raw
  raw="$(buildx imagetools inspect --raw "$1" 2>/dev/null)" || return 1
  printf 'sha256:%s' "$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
}

# mirror name, platforms (comma separated) and source, read by the catalog's own loader (validated:
# a bad catalog is refused here with the same messages the program gives).
mapfile -t MIRRORS < <(node -r "$ROOT/node_modules/ts-node/register/transpile-only" \
  "$ROOT/scripts/local-check.ts" mirrors "$ROOT/estate.yaml" || echo "!failed")
[[ "${MIRRORS[-1]:-}" != "!failed" ]] || { log "ERROR: could not read the mirrors of $ROOT/estate.yaml"; exit 1; }

work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
for arch in amd64 arm64; do
  mkdir -p "$work/$arch"
  cp "$ROOT/.tools/busybox/$arch/bin/busybox" "$work/$arch/busybox"
  cat >"$work/$arch/Dockerfile" <<'DOCKERFILE'
FROM scratch
ARG STANDS_FOR
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /tmp /usr/local/bin && echo "stand-in for ${STANDS_FOR}" > /STANDS_FOR
LABEL dev.dayu.estate.stands-for="${STANDS_FOR}"
CMD ["/bin/sh"]
DOCKERFILE
done

for line in "${MIRRORS[@]}"; do
  read -r name platforms source <<<"$line"
  ref="$REGISTRY/upstream/$name:stand-in"
  if digest="$(digest_of "$ref")"; then
    log "$name: stand-in exists ($digest)"
  else
    log "$name: building a stand-in for $source ($platforms)"
    parts=()
    IFS=, read -ra plats <<<"$platforms"
    for p in "${plats[@]}"; do
      arch="${p#linux/}"
      buildx build --builder "dayu-$arch" --platform "$p" --provenance=false \
        --build-arg STANDS_FOR="$source" -t "$REGISTRY/upstream/$name:stand-in-$arch" \
        --push --progress=quiet "$work/$arch" >&2
      parts+=("$REGISTRY/upstream/$name:stand-in-$arch")
    done
    buildx imagetools create --progress=quiet -t "$ref" "${parts[@]}" >&2
    digest="$(digest_of "$ref")" || { log "ERROR: $ref was not pushed"; exit 1; }
  fi
  echo "$name $REGISTRY/upstream/$name@$digest"
done
