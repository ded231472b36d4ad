# The Debian package: `cpack` in a build directory makes gatehouse_<version>-1_<arch>.deb after
# the targets gatehouse and gatehouse_man are built (scripts/package.sh does all of it).
#
#   /usr/bin/gatehouse                        the binary, stripped
#   /usr/share/man/man1/gatehouse.1.gz        from `gatehouse --help` by help2man, at build time
#   /lib/systemd/system/gatehouse.service     the hardened unit (packaging/gatehouse.service)
#   /etc/gatehouse/gatehouse.conf             a conffile, root:gatehouse 0640 after postinst
#   /usr/share/doc/gatehouse/copyright        the licence (LICENSE), in Debian's copyright format
#   /usr/share/doc/gatehouse/install.md       docs/install.md
#
# Maintainer scripts are in packaging/debian/: postinst makes the system user gatehouse with its
# data directory /var/lib/gatehouse (0750) and enables the unit; postrm deletes the data on purge
# only. Depends is computed by dpkg-shlibdeps from the binary's libraries, plus adduser and the
# libraries the binary loads only when used (libpq5, libcurl4, libhiredis0.14, libcbor0.8,
# libqrencode4; libssl.so.3 is in libssl3 with the libcrypto it links).
# Building the package needs help2man, dpkg-dev (dpkg-shlibdeps) and file (CPack runs it).

if(NOT PROJECT_IS_TOP_LEVEL OR NOT CMAKE_SYSTEM_NAME STREQUAL "Linux")
  return()
endif()

set(GATEHOUSE_PACKAGE_MAINTAINER "Gatehouse maintainers <maintainers@users.noreply.b-seed-bad25cfe.example>"
    CACHE STRING "The Maintainer field of the Debian package")

set(_pkg_src ${PROJECT_SOURCE_DIR}/packaging)
set(_pkg_out ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${_pkg_out})

# `install` and `cpack` install what is built and build nothing themselves: without this, cpack
# would first build every target (the unit tests and benchmarks too) before packaging one binary.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# --- The man page, from the binary's own --help -------------------------------------------------
find_program(GATEHOUSE_HELP2MAN help2man)
set(_man ${_pkg_out}/gatehouse.1)
if(GATEHOUSE_HELP2MAN)
  # The binary's folder first on PATH, so the page says "gatehouse", not the build path.
  add_custom_command(
    OUTPUT ${_man}.gz
    COMMAND ${CMAKE_COMMAND} -E env "PATH=$<TARGET_FILE_DIR:gatehouse>:/usr/bin:/bin"
            LC_ALL=C.UTF-8
            ${GATEHOUSE_HELP2MAN} --no-info --no-discard-stderr --section=1
            --include=${_pkg_src}/gatehouse.h2m --output=${_man}.raw gatehouse
    COMMAND ${CMAKE_COMMAND} -DIN=${_man}.raw -DOUT=${_man} -P ${_pkg_src}/manpage.cmake
    COMMAND gzip -9nf ${_man}
    DEPENDS gatehouse ${_pkg_src}/gatehouse.h2m ${_pkg_src}/manpage.cmake
    COMMENT "Generating the man page gatehouse.1 from gatehouse --help (help2man)"
    VERBATIM)
else()
  add_custom_command(
    OUTPUT ${_man}.gz
    COMMAND ${CMAKE_COMMAND} -E echo
            "help2man not found: install it (apt-get install help2man) and configure again"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
# Not part of `all`: only packaging needs it (and help2man).
add_custom_target(gatehouse_man DEPENDS ${_man}.gz)

# --- /usr/share/doc/gatehouse: copyright and changelog.Debian.gz ---------------------------------
# Debian's machine-readable copyright format. For the Apache License it names the licence and
# refers to /usr/share/common-licenses/Apache-2.0 instead of repeating it (Debian Policy 12.5;
# lintian's copyright-file-contains-full-apache-2-license), so LICENSE must be that licence.
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
             ${PROJECT_SOURCE_DIR}/LICENSE ${_pkg_src}/copyright.in)
