# Experiments (eval, mask, ablate, prune; --save-rollout): the commands against the float64 torch reference of
# tests/ref and sklearn/scipy metrics (tests/experiments/reference.py), each other (ablation =
# eval --head-mask), independent checkpoints (pruned tensors), and under MPI (np 1 == np 3
# bitwise). See docs/experiments.md.
foreach(name eval mask ablate prune rollout)
  bt_pytest(experiments.${name} experiments/test_${name}.py TIMEOUT 900 LABELS experiments MPI)
endforeach()
bt_pytest(experiments.bad_input experiments/test_experiments_bad_input.py TIMEOUT 900 LABELS experiments MPI FAST)
bt_pytest(experiments.ranks experiments/test_ranks.py TIMEOUT 900 LABELS experiments MPI)
# importance --method attattr (Hao et al.'s attention attribution) against the float64 torch
# reference tests/ref/torch_attattr.py on every family, pred target, regression, head mask,
# pruned model; np 1 == np 2 bitwise; its refusals.
bt_pytest(experiments.attattr experiments/test_attattr.py TIMEOUT 600 LABELS experiments attattr MPI)
# mask and prune --method attattr: the importance command's attribution is what they rank by.
bt_pytest(experiments.attattr_experiments experiments/test_attattr_experiments.py TIMEOUT 600 LABELS experiments attattr)
