// Chunk compressors, in the forms zarr-python / numcodecs read: blosc (lz4 or zstd, byte shuffle),
// zstd, or none.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace imx {

struct CodecSpec {
    enum class Kind { none, blosc_lz4, blosc_zstd, zstd };
    Kind kind = Kind::blosc_lz4;
    int level = 5;

    std::string name() const;  // "blosc-lz4", "blosc-zstd", "zstd", "none"
};

// Parses a --compression value ("blosc-lz4", "blosc-zstd", "zstd", "none", optionally ":LEVEL").
CodecSpec parse_codec(std::string_view text);
// The codec we use when the user does not choose: see docs/compression.md for the measurement.
CodecSpec default_codec();

// The zarr v2 ".zarray" "compressor" entry (null for none).
nlohmann::json compressor_json(const CodecSpec& codec);
CodecSpec codec_from_compressor_json(const nlohmann::json& j);

// Encodes `n` bytes of pixels whose element size is `typesize` into `out`, sized to the chunk.
// Thread-safe.
void encode_chunk(const CodecSpec& codec, const void* data, size_t n, size_t typesize, std::string& out);
// The same into the front of `buffer`, returning the chunk's length. `buffer` grows to the codec's
// worst case and is never shrunk, so a buffer reused from chunk to chunk is not zero-filled again
// and the chunk is not copied out of a scratch buffer.
size_t encode_chunk_into(const CodecSpec& codec, const void* data, size_t n, size_t typesize, std::string& buffer);
// Decodes into exactly `expected` bytes; throws Error when the chunk is corrupt or of another size.
void decode_chunk(const CodecSpec& codec, std::string_view chunk, void* out, size_t expected);

}  // namespace imx
