# hgdiag build. `make` builds build/hgdiag-agent and build/hgdiag; `make test` runs
# every Check suite and integration test; `make test SANITIZE=1` does the same under
# ASan+UBSan in build/san; `make test VALGRIND=1` runs the Check suites and the agents the
# integration tests start under valgrind memcheck. See README.md.

PREFIX   ?= /usr/local
SANITIZE ?= 0
ifeq ($(SANITIZE),1)
BUILD    ?= build/san
else
BUILD    ?= build
endif

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

PKGS      := libbpf libseccomp audit jansson libcurl libmicrohttpd yaml-0.1
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-format-truncation \
            -D_GNU_SOURCE -DHGDIAG_VERSION='"$(VERSION)"' \
            -Iinclude -Iagent -I$(BUILD) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -lpthread -lm
ifeq ($(SANITIZE),1)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

# Debian packages the build, tests and benchmarks need: one list, .ci/debian-packages,
# for `make deps` (installs the missing ones) and for .ci/run.
DEB_PKGS := $(shell sed 's/\#.*//' .ci/debian-packages)

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

MAIN_SRCS := agent/hgdiag-agent.c agent/hgdiag.c
LIB_SRCS  := $(filter-out $(MAIN_SRCS),$(wildcard agent/*.c))
LIB_OBJS  := $(patsubst agent/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libhgdiag.a

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPER_BINS := $(patsubst tests/helpers/%.c,$(BUILD)/helpers/%,$(HELPER_SRCS))
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

# libFuzzer targets (tests/fuzz/fuzz_<name>.c, seeds in tests/fuzz/corpus/<name>/): every
# file there is a target, built with clang, ASan and UBSan against the agent's sources
# instrumented the same way (the probe aside: it needs the BPF skeletons and parses nothing
# from outside). `make fuzz` runs each FUZZ_TIME seconds; the test suite briefly.
FUZZ_SRCS   := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS   := $(patsubst agent/%.c,$(BUILD)/fuzz/obj/%.o,$(filter-out agent/probe.c,$(LIB_SRCS)))
FUZZ_LIB    := $(BUILD)/fuzz/libhgdiag-fuzz.a
# (-Wno-string-compare: advice_seccomp.c compares with a sentinel pointer on purpose.)
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers -Wno-string-compare \
               -D_GNU_SOURCE -DHGDIAG_VERSION='"$(VERSION)"' -Iinclude -Iagent $(PKG_CFLAGS) \
               -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_TIME   ?= 60

.PHONY: all deps run test unit integration test-kernels test-kernels-smoke bench install clean \
        image test-image seccomp-profile fuzz fuzz-targets
all: $(BUILD)/hgdiag-agent $(BUILD)/hgdiag

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

$(BUILD)/vmlinux.h:
	@mkdir -p $(@D)
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h $(wildcard include/*.h bpf/*.h)
	@mkdir -p $(@D)
	$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
	  -I$(BUILD) -Iinclude -I/usr/include/$(MULTIARCH) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(BPFTOOL) gen skeleton $< > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: agent/%.c $(wildcard include/*.h agent/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@

# Only the probe includes the generated skeleton.
$(BUILD)/obj/probe.o: $(SKELS)

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hgdiag-agent: $(BUILD)/obj/hgdiag-agent.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/hgdiag: $(BUILD)/obj/hgdiag.o $(LIB)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(wildcard tests/unit/*.h)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(CHECK_LIBS) $(LDLIBS) -o $@

# Test helpers provoke denials; static so they also run inside minimal containers.
$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) -O1 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -static $< -o $@ \
	  $(shell pkg-config --libs --static libseccomp)

# Test tools use the project library (e.g. seccomp-oci builds a container's OCI filter).
$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/fuzz/obj/%.o: agent/%.c $(wildcard include/*.h agent/*.h)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined $< $(FUZZ_LIB) $(PKG_LIBS) \
	  -lpthread -lm -o $@

fuzz-targets: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-targets
	@BUILD=$(BUILD) FUZZ_TIME=$(FUZZ_TIME) tests/integration/fuzz.sh

run: deps all
	$(BUILD)/hgdiag-agent

# VALGRIND=1: every Check suite and every agent an integration test starts run under
# memcheck; an error or a definite leak fails the suite or the test (tests/run-tests.sh
# names the integration tests it skips and why).
VALGRIND ?= 0
ifeq ($(VALGRIND),1)
export HG_VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite \
	--errors-for-leak-kinds=definite --track-fds=no --trace-children=no \
	--suppressions=$(CURDIR)/tests/valgrind.supp
endif

test: deps all $(UNIT_BINS) $(HELPER_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/run-tests.sh $(UNIT_BINS)

unit: all $(UNIT_BINS)
	@BUILD=$(BUILD) TESTS_ONLY=unit tests/run-tests.sh $(UNIT_BINS)

integration: all $(HELPER_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) TESTS_ONLY=integration tests/run-tests.sh

# The kernel matrix (tests/kernels/): Debian's 5.10, 6.1 and 6.12 kernels, booted under
# qemu on this machine's own root filesystem, run the integration scripts against this
# build. The smoke set is the one for CI. KERNELS="6.1" narrows the matrix.
KERNELS ?= 5.10 6.1 6.12
test-kernels: deps all $(HELPER_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/kernels/run.sh --kernels "$(KERNELS)"

test-kernels-smoke: deps all $(HELPER_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) tests/kernels/run.sh --smoke --kernels "$(KERNELS)"

# The agent's container image (Dockerfile) without a Docker engine or registry: a bookworm
# builder base from mmdebstrap, buildah (vfs), an OCI archive in $(BUILD)/image/. Its test
# runs it with runc under the chart's security context (image_privileges.sh).
image: deps
	@BUILD=$(BUILD) image/build.sh

# The chart's Localhost seccomp profile for the agent: RuntimeDefault (data/) for a
# container without capabilities, plus bpf() (see README, "The agent's image").
AGENT_SECCOMP := helm/hgdiag/files/hgdiag-agent-seccomp.json
seccomp-profile: $(BUILD)/tools/seccomp-localhost
	$(BUILD)/tools/seccomp-localhost data/seccomp-default.json --allow bpf > $(AGENT_SECCOMP).tmp
	mv $(AGENT_SECCOMP).tmp $(AGENT_SECCOMP)

test-image: image all $(HELPER_BINS) $(TOOL_BINS)
	@BUILD=$(BUILD) TESTS_ONLY=image tests/run-tests.sh

bench: deps all $(HELPER_BINS)
	@BUILD=$(BUILD) bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/hgdiag-agent $(BUILD)/hgdiag $(DESTDIR)$(PREFIX)/bin/
	ln -sf hgdiag $(DESTDIR)$(PREFIX)/bin/kubectl-hgdiag
	install -d $(DESTDIR)$(PREFIX)/share/hgdiag
	install -m 0644 data/seccomp-default.json $(DESTDIR)$(PREFIX)/share/hgdiag/

clean:
	rm -rf build

.SECONDARY:
