# arch (issue 11): the library's layering and its run API. See docs/architecture.md.

# every flag of every command writing run.h5 is in its options JSON, with the values given
bt_pytest(arch.flags_in_json arch/test_flags_json.py LABELS arch MPI)
# a whole importance run through the library (tests/tools/run_importance_lib.c, no CLI) gives
# the same run.h5 and .npy files as `bertology importance`, bitwise, at np = 2
bt_pytest(arch.run_api_vs_cli arch/test_run_api.py LABELS arch mpi MPI)
# a head mask whose shape overflows any message buffer: exit 2, one line (issue 13's finding)
bt_pytest(arch.head_mask_huge_shape arch/test_head_mask_huge_shape.py TIMEOUT 300 LABELS arch sanitize MPI FAST)
