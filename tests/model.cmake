# model: checkpoints written by torch (tests/ref/test_torch_checkpoints.py) loaded through
# mk_model_dump, compared bitwise with torch's conversions, and saved copies re-read in Python.
bt_pytest(model.torch_checkpoints ref/test_torch_checkpoints.py TIMEOUT 300 LABELS model FAST)
