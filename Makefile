# gr-amc — the two commands a user needs:
#   make demo   the main job on the shipped default model (sets everything up first)
#   make test   the whole test suite: C++ QA, Python QA and pytest tests/ (sets everything up first)
# Both are safe to run twice: each step below only redoes work when its inputs changed.
# Other targets: make setup (apt + venv + build), make build, make install (to /usr/local), make uninstall,
# make bench.

SHELL        := /bin/bash
.SHELLFLAGS  := -eu -o pipefail -c
ROOT         := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
VENV         := $(ROOT)/.venv
PY           := $(VENV)/bin/python
BUILD        := $(ROOT)/build
STAMPS       := $(ROOT)/.stamps
PREFIX       ?= /usr/local
JOBS         ?= 2
# Run a Python module of the package from the build tree
RUNPY        := PYTHONPATH=$(BUILD)/test_modules GR_AMC_DATA_DIR=$(ROOT)/gr-amc $(PY)

APT_PACKAGES := gnuradio gnuradio-dev cmake g++ make pkg-config libboost-test-dev pybind11-dev \
                python3-pybind11 python3-venv python3-yaml python3-scipy python3-matplotlib \
                python3-pytest libvolk2-dev xvfb xauth gir1.2-gtk-3.0 python3-gi-cairo python3-pyqt5

.PHONY: all setup apt venv build install uninstall demo test bench clean
all: build

setup: build

# --- apt packages (needs root or sudo) -------------------------------------------------------------
$(STAMPS)/apt: Makefile
	@mkdir -p $(STAMPS)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "==> installing Debian packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "error: need root or sudo to install: $$missing" >&2; exit 1; fi; \
	  $$SUDO apt-get update -q || { echo "error: apt-get update failed (network?)" >&2; exit 1; }; \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing \
	    || { echo "error: apt-get install failed for: $$missing" >&2; exit 1; }; \
	fi
	@/usr/bin/python3 -c 'from gnuradio import gr' \
	  || { echo "error: /usr/bin/python3 cannot import gnuradio after installing GNU Radio" >&2; exit 1; }
	@touch $@
apt: $(STAMPS)/apt

# --- Python venv on Debian's python (sees GNU Radio), numpy kept < 2 ----------------------------------
$(STAMPS)/venv: $(STAMPS)/apt requirements.txt constraints.txt
	@echo "==> Python venv in .venv (Debian's /usr/bin/python3, --system-site-packages)"
	@[ -x $(PY) ] || /usr/bin/python3 -m venv --system-site-packages $(VENV) \
	  || { echo "error: could not create the venv (is python3-venv installed?)" >&2; exit 1; }
	@$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt -c constraints.txt \
	  || { echo "error: pip install failed (see above); the registry must be reachable" >&2; exit 1; }
	@$(PY) -c 'import numpy; from gnuradio import gr; assert numpy.__version__ < "2", numpy.__version__' \
	  || { echo "error: the venv cannot import GNU Radio with numpy < 2" >&2; exit 1; }
	@touch $@
venv: $(STAMPS)/venv

# --- CMake configure + build (incremental) --------------------------------------------------------
$(BUILD)/CMakeCache.txt: $(STAMPS)/venv CMakeLists.txt
	@echo "==> configuring (CMake)"
	@cmake -S $(ROOT) -B $(BUILD) -DPYTHON_EXECUTABLE=$(PY) -DCMAKE_INSTALL_PREFIX=$(PREFIX) \
	  -DENABLE_DOXYGEN=OFF > $(STAMPS)/configure.log 2>&1 \
	  || { cat $(STAMPS)/configure.log; echo "error: CMake configure failed (log above)" >&2; exit 1; }

build: $(BUILD)/CMakeCache.txt
	@echo "==> building"
	@cmake --build $(BUILD) -j$(JOBS) > $(BUILD)/build.log 2>&1 \
	  || { grep -v -E '^\[ *[0-9]+%\]' $(BUILD)/build.log | tail -60; echo "error: build failed (log: build/build.log)" >&2; exit 1; }

# --- install to $(PREFIX) (default /usr/local); GRC finds the blocks there -------------------------
# Also puts the Python packages Debian's python3 lacks (onnxruntime, onnx, h5py, sigmf and their
# dependencies; never numpy or torch) into $(PREFIX)/lib/gr-amc/python-deps, which the installed
# module adds to sys.path: GRC and the installed `gr-amc` then work on /usr/bin/python3.
install: build
	cmake --install $(BUILD)
	ldconfig

# --- remove what `make install` installed (files of the install manifest and python-deps/) ----------
uninstall:
	@[ -f $(BUILD)/install_manifest.txt ] || { echo "error: nothing installed from this build ($(BUILD)/install_manifest.txt missing)" >&2; exit 1; }
	cmake --build $(BUILD) --target uninstall
	ldconfig

# --- the two commands --------------------------------------------------------------------------------
demo: build
	@$(RUNPY) -m gnuradio.amc.cli demo --output $(ROOT)/out/demo

test: build
	@echo "==> C++ and Python QA (ctest)"
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@echo "==> pytest tests/"
	@$(RUNPY) -m pytest -q -p no:cacheprovider $(ROOT)/tests

bench: build
	@$(RUNPY) $(ROOT)/bench/run_all.py

clean:
	rm -rf $(BUILD) $(STAMPS)
