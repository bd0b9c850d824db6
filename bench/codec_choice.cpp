// Measures every chunk codec on real planes: compression ratio, encode and decode speed, and
// "speed x ratio" — the figure behind the default codec (docs/compression.md).
//
// usage: codec_choice FILE_OR_DIR...   (TIFF and PNG files; folders are searched recursively)
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <thread>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "formats/reader.h"
#include "zarr/codec.h"
#include "storage/source_files.h"

using namespace imx;
namespace fs = std::filesystem;

int main(int argc, char** argv) {
    std::vector<fs::path> files;
    std::string only;
    int threads = 1;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--only" && i + 1 < argc) {
            only = argv[++i];
            continue;
        }
        if (a == "--threads" && i + 1 < argc) {
            threads = std::max(1, std::atoi(argv[++i]));
            continue;
        }
        fs::path p = a;
        if (fs::is_directory(p)) {
            for (auto& e : fs::recursive_directory_iterator(p)) {
                std::string ext = e.path().extension().string();
                std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
                if (e.is_regular_file() && (ext == ".tif" || ext == ".tiff" || ext == ".png")) files.push_back(e.path());
            }
        } else {
            files.push_back(p);
        }
    }
    std::vector<Plane> planes;
    size_t raw = 0;
    for (auto& f : files) {
        try {
            Plane p;
            read_plane(*source::open(f), {0, 0, 0}, p);
            if (p.dtype != DType::u16 && p.dtype != DType::u8) continue;
            raw += p.byte_size();
            planes.push_back(std::move(p));
        } catch (const std::exception& e) {
            std::fprintf(stderr, "skipping %s\n", e.what());
        }
    }
    if (planes.empty()) {
        std::fprintf(stderr, "no planes\n");
        return 1;
    }
    if (!only.empty()) {
        // The compression ceiling: only the codec, on planes already in memory, `threads` at once.
        CodecSpec c = parse_codec(only);
        std::atomic<size_t> next{0}, stored{0};
        auto t0 = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                std::string enc;
                for (size_t i = next++; i < planes.size(); i = next++) {
                    // As a run job's thread: into a reused buffer.
                    stored += encode_chunk_into(c, planes[i].data.data(), planes[i].byte_size(), dtype_size(planes[i].dtype), enc);
                }
            });
        for (auto& t : pool) t.join();
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::printf("%zu %.4f %.1f %zu\n", planes.size(), s, raw / 1e6, size_t(stored));
        return 0;
    }
    std::printf("%zu planes, %.1f MB of pixels\n", planes.size(), raw / 1e6);
    std::printf("%-14s %8s %12s %12s %14s\n", "codec", "ratio", "enc MB/s", "dec MB/s", "ratio*enc");
    for (const char* name : {"none", "blosc-lz4", "blosc-lz4:9", "blosc-zstd:1", "blosc-zstd", "blosc-zstd:5", "zstd:1", "zstd", "zstd:9"}) {
        CodecSpec c = parse_codec(name);
        std::string enc;
        size_t stored = 0;
        double enc_s = 0, dec_s = 0;
        std::vector<std::byte> out;
        // Repeat small sets so every codec is timed over at least ~200 MB.
        int reps = int(std::max<size_t>(1, 200'000'000 / raw));
        for (int r = 0; r < reps; ++r)
            for (auto& p : planes) {
                auto t0 = std::chrono::steady_clock::now();
                encode_chunk(c, p.data.data(), p.byte_size(), dtype_size(p.dtype), enc);
                auto t1 = std::chrono::steady_clock::now();
                out.resize(p.byte_size());
                decode_chunk(c, enc, out.data(), out.size());
                auto t2 = std::chrono::steady_clock::now();
                enc_s += std::chrono::duration<double>(t1 - t0).count();
                dec_s += std::chrono::duration<double>(t2 - t1).count();
                if (r == 0) stored += enc.size();
            }
        double ratio = double(raw) / double(stored);
        double enc_mbs = raw * reps / 1e6 / enc_s, dec_mbs = raw * reps / 1e6 / dec_s;
        std::printf("%-14s %8.2f %12.0f %12.0f %14.0f\n", name, ratio, enc_mbs, dec_mbs, ratio * enc_mbs);
    }
    return 0;
}
