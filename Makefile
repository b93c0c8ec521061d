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
# the sanitized tree is also the fault-injection tree (common/fault.h)
OPT ?= -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
	-DNUDGE_FAULT_INJECTION
endif

PKGS := msgpack ncursesw sqlite3 jansson inih libxxhash libmicrohttpd \
	libmaxminddb libsystemd
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes -Werror
CFLAGS ?= -g $(OPT)
ALL_CFLAGS = -std=c11 -D_DEFAULT_SOURCE -D_GNU_SOURCE $(WARN) $(CPPFLAGS) \
	$(CFLAGS) -DNUDGE_VERSION='"$(VERSION)"' -DNUDGE_SYSCONFDIR='"$(SYSCONFDIR)"' \
	-Icommon $(EXTRA_INC) $(PKG_CFLAGS) -MMD -MP
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
# nudged --relay (agent/relay.c) merges its upstream agents with the
# console's own link and model: nudged links those two objects too (make's
# $^ lists a file once, so unit tests that take both trees are unchanged).
AGENT_OBJ += $(call obj,console/link.c console/model.c)
$(BUILD)/agent/relay.o: EXTRA_INC = -Iconsole
CONSOLE_OBJ := $(call obj,$(filter-out console/main.c,$(CONSOLE_SRC)))
LIB := $(BUILD)/libnudge.a

BINS := $(BUILD)/nudged $(BUILD)/nudge $(BUILD)/nudge-sim
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))


.PHONY: benches all deps test-deps demo test check unit bench fuzz install uninstall deb clean tests
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

# main.o bakes in SYSCONFDIR (the default --config): rebuild it on a change.
SYSCONF_STAMP := $(BUILD)/gen/sysconfdir$(subst /,_,$(SYSCONFDIR))
$(SYSCONF_STAMP):
	@mkdir -p $(dir $@)
	@rm -f $(BUILD)/gen/sysconfdir_*
	@touch $@
