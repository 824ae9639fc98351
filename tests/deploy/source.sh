#!/bin/bash
# source.sh - the user's path from a source tree: `docker-compose -f deploy/compose/lab.yml build`
# compiles vmfabric inside the Dockerfile's build stage (apt-installed -dev packages, CPack .deb)
# and installs that .deb into the runtime image, FROM the BASE given (here the local Debian 12).
# The image runs: every executable answers --version, vmfabric-provision makes keys. The image and
# the build stage's intermediate images are removed afterwards (about 1 GB; no cache is kept).
TEST_NAME=deploy_image_source
# shellcheck source=../lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=deploy-lib.sh
. "$(dirname "$0")/deploy-lib.sh"

engine_start
IMG=localhost/vfd-test-src:latest
drop() {
	podman rmi -f "$IMG" >/dev/null 2>&1
	podman image prune -f --filter label=org.vmfabric.stage=build >/dev/null 2>&1
	podman image prune -f --filter label=org.opencontainers.image.title=vmfabric >/dev/null 2>&1
}
trap 'drop; deploy_cleanup' EXIT
# the context is a copy of the committed and working-tree sources only: no build directories
mkdir -p "$T/src"
if git -C "$VMF_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$VMF_ROOT" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$T/src")
else
	tar -C "$VMF_ROOT" --exclude='./build*' -cf - . | tar -C "$T/src" -xf -
fi || fail "copying the sources"
P=vfd-test-src
export VMF_IMAGE=$IMG VMF_SRC=$T/src BASE=$VMF_BASE_IMAGE VMF_DEBS=build
project $P -f "$VMF_ROOT/deploy/compose/lab.yml"
t0=$(date +%s)
podman ps -a --external --format '{{.ID}}' | sort >"$T/before"
dc $P build keys >"$T/build.log" 2>&1 || fail "compose build: $(grep -v CNI "$T/build.log" | tail -20)"
# a build through the Docker API can leave buildah working containers behind (podman 4.3)
podman ps -a --external --format '{{.ID}}' | sort | comm -13 "$T/before" - | xargs -r podman rm -f >/dev/null 2>&1
pass "docker-compose build from the sources in $(( $(date +%s) - t0 )) s"
podman run --rm "$IMG" sh -c 'for b in vmfabric-switch vmfabric-nic vmfabric-gateway vmfabric-key vmfabric-ctl vmfabric-qemu; do
	$b --version || exit 1; done; VMF_KEYS=/tmp/k vmfabric-provision init a b | grep -c admitted' >"$T/run.log" 2>&1 ||
	fail "the image does not run: $(cat "$T/run.log")"
[ "$(tail -1 "$T/run.log")" = 2 ] || fail "vmfabric-provision: $(cat "$T/run.log")"
pass "image from source: $(head -6 "$T/run.log" | paste -sd, -); vmfabric-provision admits 2 ports"
