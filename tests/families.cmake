# Model families (GPT-2, GPT, RoBERTa, DistilBERT): `bertology forward` against the float64
# PyTorch references of tests/ref (torch_gpt2.py, torch_families.py) on random checkpoints
# written by make_checkpoint_family.py; each test runs a group of tests/ref/test_families.py's
# configurations (one process: torch loads once). families.reference checks the references
# themselves (no C code); families.save the loader's write-back through mk_model_dump;
# families.tiny the real tiny GPT-2; families.errors bad input.
set(BT_FAMILY_GROUPS
    "gpt2=gpt2,gpt2_f16,gpt2_odd,gpt2_cls,gpt2_reg,gpt2_base,gpt2_extra,gpt2_pruned"
    "gpt=gpt,gpt_cls,gpt_pruned"
    "roberta=roberta,roberta_reg,roberta_base,roberta_mlm,roberta_pruned"
    "distilbert=distilbert,distilbert_f16,distilbert_relu,distilbert_base,distilbert_pruned"
    "save=save" "tiny=tiny" "errors=errors")
# families.NAME<suffix> for a "NAME=case,case..." group; ARGN: more bt_pytest options.
function(bt_families_test group suffix)
  string(REPLACE "=" ";" parts "${group}")
  list(GET parts 0 name)
  list(GET parts 1 cases)
  string(REPLACE "," ";" cases "${cases}")
  set(select)
  foreach(case ${cases})
    if(case MATCHES "^(ref|save|tiny|errors)$")
      list(APPEND select "test_check[${case}]")
    else()
      list(APPEND select "test_config[${case}]")
    endif()
  endforeach()
  bt_pytest(families.${name}${suffix} ref/test_families.py SELECT ${select} ${ARGN})
endfunction()
# on the CBLAS backend (auto would take oneDNN); gemm.cmake adds the other backends and ISAs
foreach(group ${BT_FAMILY_GROUPS})
  bt_families_test("${group}" "" TIMEOUT 900 LABELS ref engine families FAST ENV BT_GEMM=blas)
endforeach()
bt_families_test("reference=ref" "" LABELS ref families FAST)
