# simul - the front door. The real build is Meson + Ninja; this file only
# names the common jobs:
#   make          build libsimul (static + shared) and the examples into build/
#   make test     the whole suite on a normal and an ASan+UBSan build (and the
#                 examples under valgrind); last line: "N passed, M failed"
#   make run      the main job (for now: the tutorial examples)
#   make bench    benchmarks beside their peers; results in bench/results/
#   make install  PREFIX=/usr/local (DESTDIR honoured)

PREFIX ?= /usr/local
MESON_OPTS ?=

.PHONY: all deps test run bench install clean

all: deps build/build.ninja
	@ninja -C build

deps:
	@scripts/deps.sh

build/build.ninja:
	meson setup build --prefix=$(PREFIX) $(MESON_OPTS) >/dev/null

build-asan/build.ninja:
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-fno-sanitize-recover=all -Dbuildtype=debug >/dev/null

build-vg/build.ninja:
	meson setup build-vg -Dvalgrind=true -Dbuildtype=debug >/dev/null

test: deps build/build.ninja build-asan/build.ninja build-vg/build.ninja
	@ninja -C build >/dev/null
	@ninja -C build-asan >/dev/null
	@ninja -C build-vg >/dev/null
	@tests/run.sh build build-asan

run: all
	@scripts/run.sh build

bench: all
	@scripts/deps.sh bench
	@bench/run.sh

install: all
	meson configure build --prefix=$(PREFIX) >/dev/null
	@ninja -C build >/dev/null
	meson install -C build --no-rebuild

clean:
	rm -rf build build-asan build-vg
