# Run by CTest: installs the build into a scratch prefix, then configures,
# builds and runs tests/consumer against it with find_package(evolve).
set(prefix ${EVOLVE_CONSUMER_WORK_DIR}/prefix)
file(REMOVE_RECURSE ${EVOLVE_CONSUMER_WORK_DIR})

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

run(${CMAKE_COMMAND} --install ${EVOLVE_BINARY_DIR} --prefix ${prefix} --component Unspecified)
run(${CMAKE_COMMAND} -S ${EVOLVE_CONSUMER_SOURCE_DIR} -B ${EVOLVE_CONSUMER_WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix})
run(${CMAKE_COMMAND} --build ${EVOLVE_CONSUMER_WORK_DIR}/build)
run(${EVOLVE_CONSUMER_WORK_DIR}/build/consumer ${EVOLVE_CONSUMER_WORK_DIR}/consumer.db)

# The engines install their public headers only (docs/engines.md, "Public
# and internal headers"): none of libevolve/engines/src/ is installed.
file(GLOB internal_headers RELATIVE ${EVOLVE_CONSUMER_SOURCE_DIR}/../../libevolve/engines/src
     ${EVOLVE_CONSUMER_SOURCE_DIR}/../../libevolve/engines/src/*.h)
foreach(header ${internal_headers})
  if(EXISTS ${prefix}/include/evolve/engines/${header})
    message(FATAL_ERROR "an internal header of the engines is installed: include/evolve/engines/${header}")
  endif()
endforeach()

# The schemas are installed as SQL next to the data.
foreach(schema sqlite/0001_initial.sql postgres/0001_initial.sql)
  if(NOT EXISTS ${prefix}/share/evolve/sql/${schema})
    message(FATAL_ERROR "not installed: share/evolve/sql/${schema}")
  endif()
endforeach()

# The installed `evolve` finds the installed bundled data, not the source tree's.
if(EXISTS ${prefix}/bin/evolve)
  execute_process(COMMAND ${prefix}/bin/evolve symbols RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT out STREQUAL "TTRC\n" OR NOT err MATCHES "prefix/share/evolve/data")
    message(FATAL_ERROR "installed evolve symbols: rc ${rc}, out '${out}', err '${err}'")
  endif()
endif()
