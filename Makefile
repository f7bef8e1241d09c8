# The README's two commands: `make run` and `make test`. Both install what is
# missing first (scripts/deps.sh), so a fresh Debian 12 machine needs nothing
# by hand.
.PHONY: all deps build run test test-fast fuzz clean

all: build

deps:
	scripts/deps.sh

build: deps
	scripts/build.sh build

run: deps
	scripts/run.sh

test:
	scripts/test.sh

# Normal build and its tests only (no ASan pass, no fuzzing): for quick loops.
test-fast: build
	ctest --test-dir build --output-on-failure -j2

fuzz: deps
	scripts/fuzz.sh

clean:
	rm -rf build build-asan build-fuzz

# build-package/: the .deb and the .rpm (scripts/package.sh, docs/operations.md).
.PHONY: package
package: deps
	scripts/package.sh
