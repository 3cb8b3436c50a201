# Fuzz targets (docs/hostile_inputs.md). Every tests/fuzz/fuzz_<name>.c defines
# LLVMFuzzerTestOneInput; its seed corpus is tests/fuzz/corpus/<name>/, its dictionary (if any)
# tests/fuzz/<name>.dict, the crashes it found tests/fuzz/regress/<name>/.
#  - BT_FUZZ=ON (clang): fuzz_<name> linked with libFuzzer; `cmake --build B --target fuzz_targets`
#    builds them all and tests/fuzz/run_fuzz.sh runs each for a bounded time.
#  - otherwise: fuzz_<name>_regress linked with tests/fuzz/regress_main.c, and a ctest
#    fuzz.<name> replaying regress/<name>/ and corpus/<name>/ (label sanitize: it runs under
#    ASan/UBSan in tests/run.sh).
file(GLOB BT_FUZZ_SRCS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_*.c)
set(BT_FUZZ_DIR ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
if(BT_FUZZ)
  add_custom_target(fuzz_targets)
endif()
foreach(src ${BT_FUZZ_SRCS})
  get_filename_component(target ${src} NAME_WE)
  string(REGEX REPLACE "^fuzz_" "" name ${target})
  if(BT_FUZZ)
    set(exe ${target})
    add_executable(${exe} ${src})
    target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
    add_dependencies(fuzz_targets ${exe})
  else()
    set(exe ${target}_regress)
    add_executable(${exe} ${src} ${BT_FUZZ_DIR}/regress_main.c)
    add_test(NAME fuzz.${name} COMMAND ${exe} ${BT_FUZZ_DIR}/regress/${name} ${BT_FUZZ_DIR}/corpus/${name})
    set_tests_properties(fuzz.${name} PROPERTIES LABELS "fuzz;sanitize;fast" TIMEOUT 300
      ENVIRONMENT "BT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  endif()
  target_compile_definitions(${exe} PRIVATE _GNU_SOURCE BT_FUZZ_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  target_include_directories(${exe} PRIVATE ${PROJECT_SOURCE_DIR}/src ${BT_FUZZ_DIR})
  target_link_libraries(${exe} PRIVATE bertology_all)
endforeach()
