# Install and export: evolve::evolve, evolve::engines, evolve::sqlite,
# evolve::postgres and evolve::postgres_bars, evolve::http (when built) and
# evolve::testing from find_package(evolve),
# plus evolve.pc for pkg-config users.
include(CMakePackageConfigHelpers)

set(EVOLVE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/evolve)

set(EVOLVE_INSTALL_TARGETS evolve evolve_engines evolve_sqlite evolve_testing)
# evolveConfig.cmake.in finds libpqxx for consumers only when this is ON.
if(TARGET evolve_postgres)
  set(EVOLVE_PACKAGE_HAS_POSTGRES ON)
  list(APPEND EVOLVE_INSTALL_TARGETS evolve_postgres)
  # Its header is in include/evolve/postgres too, installed below.
  if(TARGET evolve_postgres_bars)
    list(APPEND EVOLVE_INSTALL_TARGETS evolve_postgres_bars)
  endif()
else()
  set(EVOLVE_PACKAGE_HAS_POSTGRES OFF)
endif()
# ... and cpp-httplib only when this is ON.
if(TARGET evolve_http)
  set(EVOLVE_PACKAGE_HAS_HTTP ON)
  list(APPEND EVOLVE_INSTALL_TARGETS evolve_http)
else()
  set(EVOLVE_PACKAGE_HAS_HTTP OFF)
endif()
install(TARGETS ${EVOLVE_INSTALL_TARGETS} EXPORT evolveTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libevolve/include/evolve DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libevolve/engines/include/evolve/engines DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/evolve)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/libevolve/adapters/sqlite/include/evolve/sqlite DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/evolve)
if(EVOLVE_PACKAGE_HAS_POSTGRES)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/libevolve/adapters/postgres/include/evolve/postgres
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/evolve)
endif()
if(EVOLVE_PACKAGE_HAS_HTTP)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/libevolve/adapters/http/include/evolve/http
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/evolve)
endif()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tests/fakes/evolve/testing DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/evolve)
install(EXPORT evolveTargets NAMESPACE evolve:: DESTINATION ${EVOLVE_CMAKE_DIR})

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/evolveConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/evolveConfig.cmake
                              INSTALL_DESTINATION ${EVOLVE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/evolveConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/evolveConfig.cmake ${PROJECT_BINARY_DIR}/evolveConfigVersion.cmake
        DESTINATION ${EVOLVE_CMAKE_DIR})

configure_file(${PROJECT_SOURCE_DIR}/cmake/evolve.pc.in ${PROJECT_BINARY_DIR}/evolve.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/evolve.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
# The schemas as SQL, for DBAs who review or apply migrations by hand (the
# binaries carry the same files compiled in).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/sql/ DESTINATION ${CMAKE_INSTALL_DATADIR}/evolve/sql)

# The same names from the build tree, without installing.
export(EXPORT evolveTargets NAMESPACE evolve:: FILE ${PROJECT_BINARY_DIR}/evolveTargets.cmake)
