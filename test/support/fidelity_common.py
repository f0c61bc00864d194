"""What the ROS 2 and ROS 1 fidelity fixtures share (test/ros/fixtures, test/ros1/fixtures): the edge values, the
cases both ROS versions spell alike, and the field-by-field comparison. Plain Python, so both can import it."""
import math
import struct

SUB32 = struct.unpack('<f', struct.pack('<I', 1))[0]  # smallest float32 subnormal
MAX32 = struct.unpack('<f', struct.pack('<I', 0x7f7fffff))[0]
F64_EDGES = [('nan', math.nan), ('inf', math.inf), ('ninf', -math.inf), ('negzero', -0.0), ('sub', 5e-324),
             ('max', 1.7976931348623157e308), ('third', 1/3)]


def f32(x):
    return struct.unpack('<f', struct.pack('<f', x))[0]


F32_EDGES = [('nan', math.nan), ('inf', math.inf), ('ninf', -math.inf), ('negzero', -0.0), ('sub', SUB32),
             ('max', MAX32), ('tenth', f32(0.1))]


def std_cases(std):
    """The std_msgs cases both versions spell alike; `std` is the std_msgs.msg module."""
    c = []
    c.append(('str_unicode', std.String, std.String(data='héllo ✓ 🚗 日本語 "q" \\ \n\t end')))
    c.append(('str_empty', std.String, std.String(data='')))
    c.append(('i64_max', std.Int64, std.Int64(data=2**63 - 1)))
    c.append(('i64_min', std.Int64, std.Int64(data=-2**63)))
    c.append(('i64_2p53p1', std.Int64, std.Int64(data=2**53 + 1)))
    c.append(('i64_neg_2p53m1', std.Int64, std.Int64(data=-(2**53) - 1)))
    c.append(('u64_max', std.UInt64, std.UInt64(data=2**64 - 1)))
    c.append(('u64_2p63', std.UInt64, std.UInt64(data=2**63)))
    c.append(('i8_min', std.Int8, std.Int8(data=-128)))
    c.append(('i8_max', std.Int8, std.Int8(data=127)))
    c.append(('u8_max', std.UInt8, std.UInt8(data=255)))
    c.append(('char_ff', std.Char, std.Char(data=255)))
    c.append(('char_80', std.Char, std.Char(data=128)))
    c.append(('bool_t', std.Bool, std.Bool(data=True)))
    c.append(('bool_f', std.Bool, std.Bool(data=False)))
    return c


def float_cases(std, f64_extra=()):
    c = [(f'f64_{name}', std.Float64, std.Float64(data=v)) for name, v in [*F64_EDGES, *f64_extra]]
    c += [(f'f32_{name}', std.Float32, std.Float32(data=v)) for name, v in F32_EDGES]
    return c


def array_cases(std):
    lay = std.MultiArrayLayout(dim=[std.MultiArrayDimension(label='ü', size=4294967295, stride=0)], data_offset=7)
    return [
        ('i64_arr', std.Int64MultiArray, std.Int64MultiArray(layout=lay, data=[2**63 - 1, -2**63, 0, 2**53 + 1, -1])),
        ('u64_arr', std.UInt64MultiArray, std.UInt64MultiArray(data=[2**64 - 1, 2**63, 0, 2**53 + 1])),
        ('i64_arr_empty', std.Int64MultiArray, std.Int64MultiArray(data=[])),
        ('f32_arr', std.Float32MultiArray, std.Float32MultiArray(data=[math.nan, math.inf, -math.inf, -0.0, SUB32, MAX32, f32(0.1)])),
        ('f64_arr', std.Float64MultiArray, std.Float64MultiArray(data=[math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 0.1])),
        ('i8_arr', std.Int8MultiArray, std.Int8MultiArray(data=[-128, -1, 0, 127])),
        ('u8_arr', std.UInt8MultiArray, std.UInt8MultiArray(data=bytes([0, 1, 127, 128, 255]))),
        ('u8_arr_empty', std.UInt8MultiArray, std.UInt8MultiArray(data=b'')),
    ]


def pose_cases(geo, hdr):
    """PoseStamped and PoseWithCovarianceStamped at float edges; `geo` is the geometry_msgs.msg module."""
    p = geo.PoseStamped(header=hdr)
    p.pose.position.x, p.pose.position.y, p.pose.position.z = 1e308, -0.0, math.nan
    p.pose.orientation.x, p.pose.orientation.w = 0.1, 5e-324
    pw = geo.PoseWithCovarianceStamped(header=hdr)
    pw.pose.pose, pw.pose.covariance = p.pose, covariance()
    return [('pose', geo.PoseStamped, p), ('pose_cov', geo.PoseWithCovarianceStamped, pw)]


def covariance():
    cov = [float(i) + 0.1 for i in range(36)]
    cov[0], cov[5], cov[35] = -0.0, math.nan, -math.inf
    return cov


def sensor_cases(sensor, hdr):
    """PointCloud2 and NavSatFix; `sensor` is the sensor_msgs.msg module."""
    pf = sensor.PointField
    pc = sensor.PointCloud2(header=hdr, height=1, width=1000, fields=[pf(name='x', offset=0, datatype=7, count=1),
        pf(name='y', offset=4, datatype=7, count=1), pf(name='z', offset=8, datatype=7, count=1),
        pf(name='i', offset=12, datatype=2, count=1)], is_bigendian=False, point_step=13, row_step=13000,
        data=bytes((i * 13) & 0xff for i in range(13000)), is_dense=True)
    fix = sensor.NavSatFix(header=hdr, status=sensor.NavSatStatus(status=-1, service=15), latitude=48.137154, longitude=-11.576124,
        altitude=-0.0, position_covariance=[math.nan, 1e-300, 0.0, -1.0, 5e-324, 1e308, math.inf, -math.inf, 0.1],
        position_covariance_type=3)
    return [('cloud', sensor.PointCloud2, pc), ('fix', sensor.NavSatFix, fix)]


def image(sensor, hdr, width):
    img = sensor.Image(header=hdr, height=480, width=width, encoding='rgb8', is_bigendian=0, step=width * 3)
    img.data = bytes((i * 7) & 0xff for i in range(480 * width * 3))
    return ('image', sensor.Image, img)


def flat(value, fields, special=lambda value: None, path=''):
    """Every leaf of a message as path -> printed value. fields(value): its (name, child) pairs when it is a message,
    else None; special(value): how to print a leaf that repr() would not show well, else None."""
    named = fields(value)
    if named is not None:
        return {k: v for key, item in named for k, v in flat(item, fields, special, f'{path}.{key}').items()}
    printed = special(value)
    if printed is not None:
        return {path: printed}
    if isinstance(value, (list, tuple)) or (hasattr(value, '__len__') and not isinstance(value, (str, bytes))):
        out = {k: v for i, item in enumerate(value) for k, v in flat(item, fields, special, f'{path}[{i}]').items()}
        return out if out else {path: '[]'}
    return {path: repr(value)}


def differences(got, want, limit=5):
    """The first `limit` leaves of two flat() results that differ, as 'path: got X, want Y'."""
    return [f'{k}: got {got.get(k)}, want {want.get(k)}' for k in sorted(set(got) | set(want)) if got.get(k) != want.get(k)][:limit]
