#!/usr/bin/env python3
"""An independent reader written from include/cryptonets/io/FORMATS.md alone (no project source).

It parses the toy files of tests/formats/protocol_v6.hex (FORMATS.md §7), of both schemes,
checks every SHA-256 checksum and scheme byte, recomputes every parameter fingerprint, the
parameter-set fingerprint and the key-set id, unpacks the secret keys' 2-bit codes and the
ciphertexts' bit-packed residue rows, recomputes the model profile fingerprint the ciphertext
files record, and decrypts each ciphertext: YASHE' with
m = [round(t/q * [f^d * c]_q)]_t, where the degree field d says whether f or f^2 is the key; BFV
with m = [round(t/q * [c_0 + c_1*s + ... + c_d*s^d]_q)]_t. The toy ciphertexts hold 1 + 2x and
its square 1 + 4x + 4x^2 (YASHE': degree 2, unrelinearised; BFV: relinearised).
Exit status 0 when everything matches.

usage: reader_from_spec.py tests/formats/protocol_v6.hex
"""
import hashlib
import struct
import sys


def parse_dump(path):
    files, name = {}, None
    for line in open(path):
        if line.startswith("# "):
            name = line[2:].split(":")[0]
            files[name] = bytearray()
        elif line.strip():
            files[name] += bytes(int(b, 16) for b in line.split()[1:])
    return files


def u64(data, offset):
    return struct.unpack_from("<Q", data, offset)[0]


def fnv1a(words):  # §3.1
    h = 0xCBF29CE484222325
    for word in words:
        for byte in struct.pack("<Q", word):
            h = ((h ^ byte) * 0x100000001B3) % 2**64
    return h


def identity(tag, words):  # §3.3
    message = tag.encode() + b"\0" + struct.pack("<Q", len(words))
    message += b"".join(struct.pack("<Q", w) for w in words)
    return u64(hashlib.sha256(message).digest(), 0)


def profile_fingerprint(channels, height, width, scale, outputs, bound):  # §3.5
    digits = str(bound).encode()
    scale_bits = u64(struct.pack("<d", scale), 0)
    message = b"cryptonets model profile 1\0"
    message += struct.pack("<6Q", channels, height, width, scale_bits, outputs, len(digits))
    return u64(hashlib.sha256(message + digits).digest(), 0)


