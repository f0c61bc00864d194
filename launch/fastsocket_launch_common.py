"""Shared by bridge.launch.py and server.launch.py: one node, arguments left empty are not passed."""
import json
import os
import tempfile

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction, RegisterEventHandler
from launch.event_handlers import OnShutdown
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def node_launch_description(executable, node_name, what):
    def _node(context):
        # A shell leaves the ~ of params_file:=~/x.yaml alone (it is not at the start of a word), and so does launch_ros.
        params_file = os.path.expanduser(LaunchConfiguration('params_file').perform(context))
        url = LaunchConfiguration('url').perform(context)
        log_level = LaunchConfiguration('log_level').perform(context)
        name = LaunchConfiguration('node_name').perform(context) or node_name
        namespace = LaunchConfiguration('namespace').perform(context)
        # launch_ros only warns about a missing file and starts the node without it, on defaults (another url, no topics).
        if params_file and not os.path.isfile(params_file):
            raise RuntimeError(f'params_file {params_file} is not a file')
        parameters = [params_file] if params_file else []
        actions = []
        if url:
            # A file keyed by the node's name, last: launch_ros keys a dict /**, and rclnodejs lets an entry under the
            # bare node name win over /** whatever the order, so a params file keyed that way would override url:=.
            # The bare name applies in any namespace, so this file also serves namespace:=.
            with tempfile.NamedTemporaryFile('w', prefix=f'{name}_url_', suffix='.yaml', delete=False) as f:
                f.write(f'{name}:\n  ros__parameters:\n    url: {json.dumps(url)}\n')
            parameters.append(f.name)
            # Read by the node at start; removed when the launch ends rather than left in the temp folder.
            actions.append(RegisterEventHandler(OnShutdown(on_shutdown=lambda *_, path=f.name: os.remove(path))))
        # Files only, never a dict: with namespace= launch_ros keys a dict by the full node name, which rclnodejs ignores.
        return [Node(
            package='fastsocket', executable=executable, name=name, output='screen', **({'namespace': namespace} if namespace else {}),
            parameters=parameters, ros_arguments=['--log-level', log_level] if log_level else [],
        ), *actions]

    share = get_package_share_directory('fastsocket')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=os.path.join(share, 'config', f'{executable}.yaml'),
                              description=f'{what} parameters (YAML keyed /** or {node_name}); empty: none'),
        DeclareLaunchArgument('url', default_value='', description=f'{what} URL; empty: from the params file'),
        DeclareLaunchArgument('log_level', default_value='', description='debug, info, warn or error; empty: info'),
        DeclareLaunchArgument('node_name', default_value=node_name,
                              description='Node name, e.g. for a second pair on one ROS graph (a params file keyed by name must use it)'),
        DeclareLaunchArgument('namespace', default_value='', description='Node namespace, e.g. /vehicle_1; empty: none'),
        OpaqueFunction(function=_node),
    ])
