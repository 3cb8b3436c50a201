# The bundled demo model (data/demo-sst2, trained by data/train_demo_model.py): the C engine's
# SST-2 dev accuracy must meet issue 6 (>= 0.80) and match what PyTorch recorded in training.json.
bt_pytest(demo.model_dev_accuracy demo/test_demo_model.py LABELS demo MPI FAST)
