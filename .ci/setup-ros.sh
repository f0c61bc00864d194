# Sourced by .ci/run before `npm ci`: installs the real ROS 2 Jazzy of ../shared/ros2 and sources it, so the
# optional rclnodejs builds and the ROS tests run for real (FASTSOCKET_REQUIRE_ROS=1 makes them fail, not skip).
bash ../shared/ros2/install.sh
# ROS 1 from Debian's packages, for the ROS 1 and cross-version tests (it sets no environment here).
bash .ci/setup-ros1.sh
# ROS's Python tools need Debian's python3 first on PATH.
export PATH="/usr/bin:$PATH"
# setup.bash reads variables that may be unset; .ci/run runs with `set -u`.
set +u
# shellcheck source=/dev/null
source /opt/ros/jazzy/setup.bash
set -u
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
# rclnodejs has no prebuilt binary for Debian: it compiles against Node's local headers, and its rebuild step
# runs npx, which would wait for a confirmation without a terminal.
export npm_config_nodedir=/usr
export npm_config_yes=true
export FASTSOCKET_REQUIRE_ROS=1
