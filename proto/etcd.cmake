# hg_etcd_proto: generated code of our etcd v3 API subset (proto/etcd/*.proto).
# Headers are included as "etcd/rpc.grpc.pb.h" / "etcd/kv.pb.h". No -Werror on generated code.
set(HG_ETCD_PROTO_SRC_DIR ${CMAKE_CURRENT_SOURCE_DIR})
set(HG_ETCD_PROTO_OUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
set(HG_ETCD_PROTO_GEN)
foreach(hg_etcd_name kv rpc)
  set(hg_etcd_out ${HG_ETCD_PROTO_OUT_DIR}/etcd/${hg_etcd_name})
  list(APPEND HG_ETCD_PROTO_GEN ${hg_etcd_out}.pb.cc ${hg_etcd_out}.pb.h
                                ${hg_etcd_out}.grpc.pb.cc ${hg_etcd_out}.grpc.pb.h)
  add_custom_command(
    OUTPUT ${hg_etcd_out}.pb.cc ${hg_etcd_out}.pb.h ${hg_etcd_out}.grpc.pb.cc ${hg_etcd_out}.grpc.pb.h
    COMMAND ${CMAKE_COMMAND} -E make_directory ${HG_ETCD_PROTO_OUT_DIR}/etcd
    COMMAND protobuf::protoc
      --proto_path=${HG_ETCD_PROTO_SRC_DIR}
      --cpp_out=${HG_ETCD_PROTO_OUT_DIR}
      --grpc_out=${HG_ETCD_PROTO_OUT_DIR}
      --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
      ${HG_ETCD_PROTO_SRC_DIR}/etcd/${hg_etcd_name}.proto
    DEPENDS ${HG_ETCD_PROTO_SRC_DIR}/etcd/${hg_etcd_name}.proto protobuf::protoc gRPC::grpc_cpp_plugin
    COMMENT "protoc etcd/${hg_etcd_name}.proto"
    VERBATIM)
endforeach()

add_library(hg_etcd_proto STATIC ${HG_ETCD_PROTO_GEN})
target_include_directories(hg_etcd_proto PUBLIC ${HG_ETCD_PROTO_OUT_DIR})
target_link_libraries(hg_etcd_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
# Generated code is not ours: no project warnings, and silence what protoc's output trips.
target_compile_options(hg_etcd_proto PRIVATE -w)
