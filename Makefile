# azure-logs — one non-recursive Makefile.
#   make            build bin/azure-graph, bin/azure-statekeeper, bin/azure-forwarder
#   make check      unit, mock and end-to-end tests
#   make asan       the same tests against an ASan/UBSan build (build/asan)
#   make lint       shellcheck, cppcheck, clang-tidy, man-check (groff
#                   and mandoc on man/*.8);  make fmt: clang-format
#   make demo       mock Microsoft on loopback -> pipeline -> demo/out.log
#   make install    DESTDIR, PREFIX (man pages: MANDIR, PREFIX/share/man);
#                   or WAZUH_HOME: in place of Wazuh's wodles/azure/azure-logs
#                   (see README; man pages only with PREFIX or MANDIR given)

VERSION   = 0.1.0
CC       ?= cc
PKGS      = libcurl sqlite3 msgpack libbsd jansson libcrypto expat libseccomp
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   := $(shell pkg-config --libs $(PKGS))
WARN      = -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wvla -Wpointer-arith -Wcast-qual -Werror
CFLAGS   ?= -O2 -g
ALL_CFLAGS = $(CFLAGS) -std=c11 $(WARN) -D_GNU_SOURCE \
            -DAZURE_LOGS_VERSION='"$(VERSION)"' -fstack-protector-strong \
            -D_FORTIFY_SOURCE=2 \
            -Icommon $(PKG_CFLAGS)
LDFLAGS  ?=
LDLIBS    = $(PKG_LIBS) -lm

BIN      ?= bin
OBJ      ?= build/obj

COMMON_SRC = common/log.c common/buf.c common/frame.c common/date.c \
             common/auth.c common/key.c common/offset.c common/pyjson.c \
             common/pyjson_fast.c \
             common/url.c common/io.c common/sandbox.c
FETCH_SRC  = fetchers/fetcher.c fetchers/window.c fetchers/http.c fetchers/token.c \
             fetchers/report.c \
             fetchers/assertion.c fetchers/cloud.c
GRAPH_SRC  = fetchers/graph.c fetchers/graph_filter.c fetchers/graph_page.c
LA_SRC     = fetchers/la.c fetchers/la_query.c
STORAGE_SRC = fetchers/storage.c fetchers/storage_sign.c \
             fetchers/storage_xml.c fetchers/storage_lines.c
SK_SRC     = statekeeper/main.c statekeeper/db.c statekeeper/migrate.c statekeeper/seen.c \
             statekeeper/tools.c
FWD_SRC    = forwarder/main.c
CONF_SRC   = config/azure-config.c config/conf.c
UNIT_SRC   = $(wildcard tests/unit/test_*.c)

COMMON_OBJ = $(COMMON_SRC:%.c=$(OBJ)/%.o)
FETCH_OBJ  = $(FETCH_SRC:%.c=$(OBJ)/%.o)
GRAPH_OBJ  = $(GRAPH_SRC:%.c=$(OBJ)/%.o)
LA_OBJ     = $(LA_SRC:%.c=$(OBJ)/%.o)
STORAGE_OBJ = $(STORAGE_SRC:%.c=$(OBJ)/%.o)
SK_OBJ     = $(SK_SRC:%.c=$(OBJ)/%.o)
FWD_OBJ    = $(FWD_SRC:%.c=$(OBJ)/%.o)
CONF_OBJ   = $(CONF_SRC:%.c=$(OBJ)/%.o)
LIBCOMMON  = $(OBJ)/libcommon.a
PROGS      = $(BIN)/azure-graph $(BIN)/azure-la $(BIN)/azure-storage \
             $(BIN)/azure-statekeeper \
             $(BIN)/azure-forwarder $(BIN)/azure-config
UNITS      = $(UNIT_SRC:tests/unit/%.c=$(OBJ)/tests/%)

all: $(PROGS)

$(OBJ)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIBCOMMON): $(COMMON_OBJ)
	$(AR) rcs $@ $^

