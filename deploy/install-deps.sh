#!/bin/bash
# install-deps.sh - install (apt-get) what vmfabric needs to build, test and run its demo.
# Idempotent: installs only missing packages. Debian 12, as root.
set -eu
BUILD_PKGS="cmake gcc make pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler
 libsodium-dev libslirp-dev libglib2.0-dev libcmocka-dev libpcap-dev help2man dpkg-dev file
 libxml2-dev"
RUN_PKGS="iproute2 iputils-ping iperf3 python3 procps kmod systemd man-db"
missing=()
for p in $BUILD_PKGS $RUN_PKGS ${EXTRA_PKGS:-}; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# a busybox for DHCP clients in tests: the dynamic package is fine, else the static one
if ! command -v busybox >/dev/null; then missing+=(busybox-static); fi
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
