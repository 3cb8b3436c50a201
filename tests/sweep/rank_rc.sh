#!/bin/sh
# rank_rc.sh DIR CMD...: runs CMD and records this MPI rank's exit code in DIR/rank<R>.rc, so a
# test can see that every rank (not just the one mpirun reports) exited non-zero.
dir=$1
shift
"$@"
rc=$?
echo "$rc" > "$dir/rank${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-x}}.rc"
exit "$rc"
