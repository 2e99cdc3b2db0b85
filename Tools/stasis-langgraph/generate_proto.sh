#!/usr/bin/env bash
# Regenerates stasis_langgraph/_proto/ (stasis_pb2.py, stasis_pb2_grpc.py) from
# Formats/proto/stasis.proto with grpcio-tools. The output is committed; run this after
# changing the proto (Tools/proto/generate.sh calls it). Needs `pip install grpcio-tools`.
# The protobuf runtime must be at least the gencode version printed at the top of
# stasis_pb2.py ("Protobuf Python Version"); keep pyproject.toml's pins in step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/stasis_langgraph/_proto
python=${PYTHON:-python3}
mkdir -p "$out"
"$python" -m grpc_tools.protoc -I "$root/Formats/proto" \
    --python_out="$out" --grpc_python_out="$out" \
    "$root/Formats/proto/stasis.proto"
# protoc writes a top-level import; the stubs live in a package.
sed -i 's/^import stasis_pb2 as stasis__pb2$/from . import stasis_pb2 as stasis__pb2/' "$out/stasis_pb2_grpc.py"
grep -q '^from \. import stasis_pb2 as stasis__pb2$' "$out/stasis_pb2_grpc.py" \
    || { echo "generate_proto.sh: could not make the stasis_pb2 import package-relative" >&2; exit 1; }
[[ -f $out/__init__.py ]] || echo '"""Generated gRPC/protobuf code for stasis.v1 (see ../../generate_proto.sh)."""' > "$out/__init__.py"
echo "generated: $out"
