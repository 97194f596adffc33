# Periscope — a Jupyter kernel for looking inside language models.
#   make lab    set everything up and open JupyterLab on the tour notebook
#   make test   set everything up and run every Swift test and every Python integration test
#   make bench  benchmarks side by side with ipykernel / llama.cpp / transformers / nnsight
#   make fuzz   every libFuzzer target with the address sanitizer (FUZZ_SECONDS each)
#   make soak   a long mixed run through jupyter_client (SOAK_SECONDS), report in build/soak/
SHELL := /bin/bash
PERISCOPE_HOME ?= $(HOME)/.cache/periscope
export PERISCOPE_HOME
VENV := .venv
PY := $(VENV)/bin/python
MODEL := $(PERISCOPE_HOME)/models/SmolLM2-135M-Instruct.Q4_1.gguf
# One optimised build serves the binary and the tests (numeric tests must run optimised).
SWIFTFLAGS := -c release -Xswiftc -enable-testing
BIN := .build/release/periscope

.PHONY: all deps llama build venv lab-venv model kernelspec fixtures setup test swift-test py-test lab demo bench refvenv clean \
	fuzz fuzz-build fuzz-smoke soak

all: build

deps:
	@scripts/install_deps.sh

# libllama and ggml-rpc-server (the llama.cpp backend) and llama-completion (a test's reference), built once from the pinned llama-cpp-python
# sdist into .build-llama/ (a few minutes on 2 cores); the Swift package links them from there.
llama: deps venv
	PYTHON=$(PY) scripts/build_llama.sh

build: deps llama
	swift build $(SWIFTFLAGS) --build-tests

LEXER_PKG := python/periscope-pygments
$(VENV)/.test-stamp: requirements-test.txt $(LEXER_PKG)/pyproject.toml $(wildcard $(LEXER_PKG)/periscope_pygments/*.py)
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	$(PY) -m pip install --quiet ./$(LEXER_PKG)
	touch $@

$(VENV)/.lab-stamp: requirements-lab.txt $(VENV)/.test-stamp
	$(PY) -m pip install --quiet -r requirements-lab.txt
	touch $@

venv: $(VENV)/.test-stamp

lab-venv: $(VENV)/.lab-stamp

model: venv
	PYTHON=$(PY) scripts/fetch_model.sh

kernelspec: build venv
	$(BIN) install --prefix $(abspath $(VENV))

setup: build venv model kernelspec

# The GGUF test fixtures are not tracked: their committed generators rebuild them byte for byte
# with the test venv's `gguf` and numpy (model_slices from the model), and the companion files
# they rewrite (.f32, reference.json) come out unchanged. Each group is a real file target, made
# again only when its generator (or the venv) is newer than the files, not on every test run
# (grouped targets, `&:`, need GNU Make 4.3 or later).
GGUF_FIXTURES := $(addprefix Tests/GGUFTests/Fixtures/,all_types.gguf model_slices.gguf metadata.gguf metadata_v2.gguf writer_golden.gguf)
TINY_FIXTURES := $(addprefix Tests/TransformerTests/Fixtures/tiny/,tiny-llama.gguf tiny-qwen2.gguf tiny-gpt2.gguf tiny-bad-heads.gguf)
SPM_FIXTURES := Tests/TransformerTests/Fixtures/spm-tiny.gguf

$(GGUF_FIXTURES) &: scripts/make_gguf_fixtures.py $(VENV)/.test-stamp | model
	$(PY) scripts/make_gguf_fixtures.py --model $(MODEL)

$(TINY_FIXTURES) &: scripts/make_tiny_model_fixtures.py $(VENV)/.test-stamp
	$(PY) scripts/make_tiny_model_fixtures.py

$(SPM_FIXTURES): scripts/make_tokenizer_fixtures.py Tests/TransformerTests/Fixtures/spm-tiny.vocab.json $(VENV)/.test-stamp
	$(PY) scripts/make_tokenizer_fixtures.py --spm-gguf

fixtures: $(GGUF_FIXTURES) $(TINY_FIXTURES) $(SPM_FIXTURES)

# PERISCOPE_REF_PYTHON: tests that read our files back with the `gguf`/numpy packages use it.
# (fixtures first: the GGUF tests' bundle copies its Fixtures directory when it is built.)
swift-test: fixtures build model venv
	PERISCOPE_REF_PYTHON=$(abspath $(PY)) swift test $(SWIFTFLAGS) --skip-build

py-test: setup
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pytest -q Tests/integration

test: setup
	$(MAKE) swift-test
	$(MAKE) py-test

# The fuzz targets build with libFuzzer and the address sanitizer into their own scratch path,
# optimised (-O keeps Swift's bounds and overflow checks) for speed. The sanitizers go in one flag:
# of two -sanitize= flags swiftc keeps only the last, which dropped the coverage instrumentation.
FUZZ_TARGETS := FuzzGGUF FuzzWire FuzzLanguage FuzzTokenizer FuzzCSV FuzzWriters
FUZZ_SECONDS ?= 600
fuzz-build: deps llama
	for t in $(FUZZ_TARGETS); do \
		PERISCOPE_FUZZ=1 swift build -c debug --scratch-path .build-fuzz --product $$t \
			-Xswiftc -sanitize=fuzzer,address -Xswiftc -O -Xswiftc -enable-testing -Xswiftc -use-ld=lld || exit 1; \
	done

fuzz: fuzz-build fixtures model
	$(PY) scripts/fuzz.py seeds
	$(PY) scripts/fuzz.py run --seconds $(FUZZ_SECONDS)

fuzz-smoke: fuzz-build fixtures model
	$(PY) scripts/fuzz.py smoke

# Thousands of cells through jupyter_client: every verb, every kind of bad input, interrupts,
# restarts, two models, prompts past the cache budget; cells/s and the memory curve go to
# build/soak/report.json. `make test` runs a short one (test_soak.py).
SOAK_SECONDS ?= 1800
soak: setup
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) Tests/integration/soak.py --seconds $(SOAK_SECONDS) \
		--report build/soak/report.json

lab: setup lab-venv
	cd examples && PATH=$(abspath $(VENV))/bin:$$PATH $(abspath $(VENV))/bin/jupyter lab tour.ipynb

demo: setup
	PATH=$(abspath $(VENV))/bin:$$PATH $(VENV)/bin/jupyter nbconvert --to html --execute \
		--ExecutePreprocessor.kernel_name=periscope --output tour.html examples/tour.ipynb

# The peers (torch, transformers, nnsight, llama-cpp-python) live in a venv outside the repo,
# made once; never in CI.
REFVENV ?= $(PERISCOPE_HOME)/refvenv
export PERISCOPE_REFVENV := $(REFVENV)

refvenv:
	test -x $(REFVENV)/bin/python || python3 -m venv $(REFVENV)
	$(REFVENV)/bin/pip install --quiet torch transformers gguf accelerate numpy sentencepiece protobuf nnsight llama-cpp-python

bench: setup
	test -x $(REFVENV)/bin/python || $(MAKE) refvenv
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) bench/run.py

clean:
	rm -rf .build $(VENV) .build-llama
