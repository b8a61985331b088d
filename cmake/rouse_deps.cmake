# Finds every dependency (all from Debian 12 packages; scripts/install-deps.sh installs them)
# and exposes each as an imported target.
find_package(Threads REQUIRED)

# CAF 0.17.6 ships no CMake package config in Debian.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_v REGEX "^#define CAF_VERSION [0-9]+")
string(REGEX REPLACE ".*CAF_VERSION ([0-9]+).*" "\\1" CAF_VERSION_NUM "${_caf_v}")
if(NOT CAF_VERSION_NUM EQUAL 1706)
  message(FATAL_ERROR "rouse needs CAF 0.17.6 (libcaf-dev from Debian 12), found ${CAF_VERSION_NUM}")
endif()
add_library(CAF::core UNKNOWN IMPORTED)
set_target_properties(CAF::core PROPERTIES IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}" INTERFACE_LINK_LIBRARIES Threads::Threads)
add_library(CAF::io UNKNOWN IMPORTED)
set_target_properties(CAF::io PROPERTIES IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
  INTERFACE_LINK_LIBRARIES CAF::core)

find_package(simdjson REQUIRED)
find_package(OpenSSL REQUIRED) # libssl-dev: HMAC/SHA for webhook verification
find_package(Boost 1.74 REQUIRED COMPONENTS system)
find_package(yaml-cpp REQUIRED)
find_package(Catch2 2 REQUIRED)
# libhowardhinnant-date-dev: IANA time zones from the system tzdata (date::date-tz).
find_package(date REQUIRED)

find_path(LMDB_INCLUDE_DIR lmdb.h REQUIRED)
find_library(LMDB_LIBRARY lmdb REQUIRED)
add_library(LMDB::lmdb UNKNOWN IMPORTED)
set_target_properties(LMDB::lmdb PROPERTIES IMPORTED_LOCATION "${LMDB_LIBRARY}"
  INTERFACE_INCLUDE_DIRECTORIES "${LMDB_INCLUDE_DIR}")

find_path(CONCURRENTQUEUE_INCLUDE_DIR concurrentqueue/concurrentqueue.h REQUIRED)
add_library(moodycamel::concurrentqueue INTERFACE IMPORTED)
set_target_properties(moodycamel::concurrentqueue PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${CONCURRENTQUEUE_INCLUDE_DIR}")

find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
add_library(CLI11::CLI11 INTERFACE IMPORTED)
set_target_properties(CLI11::CLI11 PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${CLI11_INCLUDE_DIR}")
