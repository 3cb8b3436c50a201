# `cmake --install BUILD --prefix P`: the bertology command, the library (libbertology.a: every
# floor in one archive), the public headers, a pkg-config file (bertology.pc) and a CMake package
# (find_package(bertology) -> bertology::bertology), plus the job scripts and the analysis
# module under share/bertology. tests/install/check_install.sh builds a program against both.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/bertology)

install(TARGETS bertology RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
set_target_properties(bertology_all PROPERTIES EXPORT_NAME bertology)  # bertology::bertology
install(TARGETS bertology_all EXPORT bertologyTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY include/bertology DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
        FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/bertology/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bertology)
# the GEMM backends' link interface (CBLAS, oneDNN), exported with the library
install(TARGETS bt_blas EXPORT bertologyTargets)
install(EXPORT bertologyTargets NAMESPACE bertology:: DESTINATION ${BT_CMAKE_DIR})

configure_package_config_file(cmake/bertologyConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/bertologyConfig.cmake INSTALL_DESTINATION ${BT_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/bertologyConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bertologyConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/bertologyConfigVersion.cmake
        DESTINATION ${BT_CMAKE_DIR})

# pkg-config: the archive is static, so its dependencies are public (Requires, not .private).
# ${pcfiledir} keeps the installed tree relocatable.
configure_file(cmake/bertology.pc.in ${CMAKE_CURRENT_BINARY_DIR}/bertology.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/bertology.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(PROGRAMS jobs/run_local.sh jobs/importance.sbatch jobs/glue_array.sbatch
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bertology/jobs)
# the analysis package's sources with its pyproject.toml: `pip install P/share/bertology/analysis`
install(DIRECTORY analysis/ DESTINATION ${CMAKE_INSTALL_DATADIR}/bertology/analysis
        PATTERN "__pycache__" EXCLUDE PATTERN "build" EXCLUDE PATTERN "*.egg-info" EXCLUDE)
