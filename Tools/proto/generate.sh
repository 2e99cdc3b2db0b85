#!/usr/bin/env bash
# Regenerates the committed gRPC/protobuf code from Formats/proto/stasis.proto:
#   Sources/StasisAPI/Generated/stasis.{pb,grpc}.swift   (swift-protobuf 1.39.0, grpc-swift-protobuf 2.4.1)
#   Tools/stasis-langgraph/stasis_langgraph/_proto/       (grpcio-tools)
# The Swift plugins are built once into a scratch package (a release build takes minutes);
# protoc comes from Debian's protobuf-compiler. Run from anywhere; needs network-free mirrors only.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
plugins=${STASIS_PROTOC_PLUGINS:-/tmp/stasis-protoc-plugins}
command -v protoc >/dev/null || { apt-get install -y -q protobuf-compiler >/dev/null; }
if [[ ! -x $plugins/.build/release/protoc-gen-grpc-swift-2 ]]; then
    mkdir -p "$plugins/dummy"
    cat > "$plugins/Package.swift" <<'PKG'
// swift-tools-version:6.1
import PackageDescription
let package = Package(
  name: "protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", exact: "2.4.1"),
  ],
  targets: [.executableTarget(name: "dummy", path: "dummy")]
)
PKG
    echo 'print("")' > "$plugins/dummy/main.swift"
    (cd "$plugins" && swift build -c release --product protoc-gen-swift && swift build -c release --product protoc-gen-grpc-swift-2)
fi
out=$root/Sources/StasisAPI/Generated
mkdir -p "$out"
protoc -I "$root/Formats/proto" \
    --plugin=protoc-gen-swift="$plugins/.build/release/protoc-gen-swift" \
    --plugin=protoc-gen-grpc-swift="$plugins/.build/release/protoc-gen-grpc-swift-2" \
    --swift_out="$out" --swift_opt=Visibility=Public \
    --grpc-swift_out="$out" --grpc-swift_opt=Visibility=Public,Client=true,Server=true \
    "$root/Formats/proto/stasis.proto"
# The Python code from grpcio-tools 1.85.1 (protobuf 7.35.1 generator) in a virtualenv of its
# own: its GRPC_GENERATED_VERSION must not be newer than the oldest grpcio the package supports
# (requirements/oldest.txt).
tools=${STASIS_GRPC_TOOLS_VENV:-/tmp/stasis-grpc-tools}
if [[ ! -x $tools/bin/python ]] || ! "$tools/bin/python" -c 'import grpc_tools' 2>/dev/null; then
    python3 -m venv "$tools" && "$tools/bin/pip" install --quiet --disable-pip-version-check "grpcio-tools==1.85.1"
fi
PYTHON="$tools/bin/python" "$root/Tools/stasis-langgraph/generate_proto.sh"
echo "generated: $out"
