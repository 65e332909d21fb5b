# evolve_set_warnings(target): the project's warning flags. The build is
# clean under them; EVOLVE_WERROR=ON (set by `make test`) makes them errors.
option(EVOLVE_WERROR "Treat warnings as errors" OFF)

function(evolve_set_warnings target)
  if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                             -Woverloaded-virtual)
    if(EVOLVE_WERROR)
      target_compile_options(${target} PRIVATE -Werror)
    endif()
  endif()
endfunction()
