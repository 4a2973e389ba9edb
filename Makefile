# nova-snapshot-hook: build, lint and try the Debian package. "make" alone lists the targets.
#
# To add a target, write "name: prerequisites ## one line of help" and add it to .PHONY:
# "make help" lists every target that has a "## " comment, in file order.
# Recipes use Debian's python3 ($(PY)), never the first python3 on PATH.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

PY := /usr/bin/python3
# PATH for the package build and lintian: Debian's tools only (no pyenv shims, no /usr/local).
CLEAN_PATH := /usr/sbin:/usr/bin:/sbin:/bin
BUILD := build
DEBROOT := tests/e2e/debroot
# The Debian release of "make root": bookworm (Debian 12) or trixie (Debian 13).
SUITE ?= bookworm
# Show the whole dpkg-buildpackage output with V=1 (it always goes to build/deb.log).
V ?= 0

PACKAGE := nova-snapshot-hook
VERSION := $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB := $(BUILD)/$(PACKAGE)_$(VERSION)_all.deb
# Source and binary: lintian then checks debian/ as a source package too. The .deb is the
# same as with "dpkg-buildpackage -us -uc -b".
BUILDPACKAGE_FLAGS := -us -uc
ROOT := $(BUILD)/roots/$(SUITE)
# lintian needs no privileges (and says so when run as root).
UNPRIVILEGED := $(if $(filter 0,$(shell id -u)),setpriv --reuid=nobody --regid=nogroup --clear-groups)

# What goes into the package: the tracked files and the new ones .gitignore does not ignore.
list_sources = git ls-files -z --cached --others --exclude-standard
SOURCES := $(wildcard $(shell git ls-files --cached --others --exclude-standard 2>/dev/null))

.PHONY: help deps deb lint pyflakes root cloud-up cloud-down unit check soak demo bench clean \
	distclean

help: ## list the targets (the default)
	@echo "make TARGET, where TARGET is one of:"
	@awk -F ':.*## ' '/^[a-zA-Z0-9_.-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

deps: ## install the Debian packages that building and testing need (apt-get; quick when present)
	tests/install-deps
	minicloud/install-deps

deb: $(DEB) ## build build/nova-snapshot-hook_VERSION_all.deb (from a copy of the tree in build/src)

# dpkg-buildpackage runs in a copy of the tree, so debian/nova-snapshot-hook/, .pybuild/ and the
# rest never litter the checkout; it writes its results to the copy's parent, build/.
$(DEB): $(SOURCES)
	rm -rf $(BUILD)/src
	rm -f $(BUILD)/$(PACKAGE)_$(VERSION)[._]*
	mkdir -p $(BUILD)/src
	$(list_sources) | while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done \
		| tar --null -T - -cf - | tar -C $(BUILD)/src -xf -
	@echo "dpkg-buildpackage $(BUILDPACKAGE_FLAGS) in $(BUILD)/src (log: $(BUILD)/deb.log)"
	cd $(BUILD)/src && env -i PATH=$(CLEAN_PATH) HOME="$$HOME" LC_ALL=C.UTF-8 \
		$(if $(DEB_BUILD_OPTIONS),DEB_BUILD_OPTIONS="$(DEB_BUILD_OPTIONS)") \
		$(if $(DEB_BUILD_PROFILES),DEB_BUILD_PROFILES="$(DEB_BUILD_PROFILES)") \
		dpkg-buildpackage $(BUILDPACKAGE_FLAGS) >../deb.log 2>&1 \
		|| { tail -n 40 ../deb.log; echo "make: dpkg-buildpackage failed, see $(BUILD)/deb.log"; exit 1; }
	@if [ "$(V)" != 0 ]; then cat $(BUILD)/deb.log; fi
	@ls -l $@

lint: $(DEB) ## lintian --pedantic on the built .deb and .changes: fails on any error or warning
	$(UNPRIVILEGED) env -i PATH=$(CLEAN_PATH) HOME=/nonexistent TMPDIR=/tmp LC_ALL=C.UTF-8 \
		lintian --info --display-info --pedantic --fail-on error,warning \
		$(DEB) $(BUILD)/$(PACKAGE)_$(VERSION)_*.changes
	@echo "lintian: no error, no warning (overrides, each explained: debian/*lintian-overrides)"

