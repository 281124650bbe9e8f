# Installing passthru as a system service, and `cpack -G DEB`: passthru_<version>_amd64.deb with
# the binary and built-in plugins (installed by their own folders), the SDK headers and CMake
# package (sdk/), the config as a conffile, the systemd unit, passthru(8) and the Debian
# changelog and copyright. Its Depends come from dpkg-shlibdeps, so they name the Debian
# libraries the binary and plugins really link.

# passthru(8), from `passthru --help` and the README's config reference, made at build time so it
# can never say other than the binary it ships with.
find_package(Python3 REQUIRED COMPONENTS Interpreter)
set(manpage ${CMAKE_BINARY_DIR}/passthru.8.gz)
add_custom_command(OUTPUT ${manpage}
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/manpage.py $<TARGET_FILE:passthru>
          ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_VERSION} ${manpage}
  DEPENDS passthru ${PROJECT_SOURCE_DIR}/tools/manpage.py ${PROJECT_SOURCE_DIR}/README.md
  COMMENT "Writing passthru(8) from --help and the README" VERBATIM)
add_custom_target(passthru_manpage ALL DEPENDS ${manpage})
install(FILES ${manpage} DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)

# The Debian changelog and copyright, compressed as Debian policy asks (gzip -9n).
set(docdir ${CMAKE_INSTALL_DATADIR}/doc/passthru)
configure_file(${PROJECT_SOURCE_DIR}/packaging/debian/changelog.in ${CMAKE_BINARY_DIR}/packaging/changelog @ONLY)
add_custom_command(OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  COMMAND ${Python3_EXECUTABLE} -c "import gzip,sys; gzip.GzipFile(sys.argv[2], 'wb', 9, open(sys.argv[2], 'wb'), 0).write(open(sys.argv[1], 'rb').read())"
          ${CMAKE_BINARY_DIR}/packaging/changelog ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog VERBATIM)
add_custom_target(passthru_changelog ALL DEPENDS ${CMAKE_BINARY_DIR}/packaging/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/packaging/changelog.gz packaging/debian/copyright README.md DESTINATION ${docdir})

# The config and the unit belong in /etc and /lib/systemd/system when the prefix is /usr (as in
# the .deb, and as GNUInstallDirs puts /usr's etc in /etc), and under the prefix otherwise, so
# that `cmake --install build --prefix DIR` never writes outside DIR.
function(passthru_install_system_file source under_prefix under_usr)
  get_filename_component(file ${source} ABSOLUTE BASE_DIR ${PROJECT_SOURCE_DIR})
  install(CODE "
    if(CMAKE_INSTALL_PREFIX STREQUAL \"/usr\")
      set(dir \"${under_usr}\")
    else()
      set(dir \"\${CMAKE_INSTALL_PREFIX}/${under_prefix}\")
    endif()
    file(INSTALL \"${file}\" DESTINATION \"\${dir}\")")
endfunction()
passthru_install_system_file(configs/passthru.toml etc/passthru /etc/passthru)
passthru_install_system_file(configs/systemd/passthru.service lib/systemd/system /lib/systemd/system)

set(CPACK_PACKAGE_NAME passthru)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "passthru maintainers <passthru@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "protocol multiplexer: many services on one TCP port")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "passthru reads the first bytes of each connection, asks its detector plugins
what protocol they are (TLS by SNI and ALPN, HTTP by Host and path, SSH by
client version, PROXY protocol headers, M-PROXY tunnels) and forwards or
rejects the connection by the rules of a TOML config.

The package also holds the SDK (headers and a CMake package) for building
detector plugins out of tree with find_package(Passthru).")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # passthru_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, g++, libboost-dev, doctest-dev")  # to build plugins
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE ${CMAKE_BINARY_DIR}/packaging/conffiles "/etc/passthru/passthru.toml\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/packaging/conffiles)
include(CPack)
