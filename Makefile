# Two commands matter: `make demo` and `make test`. Everything else is a helper for them.
PYTHON ?= python3
VENV ?= .venv
SRC := operator tests $(wildcard bench)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
SIZE ?= 50

.PHONY: help venv demo test lint format generate crds unit e2e bench clean controlplane argocd-lua

help:
	@echo "make demo   - run the operator end to end on the embedded sandbox"
	@echo "make test   - lint and run the whole test suite"
	@echo "make bench  - benchmarks (figures printed, never pass/fail); make bench-receiver for the receiver's"
	@echo "make smoke  - check the operator installed in the current kube context end to end, with kubectl only"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/twilio-operator demo

lint: venv
	$(BIN)/ruff check $(SRC)
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

# CRDs, the operator chart's kind list and RBAC rules, Argo CD health checks: all from the kind registry.
generate: venv
	$(BIN)/twilio-operator generate

crds: generate

# -rs: a skipped test says why (the image tests need buildah and root, the real control plane and Argo CD's
# Lua engine need Go).
test: lint controlplane promtool argocd-lua
	$(BIN)/pytest -rs $(PYTEST_ARGS)

# etcd, kube-apiserver and kube-controller-manager for `sandbox --kube apiserver` and the real-API-server
# variants of the tests, built from the Kubernetes Go modules into a cache outside the tree (reused when
# present). Without Go the variants are skipped, with their reason printed.
GO ?= $(shell command -v go 2>/dev/null || { test -x /usr/local/go/bin/go && echo /usr/local/go/bin/go; })
controlplane:
	@if [ -n "$(GO)" ]; then GO=$(GO) scripts/controlplane.sh >/dev/null; \
	else echo "make: no Go toolchain: the real-API-server tests will be skipped (install Go 1.26+ to run them)"; fi

# promtool runs the alert rules' unit tests: built from the Prometheus Go module on first use (minutes) and
# cached outside the tree by version (scripts/promtool.sh). Without Go the rules are only parsed.
.PHONY: promtool
promtool:
	@scripts/promtool.sh >/dev/null || echo "promtool unavailable: the alert rules are only parsed" >&2

# Argo CD's Lua engine (gopher-lua in Argo CD's sandbox) for the health check and action tests, built from
# tests/packaging/argocd_lua into a cache keyed by its source. Without Go those tests run in Lua 5.1 only.
argocd-lua:
	@if [ -n "$(GO)" ]; then GO=$(GO) scripts/argocd-lua.sh >/dev/null; \
	else echo "make: no Go toolchain: the Argo CD Lua engine tests will be skipped (install Go 1.26+)"; fi

unit: venv
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

e2e: venv
	$(BIN)/pytest tests/e2e $(PYTEST_ARGS)

# Benchmarks need matplotlib and psutil too (the `bench` extra); `make bench SIZE=n` sets the subaccounts of
# the scale run (23 objects each: SIZE=50 is 1,150 objects, SIZE=217 about 5,000).
BENCH_STAMP := $(VENV)/.bench-stamp
$(BENCH_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BIN)/python bench/emulator_latency.py
	$(BIN)/python bench/scale.py --size $(SIZE)

# The receiver's throughput to SQLite and to a real PostgreSQL (Debian's server, started by the script), 60 s
# each, against a bare aiohttp handler in the same run; writes bench/receiver.json.
.PHONY: bench-receiver
bench-receiver: $(BENCH_STAMP)
	$(BIN)/python bench/receiver.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .cache

# The container image, with buildah, podman or docker, whichever is installed (buildah and podman need no
# daemon). Where the builder cannot create namespaces or reach a registry, for example inside a container:
#   make image IMAGE_BUILD_FLAGS="--isolation chroot --pull=never"
# With no registry at all, `make image-test` below makes the base image too.
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)
IMAGE ?= localhost/twilio-operator:$(VERSION)
IMAGE_BUILDER ?= $(firstword $(foreach tool,buildah podman docker,$(shell command -v $(tool) 2>/dev/null)))
IMAGE_BUILD_FLAGS ?=

.PHONY: image
image:
	@test -n "$(IMAGE_BUILDER)" || { echo "make image: install buildah, podman or docker" >&2; exit 1; }
	$(IMAGE_BUILDER) build $(IMAGE_BUILD_FLAGS) --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$$(git rev-parse --short HEAD 2>/dev/null || echo unknown) -t $(IMAGE) .

# The image built and run where no registry is reachable (needs root, buildah and debootstrap): the
# Dockerfile's base image made from Debian packages and cached (scripts/image.sh base), the Dockerfile built
# on it, then `twilio-operator version`, the user and the entrypoint checked inside (tests/packaging/test_image.py).
.PHONY: image-base image-test
image-base:
	scripts/image.sh base

image-test: venv
	$(BIN)/pytest tests/packaging/test_image.py $(PYTEST_ARGS)

# The operator installed in the current kube context checked end to end with kubectl alone: real Twilio where
# the chart runs with real credentials (a subaccount, closed at the end). SMOKE_* variables in scripts/smoke.sh,
# e.g. `make smoke SMOKE_CONTEXT=staging`; tests/e2e/test_smoke_script.py runs it against the sandbox.
.PHONY: smoke
smoke:
	scripts/smoke.sh

# Seeded chaos run: 200 objects, 20 SIGKILLs, faults on both emulators, then the fuzz suite; writes
# chaos/results.json and prints the summary table. `make chaos SEED=7` reproduces a run's workload.
# KUBE=apiserver runs it on the real control plane (behind the sandbox's fault proxy) instead of the emulator.
.PHONY: chaos
chaos: SEED ?= 1
chaos: KUBE ?= emulator
chaos: venv
	$(BIN)/python -m chaos.run --seed $(SEED) --kube $(KUBE)
