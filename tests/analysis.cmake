# analysis/ (Python report on run.h5): Clark et al. statistics and the reader on hand-built
# files with known attention; the whole report on real bertology importance/mask/ablate runs.
set(BT_ANALYSIS_WORK ${CMAKE_CURRENT_BINARY_DIR}/analysis_work)
add_test(NAME analysis.clark_handbuilt
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/test_clark.py
          ${BT_ANALYSIS_WORK}/handbuilt)
add_test(NAME analysis.report_real_run
  COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/analysis/check_report.py
          --bertology $<TARGET_FILE:bertology> --source ${PROJECT_SOURCE_DIR}
          --testdata ${BT_TEST_DATA} --work ${BT_ANALYSIS_WORK}/real)
set_tests_properties(analysis.clark_handbuilt analysis.report_real_run PROPERTIES
  LABELS "analysis" TIMEOUT 300
  # matplotlib writes its font cache under HOME; keep it out of the user's (or a read-only) home
  ENVIRONMENT "MPLCONFIGDIR=${BT_ANALYSIS_WORK}/mplconfig;PYTHONDONTWRITEBYTECODE=1")
if(BT_SANITIZE)
  # bertology runs single-process here, but MPI_Init still loads Open MPI's plugins (see dist.cmake)
  set_tests_properties(analysis.report_real_run PROPERTIES
    ENVIRONMENT "MPLCONFIGDIR=${BT_ANALYSIS_WORK}/mplconfig;PYTHONDONTWRITEBYTECODE=1;ASAN_OPTIONS=detect_leaks=0")
endif()
