#!/usr/bin/env python3
"""Whether two CNPF ciphertext files hold the same ciphertexts byte for byte (FORMATS.md §5).

They may differ only where each file names itself: the random file id (header bytes 64-71), the
header's checksum over it (bytes 128-159) and the 64-byte binding after every record (§5.4). All
else, the header's other fields and every CNET record with its own checksum, must be equal.
usage: same_ciphertexts.py A B   (exit 0: same; 1: different, with the first differing offset)
"""
import struct
import sys

HEADER = 160
BINDING = 64


def main(a_path, b_path):
    a = open(a_path, "rb").read()
    b = open(b_path, "rb").read()
    if len(a) != len(b) or len(a) < HEADER:
        print(f"sizes differ: {len(a)} and {len(b)} bytes")
        return 1
    moduli, images, batch_size = struct.unpack_from("<QQQ", a, 24)
    records = (images + batch_size - 1) // batch_size * moduli
    record = (len(a) - HEADER) // records - BINDING
    if HEADER + records * (record + BINDING) != len(a):
        print("the file size does not fit the header's record count")
        return 1
    skip = [(64, 72), (128, HEADER)] + [
        (HEADER + r * (record + BINDING) + record, HEADER + (r + 1) * (record + BINDING))
        for r in range(records)
    ]
    start = 0
    for begin, end in skip + [(len(a), len(a))]:
        if a[start:begin] != b[start:begin]:
            first = next(i for i in range(start, begin) if a[i] != b[i])
            print(f"differ at byte {first} ({records} records of {record} bytes)")
            return 1
        start = end
    print(f"same ciphertexts: {records} records of {record} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
