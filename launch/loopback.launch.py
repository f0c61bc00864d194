"""Server, bridge and the demo talker on one machine: /chatter comes back as /remote/chatter, with its latency on
/fastsocket_server/latency."""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def _nodes(context):
    url = LaunchConfiguration('url').perform(context) or 'tcp://127.0.0.1:8888'
    rate_hz = float(LaunchConfiguration('rate_hz').perform(context) or '10.0')
    log_level = LaunchConfiguration('log_level').perform(context)
    ros_arguments = ['--log-level', log_level] if log_level else []
    common = {'output': 'screen', 'ros_arguments': ros_arguments}
    return [
        Node(package='fastsocket', executable='server', name='fastsocket_server',
             parameters=[{'url': url, 'topic_prefix': '/remote'}], **common),
        Node(package='fastsocket', executable='bridge', name='fastsocket_bridge',
             parameters=[{'url': url, 'topics': ['/chatter']}], **common),
        Node(package='fastsocket', executable='talker', name='talker',
             parameters=[{'rate_hz': rate_hz}], **common),
    ]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument('url', default_value='', description='Server URL; empty: tcp://127.0.0.1:8888'),
        DeclareLaunchArgument('rate_hz', default_value='', description='Talker rate; empty: 10.0'),
        DeclareLaunchArgument('log_level', default_value='', description='debug, info, warn or error; empty: info'),
        OpaqueFunction(function=_nodes),
    ])
