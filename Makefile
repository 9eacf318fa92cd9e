# The two commands: `make run` and `make test`. Set-up that is already done is skipped.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STACK := $(PY) -m appeals_tools.stack
PACKAGES := libs/contracts libs/reference libs/law libs/platform services/intake services/routing services/deadlines services/dashboard tools
STAMP := $(VENV)/.installed
NATIVE := services/routing/routing/_compiled_locality.native services/routing/routing/_margins.native
# The stamp of a compiled module: its source's hash and this machine's (see routing/native.py).
NATIVE_STAMP = $(CURDIR)/$(PY) -c "import sys; from routing.native import HERE, stamp; print(stamp(HERE / sys.argv[1]))"
PYPROJECTS := pyproject.toml $(foreach p,$(PACKAGES),$(p)/pyproject.toml)
UV := $(VENV)/bin/uv
# The uv that writes and installs uv.lock: pyproject.toml's required-version.
UV_VERSION := $(shell sed -n 's/^required-version = "==\([^"]*\)".*/\1/p' pyproject.toml)
UV_BOOT = test -x $(PY) || python3 -m venv $(VENV); \
  [ "$$($(UV) --version 2>/dev/null | cut -d' ' -f2)" = "$(UV_VERSION)" ] || \
  $(VENV)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

.PHONY: run up down status logs test test-replicas test-kafka-modes test-fast chaos lint install lock token demo history \
        bench bench-outbox bench-intake bench-routing bench-deadlines bench-dashboard bench-pipeline \
        bench-scale bench-risk docs k8s clean

# DEMO=1: the services accept the history simulator's past moments (demo stack only), the
# history is seeded first (once: a second run finds it) and the live demo feed goes on from it.
DEMO_ENV = $(if $(filter 1,$(DEMO)),INTAKE_DEMO_HISTORY=true ROUTING_DEMO_HISTORY=true DEADLINES_DEMO_HISTORY=true)

run: install ## start Kafka, PostgreSQL and the three services; DEMO=1 also seeds a history and feeds demo appeals
	@$(DEMO_ENV) $(STACK) up
	@$(PY) -m appeals_tools.welcome
	@if [ "$(DEMO)" = "1" ]; then $(PY) -m appeals_tools.history $(HISTORY_ARGS) && \
	  $(PY) -m appeals_tools.demo --rate 5 --count 0 --background; fi

history: install ## seed the running demo stack (make run DEMO=1) with a simulated past: HISTORY_ARGS="--seed 1 --since 2026-06-01 --count 2000"
	@$(PY) -m appeals_tools.history $(HISTORY_ARGS)

up: install ## the same as run, without the welcome text
	@$(STACK) up

down: ## stop everything this checkout started
	@$(STACK) down

status: ## what runs where (exit status 1 from appeals-stack status when a part is down)
	@$(STACK) status || true

logs: ## make logs NAME=intake (kafka, postgres, intake, routing, deadlines)
	@$(STACK) logs $(or $(NAME),intake)

# The suite runs in TEST_WORKERS pytest processes (pytest-xdist; a test file stays in one, and
# each has its own topic prefix and databases on the shared stack), then the tests marked
# `serial` alone. The -m of each part replaces pyproject's, so it repeats its two exclusions.
# Exit 5 is "no test selected": a PYTEST_ARGS naming one folder may select nothing in one
# part, but nothing selected in both (a mistyped -k) fails, as one pytest run would.
TEST_WORKERS ?= 2
test: install ## start what the tests need and run the whole suite (and test-replicas, unless PYTEST_ARGS names tests/...)
	@bash deploy/ensure-chromium.sh
	@$(STACK) up --infra
	@$(PY) -m pytest -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile \
	  -m "not kafka_modes and not replicas and not serial" $(PYTEST_ARGS); parallel=$$?; \
	echo "[make] the tests that run alone (marked serial) ..."; \
	$(PY) -m pytest -p no:cacheprovider -m serial $(PYTEST_ARGS); serial=$$?; \
	case "$$parallel $$serial" in "0 0"|"0 5"|"5 0") ;; *) exit 1 ;; esac
	@$(if $(findstring tests/,$(PYTEST_ARGS)),,$(MAKE) --no-print-directory test-replicas)

test-replicas: install ## real processes: intake x2, routing x3, deadlines x2 sharing groups, one killed (~2 min)
	@$(STACK) up --infra
	@$(PY) -m pytest -p no:cacheprovider -m replicas tests/replicas $(filter-out tests/%,$(PYTEST_ARGS))

test-kafka-modes: install ## `appeals-stack up --brokers 3`, TLS, Kafka stopped under intake: each a Kafka of its own (~6 min)
	@$(PY) -m pytest -p no:cacheprovider -m kafka_modes tests/kafka_modes $(PYTEST_ARGS)

chaos: install ## the fault suite: its own stack, 10,000 appeals per fault, one row per fault
	@$(PY) -m appeals_tools.chaos run $(CHAOS_ARGS)

test-fast: install ## only the tests that need neither Kafka nor PostgreSQL
	@$(PY) -m pytest -p no:cacheprovider -m "not infra and not browser" $(PYTEST_ARGS)

lint: install
	@$(UV) lock --check --offline --quiet
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy libs/contracts/appeals_contracts libs/reference/appeals_reference libs/law/appeals_law \
	  libs/platform/appeals_platform services/intake/intake services/routing/routing \
	  services/deadlines/deadlines services/dashboard/appeals_dashboard tools/appeals_tools

install: $(STAMP) $(NATIVE)

