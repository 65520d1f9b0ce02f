# hg_worker_proto: generated code for proto/worker.proto (leader -> worker RPC).
set(HG_WORKER_PROTO ${CMAKE_CURRENT_SOURCE_DIR}/worker.proto)
set(HG_WORKER_GEN ${CMAKE_CURRENT_BINARY_DIR}/gen)
file(MAKE_DIRECTORY ${HG_WORKER_GEN})
add_custom_command(
  OUTPUT ${HG_WORKER_GEN}/worker.pb.cc ${HG_WORKER_GEN}/worker.pb.h
         ${HG_WORKER_GEN}/worker.grpc.pb.cc ${HG_WORKER_GEN}/worker.grpc.pb.h
  COMMAND protobuf::protoc
  ARGS --proto_path=${CMAKE_CURRENT_SOURCE_DIR} --cpp_out=${HG_WORKER_GEN}
       --grpc_out=${HG_WORKER_GEN} --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>
       ${HG_WORKER_PROTO}
  DEPENDS ${HG_WORKER_PROTO} gRPC::grpc_cpp_plugin
  COMMENT "protoc worker.proto")
add_library(hg_worker_proto STATIC ${HG_WORKER_GEN}/worker.pb.cc ${HG_WORKER_GEN}/worker.grpc.pb.cc)
target_include_directories(hg_worker_proto PUBLIC ${HG_WORKER_GEN})
target_link_libraries(hg_worker_proto PUBLIC protobuf::libprotobuf gRPC::grpc++)
