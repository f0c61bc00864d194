#!/usr/bin/env bash
# Installs ROS 1 (Noetic-era, from Debian) for the ROS 1 tests: roscore, rostopic, rosparam, roslaunch and the message
# packages the tests and nodes use. Idempotent: does nothing when everything is installed. Sets no environment: a
# ROS 1 process must never share an environment with a sourced ROS 2, so the tests give each process its own.
# Called from .ci/setup-ros.sh as `bash .ci/setup-ros1.sh`.
set -euo pipefail
packages=(
  python3-roslaunch python3-rostopic python3-rosparam python3-rosnode
  python3-std-msgs ros-std-msgs
  python3-geometry-msgs ros-geometry-msgs
  python3-sensor-msgs ros-sensor-msgs
  python3-diagnostic-msgs ros-diagnostic-msgs
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "setup-ros1: ROS 1 packages already installed"
  exit 0
fi
echo "setup-ros1: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian's tools run on /usr/bin/python3; a pyenv python earlier on PATH breaks them, so check with Debian's.
# (`rostopic -h` prints its usage and exits 64, so it cannot serve as the check.)
command -v rostopic roscore roslaunch >/dev/null
/usr/bin/python3 -c 'import rospy, rostopic, roslaunch, std_msgs.msg, sensor_msgs.msg' 
echo "setup-ros1: done"
