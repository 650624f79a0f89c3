"""Lossless JPEG encoding (ITU-T T.81 process 14: Huffman coding, predictor 1) of 16-bit samples.

DNG compresses integer mosaics this way (Compression 7): each tile is one complete JPEG stream,
and a Bayer tile is commonly coded as two interleaved components of half the tile's width, so
that the predictor (the same component's sample to the left) works across like colours.

An encoder only; LibRaw (rawpy) decodes what it writes. Vectorised with numpy: the differences,
their SSSS categories and the bit packing are whole-array operations; only the Huffman table
(17 symbols) is built in Python. The sample precision P is always 16: every sample of up to
16 bits fits, the differences are the same whatever P (T.81 takes them modulo 2**16), and P
then agrees with the 16-bit BitsPerSample of the DNG, as Adobe's DNG SDK writes it.
"""

from __future__ import annotations

import struct

import numpy as np

PRECISION = 16
PREDICTOR = 1  # Ra, the same component's sample to the left: cameras' and Adobe's choice for mosaics

# SSSS, the bit length of |difference| (T.81 table H.2), for |difference| in 0..32768:
# frexp's exponent of a positive integer is its bit length, exactly.
_CATEGORY = np.frexp(np.arange(32769, dtype=np.float64))[1].astype(np.uint8)


def encode(samples: np.ndarray) -> bytes:
    """One lossless JPEG stream (SOI to EOI) of ``samples``.

    ``samples``: ``(rows, columns)``, or ``(rows, columns, components)`` with 1 to 4 interleaved
    components, unsigned integers below 2**16. The Huffman table is built from the samples' own
    statistics (T.81 annex K.2), one table shared by all components.
    """
    data = np.asarray(samples)
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3 or not 1 <= data.shape[2] <= 4:
        raise ValueError(f"expected (rows, columns) or (rows, columns, 1 to 4 components), got shape {data.shape}")
    rows, columns, components = data.shape
    if not (1 <= rows <= 65535 and 1 <= columns <= 65535):
        raise ValueError(f"a lossless JPEG holds 1 to 65535 rows and columns, got {rows}x{columns}")
    if data.dtype.kind not in "ui" or data.dtype not in (np.uint8, np.uint16) and (
            int(data.min()) < 0 or int(data.max()) >= 1 << PRECISION):
        raise ValueError(f"expected integer samples in 0..{(1 << PRECISION) - 1}, got {data.dtype}")

    difference = _differences(data.astype(np.int32)).ravel()  # in the stream's order: row, column, component
    category = _CATEGORY[np.abs(difference)]
    bits, values = huffman_table(np.bincount(category, minlength=17))
    codes, sizes = canonical_codes(bits, values)
    # SSSS 16 (difference 32768) carries no additional bits (T.81 H.1.2.2); the others carry
    # SSSS bits: the difference itself if positive, else difference - 1, in two's complement.
    extra_size = category & 15
    extra = (difference - (difference < 0)) & ((1 << extra_size.astype(np.int32)) - 1)
    words = (codes[category].astype(np.uint64) << extra_size.astype(np.uint64)) | extra.astype(np.uint64)
    lengths = sizes[category].astype(np.int64) + extra_size
    scan = _stuff(_pack(words, lengths))
    return _header(rows, columns, components, bits, values) + scan + b"\xff\xd9"


def _differences(x: np.ndarray) -> np.ndarray:
    """Predictor 1's differences, modulo 2**16 into -32768..32767 (T.81 H.1.2.1)."""
    prediction = np.empty_like(x)
    prediction[:, 1:] = x[:, :-1]  # Ra
    prediction[1:, 0] = x[:-1, 0]  # a row's first sample is predicted from the one above (Rb)
    prediction[0, 0] = 1 << (PRECISION - 1)  # the first sample of the scan: 2**(P - 1)
    return ((x - prediction + 32768) & 0xFFFF) - 32768


