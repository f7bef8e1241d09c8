# GET /api/v1/openapi.json serves docs/openapi.json embedded at build time:
# its bytes become a generated C source, so the daemon never looks for the
# file at run time. Included from api/CMakeLists.txt; the same file is the
# generator script when run with `cmake -DIN=... -DOUT=... -P openapi.cmake`.
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ "${IN}" hex HEX)
  string(LENGTH "${hex}" nhex)
  math(EXPR nbytes "${nhex} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
  file(WRITE "${OUT}.tmp"
    "/* Generated from docs/openapi.json by api/openapi.cmake; do not edit. */\n"
    "#include <stddef.h>\n"
    "extern const unsigned char rest_openapi_doc[];\n"
    "extern const size_t rest_openapi_doc_len;\n"
    "const unsigned char rest_openapi_doc[] = {\n${bytes}0x00};\n"
    "const size_t rest_openapi_doc_len = ${nbytes};\n")
  file(RENAME "${OUT}.tmp" "${OUT}")
  return()
endif()

set(STRATA_OPENAPI_JSON "${CMAKE_SOURCE_DIR}/docs/openapi.json")
set(STRATA_OPENAPI_C "${CMAKE_CURRENT_BINARY_DIR}/openapi_doc.c")
add_custom_command(OUTPUT "${STRATA_OPENAPI_C}"
  COMMAND "${CMAKE_COMMAND}" "-DIN=${STRATA_OPENAPI_JSON}" "-DOUT=${STRATA_OPENAPI_C}"
          -P "${CMAKE_CURRENT_LIST_FILE}"
  DEPENDS "${STRATA_OPENAPI_JSON}" "${CMAKE_CURRENT_LIST_FILE}"
  COMMENT "Embedding docs/openapi.json"
  VERBATIM)
target_sources(strata_api_master PRIVATE rest_openapi.c "${STRATA_OPENAPI_C}")
