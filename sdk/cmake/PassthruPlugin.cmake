# passthru_add_plugin(<name> SOURCES ... [LIBRARIES ...] [TESTS ...] [FUZZ <file> CORPUS <dir>])
#
# Builds a detector plugin as <build>/plugins/<name>.so (installed to lib/passthru/plugins),
# with hidden visibility so that it exports only what PASSTHRU_EXPORT_PROTOCOL exports.
# TESTS: doctest files, built into <name>_tests with the plugin's code and the probe harness
# (passthru::sdk_testing), and registered with ctest (a project calls include(CTest) first).
# FUZZ: a libFuzzer target. With PASSTHRU_FUZZ=ON it links libFuzzer; otherwise it links a
# main that replays every file of CORPUS, and ctest runs that.
# Used both in passthru's own tree and, installed, through find_package(Passthru).
if(NOT PASSTHRU_FUZZ_REPLAY_MAIN)
  set(PASSTHRU_FUZZ_REPLAY_MAIN ${CMAKE_CURRENT_LIST_DIR}/../testing/fuzz_replay_main.cpp)
endif()

function(passthru_add_plugin name)
  cmake_parse_arguments(PLUGIN "" "FUZZ;CORPUS" "SOURCES;LIBRARIES;TESTS" ${ARGN})
  set(code passthru_${name}_code)
  add_library(${code} OBJECT ${PLUGIN_SOURCES})
  target_link_libraries(${code} PUBLIC passthru::sdk ${PLUGIN_LIBRARIES})
  target_include_directories(${code} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
  set_target_properties(${code} PROPERTIES POSITION_INDEPENDENT_CODE ON
                        CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)

  add_library(${name} MODULE)
  target_link_libraries(${name} PRIVATE ${code})
  set_target_properties(${name} PROPERTIES PREFIX "" OUTPUT_NAME ${name}
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/plugins)
  install(TARGETS ${name} LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}/passthru/plugins)

  if(PLUGIN_TESTS AND NOT TARGET doctest::doctest)
    message(WARNING "passthru_add_plugin(${name}): TESTS need doctest (find_package(doctest); "
                    "Debian: doctest-dev); they are not built")
  elseif(PLUGIN_TESTS)
    add_executable(${name}_tests ${PLUGIN_TESTS})
    target_link_libraries(${name}_tests PRIVATE ${code} passthru::sdk_testing doctest::doctest)
    target_compile_definitions(${name}_tests PRIVATE
      PLUGIN_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}/tests")
    add_test(NAME ${name}.unit COMMAND ${name}_tests)
    set_tests_properties(${name}.unit PROPERTIES LABELS "unit;plugin")
  endif()

  if(PLUGIN_FUZZ)
    passthru_add_fuzz(${name} ${PLUGIN_FUZZ} "${PLUGIN_CORPUS}" ${code} passthru::sdk_testing)
  endif()
endfunction()

# passthru_add_fuzz(<name> <file> <corpus dir or ""> <libraries>...): the target <name>_fuzz.
# With PASSTHRU_FUZZ=ON it links libFuzzer; otherwise it links a main that replays every file
# of the corpus, and ctest runs that as <name>.fuzz_corpus.
function(passthru_add_fuzz name file corpus)
  add_executable(${name}_fuzz ${file})
  target_link_libraries(${name}_fuzz PRIVATE ${ARGN})
  if(PASSTHRU_FUZZ)
    target_compile_options(${name}_fuzz PRIVATE -fsanitize=fuzzer)
    target_link_options(${name}_fuzz PRIVATE -fsanitize=fuzzer)
  else()
    target_sources(${name}_fuzz PRIVATE ${PASSTHRU_FUZZ_REPLAY_MAIN})
    if(corpus)
      add_test(NAME ${name}.fuzz_corpus COMMAND ${name}_fuzz ${corpus})
      set_tests_properties(${name}.fuzz_corpus PROPERTIES LABELS "unit;fuzz")
    endif()
  endif()
endfunction()