def huffman_table(counts: np.ndarray) -> tuple[list[int], list[int]]:
    """BITS (the number of codes of each length 1..16) and HUFFVAL for symbols' ``counts``.

    T.81 annex K.2: Huffman code lengths with a reserved symbol of count 1, so no code is all
    ones (a reader may take all-ones bits for padding), then lengths over 16 folded back (K.3).
    """
    freq = [int(count) for count in counts] + [1]
    reserved = len(freq) - 1
    size = [0] * len(freq)
    others = [-1] * len(freq)
    while True:
        live = [symbol for symbol, f in enumerate(freq) if f > 0]
        if len(live) < 2:
            break
        # The two least frequencies; among equals the largest symbol, as K.2 says.
        first = min(live, key=lambda symbol: (freq[symbol], -symbol))
        second = min((symbol for symbol in live if symbol != first), key=lambda symbol: (freq[symbol], -symbol))
        freq[first] += freq[second]
        freq[second] = 0
        for head in (first, second):  # every symbol under the two merged nodes moves one level down
            symbol = head
            size[symbol] += 1
            while others[symbol] != -1:
                symbol = others[symbol]
                size[symbol] += 1
            if head == first:
                others[symbol] = second
    longest = max(size)
    bits = [0] * (max(longest, 16) + 1)
    for length in size:
        if length:
            bits[length] += 1
    for length in range(len(bits) - 1, 16, -1):  # K.3: no code longer than 16 bits
        while bits[length] > 0:
            shorter = length - 2
            while bits[shorter] == 0:
                shorter -= 1
            bits[length] -= 2
            bits[length - 1] += 1
            bits[shorter + 1] += 2
            bits[shorter] -= 1
    length = 16
    while bits[length] == 0:
        length -= 1
    bits[length] -= 1  # the reserved symbol's code: the last of the longest
    # HUFFVAL by code length, then symbol (K.4); the reserved symbol sorts last and is dropped.
    values = sorted((symbol for symbol in range(len(size)) if size[symbol]), key=lambda symbol: (size[symbol], symbol))
    return bits[1:17], [symbol for symbol in values if symbol != reserved]


def canonical_codes(bits: list[int], values: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each symbol's code and code length (zero where absent), from BITS and HUFFVAL (T.81 C.2)."""
    codes = np.zeros(17, np.uint32)
    sizes = np.zeros(17, np.uint8)
    code, index = 0, 0
    for length, count in enumerate(bits, start=1):
        for _ in range(count):
            codes[values[index]], sizes[values[index]] = code, length
            code += 1
            index += 1
        code <<= 1
    return codes, sizes


def _pack(words: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``words`` (each ``lengths`` bits, at most 31, most significant first) into bytes,
    the last byte padded with 1-bits (T.81 F.1.2.3).

    Each word lands in at most two 32-bit output words; their parts are summed in with bincount
    (fields never overlap, so the sum is the bitwise or, and float64 holds 32-bit sums exactly).
    """
    ends = np.cumsum(lengths)
    total = int(ends[-1])
    starts = ends - lengths
    index = starts >> 5
    placed = words << (64 - (starts & 31) - lengths).astype(np.uint64)  # in a 64-bit window at word `index`
    count = int(index[-1]) + 2
    packed = (np.bincount(index, (placed >> np.uint64(32)).astype(np.float64), minlength=count)
              + np.bincount(index + 1, (placed & np.uint64(0xFFFFFFFF)).astype(np.float64), minlength=count))
    scan = packed.astype(np.uint32).astype(">u4").view(np.uint8)[: -(-total // 8)]
    if total % 8:
        scan[-1] |= 0xFF >> (total % 8)
    return scan


def _stuff(scan: np.ndarray) -> bytes:
    """A zero byte after every 0xFF of the entropy-coded data, which would otherwise read as a marker."""
    return np.insert(scan, np.flatnonzero(scan == 0xFF) + 1, 0).tobytes()


def _header(rows: int, columns: int, components: int, bits: list[int], values: list[int]) -> bytes:
    """SOI, SOF3 (lossless, Huffman), DHT (table 0 for every component) and SOS."""
    frame = struct.pack(">HHBHHB", 0xFFC3, 8 + 3 * components, PRECISION, rows, columns, components)
    frame += b"".join(bytes((index + 1, 0x11, 0)) for index in range(components))  # 1x1 sampling, no quantisation
    table = struct.pack(">HHB", 0xFFC4, 19 + len(values), 0x00) + bytes(bits) + bytes(values)
    scan = struct.pack(">HHB", 0xFFDA, 6 + 2 * components, components)
    scan += b"".join(bytes((index + 1, 0x00)) for index in range(components))
    scan += bytes((PREDICTOR, 0, 0))  # Ss: the predictor; Se 0; Ah, Al 0: no point transform
    return b"\xff\xd8" + frame + table + scan
