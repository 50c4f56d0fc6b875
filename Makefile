# Two commands do all the set-up: `make serve` and `make test`. Both bootstrap .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8080
FHIR_STORE_URL ?= sqlite:///./data/fhir.db
export PORT FHIR_STORE_URL

.PHONY: serve test lint typecheck format bench bench-consent bench-medcom fuzz clean

$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/fhir-server serve --port $(PORT)

# the suite runs on every core (pytest-xdist; docs/testing.md): TEST_WORKERS=0 runs it in one process
TEST_WORKERS ?= auto
test: $(BIN)/.installed lint typecheck
	$(BIN)/pytest -q -rs -n $(TEST_WORKERS) --dist worksteal

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# the production packages and settings are in pyproject.toml [tool.mypy]
typecheck: $(BIN)/.installed
	$(BIN)/mypy

format: $(BIN)/.installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(BIN)/.installed
	$(BIN)/python -m bench.run

# Consent-filtered searches and reads (issue 12); the issue's full scale is CITIZENS=100000 (1M
# resources): figures to docs/performance.md
CITIZENS ?= 10000
# inbound MedCom CareCommunications per second on one worker (docs/performance.md)
bench-medcom: $(BIN)/.installed
	$(BIN)/python -m bench.medcom_inbound

bench-consent: $(BIN)/.installed
	$(BIN)/python -m bench.consent --citizens $(CITIZENS)

# The long fuzzing run (the suite runs a seeded minute of it): figures to docs/reliability.md
FUZZ_SECONDS ?= 300
fuzz: $(BIN)/.installed
	$(BIN)/python -m bench.fuzz --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) data *.egg-info