def protocol_file(data, scheme):  # §5: header, then records
    assert data[0:4] == b"CNPF", "magic"
    assert u64(data, 0) >> 48 == 6, "format version 6"
    assert chr(data[5]) == scheme, "the file's scheme"
    assert hashlib.sha256(data[0:128]).digest() == data[128:160], "header checksum"
    header = dict(kind=chr(data[4]), fingerprint=u64(data, 8), key_set=u64(data, 16),
                  moduli=u64(data, 24), images=u64(data, 32), batch_size=u64(data, 40),
                  values=u64(data, 48), first=u64(data, 56), file_id=u64(data, 64),
                  answers=u64(data, 72), source_images=u64(data, 80),
                  source_sha256=bytes(data[88:120]), profile=u64(data, 120))
    if header["kind"] == "C":  # §5.1: the images lie within the images file encrypt read
        assert header["first"] + header["images"] <= header["source_images"], "source images"
    else:
        assert header["source_images"] == 0 and header["source_sha256"] == bytes(32), "source"
        assert header["profile"] == 0, "profile fingerprint only in ciphertext files"
    batches = -(-header["images"] // header["batch_size"]) if header["kind"] == "C" else 1
    records, offset = [], 160
    while offset < len(data):  # §4: CNET records
        assert data[offset:offset + 4] == b"CNET"
        assert struct.unpack_from("<H", data, offset + 6)[0] == 3, "record version 3"
        assert chr(data[offset + 5]) == scheme, "the record's scheme"
        length = u64(data, offset + 24)
        end = offset + 32 + length
        checksum = data[end:end + 32]
        assert hashlib.sha256(data[offset:end]).digest() == checksum, "record checksum"
        records.append(dict(kind=chr(data[offset + 4]), fingerprint=u64(data, offset + 8),
                            key_id=u64(data, offset + 16), payload=data[offset + 32:end]))
        offset = end + 32
        if header["kind"] == "C":  # §5.4: the binding to this file and position
            binding = data[offset:offset + 64]
            assert binding[0:8] == b"CNRB\0\0\0\0", "binding magic"
            assert u64(binding, 8) == header["file_id"], "binding file id"
            assert u64(binding, 16) == len(records) - 1, "binding index"
            assert u64(binding, 24) == batches * header["moduli"], "binding count"
            assert hashlib.sha256(binding[0:32] + checksum).digest() == binding[32:64], "binding"
            offset += 64
    return header, records


DOMAIN = {"Y": 0x59415348452D7031, "B": 0x4246562D70312020}  # §3.1


def parameters(payload, scheme):  # §4.2 P
    words = [u64(payload, 8 * i) for i in range(len(payload) // 8)]
    n, k = words[0], words[1]
    primes, t, sigma_bits, w = words[2:2 + k], words[2 + k], words[3 + k], words[4 + k]
    fingerprint = fnv1a([DOMAIN[scheme], n, k, *primes, t, sigma_bits, w])
    return dict(n=n, primes=primes, t=t, fingerprint=fingerprint)


def unpack_polynomial(payload, offset, n, primes):  # §4.3: rows of bit_width(q_i) bits, LSB first
    rows = []
    for q in primes:
        bits = q.bit_length()
        words = (n * bits + 63) // 64
        row_bits = int.from_bytes(payload[offset:offset + 8 * words], "little")
        rows.append([(row_bits >> (j * bits)) & ((1 << bits) - 1) for j in range(n)])
        offset += 8 * words
    return rows, offset


def crt(residues, primes):
    q = 1
    for p in primes:
        q *= p
    x = sum(r * (q // p) * pow(q // p, -1, p) for r, p in zip(residues, primes)) % q
    return x, q


def negacyclic_multiply(a, b, q):
    n = len(a)
    out = [0] * n
    for i in range(n):
        for j in range(n):
            if i + j < n:
                out[i + j] += a[i] * b[j]
            else:
                out[i + j - n] -= a[i] * b[j]
    return [x % q for x in out]


def check_scheme(files, prefix, scheme):
    """Reads one scheme's five toy files; returns the number of ciphertexts decrypted."""
    header, records = protocol_file(files[prefix + "params"], scheme)
    params = [parameters(r["payload"], scheme) for r in records]
    for p, r in zip(params, records):
        assert p["fingerprint"] == r["fingerprint"], "parameter fingerprint"
    assert identity("cryptonets parameter set 1", [p["fingerprint"] for p in params]) == \
        header["fingerprint"], "parameter set fingerprint"
    for name in ("public.key", "evaluation.key"):
        key_header, _ = protocol_file(files[prefix + name], scheme)
        assert key_header["key_set"] == header["key_set"], "key set id"

    secret_header, secret_records = protocol_file(files[prefix + "secret.key"], scheme)
    assert identity("cryptonets key set 1", [r["key_id"] for r in secret_records]) == \
        secret_header["key_set"] == header["key_set"], "key set id"
    keys = []
    for p, r in zip(params, secret_records):  # §4.4: the ternary secret in 2-bit codes
        word_bits = int.from_bytes(r["payload"], "little")
        codes = [(word_bits >> (2 * j)) & 3 for j in range(p["n"])]
        secret = [{0: 0, 1: 1, 2: -1}[c] for c in codes]
        if scheme == "Y":  # f = t*f' + 1
            secret = [p["t"] * c for c in secret]
            secret[0] += 1
        keys.append(secret)

    ct_header, ct_records = protocol_file(files[prefix + "ciphertexts.ct"], scheme)
    # §7: encrypted from a file of 7 images whose SHA-256 is that of "cryptonets toy images".
    assert ct_header["source_images"] == 7, "source images"
    assert ct_header["source_sha256"] == hashlib.sha256(b"cryptonets toy images").digest()
    # §7: encrypted with the profile of input 1 x 1 x 2 at scale 16, 2 outputs of at most 1000.
    assert ct_header["profile"] == profile_fingerprint(1, 1, 2, 16.0, 2, 1000), "profile"
    expected = [[1, 2, 0, 0, 0, 0, 0, 0], [1, 4, 4, 0, 0, 0, 0, 0]]  # value 0, value 1
    decrypted = 0
    for index, r in enumerate(ct_records):  # §5.3: batch-major, modulus-minor
        i = index % ct_header["moduli"]
        p = params[i]
        count, parts, offset = u64(r["payload"], 0), u64(r["payload"], 8), 16
        for value in range(count):  # §4.2 C: degree, form, then the parts
            degree = u64(r["payload"], offset)
            offset += 16
            polys = []
            for _ in range(parts):
                rows, offset = unpack_polynomial(r["payload"], offset, p["n"], p["primes"])
                c = [crt([row[j] for row in rows], p["primes"]) for j in range(p["n"])]
                q = c[0][1]
                polys.append([x for x, _ in c])
            key = [x % q for x in keys[i]]
            if scheme == "Y":  # one part, under f^degree
                assert parts == 1, "a YASHE' ciphertext has one part"
                if degree == 2:
                    key = negacyclic_multiply(key, key, q)
                inner = negacyclic_multiply(key, polys[0], q)
            else:  # c_0 + c_1*s + ... under (1, s, s^2)
                assert parts == degree + 1, "a BFV ciphertext has degree + 1 parts"
                inner, power = list(polys[0]), [1] + [0] * (p["n"] - 1)
                for part in polys[1:]:
                    power = negacyclic_multiply(power, key, q)
                    inner = [(a + b) % q for a, b in zip(inner, negacyclic_multiply(power, part, q))]
            centred = [x - q if 2 * x > q else x for x in inner]
            m = [((2 * p["t"] * x + q) // (2 * q)) % p["t"] for x in centred]  # round(t*x/q) mod t
            assert m == expected[value], f"decrypted {m}, expected {expected[value]}"
            decrypted += 1
    return decrypted


def main():
    files = parse_dump(sys.argv[1])
    decrypted = check_scheme(files, "", "Y") + check_scheme(files, "bfv-", "B")
    print(f"read {len(files)} files from the specification alone; {decrypted} ciphertexts "
          f"(YASHE' and BFV) decrypted to the expected messages")


if __name__ == "__main__":
    main()
