// libllama and the ggml RPC backend, built by scripts/build_llama.sh into .build-llama/.
#include "../../.build-llama/include/llama.h"
#include "../../.build-llama/include/ggml-backend.h"
#include "../../.build-llama/include/ggml-rpc.h"
