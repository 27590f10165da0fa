#!/usr/bin/env python3
"""Whether two CNPF ciphertext files hold the same ciphertexts byte for byte (FORMATS.md §5).

They may differ only where each file names itself: the random file id (header bytes 64-71), the
header's checksum over it (bytes 128-159) and the 64-byte binding after every record (§5.4). All
else, the header's other fields and every CNET record with its own checksum, must be equal.
usage: same_ciphertexts.py A B   (exit 0: same; 1: different, with the first differing offset;
2: a usage error, or a file that cannot be read or is not a ciphertext file)
"""
import struct
import sys

HEADER = 160
BINDING = 64


def ciphertext_file(path):
    """The file's bytes, or None after a message if it cannot be read or is no ciphertext file."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        print(f"same_ciphertexts.py: cannot read '{path}': {error.strerror}", file=sys.stderr)
        return None
    # A CNPF file of kind C (FORMATS.md 5.1) with moduli and a batch size: anything else failed
    # with a Python traceback (a division by zero), not a message.
    if len(data) < HEADER or data[:5] != b"CNPFC" or 0 in struct.unpack_from("<QQQ", data, 24):
        print(f"same_ciphertexts.py: '{path}' is not a ciphertext file (FORMATS.md 5)",
              file=sys.stderr)
        return None
    return data


def main(a_path, b_path):
    a = ciphertext_file(a_path)
    b = ciphertext_file(b_path)
    if a is None or b is None:
        return 2
    if len(a) != len(b):
        print(f"sizes differ: {len(a)} and {len(b)} bytes")
        return 1
    moduli, images, batch_size = struct.unpack_from("<QQQ", a, 24)
    records = (images + batch_size - 1) // batch_size * moduli
    record = (len(a) - HEADER) // records - BINDING
    if HEADER + records * (record + BINDING) != len(a):
        # A cut or padded file is no ciphertext file (exit 2), not "different": a file compared
        # with itself gave exit 1.
        print(f"same_ciphertexts.py: '{a_path}' is not a whole ciphertext file: its size does not "
              f"fit the header's {records} records", file=sys.stderr)
        return 2
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
    if len(sys.argv) != 3:
        print("usage: same_ciphertexts.py A B   (two ciphertext files)", file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
