# segalert - alert daemon for Segment workspaces.
#
#   make              build ./segalert and ./segalert-sim
#   make test         install missing packages (make deps), build, run every
#                     test normally and under ASan+UBSan, print "N passed, N failed"
#   make demo         run the simulator and the daemon with the demo config
#   make bench        benchmarks, figures printed in a table
#   make fuzz         run each libFuzzer target briefly (clang)
#   make install      PREFIX=/usr/local DESTDIR= (SYSCONFDIR=/etc UNITDIR=...)
#
# Variables: DEVELOPER=1 (-Werror), SANITIZE=address,undefined (or thread),
# O=build dir, V=1 (print whole commands), CC, CPPFLAGS, CFLAGS, LDFLAGS.

PREFIX     ?= /usr/local
BINDIR_INST = $(PREFIX)/bin
DATADIR     = $(PREFIX)/share/segalert
MANDIR      = $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
PKG_CONFIG ?= pkg-config
CC         ?= cc

PKGS = libcurl libcjson libconfuse libesmtp-1.0 libmicrohttpd openssl zlib

# Build directory per variant (and per compiler other than the default),
# so switching SANITIZE or CC never mixes objects.
ifeq ($(SANITIZE),thread)
VARIANT = tsan
else ifdef SANITIZE
VARIANT = san
else
VARIANT = rel
endif
ifneq ($(filter-out cc gcc,$(notdir $(CC))),)
VARIANT := $(VARIANT)-$(notdir $(CC))
endif
O ?= build/$(VARIANT)

BASE_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
              -Wall -Wextra -Wshadow -Wno-unused-parameter -g -O2 \
              -Iinclude -MMD -MP
ifeq ($(DEVELOPER),1)
BASE_CFLAGS += -Werror
endif
ifdef SANITIZE
BASE_CFLAGS += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer -O1
BASE_LDFLAGS += -fsanitize=$(SANITIZE)
endif

PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
MHD_LIBS   := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null || echo -lcmocka)

ALL_CFLAGS  = $(BASE_CFLAGS) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(BASE_LDFLAGS) $(LDFLAGS)
LIBS        = $(PKG_LIBS) -lpthread -lm

