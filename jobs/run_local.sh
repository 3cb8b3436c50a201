#!/usr/bin/env bash
# Head importance on one machine with plain mpirun (no Slurm).
#
#   jobs/run_local.sh MODEL_DIR TASK DATA_DIR OUT_DIR [more bertology flags]
#
#   NP          MPI ranks (default: cores / THREADS, at least 1)
#   THREADS     BLAS threads per rank (default 1: on one machine, ranks scale better than
#               threads for the small per-sequence attention work)
#   BERTOLOGY   the binary (default: build/bertology of this checkout, else bertology on PATH)
#   MPIRUN      the launcher (default mpirun) and MPIRUN_FLAGS extra launcher flags
# Ranks are bound to THREADS cores each when they fit on the machine, else left unbound
# (oversubscribed). Exit code: bertology's (0 ok, 2 bad input, 1 internal error, 3 stopped by
# SIGUSR1: run the same command to resume), or Open MPI's 1 after ^C/SIGTERM (the work is kept
# all the same: docs/checkpoint.md "Stopping").
set -euo pipefail

if (($# < 4)); then
  echo "usage: $0 MODEL_DIR TASK DATA_DIR OUT_DIR [bertology importance flags]" >&2
  exit 2
fi
model=$1 task=$2 data=$3 out=$4
shift 4

here=$(cd "$(dirname "$0")" && pwd)
if [[ -z ${BERTOLOGY:-} ]]; then
  BERTOLOGY=$here/../build/bertology
  [[ -x $BERTOLOGY ]] || BERTOLOGY=$(command -v bertology || true)
fi
if [[ ! -x $BERTOLOGY ]]; then
  echo "run_local.sh: no bertology binary (build it with jobs/setup.sh, or set BERTOLOGY)" >&2
  exit 2
fi

cores=$(nproc)
threads=${THREADS:-1}
np=${NP:-$((cores / threads > 0 ? cores / threads : 1))}
launcher=("${MPIRUN:-mpirun}" -np "$np")
if ((np * threads <= cores)); then
  launcher+=(--map-by "slot:PE=$threads" --bind-to core)
else
  launcher+=(--oversubscribe --bind-to none)
fi
[[ $(id -u) -eq 0 ]] && launcher+=(--allow-run-as-root)
read -r -a extra_launcher <<<"${MPIRUN_FLAGS:-}"
export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
# ^C or SIGTERM to mpirun: Open MPI sends the ranks SIGTERM odls_base_sigkill_timeout seconds later
# and SIGKILL as long after that (default 1 s). The ranks need a fraction of a second to make their
# work durable; 2 s leave room for a slow disk's fsync of the rows written since the last sync
# (with 5 s, Open MPI 4.1 dropped the ranks' last line and took 8 s to exit).
export OMPI_MCA_odls_base_sigkill_timeout=${OMPI_MCA_odls_base_sigkill_timeout:-2}

mkdir -p -- "$out" # bertology creates OUT itself, but not its parents
echo "run_local.sh: $BERTOLOGY, $np rank(s) x $threads thread(s) on $cores core(s): $task of $model -> $out" >&2
exec "${launcher[@]}" "${extra_launcher[@]}" "$BERTOLOGY" importance --model "$model" --task "$task" \
  --data "$data" --out "$out" --threads "$threads" "$@"
