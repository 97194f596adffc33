#!/usr/bin/env bash
# Builds libllama, the ggml libraries, ggml-rpc-server and llama-completion from the llama.cpp tree
# vendored in the pinned llama-cpp-python sdist, into .build-llama/ (lib/, include/, bin/). The
# Swift package links the libraries from there (the LlamaCpp backend) and the kernel finds them by
# rpath; the tests run llama-completion to check that llama.cpp reads our control vectors as
# `steer` means them.
# Done once: a second run with the same version returns at once.
#   PYTHON   python with pip, used for `pip download` (default python3)
set -euo pipefail
VERSION=0.3.36
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$ROOT/.build-llama"
STAMP="$OUT/.built-$VERSION"
PYTHON="${PYTHON:-python3}"
# A tree built before llama-completion joined keeps its build (the test that needs it skips).
if [ -f "$STAMP" ] && [ -x "$OUT/bin/ggml-rpc-server" ] && [ -f "$OUT/lib/libllama.so" ]; then
    exit 0
fi
mkdir -p "$OUT/src"
SDIST="$OUT/src/llama_cpp_python-$VERSION.tar.gz"
if [ ! -f "$SDIST" ]; then
    "$PYTHON" -m pip download --quiet --no-deps --no-binary llama-cpp-python \
        "llama-cpp-python==$VERSION" -d "$OUT/src"
fi
TREE="$OUT/src/llama_cpp_python-$VERSION/vendor/llama.cpp"
if [ ! -f "$TREE/CMakeLists.txt" ]; then
    tar -xzf "$SDIST" -C "$OUT/src"
fi
echo "build_llama: building libllama, ggml-rpc-server and llama-completion $VERSION (several minutes on 2 cores)"
start=$(date +%s)
# Shared libraries, the RPC backend, CPU only; nothing that needs the network or extra tools.
nice cmake -S "$TREE" -B "$OUT/cmake" -DCMAKE_BUILD_TYPE=Release \
    -DBUILD_SHARED_LIBS=ON -DGGML_RPC=ON -DGGML_NATIVE=ON -DGGML_OPENMP=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_COMMON=ON -DLLAMA_BUILD_TOOLS=ON \
    -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON >"$OUT/build.log" 2>&1 || { tail -30 "$OUT/build.log"; exit 1; }
nice cmake --build "$OUT/cmake" --target ggml-rpc-server llama llama-completion -j 2 >>"$OUT/build.log" 2>&1 \
    || { tail -30 "$OUT/build.log"; exit 1; }
mkdir -p "$OUT/lib" "$OUT/include" "$OUT/bin"
find "$OUT/cmake" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$OUT/lib/" \;
cp "$TREE"/include/llama.h "$OUT/include/"
cp "$TREE"/ggml/include/*.h "$OUT/include/"
# A link: the server finds its libraries beside its real path ($ORIGIN).
ln -sf ../cmake/bin/ggml-rpc-server "$OUT/bin/ggml-rpc-server"
ln -sf ../cmake/bin/llama-completion "$OUT/bin/llama-completion"
touch "$STAMP"
echo "build_llama: done in $(( $(date +%s) - start )) s"
