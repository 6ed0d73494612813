# Training Neural Networks: every target sets itself up (the environment is created on first use).
#   make lab          open JupyterLab on the course, with the course kernel
#   make test         ruff + every check (library, notebooks, grading round trips)
#   make assignments  regenerate exercises/ from solutions/ (nbgrader generate_assignment)
#   make grade        grade autograde/submitted/<student>/<assignment>/ in parallel (resumable)
#   make student-bundle  write dist/training-nn-student.tar.gz (no solutions, no hidden tests;
#                        EDITION=self-study: dist/training-nn-self-study.tar.gz, with references)
#   make benchmarks   print speed ratios (see benchmarks/README.md)
#   make site         the executed lectures as a static website: site/_build/html/index.html

PYTHON ?= python3
VENV   ?= .venv
# The PyTorch build to install. The default is the CPU/CUDA wheel pip picks for this
# platform; for a specific CUDA build see README.md ("A CUDA build of PyTorch").
TORCH_SPEC  ?= torch==2.13.0
TORCH_INDEX ?=
KERNEL ?= training-nn
PYTEST_ARGS ?=

BIN := $(VENV)/bin
# nbgrader shells out to alembic: the environment's bin/ must come first on PATH.
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0
# No MPLBACKEND here: exported, it would reach the kernels `make lab` starts and turn off
# inline figures. Headless runs (tests) choose their backend themselves.

STAMP := $(VENV)/.installed

.PHONY: env system-test system-grade lab test lint pytest assignments grade benchmarks \
        student-bundle site clean help

help:
	@sed -n '1,/^$$/p' Makefile

env: $(STAMP)

# setuptools announces every editable install with a notice a newcomer cannot act on: hidden.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) \
	    --display-name "Python (training-nn)"
	@touch $(STAMP)
	@echo "environment ready: $(VENV) (kernel '$(KERNEL)')"

# System packages (bubblewrap for the grading sandbox; chromium for the browser test): installed
# when this user may (root or passwordless sudo), else the command is printed. Never for `lab`.
system-test:
	@bash tools/system-packages.sh test

system-grade:
	@bash tools/system-packages.sh grade

# The lab opens on the first lecture (topics are numbered: NN_topic.ipynb).
FIRST_LECTURE := $(firstword $(sort $(wildcard lectures/*.ipynb)))

# Extra arguments for JupyterLab, e.g. make lab LAB_ARGS="--no-browser --port 8890"
LAB_ARGS ?=
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

# The Launcher offers only the course kernel; build metadata stays out of the file browser;
# nbgrader's exchange folder exists before its menus ask for it.
LAB_FLAGS := --ServerApp.root_dir="$(CURDIR)" $(ROOT_FLAG) \
    --KernelSpecManager.allowed_kernelspecs=$(KERNEL) \
    --ContentsManager.hide_globs='["__pycache__", "*.pyc", "*.egg-info", ".ipynb_checkpoints", ".venv"]'

lab: env
	@mkdir -p autograde/exchange
	$(BIN)/jupyter lab $(LAB_FLAGS) $(LAB_ARGS) $(FIRST_LECTURE)

lint: env
	$(BIN)/ruff check .

# Two phases: everything else in parallel across the cores, then the tests that assert a
# wall-time budget (marker "timed"), alone, so no other test's load counts against them.
pytest: env system-test
	$(BIN)/python -m pytest -n auto --dist loadgroup -m "not timed" $(PYTEST_ARGS)
	$(BIN)/python -m pytest -m timed $(PYTEST_ARGS) || [ $$? = 5 ]  # 5: PYTEST_ARGS chose none

test: lint pytest

assignments: env
	$(BIN)/python -m autograde.assignments

# Grade in parallel (one process per student, sandboxed kernels); resumes after Ctrl-C.
# Options go in GRADE_ARGS, e.g. make grade GRADE_ARGS="--jobs 8 --timeout 60 --regrade"
# (python -m autograde.grade --help; autograde/README.md).
GRADE_ARGS ?=

grade: env system-grade
	$(BIN)/python -m autograde.grade $(GRADE_ARGS)

# The archive students get: lectures, exercises, library, environment files; no solutions,
# hidden tests or grading state. EDITION=classroom (default): dist/training-nn-student.tar.gz,
# whose library holds no reference for any graded function; EDITION=self-study:
# dist/training-nn-self-study.tar.gz, with the references.
EDITION ?= classroom

student-bundle: env
	$(BIN)/python -m autograde.bundle --edition $(EDITION)

benchmarks: env
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# The course as a website for self-study (Jupyter Book: site/_config.yml, site/_toc.yml): every
# lecture executed on the course kernel with inline figures (an MPLBACKEND exported in the shell
# is dropped), the course map and the exercises. Every build re-executes every lecture (--all).
SITE_OUT ?= site
SITE_CONFIG ?= site/_config.yml

site: env
	env -u MPLBACKEND $(BIN)/jupyter-book build . --config "$(SITE_CONFIG)" --toc site/_toc.yml \
	    --path-output "$(SITE_OUT)" --all -W --keep-going
	@echo "site: $(SITE_OUT)/_build/html/index.html"

clean:
	rm -rf autograde/gradebook.db autograde/autograded autograde/feedback autograde/grades.csv \
	    autograde/.work autograde/.release dist
