# The two commands a new user needs: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app referral
STAMP := $(VENV)/.installed

.PHONY: run test lint format translations compile-translations bench mutation clean

$(STAMP): pyproject.toml
	test -d $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

compile-translations: $(STAMP)
	$(VENV)/bin/pybabel compile --statistics -d translations 2>&1 | grep -v '^compiling' || true

# DEVELOPMENT_KEYS=1: the first command makes the keys of personal data into instance/ (mode 600)
# when the environment gives none; the later ones read them there.
run: $(STAMP) compile-translations
	DEVELOPMENT_KEYS=1 $(FLASK) init-db
	$(FLASK) seed-demo
	@echo "Referral is running at http://127.0.0.1:5000  (stop with Ctrl+C)"
	$(FLASK) run --host 127.0.0.1 --port 5000

test: $(STAMP) compile-translations
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit -r referral -q
	$(VENV)/bin/pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Extract every marked string, merge into the catalogues, compile.
translations: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output --width 100 --project Referral .
	$(VENV)/bin/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete --width 100
	$(PY) scripts/fill_english.py
	$(VENV)/bin/pybabel compile -d translations

bench: $(STAMP) compile-translations
	$(PY) bench/run.py

# Mutation testing of the domain core (docs/mutation.md): slow, so not part of `make test`.
# Starts afresh each time; MUTATION_JOBS mutants are tested at once (1 on a busy machine).
MUTATION_JOBS ?= 2
mutation: $(STAMP) compile-translations
	rm -rf mutants
	mkdir -p mutants/referral
	ln -s ../templates mutants/referral/templates
	ln -s ../translations mutants/referral/translations
	$(VENV)/bin/mutmut run --max-children $(MUTATION_JOBS) > mutants/run.log 2>&1 || (tail -n 40 mutants/run.log; false)
	$(PY) scripts/mutation_score.py

clean:
	rm -rf $(VENV) instance/referral.db mutants
