#!/usr/bin/env bash
# The whole tool on the bundled demo (a 4-layer BERT trained on SST-2, data/demo-sst2, scored on
# the SST-2 dev set in data/glue/SST-2): builds everything, then
#   1. head importance and attention entropy, 2 MPI ranks, every attention map saved to run.h5
#   2. the masking search (switch off the least important heads until accuracy drops)
#   3. pruning of the masked heads, scored and timed against the masked model
#   4. the analysis report from run.h5: index.html (interactive, open it in a browser) and the
#      static figures + summary
#   5. CAT-probing (docs/cat.md): a small RoBERTa code model trained from scratch on 480 real
#      functions (data/code-roberta) and the same model at its random initialisation, on those
#      functions in four languages; their report side by side (out/demo/cat-report)
# Usage: bash jobs/demo.sh [OUT_DIR]     (as root on a fresh machine: installs the packages)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo}
MODEL=data/demo-sst2
DATA=data/glue/SST-2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# one BLAS thread per rank: the ranks fill the cores
export OMP_NUM_THREADS=1

bash jobs/setup.sh build
BT=build/bertology
NP=${NP:-2}
mkdir -p "$OUT"
start=$(date +%s)

echo "== 1/5 importance: mpirun -np $NP, attentions saved"
mpirun --oversubscribe -np "$NP" "$BT" importance --model "$MODEL" --task sst-2 --data "$DATA" \
  --out "$OUT/importance" --save-attentions --threads 1

echo "== 2/5 masking search"
mpirun --oversubscribe -np "$NP" "$BT" mask --model "$MODEL" --task sst-2 --data "$DATA" \
  --out "$OUT/mask" --threads 1

echo "== 3/5 pruning the masked heads"
mpirun --oversubscribe -np "$NP" "$BT" prune --model "$MODEL" --head-mask "$OUT/mask/head_mask.npy" \
  --out "$OUT/pruned-model" --task sst-2 --data "$DATA" --threads 1

echo "== 4/5 analysis report"
/usr/bin/python3 analysis/report.py "$OUT/importance/run.h5" "$OUT/mask/run.h5" --out "$OUT/report"

echo "== 5/5 CAT-probing: a trained code model against its random initialisation"
for m in code-roberta code-roberta-random; do
  mpirun --oversubscribe -np "$NP" "$BT" cat --model "data/$m" --task code --data data/code/functions.jsonl \
    --out "$OUT/cat/$m" --threads 1
done
/usr/bin/python3 analysis/report.py "$OUT/cat/code-roberta/run.h5" "$OUT/cat/code-roberta-random/run.h5" \
  --out "$OUT/cat-report"

echo "demo finished in $(( $(date +%s) - start )) s"
echo "report: open $OUT/report/index.html in a browser (one self-contained file; static version: summary.html)"
echo "CAT-probing: $OUT/cat-report/index.html"