# Layers, lowest first: a file may include headers of its own layer and of
# the layers before it (tests/layering.sh checks).  Every src/LAYER/*.c but
# cmd/main.c forms libsegalert.a; src/sim/*.c is the simulator.
LAYERS    = core config engine api notify export server daemon cmd
CORE_SRC  = $(filter-out src/cmd/main.c,$(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c)))
CORE_OBJ  = $(CORE_SRC:src/%.c=$(O)/obj/%.o)
SIM_SRC   = $(wildcard src/sim/*.c)
SIM_OBJ   = $(SIM_SRC:src/sim/%.c=$(O)/sim/%.o)
UNIT_SRC  = $(wildcard tests/unit/test_*.c)
UNIT_BIN  = $(UNIT_SRC:tests/unit/%.c=$(O)/tests/%)
BENCH_SRC = $(wildcard tests/bench/bench_*.c)
BENCH_BIN = $(BENCH_SRC:tests/bench/%.c=$(O)/bench/%)
# Peers written in C (tests/peers/*.c): fast HTTP sinks for the benchmarks.
PEER_SRC  = $(wildcard tests/peers/*.c)
PEER_BIN  = $(PEER_SRC:tests/peers/%.c=$(O)/bench/%)

# The default build puts ./segalert and ./segalert-sim at the top; every
# other variant keeps its binaries in $(O)/bin.
ifeq ($(O),build/rel)
BIN_DIR = .
else
BIN_DIR = $(O)/bin
endif
SEGALERT = $(BIN_DIR)/segalert
SIM      = $(BIN_DIR)/segalert-sim

ifeq ($(V),1)
Q =
quiet = @true
else
Q = @
quiet = @printf '  %-6s %s\n'
endif

# Keep objects of test and bench binaries (make would delete them as
# intermediates and rebuild them every time).
.SECONDARY:

.PHONY: all test test-tsan test-deps unit-tests peers print-dirs demo bench fuzz install uninstall clean deps check-deps
.DEFAULT_GOAL := all

all: $(SEGALERT) $(SIM)

$(O)/libsegalert.a: $(CORE_OBJ)
	@mkdir -p $(@D)
	$(quiet) AR $@
	@# from scratch: a stale member of a deleted source would stay linked
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(SEGALERT): $(O)/obj/cmd/main.o $(O)/libsegalert.a
	@mkdir -p $(@D)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(SIM): $(SIM_OBJ) $(O)/libsegalert.a
	@mkdir -p $(@D)
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(O)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/sim/%.o: src/sim/%.c
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -Isrc/sim -c -o $@ $<

$(O)/tests/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -DFIXTURES_DIR='"$(CURDIR)/tests/fixtures"' -c -o $@ $<

$(O)/tests/%: $(O)/tests/%.o $(O)/libsegalert.a
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS) $(CMOCKA_LIBS)

$(O)/bench/%.o: tests/bench/%.c
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/bench/%: $(O)/bench/%.o $(O)/libsegalert.a
	$(quiet) LINK $@
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# A peer stands alone: no libsegalert, only libmicrohttpd and pthreads.
$(PEER_BIN): $(O)/bench/%: tests/peers/%.c
	@mkdir -p $(@D)
	$(quiet) CC $<
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(MHD_LIBS) -lpthread

unit-tests: $(UNIT_BIN)

# The C peers alone (`make bench` builds them; `make all` does not).
peers: $(PEER_BIN)

# Where this variant's objects and binaries are (tests/run-all.sh asks).
print-dirs:
	@echo "$(O) $(BIN_DIR)"

# ---- set-up ---------------------------------------------------------------

# What the product needs to build and run (make deps; make demo), and what
# only the tests need on top (make test-deps; make test).
DEB_PKGS = pkg-config gcc make libcurl4-openssl-dev libcjson-dev libconfuse-dev \
           libesmtp-dev libmicrohttpd-dev libssl-dev zlib1g-dev curl
DEB_TEST_PKGS = libcmocka-dev python3 python3-aiosmtpd openssl procps psmisc bc \
           clang prometheus-alertmanager prometheus chromium \
           victoria-metrics influxdb

deps:
	@sh tests/deps.sh $(DEB_PKGS)

test-deps:
	@sh tests/deps.sh $(DEB_PKGS) $(DEB_TEST_PKGS)

# ---- tests ----------------------------------------------------------------

# The whole suite: normal build, then the same under ASan+UBSan.
test: test-deps
	@sh tests/run-all.sh

# ThreadSanitizer over the tests that run threads (HTTP server, SMTP
# worker, logging); not part of `make test` to keep it short.
test-tsan: test-deps
	@VARIANTS=tsan sh tests/run-all.sh

demo: deps all
	@sh examples/demo.sh

bench: test-deps
	@$(MAKE) --no-print-directory all $(BENCH_BIN) $(PEER_BIN)
	@sh tests/bench/run.sh $(O)

fuzz: test-deps
	@sh tests/fuzz/run.sh

# ---- install ----------------------------------------------------------------

# Paths of the install, written into the unit, the man page and the
# configuration put in SYSCONFDIR (which is never overwritten).
SUBST = sed -e 's|@BINDIR@|$(BINDIR_INST)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
            -e 's|@DATADIR@|$(DATADIR)|g' \
            -e 's|/usr/local/share/segalert|$(DATADIR)|g' \
            -e 's|/etc/segalert/|$(SYSCONFDIR)/segalert/|g'

install: all
	install -d $(DESTDIR)$(BINDIR_INST) $(DESTDIR)$(DATADIR)/rules \
	        $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(DATADIR)/examples \
	        $(DESTDIR)$(DATADIR)/examples/incidents $(DESTDIR)$(UNITDIR) \
	        $(DESTDIR)$(SYSCONFDIR)/segalert
	install -m 0755 segalert segalert-sim $(DESTDIR)$(BINDIR_INST)/
	install -m 0644 rules/*.conf $(DESTDIR)$(DATADIR)/rules/
	install -m 0644 examples/*.conf $(DESTDIR)$(DATADIR)/examples/
	install -m 0644 examples/incidents/*.conf $(DESTDIR)$(DATADIR)/examples/incidents/
	$(SUBST) docs/segalert.1 >$(DESTDIR)$(MANDIR)/man1/segalert.1
	$(SUBST) examples/segalert.service.in >$(DESTDIR)$(UNITDIR)/segalert.service
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/segalert.1 $(DESTDIR)$(UNITDIR)/segalert.service
	@# the configuration: the example, reading the installed rule packs
	if [ ! -e $(DESTDIR)$(SYSCONFDIR)/segalert/segalert.conf ]; then \
	    sed -e 's|^rule_files = {"../rules/\*.conf"}|rule_files = {"$(DATADIR)/rules/*.conf"}|' \
	        examples/segalert.conf >$(DESTDIR)$(SYSCONFDIR)/segalert/segalert.conf && \
	    chmod 0640 $(DESTDIR)$(SYSCONFDIR)/segalert/segalert.conf; \
	else echo "kept $(DESTDIR)$(SYSCONFDIR)/segalert/segalert.conf"; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR_INST)/segalert $(DESTDIR)$(BINDIR_INST)/segalert-sim \
	      $(DESTDIR)$(MANDIR)/man1/segalert.1 $(DESTDIR)$(UNITDIR)/segalert.service
	rm -rf $(DESTDIR)$(DATADIR)
	@echo "kept $(DESTDIR)$(SYSCONFDIR)/segalert (configuration) and the state directory"

clean:
	rm -rf build segalert segalert-sim

-include $(wildcard $(O)/*/*.d $(O)/obj/*/*.d)
