# simul - the front door. The real build is Meson + Ninja; this file only
# names the common jobs:
#   make          build libsimul (static + shared) and the examples into build/
#   make test     the whole suite on a normal and an ASan+UBSan build, the
#                 multi-thread programs under TSan (and the
#                 examples under valgrind); last line: "N passed, M failed"
#   make run      the main job: simul-crawl over the local Python docs (./crawl)
#   make bench    benchmarks beside their peers; results in bench/results/
#   make install  PREFIX=/usr/local (DESTDIR honoured)
#   make deps     install the Debian packages building and testing need
#   make fuzz     the libFuzzer targets, FUZZ_SECONDS each (default 300)
#
# Packages (scripts/deps.sh): run, test and bench install what they miss and
# say what; a plain `make` (and install) only checks, and if something is
# missing names it and `make deps`, and stops.

PREFIX ?= /usr/local
MESON_OPTS ?=

.PHONY: all deps test run bench install clean checkdeps fuzz

# What scripts/deps.sh does before anything is built: --check for `make`,
# install for the jobs that run things (prerequisites inherit this).
DEPS = --check build
run: DEPS = run
test: DEPS = test
bench: DEPS = bench
fuzz: DEPS = test

all: build/build.ninja
	@ninja -C build

deps:
	@scripts/deps.sh test

checkdeps:
	@scripts/deps.sh $(DEPS)

# Order-only: the packages are there before meson runs, even with make -j.
build/build.ninja: | checkdeps
	meson setup build --prefix=$(PREFIX) $(MESON_OPTS) >/dev/null

build-asan/build.ninja: | checkdeps
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-fno-sanitize-recover=all -Dbuildtype=debug >/dev/null

build-vg/build.ninja: | checkdeps
	meson setup build-vg -Dvalgrind=true -Dbuildtype=debug >/dev/null

# ThreadSanitizer: only the programs that run loops on several threads
# (tests/run.sh); task switches are announced to it as fiber switches.
build-tsan/build.ninja: | checkdeps
	meson setup build-tsan -Db_sanitize=thread -Dbuildtype=debug >/dev/null

test: build/build.ninja build-asan/build.ninja build-vg/build.ninja build-tsan/build.ninja
	@ninja -C build >/dev/null
	@ninja -C build-asan >/dev/null
	@ninja -C build-vg >/dev/null
	@ninja -C build-tsan >/dev/null
	@tests/run.sh build build-asan

run: all
	@scripts/run.sh build

bench: all
	@bench/run.sh

install: all
	meson configure build --prefix=$(PREFIX) >/dev/null
	@ninja -C build >/dev/null
	meson install -C build --no-rebuild

fuzz: checkdeps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build build-asan build-vg build-fuzz build-tsan
