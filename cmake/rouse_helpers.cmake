# Helper functions shared by every folder: warnings, sanitizers, libraries and test suites.

set(ROUSE_WARNINGS -Wall -Wextra -Wpedantic)
if(ROUSE_WERROR)
  list(APPEND ROUSE_WARNINGS -Werror)
endif()
if(ROUSE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# rouse_add_library(NAME SOURCES f.cpp... [DEPS target...])
# A static library whose include root is the repository root (#include "runtime/store/store.hpp").
function(rouse_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_compile_options(${name} PRIVATE ${ROUSE_WARNINGS})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# rouse_add_test(NAME SOURCES f_test.cpp... [DEPS target...])
# A Catch2 v2 executable; every TEST_CASE becomes one ctest test (slow ones are tagged [.slow]).
function(rouse_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_compile_options(${name} PRIVATE ${ROUSE_WARNINGS})
  target_link_libraries(${name} PRIVATE rouse_catch_main ${ARG_DEPS})
  catch_discover_tests(${name} TEST_PREFIX "${name}: "
    PROPERTIES ENVIRONMENT "ROUSE_BIN=$<TARGET_FILE:rouse>")
endfunction()
