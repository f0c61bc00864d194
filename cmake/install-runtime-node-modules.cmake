# Run at install time (install(CODE) in CMakeLists.txt sets FASTSOCKET_NPM, FASTSOCKET_SOURCE_DIR,
# FASTSOCKET_NODE_MODULES_DESTINATION and FASTSOCKET_SYMLINK_INSTALL): installs the part of node_modules the nodes
# need at run time, that is the packages of `dependencies` and the `optionalDependencies` that installed, with their
# own dependencies; the dev dependencies (typescript, mocha, ...) stay out. npm lists them, hoisting and nesting
# included, from what is already in node_modules: no network. Listed at install time rather than at configure time so
# that a node_modules changed by `npm ci` after the first build is what gets installed.

get_filename_component(_fs_root "${FASTSOCKET_SOURCE_DIR}" REALPATH)
# --include=optional wins over an `omit=optional` in the user's npm config; without rclnodejs the nodes cannot start.
execute_process(
  COMMAND "${FASTSOCKET_NPM}" ls --omit=dev --include=optional --include=peer --all --parseable --no-update-notifier
  WORKING_DIRECTORY "${_fs_root}"
  RESULT_VARIABLE _fs_status
  OUTPUT_VARIABLE _fs_listing
  ERROR_VARIABLE _fs_errors)
if(NOT _fs_status EQUAL 0)
  message(FATAL_ERROR "`npm ls --omit=dev` failed in ${_fs_root} (exit code ${_fs_status}), so which packages of node_modules "
    "the nodes need is unknown and none were installed:\n${_fs_errors}\n"
    "Run `npm ci` in ${_fs_root} with ROS 2 sourced, then build again.")
endif()
if(_fs_listing MATCHES ";")
  message(FATAL_ERROR "a path in node_modules of ${_fs_root} contains ';', which CMake cannot handle in a list: "
    "move the package to a path without one")
endif()

string(REPLACE "\n" ";" _fs_dirs "${_fs_listing}")
set(_fs_packages "")
foreach(_fs_dir IN LISTS _fs_dirs)
  if(_fs_dir STREQUAL "" OR _fs_dir STREQUAL _fs_root)
    continue()
  endif()
  string(FIND "${_fs_dir}" "${_fs_root}/node_modules/" _fs_at)
  if(NOT _fs_at EQUAL 0 OR NOT EXISTS "${_fs_dir}/package.json")
    # A linked package (npm link, file:) outside node_modules would be missing from the install space.
    message(FATAL_ERROR "`npm ls` in ${_fs_root} listed ${_fs_dir}, which is not a package inside its node_modules: "
      "install the dependencies with `npm ci` rather than linking them, then build again")
  endif()
  list(APPEND _fs_packages "${_fs_dir}")
endforeach()
foreach(_fs_required ws rclnodejs)
  list(FIND _fs_packages "${_fs_root}/node_modules/${_fs_required}" _fs_index)
  if(_fs_index EQUAL -1)
    message(FATAL_ERROR "`npm ls --omit=dev` in ${_fs_root} did not list node_modules/${_fs_required}: "
      "run `npm ci` there with ROS 2 sourced, then build again")
  endif()
endforeach()
list(LENGTH _fs_packages _fs_count)

# npm gives every file of a package the same mtime (1985), so an upgraded package looks up to date to file(INSTALL):
# when the package list or npm's record of their versions (node_modules/.package-lock.json) changed since the last
# install, start from an empty folder, which also drops the packages no longer listed (and the dev dependencies
# that older versions of this file installed). Otherwise copy over it: only files rebuilt since (rclnodejs) are copied.
set(_fs_destination "${CMAKE_INSTALL_PREFIX}/${FASTSOCKET_NODE_MODULES_DESTINATION}")
set(_fs_stamp_file "$ENV{DESTDIR}${_fs_destination}/.fastsocket-installed")
set(_fs_stamp "${_fs_listing}symlink-install: ${FASTSOCKET_SYMLINK_INSTALL}\n")
if(EXISTS "${_fs_root}/node_modules/.package-lock.json")
  file(SHA256 "${_fs_root}/node_modules/.package-lock.json" _fs_lock_hash)
  string(APPEND _fs_stamp "${_fs_lock_hash}\n")
endif()
set(_fs_installed_stamp "")
if(EXISTS "${_fs_stamp_file}")
  file(READ "${_fs_stamp_file}" _fs_installed_stamp)
endif()
if(NOT _fs_installed_stamp STREQUAL _fs_stamp)
  file(REMOVE_RECURSE "$ENV{DESTDIR}${_fs_destination}")
endif()
message(STATUS "Installing: ${_fs_count} runtime packages of ${_fs_root}/node_modules to ${_fs_destination}")
string(LENGTH "${_fs_root}/node_modules/" _fs_prefix_length)
foreach(_fs_dir IN LISTS _fs_packages)
  string(SUBSTRING "${_fs_dir}" ${_fs_prefix_length} -1 _fs_relative)
  get_filename_component(_fs_parent "${_fs_relative}" DIRECTORY)
  if(FASTSOCKET_SYMLINK_INSTALL)
    # colcon build --symlink-install: a link to each package, as ament links each file of dist/; a nested package
    # comes with the link to the package it is nested in.
    set(_fs_link "$ENV{DESTDIR}${_fs_destination}/${_fs_relative}")
    if(NOT _fs_relative MATCHES "/node_modules/" AND NOT IS_SYMLINK "${_fs_link}")
      file(MAKE_DIRECTORY "$ENV{DESTDIR}${_fs_destination}/${_fs_parent}")
      file(CREATE_LINK "${_fs_dir}" "${_fs_link}" SYMBOLIC)
    endif()
  else()
    # A package's own node_modules holds the packages nested under it, which npm lists (and so installs) one by one.
    file(INSTALL "${_fs_dir}" DESTINATION "${_fs_destination}/${_fs_parent}" USE_SOURCE_PERMISSIONS MESSAGE_NEVER
      PATTERN "node_modules" EXCLUDE)
  endif()
endforeach()
# Written last: an install that failed halfway starts from an empty folder next time.
file(WRITE "${_fs_stamp_file}" "${_fs_stamp}")
