# Two commands for a fresh machine (each sets everything up first):
#   make demo   the main job on the embedded default (generated data)
#   make test   the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
DEMO_WORK_DIR ?= work_dirs/demo

.PHONY: setup test demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: setup.py tools/install.sh
	VENV=$(VENV) bash tools/install.sh
	touch $@

test: setup
	$(PY) -m pytest -q tests

demo: setup
	$(PY) tools/misc/make_synthetic_shapes.py data/synthetic_shapes
	$(PY) tools/train.py \
	    configs/dpc/dpc_mobilenet-v2-d16_1xb8-300_synthetic-shapes-128x128.py \
	    --work-dir $(DEMO_WORK_DIR)
	@echo "demo done: logs, checkpoints and metrics under $(DEMO_WORK_DIR)"

clean:
	rm -rf $(VENV) work_dirs data
