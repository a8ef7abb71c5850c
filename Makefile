# patchwave.windows — developer entry points. `make demo` and `make test` work on a fresh machine:
# they create .venv from the pinned requirements, install the Debian packages they need (as root)
# and place the collection where Ansible and Python find it.

SHARED ?= $(realpath $(CURDIR)/../shared)
PYTHON ?= python3
VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
BUILD := $(CURDIR)/.build
COLLECTIONS := $(BUILD)/collections
LINK := $(COLLECTIONS)/ansible_collections/patchwave/windows
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/patchwave/windows
DEBS := cabextract gcab osslsigncode chromium nginx tinyproxy samba smbclient tzdata
PS_MODULES := $(wildcard plugins/modules/*.ps1)

export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export PYTHONPATH := $(COLLECTIONS)
export PATCHWAVE_SHARED := $(SHARED)
export ANSIBLE_NOCOLOR := 1

.PHONY: all venv debs postgres collection test unit integration sanity lint molecule demo bench clean

all: test

$(VENV)/.installed: requirements-dev.txt constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

venv: $(VENV)/.installed

debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run as root or install them)"; exit 1; fi; \
	fi

# The PostgreSQL backend's tests start a private server from the Debian binaries
# (/usr/lib/postgresql/*/bin); no system cluster is used.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian package: postgresql"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "missing PostgreSQL server binaries (Debian package postgresql): run as root or install it"; exit 1; fi; \
	fi

collection:
	@mkdir -p $(dir $(LINK))
	@[ -L $(LINK) ] || ln -s $(CURDIR) $(LINK)

# Every part runs, each timed; the summary at the end says which failed.
test: venv debs postgres collection
	$(PY) tests/run_parts.py unit integration sanity lint molecule

# The fast inner loop: pure tests and the SQLite side of the store tests (tests/conftest.py marks
# the rest `integration`).
unit: venv debs collection
	$(PY) -m pytest -q -ra -m "not integration" tests/unit

# The lab over WinRM, ansible-playbook runs, PostgreSQL, Chromium.
integration: venv debs postgres collection
	$(PY) -m pytest -q -ra -m integration tests/unit tests/integration

sanity: venv collection
	rm -rf $(BUILD)/sanity && mkdir -p $(SANITY_ROOT)
	git ls-files -co --exclude-standard | tar -cf - -T - | tar -xf - -C $(SANITY_ROOT)
	# ansible-test lists files with git; the copy gets a repository of its own (the checkout's
	# would hide it, being ignored there).
	cd $(SANITY_ROOT) && git init -q && git add -A
	$(PY) $(SHARED)/tools/seed-ansible-test-cache >/dev/null
	# validate-modules needs pwsh to read a PowerShell $$spec; none exists here, so .ps1 modules are
	# excluded and their $$spec is checked against the docs stub by tests/unit instead.
	cd $(SANITY_ROOT) && ansible-test sanity --python 3.11 --color no $(foreach m,$(PS_MODULES),--exclude $(m))

lint: venv collection
	ansible-lint --offline --profile production

# The role scan_compliance against a lab fleet: create, converge, idempotence, verify, destroy.
molecule: venv debs collection
	molecule test -s default
	# the windows scenario needs the user's VMs (docs/molecule.md): here only its syntax
	molecule syntax -s windows

demo: venv debs collection
	$(PY) tests/demo/run_demo.py

bench: venv debs postgres collection
	$(PY) benchmarks/run.py

clean:
	rm -rf $(BUILD) demo tests/output
