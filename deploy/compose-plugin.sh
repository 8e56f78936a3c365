#!/usr/bin/env bash
# Installs the Docker Compose v2 CLI plugin into var/tools/docker/cli-plugins, so that
# `DOCKER_CONFIG=var/tools/docker docker compose config` can validate compose.yaml on a machine
# with the docker client and no engine (tests/cluster/test_compose.py). Debian 12 packages only
# Compose v1, which does not read the Compose Specification; the plugin comes from Debian 13's
# docker-compose package (a static Go binary), fetched by apt-get with a sources list of its
# own, so apt checks Debian's signatures and the machine's apt setup is left alone.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=$ROOT/var/tools
PLUGIN=$TOOLS/docker/cli-plugins/docker-compose
[ -x "$PLUGIN" ] && exit 0  # installed once; `rm -r var/tools/docker` to fetch the newest again

APT=$TOOLS/apt
rm -rf "$APT"  # what a failed run left
mkdir -p "$APT/sources" "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/deb"
cat >"$APT/sources/trixie.sources" <<EOF
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
options=(
  -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$APT/sources"
  -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o Dir::State::status=/dev/null
  -o APT::Sandbox::User=root
)
echo "compose-plugin: fetching docker-compose from Debian 13 (trixie) with apt-get"
apt-get "${options[@]}" -qq update
(cd "$APT/deb" && apt-get "${options[@]}" -qq download docker-compose)
deb=$(ls "$APT/deb"/docker-compose_*.deb)
dpkg-deb -x "$deb" "$APT/root"
mkdir -p "$(dirname "$PLUGIN")"
install -m 0755 "$APT/root/usr/libexec/docker/cli-plugins/docker-compose" "$PLUGIN"
rm -rf "$APT"
echo "compose-plugin: $("$PLUGIN" version) at $PLUGIN (DOCKER_CONFIG=$TOOLS/docker)"