$(BUILD)/agent/main.o: $(SYSCONF_STAMP)

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
# rules_push is a control client: it takes ctlreq from the console.
$(BUILD)/bench/rules_push: $(BUILD)/bench/rules_push.o $(CONSOLE_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
# latency and restart are consoles: they take link, model and ctlreq
# from the console.
$(BUILD)/bench/latency: $(BUILD)/bench/latency.o $(CONSOLE_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
$(BUILD)/bench/restart: $(BUILD)/bench/restart.o $(CONSOLE_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LDLIBS_ALL)
benches: $(BENCHES)

# Tests reach into the agent's, console's and simulator's own headers.
$(BUILD)/tests/%.o: EXTRA_INC = -Iagent -Iconsole -Itests/sim

# ---- dependencies (Debian) ------------------------------------------------
BUILD_DEPS := gcc make pkg-config libnng-dev libmbedtls-dev libmsgpack-dev \
	libncurses-dev libsqlite3-dev libjansson-dev libinih-dev libxxhash-dev \
	libmicrohttpd-dev libmaxminddb-dev libsystemd-dev
# What `make deb` needs on top of BUILD_DEPS.
DEB_DEPS := dpkg-dev debhelper lintian fakeroot rsync
TEST_DEPS := $(BUILD_DEPS) libcmocka-dev tmux jq sqlite3 clang \
	libclang-rt-14-dev procps openssl faketime \
	chromium nodejs python3 curl wrk nginx-light libnginx-mod-stream \
	libmaxmind-db-writer-perl \
	groff-base man-db systemd debootstrap $(DEB_DEPS)

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

BENCH_DEPS := wrk nginx-light goaccess jq

bench: deps
	$(call apt_install,$(BENCH_DEPS))
	$(MAKE) BUILD=build/bench OPT='-O2 -DNDEBUG' all benches
	bench/run.sh build/bench

fuzz: test-deps
	tests/fuzz/run.sh $${FUZZ_SECONDS:-60}

# ---- install ---------------------------------------------------------------
# For systems without the Debian packages:
#   make install PREFIX=/usr/local DESTDIR=/tmp/stage
# The configuration goes to SYSCONFDIR/nudge (/etc for PREFIX=/usr, else
# PREFIX/etc) and is never overwritten.  The systemd unit goes to
# SYSTEMDUNITDIR (PREFIX=/usr: systemd's pkg-config answer; another PREFIX:
# PREFIX/lib/systemd/system, which systemd also reads; empty: not
# installed), its paths rewritten for SBINDIR and SYSCONFDIR.  It runs as
# the user "nudge", which the administrator creates (the Debian package
# does it itself).
SYSTEMDUNITDIR ?= $(if $(filter /usr,$(PREFIX)),$(shell $(PKG_CONFIG) \
	--variable=systemdsystemunitdir systemd 2>/dev/null),$(PREFIX)/lib/systemd/system)
MANPAGES := $(wildcard packaging/man/*.[1-8])
EXAMPLES := $(wildcard examples/*.rules) $(wildcard examples/*.conf)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(SYSCONFDIR)/nudge $(DESTDIR)$(DATADIR)/examples
	install -m 755 $(BUILD)/nudged $(DESTDIR)$(SBINDIR)/nudged
	install -m 755 $(BUILD)/nudge $(DESTDIR)$(BINDIR)/nudge
	install -m 755 $(BUILD)/nudge-sim $(DESTDIR)$(BINDIR)/nudge-sim
	for m in $(MANPAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s && \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/ || exit 1; \
	done
	for e in $(EXAMPLES); do install -m 644 $$e $(DESTDIR)$(DATADIR)/examples/ || exit 1; done
	[ -f $(DESTDIR)$(SYSCONFDIR)/nudge/nudged.conf ] || \
		install -m 644 packaging/nudged.conf $(DESTDIR)$(SYSCONFDIR)/nudge/nudged.conf
	if [ -n "$(SYSTEMDUNITDIR)" ]; then \
		install -d $(DESTDIR)$(SYSTEMDUNITDIR) && \
		sed -e 's|/usr/sbin/nudged|$(SBINDIR)/nudged|g' \
		    -e 's|/etc/nudge/|$(SYSCONFDIR)/nudge/|g' \
		    packaging/debian/nudged.service >$(DESTDIR)$(SYSTEMDUNITDIR)/nudged.service && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/nudged.service; \
	fi

# Removes what install put there, except the configuration (like a Debian
# "remove"); the state (the database) is never touched.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/nudged $(DESTDIR)$(BINDIR)/nudge $(DESTDIR)$(BINDIR)/nudge-sim
	for m in $(MANPAGES); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	rm -rf $(DESTDIR)$(DATADIR)
	if [ -n "$(SYSTEMDUNITDIR)" ]; then rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/nudged.service; fi

# ---- Debian packages -------------------------------------------------------
# Builds nudged_*.deb and nudge_*.deb into build/deb/ (and lints them) from a
# copy of the working tree (build/ and node_modules/ left out), so it never
# touches anyone's build tree.  DEB_TREE=DIR builds from another checkout.
DEB_OUT ?= build/deb
DEB_TREE ?= .
deb:
	$(call apt_install,$(BUILD_DEPS) $(DEB_DEPS))
	@set -e; tmp=$$(mktemp -d /tmp/nudge-deb.XXXXXX); \
	trap 'rm -rf "$$tmp"' EXIT; \
	src=$$tmp/nudge-$(VERSION); mkdir -p $$src; \
	rsync -a --exclude=/build --exclude=node_modules --exclude=/.git $(DEB_TREE)/ $$src/; \
	rm -rf $$src/debian; cp -a $$src/packaging/debian $$src/debian; \
	( cd $$src && dpkg-buildpackage -b -us -uc -j2 ) >$$tmp/build.log 2>&1 || \
		{ tail -n 40 $$tmp/build.log; exit 1; }; \
	mkdir -p $(DEB_OUT); rm -f $(DEB_OUT)/*.deb $(DEB_OUT)/*.changes $(DEB_OUT)/*.buildinfo; \
	cp $$tmp/*.deb $$tmp/*.changes $$tmp/*.buildinfo $(DEB_OUT)/; \
	cp $$tmp/build.log $(DEB_OUT)/build.log; \
	echo "packages in $(DEB_OUT):"; ls $(DEB_OUT)/*.deb; \
	lintian --info --display-info $(DEB_OUT)/*.changes | tee $(DEB_OUT)/lintian.log; \
	if grep -q '^[EW]:' $(DEB_OUT)/lintian.log; then echo "lintian: errors or warnings (see above)"; exit 1; fi

clean:
	rm -rf build

-include $(shell find $(BUILD) -name '*.d' -type f 2>/dev/null)