file(READ ${PROJECT_SOURCE_DIR}/LICENSE _license LIMIT 200)
if(NOT _license MATCHES "Apache License[ \n]+Version 2\\.0, January 2004")
  message(FATAL_ERROR "LICENSE is no longer the Apache License 2.0: update packaging/copyright.in")
endif()
configure_file(${_pkg_src}/copyright.in ${_pkg_out}/copyright COPYONLY)
# A one-entry changelog, dated like the build (SOURCE_DATE_EPOCH when set).
string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)
file(WRITE ${_pkg_out}/changelog.Debian
     "gatehouse (${PROJECT_VERSION}-1) unstable; urgency=medium\n\n"
     "  * Built from the Gatehouse sources by CPack (cmake/Packaging.cmake); the\n"
     "    changes are in the project's history.\n\n"
     " -- ${GATEHOUSE_PACKAGE_MAINTAINER}  ${_date}\n")
file(ARCHIVE_CREATE OUTPUT ${_pkg_out}/changelog.Debian.gz PATHS ${_pkg_out}/changelog.Debian
     FORMAT raw COMPRESSION GZip COMPRESSION_LEVEL 9)

# --- What the package holds ---------------------------------------------------------------------
# Relative destinations are under /usr (CPACK_PACKAGING_INSTALL_PREFIX); the unit and the
# configuration have absolute ones, which CPack's DEB generator puts in the package as they are.
install(TARGETS gatehouse RUNTIME DESTINATION bin)
install(FILES ${_man}.gz DESTINATION share/man/man1)
install(FILES ${_pkg_out}/copyright ${_pkg_out}/changelog.Debian.gz
        ${PROJECT_SOURCE_DIR}/docs/install.md DESTINATION share/doc/gatehouse)
install(FILES ${_pkg_src}/gatehouse.service DESTINATION /lib/systemd/system)
install(FILES ${_pkg_src}/gatehouse.conf DESTINATION /etc/gatehouse
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)

# --- CPack: one .deb ----------------------------------------------------------------------------

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gatehouse)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The Gatehouse authors")
set(CPACK_PACKAGE_CONTACT "${GATEHOUSE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-hosted authentication and authorization server")
# Lines of the long description (CPack indents them; an empty line becomes " .").
string(CONCAT CPACK_PACKAGE_DESCRIPTION
    "Gatehouse is one binary serving password login (bcrypt or argon2id), JWT\n"
    "access and refresh tokens, the OAuth2 password flow, role-based access\n"
    "control, API keys, second factors (TOTP, passkeys), sign-in with OpenID\n"
    "Connect providers, an OpenID Provider for other applications, rate limiting\n"
    "and a tamper-evident audit log, on SQLite or on PostgreSQL and Redis.\n"
    "\n"
    "This package runs it as the systemd service gatehouse.service, as the system\n"
    "user gatehouse, with its settings in /etc/gatehouse/gatehouse.conf and its\n"
    "data in /var/lib/gatehouse.")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 1)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${GATEHOUSE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libpq, libcurl, hiredis and libcbor are loaded at run time (src/dynlib), so dpkg-shlibdeps does
# not see them; CURLOPT_PROTOCOLS_STR needs libcurl 7.85. hiredis and libcbor change their soname
# with each release, so the package name pins the version (src/dynlib checks the headers match).
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "adduser, libpq5, libcurl4 (>= 7.85), libhiredis0.14, libcbor0.8, libqrencode4")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nginx | reverse-proxy, postgresql, redis-server")
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${_pkg_src}/debian/postinst ${_pkg_src}/debian/prerm ${_pkg_src}/debian/postrm
    ${_pkg_src}/debian/conffiles)
# Maintainer scripts 0755, conffiles 0644, whatever the checkout's modes.
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_SOURCE_GENERATOR "")
include(CPack)
