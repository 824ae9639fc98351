# shellcheck shell=bash
# deploy-lib.sh - helpers for the deployment tests (source after tests/lib.sh): the container
# engine (../shared/containers/compose-env: podman behind the Docker API), the vmfabric image
# built from the CPack .deb, compose projects torn down at exit and checked for leftovers.
#
# The images localhost/vmfabric-test:latest (and -qemu: the same plus QEMU) are kept between runs
# on purpose: rebuilding from an unchanged .deb is a cache hit (seconds; the QEMU layer alone is
# about 25 s of apt). `podman rmi localhost/vmfabric-test localhost/vmfabric-test-qemu` drops them.

VMF_TEST_IMAGE=${VMF_TEST_IMAGE:-localhost/vmfabric-test:latest}
VMF_BASE_IMAGE=${BASE:-localhost/debian:bookworm-slim}
COMPOSE_PROJECTS=()	# "project [VAR=VALUE...] -f FILE..." torn down at exit

# engine_start: the podman service behind the Docker API. One this test starts, it stops at exit
# (a service left running kept a deleted test dir as its working directory, and the next run's
# containers failed to start: runc "write child: broken pipe"); it starts from /.
engine_start() {
	local env base=${COMPOSE_ENV_DIR:-/var/tmp/compose-env}
	[ -f "$base/service.pid" ] && kill -0 "$(cat "$base/service.pid")" 2>/dev/null || ENGINE_STARTED=1
	env=$(cd / && "$SHARED/containers/compose-env" start) || fail "compose-env start"
	eval "$env"
	export DOCKER_HOST CONTAINERS_CONF CONTAINERS_STORAGE_CONF
	command -v docker-compose >/dev/null || fail "docker-compose missing"
}

# deb_build: the .deb of $VMF_BUILD (CPack) into $T/deb/, path in $DEB
deb_build() {
	mkdir -p "$T/deb"
	(cd "$T/deb" && cpack -G DEB --config "$VMF_BUILD/CPackConfig.cmake" -B "$T/deb") \
		>"$T/cpack.log" 2>&1 || fail "cpack: $(tail -5 "$T/cpack.log")"
	DEB=$(find "$T/deb" -maxdepth 1 -name "vmfabric_*.deb" | head -1)
	[ -f "$DEB" ] || fail "cpack made no .deb"
}

# image_build [TARGET TAG]: an image of deploy/container/Dockerfile from the .deb (VMF_DEBS=prebuilt);
# by default the runtime image $VMF_TEST_IMAGE, exported as VMF_IMAGE for the compose files
image_build() {
	local target=${1:-} tag=${2:-$VMF_TEST_IMAGE} old new
	[ -n "${DEB:-}" ] || deb_build
	old=$(podman image inspect -f '{{.Id}}' "$tag" 2>/dev/null || true)
	mkdir -p "$T/ctx" && cp "$DEB" "$T/ctx/"
	podman build -q -f "$VMF_ROOT/deploy/container/Dockerfile" --build-arg BASE="$VMF_BASE_IMAGE" \
		--build-arg VMF_DEBS=prebuilt ${target:+--target "$target"} -t "$tag" "$T/ctx" \
		>"$T/image.log" 2>&1 || fail "image build: $(grep -v CNI "$T/image.log" | tail -15)"
	new=$(podman image inspect -f '{{.Id}}' "$tag")
	# the replaced image would otherwise pile up run after run
	if [ -n "$old" ] && [ "$old" != "$new" ]; then podman rmi "$old" >/dev/null 2>&1 || true; fi
	# and so would the intermediate images of the Dockerfile's build and prebuilt stages
	podman image prune -f --filter label=org.vmfabric.stage=prebuilt >/dev/null 2>&1 || true
	podman image prune -f --filter label=org.vmfabric.stage=build >/dev/null 2>&1 || true
	podman image prune -f --filter label=org.opencontainers.image.title=vmfabric >/dev/null 2>&1 || true
	[ -n "$target" ] || export VMF_IMAGE=$tag
}

# project NAME [VAR=VALUE...] COMPOSE-ARGS...: register compose project NAME (its environment
# and -f files) for `dc NAME ...` and for teardown at exit
project() {
	COMPOSE_PROJECTS+=("$*")
}

# dc NAME ARGS...: docker-compose for a registered project, in its environment
dc() {
	local name=$1 p a; shift
	for p in "${COMPOSE_PROJECTS[@]}"; do
		if [ "${p%% *}" = "$name" ]; then
			a=${p#* }
			# shellcheck disable=SC2086
			env ${a%%-f *} docker-compose -p "$name" -f ${a#*-f } "$@"
			return
		fi
	done
	fail "dc: unknown project $name"
}

# leftovers NAME: print containers, networks and volumes of project NAME that still exist
leftovers() {
	podman ps -a --filter "label=com.docker.compose.project=$1" --format '{{.Names}}'
	podman network ls --format '{{.Name}}' | grep "^$1_" || true
	podman volume ls --format '{{.Name}}' | grep "^$1_" || true
}

# down NAME: docker-compose down -v; with podman behind the Docker API, compose 1.x removes
# containers in parallel and podman refuses to remove a container whose network namespace
# another one still shares (network_mode: service:X), so a second pass finishes the job
down() {
	dc "$1" down -v -t 3 >>"$T/compose-$1.log" 2>&1 ||
		dc "$1" down -v -t 3 >>"$T/compose-$1.log" 2>&1
}

deploy_cleanup() {
	local p name left
	for p in "${COMPOSE_PROJECTS[@]}"; do
		name=${p%% *}
		[ "${KEEP_PROJECTS:-0}" = 1 ] && { echo "kept compose project $name"; continue; }
		down "$name"
		left=$(leftovers "$name")
		[ -z "$left" ] || echo "[$TEST_NAME] leftovers of $name: $left"
	done
	[ "${ENGINE_STARTED:-0}" = 1 ] && "$SHARED/containers/compose-env" stop
	cleanup
}
trap deploy_cleanup EXIT

# cx NAME SERVICE CMD...: run CMD in a service container of project NAME
cx() { local n=$1 s=$2; shift 2; dc "$n" exec -T "$s" "$@"; }

# fabric_addr NAME SERVICE: the IPv4 address the service's TAP fab0 got (empty if none)
fabric_addr() {
	cx "$1" "$2" ip -4 -o addr show dev fab0 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}'
}

# healthy NAME SERVICE: the service's container reports healthy
healthy() {
	[ "$(podman inspect -f '{{.State.Health.Status}}' "$1_$2_1" 2>/dev/null)" = healthy ]
}

# http NAME SERVICE URL: fetch URL inside the service container (busybox wget, 10 s bound)
http() { cx "$1" "$2" timeout 10 busybox wget -qO- "$3"; }
