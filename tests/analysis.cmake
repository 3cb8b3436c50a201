# analysis/ (the Python package bertology_analysis, tests/analysis/*.py under pytest): the
# reader and Clark et al.'s statistics on hand-built files; the report on real runs; the run.h5
# schema against `bertology schema` and real files; the package installed with pip and checked
# by mypy; index.html's data; and the page in headless Chromium (the demo's page, every section,
# bert-large sizes at 512 tokens). bertology_analysis is found through tests/pytest.ini.
# bertology runs single-process here, but MPI_Init still loads Open MPI's plugins (MPI).
bt_pytest(analysis.clark_handbuilt analysis/test_clark.py TIMEOUT 300 LABELS analysis MPI FAST)
bt_pytest(analysis.report_real_run analysis/test_report_real.py TIMEOUT 300 LABELS analysis MPI)
bt_pytest(analysis.schema analysis/test_schema.py TIMEOUT 300 LABELS analysis MPI FAST)
bt_pytest(analysis.page_data analysis/test_page.py TIMEOUT 300 LABELS analysis MPI FAST)
bt_pytest(analysis.package analysis/test_package.py LABELS analysis MPI)
# the package reads the attribution and the rollout (docs/attribution.md)
bt_pytest(analysis.attribution analysis/test_attribution_access.py TIMEOUT 300 LABELS analysis MPI FAST)
# the browsers (and the demo runs behind one) are the heaviest: not two at once on 2 cores
bt_pytest(analysis.browser_demo analysis/test_browser.py TIMEOUT 900 LABELS analysis MPI RESOURCE_LOCK chromium)
bt_pytest(analysis.browser_synthetic analysis/test_browser_synthetic.py LABELS analysis MPI RESOURCE_LOCK chromium)
