#include "zarr/codec.h"

#include <blosc.h>
#include <zstd.h>

#include <cstring>
#include <memory>

#include "core/memory.h"
#include "core/types.h"

namespace imx {

std::string CodecSpec::name() const {
    switch (kind) {
        case Kind::none: return "none";
        case Kind::blosc_lz4: return "blosc-lz4";
        case Kind::blosc_zstd: return "blosc-zstd";
        case Kind::zstd: return "zstd";
    }
    return "none";
}

CodecSpec parse_codec(std::string_view text) {
    std::string_view name = text;
    int level = -1;
    if (auto colon = text.find(':'); colon != std::string_view::npos) {
        name = text.substr(0, colon);
        std::string lv(text.substr(colon + 1));
        try {
            size_t used = 0;
            level = std::stoi(lv, &used);
            if (used != lv.size()) throw std::invalid_argument(lv);
        } catch (const std::exception&) {
            throw Error("invalid compression level in '" + std::string(text) + "'", Error::Kind::usage);
        }
    }
    CodecSpec c;
    if (name == "none") c = {CodecSpec::Kind::none, 0};
    else if (name == "blosc-lz4" || name == "blosc") c = {CodecSpec::Kind::blosc_lz4, 5};
    else if (name == "blosc-zstd") c = {CodecSpec::Kind::blosc_zstd, 3};
    else if (name == "zstd") c = {CodecSpec::Kind::zstd, 3};
    else
        throw Error("unknown compression '" + std::string(text) +
                        "' (choose blosc-lz4, blosc-zstd, zstd or none, optionally with :LEVEL)",
                    Error::Kind::usage);
    if (level >= 0) {
        int max = (c.kind == CodecSpec::Kind::zstd) ? 22 : 9;
        if (level > max)
            throw Error("compression level " + std::to_string(level) + " is above " + std::to_string(max) +
                            " for " + c.name(), Error::Kind::usage);
        c.level = level;
    }
    return c;
}

CodecSpec default_codec() { return {CodecSpec::Kind::blosc_lz4, 5}; }

nlohmann::json compressor_json(const CodecSpec& c) {
    switch (c.kind) {
        case CodecSpec::Kind::none: return nullptr;
        case CodecSpec::Kind::blosc_lz4:
        case CodecSpec::Kind::blosc_zstd:
            return {{"id", "blosc"},
                    {"cname", c.kind == CodecSpec::Kind::blosc_lz4 ? "lz4" : "zstd"},
                    {"clevel", c.level},
                    {"shuffle", 1},
                    {"blocksize", 0}};
        case CodecSpec::Kind::zstd: return {{"id", "zstd"}, {"level", c.level}};
    }
    return nullptr;
}

CodecSpec codec_from_compressor_json(const nlohmann::json& j) {
    if (j.is_null()) return {CodecSpec::Kind::none, 0};
    std::string id = j.value("id", "");
    if (id == "zstd") return {CodecSpec::Kind::zstd, j.value("level", 3)};
    if (id == "blosc") {
        std::string cname = j.value("cname", "lz4");
        if (cname == "lz4") return {CodecSpec::Kind::blosc_lz4, j.value("clevel", 5)};
        if (cname == "zstd") return {CodecSpec::Kind::blosc_zstd, j.value("clevel", 3)};
        throw Error("unsupported blosc compressor '" + cname + "' in .zarray", Error::Kind::storage);
    }
    throw Error("unsupported zarr compressor '" + id + "'", Error::Kind::storage);
}

namespace {

// Makes `buffer` at least `n` bytes long. It never shrinks: a reused buffer is zero-filled by
// std::string only the first time it grows, not for every chunk.
char* grow(std::string& buffer, size_t n) {
    if (buffer.size() < n) {
        reserve_with_huge_pages(buffer, n);
        buffer.resize(n);
    }
    return buffer.data();
}

}  // namespace

size_t encode_chunk_into(const CodecSpec& c, const void* data, size_t n, size_t typesize, std::string& buffer) {
    switch (c.kind) {
        case CodecSpec::Kind::none:
            std::memcpy(grow(buffer, n), data, n);
            return n;
        case CodecSpec::Kind::blosc_lz4:
        case CodecSpec::Kind::blosc_zstd: {
            if (n > size_t(BLOSC_MAX_BUFFERSIZE))
                throw Error("chunk of " + std::to_string(n) + " bytes is too large for blosc");
            const size_t bound = n + BLOSC_MAX_OVERHEAD;
            // The _ctx variant keeps no global state, so worker threads can compress in parallel.
            int r = blosc_compress_ctx(c.level, BLOSC_SHUFFLE, typesize, n, data, grow(buffer, bound), bound,
                                       c.kind == CodecSpec::Kind::blosc_lz4 ? "lz4" : "zstd", 0, 1);
            if (r <= 0) throw Error("blosc compression failed (code " + std::to_string(r) + ")");
            return size_t(r);
        }
        case CodecSpec::Kind::zstd: {
            const size_t bound = ZSTD_compressBound(n);
            // One context per thread, reused: creating one per chunk costs more than small chunks.
            thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
            size_t r = ZSTD_compressCCtx(cctx.get(), grow(buffer, bound), bound, data, n, c.level);
            if (ZSTD_isError(r)) throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(r));
            return r;
        }
    }
    return 0;
}

void encode_chunk(const CodecSpec& c, const void* data, size_t n, size_t typesize, std::string& out) {
    out.resize(encode_chunk_into(c, data, n, typesize, out));
}

void decode_chunk(const CodecSpec& c, std::string_view chunk, void* out, size_t expected) {
    switch (c.kind) {
        case CodecSpec::Kind::none:
            if (chunk.size() != expected)
                throw Error("uncompressed chunk has " + std::to_string(chunk.size()) + " bytes, expected " +
                                std::to_string(expected), Error::Kind::verification);
            std::memcpy(out, chunk.data(), expected);
            return;
        case CodecSpec::Kind::blosc_lz4:
        case CodecSpec::Kind::blosc_zstd: {
            size_t nbytes = 0, cbytes = 0, blocksize = 0;
            if (chunk.size() < BLOSC_MIN_HEADER_LENGTH)
                throw Error("blosc chunk is truncated", Error::Kind::verification);
            blosc_cbuffer_sizes(chunk.data(), &nbytes, &cbytes, &blocksize);
            if (nbytes != expected || cbytes != chunk.size())
                throw Error("blosc chunk header says " + std::to_string(nbytes) + " bytes, expected " +
                                std::to_string(expected), Error::Kind::verification);
            int r = blosc_decompress_ctx(chunk.data(), out, expected, 1);
            if (r < 0 || size_t(r) != expected) throw Error("blosc chunk is corrupt", Error::Kind::verification);
            return;
        }
        case CodecSpec::Kind::zstd: {
            size_t r = ZSTD_decompress(out, expected, chunk.data(), chunk.size());
            if (ZSTD_isError(r))
                throw Error(std::string("zstd chunk is corrupt: ") + ZSTD_getErrorName(r), Error::Kind::verification);
            if (r != expected)
                throw Error("zstd chunk holds " + std::to_string(r) + " bytes, expected " + std::to_string(expected),
                            Error::Kind::verification);
            return;
        }
    }
}

}  // namespace imx
