# The library: libfcgi_app.a, its public headers and fcgi_app.pc, for apps
# written against include/fcgi_app.h.  Included from the Makefile after
# mk/dist.mk, whose `make install` / `make uninstall` also run the targets
# below (PREFIX, DESTDIR and INSTALL come from there).
#
#   make lib                 $(BUILD)/libfcgi_app.a
#   make install-lib         headers, library and fcgi_app.pc only
#   make uninstall-lib       removes exactly those files
#
# Installed layout (PREFIX=/usr/local; everything below is prefixed by DESTDIR):
#   $(INCLUDEDIR)/fcgi_app/*.h                  /usr/local/include/fcgi_app/fcgi_app.h, deferred.h...
#   $(LIBDIR)/libfcgi_app.a                     /usr/local/lib/libfcgi_app.a
#   $(PKGCONFIGDIR)/fcgi_app.pc                 /usr/local/lib/pkgconfig/fcgi_app.pc
# The headers get a directory of their own (fcgi_app.pc's Cflags name it),
# so that deferred.h or failure.h never meets another package's header of
# that name.  The library goes to lib/, not lib/<multiarch>/: pkg-config's
# default path on Debian includes /usr/local/lib/pkgconfig, and lib/ is
# what a hand-built PREFIX install uses; a distribution package would set
# LIBDIR.
#
# Only a static library.  A shared one would promise a stable ABI under
# its soname, and this API has none yet: struct deferred_val travels by
# value and its layout, like the enums and flags, may still change.  A
# .so would also need every object built a second time with -fPIC and a
# version script, and it would make -lfcgi_app pick the .so over the .a.
# An app links the library in and deploys as one binary, which is how
# fcgi_app itself runs.  Revisit when the API is declared stable.
#
# The library is one relocatable object (ld -r over every module but the
# demo's) in which only the public API stays global: the modules' own
# names (log_msg, pool_new, config_load, app_match...) are made local, so
# an app may define functions of the same names.  LIB_PUBLIC is that list
# of names, as objcopy wildcards (a leading ! keeps an internal name of a
# public prefix local: the Deferred core's deferred__ hooks, fcgi_resp.h);
# tests/integration/test_lib.sh checks it
# against the public headers.

INCLUDEDIR   ?= $(PREFIX)/include
LIBDIR       ?= $(PREFIX)/lib
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
LD           ?= ld
OBJCOPY      ?= objcopy
AR           ?= ar
# The API's version: 0.x while it may still change (see above).
LIB_VERSION  ?= 0.1

LIB_SRC      := $(filter-out $(DEMO_SRC),$(SRC))
LIB_OBJ      := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
LIB_PUBLIC   := !deferred__* !fcgi_resp_of !fcgi_resp_encode_view !fcgi_resp_escape \
                fcgi_app_* fcgi_req_* fcgi_resp_* fcgi_reply* fcgi_event_* \
                fcgi_call_later fcgi_defer_to_thread deferred_* failure_*

# The installed headers: fcgi_app.h and every include/ header it includes
# with "...", transitively; never the modules' internal headers.
lib_incl     = $(shell sed -n 's/^.[[:space:]]*include[[:space:]]*"\([^"/]*\.h\)".*/\1/p' $(addprefix include/,$(1)))
lib_next     = $(sort $(1) $(call lib_incl,$(1)))
lib_closure  = $(if $(filter-out $(1),$(call lib_next,$(1))),$(call lib_closure,$(call lib_next,$(1))),$(1))
LIB_HEADERS  = $(call lib_closure,fcgi_app.h)

lib: $(LIB)

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	$(LD) -r -o $(BUILD)/libfcgi_app.o $^
	$(OBJCOPY) --wildcard $(foreach s,$(LIB_PUBLIC),--keep-global-symbol='$(s)') \
	  $(BUILD)/libfcgi_app.o
	rm -f $@
	$(AR) rcs $@ $(BUILD)/libfcgi_app.o

# Variables the tests ask for (tests/integration/test_lib.sh and
# test_readme_example.sh): the headers `install` copies, the public names,
# and the compiler an app must use to link this BUILD's library (a
# sanitizer build's library needs the sanitizer's runtime).
lib-info:
	@echo "headers: $(LIB_HEADERS)"
	@echo "public: $(LIB_PUBLIC)"
	@echo "cc: $(CC) $(filter -fsanitize=%,$(LDFLAGS))"
	@echo "lib: $(LIB)"
	@echo "objs: $(LIB_OBJ)"

# fcgi_app.pc is written at install time, for this PREFIX.  What an app
# links: libevent_core and libsystemd through their own .pc files;
# -levent_pthreads by name, because libevent_pthreads.pc would add all of
# -levent.  The library is static, so everything it needs is in Libs /
# Requires, not in the .private fields: the plain
# `pkg-config --cflags --libs fcgi_app` links an app (no --static needed).
# libfcgi is not among them: the library speaks FastCGI itself.
install-lib: $(LIB) dist/fcgi_app.pc.in
	$(INSTALL) -d -m 0755 $(DESTDIR)$(INCLUDEDIR)/fcgi_app $(DESTDIR)$(LIBDIR) \
	  $(DESTDIR)$(PKGCONFIGDIR)
	$(INSTALL) -m 0644 $(addprefix include/,$(LIB_HEADERS)) $(DESTDIR)$(INCLUDEDIR)/fcgi_app/
	$(INSTALL) -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libfcgi_app.a
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(LIB_VERSION)|g' \
	    dist/fcgi_app.pc.in >$(DESTDIR)$(PKGCONFIGDIR)/fcgi_app.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/fcgi_app.pc

# Removes every header the directory holds, not only today's list, so that
# a header dropped from the API goes too; the directory is the library's.
uninstall-lib:
	rm -f $(DESTDIR)$(INCLUDEDIR)/fcgi_app/*.h $(DESTDIR)$(LIBDIR)/libfcgi_app.a \
	  $(DESTDIR)$(PKGCONFIGDIR)/fcgi_app.pc
	rmdir $(DESTDIR)$(INCLUDEDIR)/fcgi_app 2>/dev/null || true

install: install-lib
uninstall: uninstall-lib

.PHONY: lib lib-info install-lib uninstall-lib
