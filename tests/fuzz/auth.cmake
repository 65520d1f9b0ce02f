# auth_fuzz: what auth/ reads from outside: Authorization headers and token texts, stored token
# records and audit entries, audit page cursors.
add_executable(auth_fuzz ${CMAKE_CURRENT_LIST_DIR}/auth_fuzz.cc)
target_link_libraries(auth_fuzz PRIVATE hg_auth_codec)
target_link_options(auth_fuzz PRIVATE -fsanitize=fuzzer,address,undefined)
hg_warnings(auth_fuzz)
