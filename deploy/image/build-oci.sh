#!/usr/bin/env bash
# Builds the azop image as an OCI archive without a container daemon: the layout of
# deploy/image/Dockerfile's image (a static azop built without the emulators at
# /usr/local/bin/azop; CA certificates, /etc/passwd and /etc/group with uid 65532 "nonroot", a
# world-writable /tmp, as distroless/static has; no shell, no libc; user 65532; OCI labels),
# built with Debian's umoci and skopeo: `umoci new`, `unpack`, copy files into the root
# filesystem, `repack` (umoci 0.4.7's `insert` writes tar layers other tools reject).
#
#   deploy/image/build-oci.sh [--profile release] [--binary PATH] [--out FILE] [--tag TAG]
#
# --profile  the cargo profile of the static build (default release; the image test uses
#            image-test: the same build without optimisation, so CI compiles it quickly)
# --binary   use this static azop instead of building one
# --out      the OCI archive (default target/azop-oci.tar); load it with
#            `skopeo copy oci-archive:FILE docker-daemon:azop:TAG` or push it with
#            `skopeo copy oci-archive:FILE docker://REGISTRY/azop:TAG`
# --tag      the image's tag in the archive (default: the crate version)
set -euo pipefail
cd "$(dirname "$0")/../.."

profile=release binary="" out=target/azop-oci.tar tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    *) echo "build-oci.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in umoci skopeo; do
  command -v "$tool" >/dev/null || { echo "build-oci.sh: $tool is missing (apt-get install umoci skopeo)" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
tag=${tag:-$version}

if [ -z "$binary" ]; then
  triple=$(rustc -vV | sed -n 's/^host: //p')
  # --target keeps crt-static off the build scripts and proc macros, which run on the host.
  RUSTFLAGS="-C target-feature=+crt-static" AZOP_GIT_REVISION=$revision \
    cargo build --locked -q -p azop --no-default-features --profile "$profile" --target "$triple"
  [ "$profile" = dev ] && dir=debug || dir=$profile
  binary=${CARGO_TARGET_DIR:-target}/$triple/$dir/azop
fi
# A dynamically linked binary has a program interpreter (ld.so), which the image lacks.
if LC_ALL=C readelf -lW "$binary" | grep -q 'INTERP'; then
  echo "build-oci.sh: $binary is dynamically linked; the image needs a static binary" >&2
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layout=$work/layout bundle=$work/bundle
rootless=()
[ "$(id -u)" = 0 ] || rootless=(--rootless)

umoci init --layout "$layout"
umoci new --image "$layout:azop"
umoci unpack "${rootless[@]}" --image "$layout:azop" "$bundle"
root=$bundle/rootfs
install -D -m 0755 "$binary" "$root/usr/local/bin/azop"
install -d -m 0755 "$root/etc/ssl/certs" "$root/home/nonroot"
install -d -m 1777 "$root/tmp"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/nsswitch.conf"
[ "$(id -u)" = 0 ] && chown 65532:65532 "$root/home/nonroot"
umoci repack --image "$layout:azop" "$bundle"

created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
umoci config --image "$layout:azop" \
  --os linux --architecture amd64 \
  --config.user 65532:65532 \
  --config.workingdir / \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
  --config.exposedports 8080/tcp \
  --config.entrypoint /usr/local/bin/azop \
  --config.cmd run \
  --config.label org.opencontainers.image.title=azop \
  --config.label "org.opencontainers.image.description=Kubernetes operator that turns custom resources into Azure infrastructure" \
  --config.label org.opencontainers.image.source=https://github.com/azop-dev/azop \
  --config.label org.opencontainers.image.url=https://github.com/azop-dev/azop \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label "org.opencontainers.image.version=$version" \
  --config.label "org.opencontainers.image.revision=$revision" \
  --config.label "org.opencontainers.image.created=$created" \
  --created "$created" \
  --author azop
umoci gc --layout "$layout"

mkdir -p "$(dirname "$out")"
rm -f "$out"
skopeo copy --quiet "oci:$layout:azop" "oci-archive:$out:azop:$tag"
echo "$out"
