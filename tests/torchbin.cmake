# pytorch_model.bin (src/model/torch_bin.c, torch_pickle.c): the same random weights saved by
# torch.save(module.state_dict()) and as safetensors load bitwise the same and give bitwise the
# same `bertology forward` outputs (F32/F16/BF16, sharded, every family); hostile .bin files
# (disallowed globals, bad offsets and sizes, truncated zips, zip bombs, legacy format) are
# refused with one line each. The unpickler is also a libFuzzer target (tests/fuzz).
bt_pytest(torchbin.vs_safetensors ref/test_torchbin.py SELECT test_equal test_both_formats
          LABELS ref model sanitize)
bt_pytest(torchbin.hostile ref/test_torchbin.py SELECT test_hostile LABELS ref model sanitize FAST)
