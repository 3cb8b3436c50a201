# Model families (GPT-2, GPT, RoBERTa, DistilBERT): `bertology forward` against the float64
# PyTorch references of tests/ref (torch_gpt2.py, torch_families.py) on random checkpoints
# written by make_checkpoint_family.py; each test runs a group of compare_families.py's
# configurations (one process: torch loads once). families.reference checks the references
# themselves (no C code); families.save the loader's write-back through mk_model_dump;
# families.tiny the real tiny GPT-2; families.errors bad input.
set(BT_FAMILY_GROUPS
    "gpt2=gpt2,gpt2_f16,gpt2_odd,gpt2_cls,gpt2_reg,gpt2_base,gpt2_extra,gpt2_pruned"
    "gpt=gpt,gpt_cls,gpt_pruned"
    "roberta=roberta,roberta_reg,roberta_base,roberta_pruned"
    "distilbert=distilbert,distilbert_f16,distilbert_relu,distilbert_base,distilbert_pruned"
    "save=save" "tiny=tiny" "errors=errors")
foreach(group ${BT_FAMILY_GROUPS})
  string(REPLACE "=" ";" parts "${group}")
  list(GET parts 0 name)
  list(GET parts 1 only)
  add_test(NAME families.${name}
           COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/compare_families.py
                   --bertology $<TARGET_FILE:bertology> --mk-model-dump $<TARGET_FILE:mk_model_dump>
                   --only ${only})
  set_tests_properties(families.${name} PROPERTIES TIMEOUT 900 LABELS "ref;engine;families"
    ENVIRONMENT "BT_TEST_DATA=${BT_TEST_DATA}")
endforeach()
add_test(NAME families.reference
         COMMAND ${BT_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/ref/compare_families.py --only ref)
set_tests_properties(families.reference PROPERTIES TIMEOUT 600 LABELS "ref;families")
