#!/bin/sh
# rank_rc.sh DIR CMD...: runs CMD and records this MPI rank's exit code in DIR/rank<R>.rc, so a
# test sees every rank's own exit code, not only the one mpirun reports (bttest.refused).
dir=$1
shift
"$@"
rc=$?
echo "$rc" > "$dir/rank${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-x}}.rc"
exit "$rc"
