"""Generated gRPC/protobuf code for stasis.v1 (see ../../generate_proto.sh)."""
