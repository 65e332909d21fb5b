# Finds the Debian 12 packages the build needs and fails with the package to
# install when one is missing.
find_package(PkgConfig QUIET)

macro(evolve_require found what package option)
  if(NOT ${found})
    if("${option}" STREQUAL "")
      message(FATAL_ERROR "libevolve needs ${what}. On Debian 12: apt-get install ${package}")
    else()
      message(FATAL_ERROR "${option}=ON needs ${what}. On Debian 12: apt-get install ${package} "
                          "(or configure with -D${option}=OFF)")
    endif()
  endif()
endmacro()

find_package(Threads REQUIRED)

find_package(OpenSSL QUIET COMPONENTS Crypto)
evolve_require(OpenSSL_FOUND "OpenSSL (libcrypto)" libssl-dev "")

find_path(EVOLVE_RAPIDJSON_INCLUDE_DIR rapidjson/document.h)
evolve_require(EVOLVE_RAPIDJSON_INCLUDE_DIR "RapidJSON" rapidjson-dev "")

if(EVOLVE_WITH_POSTGRES)
  if(PkgConfig_FOUND)
    pkg_check_modules(EVOLVE_PQXX QUIET IMPORTED_TARGET libpqxx)
  endif()
  evolve_require(EVOLVE_PQXX_FOUND "libpqxx" libpqxx-dev EVOLVE_WITH_POSTGRES)
endif()

if(EVOLVE_WITH_HTTP)
  if(PkgConfig_FOUND)
    pkg_check_modules(EVOLVE_HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
  endif()
  evolve_require(EVOLVE_HTTPLIB_FOUND "cpp-httplib" libcpp-httplib-dev EVOLVE_WITH_HTTP)
endif()

if(EVOLVE_BUILD_TESTS)
  find_package(doctest QUIET)
  evolve_require(doctest_FOUND "doctest" doctest-dev EVOLVE_BUILD_TESTS)
endif()

# zlib, zstd and snappy: the engines decompress .csv.gz / .csv.zst bar files
# and the pages of Parquet files (GZIP, ZSTD, SNAPPY) with them. Debian 12
# ships a .pc file for each (zlib1g-dev, libzstd-dev, libsnappy-dev).
if(PkgConfig_FOUND)
  pkg_check_modules(EVOLVE_ZLIB QUIET IMPORTED_TARGET zlib)
  pkg_check_modules(EVOLVE_ZSTD QUIET IMPORTED_TARGET libzstd)
  pkg_check_modules(EVOLVE_SNAPPY QUIET IMPORTED_TARGET snappy)
endif()
evolve_require(EVOLVE_ZLIB_FOUND "zlib (pkg-config zlib)" zlib1g-dev "")
evolve_require(EVOLVE_ZSTD_FOUND "libzstd (pkg-config libzstd)" libzstd-dev "")
evolve_require(EVOLVE_SNAPPY_FOUND "snappy (pkg-config snappy)" libsnappy-dev "")

# SQLite: the embedded default store. Debian's libsqlite3-dev ships a .pc
# file and CMake's FindSQLite3 (3.14+) finds it too.
find_package(SQLite3 QUIET)
evolve_require(SQLite3_FOUND "SQLite 3" libsqlite3-dev "")