$(BIN)/azure-graph: $(GRAPH_OBJ) $(FETCH_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/azure-la: $(LA_OBJ) $(FETCH_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/azure-storage: $(STORAGE_OBJ) $(FETCH_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/azure-statekeeper: $(SK_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/azure-forwarder: $(FWD_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/azure-config: $(CONF_OBJ) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Unit tests link the object files of the program they test.
UNIT_LINK = $(OBJ)/fetchers/graph_filter.o $(OBJ)/fetchers/la_query.o \
            $(OBJ)/fetchers/window.o $(OBJ)/fetchers/http.o $(OBJ)/statekeeper/db.o $(OBJ)/statekeeper/migrate.o \
            $(OBJ)/statekeeper/seen.o \
            $(OBJ)/fetchers/storage_sign.o $(OBJ)/fetchers/storage_xml.o \
            $(OBJ)/fetchers/storage_lines.o $(OBJ)/config/conf.o \
            $(OBJ)/fetchers/assertion.o $(OBJ)/fetchers/cloud.o
$(OBJ)/tests/%: tests/unit/%.c $(UNIT_LINK) $(LIBCOMMON)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Istatekeeper -Ifetchers -Iconfig -o $@ $^ $(LDLIBS) $(shell pkg-config --libs cmocka)

units: $(UNITS)

# Fuzz targets: built with the driver to replay their corpus in make check,
# or with clang's libFuzzer by make fuzz (FUZZ_SECONDS per target).
FUZZ_TARGETS = frame date la_scan auth storage_xml storage_lines graph_page \
               pyjson graph_diff \
               last_dates config
FUZZ_BINS    = $(FUZZ_TARGETS:%=$(OBJ)/fuzz/fuzz_%)
# The objects every target links, below $(OBJ) (the driver's or libFuzzer's).
FUZZ_OBJS    = fetchers/la_query.o fetchers/window.o fetchers/storage_xml.o \
               fetchers/storage_lines.o fetchers/graph_page.o \
               statekeeper/db.o statekeeper/migrate.o config/conf.o libcommon.a
FUZZ_LINK    = $(FUZZ_OBJS:%=$(OBJ)/%)
$(OBJ)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/driver.c $(FUZZ_LINK)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -Ifetchers -Istatekeeper -Iconfig -o $@ $^ $(LDLIBS)

fuzzers: $(FUZZ_BINS)

FUZZ_SECONDS ?= 60
fuzz:
	$(MAKE) OBJ=build/fuzz/obj BIN=build/fuzz/bin CC=clang \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
	    $(FUZZ_OBJS:%=build/fuzz/obj/%)
	@for t in $(FUZZ_TARGETS); do \
	    clang -O1 -g -fsanitize=fuzzer,address,undefined -Icommon -Ifetchers \
	        -Istatekeeper -Iconfig $(PKG_CFLAGS) -D_GNU_SOURCE \
	        -o build/fuzz/fuzz_$$t tests/fuzz/fuzz_$$t.c \
	        $(FUZZ_OBJS:%=build/fuzz/obj/%) $(LDLIBS) || exit 1; \
	    mkdir -p build/fuzz/corpus/$$t; \
	    build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        build/fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; \
	done

check: all units fuzzers
	@tests/run-tests $(OBJ)/tests $(BIN) $(OBJ)/fuzz

asan:
	$(MAKE) OBJ=build/asan/obj BIN=build/asan/bin \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" check

# make check-valgrind (slow: never part of make check): a build without
# sanitizers in build/valgrind; its unit tests, fuzz corpus replays and the
# Graph and Log Analytics end-to-end suites run under valgrind, every role
# the launcher starts included (through AZURE_LOGS_WRAPPER). Fails if a
# suite fails or any valgrind log (build/valgrind/logs/vg.*, one per
# process) reports an error or a definite leak.
VG_DIR    = build/valgrind
VG_LOGS   = $(CURDIR)/$(VG_DIR)/logs
VG_E2E    = test_graph test_la
VALGRIND  = valgrind --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite
check-valgrind:
	@command -v valgrind >/dev/null || \
	    { echo "valgrind is missing: scripts/install-deps --valgrind"; exit 1; }
	$(MAKE) OBJ=$(VG_DIR)/obj BIN=$(VG_DIR)/bin CFLAGS="-O1 -g" \
	    all units fuzzers
	@rm -rf $(VG_LOGS); mkdir -p $(VG_LOGS); start=$$(date +%s); failed=0; \
	suite() { \
	    name=$$1; shift; \
	    if "$$@" >$(VG_LOGS)/$$name.out 2>&1; then echo "PASS  $$name"; \
	    else failed=$$((failed + 1)); echo "FAIL  $$name"; \
	        tail -n 40 $(VG_LOGS)/$$name.out | sed 's/^/      /'; fi; \
	}; \
	for t in $(VG_DIR)/obj/tests/test_*; do \
	    n=unit-$${t##*/}; \
	    suite $$n $(VALGRIND) --log-file=$(VG_LOGS)/vg.$$n.%p $$t; \
	done; \
	for t in $(FUZZ_TARGETS); do \
	    suite fuzz-$$t $(VALGRIND) --log-file=$(VG_LOGS)/vg.fuzz-$$t.%p \
	        $(VG_DIR)/obj/fuzz/fuzz_$$t tests/fuzz/corpus/$$t/*; \
	done; \
	for t in $(VG_E2E); do \
	    suite e2e-$$t env AZURE_LOGS_BINDIR=$(CURDIR)/$(VG_DIR)/bin \
	        AZURE_LOGS_WRAPPER="$(VALGRIND) --log-file=$(VG_LOGS)/vg.e2e-$$t.%p" \
	        python3 tests/e2e/$$t.py -v; \
	done; \
	logs=$$(ls $(VG_LOGS)/vg.* | wc -l); \
	bad=$$(grep -lE "ERROR SUMMARY: [1-9]" $(VG_LOGS)/vg.*); \
	for f in $$bad; do echo "valgrind: $$f:"; sed 's/^/      /' $$f | tail -n 60; done; \
	echo "$$logs processes under valgrind ($$(grep -L "ERROR SUMMARY" \
	    $(VG_LOGS)/vg.* | wc -l) forked then exec'd or killed, without" \
	    "a summary), $$(echo $$bad | wc -w) with errors; $$failed suites" \
	    "failed; $$(( $$(date +%s) - start )) s"; \
	[ "$$failed" -eq 0 ] && [ -z "$$bad" ]
.PHONY: check-valgrind

demo: all
	@tests/demo/run-demo $(BIN)

SH_FILES = scripts/azure-logs scripts/azure-logs-users scripts/install-deps \
           tests/run-tests tests/demo/run-demo tests/e2e/test_launcher_cli.sh
lint: man-check
	shellcheck $(SH_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	    --inline-suppr --suppress=missingIncludeSystem -D__GNUC__ -Icommon \
	    --include=tests/lint/cppcheck-macros.h \
	    common fetchers statekeeper forwarder config
	clang-tidy --quiet $(COMMON_SRC) $(FETCH_SRC) $(GRAPH_SRC) $(LA_SRC) $(STORAGE_SRC) $(SK_SRC) $(FWD_SRC) $(CONF_SRC) -- $(ALL_CFLAGS)

FMT_FILES = $(wildcard common/*.[ch] fetchers/*.[ch] statekeeper/*.[ch] forwarder/*.[ch] config/*.[ch] tests/unit/*.[ch] tests/fuzz/*.[ch])
fmt:
	clang-format -i $(FMT_FILES)

fmt-check:
	clang-format --dry-run --Werror $(FMT_FILES)

PREFIX     ?= /usr/local
LIBEXECDIR ?= $(PREFIX)/libexec/azure-logs
MANDIR     ?= $(PREFIX)/share/man
MAN_PAGES   = $(wildcard man/*.8)
WAZUH_HOME ?=
WODLE       = $(DESTDIR)$(WAZUH_HOME)/wodles/azure
LAUNCHER_SED = -e 's|^AZURE_LOGS_VERSION=.*|AZURE_LOGS_VERSION=$(VERSION)|'
# $(call make-users,SCRIPT): the roles' users (azure-logs-users, installed
# as SCRIPT): created now when installing as root on this host; with
# DESTDIR, on the target host, which a note says.
make-users = if [ -n "$(DESTDIR)" ]; then \
	    echo "azure-logs: create the roles' users on the target host, as root, with $(1)"; \
	elif [ "$$(id -u)" -eq 0 ]; then \
	    $(1); \
	else \
	    echo "azure-logs: not root: create the roles' users as root with $(1)"; \
	fi
ifeq ($(WAZUH_HOME),)
install: all
	install -d $(DESTDIR)$(LIBEXECDIR)/bin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(PROGS) scripts/azure-logs-users $(DESTDIR)$(LIBEXECDIR)/bin/
	sed $(LAUNCHER_SED) scripts/azure-logs > $(DESTDIR)$(LIBEXECDIR)/azure-logs
	chmod 0755 $(DESTDIR)$(LIBEXECDIR)/azure-logs
	ln -sf $(LIBEXECDIR)/azure-logs $(DESTDIR)$(PREFIX)/bin/azure-logs
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
	@$(call make-users,$(LIBEXECDIR)/bin/azure-logs-users)
else
# In place of Wazuh's script: wm_azure runs WAZUH_HOME/wodles/azure/azure-logs
# with the wodle's command line. Wazuh's own script is kept once, as
# azure-logs.wazuh (rollback: move it back).
install: all
	install -d -m 0750 $(WODLE)/bin
	install -m 0750 $(PROGS) scripts/azure-logs-users $(WODLE)/bin/
	@if [ -e $(WODLE)/azure-logs ] && ! [ -e $(WODLE)/azure-logs.wazuh ] && \
	    ! grep -q '^AZURE_LOGS_VERSION=' $(WODLE)/azure-logs; then \
		mv $(WODLE)/azure-logs $(WODLE)/azure-logs.wazuh && \
		echo "Wazuh's azure-logs kept as $(WODLE)/azure-logs.wazuh"; \
	fi
	sed $(LAUNCHER_SED) \
	    -e 's|^DEFAULT_WAZUH_HOME=.*|DEFAULT_WAZUH_HOME=$(WAZUH_HOME)|' \
	    scripts/azure-logs > $(WODLE)/azure-logs.new
	chmod 0750 $(WODLE)/azure-logs.new
	mv -f $(WODLE)/azure-logs.new $(WODLE)/azure-logs
	@if getent group wazuh >/dev/null; then \
		chgrp -R wazuh $(WODLE)/bin $(WODLE)/azure-logs; fi
	@$(call make-users,$(WAZUH_HOME)/wodles/azure/bin/azure-logs-users)
# The man pages go outside Wazuh's tree only when asked: PREFIX or MANDIR
# on the command line (or in the environment).
ifneq ($(filter command line environment,$(origin PREFIX) $(origin MANDIR)),)
	install -d $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(MAN_PAGES) $(DESTDIR)$(MANDIR)/man8/
else
	@echo "azure-logs: man pages not installed: add PREFIX=/usr/local (or MANDIR=DIR) to put them in PREFIX/share/man/man8"
endif
endif

# The man pages render without a warning (groff; mandoc -T lint too when
# it is installed). Part of make lint.
man-check:
	@for m in $(MAN_PAGES); do \
	    w=$$(groff -man -ww -z $$m 2>&1) || exit 1; \
	    [ -z "$$w" ] || { echo "$$w"; exit 1; }; \
	done
	@if command -v mandoc >/dev/null; then \
	    mandoc -T lint -W warning $(MAN_PAGES) || exit 1; fi

clean:
	rm -rf build bin

.PHONY: all units fuzzers fuzz check asan demo lint fmt fmt-check install clean \
        man-check
-include $(shell find build -name '*.d' 2>/dev/null)

# make bench: tests/bench/bench.py end to end (BENCH_ARGS: e.g. --quick,
# --sizes, --runs, --big-blob-mb; see its --help), after the check of the
# mock's bench mode. Figures only: nothing passes or fails on time.
BENCH_TOOLS = $(OBJ)/bench
BENCH_ARGS ?=
bench: all
	@mkdir -p $(BENCH_TOOLS)
	$(CC) $(ALL_CFLAGS) -o $(BENCH_TOOLS)/sink tests/bench/sink.c
	$(CC) $(ALL_CFLAGS) -o $(BENCH_TOOLS)/rusage tests/bench/rusage.c
	$(CC) $(ALL_CFLAGS) -fPIC -shared -o $(BENCH_TOOLS)/commits.so \
	    tests/bench/commits.c $(shell pkg-config --libs sqlite3)
	python3 tests/bench/test_bench_mock.py
	AZURE_LOGS_BINDIR=$(CURDIR)/$(BIN) \
	    AZURE_LOGS_BENCH_TOOLS=$(CURDIR)/$(BENCH_TOOLS) \
	    python3 tests/bench/bench.py $(BENCH_ARGS)
.PHONY: bench
