# nudge - plain GNU make.  `make` builds everything into build/;
# `make SANITIZE=address,undefined` builds a sanitized tree in build/san/.
# See README.md for the targets.

PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share/nudge
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)

VERSION := 0.1.0
CC ?= cc
PKG_CONFIG ?= pkg-config
SANITIZE ?=

ifeq ($(SANITIZE),)
BUILD ?= build
OPT ?= -O2
else
BUILD ?= build/san
OPT ?= -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

PKGS := msgpack ncursesw sqlite3 jansson inih libxxhash libmicrohttpd \
	libmaxminddb
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Werror
CFLAGS ?= -g $(OPT)
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) $(CFLAGS) \
	-DNUDGE_VERSION='"$(VERSION)"' -Icommon $(EXTRA_INC) $(PKG_CFLAGS) -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -lnng -lmbedcrypto -lpthread -lm
ALL_LDFLAGS = $(LDFLAGS) $(if $(SANITIZE),-fsanitize=$(SANITIZE))

COMMON_SRC := $(wildcard common/*.c)
AGENT_SRC := $(wildcard agent/*.c)
CONSOLE_SRC := $(wildcard console/*.c)
SIM_SRC := $(wildcard tests/sim/*.c)
TEST_SRC := $(wildcard tests/test_*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
AGENT_OBJ := $(call obj,$(filter-out agent/main.c,$(AGENT_SRC)))
# The browser tag is built into nudged: agent/web/embed.sh makes C arrays
# (plain and gzip -9) of agent/web/nudge.js.
WEB_TAG_C := $(BUILD)/gen/web_tag.c
WEB_TAG_O := $(BUILD)/gen/web_tag.o
AGENT_OBJ += $(WEB_TAG_O)
CONSOLE_OBJ := $(call obj,$(filter-out console/main.c,$(CONSOLE_SRC)))
LIB := $(BUILD)/libnudge.a

BINS := $(BUILD)/nudged $(BUILD)/nudge $(BUILD)/nudge-sim
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))


.PHONY: benches all deps test-deps demo test check unit bench fuzz install uninstall clean tests
all: $(BINS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(WEB_TAG_C): agent/web/nudge.js agent/web/embed.sh
	@mkdir -p $(dir $@)
	sh agent/web/embed.sh agent/web/nudge.js >$@.tmp && mv $@.tmp $@

$(WEB_TAG_O): $(WEB_TAG_C)
	$(CC) $(ALL_CFLAGS) -Iagent -c -o $@ $<

$(LIB): $(COMMON_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/nudged: $(BUILD)/agent/main.o $(AGENT_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/nudge: $(BUILD)/console/main.o $(CONSOLE_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/nudge-sim: $(call obj,$(SIM_SRC)) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# A unit test links the module it tests from any tree plus libnudge.
$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(AGENT_OBJ) $(CONSOLE_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# Test tools (tests/tools/*.c): small programs the integration tests drive.
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(wildcard tests/tools/*.c))
tests: $(TESTS) $(TOOLS)
$(BUILD)/tools/%: $(BUILD)/tests/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

# Keep objects that pattern rules build on the way.
.SECONDARY:

# test_sim links the simulator's modules (all but its main) too.
SIM_OBJ := $(call obj,$(filter-out tests/sim/main.c,$(SIM_SRC)))
$(BUILD)/tests/test_sim: $(BUILD)/tests/test_sim.o $(SIM_OBJ) $(AGENT_OBJ) $(CONSOLE_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# Benchmark programs link the agent's modules like unit tests do.
BENCH_SRC := $(wildcard bench/*.c)
BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(AGENT_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/bench/%.o: EXTRA_INC = -Iagent -Iconsole
benches: $(BENCHES)

# Tests reach into the agent's, console's and simulator's own headers.
$(BUILD)/tests/%.o: EXTRA_INC = -Iagent -Iconsole -Itests/sim

# ---- dependencies (Debian) ------------------------------------------------
BUILD_DEPS := gcc make pkg-config libnng-dev libmbedtls-dev libmsgpack-dev \
	libncurses-dev libsqlite3-dev libjansson-dev libinih-dev libxxhash-dev \
	libmicrohttpd-dev libmaxminddb-dev
TEST_DEPS := $(BUILD_DEPS) libcmocka-dev tmux jq sqlite3 clang \
	libclang-rt-14-dev procps \
	chromium nodejs curl wrk nginx-light libmaxmind-db-writer-perl

define apt_install
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

deps:
	$(call apt_install,$(BUILD_DEPS))

test-deps:
	$(call apt_install,$(TEST_DEPS))
	@# npm: Debian's package, unless a Node.js install already brings one
	@command -v npm >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }

# ---- the two commands ----------------------------------------------------
demo: deps
	$(MAKE) all
	tests/demo.sh $(BUILD)

test: test-deps
	$(MAKE) all tests
	$(MAKE) SANITIZE=address,undefined all tests
	tests/run.sh

check: test

bench: deps
	$(MAKE) BUILD=build/bench OPT='-O2 -DNDEBUG' all benches
	bench/run.sh build/bench

fuzz: test-deps
	tests/fuzz/run.sh $${FUZZ_SECONDS:-60}

# ---- install ---------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/nudge \
		$(DESTDIR)$(DATADIR)
	install -m 755 $(BUILD)/nudged $(DESTDIR)$(SBINDIR)/nudged
	install -m 755 $(BUILD)/nudge $(DESTDIR)$(BINDIR)/nudge
	install -m 755 $(BUILD)/nudge-sim $(DESTDIR)$(BINDIR)/nudge-sim
	for m in packaging/*.1; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(MANDIR)/man1/ || true; done
	for m in packaging/*.5; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(MANDIR)/man5/ || true; done
	for m in packaging/*.8; do [ -f "$$m" ] && install -m 644 $$m $(DESTDIR)$(MANDIR)/man8/ || true; done
	[ -f $(DESTDIR)$(SYSCONFDIR)/nudge/nudged.conf ] || install -m 644 packaging/nudged.conf $(DESTDIR)$(SYSCONFDIR)/nudge/nudged.conf

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/nudged $(DESTDIR)$(BINDIR)/nudge $(DESTDIR)$(BINDIR)/nudge-sim
	rm -f $(DESTDIR)$(MANDIR)/man1/nudge.1 $(DESTDIR)$(MANDIR)/man8/nudged.8 $(DESTDIR)$(MANDIR)/man5/nudge-rules.5

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
