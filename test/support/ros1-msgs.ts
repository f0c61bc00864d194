/**
 * ROS 1 .msg texts as Debian's ros-*-msgs packages ship them (comments trimmed), so unit tests need no ROS 1
 * installed; plus one test type with a field of every ROS 1 kind.
 */
import { BUILTIN_MSG_TEXTS } from '../../src/ros1/msg-catalog';

export const ROS1_TEST_TEXTS: Readonly<Record<string, string>> = {
  ...BUILTIN_MSG_TEXTS,
  'std_msgs/String': 'string data',
  'std_msgs/Int64': 'int64 data',
  'std_msgs/Header': '# Standard metadata\nuint32 seq\n#Two-integer timestamp\ntime stamp\n#Frame this data is associated with\nstring frame_id\n',
  'geometry_msgs/Quaternion': '# orientation\n\nfloat64 x\nfloat64 y\nfloat64 z\nfloat64 w\n',
  'geometry_msgs/Vector3': 'float64 x\nfloat64 y\nfloat64 z',
  'sensor_msgs/Imu':
    'Header header\n\ngeometry_msgs/Quaternion orientation\nfloat64[9] orientation_covariance # Row major about x, y, z axes\n\n' +
    'geometry_msgs/Vector3 angular_velocity\nfloat64[9] angular_velocity_covariance # Row major about x, y, z axes\n\n' +
    'geometry_msgs/Vector3 linear_acceleration\nfloat64[9] linear_acceleration_covariance # Row major x, y z \n',
  'sensor_msgs/RegionOfInterest': 'uint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify',
  'sensor_msgs/CameraInfo':
    'Header header\nuint32 height\nuint32 width\nstring distortion_model\nfloat64[] D\nfloat64[9]  K\nfloat64[9]  R\n' +
    'float64[12] P\nuint32 binning_x\nuint32 binning_y\nRegionOfInterest roi',
  // Not a real type: one field of every ROS 1 kind the mapping treats specially.
  'fastsocket_test/AllKinds':
    'Header header\nbyte by\nchar c\nint8 i8\nint64 i64\nuint64 u64\nfloat64 f64\nstring s\ntime t\nduration d\n' +
    'uint8[] u8s\nbyte[] bys\nint64[] i64s\nfloat64[3] f3\ntime[] ts\nstd_msgs/Header[] headers',
};
