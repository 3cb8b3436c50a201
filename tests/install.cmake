# The repository stands alone (no path outside it, every bundled file as SOURCES.md says), and
# the installed package works for a program outside the project (pkg-config and find_package)
# and for the installed job scripts. See tests/check_tree.sh and tests/install/check_install.sh.
add_test(NAME tree.self_contained COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/check_tree.sh)
add_test(NAME install.consumer
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/install/check_install.sh
          ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR} ${CMAKE_CURRENT_BINARY_DIR}/install_work)
set_tests_properties(tree.self_contained PROPERTIES TIMEOUT 120 LABELS "tree;fast")
set_tests_properties(install.consumer PROPERTIES TIMEOUT 600 LABELS "install;mpi")
