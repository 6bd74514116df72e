# Two commands for a fresh machine (each sets everything up first):
#   make demo   the main job on the embedded default (generated data)
#   make test   the test suite
#   make fidelity  the proxy fidelity study on the embedded default
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_WORK_DIR ?= work_dirs/demo

.PHONY: setup test demo fidelity clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py tools/install.sh
	VENV=$(VENV) bash tools/install.sh
	touch $@

test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) tools/demo.py --work-dir $(DEMO_WORK_DIR)

fidelity: setup
	$(PY) tools/demo.py --fidelity --work-dir $(DEMO_WORK_DIR)

clean:
	rm -rf $(VENV) work_dirs data
