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
        params_file = LaunchConfiguration('params_file').perform(context)
        url = LaunchConfiguration('url').perform(context)
        log_level = LaunchConfiguration('log_level').perform(context)
        # launch_ros only warns about a missing file and starts the node without it, on defaults (another url, no topics).
        if params_file and not os.path.isfile(params_file):
            raise RuntimeError(f'params_file {params_file} is not a file')
        parameters = [params_file] if params_file else []
        actions = []
        if url:
            # A file keyed by the node's name, last: launch_ros keys a dict /**, and rclnodejs lets an entry under the
            # bare node name win over /** whatever the order, so a params file keyed that way would override url:=.
            with tempfile.NamedTemporaryFile('w', prefix=f'{node_name}_url_', suffix='.yaml', delete=False) as f:
                f.write(f'{node_name}:\n  ros__parameters:\n    url: {json.dumps(url)}\n')
            parameters.append(f.name)
            # Read by the node at start; removed when the launch ends rather than left in the temp folder.
            actions.append(RegisterEventHandler(OnShutdown(on_shutdown=lambda *_, path=f.name: os.remove(path))))
        # No namespace=: launch_ros would then key the url dict by the full node name, which rclnodejs ignores.
        return [Node(
            package='fastsocket', executable=executable, name=node_name, output='screen',
            parameters=parameters, ros_arguments=['--log-level', log_level] if log_level else [],
        ), *actions]

    share = get_package_share_directory('fastsocket')
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=os.path.join(share, 'config', f'{executable}.yaml'),
                              description=f'{what} parameters (YAML keyed /** or {node_name}); empty: none'),
        DeclareLaunchArgument('url', default_value='', description=f'{what} URL; empty: from the params file'),
        DeclareLaunchArgument('log_level', default_value='', description='debug, info, warn or error; empty: info'),
        OpaqueFunction(function=_node),
    ])
