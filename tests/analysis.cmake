# analysis/ (the Python package bertology_analysis, tests/analysis/*.py under pytest): the
# reader and Clark et al.'s statistics on hand-built files; the report on real runs; the run.h5
# schema against `bertology schema` and real files; the package installed with pip and checked
# by mypy; index.html's data; and the page in headless Chromium (the demo's page, every section,
# bert-large sizes at 512 tokens). Each file runs as one ctest with bertology_analysis found
# through PYTHONPATH; BT_WORK is its scratch directory.
set(BT_ANALYSIS_WORK ${CMAKE_CURRENT_BINARY_DIR}/analysis_work)
set(BT_ANALYSIS_TESTS
  clark_handbuilt:test_clark.py:300
  report_real_run:test_report_real.py:300
  schema:test_schema.py:300
  page_data:test_page.py:300
  package:test_package.py:600
  browser_demo:test_browser.py:900
  browser_synthetic:test_browser_synthetic.py:600)
foreach(spec ${BT_ANALYSIS_TESTS})
  string(REPLACE ":" ";" spec "${spec}")
  list(GET spec 0 name)
  list(GET spec 1 file)
  list(GET spec 2 timeout)
  add_test(NAME analysis.${name}
    COMMAND ${BT_PYTHON} -m pytest -p no:cacheprovider -q -rA ${CMAKE_CURRENT_SOURCE_DIR}/analysis/${file})
  set(env "PYTHONPATH=${PROJECT_SOURCE_DIR}/analysis" "PYTHONDONTWRITEBYTECODE=1"
      "BT_WORK=${BT_ANALYSIS_WORK}/${name}" "BT_SOURCE=${PROJECT_SOURCE_DIR}"
      "BT_BERTOLOGY=$<TARGET_FILE:bertology>" "BT_TESTDATA=${BT_TEST_DATA}"
      # matplotlib writes its font cache under HOME; keep it out of the user's (or a read-only) home
      "MPLCONFIGDIR=${BT_ANALYSIS_WORK}/mplconfig")
  if(BT_SANITIZE)
    # bertology runs single-process here, but MPI_Init still loads Open MPI's plugins (see dist.cmake)
    list(APPEND env "ASAN_OPTIONS=detect_leaks=0")
  endif()
  set_tests_properties(analysis.${name} PROPERTIES LABELS "analysis" TIMEOUT ${timeout} ENVIRONMENT "${env}")
endforeach()
# the browsers (and the demo runs behind one) are the heaviest: not two at once on 2 cores
set_tests_properties(analysis.browser_demo analysis.browser_synthetic PROPERTIES RESOURCE_LOCK chromium)
