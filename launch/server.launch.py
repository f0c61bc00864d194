"""Starts the fastsocket server. Arguments: params_file, url, log_level, node_name, namespace; one left empty is not passed."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fastsocket_launch_common import node_launch_description  # noqa: E402


def generate_launch_description():
    return node_launch_description('server', 'fastsocket_server', 'Server')