root: $(DEB) ## a fresh Debian root with the .deb installed in build/roots/SUITE (SUITE=bookworm|trixie)
	$(DEBROOT) destroy $(ROOT)
	$(DEBROOT) create $(SUITE) $(ROOT)
	$(DEBROOT) install $(ROOT) $(DEB)
	$(DEBROOT) run $(ROOT) /usr/sbin/nova-snapshot-hook --version
	@echo "Root ready: $(DEBROOT) run $(ROOT) bash"

cloud-up: ## start the local OpenStack on 127.0.0.1 (idempotent; state in .state/minicloud)
	minicloud/up

cloud-down: ## stop the local OpenStack (keeps its state; minicloud/down --purge drops it)
	minicloud/down

unit: ## the unit tests only (no cloud, no root; seconds)
	$(PY) -m pytest -q tests/unit

# Debian's pyflakes (python3-pyflakes) reads every Python file under these (also the scripts with a
# python3 #! line); it exits 1 on any finding, and so fails the build. It knows no "noqa": a
# fixture imported from another module is listed in that module's __all__ (pyflakes: used).
PYFLAKES_PATHS := nova_snapshot_hook tests bench $(wildcard minicloud/*.py)
pyflakes: ## pyflakes over the package, tests, bench and minicloud: fails on any finding
	$(PY) -m pyflakes $(PYFLAKES_PATHS)
	@echo "pyflakes: no finding"

# Every test in one pytest run, so its closing line counts them all. The cloud tests fail
# instead of skipping when the cloud is missing (NSH_REQUIRE_CLOUD=1), and so do the real-guest
# tests when the libvirt host with its Debian guest is (NSH_REQUIRE_GUEST=1). Two workers side
# by side (pytest-xdist), each on an image-backed server of its own; the modules that share the
# volume-backed server or the guest run on one of them (tests/conftest.py). TEST_WORKERS=0
# runs everything in one process.
TEST_WORKERS ?= 2
check: deps pyflakes lint ## every test: pyflakes, unit, lintian, the local cloud with a real QEMU guest, the .deb in Debian 12 and 13 roots
	MINICLOUD_COMPUTE=libvirt minicloud/up
	NSH_REQUIRE_CLOUD=1 NSH_REQUIRE_GUEST=1 NSH_DEB=$(abspath $(DEB)) $(PY) -m pytest -q \
		-p no:cacheprovider $(if $(filter-out 0,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadgroup) \
		tests/unit tests/integration tests/e2e

# Two simulated years of the real program against the local cloud, with faults, for an
# image-backed and a volume-backed server side by side, checked every day against the soak's
# own model (tests/soak/soak.py; about 30 minutes; alone on the cloud: doc/development.md). make check runs one
# month of it (tests/integration/test_soak_month.py). SOAK_ARGS, e.g. "--seed 7 --days 90".
SOAK_ARGS ?=
soak: deps ## two simulated years of scheduled and apt runs with faults against the model (~30 min)
	minicloud/up
	$(PY) tests/soak/soak.py $(SOAK_ARGS)

demo: deps $(DEB) ## build the .deb, start the local cloud, snapshot from inside a Debian root, show the image
	tests/e2e/demo $(DEB)

# Every bench/*.py in turn (bench/support/ holds their helpers), each under 5 minutes but
# fleet_scaling.py (about 16: it boots and deletes 200 servers); the cloud
# ones need minicloud/up and work in a project of their own. apt_listchanges.py works in a Debian
# root of its own, build/roots/bench-bookworm (made once, reused; "make clean" removes it), and
# says "skipped: why" where it cannot make one.
bench: ## the benchmarks under bench/: ratios measured side by side in one run
	for bench in bench/*.py; do \
		echo; started=$$SECONDS; $(PY) "$$bench"; echo "($$bench: $$((SECONDS - started)) s)"; \
	done

clean: ## remove the build outputs and roots (keeps the cached base roots in build/cache)
	if [ -d $(BUILD) ]; then \
		for dir in $(BUILD)/roots/* $(BUILD)/cache/tmp-*; do \
			if [ -e "$$dir" ]; then $(DEBROOT) destroy "$$dir"; fi; \
		done; \
		find $(BUILD) -mindepth 1 -maxdepth 1 ! -name cache -exec rm -rf --one-file-system {} +; \
	fi
	# Left by a dpkg-buildpackage run in the checkout itself.
	rm -rf .pybuild debian/.debhelper debian/$(PACKAGE) debian/files debian/*.substvars \
		debian/*.debhelper.log debian/debhelper-build-stamp *.egg-info

distclean: clean ## clean, and also drop the cached base roots (the next root takes a minute)
	rm -rf --one-file-system $(BUILD)
