# evolve_embed_migrations(<target> <sql_dir> <namespace> <name>)
#
# Compiles the numbered migrations of <sql_dir> (NNNN_what.sql, applied in
# that order) into <target>, so that a binary needs no SQL files at run time.
# Generates <name>.h and <name>.cc in the current binary directory, declaring
# in <namespace>:
#
#   struct Migration { int version; const char* name; const char* sql; };
#   const std::vector<Migration>& Migrations();  // in version order
#
# and adds them to <target>'s private sources and include path. Each backend
# (SQLite, PostgreSQL) has its own SQL dialect, hence its own directory and
# namespace.
set(EVOLVE_MIGRATIONS_TEMPLATE_DIR ${CMAKE_CURRENT_LIST_DIR})

function(evolve_embed_migrations target sql_dir namespace name)
  file(GLOB files CONFIGURE_DEPENDS ${sql_dir}/*.sql)
  list(SORT files)
  file(RELATIVE_PATH sql_dir_shown ${PROJECT_SOURCE_DIR} ${sql_dir})
  set(EVOLVE_MIGRATION_ENTRIES "")
  foreach(file IN LISTS files)
    get_filename_component(file_name ${file} NAME)
    if(NOT file_name MATCHES "^([0-9]+)_[a-z0-9_]+\\.sql$")
      message(FATAL_ERROR "${sql_dir_shown}/${file_name}: migrations are named NNNN_what.sql")
    endif()
    math(EXPR version "${CMAKE_MATCH_1}")  # drops the leading zeros
    file(READ ${file} sql)
    string(APPEND EVOLVE_MIGRATION_ENTRIES
           "    {${version}, \"${file_name}\", R\"evolve_sql(${sql})evolve_sql\"},\n")
  endforeach()
  set(EVOLVE_MIGRATION_NAMESPACE ${namespace})
  set(EVOLVE_MIGRATION_HEADER ${name}.h)
  set(EVOLVE_MIGRATION_SQL_DIR ${sql_dir_shown})
  string(TOUPPER "EVOLVE_${name}_H_" EVOLVE_MIGRATION_GUARD)
  configure_file(${EVOLVE_MIGRATIONS_TEMPLATE_DIR}/evolve_migrations.h.in
                 ${CMAKE_CURRENT_BINARY_DIR}/${name}.h @ONLY)
  configure_file(${EVOLVE_MIGRATIONS_TEMPLATE_DIR}/evolve_migrations.cc.in
                 ${CMAKE_CURRENT_BINARY_DIR}/${name}.cc @ONLY)
  target_sources(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR}/${name}.cc)
  target_include_directories(${target} PRIVATE ${CMAKE_CURRENT_BINARY_DIR})
endfunction()
