# model_fuzz: the job request decoder/validator, the stored-record codecs and the id parser.
add_executable(model_fuzz ${CMAKE_CURRENT_LIST_DIR}/model_fuzz.cc)
target_link_libraries(model_fuzz PRIVATE hg_model)
target_link_options(model_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
hg_warnings(model_fuzz)