# Routing's place matcher compiled with mypyc (about twice as fast, same source), and its
# classifier's arithmetic with Cython for this machine's CPU (about three times faster than
# numpy); with no C compiler both stay Python. A build of another source is not used.
# The place matcher is compiled from a copy named _compiled_locality.py, so the build is a
# module of its own and `routing.locality` stays the source (routing.native picks one).
services/routing/routing/_compiled_locality.native: services/routing/routing/locality.py $(STAMP)
	@echo "[make] compiling routing's place matcher with mypyc (once per change of locality.py) ..."
	@mkdir -p .local
	@cd services/routing && rm -f routing/locality*.so routing/locality.native routing/_compiled_locality*.so && \
	  cp routing/locality.py routing/_compiled_locality.py && \
	  if MYPYPATH=$(CURDIR)/libs/reference $(CURDIR)/$(VENV)/bin/mypyc routing/_compiled_locality.py \
	       > $(CURDIR)/.local/mypyc.log 2>&1; then \
	    $(NATIVE_STAMP) locality.py > routing/_compiled_locality.native; \
	  else \
	    rm -f routing/_compiled_locality*.so; echo pure-python > routing/_compiled_locality.native; \
	    echo "[make] mypyc failed (see .local/mypyc.log): the place matcher runs as Python"; \
	  fi; rm -rf build routing/_compiled_locality.py

services/routing/routing/_margins.native: services/routing/routing/_margins.pyx $(STAMP)
	@echo "[make] compiling routing's classifier arithmetic with Cython (once per change) ..."
	@mkdir -p .local
	@cd services/routing && rm -f routing/_margins*.so && \
	  if CFLAGS="-O3 -march=native" $(CURDIR)/$(VENV)/bin/cythonize -i -3 routing/_margins.pyx \
	       > $(CURDIR)/.local/cython.log 2>&1; then \
	    $(NATIVE_STAMP) _margins.pyx > routing/_margins.native; \
	  else \
	    rm -f routing/_margins*.so; echo numpy > routing/_margins.native; \
	    echo "[make] Cython failed (see .local/cython.log): the classifier computes with numpy"; \
	  fi; rm -rf build routing/_margins.c

# Exactly the set in uv.lock (anything else in the environment is removed), the workspace's
# packages editable; a lock that no longer matches the pyproject files is refused.
$(STAMP): $(PYPROJECTS) uv.lock
	@echo "[make] installing the locked Python packages into $(VENV) (again when a pyproject or uv.lock changes) ..."
	@$(UV_BOOT)
	@$(UV) sync --locked || \
	  { echo "[make] uv.lock does not match the pyproject files: run make lock" >&2; exit 1; }
	@touch $(STAMP)

lock: ## after changing a dependency in a pyproject.toml: resolve uv.lock again (keeps other pins)
	@$(UV_BOOT)
	@$(UV) lock

token: install ## make token ROLE=integration SOURCE=egov-portal | ROLE=agency AGENCY=KRG-POLICE [TTL=8h]
	@$(PY) -m appeals_tools.tokens issue --role $(ROLE) $(if $(SOURCE),--source $(SOURCE)) $(if $(AGENCY),--agency $(AGENCY)) $(if $(TTL),--ttl $(TTL))

demo: install ## post realistic demo appeals to the running intake (COUNT=0: until stopped)
	@$(PY) -m appeals_tools.demo --rate $(or $(RATE),5) --count $(or $(COUNT),0)

bench: bench-outbox bench-intake bench-routing bench-deadlines bench-dashboard bench-pipeline bench-scale \
       bench-risk

bench-outbox: install
	@$(STACK) up --infra
	@$(PY) bench/outbox_relay.py

bench-intake: install
	@$(STACK) up --infra
	@$(PY) bench/intake_http.py

bench-routing: install
	@$(STACK) up --infra
	@$(PY) bench/routing_accuracy.py
	@$(PY) bench/routing_accuracy.py --dev bench/data/appeals-holdout.jsonl \
		--labels bench/data/appeals-holdout.labels.jsonl
	@$(PY) bench/routing_accuracy.py --dev bench/data/appeals-blind.jsonl \
		--labels bench/data/appeals-blind.labels.jsonl
	@$(PY) bench/routing_consumer.py

bench-deadlines: install
	@$(STACK) up --infra
	@$(PY) bench/deadlines_ticker.py

bench-dashboard: install
	@$(STACK) up --infra
	@$(PY) bench/dashboard_pages.py

bench-pipeline: install .local/loadgen ## latency per hop at 25/50/75 % of the maximum, on the make up stack
	@$(STACK) up
	@$(PY) bench/pipeline_latency.py

# The load generator of bench-pipeline: Go (standard library only), so it takes no Python time.
.local/loadgen: bench/pipeline/main.go bench/pipeline/go.mod
	@mkdir -p .local
	@cd bench/pipeline && go build -o $(CURDIR)/.local/loadgen .

bench-scale: install ## the deadlines reads at 10 million appeals (BENCH_SCALE_APPEALS), and the rebuild
	@$(STACK) up --infra
	@$(PY) bench/scale.py

bench-risk: install ## breach-risk model vs two baselines on the simulated history (BENCH_RISK_SEED)
	@$(PY) bench/breach_risk.py

docs: install ## regenerate docs/openapi/*.json and docs/asyncapi/*.json
	@$(PY) -m appeals_tools.docs

k8s: install ## regenerate deploy/k8s/base/generated/ (Kafka topics, users and ACLs, version) from the project's data
	@$(PY) -m appeals_tools.k8s generate

clean: down
	@$(PY) -m appeals_tools.chaos down
	rm -rf .local $(VENV)
